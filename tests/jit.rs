//! The jit workload: SYNC_CORE-published code swaps show no stale runs, the detector
//! catches a swapper that publishes before writing, W^X holds while the buffers are live,
//! and the cross-process steps give their verdicts.

use kobench_harness::jit::engine::{self, Barrier, Config, Order, Report};
use kobench_harness::sys::code::Layout;
use kobench_harness::timer::Clock;
use kobench_harness::Outcome;
use kobench_workloads::context::Context;
use kobench_workloads::Workload;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;
use std::time::Duration;

/// Engine runs pin threads to every CPU: run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn cpus() -> Vec<usize> {
    kobench_harness::cpus::CpuSet::discover(None).unwrap().ids()
}

fn config(
    layout: Layout,
    barrier: Barrier,
    order: Order,
    swaps: u64,
    propagation: u64,
) -> Option<Config> {
    let cpus = cpus();
    if cpus.len() < 2 {
        eprintln!("skipped: needs 2 CPUs (swapper + executor)");
        return None;
    }
    Some(Config {
        layout,
        barrier,
        order,
        swapper_cpu: cpus[0],
        executor_cpus: cpus[1..].to_vec(),
        slots: if layout == Layout::Dual { 4096 } else { 256 },
        barrier_alone: 100,
        swaps,
        propagation,
        max_time: Duration::from_secs(60),
    })
}

fn run(cfg: &Config) -> Report {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (clock, _) = Clock::calibrate(Duration::from_millis(20));
    engine::run(&clock, cfg, &AtomicBool::new(false)).expect("engine run")
}

fn assert_clean(r: &Report, swaps: u64, exec_perms: &str, write_perms: Option<&str>) {
    assert_eq!(r.stopped_early, None);
    assert_eq!(r.swaps, swaps, "every swap ran");
    assert_eq!(r.violations(), 0, "{:?}", r.executors);
    assert_eq!(r.executors.len(), r.config.executor_cpus.len());
    for (e, &cpu) in r.executors.iter().zip(&r.config.executor_cpus) {
        assert_eq!(e.cpu, cpu);
        assert!(e.calls > 0, "executor on CPU {cpu} ran");
        assert_eq!(e.first_violation, None);
        assert_eq!(
            e.last_generation, swaps,
            "every executor ran the last generation"
        );
    }
    assert_eq!(r.swap.len(), swaps);
    assert_eq!(
        r.barrier.len(),
        if r.config.barrier == Barrier::SyncCore {
            swaps
        } else {
            0
        }
    );
    assert_eq!(r.propagation.len(), r.config.propagation);
    // W^X from /proc/self/maps, read by the engine while the executors ran the buffers.
    assert_eq!(r.maps.exec_perms.as_deref(), Some(exec_perms));
    assert_eq!(r.maps.write_perms.as_deref(), write_perms);
    assert!(
        r.maps.writable_and_executable.is_empty(),
        "{:?}",
        r.maps.writable_and_executable
    );
    assert!(r.maps.ok());
}

#[test]
fn dual_mapping_with_sync_core_never_runs_stale_code() {
    let Some(cfg) = config(
        Layout::Dual,
        Barrier::SyncCore,
        Order::WriteFirst,
        3_000,
        200,
    ) else {
        return;
    };
    let r = run(&cfg);
    assert_clean(&r, 3_200, "r-xs", Some("rw-s"));
    assert_eq!(r.barrier_alone.len(), 100);
    assert!(r.throughput() > 0.0);
}

#[test]
fn mprotect_flip_with_sync_core_never_runs_stale_code() {
    let Some(cfg) = config(Layout::Flip, Barrier::SyncCore, Order::WriteFirst, 500, 50) else {
        return;
    };
    let r = run(&cfg);
    assert_clean(&r, 550, "r-xp", None);
}

#[test]
fn unbarriered_control_runs_and_reports_its_count() {
    // Without SYNC_CORE, x86 rarely shows staleness (coherent caches): the count is
    // reported, not asserted to be zero; every swap must still have run.
    let Some(cfg) = config(Layout::Dual, Barrier::None, Order::WriteFirst, 2_000, 100) else {
        return;
    };
    let r = run(&cfg);
    assert_eq!(r.swaps, 2_100);
    assert_eq!(r.barrier.len(), 0);
    assert!(r.maps.ok());
    eprintln!(
        "violations without SYNC_CORE: {} in {} swaps",
        r.violations(),
        r.swaps
    );
}

#[test]
fn mutation_publish_before_write_is_caught() {
    // The mutated swapper publishes generation g, waits until an executor has run the
    // old code under it, and only then writes: the detector must count violations.
    let Some(cfg) = config(Layout::Dual, Barrier::SyncCore, Order::PublishFirst, 20, 0) else {
        return;
    };
    let r = run(&cfg);
    assert_eq!(r.swaps, 20);
    assert!(
        r.violations() > 0,
        "publish-before-write went unnoticed: {:?}",
        r.executors
    );
    assert!(r.mutation_misses < 20);
    let (saw, ran) = r
        .executors
        .iter()
        .find_map(|e| e.first_violation)
        .expect("a first violation");
    assert!(ran < saw, "saw {saw}, ran {ran}");
}

#[test]
fn mutation_is_refused_on_the_mprotect_layout() {
    // Published early, the slot's page would be RW while an executor runs it (SIGSEGV).
    let Some(cfg) = config(Layout::Flip, Barrier::SyncCore, Order::PublishFirst, 10, 0) else {
        return;
    };
    let (clock, _) = Clock::calibrate(Duration::from_millis(20));
    let e = engine::run(&clock, &cfg, &AtomicBool::new(false)).unwrap_err();
    assert!(matches!(e, engine::EngineError::Shape), "{e}");
}

#[test]
fn workload_smoke_gives_every_verdict() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ctx = Context::for_tests(PathBuf::from(env!("CARGO_BIN_EXE_kobench")), None);
    let w = kobench_workloads::jit::Jit;
    if let Some(why) = w.unavailable(&ctx) {
        eprintln!("skipped: {why}");
        return;
    }
    w.run(&ctx).unwrap();
    let g = ctx.out.snapshot();
    let find = |check: &str| {
        g.verdicts
            .iter()
            .find(|v| v.check.contains(check))
            .unwrap_or_else(|| panic!("no verdict '{check}': {:#?}", g.verdicts))
    };
    // Registration rule in a fresh process.
    let v = find("SYNC_CORE before REGISTER_PRIVATE_EXPEDITED_SYNC_CORE");
    assert_eq!((v.outcome, v.observed.as_str()), (Outcome::Pass, "EPERM"));
    assert_eq!(find("target: SYNC_CORE after registering").observed, "0");
    // Cross-process: no forced write into RX, the RW alias takes it.
    let v = find("process_vm_writev into the target's RX code mapping");
    assert_eq!(
        (v.rule.as_str(), v.observed.as_str()),
        ("PVM-PARTIAL", "EFAULT")
    );
    assert_eq!(find("unchanged after the refused write").observed, "0");
    assert_eq!(find("into the target's RW alias").observed, "16");
    assert_eq!(
        find("runs the stub written through its RW alias").outcome,
        Outcome::Pass
    );
    assert_eq!(find("cross-process swaps").outcome, Outcome::Pass);
    // In-process (needs 2 CPUs).
    if ctx.cpus.len() >= 2 {
        for m in ["dual mapping, SYNC_CORE", "mprotect mapping, SYNC_CORE"] {
            let v = find(m);
            assert!(v.observed.starts_with("0 violations"), "{v:?}");
            assert_ne!(v.outcome, Outcome::Fail);
        }
        assert_eq!(find("positive control").outcome, Outcome::Pass);
        assert_eq!(find("W^X while swapping").outcome, Outcome::Pass);
        assert_eq!(find("negative control: dual").outcome, Outcome::Info);
        let t = &g.data["executors"];
        assert_eq!(t["kind"], "table");
        assert!(
            t["rows"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r[4].as_u64().unwrap() > 0),
            "every executor counted calls"
        );
        assert!(g
            .measurements
            .iter()
            .any(|m| m.id.starts_with("jit/swap/dual/sync_core/")));
        assert!(g
            .measurements
            .iter()
            .any(|m| m.id.starts_with("jit/propagation/dual/sync_core/")));
        assert!(g
            .measurements
            .iter()
            .any(|m| m.id.starts_with("jit/call_rate/")));
    }
    assert!(
        g.verdicts.iter().all(|v| v.outcome != Outcome::Fail),
        "{:#?}",
        g.verdicts
    );
}

#[test]
fn cli_runs_only_jit_and_writes_its_tables() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let out = assert_cmd::Command::cargo_bin("kobench")
        .unwrap()
        .args([
            "run",
            "--only",
            "jit",
            "--profile",
            "smoke",
            "--json",
            "-",
            "--out",
        ])
        .arg(dir.path())
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ws = v["workloads"].as_array().unwrap();
    assert_eq!(ws.len(), 1);
    assert_eq!(ws[0]["name"], "jit");
    assert_eq!(ws[0]["status"], "completed");
    assert!(ws[0]["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["rule"] == "MB-SYNC-CORE" && v["outcome"] == "pass"));
    if kobench_harness::cpus::CpuSet::discover(None).unwrap().len() >= 2 {
        let rows = ws[0]["data"]["outcomes"]["rows"].as_array().unwrap();
        let dual = rows
            .iter()
            .find(|r| r[0] == "dual" && r[1] == "sync_core")
            .unwrap();
        assert!(
            dual[3].as_u64().unwrap() >= 2_000,
            "smoke target swaps: {dual:?}"
        );
        assert_eq!(dual[4].as_u64(), Some(0));
    }
}
