//! ordering: does membarrier really let a fast path drop its fence? Litmus tests (SB, MP)
//! with every barrier kind and every membarrier command, in one process (MB-ORDER-PRIVATE)
//! and across two processes over a shared memfd (MB-ORDER-GLOBAL), each Never judged
//! against a positive control run in the same configuration; and the break-even: what the
//! fast side saves per operation against what the slow side pays per call.
//!
//! The engine is `kobench_harness::litmus`; this module picks configurations per profile,
//! runs the cross-process fast side in a helper (`__helper litmus-fast`), and turns counts
//! into verdicts, tables and measurements.

use crate::context::Context;
use crate::helpers::reply;
use crate::{Descriptor, Workload};
use kobench_harness::child::Helper;
use kobench_harness::litmus::engine::{self, Layout};
use kobench_harness::litmus::verdict::{judge, upper_bound_95};
use kobench_harness::litmus::{self, Config, Counts, Expect, LitmusError, Role, Test};
use kobench_harness::pool::{pin_current, with_workers};
use kobench_harness::profile::Profile;
use kobench_harness::schema::{Measurement, Verdict};
use kobench_harness::stats::{median, new_histogram, Summary};
use kobench_harness::sys::mem::{memfd, Mapping, Prot};
use kobench_harness::sys::membarrier::{self as mb, Cmd};
use kobench_harness::timer::Clock;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub struct OrderingWorkload;

/// Instances per test, per profile (membarrier variants reach 10^6 from standard up).
pub fn iterations(p: Profile) -> u64 {
    p.pick(40_000, 1_000_000, 1_000_000, 10_000_000)
}

/// Time budget per test, per profile (a test stops at whichever comes first).
pub fn time_budget(p: Profile) -> Duration {
    p.pick(
        Duration::from_millis(150),
        Duration::from_millis(300),
        Duration::from_secs(300),
        Duration::from_secs(1800),
    )
}

/// Slow-side instances per GLOBAL call (synchronize_rcu takes milliseconds).
pub fn global_group(p: Profile) -> usize {
    p.pick(256, 512, 1024, 4096)
}

/// The two CPUs a test runs on: the first allowed CPU and one on a distinct core.
pub fn pick_cpus(ctx: &Context) -> Option<Vec<usize>> {
    let ids = ctx.cpus.ids();
    let a = *ids.first()?;
    let b = ctx
        .cpus
        .distinct_core_from(a)
        .or_else(|| ids.get(1).copied())?;
    Some(vec![a, b])
}

/// The configuration a test runs in under `profile`.
pub fn config_for(test: &Test, cpus: Vec<usize>, profile: Profile) -> Config {
    let mut c = Config::new(cpus, iterations(profile), time_budget(profile));
    if test.command() == Some(Cmd::Global) {
        c.group = global_group(profile);
    }
    c
}

/// Runs one test (in-process or across processes) in `cfg`.
pub fn run_test(
    test: &Test,
    cfg: &Config,
    clock: &Clock,
    helper_exe: &Path,
    cancel: &AtomicBool,
) -> Result<Counts, LitmusError> {
    engine::register_for(test).map_err(|errno| LitmusError::Barrier { thread: 0, errno })?;
    if test.cross_process {
        run_cross_process(test, cfg, clock, helper_exe, cancel)
    } else {
        engine::run_in_process(test, cfg, clock, cancel)
    }
}

fn cross_err(m: impl std::fmt::Display) -> LitmusError {
    LitmusError::Config(format!("cross-process fast side: {m}"))
}

/// The fast side (thread 1) in a helper process that maps the same memfd.
fn run_cross_process(
    test: &Test,
    cfg: &Config,
    clock: &Clock,
    helper_exe: &Path,
    cancel: &AtomicBool,
) -> Result<Counts, LitmusError> {
    let l = Layout::new(test, cfg.batch, cfg.group, cfg.stride)?;
    let fd = memfd("kobench-litmus", l.bytes()).map_err(LitmusError::Map)?;
    let map =
        Mapping::shared_fd(fd.as_raw_fd(), l.bytes(), Prot::ReadWrite).map_err(LitmusError::Map)?;
    let w = map.words();
    let path = format!("/proc/{}/fd/{}", std::process::id(), fd.as_raw_fd());
    let idle = cfg.time_budget + Duration::from_secs(30);
    let args = vec![
        path,
        test.name.clone(),
        cfg.batch.to_string(),
        cfg.group.to_string(),
        cfg.stride.to_string(),
        cfg.cpus[1].to_string(),
        idle.as_secs().to_string(),
    ];
    // Kept in this thread: PDEATHSIG follows the spawning thread.
    let mut h = Helper::spawn(helper_exe, "litmus-fast", &args).map_err(cross_err)?;
    let ready: serde_json::Value = h.recv(Duration::from_secs(30)).map_err(cross_err)?;
    if let Some(e) = ready.get("error") {
        return Err(cross_err(e));
    }
    if !engine::wait_ready(w, 2, Duration::from_secs(10)) {
        return Err(cross_err("never marked itself ready"));
    }
    let result = std::sync::Mutex::new(None);
    let finished = AtomicBool::new(false);
    with_workers(
        &cfg.cpus[..1],
        Duration::from_secs(10),
        &|wk| {
            let stop = || cancel.load(Ordering::Relaxed) || wk.should_stop();
            *result.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(engine::lead(w, &l, test, cfg, clock, &stop));
            finished.store(true, Ordering::Release);
        },
        |_| {
            while !finished.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(2));
            }
        },
    )?;
    let r = result
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .unwrap_or_else(|| Err(cross_err("leader never ran")));
    let _ = h.recv::<serde_json::Value>(Duration::from_secs(5));
    let _ = h.finish(Duration::from_secs(5));
    r
}

/// `__helper litmus-fast PATH TEST BATCH GROUP STRIDE CPU IDLE_S`: registers for
/// GLOBAL_EXPEDITED, maps the leader's memfd, pins itself, runs the fast side.
pub fn helper_fast(args: &[String]) -> i32 {
    let fail = |m: String| {
        reply(&json!({ "error": m }));
        1
    };
    let [path, name, batch, group, stride, cpu, idle] = args else {
        return fail(format!("litmus-fast needs 7 arguments, got {}", args.len()));
    };
    let num = |s: &str| {
        s.parse::<usize>()
            .map_err(|e| format!("bad number '{s}': {e}"))
    };
    let (batch, group, stride, cpu, idle) =
        match (num(batch), num(group), num(stride), num(cpu), num(idle)) {
            (Ok(a), Ok(b), Ok(c), Ok(d), Ok(e)) => (a, b, c, d, e),
            _ => return fail("bad numeric argument".into()),
        };
    let Some(test) = litmus::find(name) else {
        return fail(format!("unknown test {name}"));
    };
    let registered = mb::call(Cmd::RegisterGlobalExpedited);
    let l = match Layout::new(&test, batch, group, stride) {
        Ok(l) => l,
        Err(e) => return fail(e.to_string()),
    };
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) => return fail(format!("open {path}: {e}")),
    };
    let map = match Mapping::shared_fd(file.as_raw_fd(), l.bytes(), Prot::ReadWrite) {
        Ok(m) => m,
        Err(e) => return fail(format!("mmap {path}: {e}")),
    };
    if let Err(e) = pin_current(cpu) {
        return fail(e.to_string());
    }
    let (clock, _) = Clock::calibrate(Duration::from_millis(10));
    reply(
        &json!({ "ready": true, "register_global_expedited": kobench_harness::sys::outcome(&registered) }),
    );
    let r = engine::follow(
        map.words(),
        &l,
        &test,
        1,
        &clock,
        &|| false,
        Duration::from_secs(idle as u64),
    );
    reply(&json!({ "done": r.as_ref().err().map(|e| e.to_string()) }));
    0
}

fn supported(mask: i64, c: Cmd) -> bool {
    mask & c.raw() as i64 != 0
}

/// The rule a test's verdict names.
fn rule_of(t: &Test) -> &'static str {
    match t.role {
        Role::Rule(r) | Role::Mutation(r) => r,
        _ if t.cross_process => "MB-ORDER-GLOBAL",
        _ => "MB-ORDER-PRIVATE",
    }
}

/// The verdict for one test given its counts and its control's (same configuration).
pub fn verdict_for(t: &Test, c: &Counts, control: Option<&Counts>) -> Verdict {
    // On x86 an MP control is forbidden by TSO: judge it as the Never it is.
    let j = judge(
        t.expect(),
        if t.role == Role::Control && t.expect() == Expect::Never {
            Role::Sanity
        } else {
            t.role
        },
        c.observed(),
        control.map(|k| k.observed()),
    );
    let check = format!(
        "{}: {} | {} ({})",
        t.name,
        t.code(0),
        t.code(1),
        if t.cross_process {
            "two processes"
        } else {
            "one process"
        }
    );
    Verdict {
        rule: rule_of(t).into(),
        check,
        outcome: j.outcome,
        expected: format!("{} {}", j.expected, t.condition_text()),
        observed: j.observed,
        note: j.note,
    }
}

fn rate_row(t: &Test, c: &Counts) -> serde_json::Value {
    let o = c.observed();
    json!([
        t.name,
        o.observation(),
        o.positive,
        o.total,
        format!("{:.4} %", o.rate() * 100.0),
        c.outcomes_per_s().round(),
        c.positive_per_s().round(),
        if o.positive == 0 {
            format!("{:.2e}", upper_bound_95(o.total))
        } else {
            String::new()
        },
        (c.period_ns * 10.0).round() / 10.0,
        c.barrier_calls,
        c.shape,
    ])
}

/// The expectation table (what each test is, per architecture).
pub fn expectations_table() -> serde_json::Value {
    let rows: Vec<serde_json::Value> = litmus::catalog()
        .iter()
        .map(|t| {
            json!([
                t.name,
                t.code(0),
                t.code(1),
                t.condition_text(),
                t.expect_x86_64.as_str(),
                t.expect_weak.as_str(),
                format!("{:?}", t.role),
                t.control_x86_64.clone().unwrap_or_default(),
                t.control_weak.clone().unwrap_or_default(),
                if t.test_only { "test-only" } else { "" },
                t.note
            ])
        })
        .collect();
    json!({"kind": "table", "title": "litmus tests: code, condition, expectation per architecture (x86_64 = x86-TSO; weak = aarch64/Power/RISC-V)", "columns": ["test", "P0 (slow)", "P1 (fast)", "condition", "x86_64", "weak", "role", "control x86_64", "control weak", "", "note"], "rows": rows})
}

fn measurement(t: &Test, c: &Counts) -> Measurement {
    let mut h = new_histogram();
    let _ = h.record(c.outcomes_per_s().round().max(1.0) as u64);
    let mut params = BTreeMap::new();
    params.insert("variant".into(), json!(t.name));
    params.insert("iterations".into(), json!(c.total));
    if let Some(cmd) = t.command() {
        params.insert("command".into(), json!(cmd.name()));
    }
    params.insert("cpu".into(), json!(c.shape));
    let mut derived = BTreeMap::new();
    derived.insert("positive_rate".into(), c.observed().rate());
    derived.insert("positive_per_s".into(), c.positive_per_s());
    Measurement {
        id: format!("ordering/litmus/{}", t.name),
        unit: "ops/s".into(),
        smaller_is_better: false,
        params,
        summary: Summary::of(&h),
        derived,
    }
}

/// Break-even figures for one machine.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BreakEven {
    pub fast_compiler_ns: f64,
    pub fast_fence_ns: f64,
    /// (command, median ns per call with the fast side spinning on another CPU).
    pub slow_ns: Vec<(Cmd, f64)>,
    /// (command, what one call costs the fast side: the slowdown of its loop, in ns, while
    /// the other CPU calls back to back, divided by the calls made; the IPI's cost).
    pub fast_ipi_ns: Vec<(Cmd, f64)>,
}

impl BreakEven {
    /// Fast-side operations one membarrier call must replace fences for to pay off:
    /// `cost(call) / (t_fence - t_compiler)`.
    pub fn fast_ops_per_call(&self, call_ns: f64) -> f64 {
        call_ns / (self.fast_fence_ns - self.fast_compiler_ns).max(1e-3)
    }

    /// The slow-side call rate above which membarrier stops paying when the fast side runs
    /// flat out (one op per `t_compiler`): `(t_fence - t_compiler) / (t_compiler · cost)`.
    pub fn break_even_calls_per_s(&self, call_ns: f64) -> f64 {
        1e9 / (self.fast_ops_per_call(call_ns) * self.fast_compiler_ns.max(1e-3))
    }
}

fn fast_loop_ns(clock: &Clock, fence_kind: bool, n: u64) -> f64 {
    let cells: Vec<std::sync::atomic::AtomicU64> = (0..64)
        .map(|_| std::sync::atomic::AtomicU64::new(0))
        .collect();
    let (x, y) = (&cells[0], &cells[32]);
    let mut acc = 0u64;
    let t0 = clock.now();
    for i in 0..n {
        x.store(i, Ordering::Relaxed);
        if fence_kind {
            std::sync::atomic::fence(Ordering::SeqCst);
        } else {
            std::sync::atomic::compiler_fence(Ordering::SeqCst);
        }
        acc = acc.wrapping_add(y.load(Ordering::Relaxed));
    }
    let t1 = clock.now();
    std::hint::black_box(acc);
    clock.to_ns(t1 - t0) as f64 / n as f64
}

/// Measures the fast side (store; barrier; load) with a compiler barrier and with a full
/// fence, and each membarrier command's cost while the fast side spins on the other CPU.
pub fn break_even(ctx: &Context, cpus: &[usize], mask: i64) -> Result<BreakEven, LitmusError> {
    let reps = 5;
    let n = ctx.profile.pick(200_000, 2_000_000, 10_000_000, 20_000_000);
    let calls = ctx.profile.pick(200, 2_000, 20_000, 100_000);
    let global_calls = ctx.profile.pick(2, 5, 20, 50);
    let out = std::sync::Mutex::new(None);
    // Worker 1 spins (mode 0) or calls Cmd::BARRIERS[mode - 1] back to back, counting calls.
    let mode = std::sync::atomic::AtomicUsize::new(0);
    let made = std::sync::atomic::AtomicU64::new(0);
    with_workers(
        cpus,
        Duration::from_secs(10),
        &|w| {
            if w.index != 0 {
                while !w.should_stop() {
                    match mode.load(Ordering::Relaxed) {
                        0 => std::hint::spin_loop(),
                        m => {
                            let _ = mb::call(Cmd::BARRIERS[m - 1]);
                            made.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                return;
            }
            let cb: Vec<f64> = (0..reps)
                .map(|_| fast_loop_ns(&ctx.clock, false, n))
                .collect();
            let fe: Vec<f64> = (0..reps)
                .map(|_| fast_loop_ns(&ctx.clock, true, n))
                .collect();
            let mut slow = Vec::new();
            for c in Cmd::BARRIERS {
                if !supported(mask, c) || ctx.cancelled() {
                    continue;
                }
                let k = if c == Cmd::Global {
                    global_calls
                } else {
                    calls
                };
                let mut ns = Vec::with_capacity(k);
                for _ in 0..k {
                    let t0 = ctx.clock.now();
                    if mb::call(c).is_err() {
                        break;
                    }
                    ns.push(ctx.clock.interval_ns(t0, ctx.clock.now()) as f64);
                }
                if let Some(m) = median(&ns) {
                    slow.push((c, m));
                }
            }
            let base = median(&cb).unwrap_or(0.0);
            let mut ipi = Vec::new();
            for (k, c) in Cmd::BARRIERS.into_iter().enumerate() {
                if c == Cmd::Global || !supported(mask, c) || ctx.cancelled() {
                    continue;
                }
                // Median over five windows, each against a quiet window measured right
                // before it (a preemption in either lands in the tails).
                let mut per_call = Vec::new();
                for _ in 0..5 {
                    let quiet = fast_loop_ns(&ctx.clock, false, n * 4);
                    made.store(0, Ordering::Relaxed);
                    mode.store(k + 1, Ordering::Relaxed);
                    let with = fast_loop_ns(&ctx.clock, false, n * 4);
                    mode.store(0, Ordering::Relaxed);
                    let m = made.load(Ordering::Relaxed).max(1);
                    per_call.push((with - quiet) * (n * 4) as f64 / m as f64);
                }
                let per_call = median(&per_call).unwrap_or(0.0).max(0.0);
                ipi.push((c, per_call));
            }
            *out.lock().unwrap_or_else(|e| e.into_inner()) = Some(BreakEven {
                fast_compiler_ns: base,
                fast_fence_ns: median(&fe).unwrap_or(0.0),
                slow_ns: slow,
                fast_ipi_ns: ipi,
            });
            w.set_count(1);
        },
        |ws| {
            while ws.counts()[0] == 0 && !ctx.cancelled() {
                std::thread::sleep(Duration::from_millis(5));
            }
        },
    )?;
    out.into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .ok_or_else(|| LitmusError::Config("break-even did not run".into()))
}

fn one_value(v: f64) -> Summary {
    let mut h = new_histogram();
    let _ = h.record(v.round().max(1.0) as u64);
    Summary::of(&h)
}

fn push_break_even(ctx: &Context, b: &BreakEven) {
    let m = |id: &str,
             ns: f64,
             params: BTreeMap<String, serde_json::Value>,
             derived: BTreeMap<String, f64>| Measurement {
        id: id.into(),
        unit: "ns".into(),
        smaller_is_better: true,
        params,
        summary: one_value(ns),
        derived,
    };
    ctx.out.measurement(m(
        "ordering/break_even/fast/compiler_barrier",
        b.fast_compiler_ns,
        BTreeMap::from([("variant".into(), json!("store; compiler barrier; load"))]),
        BTreeMap::new(),
    ));
    ctx.out.measurement(m(
        "ordering/break_even/fast/full_fence",
        b.fast_fence_ns,
        BTreeMap::from([("variant".into(), json!("store; fence(SeqCst); load"))]),
        BTreeMap::from([(
            "ratio_to_compiler_barrier".into(),
            b.fast_fence_ns / b.fast_compiler_ns.max(1e-3),
        )]),
    ));
    let mut rows = Vec::new();
    for (c, ns) in &b.slow_ns {
        let ipi = b.fast_ipi_ns.iter().find(|(x, _)| x == c).map(|(_, v)| *v);
        // The whole cost of one call: the caller's time plus what it takes from the fast CPU.
        let cost = ns + ipi.unwrap_or(0.0);
        let k = b.fast_ops_per_call(cost);
        let f = b.break_even_calls_per_s(cost);
        let mut derived = BTreeMap::from([
            ("fast_ops_per_call".into(), k),
            ("break_even_calls_per_s".into(), f),
        ]);
        if let Some(v) = ipi {
            derived.insert("fast_side_ns_per_call".into(), v);
        }
        ctx.out.measurement(m(
            &format!("ordering/break_even/slow/{}", c.name()),
            *ns,
            BTreeMap::from([
                ("command".into(), json!(c.name())),
                ("placement".into(), json!("spin")),
            ]),
            derived,
        ));
        rows.push(json!([
            c.name(),
            (ns * 10.0).round() / 10.0,
            ipi.map(|v| json!((v * 10.0).round() / 10.0))
                .unwrap_or(json!("not measured")),
            k.round(),
            f.round()
        ]));
    }
    ctx.out.data("break_even", json!({
        "kind": "table",
        "title": format!("break-even: fast side {:.2} ns/op with a compiler barrier, {:.2} ns/op with a full fence; a call costs the caller's time plus the fast side's slowdown (its IPI); membarrier pays while the slow side calls less than once per 'fast ops per call' fast-side operations, i.e. below the last column's rate with the fast side flat out", b.fast_compiler_ns, b.fast_fence_ns),
        "columns": ["command", "caller ns per call", "fast-side ns per call (IPI)", "fast ops per call to break even", "break-even calls/s (fast side flat out)"],
        "rows": rows,
    }));
}

impl Workload for OrderingWorkload {
    fn descriptor(&self) -> Descriptor {
        Descriptor {
            name: "ordering",
            summary: "litmus tests (SB, MP) proving membarrier's ordering guarantee against positive controls, in one process and across two; fence vs membarrier break-even",
            exercises: &["membarrier(2): every barrier command as the slow side of SB/MP", "memfd_create(2) + MAP_SHARED for the cross-process cells", "fence(SeqCst) / compiler_fence as the other barrier kinds"],
            rules: &["MB-ORDER-PRIVATE", "MB-ORDER-GLOBAL"],
            verifies: true,
            unavailable_when: "fewer than 2 CPUs (a litmus test needs two threads running at once), or no membarrier",
        }
    }

    fn unavailable(&self, ctx: &Context) -> Option<String> {
        if pick_cpus(ctx).is_none() {
            return Some(format!("needs 2 CPUs, got {}", ctx.cpus.len()));
        }
        match mb::query() {
            Ok(m) if m != 0 => None,
            _ => Some("membarrier QUERY failed or returned an empty mask".into()),
        }
    }

    fn deadline(&self, ctx: &Context) -> Duration {
        ctx.profile.pick(
            Duration::from_secs(60),
            Duration::from_secs(90),
            Duration::from_secs(3600),
            Duration::from_secs(4 * 3600),
        )
    }

    fn run(&self, ctx: &Context) -> anyhow::Result<()> {
        let cpus = pick_cpus(ctx).ok_or_else(|| anyhow::anyhow!("needs 2 CPUs"))?;
        let mask = mb::query().unwrap_or(0);
        // Register everything first: registration with other threads alive costs a
        // synchronize_rcu (methodology §2.1).
        for c in Cmd::BARRIERS {
            if let (true, Some(r)) = (supported(mask, c), c.registration()) {
                let _ = mb::call(r);
            }
        }
        ctx.out.data("tests", expectations_table());
        let tests: Vec<Test> = litmus::catalog()
            .into_iter()
            .filter(|t| !t.test_only)
            .collect();
        let mut controls: HashMap<(String, String), Counts> = HashMap::new();
        let mut tables = Vec::new();
        let mut rates = Vec::new();
        let mut texts = Vec::new();
        for t in &tests {
            if ctx.cancelled() {
                break;
            }
            if let Some(c) = t.command() {
                if !supported(mask, c) {
                    ctx.out.verdict(Verdict::skip(
                        rule_of(t),
                        &t.name,
                        format!("{} not in the QUERY mask {mask:#x}", c.name()),
                    ));
                    continue;
                }
            }
            let cfg = config_for(t, cpus.clone(), ctx.profile);
            ctx.out.progress(&format!("ordering: {}", t.name));
            let counts = match run_test(t, &cfg, &ctx.clock, &ctx.helper_exe, &ctx.cancel) {
                Ok(c) => c,
                Err(e) => {
                    ctx.out.verdict(
                        Verdict {
                            outcome: kobench_harness::Outcome::Fail,
                            ..Verdict::info(rule_of(t), &t.name, "")
                        }
                        .with_note(format!("the test could not run: {e}")),
                    );
                    continue;
                }
            };
            // The positive control in the same configuration (run now if not yet).
            let control = match t.control() {
                Some(name) => {
                    let key = (name.to_string(), cfg.shape());
                    if !controls.contains_key(&key) {
                        if let Some(ct) = litmus::find(name) {
                            ctx.out
                                .progress(&format!("ordering: {name} (control, {})", cfg.shape()));
                            let mut ccfg = cfg.clone();
                            ccfg.iterations = ccfg.iterations.min(iterations(ctx.profile));
                            if let Ok(cc) =
                                run_test(&ct, &ccfg, &ctx.clock, &ctx.helper_exe, &ctx.cancel)
                            {
                                controls.insert(key.clone(), cc);
                            }
                        }
                    }
                    controls.get(&key)
                }
                None => None,
            };
            ctx.out.verdict(verdict_for(t, &counts, control));
            ctx.out.measurement(measurement(t, &counts));
            tables.push(counts.table_json(t));
            rates.push(rate_row(t, &counts));
            texts.push(counts.litmus_text(t));
            if t.role == Role::Control {
                controls
                    .entry((t.name.clone(), cfg.shape()))
                    .or_insert(counts);
            }
            ctx.out.data("outcomes", json!(tables));
            ctx.out.data("rates", json!({"kind": "table", "title": "litmus rates: every test (positive = instances meeting the condition; bound = 95 % upper bound on the rate when Never)", "columns": ["test", "observation", "positive", "instances", "rate", "outcomes/s", "positive/s", "bound (Never)", "period ns", "barrier calls", "configuration"], "rows": rates}));
            ctx.out.data("litmus_log", json!(texts));
        }
        if !ctx.cancelled() {
            ctx.out.progress("ordering: break-even");
            match break_even(ctx, &cpus, mask) {
                Ok(b) => push_break_even(ctx, &b),
                Err(e) => ctx.out.data("break_even_error", json!(e.to_string())),
            }
        }
        Ok(())
    }
}
