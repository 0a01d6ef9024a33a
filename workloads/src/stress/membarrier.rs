//! membarrier callers of every command on every CPU, with worker affinity changed under
//! load (fault: the worker must end up on its new CPU; every call must still return 0).

use super::{StressCtx, Stressor};
use kobench_harness::pool::with_workers;
use kobench_harness::stats::new_histogram;
use kobench_harness::sys::membarrier::{self as mb, Cmd};
use kobench_harness::sys::process::{current_cpu, gettid, set_affinity};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub struct MembarrierStress;

const CMDS: [Cmd; 4] = [
    Cmd::PrivateExpedited,
    Cmd::PrivateExpeditedSyncCore,
    Cmd::PrivateExpeditedRseq,
    Cmd::GlobalExpedited,
];

impl Stressor for MembarrierStress {
    fn name(&self) -> &'static str {
        "membarrier"
    }
    fn op(&self) -> &'static str {
        "one membarrier() call (PRIVATE_EXPEDITED, SYNC_CORE, RSEQ, RSEQ+FLAG_CPU, GLOBAL_EXPEDITED in turn; GLOBAL every 4096th call on the first worker)"
    }
    fn rule(&self) -> &'static str {
        "MB-REG"
    }

    fn run(&self, ctx: &StressCtx) -> anyhow::Result<()> {
        let mask = mb::query().unwrap_or(0);
        for c in CMDS {
            if mask & c.raw() as i64 != 0 {
                if let Some(r) = c.registration() {
                    mb::call(r).map_err(|e| anyhow::anyhow!("{}: {e}", r.name()))?;
                }
            }
        }
        let cmds: Vec<Cmd> = CMDS
            .into_iter()
            .filter(|c| mask & c.raw() as i64 != 0)
            .collect();
        let n = ctx.cpus.len();
        let tids: Vec<AtomicI64> = (0..n).map(|_| AtomicI64::new(0)).collect();
        let seen_cpu: Vec<AtomicU64> = (0..n).map(|_| AtomicU64::new(u64::MAX)).collect();
        // Bumped each time a worker records its CPU (every 16 calls).
        let reports: Vec<AtomicU64> = (0..n).map(|_| AtomicU64::new(0)).collect();
        let cpus = ctx.cpus.clone();
        ctx.stats.set_at("membarrier callers running");
        with_workers(
            &cpus,
            Duration::from_secs(10),
            &|w| {
                tids[w.index].store(gettid() as i64, Ordering::Relaxed);
                let mut h = new_histogram();
                let mut i = 0u64;
                let mut batch = 0u64;
                while !ctx.should_stop() {
                    let k = (i % (cmds.len() as u64 + 1)) as usize;
                    let t = Instant::now();
                    let r =
                        if w.index == 0 && i % 4096 == 4095 && mask & Cmd::Global.raw() as i64 != 0
                        {
                            mb::call(Cmd::Global)
                        } else if k == cmds.len() {
                            mb::rseq_on_cpu(cpus[(i as usize / 7) % cpus.len()] as i32)
                        } else {
                            mb::call(cmds[k])
                        };
                    let _ = h.record(t.elapsed().as_nanos() as u64);
                    if let Err(e) = r {
                        ctx.stats.error(&e.name(), false);
                    }
                    i += 1;
                    batch += 1;
                    if batch == 256 {
                        ctx.tick(batch);
                        batch = 0;
                        if let Ok(c) = current_cpu() {
                            seen_cpu[w.index].store(c as u64, Ordering::Relaxed);
                        }
                    }
                }
                ctx.tick(batch);
                ctx.stats.latency(&h);
            },
            |_| {
                // Fault: move a worker to another CPU under load, every ~250 ms.
                let mut k = 0usize;
                while !ctx.should_stop() {
                    std::thread::sleep(Duration::from_millis(250));
                    if n < 2 || ctx.should_stop() {
                        continue;
                    }
                    let w = k % n;
                    let to = cpus[(w + 1 + k / n) % n];
                    k += 1;
                    let tid = tids[w].load(Ordering::Relaxed) as i32;
                    if set_affinity(tid, &[to]).is_err() {
                        ctx.stats
                            .fault("worker affinity changed under load", 1, 0, 1);
                        continue;
                    }
                    // Expected effect: once the worker has run again, it runs on `to`.
                    // Not timed: a worker inside a slow call (GLOBAL can take seconds on a
                    // loaded machine) migrates when it next runs. Seeing it report from
                    // another CPU twice after the change is the unexpected effect.
                    let r0 = reports[w].load(Ordering::Acquire);
                    let t = Instant::now();
                    let mut outcome = None;
                    while outcome.is_none()
                        && !ctx.should_stop()
                        && t.elapsed() < Duration::from_secs(120)
                    {
                        if seen_cpu[w].load(Ordering::Relaxed) == to as u64 {
                            outcome = Some(true);
                        } else if reports[w].load(Ordering::Acquire) >= r0 + 3 {
                            outcome = Some(seen_cpu[w].load(Ordering::Relaxed) == to as u64);
                        } else {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                    }
                    let Some(ok) = outcome else { continue };
                    ctx.stats.fault(
                        "worker affinity changed under load",
                        1,
                        ok as u64,
                        (!ok) as u64,
                    );
                    if !ok {
                        ctx.stats.violation(format!(
                            "worker {w} still reports CPU {} after being moved to CPU {to}",
                            seen_cpu[w].load(Ordering::Relaxed)
                        ));
                    }
                }
            },
        )?;
        Ok(())
    }
}
