//! Ordering tests that run continuously beside the other loads, on the litmus engine:
//! store buffering and message passing with the fast side holding only a compiler
//! barrier and the slow side calling membarrier (each expedited command in turn). Any
//! instance showing the forbidden outcome is a violation (MB-ORDER-PRIVATE).

use super::{StressCtx, Stressor};
use kobench_harness::litmus::catalog;
use kobench_harness::litmus::engine::{register_for, run_in_process, Config, LitmusError};
use kobench_harness::timer::Clock;
use std::time::Duration;

pub struct OrderingStress;

/// The variants cycled through, all expected Never.
const TESTS: [&str; 6] = [
    "SB+mb-private-expedited",
    "MP+mb-private-expedited",
    "SB+mb-private-expedited-sync-core",
    "SB+mb-private-expedited-rseq",
    "SB+mb-global-expedited",
    "MP+mb-global-expedited",
];

impl Stressor for OrderingStress {
    fn name(&self) -> &'static str {
        "ordering"
    }
    fn op(&self) -> &'static str {
        "one litmus instance (SB or MP; fast side compiler barrier, slow side membarrier)"
    }
    fn rule(&self) -> &'static str {
        "MB-ORDER-PRIVATE"
    }

    fn run(&self, ctx: &StressCtx) -> anyhow::Result<()> {
        if ctx.cpus.len() < 2 {
            ctx.stats.set_at("idle: the ordering tests need two CPUs");
            while !ctx.should_stop() {
                ctx.tick(0);
                std::thread::sleep(Duration::from_millis(50));
            }
            return Ok(());
        }
        let tests: Vec<_> = TESTS.iter().filter_map(|n| catalog::find(n)).collect();
        anyhow::ensure!(
            !tests.is_empty(),
            "no ordering test found in the litmus catalogue"
        );
        for t in &tests {
            register_for(t).map_err(|e| anyhow::anyhow!("registering for {}: {e}", t.name))?;
        }
        let (clock, _) = Clock::calibrate(Duration::from_millis(10));
        let cpus = vec![ctx.cpus[0], ctx.cpus[ctx.cpus.len() - 1]];
        let mut round = 0usize;
        while !ctx.should_stop() {
            let t = &tests[round % tests.len()];
            round += 1;
            ctx.stats
                .set_at(&format!("litmus {} (round {round})", t.name));
            let cfg = Config::new(cpus.clone(), 1 << 20, Duration::from_millis(500));
            let c = match run_in_process(t, &cfg, &clock, &ctx.stop) {
                Ok(c) => c,
                // A side preempted for seconds on an overloaded machine: the round is
                // void (no outcome was judged), which is an expected effect of stress.
                Err(e @ (LitmusError::FollowerTimeout { .. } | LitmusError::LeaderGone(_))) => {
                    let _ = e;
                    ctx.stats
                        .error("litmus round void: a side was preempted for seconds", true);
                    ctx.tick(0);
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            ctx.tick(c.total);
            if c.positive > 0 {
                for _ in 0..c.positive.min(20) {
                    ctx.stats.violation(format!(
                        "{}: forbidden outcome in {} of {} instances",
                        t.name, c.positive, c.total
                    ));
                }
                if c.positive > 20 {
                    ctx.stats
                        .violations
                        .fetch_add(c.positive - 20, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
        Ok(())
    }
}
