//! An asymmetric store-buffering check that runs continuously beside the other loads:
//! the fast side has only a compiler barrier, the slow side calls membarrier
//! PRIVATE_EXPEDITED. The outcome r_fast = 0 and r_slow = 0 is forbidden (MB-ORDER-PRIVATE).

use super::{StressCtx, Stressor};
use crossbeam::utils::Backoff;
use kobench_harness::pool::with_workers;
use kobench_harness::sys::membarrier::{self as mb, Cmd};
use std::sync::atomic::{compiler_fence, AtomicU64, Ordering};
use std::time::Duration;

pub struct OrderingStress;

#[repr(align(128))]
struct Line(AtomicU64);

impl Stressor for OrderingStress {
    fn name(&self) -> &'static str {
        "ordering"
    }
    fn op(&self) -> &'static str {
        "one store-buffering iteration (fast side compiler barrier, slow side membarrier PRIVATE_EXPEDITED)"
    }
    fn rule(&self) -> &'static str {
        "MB-ORDER-PRIVATE"
    }

    fn run(&self, ctx: &StressCtx) -> anyhow::Result<()> {
        if ctx.cpus.len() < 2 {
            ctx.stats.set_at("skipped: needs two CPUs");
            while !ctx.should_stop() {
                ctx.tick(0);
                std::thread::sleep(Duration::from_millis(50));
            }
            return Ok(());
        }
        mb::call(Cmd::RegisterPrivateExpedited)
            .map_err(|e| anyhow::anyhow!("REGISTER_PRIVATE_EXPEDITED: {e}"))?;
        let (x, y) = (Line(AtomicU64::new(0)), Line(AtomicU64::new(0)));
        // Per-iteration handshake: the slow side publishes iteration i (odd = go), both
        // sides run, each reports done; results land in r_fast / r_slow.
        let go = Line(AtomicU64::new(0));
        let fast_done = Line(AtomicU64::new(0));
        let r_fast = Line(AtomicU64::new(0));
        let cpus = [ctx.cpus[ctx.cpus.len() - 1], ctx.cpus[0]];
        ctx.stats
            .set_at("store buffering with membarrier on the slow side");
        with_workers(
            &cpus,
            Duration::from_secs(10),
            &|w| {
                let mut iter = 0u64;
                if w.index == 0 {
                    // Fast side: plain store, compiler barrier, plain load.
                    loop {
                        let mut g;
                        let backoff = Backoff::new();
                        loop {
                            g = go.0.load(Ordering::Acquire);
                            if g > iter || ctx.should_stop() {
                                break;
                            }
                            backoff.snooze();
                        }
                        if ctx.should_stop() {
                            return;
                        }
                        iter = g;
                        x.0.store(1, Ordering::Relaxed);
                        compiler_fence(Ordering::SeqCst);
                        let r = y.0.load(Ordering::Relaxed);
                        r_fast.0.store(r, Ordering::Relaxed);
                        fast_done.0.store(iter, Ordering::Release);
                    }
                } else {
                    let mut batch = 0;
                    while !ctx.should_stop() {
                        x.0.store(0, Ordering::Relaxed);
                        y.0.store(0, Ordering::Relaxed);
                        iter += 1;
                        go.0.store(iter, Ordering::Release);
                        y.0.store(1, Ordering::Relaxed);
                        let barrier = mb::call(Cmd::PrivateExpedited);
                        let r_slow = x.0.load(Ordering::Relaxed);
                        let backoff = Backoff::new();
                        while fast_done.0.load(Ordering::Acquire) < iter {
                            if ctx.should_stop() {
                                return;
                            }
                            backoff.snooze();
                        }
                        if let Err(e) = barrier {
                            ctx.stats.error(&e.name(), false);
                        } else if r_fast.0.load(Ordering::Relaxed) == 0 && r_slow == 0 {
                            ctx.stats.violation(format!(
                                "iteration {iter}: r_fast=0 and r_slow=0 after membarrier"
                            ));
                        }
                        batch += 1;
                        if batch == 64 {
                            ctx.tick(batch);
                            batch = 0;
                        }
                    }
                    ctx.tick(batch);
                }
            },
            |_| {
                while !ctx.should_stop() {
                    std::thread::sleep(Duration::from_millis(20));
                }
            },
        )?;
        Ok(())
    }
}
