//! Stress mode: faults and their expected effects, the watchdog, Ctrl-C, kill -9, bad input.

use assert_cmd::Command;
use kobench_harness::schema::{load, WorkloadStatus};
use predicates::prelude::*;
use std::path::Path;
use std::time::{Duration, Instant};

fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_kobench")
}

fn children_of(pid: u32) -> Vec<i32> {
    kobench_harness::sys::process::children(pid as i32)
}

fn alive(pid: i32) -> bool {
    // A zombie has no cmdline left; a live process does.
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| !c.is_empty())
        .unwrap_or(false)
}

fn wait_exit(child: &mut std::process::Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let t = Instant::now();
    while t.elapsed() < limit {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn bad_input_gets_one_line_and_exit_2() {
    for (args, needle) in [
        (vec!["--duration", "0s"], "more than zero"),
        (vec!["--duration", "-1m"], "negative"),
        (vec!["--duration", "10x"], "unknown unit 'x'"),
        (vec!["--duration", "10"], "missing unit"),
        (
            vec!["--workloads", "nope"],
            "unknown stress workload 'nope'",
        ),
        (vec!["--cpus", "99"], "CPU 99"),
        (vec!["--interval", "0s"], "more than zero"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(exe())
            .arg("stress")
            .args(&args)
            .arg("--out")
            .arg(dir.path().join("o"))
            .assert()
            .code(2)
            .stderr(predicate::str::contains(needle))
            .get_output()
            .clone();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(!dir.path().join("o/results.json").exists());
    }
}

#[test]
fn faults_show_only_their_expected_effects() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    Command::new(exe())
        .args(["stress", "--duration", "4s", "--interval", "1s", "--out"])
        .arg(&out)
        .timeout(Duration::from_secs(60))
        .assert()
        .code(0)
        .stderr(predicate::str::contains("membarrier"));
    let r = load(&out.join("results.json")).unwrap();
    assert!(!r.partial);
    let get = |n: &str| {
        r.workloads
            .iter()
            .find(|w| w.name == n)
            .unwrap_or_else(|| panic!("no {n}"))
    };
    for name in [
        "stress-membarrier",
        "stress-ordering",
        "stress-process_vm",
        "stress-kcmp",
    ] {
        let w = get(name);
        assert_eq!(w.status, WorkloadStatus::Completed, "{name}: {}", w.note);
        assert!(w.data["ops"].as_u64().unwrap() > 0, "{name} did nothing");
        assert_eq!(
            w.data["violations"].as_u64(),
            Some(0),
            "{name}: {:?}",
            w.data["violation_examples"]
        );
        assert_eq!(
            w.data["errors_unexpected"].as_object().map(|m| m.len()),
            Some(0),
            "{name}: {:?}",
            w.data["errors_unexpected"]
        );
    }
    let faults = |n: &str| get(n).data["faults"].clone();
    let cpus = r.cpus.len();
    let mut expected = vec![
        ("stress-process_vm", "target killed mid-transfer"),
        ("stress-process_vm", "target stopped and continued"),
        (
            "stress-process_vm",
            "remote range dropped (MADV_DONTNEED) while read",
        ),
        ("stress-kcmp", "target exec'd: registration gone (EPERM)"),
    ];
    if cpus > 1 {
        expected.push(("stress-membarrier", "worker affinity changed under load"));
    }
    for (w, f) in expected {
        let c = &faults(w)[f];
        assert!(
            c["injected"].as_u64().unwrap_or(0) > 0,
            "{w}/{f} never injected: {c}"
        );
        assert!(
            c["expected_effect"].as_u64().unwrap_or(0) > 0,
            "{w}/{f}: expected effect never seen: {c}"
        );
        assert_eq!(c["unexpected_effect"].as_u64(), Some(0), "{w}/{f}: {c}");
    }
    // ESRCH from killed targets is counted as expected, not as an error.
    assert!(
        get("stress-kcmp").data["errors_expected"]["ESRCH"]
            .as_u64()
            .unwrap_or(0)
            > 0
    );
    let rss = &get("stress-monitor").data["rss_kib"];
    assert!(rss.as_array().unwrap().len() >= 2);
}

#[test]
fn watchdog_reports_a_hung_stressor_and_the_others_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    Command::new(exe())
        .env("KOBENCH_TEST_STRESSORS", "1")
        .args([
            "stress",
            "--duration",
            "8s",
            "--stall",
            "3",
            "--workloads",
            "test-hang,membarrier",
            "--out",
        ])
        .arg(&out)
        .timeout(Duration::from_secs(60))
        .assert()
        .code(1);
    let r = load(&out.join("results.json")).unwrap();
    let hang = r
        .workloads
        .iter()
        .find(|w| w.name == "stress-test-hang")
        .unwrap();
    assert_eq!(hang.status, WorkloadStatus::TimedOut);
    assert!(hang.note.contains("sleeping forever"), "{}", hang.note);
    let mb = r
        .workloads
        .iter()
        .find(|w| w.name == "stress-membarrier")
        .unwrap();
    assert_eq!(mb.status, WorkloadStatus::Completed);
    assert!(mb.data["ops"].as_u64().unwrap() > 1000);
}

fn start_stress(out: &Path) -> std::process::Child {
    std::process::Command::new(exe())
        .args(["stress", "--duration", "10m", "--out"])
        .arg(out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_for_children(pid: u32) -> Vec<i32> {
    let t = Instant::now();
    loop {
        let c = children_of(pid);
        if c.len() >= 2 || t.elapsed() > Duration::from_secs(20) {
            return c;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ctrl_c_saves_a_partial_result_and_leaves_no_child() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let mut child = start_stress(&out);
    let kids = wait_for_children(child.id());
    assert!(!kids.is_empty(), "stress started no helper process");
    std::thread::sleep(Duration::from_millis(500));
    kobench_harness::sys::process::kill(child.id() as i32, libc::SIGINT).unwrap();
    let status = wait_exit(&mut child, Duration::from_secs(20))
        .expect("kobench stress did not stop after SIGINT");
    assert_eq!(status.code(), Some(130));
    let r = load(&out.join("results.json")).unwrap();
    assert!(r.partial);
    assert!(r
        .workloads
        .iter()
        .any(|w| w.status == WorkloadStatus::Interrupted));
    let t = Instant::now();
    while kids.iter().any(|&p| alive(p)) && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(kids.iter().all(|&p| !alive(p)), "children left: {kids:?}");
}

#[test]
fn kill_9_leaves_no_child() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = start_stress(&dir.path().join("r"));
    let kids = wait_for_children(child.id());
    assert!(!kids.is_empty());
    child.kill().unwrap();
    child.wait().unwrap();
    let t = Instant::now();
    while kids.iter().any(|&p| alive(p)) && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        kids.iter().all(|&p| !alive(p)),
        "children left after kill -9: {kids:?}"
    );
}
