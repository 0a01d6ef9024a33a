//! JIT swap latency: write a stub through the RW view, SYNC_CORE, publish; with one
//! executor and with executors on all CPUs but the swapper's. Each criterion iteration is
//! one swap; the time per iteration is the back-to-back swap phase of the engine (it
//! includes waiting for executors to leave a slot before it is reused, as a JIT would).
//!
//! `cargo bench -p kobench-benches --bench jit`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use kobench_harness::cpus::CpuSet;
use kobench_harness::jit::engine::{self, Barrier, Config, Order};
use kobench_harness::sys::code::Layout;
use kobench_harness::timer::Clock;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

fn swap_latency(c: &mut Criterion) {
    let cpus = CpuSet::discover(None).expect("CPU set").ids();
    if cpus.len() < 2 {
        eprintln!("jit bench skipped: needs 2 CPUs (swapper + executor)");
        return;
    }
    let (clock, _) = Clock::calibrate(Duration::from_millis(50));
    let mut counts = vec![1, cpus.len() - 1];
    counts.dedup();
    let mut g = c.benchmark_group("jit/swap/dual/sync_core");
    g.sample_size(20).measurement_time(Duration::from_secs(3));
    for k in counts {
        g.bench_function(BenchmarkId::from_parameter(format!("{k}_executors")), |b| {
            b.iter_custom(|iters| {
                let cfg = Config {
                    layout: Layout::Dual,
                    barrier: Barrier::SyncCore,
                    order: Order::WriteFirst,
                    swapper_cpu: cpus[0],
                    executor_cpus: cpus[1..=k].to_vec(),
                    slots: 4096,
                    barrier_alone: 0,
                    swaps: iters,
                    propagation: 0,
                    max_time: Duration::from_secs(60),
                };
                let r = engine::run(&clock, &cfg, &AtomicBool::new(false)).expect("engine run");
                assert_eq!(r.violations(), 0, "stale code after SYNC_CORE");
                Duration::from_nanos(r.throughput_ns)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, swap_latency);
criterion_main!(benches);
