//! Runs a litmus test: a leader (thread 0, the slow side) and followers over one shared
//! region of 64-bit words, which may be an anonymous mapping (threads) or a memfd mapping
//! (a follower in another process).
//!
//! Region layout, in words: a control block ([`CTRL_WORDS`], each word on its own 128-byte
//! line: crossbeam's `CachePadded` size for x86_64 and aarch64), then the cells
//! (`batch × locs`, `stride` bytes apart, slot chosen through a per-batch permutation
//! `slot = (i·mul + add) mod batch`, `mul` odd, `batch` a power of two), then the
//! registers (`threads × regs × batch`).
//!
//! Per batch: the leader zeroes the cells, picks `T0` (a little ahead), the period `P`
//! and the sweep, and bumps `SEQ` (Release). Thread `t` runs instance `i` when the clock
//! passes `T0 + i·P + δt(i)` (`δ0 = 0`; the others' `δ` pseudo-random in `±sweep`),
//! writes its registers, then publishes `END` and `DONE = SEQ` (Release). The leader waits
//! for every `DONE` (with a deadline), counts the final states, and adapts `P` to the pace
//! the slowest thread kept. With `group > 1` the slow side runs the part before its
//! barrier for `group` instances, one barrier, then the part after for the same instances
//! in reverse order: every instance still has the barrier between its two accesses, and a
//! millisecond barrier (GLOBAL) covers many instances.
//!
//! Memory accesses are Relaxed atomics: plain loads and stores on x86_64 and aarch64, so
//! the hardware's reordering is visible, without a data race in the Rust sense.

use super::test::{Barrier, Op, Test};
use crate::sys::mem::{Mapping, Prot};
use crate::sys::membarrier;
use crate::sys::Errno;
use crate::timer::Clock;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{compiler_fence, fence, AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use thiserror::Error;

const LINE_WORDS: usize = 16;
const SEQ: usize = 0;
const STOP: usize = LINE_WORDS;
const T0: usize = 2 * LINE_WORDS;
const PERIOD: usize = 3 * LINE_WORDS;
const SWEEP: usize = 4 * LINE_WORDS;
const MUL: usize = 5 * LINE_WORDS;
const ADD: usize = 6 * LINE_WORDS;
const SEED: usize = 7 * LINE_WORDS;
/// Extra ticks after each group of the slow side (room for its barrier when `group > 1`).
const GAP: usize = 48 * LINE_WORDS;
const MAX_THREADS: usize = 8;
const fn done(t: usize) -> usize {
    (8 + t) * LINE_WORDS
}
const fn end(t: usize) -> usize {
    (16 + t) * LINE_WORDS
}
const fn err(t: usize) -> usize {
    (24 + t) * LINE_WORDS
}
const fn ready(t: usize) -> usize {
    (32 + t) * LINE_WORDS
}
const fn exec_ticks(t: usize) -> usize {
    (40 + t) * LINE_WORDS
}
/// Words in the control block.
pub const CTRL_WORDS: usize = 49 * LINE_WORDS;

#[derive(Debug, Error)]
pub enum LitmusError {
    #[error("litmus workers: {0}")]
    Pool(#[from] crate::pool::PoolError),
    #[error("cannot map the litmus region: {0}")]
    Map(Errno),
    #[error("thread {thread}'s barrier failed with {errno} (is the process registered for the command?)")]
    Barrier { thread: usize, errno: Errno },
    #[error("thread {thread} did not finish batch {batch} within {timeout:?} (preempted for that long, or its process died)")]
    FollowerTimeout {
        thread: usize,
        batch: u64,
        timeout: Duration,
    },
    #[error("a follower waited {0:?} for a batch that never came")]
    LeaderGone(Duration),
    #[error("bad litmus configuration: {0}")]
    Config(String),
}

/// How a test runs.
#[derive(Clone, Debug, Serialize)]
pub struct Config {
    /// One CPU per thread (thread 0, the slow side, first).
    pub cpus: Vec<usize>,
    /// Instances to run (rounded up to whole batches).
    pub iterations: u64,
    /// Stop earlier than `iterations` once this much time has passed.
    pub time_budget: Duration,
    /// Instances per batch (a power of two).
    pub batch: usize,
    /// Slow-side instances per barrier (1 = one barrier per instance).
    pub group: usize,
    /// Bytes between two cells (a multiple of 8; 64 = one cell per cache line).
    pub stride: usize,
    /// Half-width of the fast side's start sweep, as a fraction of the period.
    pub sweep: f64,
    pub seed: u64,
}

impl Config {
    pub fn new(cpus: Vec<usize>, iterations: u64, time_budget: Duration) -> Config {
        Config {
            cpus,
            iterations,
            time_budget,
            batch: 4096,
            group: 1,
            stride: 64,
            sweep: 0.5,
            seed: 0x006b_6f62_656e_6368,
        }
    }

    /// What makes two runs "the same configuration" for the control rule.
    pub fn shape(&self) -> String {
        format!(
            "cpus={:?} batch={} group={} stride={}",
            self.cpus, self.batch, self.group, self.stride
        )
    }
}

/// Where everything sits in the region.
#[derive(Copy, Clone, Debug)]
pub struct Layout {
    pub batch: usize,
    pub group: usize,
    stride_words: usize,
    nlocs: usize,
    nthreads: usize,
    maxregs: usize,
}

impl Layout {
    pub fn new(
        test: &Test,
        batch: usize,
        group: usize,
        stride: usize,
    ) -> Result<Layout, LitmusError> {
        let bad = |m: String| Err(LitmusError::Config(m));
        if !batch.is_power_of_two() || batch < 2 {
            return bad(format!("batch {batch} is not a power of two ≥ 2"));
        }
        if group == 0 || !batch.is_multiple_of(group) {
            return bad(format!("group {group} does not divide batch {batch}"));
        }
        if stride < 8 || !stride.is_multiple_of(8) {
            return bad(format!("stride {stride} is not a positive multiple of 8"));
        }
        if test.threads.len() > MAX_THREADS || test.threads.len() < 2 {
            return bad(format!(
                "{} threads (2..={MAX_THREADS} supported)",
                test.threads.len()
            ));
        }
        Ok(Layout {
            batch,
            group,
            stride_words: stride / 8,
            nlocs: test.locs.len(),
            nthreads: test.threads.len(),
            maxregs: (0..test.threads.len())
                .map(|t| test.regs(t))
                .max()
                .unwrap_or(0)
                .max(1),
        })
    }

    #[inline(always)]
    fn cell(&self, slot: usize, loc: usize) -> usize {
        CTRL_WORDS + (slot * self.nlocs + loc) * self.stride_words
    }

    fn regs_base(&self) -> usize {
        CTRL_WORDS + self.batch * self.nlocs * self.stride_words
    }

    #[inline(always)]
    fn reg(&self, t: usize, r: usize, i: usize) -> usize {
        self.regs_base() + (t * self.maxregs + r) * self.batch + i
    }

    /// The region's size in bytes, whole pages.
    pub fn bytes(&self) -> usize {
        let words = self.regs_base() + self.nthreads * self.maxregs * self.batch;
        let page = crate::sys::mem::page_size();
        (words * 8).div_ceil(page) * page
    }
}

/// Every final state with its count, and how the run went.
#[derive(Clone, Debug, Serialize)]
pub struct Counts {
    pub test: String,
    /// `(thread, reg)` of each value in a state.
    pub state_regs: Vec<(usize, usize)>,
    /// Each final state and how often it was seen, most frequent first.
    pub states: Vec<(Vec<u64>, u64)>,
    /// Instances that satisfied the condition.
    pub positive: u64,
    pub total: u64,
    pub elapsed_s: f64,
    pub batches: u64,
    /// Barrier calls the slow side made.
    pub barrier_calls: u64,
    /// The period the schedule settled at, in ns.
    pub period_ns: f64,
    pub shape: String,
    pub cross_process: bool,
}

impl Counts {
    pub fn observed(&self) -> super::verdict::Observed {
        super::verdict::Observed::new(self.positive, self.total)
    }

    pub fn outcomes_per_s(&self) -> f64 {
        self.total as f64 / self.elapsed_s.max(1e-9)
    }

    pub fn positive_per_s(&self) -> f64 {
        self.positive as f64 / self.elapsed_s.max(1e-9)
    }

    fn state_text(&self, s: &[u64]) -> String {
        self.state_regs
            .iter()
            .zip(s)
            .map(|((t, r), v)| format!("{t}:r{r}={v};"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// litmus7's report: histogram (`*` marks states satisfying the condition), witnesses,
    /// observation line, time; for a Never, the 95 % bound.
    pub fn litmus_text(&self, test: &Test) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "Test {} {} ({})",
            test.name,
            if test.expect() == super::Expect::Never {
                "Forbidden"
            } else {
                "Allowed"
            },
            self.shape
        );
        for t in 0..test.threads.len() {
            let _ = writeln!(s, "  P{t}: {}", test.code(t));
        }
        let _ = writeln!(s, "Histogram ({} states)", self.states.len());
        let cond = |st: &[u64]| {
            test.condition.iter().all(|(t, r, v)| {
                self.state_regs
                    .iter()
                    .position(|x| *x == (*t, *r))
                    .map(|k| st[k] == *v)
                    .unwrap_or(false)
            })
        };
        for (st, n) in &self.states {
            let _ = writeln!(
                s,
                "{n:<10}{}>{}",
                if cond(st) { "*" } else { ":" },
                self.state_text(st)
            );
        }
        let o = self.observed();
        let _ = writeln!(
            s,
            "Condition exists ({}) is {}validated",
            test.condition_text(),
            if o.positive > 0 { "" } else { "NOT " }
        );
        let _ = writeln!(
            s,
            "Witnesses Positive: {}, Negative: {}",
            o.positive,
            o.total - o.positive
        );
        let _ = writeln!(
            s,
            "Observation {} {} {} {}",
            test.name,
            o.observation(),
            o.positive,
            o.total - o.positive
        );
        if o.positive == 0 {
            let _ = writeln!(
                s,
                "Bound {}: 95 % upper bound on the per-instance rate {:.2e} (0 in {})",
                test.name,
                super::verdict::upper_bound_95(o.total),
                o.total
            );
        }
        let _ = writeln!(s, "Rate {}: {:.0} outcomes/s, {:.0} positive/s ({:.3} %), period {:.0} ns, {} barrier calls", test.name, self.outcomes_per_s(), self.positive_per_s(), o.rate() * 100.0, self.period_ns, self.barrier_calls);
        let _ = writeln!(s, "Time {} {:.2}", test.name, self.elapsed_s);
        s
    }

    /// The outcome table in the data-table convention.
    pub fn table_json(&self, test: &Test) -> serde_json::Value {
        let cond = |st: &[u64]| {
            test.condition.iter().all(|(t, r, v)| {
                self.state_regs
                    .iter()
                    .position(|x| *x == (*t, *r))
                    .map(|k| st[k] == *v)
                    .unwrap_or(false)
            })
        };
        let rows: Vec<serde_json::Value> = self
            .states
            .iter()
            .map(|(st, n)| {
                serde_json::json!([self.state_text(st), n, if cond(st) { "*" } else { "" }])
            })
            .collect();
        let o = self.observed();
        serde_json::json!({
            "kind": "table",
            "title": format!("{}: Observation {} {} {} ({} outcomes/s, {:.3} % positive; {})", test.name, o.observation(), o.positive, o.total - o.positive, self.outcomes_per_s().round(), o.rate() * 100.0, self.shape),
            "columns": ["state", "count", "condition"],
            "rows": rows,
        })
    }
}

/// The per-batch parameters every thread reads.
#[derive(Copy, Clone, Debug)]
struct Batch {
    t0: u64,
    period: u64,
    gap: u64,
    sweep: u64,
    mul: usize,
    add: usize,
    seed: u64,
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[inline(always)]
fn do_barrier(b: Barrier) -> Result<(), Errno> {
    match b {
        Barrier::None | Barrier::Omitted(_) => Ok(()),
        Barrier::Compiler => {
            compiler_fence(Ordering::SeqCst);
            Ok(())
        }
        Barrier::Fence => {
            fence(Ordering::SeqCst);
            Ok(())
        }
        Barrier::Membarrier(c) => membarrier::call(c).map(drop),
    }
}

#[inline(always)]
fn exec(
    w: &[AtomicU64],
    l: &Layout,
    ops: &[Op],
    slot: usize,
    regs: &mut [u64; 8],
) -> Result<(), Errno> {
    for op in ops {
        match *op {
            Op::Store { loc, value } => w[l.cell(slot, loc)].store(value, Ordering::Relaxed),
            Op::Load { loc, reg } => regs[reg] = w[l.cell(slot, loc)].load(Ordering::Relaxed),
            Op::Barrier(b) => do_barrier(b)?,
        }
    }
    Ok(())
}

/// Runs thread `t`'s instances of one batch; returns the barrier calls it made and the
/// median time one group took to execute (sampled on 64 groups, waiting excluded, so a
/// preemption while waiting does not count).
fn run_batch(
    w: &[AtomicU64],
    l: &Layout,
    test: &Test,
    t: usize,
    b: &Batch,
    clock: &Clock,
) -> Result<(u64, u64), Errno> {
    let ops = &test.threads[t];
    let nregs = test.regs(t);
    let group = if t == 0 { l.group } else { 1 };
    let split = ops.iter().position(|op| matches!(op, Op::Barrier(_)));
    let mut calls = 0u64;
    let ngroups = l.batch / group;
    let every = (ngroups / 64).max(1);
    let mut samples = [0u64; 64];
    let mut nsamples = 0usize;
    let mask = l.batch - 1;
    let sweep = b.sweep as i64;
    let mut regs = [0u64; 8];
    // Instance i starts at T0 + i·P + (i / group)·gap + δ: with group > 1 the slow side
    // stores (the part before its barrier) on the same beat as the fast side's instances,
    // then spends the gap in its barrier and the part after.
    let target = |i: usize, delta: i64| {
        (b.t0 as i64 + i as i64 * b.period as i64 + (i / l.group) as i64 * b.gap as i64 + delta)
            as u64
    };
    let wait = |target: u64| {
        let mut now = clock.now();
        while now < target {
            now = clock.now();
        }
        now
    };
    let mut gs = 0;
    while gs < l.batch {
        let delta = if t == 0 || sweep == 0 {
            0
        } else {
            (splitmix(b.seed ^ ((gs as u64) << 4 | t as u64)) % (2 * sweep as u64 + 1)) as i64
                - sweep
        };
        let mut now = wait(target(gs, delta));
        let sampled = (gs / group) % every == 0 && nsamples < samples.len();
        if group == 1 {
            let slot = (gs.wrapping_mul(b.mul).wrapping_add(b.add)) & mask;
            exec(w, l, ops, slot, &mut regs)?;
            for (r, v) in regs.iter().enumerate().take(nregs) {
                w[l.reg(t, r, gs)].store(*v, Ordering::Relaxed);
            }
            calls +=
                split.is_some_and(|k| matches!(ops[k], Op::Barrier(Barrier::Membarrier(_)))) as u64;
        } else {
            let k = split.unwrap_or(ops.len());
            let slot = |i: usize| (i.wrapping_mul(b.mul).wrapping_add(b.add)) & mask;
            // Registers loaded before the barrier are kept in their slots and merged below.
            for i in gs..gs + group {
                wait(target(i, 0));
                exec(w, l, &ops[..k], slot(i), &mut regs)?;
                for (r, v) in regs.iter().enumerate().take(nregs) {
                    w[l.reg(t, r, i)].store(*v, Ordering::Relaxed);
                }
            }
            // What is sampled here: the barrier and the part after it (the gap's share).
            now = clock.now();
            if k < ops.len() {
                exec(w, l, &ops[k..k + 1], 0, &mut regs)?;
                calls += matches!(ops[k], Op::Barrier(Barrier::Membarrier(_))) as u64;
                for i in (gs..gs + group).rev() {
                    for (r, v) in regs.iter_mut().enumerate().take(nregs) {
                        *v = w[l.reg(t, r, i)].load(Ordering::Relaxed);
                    }
                    exec(w, l, &ops[k + 1..], slot(i), &mut regs)?;
                    for (r, v) in regs.iter().enumerate().take(nregs) {
                        w[l.reg(t, r, i)].store(*v, Ordering::Relaxed);
                    }
                }
            }
        }
        if sampled {
            samples[nsamples] = clock.now().saturating_sub(now);
            nsamples += 1;
        }
        gs += group;
    }
    let s = &mut samples[..nsamples];
    s.sort_unstable();
    Ok((calls, s.get(nsamples / 2).copied().unwrap_or(0)))
}

fn read_batch(w: &[AtomicU64]) -> Batch {
    Batch {
        t0: w[T0].load(Ordering::Relaxed),
        period: w[PERIOD].load(Ordering::Relaxed),
        gap: w[GAP].load(Ordering::Relaxed),
        sweep: w[SWEEP].load(Ordering::Relaxed),
        mul: w[MUL].load(Ordering::Relaxed) as usize,
        add: w[ADD].load(Ordering::Relaxed) as usize,
        seed: w[SEED].load(Ordering::Relaxed),
    }
}

fn ticks_per_ns(clock: &Clock) -> f64 {
    1e9 / clock.to_ns(1_000_000_000).max(1) as f64
}

/// Follower `t`: marks itself ready, then runs every batch the leader publishes until the
/// leader raises STOP or `stop()` says so. Errors if no batch comes for `idle`.
pub fn follow(
    w: &[AtomicU64],
    l: &Layout,
    test: &Test,
    t: usize,
    clock: &Clock,
    stop: &dyn Fn() -> bool,
    idle: Duration,
) -> Result<(), LitmusError> {
    w[ready(t)].store(1, Ordering::Release);
    let mut seen = 0u64;
    let mut since = Instant::now();
    loop {
        let mut spins = 0u32;
        let seq = loop {
            let s = w[SEQ].load(Ordering::Acquire);
            if s != seen {
                break s;
            }
            if w[STOP].load(Ordering::Relaxed) != 0 {
                return Ok(());
            }
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(4096) {
                if stop() {
                    return Ok(());
                }
                if since.elapsed() > idle {
                    return Err(LitmusError::LeaderGone(idle));
                }
            }
            std::hint::spin_loop();
        };
        seen = seq;
        since = Instant::now();
        let b = read_batch(w);
        match run_batch(w, l, test, t, &b, clock) {
            Ok((_, x)) => w[exec_ticks(t)].store(x, Ordering::Relaxed),
            Err(e) => w[err(t)].store(e.0 as u64, Ordering::Relaxed),
        }
        w[end(t)].store(clock.now(), Ordering::Relaxed);
        w[done(t)].store(seq, Ordering::Release);
    }
}

/// Waits until followers `1..n` are ready (`timeout`).
pub fn wait_ready(w: &[AtomicU64], n: usize, timeout: Duration) -> bool {
    let t = Instant::now();
    while (1..n).any(|k| w[ready(k)].load(Ordering::Acquire) == 0) {
        if t.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    true
}

/// The leader (thread 0): runs batches until `cfg.iterations` or `cfg.time_budget` or
/// `stop()`, counts the states, raises STOP at the end (always).
pub fn lead(
    w: &[AtomicU64],
    l: &Layout,
    test: &Test,
    cfg: &Config,
    clock: &Clock,
    stop: &dyn Fn() -> bool,
) -> Result<Counts, LitmusError> {
    let r = lead_inner(w, l, test, cfg, clock, stop);
    w[STOP].store(1, Ordering::Release);
    r
}

fn lead_inner(
    w: &[AtomicU64],
    l: &Layout,
    test: &Test,
    cfg: &Config,
    clock: &Clock,
    stop: &dyn Fn() -> bool,
) -> Result<Counts, LitmusError> {
    let n = test.threads.len();
    let tpn = ticks_per_ns(clock);
    let regs = test.state_regs();
    let positions: Vec<usize> = test
        .condition
        .iter()
        .map(|(t, r, _)| {
            regs.iter()
                .position(|x| *x == (*t, *r))
                .expect("condition names a loaded register")
        })
        .collect();
    let mut states: HashMap<Vec<u64>, u64> = HashMap::new();
    let (mut positive, mut total, mut batches, mut calls) = (0u64, 0u64, 0u64, 0u64);
    let mut period: u64 = (200.0 * tpn) as u64;
    let min_period = (20.0 * tpn).max(16.0) as u64;
    let margin = (10.0 * tpn) as u64;
    let mut gap = 0u64;
    let lead_ticks = (20_000.0 * tpn) as u64;
    let mut rng = cfg.seed;
    let start = Instant::now();
    let mut seq = w[SEQ].load(Ordering::Relaxed);
    let mut st = vec![0u64; regs.len()];
    while total < cfg.iterations && start.elapsed() < cfg.time_budget && !stop() {
        for slot in 0..l.batch {
            for loc in 0..l.nlocs {
                w[l.cell(slot, loc)].store(0, Ordering::Relaxed);
            }
        }
        rng = splitmix(rng);
        let t0 = clock.now() + lead_ticks.max(2 * period + gap);
        w[T0].store(t0, Ordering::Relaxed);
        w[PERIOD].store(period, Ordering::Relaxed);
        w[GAP].store(gap, Ordering::Relaxed);
        w[SWEEP].store((period as f64 * cfg.sweep) as u64, Ordering::Relaxed);
        w[MUL].store(rng | 1, Ordering::Relaxed);
        w[ADD].store(rng >> 17, Ordering::Relaxed);
        w[SEED].store(splitmix(rng), Ordering::Relaxed);
        seq += 1;
        w[SEQ].store(seq, Ordering::Release);
        let b = read_batch(w);
        let (c0, exec0) = run_batch(w, l, test, 0, &b, clock)
            .map_err(|errno| LitmusError::Barrier { thread: 0, errno })?;
        calls += c0;
        let expected_ns = clock.to_ns(period * l.batch as u64 + gap * (l.batch / l.group) as u64);
        let timeout = Duration::from_secs(5) + Duration::from_nanos(expected_ns.saturating_mul(4));
        let waited = Instant::now();
        for t in 1..n {
            while w[done(t)].load(Ordering::Acquire) != seq {
                if waited.elapsed() > timeout {
                    return Err(LitmusError::FollowerTimeout {
                        thread: t,
                        batch: seq,
                        timeout,
                    });
                }
                std::hint::spin_loop();
            }
            let e = w[err(t)].load(Ordering::Relaxed);
            if e != 0 {
                return Err(LitmusError::Barrier {
                    thread: t,
                    errno: Errno(e as i32),
                });
            }
        }
        for i in 0..l.batch {
            for (k, (t, r)) in regs.iter().enumerate() {
                st[k] = w[l.reg(*t, *r, i)].load(Ordering::Relaxed);
            }
            if test
                .condition
                .iter()
                .zip(&positions)
                .all(|((_, _, v), &k)| st[k] == *v)
            {
                positive += 1;
            }
            match states.get_mut(&st) {
                Some(c) => *c += 1,
                None => {
                    states.insert(st.clone(), 1);
                }
            }
        }
        total += l.batch as u64;
        batches += 1;
        // The period: what the slowest thread's group takes to execute (median, so
        // preemptions do not count), per instance, plus a quarter and a small margin.
        // With group > 1 the slow side's sample is its barrier (plus loads): that sets the gap.
        let (gap_ticks, first) = if l.group > 1 { (exec0, 1) } else { (0, 0) };
        let slowest = (first..n)
            .map(|t| {
                if t == 0 {
                    exec0
                } else {
                    w[exec_ticks(t)].load(Ordering::Relaxed)
                }
            })
            .max()
            .unwrap_or(period);
        period = (slowest + slowest / 4 + margin).max(min_period);
        gap = gap_ticks + gap_ticks / 4;
    }
    let mut states: Vec<(Vec<u64>, u64)> = states.into_iter().collect();
    states.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(Counts {
        test: test.name.clone(),
        state_regs: regs,
        states,
        positive,
        total,
        elapsed_s: start.elapsed().as_secs_f64(),
        batches,
        barrier_calls: calls,
        period_ns: period as f64 / tpn,
        shape: cfg.shape(),
        cross_process: test.cross_process,
    })
}

/// Registers this process for the membarrier command the test's slow side issues (a
/// private command needs it; GLOBAL_EXPEDITED needs it so this process's own threads are
/// targeted). Cheapest before the process has other threads.
pub fn register_for(test: &Test) -> Result<(), Errno> {
    match test.command().and_then(|c| c.registration()) {
        Some(r) => membarrier::call(r).map(drop),
        None => Ok(()),
    }
}

/// Runs an in-process test on pinned workers (`cfg.cpus`, one per thread).
pub fn run_in_process(
    test: &Test,
    cfg: &Config,
    clock: &Clock,
    cancel: &AtomicBool,
) -> Result<Counts, LitmusError> {
    if test.cross_process {
        return Err(LitmusError::Config(format!(
            "{} runs across processes: use the ordering workload or `kobench litmus`",
            test.name
        )));
    }
    let n = test.threads.len();
    if cfg.cpus.len() < n {
        return Err(LitmusError::Config(format!(
            "{} needs {n} CPUs, got {:?}",
            test.name, cfg.cpus
        )));
    }
    let l = Layout::new(test, cfg.batch, cfg.group, cfg.stride)?;
    let map = Mapping::anon(l.bytes(), Prot::ReadWrite, 0).map_err(LitmusError::Map)?;
    let w = map.words();
    let result: std::sync::Mutex<Option<Result<Counts, LitmusError>>> = std::sync::Mutex::new(None);
    let finished = AtomicBool::new(false);
    let idle = cfg.time_budget + Duration::from_secs(30);
    crate::pool::with_workers(
        &cfg.cpus[..n],
        Duration::from_secs(10),
        &|wk| {
            let stop = || cancel.load(Ordering::Relaxed) || wk.should_stop();
            if wk.index == 0 {
                let r = if wait_ready(w, n, Duration::from_secs(10)) {
                    lead(w, &l, test, cfg, clock, &stop)
                } else {
                    w[STOP].store(1, Ordering::Release);
                    Err(LitmusError::Config("followers never became ready".into()))
                };
                *result.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                finished.store(true, Ordering::Release);
            } else if let Err(e) = follow(w, &l, test, wk.index, clock, &stop, idle) {
                *result.lock().unwrap_or_else(|e| e.into_inner()) = Some(Err(e));
            }
        },
        |_| {
            while !finished.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(2));
            }
        },
    )?;
    result
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .unwrap_or_else(|| Err(LitmusError::Config("the leader never ran".into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_refuses_bad_shapes_and_spreads_cells() {
        let t = super::super::find("SB").unwrap();
        assert!(Layout::new(&t, 1000, 1, 64).is_err());
        assert!(Layout::new(&t, 1024, 3, 64).is_err());
        assert!(Layout::new(&t, 1024, 1, 12).is_err());
        let l = Layout::new(&t, 1024, 4, 64).unwrap();
        assert_eq!(l.cell(0, 1) - l.cell(0, 0), 8);
        assert_eq!(l.cell(1, 0) - l.cell(0, 0), 16);
        assert!(l.reg(1, 0, 1023) * 8 < l.bytes());
        assert_eq!(l.bytes() % crate::sys::mem::page_size(), 0);
    }

    #[test]
    fn permutation_is_a_bijection() {
        let batch = 4096usize;
        let (mul, add) = (splitmix(7) as usize | 1, splitmix(8) as usize);
        let mut seen = vec![false; batch];
        for i in 0..batch {
            seen[(i.wrapping_mul(mul).wrapping_add(add)) & (batch - 1)] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}
