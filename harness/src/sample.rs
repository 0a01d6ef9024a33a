//! The measuring loop: time one operation per sample into a histogram, bounded by a
//! sample count and a time budget, with a cancel flag checked between batches.

use crate::stats::new_histogram;
use crate::timer::Clock;
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How much to sample.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub warmup: u64,
    pub max_samples: u64,
    pub min_samples: u64,
    pub max_time: Duration,
}

impl Budget {
    pub fn new(max_samples: u64, max_time: Duration) -> Budget {
        Budget {
            warmup: (max_samples / 100).min(1000),
            max_samples,
            min_samples: 1,
            max_time,
        }
    }
}

/// A sampling run that stopped on an operation error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpFailed<E> {
    pub after_samples: u64,
    pub error: E,
}

/// Samples `op` into a new histogram (ns per call, timer overhead subtracted).
///
/// The time budget and the cancel flag are checked every 64 samples (and after every
/// sample once a sample takes over 10 µs), so a slow command (GLOBAL, ~10 ms) is bounded
/// by time and a fast one costs no clock read per sample beyond its own two.
#[inline(never)]
pub fn sample<E>(
    clock: &Clock,
    budget: Budget,
    cancel: &AtomicBool,
    mut op: impl FnMut() -> Result<(), E>,
) -> Result<Histogram<u64>, OpFailed<E>> {
    let mut h = new_histogram();
    for _ in 0..budget.warmup {
        op().map_err(|error| OpFailed {
            after_samples: 0,
            error,
        })?;
    }
    let start = Instant::now();
    let mut n = 0u64;
    let mut check_every = 64u64;
    while n < budget.max_samples {
        let t0 = clock.now();
        let r = op();
        let t1 = clock.now();
        if let Err(error) = r {
            return Err(OpFailed {
                after_samples: n,
                error,
            });
        }
        let ns = clock.interval_ns(t0, t1);
        let _ = h.record(ns);
        n += 1;
        if ns > 10_000 {
            check_every = 1;
        }
        if n % check_every == 0 {
            if cancel.load(Ordering::Relaxed) {
                break;
            }
            if n >= budget.min_samples && start.elapsed() >= budget.max_time {
                break;
            }
        }
    }
    Ok(h)
}

/// ns per call of a plain loop of `op` (no per-call timing): the reference kobench's own
/// per-call path is compared with. The loop runs in 21 batches of `n / 21` calls, each
/// timed as a whole; the result is the median batch mean, so one interrupt in one batch
/// does not move it (as a p50 is not moved by one slow sample).
#[inline(never)]
pub fn plain_loop_ns(n: u64, mut op: impl FnMut()) -> f64 {
    const BATCHES: u64 = 21;
    let per = (n / BATCHES).max(1);
    for _ in 0..per.min(1000) {
        op();
    }
    let means: Vec<f64> = (0..BATCHES)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per {
                op();
            }
            t.elapsed().as_nanos() as f64 / per as f64
        })
        .collect();
    crate::stats::median(&means).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_sample_cap() {
        let c = Clock::monotonic();
        let stop = AtomicBool::new(false);
        let h = sample::<()>(&c, Budget::new(500, Duration::from_secs(10)), &stop, || {
            Ok(())
        })
        .unwrap();
        assert_eq!(h.len(), 500);
    }

    #[test]
    fn stops_on_time_budget() {
        let c = Clock::monotonic();
        let stop = AtomicBool::new(false);
        let h = sample::<()>(
            &c,
            Budget::new(u64::MAX, Duration::from_millis(30)),
            &stop,
            || {
                std::thread::sleep(Duration::from_millis(1));
                Ok(())
            },
        )
        .unwrap();
        assert!(h.len() >= 5 && h.len() <= 40, "{}", h.len());
        assert!(h.min() >= 1_000_000);
    }

    #[test]
    fn stops_when_cancelled_and_reports_errors() {
        let c = Clock::monotonic();
        let stop = AtomicBool::new(true);
        let h = sample::<()>(
            &c,
            Budget::new(1_000_000, Duration::from_secs(10)),
            &stop,
            || Ok(()),
        )
        .unwrap();
        assert_eq!(h.len(), 64);
        let mut k = 0;
        let e = sample(
            &c,
            Budget::new(100, Duration::from_secs(1)),
            &AtomicBool::new(false),
            || {
                k += 1;
                if k > 10 {
                    Err("boom")
                } else {
                    Ok(())
                }
            },
        )
        .unwrap_err();
        assert_eq!(e.error, "boom");
        assert_eq!(e.after_samples, 9); // warmup 1 + 9 samples
    }
}
