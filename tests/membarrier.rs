//! The membarrier workload in its smoke configuration: verdicts and errno values.

use kobench_harness::schema::Outcome;
use kobench_workloads::{Context, Workload};
use std::path::PathBuf;

fn run_smoke() -> kobench_workloads::context::Gathered {
    let ctx = Context::for_tests(PathBuf::from(env!("CARGO_BIN_EXE_kobench")), None);
    kobench_workloads::membarrier::Membarrier
        .run(&ctx)
        .expect("membarrier workload runs");
    ctx.out.snapshot()
}

fn is_root() -> bool {
    kobench_harness::sys::process::euid() == 0
}

#[test]
fn membarrier_rules_hold_with_their_errnos() {
    let g = run_smoke();
    let v = &g.verdicts;
    let fails: Vec<_> = v.iter().filter(|v| v.outcome == Outcome::Fail).collect();
    assert!(fails.is_empty(), "failed verdicts: {fails:#?}");
    let find = |check: &str| {
        v.iter().find(|x| x.check == check).unwrap_or_else(|| {
            panic!(
                "no verdict '{check}' in {:#?}",
                v.iter().map(|x| &x.check).collect::<Vec<_>>()
            )
        })
    };
    let pe = find("PRIVATE_EXPEDITED before registration (single-threaded)");
    assert_eq!((pe.outcome, pe.observed.as_str()), (Outcome::Pass, "EPERM"));
    let after = find("PRIVATE_EXPEDITED after registration");
    assert_eq!(after.observed, "0");
    assert_eq!(find("unknown command 1<<10").observed, "EINVAL");
    assert_eq!(find("unknown command -1").observed, "EINVAL");
    assert_eq!(
        find("PRIVATE_EXPEDITED (unregistered) with FLAG_CPU: flags checked before registration")
            .observed,
        "EINVAL"
    );
    assert_eq!(
        find("fork child: PRIVATE_EXPEDITED (registration inherited)").observed,
        "0"
    );
    assert_eq!(
        find("after exec: PRIVATE_EXPEDITED (registration cleared)").observed,
        "EPERM"
    );
    assert_eq!(
        find("PRIVATE_EXPEDITED_SYNC_CORE still refused: one registration does not enable another")
            .observed,
        "EPERM"
    );
    assert_eq!(
        find("RSEQ + FLAG_CPU at an out-of-range cpu_id (1000000)").observed,
        "0"
    );
    assert_eq!(
        find("GLOBAL_EXPEDITED sent unregistered (registration is for receivers)").observed,
        "0"
    );
    // Every rule the issue names has at least one verdict, and all pass (or skip with a reason).
    for rule in [
        "MB-QUERY",
        "MB-FLAGS",
        "MB-UNPRIV",
        "MB-REG",
        "MB-REG-COST",
        "MB-COST-GLOBAL",
    ] {
        let of: Vec<_> = v.iter().filter(|x| x.rule == rule).collect();
        assert!(!of.is_empty(), "no verdict for {rule}");
        for x in of {
            match x.outcome {
                Outcome::Pass => {}
                Outcome::Skip => assert!(!x.note.is_empty(), "{rule} skipped without a reason"),
                o => panic!("{rule}: {o:?} {x:?}"),
            }
        }
    }
    let unpriv: Vec<_> = v.iter().filter(|x| x.rule == "MB-UNPRIV").collect();
    if is_root() {
        assert!(
            unpriv.len() > 5 && unpriv.iter().all(|x| x.outcome == Outcome::Pass),
            "{unpriv:#?}"
        );
    } else {
        assert_eq!(unpriv.len(), 1);
        assert_eq!(unpriv[0].outcome, Outcome::Skip);
        assert!(unpriv[0].note.contains("not root"));
    }
}

#[test]
fn latency_matrix_covers_every_command_and_placement() {
    let g = run_smoke();
    let ids: Vec<&str> = g.measurements.iter().map(|m| m.id.as_str()).collect();
    for id in [
        "membarrier/getppid/none/0",
        "membarrier/PRIVATE_EXPEDITED/none/0",
        "membarrier/PRIVATE_EXPEDITED_SYNC_CORE/none/0",
        "membarrier/PRIVATE_EXPEDITED_RSEQ/none/0",
        "membarrier/PRIVATE_EXPEDITED_RSEQ_CPU/none/0",
        "membarrier/GLOBAL_EXPEDITED/none/0",
        "membarrier/GLOBAL/none/0",
    ] {
        assert!(ids.contains(&id), "missing {id} in {ids:?}");
    }
    let cpus = kobench_harness::cpus::CpuSet::discover(None).unwrap().len();
    if cpus > 1 {
        for pl in ["spin", "idle"] {
            let id = format!("membarrier/PRIVATE_EXPEDITED/{pl}/1");
            assert!(ids.contains(&id.as_str()), "missing {id}");
        }
    }
    for m in &g.measurements {
        let s = &m.summary;
        assert!(s.count > 0, "{}", m.id);
        assert!(
            s.min <= s.p50
                && s.p50 <= s.p90
                && s.p90 <= s.p99
                && s.p99 <= s.p999
                && s.p999 <= s.max,
            "{}: {s:?}",
            m.id
        );
        let h = s.decode().expect("histogram embedded");
        assert_eq!(h.len(), s.count);
        assert!(m.derived.contains_key("x_floor"));
    }
    let o = &g.data["harness_overhead"];
    assert!(o["plain_loop_ns"].as_f64().unwrap() > 0.0);
    assert!(o["kobench_p50_ns"].as_u64().unwrap() > 0);
}
