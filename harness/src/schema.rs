//! The result schema: the one contract between measuring and reporting.
//!
//! A result file is a [`RunResult`] serialized as JSON. `schema_version` changes whenever
//! a field changes meaning or a required field is added; readers refuse versions they do
//! not know with a message naming the version they need (see [`load`]).

use crate::fingerprint::Fingerprint;
use crate::stats::Summary;
use crate::timer::TimerCalibration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use thiserror::Error;

/// The version this build writes.
pub const SCHEMA_VERSION: u32 = 1;
/// The oldest version this build still reads (older ones are upgraded on load, see
/// [`upgrade`]).
pub const MIN_READABLE_SCHEMA_VERSION: u32 = 0;
/// Marks kobench result files (`"format": "kobench-result"`).
pub const FORMAT: &str = "kobench-result";

/// The outcome of one rule check.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Inconclusive,
    Skip,
    #[serde(rename = "n/a")]
    NotApplicable,
    /// Informational: shown, never gated.
    Info,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Inconclusive => "inconclusive",
            Outcome::Skip => "skip",
            Outcome::NotApplicable => "n/a",
            Outcome::Info => "info",
        }
    }
}

/// One verdict: a rule, the check, the evidence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Rule ID from the rulebook (`MB-REG`, `PVM-DATA`, ...).
    pub rule: String,
    /// What was checked, in a few words (`PRIVATE_EXPEDITED before registration`).
    pub check: String,
    pub outcome: Outcome,
    pub expected: String,
    pub observed: String,
    /// The reason for skip / n/a / inconclusive, or extra evidence.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

impl Verdict {
    /// pass when `ok`, else fail.
    pub fn check(
        rule: &str,
        check: impl Into<String>,
        ok: bool,
        expected: impl Into<String>,
        observed: impl Into<String>,
    ) -> Verdict {
        Verdict {
            rule: rule.into(),
            check: check.into(),
            outcome: if ok { Outcome::Pass } else { Outcome::Fail },
            expected: expected.into(),
            observed: observed.into(),
            note: String::new(),
        }
    }

    /// pass when observed == expected.
    pub fn expect_eq(
        rule: &str,
        check: impl Into<String>,
        expected: impl Into<String>,
        observed: impl Into<String>,
    ) -> Verdict {
        let (e, o) = (expected.into(), observed.into());
        Verdict::check(rule, check, e == o, e, o)
    }

    /// A verdict that was not run, with why.
    pub fn skip(rule: &str, check: impl Into<String>, reason: impl Into<String>) -> Verdict {
        Verdict {
            rule: rule.into(),
            check: check.into(),
            outcome: Outcome::Skip,
            expected: String::new(),
            observed: String::new(),
            note: reason.into(),
        }
    }

    /// A scenario the platform cannot express, with which part.
    pub fn not_applicable(
        rule: &str,
        check: impl Into<String>,
        reason: impl Into<String>,
    ) -> Verdict {
        Verdict {
            outcome: Outcome::NotApplicable,
            ..Verdict::skip(rule, check, reason)
        }
    }

    /// Information shown beside the verdicts, never gated.
    pub fn info(rule: &str, check: impl Into<String>, observed: impl Into<String>) -> Verdict {
        Verdict {
            rule: rule.into(),
            check: check.into(),
            outcome: Outcome::Info,
            expected: String::new(),
            observed: observed.into(),
            note: String::new(),
        }
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Verdict {
        self.note = note.into();
        self
    }
}

/// One measured distribution (latency, throughput, ...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// Stable ID, unique in a run: `membarrier/PRIVATE_EXPEDITED/spin/1`.
    pub id: String,
    /// Unit of the summary values (`ns`, `GiB/s`, ...).
    pub unit: String,
    /// `true` when smaller values are better (latency), `false` for throughput.
    pub smaller_is_better: bool,
    /// The configuration: command, threads, placement, size, ...
    #[serde(default)]
    pub params: BTreeMap<String, serde_json::Value>,
    pub summary: Summary,
    /// Derived figures (`ratio_to_floor`, `ratio_to_memcpy`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub derived: BTreeMap<String, f64>,
}

/// How a workload ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkloadStatus {
    Completed,
    /// Could not run on this machine (reason in `note`).
    Skipped,
    /// Returned an error or panicked.
    Failed,
    /// Overran its deadline (where it was in `note`).
    TimedOut,
    /// Stopped by Ctrl-C; what it had gathered is kept.
    Interrupted,
}

impl WorkloadStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadStatus::Completed => "completed",
            WorkloadStatus::Skipped => "skipped",
            WorkloadStatus::Failed => "failed",
            WorkloadStatus::TimedOut => "timed_out",
            WorkloadStatus::Interrupted => "interrupted",
        }
    }
}

/// Everything one workload produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkloadResult {
    pub name: String,
    pub status: WorkloadStatus,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    pub started_at: String,
    pub duration_s: f64,
    #[serde(default)]
    pub measurements: Vec<Measurement>,
    #[serde(default)]
    pub verdicts: Vec<Verdict>,
    /// Workload-specific structured data (outcome tables, matrices, curves).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, serde_json::Value>,
}

/// One whole run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub format: String,
    pub schema_version: u32,
    pub kobench_version: String,
    /// The command that made it (`run`, `stress`, `litmus`, `gates`).
    pub command: String,
    pub profile: String,
    pub fingerprint: Fingerprint,
    pub cpus: crate::cpus::CpuSet,
    pub timer: TimerCalibration,
    pub started_at: String,
    #[serde(default)]
    pub ended_at: Option<String>,
    /// `true` while the run is in progress or when it was interrupted.
    pub partial: bool,
    /// Repetition index with `--repeat` (0-based), and the count.
    #[serde(default)]
    pub repeat: Option<(u32, u32)>,
    pub workloads: Vec<WorkloadResult>,
}

impl RunResult {
    pub fn verdicts(&self) -> impl Iterator<Item = (&WorkloadResult, &Verdict)> {
        self.workloads
            .iter()
            .flat_map(|w| w.verdicts.iter().map(move |v| (w, v)))
    }

    pub fn measurements(&self) -> impl Iterator<Item = &Measurement> {
        self.workloads.iter().flat_map(|w| w.measurements.iter())
    }

    /// Any verdict failed, or any workload failed or timed out.
    pub fn has_failures(&self) -> bool {
        self.verdicts().any(|(_, v)| v.outcome == Outcome::Fail)
            || self
                .workloads
                .iter()
                .any(|w| matches!(w.status, WorkloadStatus::Failed | WorkloadStatus::TimedOut))
    }
}

/// Why a result file could not be read.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: empty file (an interrupted write? kobench never leaves one; check the path)")]
    Empty { path: String },
    #[error("{path}: not valid JSON ({detail})")]
    Malformed { path: String, detail: String },
    #[error("{path}: truncated JSON: the document ends early ({detail}); an interrupted copy or download?")]
    Truncated { path: String, detail: String },
    #[error("{path}: not a kobench result file (no \"format\": \"kobench-result\"; {detail})")]
    Foreign { path: String, detail: String },
    #[error("{path}: schema_version {found} is not supported: this kobench reads versions {min}..={max}; {hint}")]
    Version {
        path: String,
        found: u64,
        min: u32,
        max: u32,
        hint: String,
    },
    #[error("{path}: does not match schema version {version}: {detail}")]
    Shape {
        path: String,
        version: u64,
        detail: String,
    },
}

/// Reads and validates a result file.
pub fn load(path: &Path) -> Result<RunResult, LoadError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: p.clone(),
        source,
    })?;
    parse(&text, &p)
}

/// Parses a result from text; `name` is used in messages.
pub fn parse(text: &str, name: &str) -> Result<RunResult, LoadError> {
    if text.trim().is_empty() {
        return Err(LoadError::Empty { path: name.into() });
    }
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        if e.classify() == serde_json::error::Category::Eof {
            LoadError::Truncated {
                path: name.into(),
                detail: e.to_string(),
            }
        } else {
            LoadError::Malformed {
                path: name.into(),
                detail: e.to_string(),
            }
        }
    })?;
    let foreign = |v: &serde_json::Value| {
        let detail = match v {
            serde_json::Value::Object(o) if o.is_empty() => "an empty object".to_string(),
            serde_json::Value::Object(o) => format!(
                "top-level keys: {}",
                o.keys().take(6).cloned().collect::<Vec<_>>().join(", ")
            ),
            serde_json::Value::Array(_) => "a JSON array (a `kobench export` output?)".to_string(),
            _ => "a bare JSON value".to_string(),
        };
        LoadError::Foreign {
            path: name.into(),
            detail,
        }
    };
    if v.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(foreign(&v));
    }
    let found = v
        .get("schema_version")
        .and_then(|s| s.as_u64())
        .ok_or_else(|| LoadError::Shape {
            path: name.into(),
            version: 0,
            detail: "no numeric schema_version".into(),
        })?;
    if found < MIN_READABLE_SCHEMA_VERSION as u64 || found > SCHEMA_VERSION as u64 {
        let hint = if found > SCHEMA_VERSION as u64 {
            format!("it was written by a newer kobench: upgrade to a kobench that writes schema {found}")
        } else {
            format!("re-run the workloads with this kobench to get schema {SCHEMA_VERSION}")
        };
        return Err(LoadError::Version {
            path: name.into(),
            found,
            min: MIN_READABLE_SCHEMA_VERSION,
            max: SCHEMA_VERSION,
            hint,
        });
    }
    let v = upgrade(v, found);
    serde_json::from_value(v).map_err(|e| LoadError::Shape {
        path: name.into(),
        version: found,
        detail: e.to_string(),
    })
}

/// Brings a result of an older schema version to the current one.
///
/// Schema 0 (kobench 0.0.x, before the first release) differed from 1 in three ways:
/// measurements were named by `name` (now `id`), had no `smaller_is_better` (now stored;
/// inferred here: time units are smaller-is-better, rates `*/s` are not), and results
/// carried no timer calibration (now `timer`; filled as an uncalibrated CLOCK_MONOTONIC).
pub fn upgrade(mut v: serde_json::Value, from: u64) -> serde_json::Value {
    if from == 0 {
        if let Some(ws) = v.get_mut("workloads").and_then(|w| w.as_array_mut()) {
            for w in ws {
                for m in w
                    .get_mut("measurements")
                    .and_then(|m| m.as_array_mut())
                    .into_iter()
                    .flatten()
                {
                    if let Some(o) = m.as_object_mut() {
                        if let Some(name) = o.remove("name") {
                            o.entry("id").or_insert(name);
                        }
                        let unit = o
                            .get("unit")
                            .and_then(|u| u.as_str())
                            .unwrap_or("")
                            .to_string();
                        o.entry("smaller_is_better")
                            .or_insert(serde_json::Value::Bool(!unit.ends_with("/s")));
                    }
                }
            }
        }
        if let Some(o) = v.as_object_mut() {
            o.entry("timer").or_insert(serde_json::json!({
                "source": "clock_monotonic", "ns_per_tick": 1.0, "overhead_ns": 0.0, "resolution_ns": 0.0,
                "note": "upgraded from schema 0: no timer calibration was stored"
            }));
            o.insert(
                "schema_version".into(),
                serde_json::Value::from(SCHEMA_VERSION),
            );
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1_text() -> String {
        serde_json::json!({
            "format": FORMAT, "schema_version": 1, "kobench_version": "0.1.0", "command": "run", "profile": "smoke",
            "fingerprint": {"hostname": "h", "arch": "x86_64", "kernel": "k", "kernel_version": "6.18", "cpu_model": "c",
                "cpus_online": 2, "cpus_allowed": 2, "smt_active": null, "threads_per_core": 1, "numa_nodes": 1,
                "virtualization": "none", "frequency_governor": null, "mitigations": {}, "kobench_version": "0.1.0",
                "rustc": "r", "membarrier_query": "0x3ff", "euid": 0},
            "cpus": {"cpus": [], "allowed": [0], "online": [0], "present": [0]},
            "timer": {"source": "tsc", "ns_per_tick": 0.4, "overhead_ns": 20.0, "resolution_ns": 10.0, "note": ""},
            "started_at": "t", "partial": false,
            "workloads": [{"name": "w", "status": "completed", "started_at": "t", "duration_s": 1.0,
                "measurements": [{"id": "w/a", "unit": "GiB/s", "smaller_is_better": false,
                    "summary": {"count": 1, "min": 1, "p50": 1, "p90": 1, "p99": 1, "p999": 1, "max": 1, "mean": 1.0, "stddev": 0.0}}]}]
        })
        .to_string()
    }

    #[test]
    fn current_version_loads() {
        let r = parse(&v1_text(), "x.json").unwrap();
        assert_eq!(r.workloads[0].measurements[0].id, "w/a");
    }

    #[test]
    fn version_0_is_upgraded() {
        let mut v: serde_json::Value = serde_json::from_str(&v1_text()).unwrap();
        v["schema_version"] = 0.into();
        v.as_object_mut().unwrap().remove("timer");
        let m = v["workloads"][0]["measurements"][0]
            .as_object_mut()
            .unwrap();
        let id = m.remove("id").unwrap();
        m.insert("name".into(), id);
        m.remove("smaller_is_better");
        m.insert("unit".into(), "ns".into());
        let r = parse(&v.to_string(), "old.json").unwrap();
        assert_eq!(r.schema_version, SCHEMA_VERSION);
        let m = &r.workloads[0].measurements[0];
        assert_eq!(m.id, "w/a");
        assert!(m.smaller_is_better);
        assert_eq!(r.timer.source, crate::timer::ClockSource::ClockMonotonic);
    }

    #[test]
    fn bad_files_say_what_and_where() {
        let t = v1_text();
        let e = parse(&t[..t.len() / 2], "cut.json")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cut.json: truncated JSON"), "{e}");
        let e = parse("{\"format\": nope}", "bad.json")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("bad.json: not valid JSON"), "{e}");
        assert_eq!(
            parse(" \n", "e.json").unwrap_err().to_string(),
            "e.json: empty file (an interrupted write? kobench never leaves one; check the path)"
        );
        let e = parse("{\"benchmarks\": []}", "gb.json")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "gb.json: not a kobench result file (no \"format\": \"kobench-result\"; top-level keys: benchmarks)");
        let e = parse(
            &t.replace("\"schema_version\":1", "\"schema_version\":7"),
            "new.json",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("new.json: schema_version 7 is not supported: this kobench reads versions 0..=1; it was written by a newer kobench: upgrade to a kobench that writes schema 7"), "{e}");
    }
}
