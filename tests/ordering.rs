//! The ordering workload's engine end to end: the SB positive control sees the relaxed
//! outcome, membarrier variants never show the forbidden one, the mutation (barrier
//! omitted, Never still expected) comes out `fail`, and `kobench litmus` refuses bad input.

use assert_cmd::Command;
use kobench_harness::litmus::{self, Config, Counts};
use kobench_harness::schema::Outcome;
use kobench_workloads::context::Context;
use kobench_workloads::ordering;
use std::path::PathBuf;
use std::time::Duration;

fn ctx() -> Context {
    Context::for_tests(PathBuf::from(env!("CARGO_BIN_EXE_kobench")), None)
}

/// Two CPUs on distinct cores, or None (the test then skips, saying why).
fn two_cpus(ctx: &Context) -> Option<Vec<usize>> {
    let c = ordering::pick_cpus(ctx);
    if c.is_none() {
        eprintln!(
            "skip: litmus tests need 2 CPUs, this machine allows {}",
            ctx.cpus.len()
        );
    }
    c
}

fn run(ctx: &Context, name: &str, cpus: &[usize], iterations: u64) -> Counts {
    let t = litmus::find(name).unwrap();
    let mut cfg: Config = ordering::config_for(&t, cpus.to_vec(), ctx.profile);
    cfg.iterations = iterations;
    cfg.time_budget = Duration::from_secs(20);
    ordering::run_test(&t, &cfg, &ctx.clock, &ctx.helper_exe, &ctx.cancel).unwrap()
}

#[test]
fn sb_positive_control_counts_relaxed_outcomes() {
    let ctx = ctx();
    let Some(cpus) = two_cpus(&ctx) else { return };
    // About 5 % relaxed here; 200k instances leave the chance of seeing none negligible
    // even if a loaded machine cuts the overlap a hundredfold.
    let c = run(&ctx, "SB+compilers", &cpus, 200_000);
    assert!(c.total >= 200_000, "{c:?}");
    assert!(
        c.positive > 0,
        "SB positive control saw no relaxed outcome in {}",
        c.total
    );
    assert_eq!(c.states.iter().map(|s| s.1).sum::<u64>(), c.total);
    let t = litmus::find("SB+compilers").unwrap();
    assert_eq!(ordering::verdict_for(&t, &c, None).outcome, Outcome::Pass);
}

#[test]
fn membarrier_variants_never_show_the_forbidden_outcome() {
    let ctx = ctx();
    let Some(cpus) = two_cpus(&ctx) else { return };
    for name in [
        "SB+mb-private-expedited",
        "MP+mb-private-expedited",
        "SB+xproc+mb-global-expedited",
    ] {
        let c = run(&ctx, name, &cpus, 40_960);
        assert_eq!(c.total, 40_960, "{name}");
        assert_eq!(
            c.positive, 0,
            "{name}: forbidden outcome seen: {:?}",
            c.states
        );
        assert_eq!(
            c.barrier_calls, 40_960,
            "{name}: one membarrier per instance"
        );
    }
}

#[test]
fn mutation_without_the_barrier_comes_out_fail() {
    let ctx = ctx();
    let Some(cpus) = two_cpus(&ctx) else { return };
    let t = litmus::find("SB+mutation").unwrap();
    assert!(t.test_only);
    let c = run(&ctx, "SB+mutation", &cpus, 200_000);
    assert_eq!(c.barrier_calls, 0, "the mutation issues no barrier");
    let control = run(&ctx, "SB+compilers", &cpus, 40_960);
    let v = ordering::verdict_for(&t, &c, Some(&control));
    assert_eq!(v.outcome, Outcome::Fail, "{v:?}");
    assert!(v.note.contains("forbidden outcome seen"), "{}", v.note);
}

#[test]
fn workload_smoke_run_has_tables_and_no_failures() {
    let ctx = ctx();
    let Some(_) = two_cpus(&ctx) else { return };
    kobench_workloads::Workload::run(&ordering::OrderingWorkload, &ctx).unwrap();
    let g = ctx.out.snapshot();
    let fails: Vec<_> = g
        .verdicts
        .iter()
        .filter(|v| v.outcome == Outcome::Fail)
        .collect();
    assert!(fails.is_empty(), "{fails:#?}");
    for key in ["tests", "rates", "outcomes", "break_even"] {
        assert!(g.data.contains_key(key), "missing data {key}");
    }
    assert_eq!(g.data["rates"]["kind"], "table");
    let mb = g
        .verdicts
        .iter()
        .filter(|v| v.rule == "MB-ORDER-PRIVATE" && v.check.contains("membarrier("))
        .count();
    assert!(mb >= 10, "SB and MP for every supported command: {mb}");
    assert!(g.verdicts.iter().any(|v| v.rule == "MB-ORDER-GLOBAL"));
}

fn kobench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kobench"))
}

#[test]
fn cli_refuses_bad_names_and_iteration_counts() {
    let out = kobench().args(["litmus", "SB+nonsense"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("unknown litmus test 'SB+nonsense'"), "{err}");
    for (n, why) in [
        ("0", "at least 1"),
        ("-3", "positive"),
        ("ten", "not a whole number"),
        ("1000000000000", "too large"),
    ] {
        let out = kobench()
            .args(["litmus", "SB", "--iterations", n])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{n}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(why), "{n}: {err}");
    }
    let out = kobench().args(["litmus"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = kobench().args(["litmus", "--list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let list = String::from_utf8_lossy(&out.stdout);
    for name in [
        "SB+mb-global-expedited",
        "MP+xproc+mb-global",
        "SB+mutation",
    ] {
        assert!(list.contains(name), "{list}");
    }
}
