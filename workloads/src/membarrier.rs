//! membarrier: registration and flag rules, unprivileged use, and the latency of every
//! barrier command against how many other threads run and where (spinning or idle).
//!
//! Rule checks that need a fresh process (registration state, fork/exec inheritance, an
//! unprivileged uid) run in helper processes of kobench itself; the latency matrix runs
//! in-process on pinned workers, with every registration done before any worker exists.

use crate::context::Context;
use crate::helpers::reply;
use crate::{Descriptor, Workload};
use kobench_harness::child::Helper;
use kobench_harness::pool::{with_workers, Placement};
use kobench_harness::sample::{plain_loop_ns, sample, Budget};
use kobench_harness::schema::{Measurement, Verdict};
use kobench_harness::stats::{median, Summary};
use kobench_harness::sys::membarrier::{self as mb, Cmd, FLAG_CPU};
use kobench_harness::sys::process as proc_;
use kobench_harness::sys::{outcome, Errno};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub struct Membarrier;

const HELPER_TIMEOUT: Duration = Duration::from_secs(30);

impl Workload for Membarrier {
    fn descriptor(&self) -> Descriptor {
        Descriptor {
            name: "membarrier",
            summary: "registration/flag/privilege rules and per-command latency vs running threads (spin/idle)",
            exercises: &["membarrier(2): QUERY, GET_REGISTRATIONS, every REGISTER_* and barrier command, FLAG_CPU", "getppid(2) as the floor"],
            rules: &["MB-QUERY", "MB-FLAGS", "MB-UNPRIV", "MB-REG", "MB-REG-COST", "MB-COST-GLOBAL", "MB-RSEQ"],
            verifies: true,
            unavailable_when: "the kernel has no membarrier (CONFIG_MEMBARRIER=n: QUERY fails with ENOSYS) or seccomp forbids it",
        }
    }

    fn unavailable(&self, _ctx: &Context) -> Option<String> {
        match mb::query() {
            Ok(m) if m != 0 => None,
            Ok(_) => Some("membarrier QUERY returned an empty mask: no commands supported".into()),
            Err(e) => Some(format!(
                "membarrier QUERY failed with {e}: kernel built without CONFIG_MEMBARRIER?"
            )),
        }
    }

    fn run(&self, ctx: &Context) -> anyhow::Result<()> {
        let mask = mb::query().unwrap_or(0);
        ctx.out.data("query_mask", json!(format!("{mask:#x}")));
        ctx.out.data(
            "supported",
            json!(mb::decode_mask(mask)
                .iter()
                .map(|c| c.name())
                .collect::<Vec<_>>()),
        );

        ctx.out
            .progress("membarrier: rule checks in a fresh process");
        let rules: Vec<Verdict> =
            Helper::run_once(&ctx.helper_exe, "mb-rules", &[], HELPER_TIMEOUT)?;
        ctx.out.verdicts(rules);

        ctx.out.progress("membarrier: unprivileged child");
        ctx.out.verdicts(unpriv_verdicts(ctx, mask)?);

        ctx.out.progress("membarrier: registration cost");
        let regcost = registration_cost(ctx)?;
        if ctx.cancelled() {
            return Ok(());
        }

        let lat = latency_matrix(ctx, mask)?;
        ctx.out.verdicts(cost_verdicts(&lat, &regcost, mask));
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Rule checks in a fresh, single-threaded helper process.

fn expect(v: &mut Vec<Verdict>, rule: &str, check: &str, expected: &str, r: Result<i64, Errno>) {
    v.push(Verdict::expect_eq(rule, check, expected, outcome(&r)));
}

/// `__helper mb-rules`: registration and flag rules in a process that has registered nothing.
pub fn helper_rules(_args: &[String]) -> i32 {
    let mut v = Vec::new();
    let mask = match mb::query() {
        Ok(m) => m,
        Err(e) => {
            v.push(Verdict::skip(
                "MB-QUERY",
                "QUERY",
                format!("QUERY failed: {e}"),
            ));
            reply(&v);
            return 0;
        }
    };
    let has = |c: Cmd| mask & c.raw() as i64 != 0;
    v.push(Verdict::check(
        "MB-QUERY",
        "QUERY mask has bit 0 (GLOBAL) semantics only, never the QUERY bit itself",
        mask > 0 && mask & !0x7ff == 0,
        "non-zero mask within known bits",
        format!(
            "{mask:#x} = {}",
            mb::decode_mask(mask)
                .iter()
                .map(|c| c.name())
                .collect::<Vec<_>>()
                .join("|")
        ),
    ));
    for (name, cmd) in [
        ("-1", -1),
        ("1<<10", 1 << 10),
        ("3 (two bits)", 3),
        ("1<<31", i32::MIN),
    ] {
        expect(
            &mut v,
            "MB-QUERY",
            &format!("unknown command {name}"),
            "EINVAL",
            mb::raw(cmd, 0, 0),
        );
    }
    // Flags: refused before registration is looked at (nothing is registered yet).
    for c in Cmd::BARRIERS
        .into_iter()
        .chain([Cmd::RegisterPrivateExpedited, Cmd::Query])
    {
        if c != Cmd::Query && !has(c) {
            continue;
        }
        expect(
            &mut v,
            "MB-FLAGS",
            &format!("{} with flags=2", c.name()),
            "EINVAL",
            mb::raw(c.raw(), 2, 0),
        );
    }
    if has(Cmd::PrivateExpedited) {
        expect(
            &mut v,
            "MB-FLAGS",
            "PRIVATE_EXPEDITED (unregistered) with FLAG_CPU: flags checked before registration",
            "EINVAL",
            mb::raw(Cmd::PrivateExpedited.raw(), FLAG_CPU, 0),
        );
    }
    if has(Cmd::GetRegistrations) {
        expect(
            &mut v,
            "MB-REG",
            "GET_REGISTRATIONS before any registration",
            "0",
            mb::registrations(),
        );
    }
    // Before registering, each private expedited command is refused.
    let private = [
        Cmd::PrivateExpedited,
        Cmd::PrivateExpeditedSyncCore,
        Cmd::PrivateExpeditedRseq,
    ];
    for c in private {
        if !has(c) {
            v.push(Verdict::skip(
                if c == Cmd::PrivateExpeditedRseq {
                    "MB-RSEQ"
                } else {
                    "MB-REG"
                },
                format!("{} before registration", c.name()),
                format!("{} not in QUERY mask {mask:#x}", c.name()),
            ));
            continue;
        }
        let rule = if c == Cmd::PrivateExpeditedRseq {
            "MB-RSEQ"
        } else {
            "MB-REG"
        };
        expect(
            &mut v,
            rule,
            &format!("{} before registration (single-threaded)", c.name()),
            "EPERM",
            mb::call(c),
        );
    }
    if has(Cmd::GlobalExpedited) {
        expect(
            &mut v,
            "MB-REG",
            "GLOBAL_EXPEDITED sent unregistered (registration is for receivers)",
            "0",
            mb::call(Cmd::GlobalExpedited),
        );
    }
    if has(Cmd::PrivateExpedited) {
        expect(
            &mut v,
            "MB-REG",
            "REGISTER_PRIVATE_EXPEDITED",
            "0",
            mb::call(Cmd::RegisterPrivateExpedited),
        );
        expect(
            &mut v,
            "MB-REG",
            "PRIVATE_EXPEDITED after registration",
            "0",
            mb::call(Cmd::PrivateExpedited),
        );
        expect(
            &mut v,
            "MB-REG",
            "REGISTER_PRIVATE_EXPEDITED twice",
            "0",
            mb::call(Cmd::RegisterPrivateExpedited),
        );
        for c in [Cmd::PrivateExpeditedSyncCore, Cmd::PrivateExpeditedRseq] {
            if has(c) {
                expect(
                    &mut v,
                    "MB-REG",
                    &format!(
                        "{} still refused: one registration does not enable another",
                        c.name()
                    ),
                    "EPERM",
                    mb::call(c),
                );
            }
        }
        if has(Cmd::GetRegistrations) {
            expect(
                &mut v,
                "MB-REG",
                "GET_REGISTRATIONS shows exactly REGISTER_PRIVATE_EXPEDITED",
                &Cmd::RegisterPrivateExpedited.raw().to_string(),
                mb::registrations(),
            );
        }
        fork_exec_checks(&mut v, has(Cmd::PrivateExpeditedSyncCore));
    }
    // Shared by threads: registered by this thread, used by another, and the reverse.
    if has(Cmd::PrivateExpeditedSyncCore) && has(Cmd::PrivateExpeditedRseq) {
        expect(
            &mut v,
            "MB-REG",
            "REGISTER_PRIVATE_EXPEDITED_SYNC_CORE",
            "0",
            mb::call(Cmd::RegisterPrivateExpeditedSyncCore),
        );
        let from_thread = std::thread::spawn(|| {
            let sync_core = mb::call(Cmd::PrivateExpeditedSyncCore);
            let reg = mb::call(Cmd::RegisterPrivateExpeditedRseq);
            (sync_core, reg)
        })
        .join()
        .unwrap_or((Err(Errno(0)), Err(Errno(0))));
        expect(
            &mut v,
            "MB-REG",
            "SYNC_CORE from a second thread, registered by the first",
            "0",
            from_thread.0,
        );
        expect(
            &mut v,
            "MB-RSEQ",
            "REGISTER_PRIVATE_EXPEDITED_RSEQ from the second thread",
            "0",
            from_thread.1,
        );
        expect(
            &mut v,
            "MB-RSEQ",
            "PRIVATE_EXPEDITED_RSEQ in the first thread, registered by the second",
            "0",
            mb::call(Cmd::PrivateExpeditedRseq),
        );
        let cpu = proc_::current_cpu().map(|c| c as i32).unwrap_or(0);
        expect(
            &mut v,
            "MB-FLAGS",
            "RSEQ + FLAG_CPU at the caller's own CPU",
            "0",
            mb::raw(Cmd::PrivateExpeditedRseq.raw(), FLAG_CPU, cpu),
        );
        expect(
            &mut v,
            "MB-FLAGS",
            "RSEQ + FLAG_CPU at an out-of-range cpu_id (1000000)",
            "0",
            mb::raw(Cmd::PrivateExpeditedRseq.raw(), FLAG_CPU, 1_000_000),
        );
        expect(
            &mut v,
            "MB-FLAGS",
            "RSEQ + FLAG_CPU at a negative cpu_id (-1)",
            "0",
            mb::raw(Cmd::PrivateExpeditedRseq.raw(), FLAG_CPU, -1),
        );
        match offline_cpu() {
            Some(c) => expect(
                &mut v,
                "MB-FLAGS",
                &format!("RSEQ + FLAG_CPU at offline CPU {c}"),
                "0",
                mb::raw(Cmd::PrivateExpeditedRseq.raw(), FLAG_CPU, c as i32),
            ),
            None => v.push(Verdict::skip(
                "MB-FLAGS",
                "RSEQ + FLAG_CPU at an offline CPU",
                "every possible CPU is online on this machine",
            )),
        }
        expect(
            &mut v,
            "MB-FLAGS",
            "RSEQ with flags=FLAG_CPU|2",
            "EINVAL",
            mb::raw(Cmd::PrivateExpeditedRseq.raw(), FLAG_CPU | 2, 0),
        );
        v.push(Verdict::skip("MB-RSEQ", "restart of an in-flight rseq critical section", "kobench has no rseq critical-section test yet: only the registration part of MB-RSEQ is checked"));
    }
    reply(&v);
    0
}

fn offline_cpu() -> Option<usize> {
    let rd = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .and_then(|s| kobench_harness::cpus::parse_list(&s).ok())
    };
    let possible = rd("/sys/devices/system/cpu/possible")?;
    let online = rd("/sys/devices/system/cpu/online")?;
    possible.into_iter().find(|c| !online.contains(c))
}

/// What a process sees of its registrations (the fork child and the exec'd image).
#[derive(Debug, Serialize, Deserialize)]
struct RegState {
    private_expedited: String,
    sync_core: String,
    rseq: String,
}

fn reg_state() -> RegState {
    RegState {
        private_expedited: outcome(&mb::call(Cmd::PrivateExpedited)),
        sync_core: outcome(&mb::call(Cmd::PrivateExpeditedSyncCore)),
        rseq: outcome(&mb::call(Cmd::PrivateExpeditedRseq)),
    }
}

/// Registered for PRIVATE_EXPEDITED (only): fork, check in the child, exec, check again.
fn fork_exec_checks(v: &mut Vec<Verdict>, has_sync_core: bool) {
    let (reader, writer) = match std::io::pipe() {
        Ok(p) => p,
        Err(e) => {
            v.push(Verdict::skip(
                "MB-REG",
                "inherited across fork, cleared by exec",
                format!("pipe: {e}"),
            ));
            return;
        }
    };
    match proc_::fork_single_threaded() {
        Err(e) => v.push(Verdict::skip(
            "MB-REG",
            "inherited across fork, cleared by exec",
            format!("fork: {e}"),
        )),
        Ok(proc_::Fork::Child) => {
            drop(reader);
            let mut w = writer;
            let st = reg_state();
            let _ = serde_json::to_writer(&mut w, &st);
            let _ = std::io::Write::write_all(&mut w, b"\n");
            let exe = kobench_harness::child::helper_exe();
            let mut cmd = std::process::Command::new(exe);
            cmd.args(["__helper", "mb-after-exec"]).stdout(w);
            let _ = proc_::exec(&mut cmd);
            proc_::exit_now(127);
        }
        Ok(proc_::Fork::Parent { child }) => {
            drop(writer);
            let text = {
                let mut s = String::new();
                let _ = std::io::Read::read_to_string(&mut { reader }, &mut s);
                s
            };
            let _ = proc_::wait_pid_timeout(child, Duration::from_secs(10));
            let mut lines = text.lines();
            let forked: Option<RegState> = lines.next().and_then(|l| serde_json::from_str(l).ok());
            let execed: Option<RegState> = lines.next().and_then(|l| serde_json::from_str(l).ok());
            match forked {
                Some(f) => {
                    v.push(Verdict::expect_eq(
                        "MB-REG",
                        "fork child: PRIVATE_EXPEDITED (registration inherited)",
                        "0",
                        f.private_expedited,
                    ));
                    if has_sync_core {
                        v.push(Verdict::expect_eq(
                            "MB-REG",
                            "fork child: SYNC_CORE (never registered)",
                            "EPERM",
                            f.sync_core,
                        ));
                    }
                }
                None => v.push(Verdict::check(
                    "MB-REG",
                    "fork child reports its registrations",
                    false,
                    "a reply",
                    text.clone(),
                )),
            }
            match execed {
                Some(e) => {
                    v.push(Verdict::expect_eq(
                        "MB-REG",
                        "after exec: PRIVATE_EXPEDITED (registration cleared)",
                        "EPERM",
                        e.private_expedited,
                    ));
                }
                None => v.push(Verdict::check(
                    "MB-REG",
                    "exec'd image reports its registrations",
                    false,
                    "a reply",
                    text,
                )),
            }
        }
    }
}

/// `__helper mb-after-exec`: reports what an exec'd image may do.
pub fn helper_after_exec(_args: &[String]) -> i32 {
    reply(&reg_state());
    0
}

// ---------------------------------------------------------------------------------------
// MB-UNPRIV: every supported command in a child with no capabilities and a non-root uid.

/// The uid/gid an unprivileged child takes (`nobody` on most systems; needs no account).
pub const UNPRIV_ID: u32 = 65534;

#[derive(Debug, Serialize, Deserialize)]
struct UnprivReport {
    uid: u32,
    cap_eff: Option<u64>,
    cap_prm: Option<u64>,
    results: Vec<(String, String)>,
    error: Option<String>,
}

fn unpriv_verdicts(ctx: &Context, mask: i64) -> anyhow::Result<Vec<Verdict>> {
    if proc_::euid() != 0 {
        return Ok(vec![Verdict::skip("MB-UNPRIV", "every supported command with no capabilities and a non-root uid", format!("not root (euid {}): cannot make a child with another uid and no capabilities; the run itself is unprivileged, and its own calls succeed", proc_::euid()))]);
    }
    let r: UnprivReport = Helper::run_once(
        &ctx.helper_exe,
        "mb-unpriv",
        &[mask.to_string()],
        HELPER_TIMEOUT,
    )?;
    if let Some(e) = r.error {
        return Ok(vec![Verdict::check(
            "MB-UNPRIV",
            "child drops to an unprivileged uid",
            false,
            format!("uid {UNPRIV_ID}, CapEff 0"),
            e,
        )]);
    }
    let creds_ok = r.uid != 0 && r.cap_eff == Some(0) && r.cap_prm == Some(0);
    let mut v = vec![Verdict::check(
        "MB-UNPRIV",
        "child credentials verified from /proc/self/status",
        creds_ok,
        format!("uid {UNPRIV_ID}, CapEff 0, CapPrm 0"),
        format!(
            "uid {}, CapEff {:?}, CapPrm {:?}",
            r.uid, r.cap_eff, r.cap_prm
        ),
    )];
    for (cmd, res) in r.results {
        v.push(Verdict::expect_eq(
            "MB-UNPRIV",
            format!("{cmd} as uid {UNPRIV_ID} with no capabilities"),
            "0",
            res,
        ));
    }
    Ok(v)
}

/// `__helper mb-unpriv MASK`: forks, drops to uid/gid 65534 with no capabilities in the
/// child, and runs every supported command there (registering where needed).
pub fn helper_unpriv(args: &[String]) -> i32 {
    let mask: i64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(0);
    match proc_::fork_single_threaded() {
        Err(e) => {
            reply(&UnprivReport {
                uid: proc_::uid(),
                cap_eff: None,
                cap_prm: None,
                results: vec![],
                error: Some(format!("fork: {e}")),
            });
            0
        }
        Ok(proc_::Fork::Child) => {
            let mut rep = UnprivReport {
                uid: 0,
                cap_eff: None,
                cap_prm: None,
                results: vec![],
                error: None,
            };
            if let Err(e) =
                proc_::drop_to(UNPRIV_ID, UNPRIV_ID).and_then(|_| proc_::set_no_new_privs())
            {
                rep.error = Some(format!("dropping privileges failed: {e}"));
            }
            rep.uid = proc_::uid();
            rep.cap_eff = proc_::cap_eff(None);
            rep.cap_prm =
                proc_::status_field(None, "CapPrm").and_then(|v| u64::from_str_radix(&v, 16).ok());
            if rep.error.is_none() {
                for c in mb::decode_mask(mask) {
                    if matches!(c, Cmd::Query) {
                        continue;
                    }
                    if let Some(reg) = c.registration() {
                        let r = mb::call(reg);
                        rep.results.push((reg.name().to_string(), outcome(&r)));
                    }
                    if !matches!(
                        c,
                        Cmd::RegisterGlobalExpedited
                            | Cmd::RegisterPrivateExpedited
                            | Cmd::RegisterPrivateExpeditedSyncCore
                            | Cmd::RegisterPrivateExpeditedRseq
                    ) {
                        let r = if c == Cmd::GetRegistrations {
                            mb::call(c).map(|_| 0)
                        } else {
                            mb::call(c)
                        };
                        rep.results.push((c.name().to_string(), outcome(&r)));
                    }
                }
                rep.results.push((
                    "QUERY".into(),
                    outcome(&mb::query().map(|m| if m == mask { 0 } else { m })),
                ));
            }
            reply(&rep);
            proc_::exit_now(0);
        }
        Ok(proc_::Fork::Parent { child }) => {
            let _ = proc_::wait_pid_timeout(child, Duration::from_secs(20));
            0
        }
    }
}

// ---------------------------------------------------------------------------------------
// MB-REG-COST: registration single-threaded vs with threads running.

#[derive(Debug, Serialize, Deserialize)]
struct RegCost {
    threads: usize,
    register_ns: u64,
}

/// `__helper mb-regcost THREADS`: times REGISTER_PRIVATE_EXPEDITED with THREADS extra
/// threads alive (sleeping), in a fresh process.
pub fn helper_regcost(args: &[String]) -> i32 {
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(0);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        })
        .collect();
    let t = Instant::now();
    let r = mb::call(Cmd::RegisterPrivateExpedited);
    let ns = t.elapsed().as_nanos() as u64;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    if r.is_err() {
        return 1;
    }
    reply(&RegCost {
        threads: n,
        register_ns: ns,
    });
    0
}

#[derive(Debug, Default, Serialize)]
struct RegistrationCost {
    single_ns: Vec<u64>,
    threaded_ns: Vec<u64>,
}

fn registration_cost(ctx: &Context) -> anyhow::Result<RegistrationCost> {
    let reps = ctx.profile.pick(3, 5, 9, 15);
    let threads = ctx.cpus.len().max(2);
    let mut c = RegistrationCost::default();
    for _ in 0..reps {
        if ctx.cancelled() {
            break;
        }
        let a: RegCost =
            Helper::run_once(&ctx.helper_exe, "mb-regcost", &["0".into()], HELPER_TIMEOUT)?;
        c.single_ns.push(a.register_ns);
        let b: RegCost = Helper::run_once(
            &ctx.helper_exe,
            "mb-regcost",
            &[threads.to_string()],
            HELPER_TIMEOUT,
        )?;
        c.threaded_ns.push(b.register_ns);
    }
    ctx.out.data(
        "registration_cost",
        json!({"threads": threads, "single_ns": c.single_ns, "threaded_ns": c.threaded_ns}),
    );
    Ok(c)
}

// ---------------------------------------------------------------------------------------
// Latency matrix.

/// What the caller does per sample.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Op {
    Floor,
    Barrier(Cmd),
    RseqOnCpu(i32),
}

impl Op {
    fn name(self) -> String {
        match self {
            Op::Floor => "getppid".into(),
            Op::Barrier(c) => c.name().into(),
            Op::RseqOnCpu(_) => "PRIVATE_EXPEDITED_RSEQ_CPU".into(),
        }
    }

    #[inline(always)]
    fn call(self) -> Result<(), Errno> {
        match self {
            Op::Floor => {
                std::hint::black_box(proc_::getppid_raw());
                Ok(())
            }
            Op::Barrier(c) => mb::call(c).map(|_| ()),
            Op::RseqOnCpu(cpu) => mb::rseq_on_cpu(cpu).map(|_| ()),
        }
    }
}

/// The p50s the cost verdicts need: (op name, threads, placement) -> p50 ns.
type P50s = BTreeMap<(String, usize, &'static str), u64>;

/// Other-thread counts to sweep: 0, 1, 2, 4, ... and all the other selected CPUs.
pub fn thread_counts(others: usize) -> Vec<usize> {
    let mut v = vec![0];
    let mut k = 1;
    while k < others {
        v.push(k);
        k *= 2;
    }
    if others > 0 {
        v.push(others);
    }
    v
}

fn latency_matrix(ctx: &Context, mask: i64) -> anyhow::Result<P50s> {
    let has = |c: Cmd| mask & c.raw() as i64 != 0;
    // Register everything before any worker exists: registration costs milliseconds once
    // threads run (synchronize_rcu), and must stay out of the timed path.
    for c in Cmd::BARRIERS {
        if has(c) {
            if let Some(r) = c.registration() {
                mb::call(r).map_err(|e| anyhow::anyhow!("{}: {e}", r.name()))?;
            }
        }
    }
    let cpus = ctx.cpus.ids();
    let caller = cpus[0];
    let others = &cpus[1..];
    kobench_harness::pool::pin_current(caller)?;
    let fast = ctx.profile.pick(
        Budget::new(3_000, Duration::from_millis(30)),
        Budget::new(30_000, Duration::from_millis(150)),
        Budget::new(300_000, Duration::from_secs(1)),
        Budget::new(1_000_000, Duration::from_secs(3)),
    );
    let slow = Budget {
        warmup: 1,
        min_samples: 3,
        ..ctx.profile.pick(
            Budget::new(5, Duration::from_millis(60)),
            Budget::new(200, Duration::from_millis(400)),
            Budget::new(1_000, Duration::from_secs(3)),
            Budget::new(5_000, Duration::from_secs(10)),
        )
    };
    let mut p50s = P50s::new();
    let mut overhead = None;
    for k in thread_counts(others.len()) {
        let placements: &[Placement] = if k == 0 {
            &[Placement::Idle]
        } else {
            &[Placement::Spin, Placement::Idle]
        };
        for &pl in placements {
            if ctx.cancelled() {
                return Ok(p50s);
            }
            let pl_name = if k == 0 { "none" } else { pl.name() };
            let target_cpu = others.first().copied().unwrap_or(caller) as i32;
            let mut ops = vec![Op::Floor];
            for c in Cmd::BARRIERS {
                if has(c) {
                    ops.push(Op::Barrier(c));
                    if c == Cmd::PrivateExpeditedRseq {
                        ops.push(Op::RseqOnCpu(target_cpu));
                    }
                }
            }
            let measured = with_workers(
                &others[..k],
                Duration::from_secs(10),
                &|w| w.run_placement(pl),
                |_| -> anyhow::Result<()> {
                    let mut floor = 0u64;
                    for &op in &ops {
                        if ctx.cancelled() {
                            break;
                        }
                        ctx.out.progress(&format!(
                            "membarrier: {} with {k} {pl_name} thread(s)",
                            op.name()
                        ));
                        let budget = if op == Op::Barrier(Cmd::Global) {
                            slow
                        } else {
                            fast
                        };
                        let h =
                            sample(&ctx.clock, budget, &ctx.cancel, || op.call()).map_err(|e| {
                                anyhow::anyhow!(
                                    "{} failed after {} samples: {}",
                                    op.name(),
                                    e.after_samples,
                                    e.error
                                )
                            })?;
                        let summary = Summary::of(&h);
                        let p50 = summary.p50;
                        if op == Op::Floor {
                            floor = p50.max(1);
                        }
                        let mut derived = BTreeMap::new();
                        derived.insert("x_floor".to_string(), p50 as f64 / floor.max(1) as f64);
                        if k == 0 && op == Op::Barrier(Cmd::PrivateExpedited) {
                            let n = ctx.profile.pick(3_000, 30_000, 200_000, 500_000);
                            let plain = plain_loop_ns(n, || {
                                let _ = mb::call(Cmd::PrivateExpedited);
                            });
                            derived.insert("plain_loop_ns".into(), plain);
                            derived.insert("ratio_to_plain_loop".into(), p50 as f64 / plain);
                            overhead = Some(
                                json!({"plain_loop_ns": plain, "kobench_p50_ns": p50, "ratio": p50 as f64 / plain, "timer_overhead_subtracted": true}),
                            );
                        }
                        p50s.insert((op.name(), k, pl_name), p50);
                        let mut params = BTreeMap::new();
                        params.insert("command".to_string(), json!(op.name()));
                        params.insert("threads".to_string(), json!(k));
                        params.insert("placement".to_string(), json!(pl_name));
                        params.insert("caller_cpu".to_string(), json!(caller));
                        params.insert("worker_cpus".to_string(), json!(&others[..k]));
                        if let Op::RseqOnCpu(c) = op {
                            params.insert("target_cpu".to_string(), json!(c));
                        }
                        ctx.out.measurement(Measurement {
                            id: format!("membarrier/{}/{}/{}", op.name(), pl_name, k),
                            unit: "ns".into(),
                            smaller_is_better: true,
                            params,
                            summary,
                            derived,
                        });
                    }
                    Ok(())
                },
            )?;
            measured?;
        }
    }
    if let Some(o) = overhead {
        ctx.out.data("harness_overhead", o);
    }
    // Placement control: PRIVATE_EXPEDITED with one spinning vs one idle worker.
    let pe = Cmd::PrivateExpedited.name().to_string();
    if let (Some(&alone), Some(&spin), Some(&idle)) = (
        p50s.get(&(pe.clone(), 0, "none")),
        p50s.get(&(pe.clone(), 1, "spin")),
        p50s.get(&(pe, 1, "idle")),
    ) {
        ctx.out.data("placement_effect", json!({"private_expedited_p50_ns": {"alone": alone, "one_spinning": spin, "one_idle": idle}, "spin_over_alone": spin as f64 / alone.max(1) as f64, "idle_over_alone": idle as f64 / alone.max(1) as f64}));
    }
    Ok(p50s)
}

fn cost_verdicts(p50s: &P50s, reg: &RegistrationCost, mask: i64) -> Vec<Verdict> {
    let mut v = Vec::new();
    let get = |c: Cmd| p50s.get(&(c.name().to_string(), 0, "none")).copied();
    let has = |c: Cmd| mask & c.raw() as i64 != 0;
    if !has(Cmd::Global) || !has(Cmd::GlobalExpedited) {
        v.push(Verdict::skip(
            "MB-COST-GLOBAL",
            "GLOBAL / GLOBAL_EXPEDITED p50",
            "GLOBAL or GLOBAL_EXPEDITED not in the QUERY mask",
        ));
    } else {
        match (get(Cmd::Global), get(Cmd::GlobalExpedited)) {
            (Some(g), Some(ge)) => {
                let ratio = g as f64 / ge.max(1) as f64;
                v.push(Verdict::check(
                    "MB-COST-GLOBAL",
                    "GLOBAL / GLOBAL_EXPEDITED p50, caller alone",
                    ratio > 1.0,
                    "ratio > 1",
                    format!("{g} ns / {ge} ns = {ratio:.1}"),
                ));
            }
            _ => v.push(Verdict::skip(
                "MB-COST-GLOBAL",
                "GLOBAL / GLOBAL_EXPEDITED p50",
                "not measured (interrupted)",
            )),
        }
    }
    let single = median(&reg.single_ns.iter().map(|&x| x as f64).collect::<Vec<_>>());
    let threaded = median(
        &reg.threaded_ns
            .iter()
            .map(|&x| x as f64)
            .collect::<Vec<_>>(),
    );
    match (single, threaded, get(Cmd::PrivateExpedited)) {
        (Some(s), Some(t), Some(call)) => {
            v.push(Verdict::check("MB-REG-COST", "registration is measured and a one-time cost: per-call p50 below the registration with threads", (call as f64) < t, "PRIVATE_EXPEDITED p50 < REGISTER_PRIVATE_EXPEDITED with threads", format!("register: {:.1} µs single-threaded, {:.1} µs with threads (median of {}); per call p50 {call} ns", s / 1e3, t / 1e3, reg.single_ns.len())));
        }
        _ => v.push(Verdict::skip(
            "MB-REG-COST",
            "registration cost",
            "not measured (interrupted or PRIVATE_EXPEDITED unsupported)",
        )),
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_counts_sweep_powers_of_two_and_all() {
        assert_eq!(thread_counts(0), vec![0]);
        assert_eq!(thread_counts(1), vec![0, 1]);
        assert_eq!(thread_counts(3), vec![0, 1, 2, 3]);
        assert_eq!(thread_counts(15), vec![0, 1, 2, 4, 8, 15]);
        assert_eq!(thread_counts(16), vec![0, 1, 2, 4, 8, 16]);
    }

    #[test]
    fn cost_verdicts_from_synthetic_p50s() {
        let mut p = P50s::new();
        p.insert(("GLOBAL".into(), 0, "none"), 10_000_000);
        p.insert(("GLOBAL_EXPEDITED".into(), 0, "none"), 400);
        p.insert(("PRIVATE_EXPEDITED".into(), 0, "none"), 300);
        let reg = RegistrationCost {
            single_ns: vec![1000, 1200, 1100],
            threaded_ns: vec![5_000_000, 6_000_000, 7_000_000],
        };
        let v = cost_verdicts(&p, &reg, 0x3ff);
        assert_eq!(v.len(), 2);
        assert!(
            v.iter()
                .all(|v| v.outcome == kobench_harness::Outcome::Pass),
            "{v:?}"
        );
        p.insert(("GLOBAL".into(), 0, "none"), 300);
        let v = cost_verdicts(&p, &reg, 0x3ff);
        assert_eq!(v[0].outcome, kobench_harness::Outcome::Fail);
        assert_eq!(
            cost_verdicts(&p, &reg, 0)[0].outcome,
            kobench_harness::Outcome::Skip
        );
    }
}
