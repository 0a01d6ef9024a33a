//! kcmp during fork/exec churn: children come and go (spawned, killed, reaped) while
//! kcmp compares them with kobench; a child that has gone gives ESRCH (expected), a live
//! fork/exec child never shares VM or FILES with kobench, and kcmp never returns 3. Fault:
//! targets that exec lose their membarrier registration (expected EPERM after exec).

use super::{StressCtx, Stressor};
use crate::helpers::reply;
use kobench_harness::child::Helper;
use kobench_harness::stats::new_histogram;
use kobench_harness::sys::kcmp::{kcmp, KcmpType};
use kobench_harness::sys::membarrier::{self as mb, Cmd};
use kobench_harness::sys::process::getpid;
use std::time::{Duration, Instant};

pub struct KcmpStress;

/// `__helper stress-churn-child`: exits when stdin closes.
pub fn helper_churn_child(_args: &[String]) -> i32 {
    reply(&std::process::id());
    let mut s = String::new();
    while std::io::stdin()
        .read_line(&mut s)
        .map(|n| n > 0)
        .unwrap_or(false)
    {
        s.clear();
    }
    0
}

/// `__helper stress-exec-reg`: registers PRIVATE_EXPEDITED, then execs `mb-after-exec`,
/// which reports what the new image may do.
pub fn helper_exec_reg(_args: &[String]) -> i32 {
    if mb::call(Cmd::RegisterPrivateExpedited).is_err() || mb::call(Cmd::PrivateExpedited).is_err()
    {
        return 1;
    }
    let mut cmd = std::process::Command::new(kobench_harness::child::helper_exe());
    cmd.args(["__helper", "mb-after-exec"]);
    let e = kobench_harness::sys::process::exec(&mut cmd);
    eprintln!("stress-exec-reg: exec failed: {e}");
    1
}

impl Stressor for KcmpStress {
    fn name(&self) -> &'static str {
        "kcmp"
    }
    fn op(&self) -> &'static str {
        "one kcmp() call (VM, FILES, FS, SIGHAND between kobench and a fork/exec child, or the child and itself; a new child every 65536 calls on each CPU)"
    }
    fn rule(&self) -> &'static str {
        "KCMP-EQ"
    }

    fn run(&self, ctx: &StressCtx) -> anyhow::Result<()> {
        ctx.stats.set_at("fork/exec churn with kcmp");
        // One churning thread per CPU; the first also runs the exec fault now and then.
        let cpus = ctx.cpus.clone();
        std::thread::scope(|s| {
            let handles: Vec<_> = cpus
                .iter()
                .enumerate()
                .map(|(i, &cpu)| s.spawn(move || churn(ctx, cpu, i == 0)))
                .collect();
            let mut first_err = Ok(());
            for h in handles {
                match h.join() {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => first_err = first_err.and(Err(e)),
                    Err(_) => {
                        first_err = first_err.and(Err(anyhow::anyhow!("churn thread panicked")))
                    }
                }
            }
            first_err
        })
    }
}

/// Calls per child: enough that kcmp, not exec, dominates the time.
const CALLS_PER_CHILD: usize = 65_536;

fn exec_fault(ctx: &StressCtx) {
    let r: Result<serde_json::Value, _> = Helper::run_once(
        &ctx.helper_exe,
        "stress-exec-reg",
        &[],
        Duration::from_secs(10),
    );
    match r {
        Ok(v) if v["private_expedited"] == "EPERM" => {
            ctx.stats
                .fault("target exec'd: registration gone (EPERM)", 1, 1, 0)
        }
        Ok(v) => {
            ctx.stats
                .fault("target exec'd: registration gone (EPERM)", 1, 0, 1);
            ctx.stats.violation(format!(
                "after exec PRIVATE_EXPEDITED gave {}",
                v["private_expedited"]
            ));
        }
        Err(e) => ctx.stats.error(&format!("helper: {e}"), false),
    }
}

fn churn(ctx: &StressCtx, cpu: usize, with_faults: bool) -> anyhow::Result<()> {
    let _ = kobench_harness::pool::pin_current(cpu);
    let me = getpid();
    let mut h = new_histogram();
    let mut n = 0u64;
    const TYPES: [KcmpType; 4] = [
        KcmpType::Vm,
        KcmpType::Files,
        KcmpType::Fs,
        KcmpType::Sighand,
    ];
    while !ctx.should_stop() {
        n += 1;
        if with_faults && n % 10 == 1 {
            exec_fault(ctx);
        }
        let mut child = Helper::spawn(&ctx.helper_exe, "stress-churn-child", &[])?;
        let pid: i32 = child.recv(Duration::from_secs(10))?;
        for k in 0..CALLS_PER_CHILD {
            if k % 256 == 0 && ctx.should_stop() {
                break;
            }
            let ty = TYPES[k % TYPES.len()];
            let (a, b) = if k % 8 < 4 { (me, pid) } else { (pid, pid) };
            // Latency sampled on one call in 32, so timing does not slow the churn.
            let r = if k % 32 == 0 {
                let t = Instant::now();
                let r = kcmp(a, b, ty, 0, 0);
                let _ = h.record(t.elapsed().as_nanos() as u64);
                r
            } else {
                kcmp(a, b, ty, 0, 0)
            };
            match (a == b, r) {
                (true, Ok(0)) | (false, Ok(1)) | (false, Ok(2)) => {}
                (false, Ok(0)) if ty == KcmpType::Fs => {}
                (_, Ok(v)) => ctx
                    .stats
                    .violation(format!("kcmp({a}, {b}, {}) = {v}", ty.name())),
                (_, Err(e)) => ctx.stats.error(&e.name(), false),
            }
            if k % 64 == 63 {
                ctx.tick(64);
            }
        }
        let _ = child.finish(Duration::from_secs(5));
        // The child is reaped: comparing with it must give ESRCH (unless the pid was reused).
        match kcmp(me, pid, KcmpType::Vm, 0, 0) {
            Err(e) if e.0 == libc::ESRCH => ctx.stats.error("ESRCH", true),
            Err(e) => ctx.stats.error(&e.name(), false),
            Ok(3) => ctx
                .stats
                .violation("kcmp returned 3 for a reused pid".into()),
            Ok(_) => {}
        }
        ctx.tick(1);
    }
    ctx.stats.latency(&h);
    Ok(())
}
