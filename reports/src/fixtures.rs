//! Synthetic, deterministic results for tests, snapshots and demonstrations, and
//! [`scaled`]: a copy of a result with one metric's samples multiplied (the "+20 %
//! injected" check of `compare`, also used by `examples/inject.rs` on real results).

use kobench_harness::schema::{
    Measurement, RunResult, Verdict, WorkloadResult, WorkloadStatus, FORMAT, SCHEMA_VERSION,
};
use kobench_harness::stats::{new_histogram, Summary};
use serde_json::json;
use std::collections::BTreeMap;

/// A deterministic pseudo-random stream (64-bit LCG, Knuth's constants).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `n` samples around `center` (± 10 %, a tail to 3×), as a summary with its histogram.
fn samples(center: f64, n: usize, seed: u64) -> Summary {
    let mut h = new_histogram();
    let mut r = Lcg(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ center.to_bits());
    for _ in 0..n {
        let u = r.next();
        let v = if u > 0.98 {
            center * (1.0 + 2.0 * r.next())
        } else {
            center * (0.9 + 0.2 * r.next())
        };
        h.record(v.max(1.0).round() as u64)
            .expect("auto-resizing histogram");
    }
    Summary::of(&h)
}

fn measurement(id: &str, unit: &str, params: serde_json::Value, summary: Summary) -> Measurement {
    let params: BTreeMap<String, serde_json::Value> =
        serde_json::from_value(params).expect("object");
    Measurement {
        id: id.into(),
        unit: unit.into(),
        smaller_is_better: unit == "ns",
        params,
        summary,
        derived: BTreeMap::new(),
    }
}

/// A result from machine `host`, repeat `seed`: membarrier latencies over threads and
/// placements, process_vm throughput over sizes with a memcpy ceiling, a kcmp matrix
/// and verdicts. Machines `m1`, `m2`, ... differ in speed (m2 is 1.5× slower).
pub fn run(host: &str, seed: u64) -> RunResult {
    let speed = if host == "m2" { 1.5 } else { 1.0 };
    let mut mb = Vec::new();
    for (cmd, base) in [
        ("getppid", 210.0),
        ("PRIVATE_EXPEDITED", 590.0),
        ("GLOBAL", 16_000_000.0),
    ] {
        for (placement, threads) in [("none", 0), ("spin", 1), ("idle", 1)] {
            let cost = if placement == "spin" && cmd == "PRIVATE_EXPEDITED" {
                12_300.0
            } else {
                base
            };
            let n = if cmd == "GLOBAL" { 5 } else { 2000 };
            let id = format!("membarrier/{cmd}/{placement}/{threads}");
            mb.push(measurement(
                &id,
                "ns",
                json!({"command": cmd, "placement": placement, "threads": threads}),
                samples(cost * speed, n, seed),
            ));
        }
    }
    let mut pvm = Vec::new();
    for (op, peak) in [("readv", 9.0), ("writev", 8.0), ("memcpy", 14.0)] {
        for size in [4096u64, 65536, 1_048_576] {
            let frac = match size {
                4096 => 0.4,
                65536 => 0.8,
                _ => 1.0,
            };
            let id = format!("process_vm/{op}/{size}");
            let mut m = measurement(
                &id,
                "GiB/s",
                json!({"size_bytes": size, "iovecs": 1}),
                samples(peak * frac / speed, 200, seed),
            );
            m.unit = "GiB/s".into();
            m.smaller_is_better = false;
            pvm.push(m);
        }
    }
    let mut data = BTreeMap::new();
    data.insert(
        "matrix".to_string(),
        json!({"kind": "table", "title": "kcmp KCMP_FILE: same file?", "columns": ["fd", "dup", "other"], "rows": [["fd", 0, 3], ["dup", 0, 3]]}),
    );
    let verdicts = vec![
        Verdict::expect_eq(
            "MB-REG",
            "PRIVATE_EXPEDITED before registration",
            "EPERM",
            "EPERM",
        ),
        Verdict::check(
            "MB-COST-GLOBAL",
            "GLOBAL slower than GLOBAL_EXPEDITED",
            true,
            "ratio > 1",
            "26174",
        ),
        Verdict::skip("MB-RSEQ", "rseq restart", "no rseq test yet"),
    ];
    let wl = |name: &str,
              measurements: Vec<Measurement>,
              verdicts: Vec<Verdict>,
              data: BTreeMap<String, serde_json::Value>| WorkloadResult {
        name: name.into(),
        status: WorkloadStatus::Completed,
        note: String::new(),
        started_at: "2026-12-03T17:00:00Z".into(),
        duration_s: 1.0,
        measurements,
        verdicts,
        data,
    };
    let pvm_verdicts = vec![Verdict::check(
        "PVM-DATA",
        "bytes read equal bytes written",
        host != "m3",
        "65536",
        "65536",
    )];
    let mut r: RunResult = serde_json::from_value(json!({
        "format": FORMAT, "schema_version": SCHEMA_VERSION, "kobench_version": "0.1.0", "command": "run",
        "profile": "smoke",
        "fingerprint": {"hostname": host, "arch": "x86_64", "kernel": "Linux 6.18.44", "kernel_version": "6.18.44",
            "cpu_model": if host == "m2" { "Ampere Altra" } else { "AMD EPYC" }, "cpus_online": 2, "cpus_allowed": 2,
            "smt_active": false, "threads_per_core": 1, "numa_nodes": 1, "virtualization": "kvm",
            "frequency_governor": null, "mitigations": {"spectre_v2": "Mitigation: Retpolines"},
            "kobench_version": "0.1.0", "rustc": "rustc 1.95.0", "membarrier_query": "0x3ff", "euid": 0},
        "cpus": {"cpus": [{"id": 0, "smt_siblings": [0], "numa_node": 0, "package": 0}, {"id": 1, "smt_siblings": [1], "numa_node": 0, "package": 0}],
                 "allowed": [0, 1], "online": [0, 1], "present": [0, 1]},
        "timer": {"source": "tsc", "ns_per_tick": 0.385, "overhead_ns": 20.0, "resolution_ns": 10.0, "note": "fixture"},
        "started_at": "2026-12-03T17:00:00Z", "ended_at": "2026-12-03T17:00:05Z", "partial": false, "repeat": null,
        "workloads": []
    }))
    .expect("fixture shape");
    r.workloads = vec![
        wl("membarrier", mb, verdicts, BTreeMap::new()),
        wl("process_vm", pvm, pvm_verdicts, BTreeMap::new()),
        wl("kcmp", Vec::new(), Vec::new(), data),
    ];
    r
}

/// Multiplies every sample of the measurement `id` by `factor` (and its summary with it).
pub fn scale_measurement(m: &mut Measurement, factor: f64) {
    if let Some(h) = m.summary.decode() {
        let mut out = new_histogram();
        for v in h.iter_recorded() {
            let x = ((v.value_iterated_to() as f64) * factor).round().max(1.0) as u64;
            let _ = out.record_n(x, v.count_at_value());
        }
        m.summary = Summary::of(&out);
    } else {
        let s = &mut m.summary;
        for x in [
            &mut s.min,
            &mut s.p50,
            &mut s.p90,
            &mut s.p99,
            &mut s.p999,
            &mut s.max,
        ] {
            *x = (*x as f64 * factor).round() as u64;
        }
        s.mean *= factor;
        s.stddev *= factor;
    }
}

/// A copy of `r` with the samples of measurement `id` multiplied by `factor`.
pub fn scaled(r: &RunResult, id: &str, factor: f64) -> RunResult {
    let mut r = r.clone();
    for w in &mut r.workloads {
        for m in w.measurements.iter_mut().filter(|m| m.id == id) {
            scale_measurement(m, factor);
        }
    }
    r
}

/// A copy of `r` with every measurement's samples multiplied by `factor`.
pub fn scaled_all(r: &RunResult, factor: f64) -> RunResult {
    let mut r = r.clone();
    for m in r
        .workloads
        .iter_mut()
        .flat_map(|w| w.measurements.iter_mut())
    {
        scale_measurement(m, factor);
    }
    r
}
