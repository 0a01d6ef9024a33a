//! The Kobicha access gates against this kernel: the scenario matrix as root, the
//! mutation check (flipped dominance fails exactly the rows it should), the non-root
//! path (every realised scenario skips), and `kobench gates` / `kobench run --only gates`.

use kobench_harness::gates::Dominance;
use kobench_harness::schema::{Outcome, RunResult};
use kobench_workloads::context::Context;
use kobench_workloads::gates::{
    evaluate, observe, request_for, scenarios, GateEnv, Gates, Observation, Observed, Row, UID_A,
    UID_B,
};
use kobench_workloads::Workload;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;

/// The tests here run processes as the scenario uids and count them: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn ctx() -> Context {
    Context::for_tests(PathBuf::from(env!("CARGO_BIN_EXE_kobench")), None)
}

fn root() -> bool {
    kobench_harness::sys::process::euid() == 0
}

/// Processes that run as one of the scenario uids right now.
fn scenario_processes() -> Vec<String> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if !name.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let Ok(s) = std::fs::read_to_string(e.path().join("status")) else {
            continue;
        };
        let uid_line = s.lines().find(|l| l.starts_with("Uid:")).unwrap_or("");
        if uid_line
            .split_whitespace()
            .skip(1)
            .any(|u| u == UID_A.to_string() || u == UID_B.to_string())
        {
            v.push(format!("{name}: {uid_line}"));
        }
    }
    v
}

/// The rows that flipping dominance must break: the expressible ones whose SD grants and
/// whose levels differ (with equal levels, or an SD that denies anyway, the direction of
/// dominance does not change the decision; n/a and info rows are not gated).
const FLIPPED_FAILS: [&str; 11] = [
    "kcmp-t1/sd-grant/L2 vs L1",
    "kcmp-t1/sd-grant/L1 vs L2",
    "kcmp-t2/sd-grant/L2 vs L1",
    "kcmp-t2/sd-grant/L1 vs L2",
    "readv/sd-grant/L2 vs L1",
    "readv/sd-grant/L1 vs L2",
    "writev/sd-grant/L2 vs L1",
    "writev/sd-grant/L1 vs L2",
    "kcmp-both/sd-grant+sd-grant/L2 vs L1,L2",
    "kcmp-both/sd-grant+sd-grant/L1 vs L2,L1",
    "kcmp-both/sd-grant+sd-grant/L1 vs L1,L2",
];

#[test]
fn matrix_as_root_passes_and_flipped_dominance_fails_exactly_the_right_rows() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let env = GateEnv::probe();
    if !env.root {
        eprintln!(
            "skip: not root (euid {}): the gate scenarios need chosen credentials",
            env.euid
        );
        return;
    }
    let ctx = ctx();
    let s = scenarios();
    let obs = observe(&ctx, &s, &env);
    let rows: Vec<Row> = s
        .iter()
        .zip(&obs)
        .map(|(s, o)| evaluate(s, o, Dominance::Normal, &env))
        .collect();
    assert!(rows.len() >= 24, "{} rows", rows.len());

    let mut checked = 0;
    for (r, o) in rows.iter().zip(&obs) {
        let v = &r.verdict;
        match o {
            Observation::Inexpressible(reason) => {
                assert_eq!(v.outcome, Outcome::NotApplicable, "{}", r.scenario.id);
                assert!(
                    reason.contains("cannot be built") && v.note.contains(reason.as_str()),
                    "{}: {}",
                    r.scenario.id,
                    v.note
                );
            }
            Observation::Skipped(why) => panic!("{} skipped as root: {why}", r.scenario.id),
            Observation::Seen(ob) => {
                assert!(ob.error.is_none(), "{}: {:?}", r.scenario.id, ob.error);
                // Every process's credentials were verified before the call.
                let procs = 1 + r.scenario.t1.is_some() as usize + r.scenario.t2.is_some() as usize;
                assert_eq!(
                    ob.verified.len(),
                    procs,
                    "{}: {:?}",
                    r.scenario.id,
                    ob.verified
                );
                assert!(
                    ob.verified.iter().all(|v| v.contains("uid 6100")),
                    "{:?}",
                    ob.verified
                );
                let res = ob.result.clone().expect("a result");
                if r.scenario.ptrace_override {
                    assert_eq!(v.outcome, Outcome::Info, "{}", r.scenario.id);
                    assert!(
                        res.is_ok(),
                        "{}: CAP_SYS_PTRACE did not override: {res:?}",
                        r.scenario.id
                    );
                    continue;
                }
                // Yama 2/3 cannot realise an allowed process_vm call; every other row is gated.
                if v.outcome == Outcome::Skip {
                    assert!(
                        env.yama.is_some_and(|y| y >= 2) && r.scenario.op.is_pvm(),
                        "{}",
                        r.scenario.id
                    );
                    continue;
                }
                assert_eq!(
                    v.outcome,
                    Outcome::Pass,
                    "{}: expected {} observed {}",
                    r.scenario.id,
                    r.expected,
                    r.observed
                );
                if r.model.is_allow() {
                    let n = res.unwrap();
                    if r.scenario.op.is_pvm() {
                        assert_eq!(n, 8, "{}", r.scenario.id);
                        assert_eq!(ob.data_ok, Some(true), "{}", r.scenario.id);
                    } else {
                        assert!(
                            n == 1 || n == 2,
                            "{}: kcmp of two processes' VM returned {n}",
                            r.scenario.id
                        );
                    }
                } else {
                    assert_eq!(res, Err("EPERM".to_string()), "{}", r.scenario.id);
                }
                checked += 1;
            }
        }
    }
    let na = rows
        .iter()
        .filter(|r| r.verdict.outcome == Outcome::NotApplicable)
        .count();
    assert_eq!(na, 8);
    assert!(checked >= 40, "only {checked} gated rows");
    // Both answers occur, for every rule.
    for rule in ["KCMP-GATE", "PVM-READ-GATE", "PVM-WRITE-GATE"] {
        let gated: Vec<&Row> = rows
            .iter()
            .filter(|r| r.verdict.rule == rule && r.verdict.outcome == Outcome::Pass)
            .collect();
        assert!(
            gated.iter().any(|r| r.model.is_allow()) && gated.iter().any(|r| !r.model.is_allow()),
            "{rule}"
        );
    }

    // The mutation check: the same observations, judged by a model whose dominance points
    // the wrong way.
    let flipped: BTreeSet<String> = s
        .iter()
        .zip(&obs)
        .map(|(s, o)| evaluate(s, o, Dominance::FlippedForMutationTest, &env))
        .filter(|r| r.verdict.outcome == Outcome::Fail)
        .map(|r| r.scenario.id)
        .collect();
    let want: BTreeSet<String> = FLIPPED_FAILS.iter().map(|s| s.to_string()).collect();
    if env.yama.is_some_and(|y| y >= 2) {
        // Allowed process_vm rows are skipped there, so the flipped readv/writev rows that
        // the model now allows cannot fail either.
        assert!(flipped.is_subset(&want));
    } else {
        assert_eq!(flipped, want);
    }

    assert_eq!(
        scenario_processes(),
        Vec::<String>::new(),
        "scenario processes left running"
    );
}

#[test]
fn workload_records_matrix_verdicts_and_gate_cost() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ctx = ctx();
    Gates.run(&ctx).unwrap();
    let g = ctx.out.snapshot();
    let m = &g.data["matrix"];
    assert_eq!(m["kind"], "table");
    let rows = m["rows"].as_array().unwrap();
    assert!(rows.len() >= 24);
    let cols: Vec<&str> = m["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for c in [
        "scenario",
        "expected",
        "Linux realisation",
        "observed",
        "verdict",
    ] {
        assert!(cols.contains(&c), "{c}");
    }
    // One verdict per row plus the Yama info.
    assert_eq!(g.verdicts.len(), rows.len() + 1);
    assert!(g.data.contains_key("yama_ptrace_scope"));
    let count = |o: Outcome| g.verdicts.iter().filter(|v| v.outcome == o).count();
    assert_eq!(count(Outcome::NotApplicable), 8);
    assert_eq!(
        count(Outcome::Fail),
        0,
        "{:#?}",
        g.verdicts
            .iter()
            .filter(|v| v.outcome == Outcome::Fail)
            .collect::<Vec<_>>()
    );
    if root() {
        assert!(count(Outcome::Pass) >= 40);
        // Allowed / denied-by-SD / denied-by-PIP latency for kcmp (one and two targets), readv, writev.
        let ids: BTreeSet<&str> = g.measurements.iter().map(|m| m.id.as_str()).collect();
        for op in ["kcmp-t1", "kcmp-both", "readv", "writev"] {
            for v in ["allowed", "denied-sd", "denied-pip"] {
                assert!(
                    ids.contains(format!("gates/{op}/{v}").as_str()),
                    "{op}/{v}: {ids:?}"
                );
            }
        }
        for m in &g.measurements {
            assert!(m.summary.count > 0 && m.summary.p50 > 0, "{}", m.id);
            assert_eq!(m.unit, "ns");
            assert_eq!(
                m.derived.contains_key("ratio_to_allowed"),
                !m.id.ends_with("/allowed"),
                "{}",
                m.id
            );
        }
    } else {
        assert_eq!(count(Outcome::Skip), rows.len() - 8);
    }
    assert_eq!(
        scenario_processes(),
        Vec::<String>::new(),
        "scenario processes left running"
    );
}

#[test]
fn gates_command_as_nobody_completes_with_skips() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !root() {
        eprintln!("skip: switching to uid 65534 needs root");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    // The built binary may sit under a 0700 directory: copy it where nobody can run it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let exe = dir.path().join("kobench");
    std::fs::copy(env!("CARGO_BIN_EXE_kobench"), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = dir.path().join("out");
    let o = std::process::Command::new(&exe)
        .args(["gates", "--profile", "smoke", "--out"])
        .arg(&out)
        .current_dir(dir.path())
        .env_remove("KOBENCH_HELPER_EXE")
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stderr.contains("not root (euid 65534)"), "{stderr}");
    assert!(
        stdout.contains("SKIP") && stdout.contains("N/A"),
        "{stdout}"
    );
    let r: RunResult = kobench_harness::schema::load(&out.join("results.json")).unwrap();
    assert_eq!(r.command, "gates");
    let count = |o: Outcome| r.verdicts().filter(|(_, v)| v.outcome == o).count();
    let rows = scenarios().len();
    assert_eq!(count(Outcome::Skip), rows - 8);
    assert_eq!(count(Outcome::NotApplicable), 8);
    assert_eq!(count(Outcome::Pass) + count(Outcome::Fail), 0);
    assert!(r.measurements().next().is_none());
}

#[test]
fn run_only_gates_and_gates_command_write_results() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_kobench"))
        .args(["run", "--only", "gates", "--profile", "smoke", "--out"])
        .arg(&out)
        .assert()
        .success()
        .stdout(predicates::str::contains("KCMP-GATE"));
    let r = kobench_harness::schema::load(&out.join("results.json")).unwrap();
    assert_eq!(r.workloads.len(), 1);
    assert_eq!(r.workloads[0].name, "gates");
    assert!(
        r.workloads[0].data["matrix"]["rows"]
            .as_array()
            .unwrap()
            .len()
            >= 24
    );
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("PVM-WRITE-GATE"), "{summary}");

    let out = dir.path().join("gates");
    let json = dir.path().join("g.json");
    let a = assert_cmd::Command::new(env!("CARGO_BIN_EXE_kobench"))
        .args(["gates", "--profile", "smoke", "--out"])
        .arg(&out)
        .arg("--json")
        .arg(&json)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&a.get_output().stdout).to_string();
    for col in [
        "scenario",
        "expected",
        "observed",
        "verdict",
        "readv/sd-grant/L2 vs L1",
        "kcmp-both/sd-grant+sd-grant/L1 vs L2,L1",
    ] {
        assert!(stdout.contains(col), "{col} missing:\n{stdout}");
    }
    let r = kobench_harness::schema::load(&json).unwrap();
    assert_eq!(r.command, "gates");
    assert!(!r.partial);
    assert!(out.join("summary.md").exists());
}

#[test]
fn helper_that_cannot_take_credentials_reports_an_error_never_a_pass() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !root() {
        eprintln!("skip: starting the helper as uid 65534 needs root");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    // The helper itself runs unprivileged here, so its children cannot take the
    // scenario's uid and capability sets.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let exe = dir.path().join("kobench");
    std::fs::copy(env!("CARGO_BIN_EXE_kobench"), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = std::process::Command::new(&exe);
    cmd.args(["__helper", "gates", "-1"]).uid(65534).gid(65534);
    let mut h = kobench_harness::child::Helper::spawn_command(cmd, "gates").unwrap();
    let s = scenarios();
    let sc = s
        .iter()
        .find(|x| x.id == "readv/sd-grant/L2 vs L1")
        .unwrap();
    let line = serde_json::to_string(&request_for(sc, (10, 10))).unwrap();
    let ob: Observed = h
        .request(&line, std::time::Duration::from_secs(20))
        .unwrap();
    let err = ob.error.clone().expect("an error");
    assert!(
        err.contains("target1 could not take uid 61001 gid 61001"),
        "{err}"
    );
    assert!(err.contains("EPERM"), "{err}");
    assert!(ob.result.is_none() && ob.cost.is_none());
    let env = GateEnv {
        root: true,
        euid: 0,
        yama: None,
    };
    let row = evaluate(sc, &Observation::Seen(ob), Dominance::Normal, &env);
    assert_eq!(row.verdict.outcome, Outcome::Fail);
    assert!(
        row.observed.starts_with("ERROR: target1 could not take"),
        "{}",
        row.observed
    );
    assert!(
        row.verdict.note.contains("not checked"),
        "{}",
        row.verdict.note
    );
    drop(h);
    assert_eq!(
        scenario_processes(),
        Vec::<String>::new(),
        "scenario processes left running"
    );
}
