//! The code-swap engine: pinned executors run the published generation's stub, with no
//! syscalls, while one pinned swapper replaces the code under them.
//!
//! Swapper, for generation `g` in slot `g % N` (wasmtime's order, methodology §3.1/§3.5):
//!
//! 1. wait until no executor can still run that slot (quiescence, below);
//! 2. write the stub returning `g` through the writable view (first write: `t0`);
//! 3. cache maintenance (arm64 DC/IC; nothing on x86_64);
//! 4. `membarrier(PRIVATE_EXPEDITED_SYNC_CORE)` (`t1`..`t2`), unless the variant omits it;
//! 5. publish `g` (Release).
//!
//! Executor: `p = published` (Acquire), `r = call(slot p % N)`, then a **violation** is
//! `r < p`: it saw generation `p` published and still ran older code.
//!
//! **Patching is a whole-slot swap** over a ring of `N` slots: the slot being written is
//! never the one an executor can run. Each executor records the generation of its last
//! completed call; loads of `published` are monotonic (coherence), so once every
//! executor's last generation exceeds `g - N`, none of them will run the slot of
//! generation `g - N` again, and the swapper may rewrite it for `g`. (On x86_64 the code
//! bytes are also one aligned 8-byte store; see `sys::code`.)
//!
//! The mutation [`Order::PublishFirst`] publishes `g` before writing, then waits until an
//! executor has run the old code under the new generation (a violation) before it writes:
//! the detector must catch it.
//!
//! Phases, all with the same executors running: back-to-back swaps (swap latency, barrier
//! cost, throughput) in blocks interleaved with the barrier alone (`SYNC_CORE` with no
//! swap, the reference for the throughput), then swaps that
//! each wait until every executor ran the new generation (propagation). The W^X state of
//! the buffers is read from `/proc/self/maps` between the two swap phases, executors live.

use crate::jit::maps;
use crate::pool::{pin_current, with_workers, PoolError, WorkerCtx};
use crate::stats::new_histogram;
use crate::sys::code::{CodeRing, Layout};
use crate::sys::membarrier::{self as mb, Cmd};
use crate::sys::Errno;
use crate::timer::Clock;
use crossbeam::utils::{Backoff, CachePadded};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use thiserror::Error;

/// The step between writing and publishing.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Barrier {
    /// `membarrier(PRIVATE_EXPEDITED_SYNC_CORE)`.
    SyncCore,
    /// Nothing (the negative control).
    None,
}

impl Barrier {
    pub fn name(self) -> &'static str {
        match self {
            Barrier::SyncCore => "sync_core",
            Barrier::None => "none",
        }
    }
}

/// Whether the swapper writes before publishing (correct) or publishes first (mutation).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    WriteFirst,
    PublishFirst,
}

/// One engine run.
#[derive(Clone, Debug)]
pub struct Config {
    pub layout: Layout,
    pub barrier: Barrier,
    pub order: Order,
    /// The swapper's CPU (it gets no executor).
    pub swapper_cpu: usize,
    /// One executor per CPU here.
    pub executor_cpus: Vec<usize>,
    /// Ring size (at least 2).
    pub slots: usize,
    /// SYNC_CORE calls timed alone, with the executors running, before any swap (0: none).
    pub barrier_alone: u64,
    /// Back-to-back swaps.
    pub swaps: u64,
    /// Swaps that each wait until every executor has run the new generation.
    pub propagation: u64,
    /// Cap on the whole run; the swap phases stop early past it.
    pub max_time: Duration,
}

/// What one executor did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutorStats {
    pub cpu: usize,
    pub calls: u64,
    pub violations: u64,
    /// The first violation: (generation published, generation the code returned).
    pub first_violation: Option<(u64, u64)>,
    /// The last generation it ran.
    pub last_generation: u64,
}

/// The buffers' protections, read from `/proc/self/maps` while the run was live.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapsCheck {
    /// Permissions of the mapping holding the RX view.
    pub exec_perms: Option<String>,
    /// Permissions of the mapping holding the RW view (dual layout).
    pub write_perms: Option<String>,
    /// Every mapping of the process that was writable and executable at once.
    pub writable_and_executable: Vec<String>,
}

impl MapsCheck {
    /// Reads `/proc/self/maps` for `ring`'s views.
    pub fn read(ring: &CodeRing) -> MapsCheck {
        let text = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
        let m = maps::parse(&text);
        let (x, w) = ring.views();
        MapsCheck {
            exec_perms: x.and_then(|(a, l)| maps::perms_at(&m, a, l)),
            write_perms: w.and_then(|(a, l)| maps::perms_at(&m, a, l)),
            writable_and_executable: maps::writable_and_executable(&m)
                .iter()
                .map(|l| format!("{:x}-{:x} {} {}", l.start, l.end, l.perms, l.path))
                .collect(),
        }
    }

    /// W^X holds: the RX view is not writable, the RW view not executable, and no mapping
    /// of the process is both.
    pub fn ok(&self) -> bool {
        let no = |p: &Option<String>, bit: usize, c: u8| {
            p.as_ref()
                .is_some_and(|s| s.as_bytes().get(bit) != Some(&c))
        };
        no(&self.exec_perms, 1, b'w')
            && (self.write_perms.is_none() || no(&self.write_perms, 2, b'x'))
            && self.writable_and_executable.is_empty()
    }
}

/// Everything one run measured.
#[derive(Debug)]
pub struct Report {
    pub config: Config,
    /// Swaps done in both swap phases.
    pub swaps: u64,
    /// Back-to-back swaps and the ns they took (throughput).
    pub throughput_swaps: u64,
    pub throughput_ns: u64,
    /// First write to barrier return (to maintenance end without a barrier), ns.
    pub swap: Histogram<u64>,
    /// The barrier call inside each swap, ns.
    pub barrier: Histogram<u64>,
    /// SYNC_CORE alone with the executors running, ns.
    pub barrier_alone: Histogram<u64>,
    /// Publish to every executor having run the new generation, ns.
    pub propagation: Histogram<u64>,
    /// First write to every executor having run the new generation, ns.
    pub end_to_end: Histogram<u64>,
    /// How long the executors ran (the swapper's whole session), ns.
    pub run_ns: u64,
    pub executors: Vec<ExecutorStats>,
    pub maps: MapsCheck,
    /// Mutation runs: swaps where no executor ran stale code within the wait (should be 0).
    pub mutation_misses: u64,
    /// Time the swapper spent waiting for executors to leave a slot before reusing it.
    pub quiescence_ns: u64,
    /// The part of `quiescence_ns` inside the back-to-back phase (`throughput_ns`).
    pub throughput_wait_ns: u64,
    /// Why the run stopped before its counts (time cap, cancel, a stuck executor).
    pub stopped_early: Option<String>,
}

impl Report {
    pub fn violations(&self) -> u64 {
        self.executors.iter().map(|e| e.violations).sum()
    }

    /// Swaps per second in the back-to-back phase.
    pub fn throughput(&self) -> f64 {
        self.throughput_swaps as f64 * 1e9 / self.throughput_ns.max(1) as f64
    }

    /// Swaps per second in the back-to-back phase, leaving out the time spent waiting
    /// for a descheduled executor to leave a slot: what the swapper itself costs.
    pub fn throughput_excluding_waits(&self) -> f64 {
        self.throughput_swaps as f64 * 1e9
            / self
                .throughput_ns
                .saturating_sub(self.throughput_wait_ns)
                .max(1) as f64
    }

    /// Calls per second, per executor.
    pub fn call_rates(&self) -> Vec<f64> {
        self.executors
            .iter()
            .map(|e| e.calls as f64 * 1e9 / self.run_ns.max(1) as f64)
            .collect()
    }
}

#[derive(Debug, Error)]
pub enum EngineError {
    #[error("REGISTER_PRIVATE_EXPEDITED_SYNC_CORE failed: {0}")]
    Register(Errno),
    #[error("cannot build the code buffer: {0}")]
    Buffer(Errno),
    #[error("workers: {0}")]
    Pool(#[from] PoolError),
    #[error("membarrier SYNC_CORE failed after {after} swaps: {errno}")]
    Barrier { after: u64, errno: Errno },
    #[error("writing the code failed after {after} swaps: {errno}")]
    Write { after: u64, errno: Errno },
    #[error("the swapper thread panicked")]
    Panicked,
    #[error("need at least one executor CPU, a ring of at least 2 slots, and the dual layout for the publish-first mutation")]
    Shape,
}

#[derive(Default)]
struct ExecState {
    last_p: AtomicU64,
    last_r: AtomicU64,
    calls: AtomicU64,
    violations: AtomicU64,
    first_violation: AtomicU64,
}

const NO_VIOLATION: u64 = u64::MAX;

/// The executor loop: no syscalls, no blocking; only loads, the call and stores to its
/// own cache line.
fn executor(w: &WorkerCtx, ring: &CodeRing, published: &AtomicU64, st: &ExecState) {
    let n = ring.slots() as u64;
    let (mut calls, mut violations) = (0u64, 0u64);
    while !w.should_stop() {
        // Acquire pairs with the swapper's Release publish: the write, the maintenance and
        // the barrier happened before.
        let p = published.load(Ordering::Acquire);
        let r = ring.call((p % n) as usize) as u64;
        if r < p {
            violations += 1;
            if violations == 1 {
                st.first_violation.store(p << 32 | r, Ordering::Relaxed);
            }
            st.violations.store(violations, Ordering::Relaxed);
        }
        calls += 1;
        // Release: this call completed before the swapper sees `last_p` (quiescence).
        st.last_r.store(r, Ordering::Release);
        st.last_p.store(p, Ordering::Release);
        if calls & 4095 == 0 {
            st.calls.store(calls, Ordering::Relaxed);
        }
    }
    st.calls.store(calls, Ordering::Relaxed);
}

/// Runs one configuration: builds the ring, registers SYNC_CORE, starts the executors,
/// and swaps from the swapper CPU until the counts, `max_time` or `cancel`.
pub fn run(clock: &Clock, cfg: &Config, cancel: &AtomicBool) -> Result<Report, EngineError> {
    // Publish-first on the mprotect layout would let an executor run a page while it is
    // RW (a SIGSEGV, not a stale run): the mutation exists for the dual layout only.
    if cfg.executor_cpus.is_empty()
        || cfg.slots < 2
        || (cfg.order == Order::PublishFirst && cfg.layout == Layout::Flip)
    {
        return Err(EngineError::Shape);
    }
    if cfg.barrier == Barrier::SyncCore || cfg.barrier_alone > 0 {
        mb::call(Cmd::RegisterPrivateExpeditedSyncCore).map_err(EngineError::Register)?;
    }
    let ring = match cfg.layout {
        Layout::Dual => CodeRing::dual(cfg.slots, 0),
        Layout::Flip => CodeRing::flip(cfg.slots, 0),
    }
    .map_err(EngineError::Buffer)?;
    let published = CachePadded::new(AtomicU64::new(0));
    let states: Vec<CachePadded<ExecState>> = cfg
        .executor_cpus
        .iter()
        .map(|_| {
            CachePadded::new(ExecState {
                first_violation: AtomicU64::new(NO_VIOLATION),
                ..Default::default()
            })
        })
        .collect();
    let role = |w: &WorkerCtx| executor(w, &ring, &published, &states[w.index]);
    std::thread::scope(|s| {
        s.spawn(|| {
            pin_current(cfg.swapper_cpu)?;
            let r = with_workers(&cfg.executor_cpus, Duration::from_secs(10), &role, |_| {
                swapper(clock, cfg, cancel, &ring, &published, &states)
            });
            let mut report = r??;
            report.executors = cfg
                .executor_cpus
                .iter()
                .zip(&states)
                .map(|(&cpu, st)| {
                    let fv = st.first_violation.load(Ordering::Relaxed);
                    ExecutorStats {
                        cpu,
                        calls: st.calls.load(Ordering::Relaxed),
                        violations: st.violations.load(Ordering::Relaxed),
                        first_violation: (fv != NO_VIOLATION)
                            .then_some((fv >> 32, fv & 0xffff_ffff)),
                        last_generation: st.last_r.load(Ordering::Relaxed),
                    }
                })
                .collect();
            Ok(report)
        })
        .join()
        .unwrap_or(Err(EngineError::Panicked))
    })
}

struct Swapper<'a> {
    clock: &'a Clock,
    cfg: &'a Config,
    ring: &'a CodeRing,
    published: &'a AtomicU64,
    states: &'a [CachePadded<ExecState>],
    gen: u64,
    started: Instant,
    cancel: &'a AtomicBool,
    quiescence_ns: u64,
}

/// How long the swapper waits for executors before it calls one stuck.
const STUCK: Duration = Duration::from_secs(5);

impl Swapper<'_> {
    fn over(&self) -> Option<String> {
        if self.cancel.load(Ordering::Relaxed) {
            Some("cancelled".into())
        } else if self.started.elapsed() > self.cfg.max_time {
            Some(format!("time cap {:?} reached", self.cfg.max_time))
        } else {
            None
        }
    }

    /// Spins until `done()` or `limit`; false on timeout.
    fn wait(&self, limit: Duration, mut done: impl FnMut() -> bool) -> bool {
        let t = Instant::now();
        let b = Backoff::new();
        let mut i = 0u32;
        while !done() {
            i = i.wrapping_add(1);
            if i.is_multiple_of(1024)
                && (t.elapsed() > limit || self.cancel.load(Ordering::Relaxed))
            {
                return false;
            }
            b.spin();
        }
        true
    }

    fn total_violations(&self) -> u64 {
        self.states
            .iter()
            .map(|s| s.violations.load(Ordering::Relaxed))
            .sum()
    }

    /// One swap to the next generation. Returns (t0, t2) clock reads and barrier ns.
    fn swap(
        &mut self,
        misses: &mut u64,
    ) -> Result<(u64, u64, Option<u64>), Result<EngineError, String>> {
        let g = self.gen + 1;
        let n = self.ring.slots() as u64;
        let slot = (g % n) as usize;
        // Quiescence: nobody will run generation g - n's slot again.
        if g >= n {
            let floor = g - n + 1;
            let tq = self.clock.now();
            let ok = self.wait(STUCK, || {
                self.states
                    .iter()
                    .all(|s| s.last_p.load(Ordering::Acquire) >= floor)
            });
            if !ok {
                return Err(Err(format!(
                    "an executor did not move past generation {} within {STUCK:?} (descheduled?)",
                    floor - 1
                )));
            }
            self.quiescence_ns += self.clock.interval_ns(tq, self.clock.now());
        }
        let t0 = self.clock.now();
        if self.cfg.order == Order::PublishFirst {
            let before = self.total_violations();
            self.published.store(g, Ordering::Release);
            if !self.wait(Duration::from_millis(200), || {
                self.total_violations() > before
            }) {
                *misses += 1;
            }
        }
        let after = self.gen;
        self.ring
            .write_slot(slot, g as u32)
            .map_err(|errno| Ok(EngineError::Write { after, errno }))?;
        self.ring.sync_icache(slot);
        let mut barrier = None;
        if self.cfg.barrier == Barrier::SyncCore {
            let t1 = self.clock.now();
            mb::call(Cmd::PrivateExpeditedSyncCore)
                .map_err(|errno| Ok(EngineError::Barrier { after, errno }))?;
            barrier = Some(self.clock.interval_ns(t1, self.clock.now()));
        }
        let t2 = self.clock.now();
        // Release: the write, the maintenance and the barrier come before the publication.
        self.published.store(g, Ordering::Release);
        self.gen = g;
        Ok((t0, t2, barrier))
    }
}

fn swapper(
    clock: &Clock,
    cfg: &Config,
    cancel: &AtomicBool,
    ring: &CodeRing,
    published: &AtomicU64,
    states: &[CachePadded<ExecState>],
) -> Result<Report, EngineError> {
    let run_start = clock.now();
    let mut sw = Swapper {
        clock,
        cfg,
        ring,
        published,
        states,
        gen: 0,
        started: Instant::now(),
        cancel,
        quiescence_ns: 0,
    };
    let mut rep = Report {
        config: cfg.clone(),
        swaps: 0,
        throughput_swaps: 0,
        throughput_ns: 0,
        swap: new_histogram(),
        barrier: new_histogram(),
        barrier_alone: new_histogram(),
        propagation: new_histogram(),
        end_to_end: new_histogram(),
        run_ns: 0,
        executors: vec![],
        maps: MapsCheck::default(),
        mutation_misses: 0,
        quiescence_ns: 0,
        throughput_wait_ns: 0,
        stopped_early: None,
    };
    // Let every executor get going (its first count is published after 4096 calls) before
    // anything is timed; a slow start only delays the first swap.
    let _ = sw.wait(STUCK, || {
        states.iter().all(|s| s.calls.load(Ordering::Relaxed) > 0)
    });
    // Phases 1 and 2, interleaved: blocks of 64 back-to-back swaps, each block preceded by
    // its share of SYNC_CORE calls timed alone. Interleaving puts both under the same
    // conditions (on a VM the IPI cost is bimodal and drifts, methodology §6), so the swap
    // throughput and the barrier's own rate are comparable.
    const BLOCK: u64 = 64;
    let per_block = if cfg.swaps == 0 {
        cfg.barrier_alone
    } else {
        cfg.barrier_alone.div_ceil(cfg.swaps.div_ceil(BLOCK))
    };
    let mut alone_left = cfg.barrier_alone;
    let mut misses = 0;
    let mut block_start = clock.now();
    let mut i = 0u64;
    loop {
        if i.is_multiple_of(BLOCK) || i == cfg.swaps {
            if i > 0 {
                rep.throughput_ns += clock.interval_ns(block_start, clock.now());
            }
            if let Some(why) = sw.over() {
                rep.stopped_early = Some(why);
                break;
            }
            for _ in 0..per_block.min(alone_left) {
                let t = clock.now();
                mb::call(Cmd::PrivateExpeditedSyncCore).map_err(|errno| EngineError::Barrier {
                    after: sw.gen,
                    errno,
                })?;
                rep.barrier_alone
                    .record(clock.interval_ns(t, clock.now()))
                    .ok();
                alone_left -= 1;
            }
            if i == cfg.swaps {
                break;
            }
            block_start = clock.now();
        }
        match sw.swap(&mut misses) {
            Ok((t0, t2, b)) => {
                rep.swap.record(clock.interval_ns(t0, t2)).ok();
                if let Some(b) = b {
                    rep.barrier.record(b).ok();
                }
                rep.throughput_swaps += 1;
            }
            Err(Ok(e)) => return Err(e),
            Err(Err(why)) => {
                rep.stopped_early = Some(why);
                break;
            }
        }
        i += 1;
    }
    rep.throughput_wait_ns = sw.quiescence_ns;
    // W^X, read while the buffers are live and every executor is running generated code
    // (between the timed phases, so the read stays out of the throughput).
    rep.maps = MapsCheck::read(ring);
    // Phase 3: propagation.
    if rep.stopped_early.is_none() {
        for i in 0..cfg.propagation {
            if i.is_multiple_of(16) {
                if let Some(why) = sw.over() {
                    rep.stopped_early = Some(why);
                    break;
                }
            }
            match sw.swap(&mut misses) {
                Ok((t0, t2, b)) => {
                    rep.swap.record(clock.interval_ns(t0, t2)).ok();
                    if let Some(b) = b {
                        rep.barrier.record(b).ok();
                    }
                    let g = sw.gen;
                    if sw.wait(STUCK, || {
                        states.iter().all(|s| s.last_r.load(Ordering::Acquire) >= g)
                    }) {
                        let t4 = clock.now();
                        rep.propagation.record(clock.interval_ns(t2, t4)).ok();
                        rep.end_to_end.record(clock.interval_ns(t0, t4)).ok();
                    } else {
                        rep.stopped_early = Some(format!(
                            "generation {g} did not reach every executor within {STUCK:?}"
                        ));
                        break;
                    }
                }
                Err(Ok(e)) => return Err(e),
                Err(Err(why)) => {
                    rep.stopped_early = Some(why);
                    break;
                }
            }
        }
    }
    rep.swaps = sw.gen;
    rep.mutation_misses = misses;
    rep.quiescence_ns = sw.quiescence_ns;
    rep.run_ns = clock.interval_ns(run_start, clock.now());
    Ok(rep)
}
