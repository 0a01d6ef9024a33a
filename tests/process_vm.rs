//! process_vm: the smoke run's verdicts and evidence, data byte for byte, the corruption
//! hook, no target left behind (normal end, Ctrl-C, kill -9), and CLI bad input.

use assert_cmd::Command;
use kobench_harness::schema::{Outcome, Verdict};
use kobench_harness::sys::mem::page_size;
use kobench_workloads::context::Context;
use kobench_workloads::process_vm::pattern::{self, Expect};
use kobench_workloads::process_vm::target::{Cmd, Pages, Target};
use kobench_workloads::process_vm::{ProcessVm, ReadXfer, WriteXfer, FLIP_OFFSET, RSEED, WSEED};
use kobench_workloads::Workload;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kobench"))
}

fn find<'a>(vs: &'a [Verdict], rule: &str, check: &str) -> &'a Verdict {
    vs.iter()
        .find(|v| v.rule == rule && v.check.contains(check))
        .unwrap_or_else(|| {
            panic!(
                "no {rule} verdict '{check}' in {:#?}",
                vs.iter().map(|v| &v.check).collect::<Vec<_>>()
            )
        })
}

fn passes(vs: &[Verdict], rule: &str, check: &str, observed_prefix: &str) {
    let v = find(vs, rule, check);
    assert_eq!(v.outcome, Outcome::Pass, "{v:?}");
    assert!(
        v.observed.starts_with(observed_prefix),
        "{rule} '{check}': observed {:?}, want prefix {observed_prefix:?}",
        v.observed
    );
}

fn alive(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn smoke_run_every_rule_passes_with_its_evidence() {
    let ctx = Context::for_tests(exe(), None);
    assert!(ProcessVm.unavailable(&ctx).is_none());
    ProcessVm.run(&ctx).expect("process_vm smoke run");
    let g = ctx.out.snapshot();
    let vs = &g.verdicts;
    let fails: Vec<_> = vs
        .iter()
        .filter(|v| !matches!(v.outcome, Outcome::Pass | Outcome::Skip))
        .collect();
    assert!(fails.is_empty(), "{fails:#?}");
    for rule in ["PVM-DATA", "PVM-PARTIAL", "PVM-ARGS"] {
        assert!(
            vs.iter()
                .filter(|v| v.rule == rule && v.outcome == Outcome::Pass)
                .count()
                >= 8,
            "{rule}"
        );
    }
    let p = page_size();
    let len = 1024 * 1024 - 3;

    // PVM-DATA: byte counts and every byte.
    for n in [1, 16, 256, 1024] {
        passes(
            vs,
            "PVM-DATA",
            &format!("readv 1048573 B with {n} iovecs each side"),
            &format!("{len}; every byte matches"),
        );
        passes(
            vs,
            "PVM-DATA",
            &format!("writev 1048573 B with {n} iovecs each side"),
            &format!("{len}; target holds every byte"),
        );
    }
    passes(
        vs,
        "PVM-DATA",
        "1024 uneven local, 1 uneven remote",
        &format!("{len}; every byte in order"),
    );
    passes(
        vs,
        "PVM-DATA",
        "1 uneven local, 1024 uneven remote",
        &format!("{len}; every byte in order"),
    );
    passes(
        vs,
        "PVM-DATA",
        "return = min(local 8192, remote 5000)",
        "5000; bytes match; past the count untouched",
    );
    passes(
        vs,
        "PVM-DATA",
        "return = min(local 3000, remote 8192)",
        "3000; bytes match; past the count untouched",
    );
    passes(
        vs,
        "PVM-DATA",
        "caught and named by offset",
        &format!("caught: byte at offset {FLIP_OFFSET} "),
    );
    passes(vs, "PVM-DATA", "every timed transfer", "");

    // PVM-PARTIAL: bytes before the fault, EFAULT when nothing moved, the cap and the loop.
    passes(vs, "PVM-PARTIAL", "unmapped in the target", "unmapped");
    passes(
        vs,
        "PVM-PARTIAL",
        "one remote iovec from 2 pages + 100 B",
        &format!("{}; bytes match; past the count untouched", 2 * p - 100),
    );
    passes(
        vs,
        "PVM-PARTIAL",
        "second remote iovec runs into the hole",
        &format!("{}; bytes match", 2 * p),
    );
    passes(
        vs,
        "PVM-PARTIAL",
        "stops inside the second local iovec",
        &format!("{p}; bytes match"),
    );
    passes(
        vs,
        "PVM-PARTIAL",
        "first remote iovec unmapped",
        "EFAULT; local untouched",
    );
    passes(
        vs,
        "PVM-PARTIAL",
        "writev: remote iovec runs into the hole",
        &format!("{p}; read back {p}; bytes landed"),
    );
    passes(
        vs,
        "PVM-PARTIAL",
        "writev into read-only",
        "EFAULT; target unchanged",
    );
    passes(
        vs,
        "PVM-PARTIAL",
        "readv of 2.25 GiB (576",
        "calls [2147479552, 268439552] = 2415919104; bytes match",
    );
    passes(
        vs,
        "PVM-PARTIAL",
        "writev of 2.25 GiB (576",
        "calls [2147479552, 268439552] = 2415919104; target holds every byte",
    );
    let big = find(vs, "PVM-PARTIAL", "between distinct buffers");
    assert_eq!(big.outcome, Outcome::Skip);
    assert!(
        big.note.contains("profile-gated") && big.note.contains("nightly"),
        "{big:?}"
    );

    // PVM-ARGS: errno values.
    for (check, want) in [
        ("readv flags=1", "EINVAL"),
        ("writev flags=1", "EINVAL"),
        ("flags checked first", "EINVAL"),
        ("readv 1024 local and 1024 remote", "1024"),
        ("readv 1025 local iovecs", "EINVAL"),
        ("readv 1025 remote iovecs", "EINVAL"),
        ("readv local iov_len = -8", "EINVAL"),
        ("readv remote iov_len = -8", "EINVAL"),
        ("readv local iovec array at 0x8", "EFAULT"),
        ("readv remote iovec array at 0x8", "EFAULT"),
        ("readv local buffer at 0x1000", "EFAULT"),
        ("readv remote buffer at 0x1000", "EFAULT"),
        ("writev local buffer at 0x1000", "EFAULT"),
        ("readv missing pid", "ESRCH"),
        ("writev missing pid", "ESRCH"),
        ("readv from a zombie", "ESRCH"),
        ("readv zero-length local iovec, missing pid", "0"),
        ("readv zero-length remote iovec, missing pid", "0"),
        ("readv no local iovecs (count 0)", "0"),
        ("writev zero-length remote iovec", "0"),
    ] {
        let v = find(vs, "PVM-ARGS", check);
        assert_eq!(
            (v.outcome, v.observed.as_str()),
            (Outcome::Pass, want),
            "{v:?}"
        );
    }
    let kt = find(vs, "PVM-ARGS", "kernel thread");
    assert!(
        kt.outcome == Outcome::Skip || kt.observed == "ESRCH",
        "{kt:?}"
    );

    // Throughput rows, baselines and the summary table.
    for op in ["memcpy", "shm_double_copy", "readv", "writev"] {
        for size in ["4k", "64k", "1m"] {
            let id = if matches!(op, "readv" | "writev") {
                format!("process_vm/{op}/{size}/iov1/same-cpu/4k/resident")
            } else {
                format!("process_vm/{op}/{size}")
            };
            let m = g
                .measurements
                .iter()
                .find(|m| m.id == id)
                .unwrap_or_else(|| panic!("no {id}"));
            assert_eq!(m.unit, "MiB/s");
            assert!(!m.smaller_is_better);
            assert!(m.summary.count > 0 && m.summary.p50 > 0);
            assert!(m.derived["gib_s_p50"] > 0.0);
            if matches!(op, "readv" | "writev") {
                assert!(m.derived["ratio_to_memcpy"] > 0.0, "{m:?}");
            }
        }
    }
    for n in [16, 256, 1024] {
        assert!(g
            .measurements
            .iter()
            .any(|m| m.id == format!("process_vm/readv/64k/iov{n}/same-cpu/4k/resident")));
    }
    assert!(g
        .measurements
        .iter()
        .any(|m| m.id == "process_vm/writev/64k/iov1/same-cpu/4k/untouched"));
    let t = &g.data["summary"];
    assert_eq!(t["kind"], "table");
    assert_eq!(t["rows"].as_array().unwrap().len(), 3);
    assert_eq!(t["columns"][8], "readv/memcpy");
    assert!(t["rows"][2][8].as_f64().unwrap() > 0.0);
    assert!(
        g.data["per_call_overhead"]["rows"]
            .as_array()
            .unwrap()
            .len()
            >= 2
    );
    assert!(g.data["latency_histograms"].as_object().unwrap().len() >= 12);

    // No target process is left: the target and the zombie it made are gone.
    let pids: Vec<i32> = g.data["target_pids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_i64().unwrap() as i32)
        .collect();
    assert_eq!(pids.len(), 2, "target and zombie child");
    for pid in pids {
        assert!(!alive(pid), "process {pid} survived the workload");
    }
}

#[test]
fn readv_and_writev_move_every_byte_and_a_flip_is_named_by_offset() {
    let mut t = Target::start(&exe()).unwrap();
    let len = 300_001;
    let r = t.map(len, Pages::Small, Some(RSEED), false, false).unwrap();
    // Expected bytes computed independently of the transfer.
    let mut want = vec![0u8; len];
    pattern::fill(&mut want, r.addr, Expect::Pattern(RSEED));
    let mut got = vec![0u8; len];
    assert_eq!(
        ReadXfer::new(t.pid(), &mut got, r.addr, 256).call(),
        Ok(len)
    );
    assert!(got == want, "readv bytes differ");

    // writev: another pattern lands in the target, byte for byte (checked by reading back).
    let mut src = vec![0u8; len];
    pattern::fill(&mut src, r.addr, Expect::Pattern(WSEED));
    assert_eq!(WriteXfer::new(t.pid(), &src, r.addr, 1024).call(), Ok(len));
    assert_eq!(t.check(&r, len, Expect::Pattern(WSEED)).unwrap(), None);
    let mut back = vec![0u8; len];
    assert_eq!(ReadXfer::new(t.pid(), &mut back, r.addr, 1).call(), Ok(len));
    assert!(back == src);

    // The test hook flips one byte; the check names it.
    let off = 123_457;
    t.req(&Cmd::Flip { addr: r.addr + off }).unwrap();
    let mut x = ReadXfer::new(t.pid(), &mut back, r.addr, 16);
    assert_eq!(x.call(), Ok(len));
    let m = x
        .mismatch(len, Expect::Pattern(WSEED))
        .expect("flip caught");
    assert_eq!((m.offset, m.remote_addr), (off, r.addr + off));
    assert_eq!(m.got, !src[off]);
    assert_eq!(t.check(&r, len, Expect::Pattern(WSEED)).unwrap(), Some(off));
    let pid = t.pid();
    drop(t);
    assert!(!alive(pid));
}

fn bad_input(args: &[&str], needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(exe())
        .args(["run", "--only", "process_vm", "--out"])
        .arg(dir.path())
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "{args:?}: not one line: {stderr}"
    );
    assert!(
        stderr.starts_with("kobench: error: ") && stderr.contains(needle),
        "{args:?}: {stderr}"
    );
    assert!(!stderr.contains("panicked"));
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing ran"
    );
}

#[test]
fn cli_refuses_bad_sizes_and_iovec_counts() {
    bad_input(&["--sizes", "0"], "--sizes: size '0' is zero");
    bad_input(&["--sizes", "4K,abc"], "--sizes: 'abc' is not a size");
    bad_input(&["--sizes", "4K,,1M"], "--sizes: empty size");
    bad_input(&["--sizes", "99999999G"], "too large");
    bad_input(
        &["--iovecs", "0"],
        "--iovecs: iovec count 0 is out of range: 1 to 1024",
    );
    bad_input(
        &["--iovecs", "5000"],
        "--iovecs: iovec count 5000 is out of range",
    );
    bad_input(
        &["--iovecs", "sixteen"],
        "--iovecs: 'sixteen' is not an iovec count",
    );
    bad_input(&["--set", "novalue"], "--set: 'novalue' is not KEY=VALUE");
}

#[test]
fn cli_sizes_and_iovecs_drive_the_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(exe())
        .args([
            "run",
            "--only",
            "process_vm",
            "--profile",
            "smoke",
            "--sizes",
            "8K,32K",
            "--iovecs",
            "1,4",
            "--json",
            "-",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<String> = r["workloads"][0]["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        ids.contains(&"process_vm/readv/8k/iov4/same-cpu/4k/resident".to_string()),
        "{ids:?}"
    );
    assert!(ids.contains(&"process_vm/memcpy/32k".to_string()));
    assert!(
        !ids.iter()
            .any(|i| i.contains("/4k/iov") || i.contains("iov16")),
        "{ids:?}"
    );
    let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(summary.contains("process_vm/readv/32k/iov1/same-cpu/4k/resident"));
    assert!(summary.contains("PVM-ARGS"));
}

/// The pvm-target helpers whose parent is `ppid`.
fn targets_of(ppid: i32) -> Vec<i32> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if !String::from_utf8_lossy(&cmd).contains("__helper\0pvm-target") {
            continue;
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let parent = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().nth(1)?.parse::<i32>().ok());
        if parent == Some(ppid) {
            v.push(pid);
        }
    }
    v
}

fn is_pvm_target(pid: i32) -> bool {
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&cmd).contains("__helper\0pvm-target")
}

/// Starts `kobench run --only process_vm --profile smoke`, waits for its target, sends
/// `sig` to kobench, and checks that the target is gone within 10 s.
fn signal_leaves_no_target(sig: i32) -> Option<i32> {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(exe())
        .args(["run", "--only", "process_vm", "--profile", "smoke", "--out"])
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let kpid = child.id() as i32;
    let t0 = Instant::now();
    let targets = loop {
        let t = targets_of(kpid);
        if !t.is_empty() {
            break t;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no pvm-target appeared"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "kobench ended before its target was seen"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    // Let it get into the transfers.
    std::thread::sleep(Duration::from_millis(300));
    kobench_harness::sys::process::kill(kpid, sig).unwrap();
    let status = {
        let t1 = Instant::now();
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if t1.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                panic!("kobench did not exit after signal {sig}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let t2 = Instant::now();
    for pid in targets {
        while alive(pid) && is_pvm_target(pid) {
            assert!(
                t2.elapsed() < Duration::from_secs(10),
                "pvm-target {pid} survived signal {sig} to kobench"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    status.code()
}

#[test]
fn kill_9_of_kobench_leaves_no_target() {
    assert_eq!(signal_leaves_no_target(libc::SIGKILL), None);
}

#[test]
fn ctrl_c_of_kobench_leaves_no_target() {
    // 130 when the interrupt lands mid-run (0 if the smoke run had already finished).
    let code = signal_leaves_no_target(libc::SIGINT);
    assert!(matches!(code, Some(130) | Some(0)), "{code:?}");
}
