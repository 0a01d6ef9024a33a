//! membarrier benches: each barrier alone and with one spinning thread, the getppid floor,
//! and kobench's own measuring path next to a plain loop of the same syscall.
//!
//! `cargo bench --bench membarrier`. Registration happens once, before any worker exists.

use criterion::{criterion_group, criterion_main, Criterion};
use kobench_harness::cpus::CpuSet;
use kobench_harness::pool::{pin_current, with_workers, Placement};
use kobench_harness::sample::{sample, Budget};
use kobench_harness::sys::membarrier::{self as mb, Cmd};
use kobench_harness::sys::process::getppid_raw;
use kobench_harness::timer::Clock;
use std::hint::black_box;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

fn register_all() {
    for c in [
        Cmd::RegisterPrivateExpedited,
        Cmd::RegisterPrivateExpeditedSyncCore,
        Cmd::RegisterGlobalExpedited,
    ] {
        mb::call(c).unwrap_or_else(|e| panic!("{}: {e}", c.name()));
    }
}

fn barriers(c: &mut Criterion) {
    register_all();
    let cpus = CpuSet::discover(None).expect("CPU set").ids();
    pin_current(cpus[0]).expect("pin the caller");
    let mut g = c.benchmark_group("membarrier");
    g.bench_function("getppid_floor", |b| b.iter(|| black_box(getppid_raw())));
    g.bench_function("private_expedited/0_threads", |b| {
        b.iter(|| mb::call(Cmd::PrivateExpedited).unwrap())
    });
    g.bench_function("sync_core/0_threads", |b| {
        b.iter(|| mb::call(Cmd::PrivateExpeditedSyncCore).unwrap())
    });
    g.bench_function("global_expedited/0_threads", |b| {
        b.iter(|| mb::call(Cmd::GlobalExpedited).unwrap())
    });
    if cpus.len() > 1 {
        with_workers(
            &cpus[1..2],
            Duration::from_secs(10),
            &|w| w.run_placement(Placement::Spin),
            |_| {
                g.bench_function("private_expedited/1_spinning", |b| {
                    b.iter(|| mb::call(Cmd::PrivateExpedited).unwrap())
                });
                g.bench_function("sync_core/1_spinning", |b| {
                    b.iter(|| mb::call(Cmd::PrivateExpeditedSyncCore).unwrap())
                });
                g.bench_function("global_expedited/1_spinning", |b| {
                    b.iter(|| mb::call(Cmd::GlobalExpedited).unwrap())
                });
            },
        )
        .expect("spinning worker");
    }
    g.finish();
}

/// kobench's per-call path vs a plain loop, same syscall, same run. `kobench_p50` reports
/// the p50 kobench records (timer overhead subtracted) as the per-iteration time, so its
/// figure compares directly with `plain_loop`; `kobench_wall` is the wall time of the
/// measuring loop itself (two clock reads and a histogram record per call);
/// `plain_loop_median_batch` is the plain loop timed in 21 batches, median batch mean (the
/// figure `kobench run` stores as `harness_overhead.plain_loop_ns`).
fn overhead(c: &mut Criterion) {
    register_all();
    let cpus = CpuSet::discover(None).expect("CPU set").ids();
    pin_current(cpus[0]).expect("pin the caller");
    let (clock, cal) = Clock::calibrate(Duration::from_millis(50));
    eprintln!(
        "timer: {:?}, overhead {:.1} ns, resolution {:.1} ns",
        cal.source, cal.overhead_ns, cal.resolution_ns
    );
    let never = AtomicBool::new(false);
    let mut g = c.benchmark_group("harness_overhead");
    g.bench_function("plain_loop", |b| {
        b.iter(|| mb::call(Cmd::PrivateExpedited).unwrap())
    });
    g.bench_function("plain_loop_median_batch", |b| {
        b.iter_custom(|iters| {
            let ns = kobench_harness::sample::plain_loop_ns(iters.max(21), || {
                let _ = mb::call(Cmd::PrivateExpedited);
            });
            Duration::from_nanos((ns * iters as f64) as u64)
        })
    });
    let budget = |iters: u64| Budget {
        warmup: 0,
        max_samples: iters,
        min_samples: iters,
        max_time: Duration::from_secs(3600),
    };
    g.bench_function("kobench_p50", |b| {
        b.iter_custom(|iters| {
            let h = sample(&clock, budget(iters), &never, || {
                mb::call(Cmd::PrivateExpedited).map(|_| ())
            })
            .unwrap();
            Duration::from_nanos(h.value_at_quantile(0.5) * iters)
        })
    });
    g.bench_function("kobench_wall", |b| {
        b.iter_custom(|iters| {
            let t = std::time::Instant::now();
            let h = sample(&clock, budget(iters), &never, || {
                mb::call(Cmd::PrivateExpedited).map(|_| ())
            })
            .unwrap();
            black_box(h);
            t.elapsed()
        })
    });
    g.finish();
}

/// GLOBAL costs ~10 ms a call: few samples, flat sampling.
fn global(c: &mut Criterion) {
    let mut g = c.benchmark_group("membarrier_global");
    g.sample_size(10)
        .sampling_mode(criterion::SamplingMode::Flat)
        .measurement_time(Duration::from_secs(3));
    g.bench_function("global", |b| b.iter(|| mb::call(Cmd::Global).unwrap()));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = barriers, overhead, global
}
criterion_main!(benches);
