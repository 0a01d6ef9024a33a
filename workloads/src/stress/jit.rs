//! The JIT swapper under load: rounds of SYNC_CORE code swaps (dual mapping, one
//! executor per other CPU) while the other stressors hammer the machine. A violation is an
//! executor that ran code older than the generation it saw published (MB-SYNC-CORE), or
//! a code buffer that was writable and executable at one address.

use super::{StressCtx, Stressor};
use kobench_harness::jit::engine::{self, Barrier, Config, Order};
use kobench_harness::sys::code::Layout;
use kobench_harness::sys::membarrier::{self as mb, Cmd};
use kobench_harness::timer::Clock;
use std::time::Duration;

pub struct JitStress;

/// Swaps per round (each round is one engine run with fresh executors).
const SWAPS_PER_ROUND: u64 = 20_000;

impl Stressor for JitStress {
    fn name(&self) -> &'static str {
        "jit"
    }
    fn op(&self) -> &'static str {
        "one code swap: write the next generation through the RW view, membarrier PRIVATE_EXPEDITED_SYNC_CORE, publish"
    }
    fn rule(&self) -> &'static str {
        "MB-SYNC-CORE"
    }

    fn run(&self, ctx: &StressCtx) -> anyhow::Result<()> {
        mb::call(Cmd::RegisterPrivateExpeditedSyncCore)
            .map_err(|e| anyhow::anyhow!("REGISTER_PRIVATE_EXPEDITED_SYNC_CORE: {e}"))?;
        let (clock, _) = Clock::calibrate(Duration::from_millis(10));
        let swapper = ctx.cpus[0];
        // With one CPU the executor shares it with the swapper.
        let executors = if ctx.cpus.len() > 1 {
            ctx.cpus[1..].to_vec()
        } else {
            ctx.cpus.clone()
        };
        let mut round = 0u64;
        while !ctx.should_stop() {
            round += 1;
            ctx.stats.set_at(&format!("jit round {round}: swapping"));
            let cfg = Config {
                layout: Layout::Dual,
                barrier: Barrier::SyncCore,
                order: Order::WriteFirst,
                swapper_cpu: swapper,
                executor_cpus: executors.clone(),
                slots: 256,
                barrier_alone: 0,
                swaps: SWAPS_PER_ROUND,
                propagation: 0,
                max_time: Duration::from_secs(2),
            };
            let rep = engine::run(&clock, &cfg, &ctx.stop)?;
            ctx.tick(rep.swaps);
            ctx.stats.latency(&rep.swap);
            let v = rep.violations();
            for _ in 0..v.min(20) {
                ctx.stats.violation(format!(
                    "round {round}: an executor ran stale code after SYNC_CORE ({:?})",
                    rep.executors.iter().find_map(|e| e.first_violation)
                ));
            }
            if v > 20 {
                ctx.stats
                    .violations
                    .fetch_add(v - 20, std::sync::atomic::Ordering::Relaxed);
            }
            if !rep.maps.ok() {
                ctx.stats.violation(format!(
                    "round {round}: code buffer writable and executable at one address: {:?}",
                    rep.maps
                ));
            }
        }
        Ok(())
    }
}
