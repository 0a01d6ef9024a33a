//! kcmp workload: a smoke run's verdicts, errno values and sharing matrix; and that no
//! helper or clone child outlives a run, a dropped helper, or a helper killed with SIGKILL.

use kobench_harness::child::Helper;
use kobench_harness::Outcome;
use kobench_workloads::context::{Context, Gathered};
use kobench_workloads::kcmp::{Family, Kcmp};
use kobench_workloads::Workload;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kobench"))
}

/// One smoke run shared by the tests of this file.
fn smoke() -> &'static Gathered {
    static RUN: OnceLock<Gathered> = OnceLock::new();
    RUN.get_or_init(|| {
        let ctx = Context::for_tests(exe(), None);
        assert_eq!(Kcmp.unavailable(&ctx), None);
        Kcmp.run(&ctx).expect("kcmp workload runs");
        ctx.out.snapshot()
    })
}

fn observed(g: &Gathered, rule: &str, check_part: &str) -> String {
    let v: Vec<_> = g
        .verdicts
        .iter()
        .filter(|v| v.rule == rule && v.check.contains(check_part))
        .collect();
    assert_eq!(
        v.len(),
        1,
        "exactly one {rule} verdict containing {check_part:?}: {v:#?}"
    );
    assert_eq!(v[0].outcome, Outcome::Pass, "{:#?}", v[0]);
    v[0].observed.clone()
}

/// A process that is still running as part of a kcmp family (zombies are dead).
fn family_member_alive(pid: i32) -> bool {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let is_family = cmdline.split(|&b| b == 0).any(|a| a == b"kcmp-family");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    is_family && !matches!(state, Some('Z') | Some('X') | None)
}

fn assert_all_gone(pids: &[i32]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let alive: Vec<i32> = pids
            .iter()
            .copied()
            .filter(|&p| family_member_alive(p))
            .collect();
        if alive.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "kcmp family members still running after 10 s: {alive:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_kcmp_verdict_passes() {
    let g = smoke();
    let mut per_rule = std::collections::BTreeMap::new();
    for v in &g.verdicts {
        assert!(v.rule.starts_with("KCMP-"), "{v:?}");
        assert!(matches!(v.outcome, Outcome::Pass | Outcome::Info), "{v:#?}");
        if v.outcome == Outcome::Pass {
            *per_rule.entry(v.rule.as_str()).or_insert(0) += 1;
            assert!(
                !v.expected.is_empty() && !v.observed.is_empty(),
                "evidence missing: {v:?}"
            );
        }
    }
    // 13 matrix rows + 6 claim/control pairs + the unallocated-equal check.
    assert_eq!(per_rule.get("KCMP-SHARE"), Some(&20), "{per_rule:?}");
    // 6 types x (matrix + parent class) + the VM sort.
    assert_eq!(per_rule.get("KCMP-EQ"), Some(&13), "{per_rule:?}");
    assert_eq!(per_rule.get("KCMP-FILE"), Some(&6), "{per_rule:?}");
    assert_eq!(per_rule.get("KCMP-EPOLL"), Some(&12), "{per_rule:?}");
    assert_eq!(per_rule.get("KCMP-ARGS"), Some(&9), "{per_rule:?}");
}

#[test]
fn errno_values() {
    let g = smoke();
    for (rule, check, errno) in [
        ("KCMP-EPOLL", "absent: a target fd never added", "ENOENT"),
        ("KCMP-EPOLL", "another offset (toff 1)", "ENOENT"),
        ("KCMP-EPOLL", "efd is not an epoll fd", "EINVAL"),
        ("KCMP-EPOLL", "idx1 fd not open", "EBADF"),
        ("KCMP-EPOLL", "efd not open", "EBADF"),
        ("KCMP-EPOLL", "bad slot pointer (8", "EFAULT"),
        (
            "KCMP-EPOLL",
            "bad slot pointer (a kernel address)",
            "EFAULT",
        ),
        ("KCMP-EPOLL", "slot running 4 bytes into", "EFAULT"),
        ("KCMP-ARGS", "missing pid1", "ESRCH"),
        ("KCMP-ARGS", "missing pid2", "ESRCH"),
        ("KCMP-ARGS", "bad type (99): ESRCH checked first", "ESRCH"),
        (
            "KCMP-ARGS",
            "FILE and fds not open: ESRCH checked first",
            "ESRCH",
        ),
        ("KCMP-ARGS", "bad type 8", "EINVAL"),
        ("KCMP-ARGS", "bad type -1", "EINVAL"),
        ("KCMP-ARGS", "idx1 not open", "EBADF"),
        ("KCMP-ARGS", "idx2 not open", "EBADF"),
        ("KCMP-ARGS", "never had", "EBADF"),
    ] {
        assert_eq!(observed(g, rule, check), errno, "{rule} {check}");
    }
    for (rule, check) in [
        ("KCMP-FILE", "dup'd fd"),
        ("KCMP-FILE", "inherited over fork"),
        ("KCMP-FILE", "CLONE_FILES child sees"),
        ("KCMP-FILE", "fd indexes are 32-bit"),
        ("KCMP-EPOLL", "fd in the epoll set"),
        ("KCMP-EPOLL", "another process's fd"),
        ("KCMP-EPOLL", "slot is three u32"),
    ] {
        assert_eq!(observed(g, rule, check), "0", "{rule} {check}");
    }
    let reopened = observed(g, "KCMP-FILE", "both orders");
    assert!(reopened == "1/2" || reopened == "2/1", "{reopened}");
}

#[test]
fn sharing_matrix_values() {
    let g = smoke();
    let cells = g.data["sharing"].as_array().expect("sharing cells");
    let cell = |rel: &str, t: &str| -> String {
        let c: Vec<&Value> = cells
            .iter()
            .filter(|c| c["relationship"] == rel && c["type"] == t)
            .collect();
        assert_eq!(c.len(), 1, "{rel} {t}");
        assert_eq!(c[0]["observed"], c[0]["expected"], "{rel} {t}: {}", c[0]);
        c[0]["observed"].as_str().unwrap().to_string()
    };
    let types = ["VM", "FILES", "FS", "SIGHAND", "IO", "SYSVSEM"];
    let row = |rel: &str| {
        types
            .iter()
            .map(|t| cell(rel, t))
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(row("thread"), "eq eq eq eq ne eq");
    assert_eq!(row("fork child"), "ne ne ne ne ne ne");
    assert_eq!(row("CLONE_VM child"), "eq ne ne ne ne ne");
    assert_eq!(row("CLONE_FILES child"), "ne eq ne ne ne ne");
    assert_eq!(row("CLONE_FS child"), "ne ne eq ne ne ne");
    assert_eq!(row("CLONE_SIGHAND|CLONE_VM child"), "eq ne ne eq ne ne");
    assert_eq!(row("CLONE_IO child"), "ne ne ne ne eq ne");
    assert_eq!(row("CLONE_SYSVSEM child"), "ne ne ne ne ne eq");
    // Unallocated IO / SYSVSEM compare equal; allocated ones made without the flag do not.
    assert_eq!(
        cell(
            "two fork children, neither with io_context nor undo list",
            "SYSVSEM"
        ),
        "eq"
    );
    assert_eq!(
        row("two fork children, each with its own (ioprio, SEM_UNDO)"),
        "ne ne ne ne ne ne"
    );
    assert_eq!(
        cell(
            "fork child made after the parent's ioprio (own io_context copy)",
            "IO"
        ),
        "ne"
    );
    assert_eq!(
        cell(
            "fork child that took SEM_UNDO itself (own undo list)",
            "SYSVSEM"
        ),
        "ne"
    );
    // The table for reports: one row per relationship, cells expected/observed.
    let t = &g.data["sharing_matrix"];
    assert_eq!(t["kind"], "table");
    assert_eq!(t["columns"].as_array().unwrap().len(), 8);
    let files_row = t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[0] == "CLONE_FILES child")
        .unwrap();
    assert_eq!(files_row[2], "ne/ne");
    assert_eq!(files_row[3], "eq/eq");
    // The VM order groups exactly the tasks that share the helper's mm.
    let vm = g.data["sorted_classes"]["VM"].as_array().unwrap();
    let shared: Vec<&Value> = vm
        .iter()
        .filter(|c| c.as_array().unwrap().len() > 1)
        .collect();
    assert_eq!(shared.len(), 1, "{vm:?}");
    assert_eq!(
        shared[0],
        &serde_json::json!(["clone_sighand_vm", "clone_vm", "parent", "thread"])
    );
}

#[test]
fn latency_per_type() {
    let g = smoke();
    let ids: Vec<&str> = g.measurements.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "kcmp/getppid",
            "kcmp/FILE",
            "kcmp/VM",
            "kcmp/FILES",
            "kcmp/FS",
            "kcmp/SIGHAND",
            "kcmp/IO",
            "kcmp/SYSVSEM",
            "kcmp/EPOLL_TFD"
        ]
    );
    for m in &g.measurements {
        assert_eq!(m.unit, "ns");
        assert!(m.summary.count > 0 && m.summary.p50 > 0, "{m:?}");
        if m.id != "kcmp/getppid" {
            assert!(
                m.derived["x_floor"] > 0.0 && m.derived["plain_loop_ns"] > 0.0,
                "{m:?}"
            );
        }
    }
}

#[test]
fn no_family_member_left_after_a_run() {
    let g = smoke();
    assert_eq!(g.data["teardown"]["killed_and_reaped"], 11);
    assert_eq!(g.data["teardown"]["thread_joined"], true);
    let pids: Vec<i32> = g.data["processes"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_i64().unwrap() as i32)
        .collect();
    assert_eq!(pids.len(), 14);
    assert_all_gone(&pids);
}

#[test]
fn dropped_helper_takes_its_children_with_it() {
    let mut h = Helper::spawn(&exe(), "kcmp-family", &[]).unwrap();
    let fam: Family = h.recv(Duration::from_secs(30)).unwrap();
    assert_eq!(fam.error, None);
    let pids: Vec<i32> = fam.members.values().copied().collect();
    assert!(pids.iter().all(|&p| family_member_alive(p)), "{fam:?}");
    drop(h); // SIGKILL to the helper: its clone children die by PDEATHSIG
    assert_all_gone(&pids);
}

#[test]
fn cli_only_kcmp() {
    let dir = tempfile::tempdir().unwrap();
    let out = assert_cmd::Command::new(exe())
        .args(["run", "--only", "kcmp", "--profile", "smoke", "--out"])
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
    let r: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("results.json")).unwrap()).unwrap();
    let w = r["workloads"].as_array().unwrap();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0]["name"], "kcmp");
    assert_eq!(w[0]["status"], "completed");
    assert!(w[0]["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v["outcome"] == "pass" || v["outcome"] == "info"));
}

/// Child pids of every thread of `pid` (`/proc/PID/task/TID/children`).
fn children_of(pid: i32) -> Vec<i32> {
    kobench_harness::sys::process::children(pid)
}

/// Starts `kobench run --only kcmp --profile standard` (about 9 s of sampling) and waits
/// until its helper and the helper's 11 clone children exist: (kobench, [helper, kids]).
#[allow(clippy::zombie_processes)] // the child is returned; every caller waits for it
fn kobench_with_family() -> (std::process::Child, Vec<i32>, tempfile::TempDir) {
    // The output directory must outlive kobench (it saves there when interrupted).
    let out = tempfile::tempdir().unwrap();
    let mut kb = std::process::Command::new(exe())
        .args(["run", "--only", "kcmp", "--profile", "standard", "--out"])
        .arg(out.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let kpid = kb.id() as i32;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let helpers: Vec<i32> = children_of(kpid)
            .into_iter()
            .filter(|&p| family_member_alive(p))
            .collect();
        if let Some(&h) = helpers.first() {
            let kids = children_of(h);
            if kids.len() == 11 {
                let family = [vec![h], kids].concat();
                assert!(family.iter().all(|&p| family_member_alive(p)));
                return (kb, family, out);
            }
        }
        if Instant::now() > deadline {
            let _ = kb.kill();
            let _ = kb.wait();
            panic!("the kcmp family never appeared under kobench {kpid}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn kill_9_of_kobench_takes_the_family_with_it() {
    let (mut kb, family, _out) = kobench_with_family();
    kb.kill().unwrap(); // SIGKILL
    kb.wait().unwrap();
    assert_all_gone(&family);
}

#[test]
fn ctrl_c_of_kobench_tears_the_family_down() {
    let (mut kb, family, _out) = kobench_with_family();
    kobench_harness::sys::process::kill(kb.id() as i32, libc::SIGINT).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = kb.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = kb.kill();
            let _ = kb.wait();
            panic!("kobench did not stop within 30 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(130), "interrupted exit code");
    assert_all_gone(&family);
}
