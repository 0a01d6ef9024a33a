//! jit: JIT-style code swapping published with membarrier PRIVATE_EXPEDITED_SYNC_CORE
//! (MB-SYNC-CORE), against a dual mapping and an mprotect flip, with negative controls
//! (no barrier), a positive control (publish before write), and the same protocol across
//! two processes sharing a memfd.
//!
//! The engine (executors, swapper, quiescence, measurements) is
//! `kobench_harness::jit::engine`; the code buffers are `kobench_harness::sys::code`.
//! With `n` selected CPUs the swapper takes the first and executors run on the others
//! (1, 2, 4, ... and all `n - 1`): an executor never shares the swapper's CPU, so a
//! context switch can never serialise it by accident.

use crate::context::Context;
use crate::helpers::reply;
use crate::{Descriptor, Workload};
use kobench_harness::child::Helper;
use kobench_harness::jit::encode::{native_image, NATIVE_SUPPORTED};
use kobench_harness::jit::engine::{self, Barrier, Config, Order, Report};
use kobench_harness::jit::maps;
use kobench_harness::schema::{Measurement, Verdict};
use kobench_harness::stats::{new_histogram, Summary};
use kobench_harness::sys::code::{CodeRing, Layout};
use kobench_harness::sys::membarrier::{self as mb, Cmd};
use kobench_harness::sys::{outcome, process as proc_, pvm};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

pub struct Jit;

const RULE: &str = "MB-SYNC-CORE";
/// Ring sizes: 65536 one-line slots (4 MiB, dual) or 2048 pages (8 MiB, mprotect flip).
/// A deep ring lets the swapper run tens of thousands of generations ahead of an
/// executor that the scheduler took off its CPU before it must wait to reuse a slot that
/// executor may still run (the wait is reported as `slot_reuse_wait_ns`).
const DUAL_SLOTS: usize = 65536;
const FLIP_SLOTS: usize = 2048;
/// Ring size of the cross-process memfd.
const XP_SLOTS: usize = 8;
const HELPER_TIMEOUT: Duration = Duration::from_secs(10);

/// Sizes for one profile.
#[derive(Copy, Clone, Debug)]
pub struct Sizes {
    /// Swaps with SYNC_CORE (per mapping, summed over executor counts) MB-SYNC-CORE needs.
    pub target_swaps: u64,
    pub swaps: u64,
    pub propagation: u64,
    pub barrier_alone: u64,
    pub control_swaps: u64,
    pub cross_process_swaps: u64,
    /// Time for all engine runs together.
    pub budget: Duration,
}

impl Sizes {
    pub fn for_profile(p: kobench_harness::profile::Profile) -> Sizes {
        p.pick(
            Sizes {
                target_swaps: 2_000,
                swaps: 2_000,
                propagation: 200,
                barrier_alone: 500,
                control_swaps: 50,
                cross_process_swaps: 50,
                budget: Duration::from_secs(8),
            },
            Sizes {
                target_swaps: 20_000,
                swaps: 20_000,
                propagation: 2_000,
                barrier_alone: 5_000,
                control_swaps: 200,
                cross_process_swaps: 200,
                budget: Duration::from_secs(12),
            },
            Sizes {
                target_swaps: 100_000,
                swaps: 100_000,
                propagation: 10_000,
                barrier_alone: 20_000,
                control_swaps: 1_000,
                cross_process_swaps: 2_000,
                budget: Duration::from_secs(240),
            },
            Sizes {
                target_swaps: 1_000_000,
                swaps: 1_000_000,
                propagation: 50_000,
                barrier_alone: 100_000,
                control_swaps: 5_000,
                cross_process_swaps: 20_000,
                budget: Duration::from_secs(2400),
            },
        )
    }
}

impl Workload for Jit {
    fn descriptor(&self) -> Descriptor {
        Descriptor {
            name: "jit",
            summary: "JIT code swapping under W^X (dual mapping, mprotect flip) published with SYNC_CORE: stale-code detection, swap/barrier/propagation latency vs executors, cross-process memfd",
            exercises: &["membarrier(2) PRIVATE_EXPEDITED_SYNC_CORE and its registration", "memfd_create(2) + mmap(2) dual mapping", "mprotect(2)", "process_vm_writev(2) into RX and RW mappings", "arm64 DC CVAU / IC IVAU / ISB"],
            rules: &["MB-SYNC-CORE", "PVM-PARTIAL", "PVM-DATA"],
            verifies: true,
            unavailable_when: "not x86_64 or aarch64 (no stub encoder), or SYNC_CORE missing from the membarrier QUERY mask",
        }
    }

    fn unavailable(&self, _ctx: &Context) -> Option<String> {
        if !NATIVE_SUPPORTED {
            return Some(format!("no stub encoder for {}", std::env::consts::ARCH));
        }
        match mb::query() {
            Ok(m) if m & Cmd::PrivateExpeditedSyncCore.raw() as i64 != 0 => None,
            Ok(m) => Some(format!(
                "PRIVATE_EXPEDITED_SYNC_CORE not in the membarrier QUERY mask {m:#x}"
            )),
            Err(e) => Some(format!("membarrier QUERY failed with {e}")),
        }
    }

    fn deadline(&self, ctx: &Context) -> Duration {
        Sizes::for_profile(ctx.profile).budget * 2 + Duration::from_secs(30)
    }

    fn run(&self, ctx: &Context) -> anyhow::Result<()> {
        let sizes = Sizes::for_profile(ctx.profile);
        ctx.out
            .progress("jit: cross-process swap through a shared memfd");
        ctx.out
            .verdicts(cross_process(ctx, sizes.cross_process_swaps)?);
        if ctx.cancelled() {
            return Ok(());
        }
        let cpus = ctx.cpus.ids();
        if cpus.len() < 2 {
            ctx.out.verdict(Verdict::skip(
                RULE,
                "in-process swaps with pinned executors",
                format!("needs 2 CPUs (swapper + executor), have {}", cpus.len()),
            ));
            return Ok(());
        }
        ctx.out.data(
            "design",
            json!({
                "arch": std::env::consts::ARCH,
                "patching": "whole-slot swap over a ring: a slot is rewritten only after every executor ran a later generation; on x86_64 the 8 code bytes are also one aligned store",
                "maintenance": if cfg!(target_arch = "aarch64") { "DC CVAU, DSB ISH, IC IVAU, DSB ISH, ISB (line sizes from CTR_EL0)" } else { "none (coherent I/D caches); SYNC_CORE serialises the executors" },
                "placement": "swapper on the first selected CPU, one executor on each of 1, 2, 4, ... and all other CPUs",
                "ring_slots": {"dual": DUAL_SLOTS, "mprotect": FLIP_SLOTS},
                "violation": "an executor loaded generation g (Acquire) and its call returned < g; counted per call",
            }),
        );
        let plan = plan(&cpus, &sizes);
        let per_run = sizes.budget / plan.len().max(1) as u32;
        let mut reports = Vec::new();
        for cfg in plan {
            if ctx.cancelled() {
                break;
            }
            let cfg = Config {
                max_time: per_run,
                ..cfg
            };
            ctx.out.progress(&format!(
                "jit: {} {} {:?} with {} executor(s)",
                cfg.layout.name(),
                cfg.barrier.name(),
                cfg.order,
                cfg.executor_cpus.len()
            ));
            let rep = engine::run(&ctx.clock, &cfg, &ctx.cancel)?;
            push_measurements(ctx, &rep);
            reports.push(rep);
        }
        ctx.out.verdicts(verdicts(&reports, sizes.target_swaps));
        push_tables(ctx, &reports);
        Ok(())
    }
}

/// The engine runs: (dual, mprotect) x SYNC_CORE over every executor count; the
/// unbarriered controls and the publish-first mutation at the largest count.
pub fn plan(cpus: &[usize], s: &Sizes) -> Vec<Config> {
    let swapper = cpus[0];
    let others = &cpus[1..];
    let counts: Vec<usize> = crate::membarrier::thread_counts(others.len())
        .into_iter()
        .filter(|&k| k > 0)
        .collect();
    let ks = counts.len() as u64;
    let base = |layout: Layout, barrier: Barrier, k: usize, swaps: u64| Config {
        layout,
        barrier,
        order: Order::WriteFirst,
        swapper_cpu: swapper,
        executor_cpus: others[..k].to_vec(),
        slots: if layout == Layout::Dual {
            DUAL_SLOTS
        } else {
            FLIP_SLOTS
        },
        barrier_alone: if barrier == Barrier::SyncCore {
            s.barrier_alone
        } else {
            0
        },
        swaps,
        propagation: s.propagation,
        max_time: s.budget,
    };
    let mut v = Vec::new();
    for layout in [Layout::Dual, Layout::Flip] {
        for &k in &counts {
            // Each count gets an equal share of the target; at least a tenth of it.
            let share = (s.swaps / ks).max(s.swaps / 10);
            v.push(base(layout, Barrier::SyncCore, k, share));
        }
        v.push(base(layout, Barrier::None, others.len(), s.swaps / 2));
    }
    v.push(Config {
        order: Order::PublishFirst,
        propagation: 0,
        ..base(
            Layout::Dual,
            Barrier::SyncCore,
            others.len(),
            s.control_swaps,
        )
    });
    v
}

fn variant(r: &Report) -> String {
    match r.config.order {
        Order::WriteFirst => r.config.barrier.name().to_string(),
        Order::PublishFirst => "publish_first".to_string(),
    }
}

fn params(r: &Report) -> BTreeMap<String, serde_json::Value> {
    let c = &r.config;
    BTreeMap::from([
        ("mapping".to_string(), json!(c.layout.name())),
        ("variant".to_string(), json!(variant(r))),
        ("executors".to_string(), json!(c.executor_cpus.len())),
        ("swapper_cpu".to_string(), json!(c.swapper_cpu)),
        ("executor_cpus".to_string(), json!(c.executor_cpus)),
        ("slots".to_string(), json!(c.slots)),
    ])
}

fn push_measurements(ctx: &Context, r: &Report) {
    let k = r.config.executor_cpus.len();
    let (m, v) = (r.config.layout.name(), variant(r));
    let ns = |id: String, h: &hdrhistogram::Histogram<u64>, derived: BTreeMap<String, f64>| {
        if !h.is_empty() {
            ctx.out.measurement(Measurement {
                id,
                unit: "ns".into(),
                smaller_is_better: true,
                params: params(r),
                summary: Summary::of(h),
                derived,
            });
        }
    };
    ns(format!("jit/swap/{m}/{v}/{k}"), &r.swap, BTreeMap::new());
    ns(
        format!("jit/barrier/{m}/{v}/{k}"),
        &r.barrier,
        BTreeMap::new(),
    );
    ns(
        format!("jit/barrier_alone/{m}/{v}/{k}"),
        &r.barrier_alone,
        BTreeMap::new(),
    );
    ns(
        format!("jit/propagation/{m}/{v}/{k}"),
        &r.propagation,
        BTreeMap::new(),
    );
    ns(
        format!("jit/end_to_end/{m}/{v}/{k}"),
        &r.end_to_end,
        BTreeMap::new(),
    );
    let ops = |id: String, values: &[f64], derived: BTreeMap<String, f64>| {
        let mut h = new_histogram();
        for &x in values {
            h.record(x.round() as u64).ok();
        }
        if !h.is_empty() {
            ctx.out.measurement(Measurement {
                id,
                unit: "ops/s".into(),
                smaller_is_better: false,
                params: params(r),
                summary: Summary::of(&h),
                derived,
            });
        }
    };
    if r.throughput_swaps > 0 {
        let mut d = BTreeMap::new();
        if !r.barrier_alone.is_empty() {
            let bound = 1e9 / r.barrier_alone.mean();
            d.insert("barrier_alone_mean_ns".to_string(), r.barrier_alone.mean());
            d.insert("barrier_bound_ops_s".to_string(), bound);
            d.insert("ratio_to_barrier_bound".to_string(), r.throughput() / bound);
            d.insert(
                "ratio_to_barrier_bound_excl_wait".to_string(),
                r.throughput_excluding_waits() / bound,
            );
        }
        d.insert(
            "slot_reuse_wait_ns".to_string(),
            r.throughput_wait_ns as f64,
        );
        ops(format!("jit/swap_rate/{m}/{v}/{k}"), &[r.throughput()], d);
    }
    ops(
        format!("jit/call_rate/{m}/{v}/{k}"),
        &r.call_rates(),
        BTreeMap::new(),
    );
}

/// The 95 % upper bound on a per-swap rate after 0 events in `n` (rule of three).
fn rule_of_three(n: u64) -> f64 {
    3.0 / n.max(1) as f64
}

fn verdicts(reports: &[Report], target: u64) -> Vec<Verdict> {
    let mut v = Vec::new();
    for layout in [Layout::Dual, Layout::Flip] {
        let runs: Vec<&Report> = reports
            .iter()
            .filter(|r| r.config.layout == layout && r.config.order == Order::WriteFirst)
            .collect();
        let barriered: Vec<&&Report> = runs
            .iter()
            .filter(|r| r.config.barrier == Barrier::SyncCore)
            .collect();
        let swaps: u64 = barriered.iter().map(|r| r.swaps).sum();
        let viol: u64 = barriered.iter().map(|r| r.violations()).sum();
        let ks: Vec<usize> = barriered
            .iter()
            .map(|r| r.config.executor_cpus.len())
            .collect();
        let check = format!("{} mapping, SYNC_CORE before publish: no executor runs a stale generation after observing the new one (executors {ks:?})", layout.name());
        let observed = format!("{viol} violations in {swaps} swaps");
        let verdict = if viol > 0 {
            let first = barriered
                .iter()
                .flat_map(|r| r.executors.iter())
                .find_map(|e| {
                    e.first_violation
                        .map(|(p, r)| format!("CPU {} saw {p}, ran {r}", e.cpu))
                });
            Verdict::check(
                RULE,
                check,
                false,
                format!("0 violations over >= {target} swaps"),
                format!("{observed}; first: {}", first.unwrap_or_default()),
            )
        } else if swaps < target {
            Verdict {
                outcome: kobench_harness::Outcome::Inconclusive,
                ..Verdict::check(
                    RULE,
                    check,
                    true,
                    format!("0 violations over >= {target} swaps"),
                    observed,
                )
            }
            .with_note(format!(
                "only {swaps} of {target} swaps ran ({})",
                barriered
                    .iter()
                    .find_map(|r| r.stopped_early.clone())
                    .unwrap_or_else(|| "interrupted".into())
            ))
        } else {
            Verdict::check(
                RULE,
                check,
                true,
                format!("0 violations over >= {target} swaps"),
                observed,
            )
            .with_note(format!(
                "95% upper bound on the stale rate: {:.2e} per swap",
                rule_of_three(swaps)
            ))
        };
        v.push(verdict);
        for r in runs.iter().filter(|r| r.config.barrier == Barrier::None) {
            v.push(Verdict::info(RULE, format!("negative control: {} mapping without SYNC_CORE, {} executor(s)", layout.name(), r.config.executor_cpus.len()), format!("{} violations in {} swaps", r.violations(), r.swaps)).with_note(if r.violations() == 0 {
                "none seen: on x86_64 caches are coherent and the window is tiny, so staleness without the barrier is rare (methodology §7.3); this control cannot fail the run".to_string()
            } else {
                "stale code seen without the barrier: the barrier is what the passing check relies on".to_string()
            }));
        }
    }
    for r in reports
        .iter()
        .filter(|r| r.config.order == Order::PublishFirst)
    {
        v.push(Verdict::check(
            RULE,
            "positive control: a swapper that publishes before writing the code is caught",
            r.violations() > 0 && r.swaps > 0,
            "violations > 0",
            format!(
                "{} violations in {} swaps ({} swaps with no stale run seen within 200 ms)",
                r.violations(),
                r.swaps,
                r.mutation_misses
            ),
        ));
    }
    let bad: Vec<String> = reports
        .iter()
        .filter(|r| !r.maps.ok())
        .map(|r| {
            format!(
                "{} {}: exec {:?}, write {:?}, W+X {:?}",
                r.config.layout.name(),
                variant(r),
                r.maps.exec_perms,
                r.maps.write_perms,
                r.maps.writable_and_executable
            )
        })
        .collect();
    v.push(Verdict::check(RULE, "W^X while swapping: RX view not writable, RW view not executable, no W+X mapping in /proc/self/maps", bad.is_empty() && !reports.is_empty(), "every run", if bad.is_empty() { format!("{} runs checked mid-swap", reports.len()) } else { bad.join("; ") }));
    // Harness overhead: swap throughput against the barrier's own rate.
    if let Some(r) = reports
        .iter()
        .filter(|r| {
            r.config.layout == Layout::Dual
                && r.config.barrier == Barrier::SyncCore
                && r.config.order == Order::WriteFirst
        })
        .max_by_key(|r| r.config.executor_cpus.len())
    {
        if !r.barrier_alone.is_empty() {
            let bound = 1e9 / r.barrier_alone.mean();
            let ratio = r.throughput() / bound;
            v.push(Verdict::info(RULE, format!("swap throughput vs 1 / SYNC_CORE latency alone (dual, {} executor(s))", r.config.executor_cpus.len()), format!("{:.0} swaps/s vs {:.0}/s (barrier alone: mean {:.0} ns, p50 {} ns): ratio {ratio:.2} ({}); {:.1} ms of the swap phase waited for a descheduled executor to leave a slot (ratio without it {:.2}); per-swap p50 {} ns vs barrier-alone p50 {} ns", r.throughput(), bound, r.barrier_alone.mean(), r.barrier_alone.value_at_quantile(0.5), if ratio >= 0.8 { ">= 0.8" } else { "< 0.8" }, r.throughput_wait_ns as f64 / 1e6, r.throughput_excluding_waits() / bound, r.swap.value_at_quantile(0.5), r.barrier_alone.value_at_quantile(0.5))));
        }
    }
    v
}

fn push_tables(ctx: &Context, reports: &[Report]) {
    let rows: Vec<serde_json::Value> = reports
        .iter()
        .map(|r| {
            json!([
                r.config.layout.name(),
                variant(r),
                r.config.executor_cpus.len(),
                r.swaps,
                r.violations(),
                if r.violations() == 0 {
                    format!("{:.1e}", rule_of_three(r.swaps))
                } else {
                    "-".into()
                },
                r.barrier.value_at_quantile(0.5),
                r.swap.value_at_quantile(0.5),
                r.propagation.value_at_quantile(0.5),
                format!("{:.0}", r.throughput()),
                r.quiescence_ns / 1000,
                r.stopped_early.clone().unwrap_or_default()
            ])
        })
        .collect();
    ctx.out.data("outcomes", json!({"kind": "table", "title": "jit: swaps and stale-code violations per variant", "columns": ["mapping", "variant", "executors", "swaps", "violations (stale calls)", "stale rate 95% bound", "barrier p50 ns", "swap p50 ns", "propagation p50 ns", "swaps/s", "slot-reuse wait µs", "stopped early"], "rows": rows}));
    let rows: Vec<serde_json::Value> = reports
        .iter()
        .flat_map(|r| {
            let rates = r.call_rates();
            r.executors.iter().zip(rates).map(move |(e, rate)| {
                json!([
                    r.config.layout.name(),
                    variant(r),
                    r.config.executor_cpus.len(),
                    e.cpu,
                    e.calls,
                    format!("{:.0}", rate),
                    e.violations,
                    e.first_violation
                        .map(|(p, x)| format!("saw {p}, ran {x}"))
                        .unwrap_or_default()
                ])
            })
        })
        .collect();
    ctx.out.data("executors", json!({"kind": "table", "title": "jit: per-CPU executor counts", "columns": ["mapping", "variant", "executors", "cpu", "calls", "calls/s", "violations", "first violation"], "rows": rows}));
    if let Some(r) = reports
        .iter()
        .filter(|r| {
            r.config.layout == Layout::Dual
                && r.config.barrier == Barrier::SyncCore
                && r.config.order == Order::WriteFirst
        })
        .max_by_key(|r| r.config.executor_cpus.len())
    {
        if !r.barrier_alone.is_empty() {
            let bound = 1e9 / r.barrier_alone.mean();
            ctx.out.data("throughput", json!({"executors": r.config.executor_cpus.len(), "swaps_per_s": r.throughput(), "barrier_alone_mean_ns": r.barrier_alone.mean(), "barrier_alone_p50_ns": r.barrier_alone.value_at_quantile(0.5), "barrier_bound_per_s": bound, "ratio": r.throughput() / bound, "slot_reuse_wait_ns": r.throughput_wait_ns, "ratio_excluding_waits": r.throughput_excluding_waits() / bound}));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Across processes: a target maps the memfd RX, kobench writes through its own RW view.

/// The target's first reply.
#[derive(Debug, Serialize, Deserialize)]
pub struct TargetReady {
    pub pid: i32,
    /// SYNC_CORE before registering, the registration, and SYNC_CORE after.
    pub before_register: String,
    pub register: String,
    pub after_register: String,
    pub exec_base: usize,
    pub rw_base: usize,
    pub stride: usize,
    pub first_call: u32,
    pub error: Option<String>,
}

/// The target's reply to `publish G`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Published {
    pub barrier: String,
    pub ret: u32,
    pub executor_ret: u64,
    pub violations: u64,
    pub executor_calls: u64,
}

/// `__helper jit-target PATH SLOTS [MAIN_CPU EXEC_CPU]`: maps the memfd at PATH RX (and RW
/// at a second address), checks the SYNC_CORE registration rule, runs an executor thread
/// (pinned to EXEC_CPU, the main thread to MAIN_CPU, so the spinning executor never
/// delays the replies), and serves `call S` / `publish G` lines until stdin closes.
pub fn helper_target(args: &[String]) -> i32 {
    let cpu = |i: usize| args.get(i).and_then(|s| s.parse::<usize>().ok());
    let (main_cpu, exec_cpu) = (cpu(2), cpu(3));
    let (Some(path), Some(slots)) = (
        args.first(),
        args.get(1).and_then(|s| s.parse::<usize>().ok()),
    ) else {
        eprintln!("jit-target: usage: jit-target PATH SLOTS");
        return 2;
    };
    // Fresh process, nothing registered: the registration rule first.
    let before_register = outcome(&mb::call(Cmd::PrivateExpeditedSyncCore));
    let register = outcome(&mb::call(Cmd::RegisterPrivateExpeditedSyncCore));
    let after_register = outcome(&mb::call(Cmd::PrivateExpeditedSyncCore));
    let ring = match CodeRing::open_exec(path, slots, true) {
        Ok(r) => r,
        Err(e) => {
            reply(&TargetReady {
                pid: proc_::getpid(),
                before_register,
                register,
                after_register,
                exec_base: 0,
                rw_base: 0,
                stride: 0,
                first_call: 0,
                error: Some(format!("mapping {path}: {e}")),
            });
            return 1;
        }
    };
    if let Some(c) = main_cpu {
        let _ = kobench_harness::pool::pin_current(c);
    }
    let published = AtomicU64::new(0);
    let (last_r, calls, violations, stop) = (
        AtomicU64::new(0),
        AtomicU64::new(0),
        AtomicU64::new(0),
        AtomicBool::new(false),
    );
    std::thread::scope(|s| {
        s.spawn(|| {
            if let Some(c) = exec_cpu {
                let _ = kobench_harness::pool::pin_current(c);
            }
            let n = slots as u64;
            let mut c = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let p = published.load(Ordering::Acquire);
                let r = ring.call((p % n) as usize) as u64;
                if r < p {
                    violations.fetch_add(1, Ordering::Relaxed);
                }
                c += 1;
                last_r.store(r, Ordering::Release);
                if c & 255 == 0 {
                    calls.store(c, Ordering::Relaxed);
                }
            }
        });
        reply(&TargetReady {
            pid: proc_::getpid(),
            before_register,
            register,
            after_register,
            exec_base: ring.exec_addr(0).unwrap_or(0),
            rw_base: ring.write_addr(0).unwrap_or(0),
            stride: ring.stride(),
            first_call: ring.call(0),
            error: None,
        });
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            let mut it = line.split_whitespace();
            match (it.next(), it.next().and_then(|x| x.parse::<u64>().ok())) {
                (Some("call"), Some(slot)) => {
                    reply(&json!({"ret": ring.call(slot as usize % slots)}))
                }
                (Some("publish"), Some(g)) => {
                    let slot = (g % slots as u64) as usize;
                    // Our own maintenance on our RX addresses (arm64), then the barrier:
                    // it reaches only this process's threads, so the target issues it.
                    ring.sync_icache(slot);
                    let barrier = outcome(&mb::call(Cmd::PrivateExpeditedSyncCore));
                    published.store(g, Ordering::Release);
                    let ret = ring.call(slot);
                    let t = std::time::Instant::now();
                    while last_r.load(Ordering::Acquire) < g && t.elapsed() < Duration::from_secs(2)
                    {
                        std::hint::spin_loop();
                    }
                    reply(&Published {
                        barrier,
                        ret,
                        executor_ret: last_r.load(Ordering::Acquire),
                        violations: violations.load(Ordering::Relaxed),
                        executor_calls: calls.load(Ordering::Relaxed),
                    });
                }
                _ => reply(&json!({"error": format!("unknown command: {line}")})),
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
    0
}

fn cross_process(ctx: &Context, swaps: u64) -> anyhow::Result<Vec<Verdict>> {
    let mut v = Vec::new();
    let ring = CodeRing::writer(XP_SLOTS, 0)?;
    let fd = ring.raw_fd().expect("writer has a memfd");
    let path = format!("/proc/{}/fd/{fd}", proc_::getpid());
    let cpus = ctx.cpus.ids();
    let mut args = vec![path.clone(), XP_SLOTS.to_string()];
    if cpus.len() >= 2 {
        args.extend([cpus[0].to_string(), cpus[cpus.len() - 1].to_string()]);
    }
    let mut t = Helper::spawn(&ctx.helper_exe, "jit-target", &args)?;
    let ready: TargetReady = t.recv(HELPER_TIMEOUT)?;
    v.push(Verdict::expect_eq(
        RULE,
        "fresh target process: SYNC_CORE before REGISTER_PRIVATE_EXPEDITED_SYNC_CORE",
        "EPERM",
        &ready.before_register,
    ));
    v.push(Verdict::expect_eq(
        RULE,
        "target: REGISTER_PRIVATE_EXPEDITED_SYNC_CORE",
        "0",
        &ready.register,
    ));
    v.push(Verdict::expect_eq(
        RULE,
        "target: SYNC_CORE after registering",
        "0",
        &ready.after_register,
    ));
    if let Some(e) = ready.error {
        v.push(Verdict::check(
            RULE,
            format!("target maps the memfd ({path}) RX and RW"),
            false,
            "mapped",
            e,
        ));
        return Ok(v);
    }
    let tmaps = maps::parse(
        &std::fs::read_to_string(format!("/proc/{}/maps", ready.pid)).unwrap_or_default(),
    );
    let len = ring.byte_len();
    let (xp, wp) = (
        maps::perms_at(&tmaps, ready.exec_base, len),
        maps::perms_at(&tmaps, ready.rw_base, len),
    );
    let wx = maps::writable_and_executable(&tmaps).len();
    v.push(Verdict::check(RULE, "target maps the shared memfd RX at one address and RW at another; no W+X mapping in the target", xp.as_deref() == Some("r-xs") && wp.as_deref() == Some("rw-s") && wx == 0, "r-xs, rw-s, 0 W+X", format!("{}, {}, {wx} W+X", xp.unwrap_or_default(), wp.unwrap_or_default())));
    v.push(Verdict::expect_eq(
        RULE,
        "target runs the initial code (generation 0)",
        "0",
        ready.first_call.to_string(),
    ));

    // Generation 1 through kobench's own RW mapping of the memfd.
    ring.write_slot(1, 1)?;
    ring.sync_icache(1);
    let p: Published = t.request("publish 1", HELPER_TIMEOUT)?;
    v.push(Verdict::check(RULE, "kobench writes generation 1 through its RW mapping; the target issues SYNC_CORE itself, then runs it (main thread and executor thread)", p.barrier == "0" && p.ret == 1 && p.executor_ret >= 1, "barrier 0, returns 1, executor 1", format!("barrier {}, returns {}, executor {}", p.barrier, p.ret, p.executor_ret)));

    // No forced write into the target's RX mapping.
    let img = native_image(2);
    let pid = ready.pid;
    let rx = pvm::RemoteIov {
        base: ready.exec_base + 2 * ready.stride,
        len: img.len(),
    };
    let r = pvm::writev(pid, &[std::io::IoSlice::new(&img)], &[rx], 0);
    v.push(Verdict::expect_eq(
        "PVM-PARTIAL",
        "process_vm_writev into the target's RX code mapping (no forced write)",
        "EFAULT",
        outcome(&r),
    ));
    let still: serde_json::Value = t.request("call 2", HELPER_TIMEOUT)?;
    v.push(Verdict::expect_eq(
        "PVM-PARTIAL",
        "the target's code at that slot is unchanged after the refused write",
        "0",
        still["ret"].to_string(),
    ));
    // The RW alias takes the same write.
    let rw = pvm::RemoteIov {
        base: ready.rw_base + 2 * ready.stride,
        len: img.len(),
    };
    let r = pvm::writev(pid, &[std::io::IoSlice::new(&img)], &[rw], 0);
    v.push(Verdict::expect_eq(
        "PVM-DATA",
        "process_vm_writev of a generation-2 stub into the target's RW alias",
        img.len().to_string(),
        outcome(&r),
    ));
    let p: Published = t.request("publish 2", HELPER_TIMEOUT)?;
    v.push(Verdict::check(
        "PVM-DATA",
        "after its SYNC_CORE the target runs the stub written through its RW alias",
        p.barrier == "0" && p.ret == 2,
        "barrier 0, returns 2",
        format!("barrier {}, returns {}", p.barrier, p.ret),
    ));

    // Many swaps: kobench writes, the target barriers, publishes and runs.
    let mut h = new_histogram();
    let (mut wrong, mut last) = (0u64, None);
    let mut done = 0u64;
    for g in 3..3 + swaps {
        if ctx.cancelled() {
            break;
        }
        let slot = (g % XP_SLOTS as u64) as usize;
        let t0 = ctx.clock.now();
        ring.write_slot(slot, g as u32)?;
        ring.sync_icache(slot);
        let p: Published = t.request(&format!("publish {g}"), HELPER_TIMEOUT)?;
        h.record(ctx.clock.interval_ns(t0, ctx.clock.now())).ok();
        if p.ret as u64 != g || p.executor_ret < g || p.barrier != "0" {
            wrong += 1;
        }
        done += 1;
        last = Some(p);
    }
    let viol = last.as_ref().map(|p| p.violations).unwrap_or(0);
    v.push(Verdict::check(
        RULE,
        "cross-process swaps: the target never runs a stale generation after its SYNC_CORE",
        done > 0 && wrong == 0 && viol == 0,
        format!("{swaps} swaps, 0 stale"),
        format!(
            "{done} swaps, {wrong} wrong returns, {viol} executor violations ({} executor calls)",
            last.map(|p| p.executor_calls).unwrap_or(0)
        ),
    ));
    if !h.is_empty() {
        ctx.out.measurement(Measurement {
            id: "jit/cross_process/round_trip/dual/sync_core/1".into(),
            unit: "ns".into(),
            smaller_is_better: true,
            params: BTreeMap::from([
                ("mapping".to_string(), json!("dual")),
                ("variant".to_string(), json!("sync_core")),
                ("executors".to_string(), json!(1)),
                (
                    "note".to_string(),
                    json!("kobench write + pipe request + target SYNC_CORE + target call + reply"),
                ),
            ]),
            summary: Summary::of(&h),
            derived: BTreeMap::new(),
        });
    }
    let _ = t.finish(Duration::from_secs(5));
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_sweeps_executors_and_adds_controls() {
        let s = Sizes::for_profile(kobench_harness::profile::Profile::Quick);
        let p = plan(&[0, 1, 2, 3, 4], &s);
        // dual + mprotect: counts 1, 2, 4 with SYNC_CORE, one unbarriered each, one mutation.
        assert_eq!(p.len(), 2 * 4 + 1);
        assert!(p
            .iter()
            .all(|c| c.swapper_cpu == 0 && !c.executor_cpus.contains(&0)));
        let ks: Vec<usize> = p
            .iter()
            .filter(|c| {
                c.layout == Layout::Dual
                    && c.barrier == Barrier::SyncCore
                    && c.order == Order::WriteFirst
            })
            .map(|c| c.executor_cpus.len())
            .collect();
        assert_eq!(ks, vec![1, 2, 4]);
        let dual_swaps: u64 = p
            .iter()
            .filter(|c| {
                c.layout == Layout::Dual
                    && c.barrier == Barrier::SyncCore
                    && c.order == Order::WriteFirst
            })
            .map(|c| c.swaps + c.propagation)
            .sum();
        assert!(dual_swaps >= s.target_swaps);
        assert_eq!(p.last().unwrap().order, Order::PublishFirst);
        let two = plan(&[3, 5], &s);
        assert_eq!(two.len(), 2 * 2 + 1);
        assert!(two.iter().all(|c| c.executor_cpus == vec![5]));
    }

    #[test]
    fn rule_of_three_bound() {
        assert!((rule_of_three(100_000) - 3e-5).abs() < 1e-12);
    }
}
