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
        "one kcmp() call (VM, FILES, FS, SIGHAND against a churning fork/exec child, or against a reaped one)"
    }
    fn rule(&self) -> &'static str {
        "KCMP-EQ"
    }

    fn run(&self, ctx: &StressCtx) -> anyhow::Result<()> {
        let me = getpid();
        let mut h = new_histogram();
        let mut n = 0u64;
        ctx.stats.set_at("fork/exec churn with kcmp");
        while !ctx.should_stop() {
            n += 1;
            if n % 50 == 1 {
                // Fault: a target that registered and then exec'd.
                ctx.stats.set_at("exec'ing a registered target");
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
                ctx.stats.set_at("fork/exec churn with kcmp");
            }
            let mut child = Helper::spawn(&ctx.helper_exe, "stress-churn-child", &[])?;
            let pid: i32 = child.recv(Duration::from_secs(10))?;
            for _ in 0..16 {
                for ty in [
                    KcmpType::Vm,
                    KcmpType::Files,
                    KcmpType::Fs,
                    KcmpType::Sighand,
                ] {
                    let t = Instant::now();
                    let r = kcmp(me, pid, ty, 0, 0);
                    let _ = h.record(t.elapsed().as_nanos() as u64);
                    match r {
                        Ok(1) | Ok(2) => {}
                        Ok(0) if ty == KcmpType::Fs => {}
                        Ok(v) => ctx.stats.violation(format!("kcmp(kobench, child, {}) = {v}: a fork/exec child shares nothing but maybe FS", ty.name())),
                        Err(e) => ctx.stats.error(&e.name(), false),
                    }
                    let same = kcmp(pid, pid, ty, 0, 0);
                    if same != Ok(0) {
                        ctx.stats.violation(format!(
                            "kcmp(child, child, {}) = {same:?}, expected 0",
                            ty.name()
                        ));
                    }
                }
                ctx.tick(8);
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
}
