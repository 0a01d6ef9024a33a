//! `kobench compare`, `report` and `export` on result files (synthetic and real).

use assert_cmd::Command;
use kobench_reports::fixtures;
use predicates::prelude::*;
use std::path::{Path, PathBuf};

fn kobench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kobench"))
}

fn write(dir: &Path, name: &str, r: &kobench_harness::schema::RunResult) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec_pretty(r).unwrap()).unwrap();
    p
}

#[test]
fn compare_exit_codes_follow_regressions_and_strictness() {
    let d = tempfile::tempdir().unwrap();
    let base = fixtures::run("m1", 0);
    let b = write(d.path(), "base.json", &base);
    let same = write(d.path(), "same.json", &base);
    let slow = write(
        d.path(),
        "slow.json",
        &fixtures::scaled(&base, "membarrier/GLOBAL/spin/1", 1.2),
    );
    let md = d.path().join("summary.md");
    kobench()
        .args(["compare"])
        .arg(&b)
        .arg(&same)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "metrics: 0 regressed, 0 improved, 18 unchanged",
        ));
    kobench()
        .args(["compare"])
        .arg(&b)
        .arg(&slow)
        .arg("--markdown")
        .arg(&md)
        .assert()
        .code(1)
        .stdout(
            predicate::str::contains("membarrier/GLOBAL/spin/1")
                .and(predicate::str::contains("REGRESSED")),
        );
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.contains("**1 regression(s).**"), "{text}");
    assert!(text.contains("| `membarrier/GLOBAL/spin/1` |"));
    // With a 25 % threshold for GLOBAL, its +20 % is within bounds.
    kobench()
        .args(["compare"])
        .arg(&b)
        .arg(&slow)
        .args(["--metric-threshold", "membarrier/GLOBAL*=25%"])
        .assert()
        .code(0);
    // Another machine: warning, or exit 3 with --strict.
    let mut other = base.clone();
    other.fingerprint.hostname = "m9".into();
    let o = write(d.path(), "other.json", &other);
    kobench()
        .args(["compare"])
        .arg(&b)
        .arg(&o)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "warning: different machine (hostname): base m1, new m9",
        ));
    kobench()
        .args(["compare", "--strict"])
        .arg(&b)
        .arg(&o)
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "--strict: the results are not comparable",
        ));
    kobench()
        .args(["compare", "--threshold", "lots"])
        .arg(&b)
        .arg(&o)
        .assert()
        .code(2);
}

#[test]
fn bad_inputs_are_one_line_errors_naming_the_file() {
    let d = tempfile::tempdir().unwrap();
    let good = write(d.path(), "good.json", &fixtures::run("m1", 0));
    let text = std::fs::read_to_string(&good).unwrap();
    let cases = [
        (
            "cut.json",
            text[..text.len() / 3].to_string(),
            "truncated JSON",
        ),
        ("bad.json", "{not json".to_string(), "not valid JSON"),
        ("empty.json", String::new(), "empty file"),
        (
            "foreign.json",
            "[{\"name\": \"x\", \"unit\": \"ns\", \"value\": 1}]".to_string(),
            "not a kobench result file",
        ),
        (
            "future.json",
            text.replacen("\"schema_version\": 1", "\"schema_version\": 9", 1),
            "schema_version 9 is not supported",
        ),
    ];
    for (name, body, want) in cases {
        let p = d.path().join(name);
        std::fs::write(&p, body).unwrap();
        let out = kobench()
            .args(["compare"])
            .arg(&good)
            .arg(&p)
            .assert()
            .code(3)
            .get_output()
            .stderr
            .clone();
        let err = String::from_utf8(out).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(&p.display().to_string()) && err.contains(want),
            "{name}: {err}"
        );
        kobench()
            .args(["export", "--format", "bmf"])
            .arg(&p)
            .assert()
            .code(3);
    }
    kobench()
        .args(["report", "-o"])
        .arg(d.path().join("r"))
        .arg(d.path().join("missing.json"))
        .assert()
        .code(3)
        .stderr(predicate::str::contains("missing.json: cannot read"));
}

#[test]
fn report_and_exports_from_files() {
    let d = tempfile::tempdir().unwrap();
    let a = write(d.path(), "a.json", &fixtures::run("m1", 0));
    let b = write(d.path(), "b.json", &fixtures::run("m2", 0));
    let out = d.path().join("out");
    kobench()
        .arg("report")
        .arg(&a)
        .arg(&b)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(0);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("Rule verdicts") && !html.contains("<script"));
    assert!(std::fs::read_to_string(out.join("report.md"))
        .unwrap()
        .contains("| MB-REG | pass 1 | pass 1 |"));
    let bmf = kobench()
        .args(["export", "--format", "bmf"])
        .arg(&a)
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&bmf).unwrap();
    assert!(
        v["membarrier/PRIVATE_EXPEDITED/spin/1"]["latency"]["value"]
            .as_f64()
            .unwrap()
            > 10_000.0
    );
    let f = d.path().join("gab.json");
    kobench()
        .args([
            "export",
            "--format",
            "github-action-benchmark",
            "--direction",
            "bigger",
            "-o",
        ])
        .arg(&f)
        .arg(&a)
        .assert()
        .code(0);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 9);
    assert!(v
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["unit"] == "GiB/s" && e["value"].is_number() && e["name"].is_string()));
}

#[test]
fn repeat_runs_feed_compare() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("rep");
    kobench()
        .args([
            "run",
            "--profile",
            "smoke",
            "--only",
            "membarrier",
            "--cpus",
            "0",
            "--repeat",
            "3",
            "--out",
        ])
        .arg(&dir)
        .assert()
        .code(0);
    for i in 1..=3 {
        let r =
            kobench_harness::schema::load(&dir.join(format!("repeat-0{i}/results.json"))).unwrap();
        assert_eq!(r.repeat, Some((i - 1, 3)));
    }
    // A directory against itself: every metric tested on 3×3 run p50s, nothing moves.
    kobench()
        .arg("compare")
        .arg(&dir)
        .arg(&dir)
        .assert()
        .code(0)
        .stdout(
            predicate::str::contains("U, 3×3 runs").and(predicate::str::contains(" 0 regressed")),
        );
    kobench()
        .args([
            "run",
            "--repeat",
            "2",
            "--json",
            "x.json",
            "--only",
            "membarrier",
        ])
        .assert()
        .code(2);
}
