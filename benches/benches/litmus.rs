//! Detection power of the litmus engine: SB's positive control (no fence) on two CPUs.
//! Criterion reports instances per second (throughput in elements); the relaxed rate and
//! relaxed outcomes per second are printed after the run (`litmus/SB+compilers: ...`).
//! The goal on the 2-vCPU reference VM: at least 8,000 relaxed outcomes per second
//! (litmus7 reaches about 4,300/s there with its timebase barrier).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kobench_harness::cpus::CpuSet;
use kobench_harness::litmus::{self, engine, Config};
use kobench_harness::timer::Clock;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

fn bench(c: &mut Criterion) {
    let cpus = CpuSet::discover(None).expect("CPU set");
    let ids = cpus.ids();
    let Some(&a) = ids.first() else { return };
    let Some(b) = cpus.distinct_core_from(a).or_else(|| ids.get(1).copied()) else {
        eprintln!("litmus bench skipped: needs 2 CPUs");
        return;
    };
    let (clock, _) = Clock::calibrate(Duration::from_millis(50));
    let cancel = AtomicBool::new(false);
    let mut g = c.benchmark_group("litmus");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for name in ["SB+compilers", "MP+swapped", "SB+mb-private-expedited"] {
        let test = litmus::find(name).expect("known test");
        let cfg = Config::new(vec![a, b], 4096, Duration::from_secs(60));
        g.throughput(Throughput::Elements(cfg.batch as u64));
        let (mut positive, mut total, mut secs) = (0u64, 0u64, 0f64);
        engine::register_for(&test).expect("membarrier registration");
        g.bench_function(name, |bch| {
            bch.iter_custom(|iters| {
                let mut cfg = cfg.clone();
                cfg.iterations = iters * cfg.batch as u64;
                let t = Instant::now();
                let counts =
                    engine::run_in_process(&test, &cfg, &clock, &cancel).expect("litmus run");
                let el = t.elapsed();
                positive += counts.positive;
                total += counts.total;
                secs += el.as_secs_f64();
                el
            })
        });
        eprintln!("litmus/{name}: {total} instances, {positive} positive ({:.3} %), {:.0} outcomes/s, {:.0} positive/s", 100.0 * positive as f64 / total.max(1) as f64, total as f64 / secs, positive as f64 / secs);
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
