//! `kobench export`: results in the shapes nightly-CI dashboards read.
//!
//! - [`bmf`]: Bencher Metric Format, `{benchmark: {measure: {value, lower_value?, upper_value?}}}`.
//!   `ns` metrics give `latency` (p50), `p99-latency` and `p999-latency`; `ops/s` gives
//!   `throughput`; any other unit `throughput-<unit slug>` (e.g. `throughput-gib-s`), or
//!   `<unit slug>` when smaller is better. With repeats, `lower_value`/`upper_value` are the
//!   lowest and highest run p50.
//! - [`github_action_benchmark`]: the `customSmallerIsBetter` / `customBiggerIsBetter` array
//!   `[{name, unit, value, range?, extra?}]`, one tool per array: smaller-is-better metrics
//!   (p50, plus `<id> p99` for ns) or bigger-is-better ones. `range` is `± half the spread
//!   of run p50s` with repeats; `extra` carries p90/p99/count and the machine.

use crate::load::{Merged, ResultSet};
use serde_json::{json, Map, Value};

/// A unit as a slug: `GiB/s` -> `gib-s`.
pub fn slug(unit: &str) -> String {
    let s: String = unit
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    s.split('-')
        .filter(|x| !x.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

fn spread(m: &Merged) -> Option<(f64, f64)> {
    (m.p50s.len() > 1).then(|| {
        (
            m.p50s.iter().cloned().fold(f64::INFINITY, f64::min),
            m.p50s.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
        )
    })
}

/// The Bencher Metric Format object.
pub fn bmf(set: &ResultSet) -> Value {
    let mut out = Map::new();
    for m in set.merged() {
        if m.m.summary.count == 0 {
            continue;
        }
        let mut measures = Map::new();
        let mut main = json!({"value": m.p50()});
        if let Some((lo, hi)) = spread(&m) {
            main["lower_value"] = json!(lo);
            main["upper_value"] = json!(hi);
        }
        match m.m.unit.as_str() {
            "ns" => {
                measures.insert("latency".into(), main);
                measures.insert(
                    "p99-latency".into(),
                    json!({"value": m.m.summary.p99 as f64}),
                );
                measures.insert(
                    "p999-latency".into(),
                    json!({"value": m.m.summary.p999 as f64}),
                );
            }
            "ops/s" => {
                measures.insert("throughput".into(), main);
            }
            u if !m.m.smaller_is_better => {
                measures.insert(format!("throughput-{}", slug(u)), main);
            }
            u => {
                measures.insert(slug(u), main);
            }
        }
        out.insert(m.m.id.clone(), Value::Object(measures));
    }
    Value::Object(out)
}

/// The github-action-benchmark array for one direction (`smaller`: customSmallerIsBetter).
pub fn github_action_benchmark(set: &ResultSet, smaller: bool) -> Value {
    let r = set.first();
    let machine = format!(
        "{} · {} · profile {}",
        r.fingerprint.label(),
        r.fingerprint.kernel_version,
        r.profile
    );
    let mut out = Vec::new();
    for m in set
        .merged()
        .into_iter()
        .filter(|m| m.m.smaller_is_better == smaller && m.m.summary.count > 0)
    {
        let s = &m.m.summary;
        let unit = m.m.unit.clone();
        let mut e = json!({
            "name": m.m.id,
            "unit": unit,
            "value": m.p50(),
            "extra": format!("p50 of {} samples over {} run(s)\np90 {} {unit}\np99 {} {unit}\n{machine}", s.count, m.p50s.len(), s.p90, s.p99),
        });
        if let Some((lo, hi)) = spread(&m) {
            e["range"] = json!(format!("± {}", (hi - lo) / 2.0));
        }
        out.push(e);
        if unit == "ns" {
            out.push(json!({"name": format!("{} p99", m.m.id), "unit": "ns", "value": s.p99 as f64, "extra": machine.clone()}));
        }
    }
    Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    /// Validates the BMF shape: object of benchmarks -> object of measures -> {value,
    /// lower_value?, upper_value?} numbers, measure names ≤ 64 chars, names ≤ 1024.
    fn check_bmf(v: &Value) -> usize {
        let mut n = 0;
        for (name, measures) in v.as_object().expect("BMF is an object") {
            assert!(!name.is_empty() && name.len() <= 1024);
            for (measure, m) in measures
                .as_object()
                .expect("benchmark is an object of measures")
            {
                assert!(
                    measure.len() <= 64
                        && measure
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                    "{measure}"
                );
                let o = m.as_object().unwrap();
                assert!(o.get("value").unwrap().is_number());
                for k in o.keys() {
                    assert!(
                        ["value", "lower_value", "upper_value"].contains(&k.as_str()),
                        "{k}"
                    );
                    assert!(o[k].is_number());
                }
                if let (Some(lo), Some(hi)) = (o.get("lower_value"), o.get("upper_value")) {
                    let v = o["value"].as_f64().unwrap();
                    assert!(lo.as_f64().unwrap() <= v && v <= hi.as_f64().unwrap());
                }
                n += 1;
            }
        }
        n
    }

    /// Validates github-action-benchmark's zod schema: array of {name: string, value:
    /// number, unit: string, range?: string, extra?: string}, nothing else.
    fn check_gab(v: &Value) -> Vec<(String, f64, String)> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|e| {
                let o = e.as_object().unwrap();
                for k in o.keys() {
                    assert!(
                        ["name", "value", "unit", "range", "extra"].contains(&k.as_str()),
                        "{k}"
                    );
                }
                assert!(o.get("range").is_none_or(|r| r.is_string()));
                assert!(o.get("extra").is_none_or(|r| r.is_string()));
                (
                    o["name"].as_str().unwrap().to_string(),
                    o["value"].as_f64().unwrap(),
                    o["unit"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn bmf_parses_back_with_the_right_values() {
        let r = fixtures::run("m1", 0);
        let set = ResultSet::from_runs("a", vec![r.clone()]);
        let text = serde_json::to_string_pretty(&bmf(&set)).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        // 9 ns metrics × 3 measures + 9 throughput metrics × 1.
        assert_eq!(check_bmf(&v), 9 * 3 + 9);
        let m = r
            .measurements()
            .find(|m| m.id == "membarrier/PRIVATE_EXPEDITED/spin/1")
            .unwrap();
        let b = &v["membarrier/PRIVATE_EXPEDITED/spin/1"];
        assert_eq!(b["latency"]["value"].as_f64(), Some(m.summary.p50 as f64));
        assert_eq!(
            b["p99-latency"]["value"].as_f64(),
            Some(m.summary.p99 as f64)
        );
        assert!(b["latency"].get("lower_value").is_none());
        assert!(v["process_vm/readv/65536"]["throughput-gib-s"]["value"].is_number());
    }

    #[test]
    fn bmf_bounds_come_from_repeats() {
        let runs: Vec<_> = (0..3)
            .map(|i| fixtures::scaled_all(&fixtures::run("m1", 0), 1.0 + i as f64 * 0.1))
            .collect();
        let p50s: Vec<f64> = runs
            .iter()
            .map(|r| r.measurements().next().unwrap().summary.p50 as f64)
            .collect();
        let v = bmf(&ResultSet::from_runs("d", runs));
        check_bmf(&v);
        let l = &v["membarrier/getppid/none/0"]["latency"];
        assert_eq!(l["lower_value"].as_f64(), Some(p50s[0]));
        assert_eq!(l["upper_value"].as_f64(), Some(p50s[2]));
    }

    #[test]
    fn github_action_benchmark_arrays_split_by_direction() {
        let set = ResultSet::from_runs("a", vec![fixtures::run("m1", 0)]);
        let smaller = check_gab(
            &serde_json::from_str(&github_action_benchmark(&set, true).to_string()).unwrap(),
        );
        let bigger = check_gab(
            &serde_json::from_str(&github_action_benchmark(&set, false).to_string()).unwrap(),
        );
        assert_eq!(smaller.len(), 18); // 9 latencies, p50 and p99 each
        assert!(smaller.iter().all(|e| e.2 == "ns"));
        assert_eq!(smaller[1].0, "membarrier/getppid/none/0 p99");
        assert_eq!(bigger.len(), 9);
        assert!(bigger.iter().all(|e| e.2 == "GiB/s" && e.1 > 0.0));
        assert_eq!(slug("GiB/s"), "gib-s");
    }

    #[test]
    fn export_snapshot() {
        let set = ResultSet::from_runs("a", vec![fixtures::run("m1", 0)]);
        insta::assert_snapshot!("bmf", serde_json::to_string_pretty(&bmf(&set)).unwrap());
        insta::assert_snapshot!(
            "gab_bigger",
            serde_json::to_string_pretty(&github_action_benchmark(&set, false)).unwrap()
        );
    }
}
