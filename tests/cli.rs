//! The CLI: bad input gets one line and a documented exit code; a run writes a result
//! that parses back into the schema.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;

fn kobench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kobench"))
}

/// Runs `kobench run ARGS --out DIR` and asserts a usage-class failure with one line.
fn bad(args: &[&str], code: i32, needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let assert = kobench()
        .arg("run")
        .args(args)
        .arg("--out")
        .arg(&out)
        .arg("--profile")
        .arg("smoke")
        .assert()
        .code(code)
        .stderr(predicate::str::contains(needle))
        .stderr(predicate::str::contains("panicked").not());
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert_eq!(stderr.trim().lines().count(), 1, "not one line: {stderr}");
    assert!(
        !out.join("results.json").exists(),
        "a result file was written for bad input"
    );
}

#[test]
fn bad_cpu_lists_name_the_problem() {
    bad(&["--cpus", "99"], 2, "CPU 99");
    bad(&["--cpus", "3-1"], 2, "3-1");
    bad(&["--cpus", "a"], 2, "'a'");
    bad(&["--cpus", ""], 2, "empty");
}

#[test]
fn bad_profile_and_workload() {
    bad(&["--profile", "nope"], 2, "nope");
    bad(&["--only", "nope"], 2, "unknown workload 'nope'");
    bad(&["--bogus-flag"], 2, "--bogus-flag");
    bad(&["--set", "bogus=1"], 2, "unknown key 'bogus'");
    bad(
        &["--set", "process_vm.verify=abc"],
        2,
        "'abc' is not a switch",
    );
    bad(&["--set", "nokey"], 2, "not KEY=VALUE");
}

#[test]
fn unwritable_out_is_an_io_error() {
    kobench()
        .args(["run", "--profile", "smoke", "--out", "/proc/kobench/nope"])
        .assert()
        .code(3)
        .stderr(predicate::str::starts_with(
            "kobench: error: cannot write results to /proc/kobench/nope",
        ))
        .stderr(predicate::str::contains("panicked").not());
}

fn load(p: &Path) -> kobench_harness::schema::RunResult {
    kobench_harness::schema::load(p).expect("result parses back into the schema")
}

#[test]
fn smoke_run_writes_a_result_that_parses_back() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    kobench()
        .args(["run", "--profile", "smoke", "--only", "membarrier", "--out"])
        .arg(&out)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "membarrier/PRIVATE_EXPEDITED/none/0",
        ))
        .stdout(predicate::str::contains("MB-REG"));
    let r = load(&out.join("results.json"));
    assert_eq!(r.schema_version, kobench_harness::schema::SCHEMA_VERSION);
    assert!(!r.partial);
    assert_eq!(r.profile, "smoke");
    assert_eq!(r.workloads.len(), 1);
    assert_eq!(r.workloads[0].name, "membarrier");
    assert!(r.timer.overhead_ns > 0.0);
    assert!(r.ended_at.is_some());
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(md.contains("| MB-QUERY |"));
    // Re-serialising gives the same value (round trip through the schema).
    let text = std::fs::read_to_string(out.join("results.json")).unwrap();
    let again = serde_json::to_value(&r).unwrap();
    assert_eq!(
        again,
        serde_json::from_str::<serde_json::Value>(&text).unwrap()
    );
}

#[test]
fn json_dash_prints_the_result_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let out = kobench()
        .args([
            "run",
            "--profile",
            "smoke",
            "--only",
            "membarrier",
            "--json",
            "-",
            "--cpus",
            "0",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let r =
        kobench_harness::schema::parse(&String::from_utf8_lossy(&out.stdout), "stdout").unwrap();
    assert_eq!(r.cpus.ids(), vec![0]);
}

#[test]
fn info_commands() {
    kobench()
        .args(["rules"])
        .assert()
        .success()
        .stdout(predicate::str::contains("MB-SYNC-CORE"))
        .stdout(predicate::str::contains("PVM-ARGS"));
    kobench()
        .args(["list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("membarrier"));
    let out = kobench().args(["env", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["cpus_online"].as_u64().unwrap() >= 1);
    assert!(v["rustc"].as_str().unwrap().starts_with("rustc"));
}

#[test]
fn ctrl_c_keeps_a_partial_result() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kobench"))
        .args([
            "run",
            "--profile",
            "standard",
            "--only",
            "membarrier",
            "--out",
        ])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the first save (the run is under way), then interrupt.
    let t = std::time::Instant::now();
    while t.elapsed() < std::time::Duration::from_secs(20) && !out.exists() {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    kobench_harness::sys::process::kill(child.id() as i32, libc::SIGINT).unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            panic!("kobench did not stop after SIGINT");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130));
    let r = load(&out.join("results.json"));
    assert!(r.partial);
    assert_eq!(
        r.workloads[0].status,
        kobench_harness::schema::WorkloadStatus::Interrupted
    );
}

#[test]
fn unprivileged_user_gets_skips_and_passes() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    if kobench_harness::sys::process::euid() != 0 {
        eprintln!("skip: needs root to run kobench as another user");
        return;
    }
    // Copy the binary where uid 65534 may execute it (the checkout may be private).
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let exe = dir.path().join("kobench");
    std::fs::copy(env!("CARGO_BIN_EXE_kobench"), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = dir.path().join("r");
    let status = std::process::Command::new(&exe)
        .args(["run", "--profile", "smoke", "--only", "membarrier", "--out"])
        .arg(&out)
        .current_dir(dir.path())
        .uid(65534)
        .gid(65534)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let r = load(&out.join("results.json"));
    let unpriv: Vec<_> = r
        .verdicts()
        .filter(|(_, v)| v.rule == "MB-UNPRIV")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(unpriv.len(), 1);
    assert_eq!(unpriv[0].outcome, kobench_harness::schema::Outcome::Skip);
    assert!(unpriv[0].note.contains("not root"));
    assert!(r
        .verdicts()
        .all(|(_, v)| v.outcome != kobench_harness::schema::Outcome::Fail));
    assert!(
        r.verdicts()
            .filter(|(_, v)| v.outcome == kobench_harness::schema::Outcome::Pass)
            .count()
            > 30
    );
}
