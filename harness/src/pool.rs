//! The worker pool: one thread per CPU, pinned and verified before anything is measured.
//!
//! Workers are scoped threads ([`std::thread::scope`]) so their roles may borrow the
//! workload's state. Start-up: each worker pins itself (core_affinity), checks with
//! sched_getcpu that it runs there, and reports ready; the pool waits (with a timeout) for
//! every worker, then releases them together through one start flag. The body runs while
//! the workers run their role; when it returns, the stop flag is raised, idle workers are
//! unparked, and the scope joins them. Per-worker counters are cache-padded
//! (crossbeam `CachePadded`: 128 bytes on x86_64 and aarch64, see crossbeam-utils) so
//! workers never share a line.

use crossbeam::channel;
use crossbeam::utils::{Backoff, CachePadded};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use thiserror::Error;

/// Where a worker spends its time while the caller measures.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Placement {
    /// Busy user-space loop: the thread is running when a barrier comes.
    Spin,
    /// Blocked in the kernel (parked): not running.
    Idle,
}

impl Placement {
    pub fn name(self) -> &'static str {
        match self {
            Placement::Spin => "spin",
            Placement::Idle => "idle",
        }
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PoolError {
    #[error("could not pin a worker to CPU {0} (sched_setaffinity refused)")]
    Pin(usize),
    #[error("worker meant for CPU {want} runs on CPU {got} after pinning")]
    Verify { want: usize, got: usize },
    #[error("workers did not start within {0:?}")]
    StartTimeout(Duration),
}

/// What a worker's role sees.
pub struct WorkerCtx<'a> {
    pub index: usize,
    pub cpu: usize,
    stop: &'a AtomicBool,
    counter: &'a AtomicU64,
}

impl WorkerCtx<'_> {
    /// `true` once the pool is stopping.
    #[inline(always)]
    pub fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Publishes this worker's progress count.
    #[inline(always)]
    pub fn set_count(&self, n: u64) {
        self.counter.store(n, Ordering::Relaxed)
    }

    /// The built-in roles.
    pub fn run_placement(&self, p: Placement) {
        match p {
            Placement::Spin => {
                let mut n = 0u64;
                while !self.should_stop() {
                    for _ in 0..256 {
                        std::hint::spin_loop();
                    }
                    n += 1;
                    self.set_count(n);
                }
            }
            Placement::Idle => {
                while !self.should_stop() {
                    std::thread::park_timeout(Duration::from_millis(50));
                }
            }
        }
    }
}

/// The running pool, as the body sees it.
pub struct Workers<'a> {
    pub cpus: Vec<usize>,
    counters: &'a [CachePadded<AtomicU64>],
    stop: &'a AtomicBool,
}

impl Workers<'_> {
    /// Each worker's published count.
    pub fn counts(&self) -> Vec<u64> {
        self.counters
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }

    /// Asks the workers to stop early.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed)
    }
}

/// Pins the calling thread to `cpu` and verifies it runs there.
pub fn pin_current(cpu: usize) -> Result<(), PoolError> {
    // core_affinity indexes a CPU_SETSIZE (1024) bitmap without a bounds check: past
    // that, pin through the sized-mask wrapper.
    let pinned = if cpu < libc::CPU_SETSIZE as usize {
        core_affinity::set_for_current(core_affinity::CoreId { id: cpu })
    } else {
        crate::sys::process::set_affinity(0, &[cpu]).is_ok()
    };
    if !pinned {
        return Err(PoolError::Pin(cpu));
    }
    // sched_setaffinity migrates the thread before returning; allow a few yields for a
    // migration still in flight on a loaded machine.
    for _ in 0..100 {
        match crate::sys::process::current_cpu() {
            Ok(c) if c == cpu => return Ok(()),
            _ => std::thread::yield_now(),
        }
    }
    Err(PoolError::Verify {
        want: cpu,
        got: crate::sys::process::current_cpu().unwrap_or(usize::MAX),
    })
}

/// Runs `body` while one pinned worker per CPU in `cpus` runs `role`.
///
/// Returns the body's value once every worker has stopped. If a worker cannot be pinned or
/// verified, or the workers are not all ready within `start_timeout`, no body runs.
pub fn with_workers<R>(
    cpus: &[usize],
    start_timeout: Duration,
    role: &(dyn Fn(&WorkerCtx) + Sync),
    body: impl FnOnce(&Workers) -> R,
) -> Result<R, PoolError> {
    let stop = AtomicBool::new(false);
    let go = AtomicBool::new(false);
    let counters: Vec<CachePadded<AtomicU64>> = cpus
        .iter()
        .map(|_| CachePadded::new(AtomicU64::new(0)))
        .collect();
    let (ready_tx, ready_rx) = channel::bounded::<Result<(), PoolError>>(cpus.len());
    std::thread::scope(|s| {
        let mut handles = Vec::with_capacity(cpus.len());
        for (index, &cpu) in cpus.iter().enumerate() {
            let (stop, go, counter, ready_tx) = (&stop, &go, &counters[index], ready_tx.clone());
            handles.push(s.spawn(move || {
                let pinned = pin_current(cpu);
                let ok = pinned.is_ok();
                let _ = ready_tx.send(pinned);
                if !ok {
                    return;
                }
                let backoff = Backoff::new();
                while !go.load(Ordering::Acquire) {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    backoff.snooze();
                }
                role(&WorkerCtx {
                    index,
                    cpu,
                    stop,
                    counter,
                });
            }));
        }
        drop(ready_tx);
        let deadline = Instant::now() + start_timeout;
        let mut failure = None;
        for _ in 0..cpus.len() {
            match ready_rx.recv_deadline(deadline) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    failure = Some(e);
                    break;
                }
                Err(_) => {
                    failure = Some(PoolError::StartTimeout(start_timeout));
                    break;
                }
            }
        }
        let result = match failure {
            Some(e) => Err(e),
            None => {
                go.store(true, Ordering::Release);
                let workers = Workers {
                    cpus: cpus.to_vec(),
                    counters: &counters,
                    stop: &stop,
                };
                Ok(body(&workers))
            }
        };
        stop.store(true, Ordering::Relaxed);
        for h in &handles {
            h.thread().unpark();
        }
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpus() -> Vec<usize> {
        crate::cpus::CpuSet::discover(None).unwrap().ids()
    }

    #[test]
    fn spinning_workers_run_on_their_cpus() {
        let cpus = cpus();
        let seen: Vec<AtomicU64> = cpus.iter().map(|_| AtomicU64::new(u64::MAX)).collect();
        let counts = with_workers(
            &cpus,
            Duration::from_secs(5),
            &|w| {
                seen[w.index].store(
                    crate::sys::process::current_cpu().unwrap() as u64,
                    Ordering::Relaxed,
                );
                w.run_placement(Placement::Spin)
            },
            |ws| {
                // Every worker makes progress (no time bound asserted: the machine may be busy).
                let deadline = Instant::now() + Duration::from_secs(30);
                while ws.counts().contains(&0) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                }
                ws.counts()
            },
        )
        .unwrap();
        assert_eq!(counts.len(), cpus.len());
        assert!(counts.iter().all(|&c| c > 0), "{counts:?}");
        for (i, c) in cpus.iter().enumerate() {
            assert_eq!(seen[i].load(Ordering::Relaxed), *c as u64);
        }
    }

    #[test]
    fn idle_workers_stop_when_the_body_returns() {
        // Returns at all: idle (parked) workers are unparked and see the stop flag.
        let cpus = cpus();
        let r = with_workers(
            &cpus,
            Duration::from_secs(5),
            &|w| w.run_placement(Placement::Idle),
            |ws| ws.cpus.len(),
        );
        assert_eq!(r, Ok(cpus.len()));
    }

    #[test]
    fn bad_cpu_is_refused_before_the_body() {
        let mut ran = false;
        let r = with_workers(
            &[4000],
            Duration::from_secs(5),
            &|w| w.run_placement(Placement::Spin),
            |_| ran = true,
        );
        assert_eq!(r, Err(PoolError::Pin(4000)));
        assert!(!ran);
    }
}
