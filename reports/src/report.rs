//! `kobench report`: result sets side by side, as one self-contained HTML page (inline
//! SVG, inline CSS, no script, no external font) and as Markdown.
//!
//! Rendering is generic over the result schema, so new workloads appear without code here:
//! - **machines**: the fingerprints, one column per result set;
//! - **rule verdicts**: rule × machine (worst outcome, with counts), then check × machine;
//! - per workload, measurements grouped into **families** by id prefix (the first two
//!   `/` segments) and unit. A family whose measurements vary a numeric parameter
//!   (`size_bytes`, `threads`, `executors`, `iovecs`, `iterations`, in that order of
//!   preference) gets a chart against it: p50 solid with markers, and for `ns` the p99
//!   dashed. Other varying parameters (placement, variant, ...) split the series. A family
//!   named `*memcpy*` or `*ceiling*` is drawn, dashed, into the other families of its
//!   workload with the same unit and parameter (the memcpy ceiling of readv/writev).
//! - every `ns` family with stored histograms also gets its latency CDF;
//! - families with one point per series are tables; every `{"kind":"table"}` value in a
//!   workload's `data` (or a list of them) is rendered as a table, per machine.

use crate::format::value;
use crate::load::{Merged, ResultSet};
use crate::plot::{self, Axis, Chart, Series};
use kobench_harness::schema::{Outcome, WorkloadStatus};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Numeric parameters usable as x axes, in order of preference.
pub const X_PARAMS: [&str; 5] = ["size_bytes", "threads", "executors", "iovecs", "iterations"];
/// The order workloads are shown in; others follow in first-seen order.
const WORKLOAD_ORDER: [&str; 6] = [
    "membarrier",
    "process_vm",
    "kcmp",
    "ordering",
    "jit",
    "gates",
];

/// (workload, rule, check) and each set's outcomes.
type CheckRow = ((String, String, String), Vec<Vec<Outcome>>);
/// (measurement id, unit) and each set's (p50, p99).
type PointRow = (String, String, Vec<Option<(f64, u64)>>);

/// A report over several result sets.
pub struct Report<'a> {
    sets: &'a [ResultSet],
    /// One legend/column label per set.
    pub labels: Vec<String>,
    merged: Vec<Vec<Merged>>,
}

/// Measurements of one family across the sets.
struct Family<'a> {
    key: String,
    unit: String,
    /// (set index, measurement).
    ms: Vec<(usize, &'a Merged)>,
    x: Option<&'static str>,
    /// Parameters that vary within the family (besides x): they name the series.
    split: Vec<String>,
}

fn family_key(id: &str) -> String {
    id.split('/').take(2).collect::<Vec<_>>().join("/")
}

fn num(v: Option<&Value>) -> Option<f64> {
    v.and_then(|v| v.as_f64())
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn cell_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `{"kind":"table"}` values (a table or a list of tables).
fn tables_in(v: &Value) -> Vec<&Value> {
    match v {
        Value::Object(o) if o.get("kind").and_then(|k| k.as_str()) == Some("table") => vec![v],
        Value::Array(a) => a.iter().flat_map(tables_in).collect(),
        _ => Vec::new(),
    }
}

fn outcome_rank(o: Outcome) -> u8 {
    match o {
        Outcome::Fail => 0,
        Outcome::Inconclusive => 1,
        Outcome::Pass => 2,
        Outcome::Skip => 3,
        Outcome::NotApplicable => 4,
        Outcome::Info => 5,
    }
}

/// `fail 1 · pass 11`, worst first; `None` when there is nothing.
fn outcome_summary(os: &[Outcome]) -> Option<(Outcome, String)> {
    let mut c: BTreeMap<u8, (Outcome, usize)> = BTreeMap::new();
    for &o in os {
        c.entry(outcome_rank(o)).or_insert((o, 0)).1 += 1;
    }
    let worst = c.values().next()?.0;
    Some((
        worst,
        c.values()
            .map(|(o, n)| format!("{} {n}", o.as_str()))
            .collect::<Vec<_>>()
            .join(" · "),
    ))
}

impl<'a> Report<'a> {
    pub fn new(sets: &'a [ResultSet]) -> Report<'a> {
        Report {
            labels: labels(sets),
            merged: sets.iter().map(|s| s.merged()).collect(),
            sets,
        }
    }

    fn workloads(&self) -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        for s in self.sets {
            for r in &s.runs {
                for w in &r.workloads {
                    if !seen.contains(&w.name) {
                        seen.push(w.name.clone());
                    }
                }
            }
        }
        seen.sort_by_key(|w| {
            WORKLOAD_ORDER
                .iter()
                .position(|k| k == w)
                .unwrap_or(WORKLOAD_ORDER.len())
        });
        seen
    }

    fn families(&self, workload: &str) -> Vec<Family<'_>> {
        let mut fams: Vec<Family> = Vec::new();
        for (i, ms) in self.merged.iter().enumerate() {
            for m in ms
                .iter()
                .filter(|m| m.workload == workload && m.m.summary.count > 0)
            {
                let key = family_key(&m.m.id);
                match fams.iter_mut().find(|f| f.key == key && f.unit == m.m.unit) {
                    Some(f) => f.ms.push((i, m)),
                    None => fams.push(Family {
                        key,
                        unit: m.m.unit.clone(),
                        ms: vec![(i, m)],
                        x: None,
                        split: Vec::new(),
                    }),
                }
            }
        }
        for f in &mut fams {
            f.x = X_PARAMS.iter().copied().find(|k| {
                let vals: Vec<Option<f64>> =
                    f.ms.iter().map(|(_, m)| num(m.m.params.get(*k))).collect();
                let mut distinct: Vec<f64> = vals.iter().flatten().cloned().collect();
                distinct.sort_by(|a, b| a.total_cmp(b));
                distinct.dedup();
                vals.iter().all(|v| v.is_some()) && distinct.len() >= 2
            });
            let mut keys: Vec<String> =
                f.ms.iter()
                    .flat_map(|(_, m)| m.m.params.keys().cloned())
                    .collect();
            keys.sort();
            keys.dedup();
            f.split = keys
                .into_iter()
                .filter(|k| Some(k.as_str()) != f.x && !k.ends_with("cpu") && !k.ends_with("cpus"))
                .filter(|k| {
                    let vals: Vec<Option<&Value>> = f
                        .ms
                        .iter()
                        .map(|(_, m)| m.m.params.get(k))
                        .filter(|v| !matches!(v, Some(Value::Array(_)) | Some(Value::Object(_))))
                        .collect();
                    !vals.is_empty() && vals.iter().any(|v| *v != vals[0])
                })
                .collect();
        }
        fams
    }

    fn variant(&self, f: &Family, m: &Merged) -> String {
        f.split
            .iter()
            .map(|k| {
                m.m.params
                    .get(k)
                    .map(cell_text)
                    .unwrap_or_else(|| "-".into())
            })
            .collect::<Vec<_>>()
            .join(" · ")
    }

    fn is_reference(f: &Family) -> bool {
        let last = f.key.rsplit('/').next().unwrap_or("");
        last.contains("memcpy") || last.contains("ceiling")
    }

    /// The percentile-against-parameter chart of a family (with reference overlays).
    fn family_chart(&self, f: &Family, refs: &[&Family]) -> Option<Chart> {
        let x = f.x?;
        let ns = f.unit == "ns";
        let mut variants: Vec<String> = Vec::new();
        for (_, m) in &f.ms {
            let v = self.variant(f, m);
            if !variants.contains(&v) {
                variants.push(v);
            }
        }
        let nv = variants.len().max(1);
        let mut series = Vec::new();
        for (si, label) in self.labels.iter().enumerate() {
            for (vi, v) in variants.iter().enumerate() {
                let mut pts: Vec<(f64, f64, f64)> =
                    f.ms.iter()
                        .filter(|(i, m)| *i == si && &self.variant(f, m) == v)
                        .filter_map(|(_, m)| {
                            Some((num(m.m.params.get(x))?, m.p50(), m.m.summary.p99 as f64))
                        })
                        .collect();
                if pts.is_empty() {
                    continue;
                }
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                let name = if v.is_empty() {
                    label.clone()
                } else {
                    format!("{label} · {v}")
                };
                let color = si * nv + vi;
                series.push(Series {
                    name: if ns {
                        format!("{name} p50")
                    } else {
                        name.clone()
                    },
                    points: pts.iter().map(|p| (p.0, p.1)).collect(),
                    color,
                    dashed: false,
                    markers: true,
                });
                if ns {
                    series.push(Series {
                        name: format!("{name} p99"),
                        points: pts.iter().map(|p| (p.0, p.2)).collect(),
                        color,
                        dashed: true,
                        markers: true,
                    });
                }
            }
            for r in refs {
                let mut pts: Vec<(f64, f64)> =
                    r.ms.iter()
                        .filter(|(i, _)| *i == si)
                        .filter_map(|(_, m)| Some((num(m.m.params.get(x))?, m.p50())))
                        .collect();
                if pts.is_empty() {
                    continue;
                }
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                let what = r.key.rsplit('/').next().unwrap_or("reference");
                series.push(Series {
                    name: format!("{label} · {what} ceiling"),
                    points: pts,
                    color: si * nv,
                    dashed: true,
                    markers: false,
                });
            }
        }
        let xs: Vec<f64> = series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .filter(|v| *v > 0.0)
            .collect();
        let ys: Vec<f64> = series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .filter(|v| *v > 0.0)
            .collect();
        let spread = |v: &[f64]| {
            v.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
                / v.iter().cloned().fold(f64::INFINITY, f64::min)
        };
        let x_log = xs.len() == series.iter().map(|s| s.points.len()).sum::<usize>()
            && !xs.is_empty()
            && spread(&xs) > 30.0;
        let y_log = ns
            && ys.len() == series.iter().map(|s| s.points.len()).sum::<usize>()
            && !ys.is_empty()
            && spread(&ys) > 30.0;
        let what = if ns {
            "latency per call, p50 (solid) and p99 (dashed)"
        } else {
            "p50"
        };
        Some(Chart {
            title: format!("{} — {what} vs {x}", f.key),
            x_label: x.replace('_', " "),
            y_label: format!(
                "{} ({})",
                if ns {
                    "latency"
                } else if f.unit.ends_with("/s") {
                    "throughput"
                } else {
                    "value"
                },
                f.unit
            ),
            x_axis: if x == "size_bytes" {
                Axis::Bytes
            } else if xs.iter().all(|v| *v == v.round()) {
                Axis::Integer
            } else {
                Axis::Number
            },
            y_axis: if ns { Axis::Nanos } else { Axis::Number },
            x_log,
            y_log,
            series,
        })
    }

    /// The latency CDF of an `ns` family, from the stored histograms.
    fn cdf_chart(&self, f: &Family) -> Option<Chart> {
        if f.unit != "ns" {
            return None;
        }
        let mut series = Vec::new();
        let (mut lo, mut hi) = (f64::INFINITY, 0f64);
        let per_set = f.ms.iter().filter(|(i, _)| *i == 0).count().max(1);
        let mut idx_in_set: BTreeMap<usize, usize> = BTreeMap::new();
        for (si, m) in &f.ms {
            let Some(h) = &m.hist else { continue };
            let total = h.len() as f64;
            let recorded: Vec<(f64, u64)> = h
                .iter_recorded()
                .map(|v| (v.value_iterated_to() as f64, v.count_at_value()))
                .collect();
            let step = (recorded.len() / 150).max(1);
            let mut cum = 0u64;
            let mut pts = Vec::new();
            for (k, (v, c)) in recorded.iter().enumerate() {
                cum += c;
                if k % step == 0 || k + 1 == recorded.len() {
                    pts.push((*v, 100.0 * cum as f64 / total));
                }
            }
            lo = lo.min(h.min() as f64).max(1.0);
            hi = hi.max(h.max() as f64);
            let vi = idx_in_set.entry(*si).or_default();
            let suffix =
                m.m.id
                    .strip_prefix(&f.key)
                    .unwrap_or("")
                    .trim_start_matches('/');
            series.push(Series {
                name: format!(
                    "{} · {}",
                    self.labels[*si],
                    if suffix.is_empty() {
                        m.m.id.as_str()
                    } else {
                        suffix
                    }
                ),
                points: pts,
                color: si * per_set + *vi,
                dashed: false,
                markers: false,
            });
            *vi += 1;
        }
        if series.is_empty() {
            return None;
        }
        Some(Chart {
            title: format!("{} — latency CDF (all calls)", f.key),
            x_label: "latency per call (ns)".into(),
            y_label: "calls at or below (%)".into(),
            x_axis: Axis::Nanos,
            y_axis: Axis::Percent,
            x_log: hi / lo > 20.0,
            y_log: false,
            series,
        })
    }

    fn machine_rows(&self) -> Vec<(String, Vec<String>)> {
        let f = |g: &dyn Fn(&ResultSet) -> String| self.sets.iter().map(g).collect::<Vec<_>>();
        vec![
            ("result".into(), f(&|s| s.path.clone())),
            (
                "hostname".into(),
                f(&|s| s.first().fingerprint.hostname.clone()),
            ),
            (
                "CPU model".into(),
                f(&|s| s.first().fingerprint.cpu_model.clone()),
            ),
            ("arch".into(), f(&|s| s.first().fingerprint.arch.clone())),
            (
                "kernel".into(),
                f(&|s| s.first().fingerprint.kernel_version.clone()),
            ),
            (
                "CPUs online / allowed".into(),
                f(&|s| {
                    format!(
                        "{} / {}",
                        s.first().fingerprint.cpus_online,
                        s.first().fingerprint.cpus_allowed
                    )
                }),
            ),
            (
                "CPUs used".into(),
                f(&|s| kobench_harness::cpus::format_list(&s.first().cpus.ids())),
            ),
            (
                "threads per core (SMT)".into(),
                f(&|s| {
                    format!(
                        "{} ({})",
                        s.first().fingerprint.threads_per_core,
                        s.first()
                            .fingerprint
                            .smt_active
                            .map(|b| if b { "on" } else { "off" })
                            .unwrap_or("unknown")
                    )
                }),
            ),
            (
                "NUMA nodes".into(),
                f(&|s| s.first().fingerprint.numa_nodes.to_string()),
            ),
            (
                "virtualisation".into(),
                f(&|s| s.first().fingerprint.virtualization.clone()),
            ),
            (
                "frequency governor".into(),
                f(&|s| {
                    s.first()
                        .fingerprint
                        .frequency_governor
                        .clone()
                        .unwrap_or_else(|| "—".into())
                }),
            ),
            (
                "membarrier QUERY".into(),
                f(&|s| s.first().fingerprint.membarrier_query.clone()),
            ),
            (
                "mitigations (not 'Not affected')".into(),
                f(&|s| {
                    let m: Vec<String> = s
                        .first()
                        .fingerprint
                        .mitigations
                        .iter()
                        .filter(|(_, v)| !v.starts_with("Not affected"))
                        .map(|(k, v)| format!("{k}: {v}"))
                        .collect();
                    if m.is_empty() {
                        "none".into()
                    } else {
                        m.join("; ")
                    }
                }),
            ),
            (
                "timer".into(),
                f(&|s| {
                    format!(
                        "{:?}, overhead {:.0} ns",
                        s.first().timer.source,
                        s.first().timer.overhead_ns
                    )
                }),
            ),
            (
                "euid".into(),
                f(&|s| s.first().fingerprint.euid.to_string()),
            ),
            (
                "kobench / rustc".into(),
                f(&|s| {
                    format!(
                        "{} / {}",
                        s.first().kobench_version,
                        s.first().fingerprint.rustc
                    )
                }),
            ),
            (
                "profile, runs".into(),
                f(&|s| format!("{}, {}", s.first().profile, s.runs.len())),
            ),
            ("started".into(), f(&|s| s.first().started_at.clone())),
        ]
    }

    /// Rules in first-seen order with each set's outcomes.
    fn verdicts_by_rule(&self) -> Vec<(String, Vec<Vec<Outcome>>)> {
        let mut rows: Vec<(String, Vec<Vec<Outcome>>)> = Vec::new();
        for (i, s) in self.sets.iter().enumerate() {
            for r in &s.runs {
                for (_, v) in r.verdicts() {
                    let pos = match rows.iter().position(|x| x.0 == v.rule) {
                        Some(p) => p,
                        None => {
                            rows.push((v.rule.clone(), vec![Vec::new(); self.sets.len()]));
                            rows.len() - 1
                        }
                    };
                    rows[pos].1[i].push(v.outcome);
                }
            }
        }
        rows
    }

    /// (workload, rule, check) with each set's outcomes.
    fn verdicts_by_check(&self) -> Vec<CheckRow> {
        let mut rows: Vec<CheckRow> = Vec::new();
        for (i, s) in self.sets.iter().enumerate() {
            for r in &s.runs {
                for (w, v) in r.verdicts() {
                    let k = (w.name.clone(), v.rule.clone(), v.check.clone());
                    let pos = match rows.iter().position(|x| x.0 == k) {
                        Some(p) => p,
                        None => {
                            rows.push((k, vec![Vec::new(); self.sets.len()]));
                            rows.len() - 1
                        }
                    };
                    rows[pos].1[i].push(v.outcome);
                }
            }
        }
        rows
    }

    fn data_tables(&self, workload: &str) -> Vec<(String, usize, &Value)> {
        let mut out = Vec::new();
        for (i, s) in self.sets.iter().enumerate() {
            // One run's data per set (the last repeat's: tables are per run, not pooled).
            if let Some(w) = s
                .runs
                .last()
                .and_then(|r| r.workloads.iter().find(|w| w.name == workload))
            {
                for (k, v) in &w.data {
                    for t in tables_in(v) {
                        out.push((k.clone(), i, t));
                    }
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        out
    }

    fn statuses(&self, workload: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (i, s) in self.sets.iter().enumerate() {
            for r in &s.runs {
                if let Some(w) = r
                    .workloads
                    .iter()
                    .find(|w| w.name == workload && w.status != WorkloadStatus::Completed)
                {
                    out.push(format!(
                        "{}: {} — {}",
                        self.labels[i],
                        w.status.as_str(),
                        w.note
                    ));
                }
            }
        }
        out.dedup();
        out
    }

    /// Point measurements: families without an x axis, one row per measurement id.
    fn point_rows(&self, fams: &[Family]) -> Vec<PointRow> {
        let mut rows: Vec<PointRow> = Vec::new();
        for f in fams.iter().filter(|f| f.x.is_none()) {
            for (i, m) in &f.ms {
                let pos = match rows.iter().position(|r| r.0 == m.m.id) {
                    Some(p) => p,
                    None => {
                        rows.push((
                            m.m.id.clone(),
                            m.m.unit.clone(),
                            vec![None; self.sets.len()],
                        ));
                        rows.len() - 1
                    }
                };
                rows[pos].2[*i] = Some((m.p50(), m.m.summary.p99));
            }
        }
        rows
    }

    fn charts(&self, fams: &[Family]) -> Vec<Chart> {
        let refs: Vec<&Family> = fams.iter().filter(|f| Self::is_reference(f)).collect();
        let mut charts = Vec::new();
        for f in fams {
            let my_refs: Vec<&Family> = refs
                .iter()
                .filter(|r| r.unit == f.unit && r.x == f.x && r.key != f.key)
                .cloned()
                .collect();
            if Self::is_reference(f)
                && fams
                    .iter()
                    .any(|o| !Self::is_reference(o) && o.unit == f.unit && o.x == f.x)
            {
                continue; // drawn into the others
            }
            let mine = if Self::is_reference(f) {
                Vec::new()
            } else {
                my_refs
            };
            if let Some(c) = self.family_chart(f, &mine) {
                charts.push(c);
            }
            if let Some(c) = self.cdf_chart(f) {
                charts.push(c);
            }
        }
        charts
    }

    /// The HTML page.
    pub fn html(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>kobench report</title>\n<style>\
body{{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}}\
table{{border-collapse:collapse;margin:8px 0 18px}}td,th{{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left;vertical-align:top}}\
th{{background:#f3f3f3}}td.num{{text-align:right;font-variant-numeric:tabular-nums}}\
.pass{{background:#dff0d8}}.fail{{background:#f2b8b5;font-weight:bold}}.inconclusive{{background:#fbe3a6}}.skip,.na,.info{{background:#eee}}\
figure{{margin:10px 0 22px}}.row{{display:flex;gap:28px;flex-wrap:wrap;align-items:flex-start}}caption{{font-weight:bold;text-align:left;font-size:13px}}h2{{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:36px}}nav a{{margin-right:14px}}.note{{color:#666;font-size:13px}}\
</style></head><body>\n<h1>kobench report</h1>\n"
        );
        let workloads = self.workloads();
        let _ = write!(
            s,
            "<nav><a href=\"#machines\">machines</a><a href=\"#verdicts\">rule verdicts</a>"
        );
        for w in &workloads {
            let _ = write!(s, "<a href=\"#w-{0}\">{0}</a>", esc(w));
        }
        s.push_str("</nav>\n");
        // Machines.
        let _ = write!(s, "<h2 id=\"machines\">Machines</h2>\n<table><tr><th></th>");
        for l in &self.labels {
            let _ = write!(s, "<th>{}</th>", esc(l));
        }
        s.push_str("</tr>\n");
        for (k, vals) in self.machine_rows() {
            let _ = write!(s, "<tr><th>{}</th>", esc(&k));
            for v in vals {
                let _ = write!(s, "<td>{}</td>", esc(&v));
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</table>\n");
        // Verdicts.
        let _ = write!(s, "<h2 id=\"verdicts\">Rule verdicts (rule × machine)</h2>\n<p class=\"note\">Worst outcome first, with counts over checks and repeats.</p>\n<table><tr><th>rule</th>");
        for l in &self.labels {
            let _ = write!(s, "<th>{}</th>", esc(l));
        }
        s.push_str("</tr>\n");
        for (rule, per) in self.verdicts_by_rule() {
            let _ = write!(s, "<tr><th>{}</th>", esc(&rule));
            for os in per {
                match outcome_summary(&os) {
                    Some((worst, text)) => {
                        let _ = write!(
                            s,
                            "<td class=\"{}\">{}</td>",
                            worst.as_str().replace('/', ""),
                            esc(&text)
                        );
                    }
                    None => s.push_str("<td>—</td>"),
                }
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</table>\n<details><summary>every check</summary>\n<table><tr><th>workload</th><th>rule</th><th>check</th>");
        for l in &self.labels {
            let _ = write!(s, "<th>{}</th>", esc(l));
        }
        s.push_str("</tr>\n");
        for ((w, rule, check), per) in self.verdicts_by_check() {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td>",
                esc(&w),
                esc(&rule),
                esc(&check)
            );
            for os in per {
                match outcome_summary(&os) {
                    Some((worst, text)) => {
                        let _ = write!(
                            s,
                            "<td class=\"{}\">{}</td>",
                            worst.as_str().replace('/', ""),
                            esc(&text)
                        );
                    }
                    None => s.push_str("<td>—</td>"),
                }
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</table></details>\n");
        // Workloads.
        for w in &workloads {
            let _ = writeln!(s, "<h2 id=\"w-{0}\">{0}</h2>", esc(w));
            for st in self.statuses(w) {
                let _ = writeln!(s, "<p class=\"note\">{}</p>", esc(&st));
            }
            let fams = self.families(w);
            for c in self.charts(&fams) {
                let _ = writeln!(s, "<figure>{}</figure>", plot::svg(&c));
            }
            let points = self.point_rows(&fams);
            if !points.is_empty() {
                s.push_str("<h3>Single-point measurements (p50 / p99)</h3>\n<table><tr><th>measurement</th><th>unit</th>");
                for l in &self.labels {
                    let _ = write!(s, "<th>{}</th>", esc(l));
                }
                s.push_str("</tr>\n");
                for (id, unit, vals) in points {
                    let _ = write!(s, "<tr><td>{}</td><td>{}</td>", esc(&id), esc(&unit));
                    for v in vals {
                        let _ = write!(
                            s,
                            "<td class=\"num\">{}</td>",
                            v.map(|(p50, p99)| esc(&format!(
                                "{} / {}",
                                value(p50, &unit),
                                value(p99 as f64, &unit)
                            )))
                            .unwrap_or_else(|| "—".into())
                        );
                    }
                    s.push_str("</tr>\n");
                }
                s.push_str("</table>\n");
            }
            // Tables with the same key and title from each machine, side by side.
            let tables = self.data_tables(w);
            let title = |t: &Value, key: &str| {
                t.get("title")
                    .map(cell_text)
                    .unwrap_or_else(|| key.to_string())
            };
            let mut done = vec![false; tables.len()];
            for i in 0..tables.len() {
                if done[i] {
                    continue;
                }
                let (key, _, t0) = &tables[i];
                let head = title(t0, key);
                let _ = write!(
                    s,
                    "<h3>{} <span class=\"note\">(data.{})</span></h3>\n<div class=\"row\">",
                    esc(&head),
                    esc(key)
                );
                for j in i..tables.len() {
                    let (k2, si, t) = &tables[j];
                    if done[j] || k2 != key || title(t, k2) != head {
                        continue;
                    }
                    done[j] = true;
                    let _ = write!(
                        s,
                        "<table><caption>{}</caption><tr>",
                        esc(&self.labels[*si])
                    );
                    for c in t
                        .get("columns")
                        .and_then(|c| c.as_array())
                        .into_iter()
                        .flatten()
                    {
                        let _ = write!(s, "<th>{}</th>", esc(&cell_text(c)));
                    }
                    s.push_str("</tr>\n");
                    for row in t
                        .get("rows")
                        .and_then(|r| r.as_array())
                        .into_iter()
                        .flatten()
                    {
                        s.push_str("<tr>");
                        for c in row.as_array().into_iter().flatten() {
                            let class = if c.is_number() { " class=\"num\"" } else { "" };
                            let _ = write!(s, "<td{class}>{}</td>", esc(&cell_text(c)));
                        }
                        s.push_str("</tr>\n");
                    }
                    s.push_str("</table>\n");
                }
                s.push_str("</div>\n");
            }
        }
        s.push_str("</body></html>\n");
        s
    }

    /// The Markdown twin of the page (tables instead of charts).
    pub fn markdown(&self) -> String {
        let mut s = String::from("# kobench report\n\n## Machines\n\n| |");
        for l in &self.labels {
            let _ = write!(s, " {} |", md(l));
        }
        let _ = writeln!(s, "\n|---|{}", "---|".repeat(self.labels.len()));
        for (k, vals) in self.machine_rows() {
            let _ = writeln!(
                s,
                "| {} | {} |",
                md(&k),
                vals.iter().map(|v| md(v)).collect::<Vec<_>>().join(" | ")
            );
        }
        let _ = write!(s, "\n## Rule verdicts (rule × machine)\n\n| rule |");
        for l in &self.labels {
            let _ = write!(s, " {} |", md(l));
        }
        let _ = writeln!(s, "\n|---|{}", "---|".repeat(self.labels.len()));
        for (rule, per) in self.verdicts_by_rule() {
            let cells: Vec<String> = per
                .iter()
                .map(|os| match outcome_summary(os) {
                    Some((Outcome::Fail, t)) => format!("**{t}**"),
                    Some((_, t)) => t,
                    None => "—".into(),
                })
                .collect();
            let _ = writeln!(s, "| {rule} | {} |", cells.join(" | "));
        }
        for w in self.workloads() {
            let _ = writeln!(s, "\n## {w}\n");
            for st in self.statuses(&w) {
                let _ = writeln!(s, "> {}\n", md(&st));
            }
            let fams = self.families(&w);
            for f in fams.iter().filter(|f| f.x.is_some()) {
                let x = f.x.unwrap_or("");
                let _ = write!(
                    s,
                    "### {} ({}, p50 / p99 vs {x})\n\n| series | {x} |",
                    f.key, f.unit
                );
                for l in &self.labels {
                    let _ = write!(s, " {} |", md(l));
                }
                let _ = writeln!(s, "\n|---|---:|{}", "---:|".repeat(self.labels.len()));
                let mut rows: Vec<(String, f64)> =
                    f.ms.iter()
                        .filter_map(|(_, m)| Some((self.variant(f, m), num(m.m.params.get(x))?)))
                        .collect();
                rows.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
                rows.dedup();
                for (v, xv) in rows {
                    let cells: Vec<String> = (0..self.sets.len())
                        .map(|i| {
                            f.ms.iter()
                                .find(|(j, m)| {
                                    *j == i
                                        && self.variant(f, m) == v
                                        && num(m.m.params.get(x)) == Some(xv)
                                })
                                .map(|(_, m)| {
                                    format!(
                                        "{} / {}",
                                        value(m.p50(), &f.unit),
                                        value(m.m.summary.p99 as f64, &f.unit)
                                    )
                                })
                                .unwrap_or_else(|| "—".into())
                        })
                        .collect();
                    let _ = writeln!(
                        s,
                        "| {} | {} | {} |",
                        if v.is_empty() { "—".into() } else { md(&v) },
                        xv,
                        cells.join(" | ")
                    );
                }
                s.push('\n');
            }
            let points = self.point_rows(&fams);
            if !points.is_empty() {
                s.push_str("### Single-point measurements (p50 / p99)\n\n| measurement |");
                for l in &self.labels {
                    let _ = write!(s, " {} |", md(l));
                }
                let _ = writeln!(s, "\n|---|{}", "---:|".repeat(self.labels.len()));
                for (id, unit, vals) in points {
                    let cells: Vec<String> = vals
                        .iter()
                        .map(|v| {
                            v.map(|(a, b)| {
                                format!("{} / {}", value(a, &unit), value(b as f64, &unit))
                            })
                            .unwrap_or_else(|| "—".into())
                        })
                        .collect();
                    let _ = writeln!(s, "| `{}` | {} |", md(&id), cells.join(" | "));
                }
                s.push('\n');
            }
            for (key, si, t) in self.data_tables(&w) {
                let title = t.get("title").map(cell_text).unwrap_or_else(|| key.clone());
                let cols: Vec<String> = t
                    .get("columns")
                    .and_then(|c| c.as_array())
                    .into_iter()
                    .flatten()
                    .map(|c| md(&cell_text(c)))
                    .collect();
                let _ = writeln!(
                    s,
                    "### {} ({})\n\n| {} |\n|{}",
                    md(&title),
                    md(&self.labels[si]),
                    cols.join(" | "),
                    "---|".repeat(cols.len().max(1))
                );
                for row in t
                    .get("rows")
                    .and_then(|r| r.as_array())
                    .into_iter()
                    .flatten()
                {
                    let cells: Vec<String> = row
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|c| md(&cell_text(c)))
                        .collect();
                    let _ = writeln!(s, "| {} |", cells.join(" | "));
                }
                s.push('\n');
            }
        }
        s
    }
}

/// Labels that tell the sets apart: the hostname, then with the CPUs used, the profile,
/// and finally the path, whichever first makes them distinct.
pub fn labels(sets: &[ResultSet]) -> Vec<String> {
    let levels: [&dyn Fn(&ResultSet) -> String; 4] = [
        &|s| s.first().fingerprint.hostname.clone(),
        &|s| {
            format!(
                "{} cpus {}",
                s.first().fingerprint.hostname,
                kobench_harness::cpus::format_list(&s.first().cpus.ids())
            )
        },
        &|s| {
            format!(
                "{} cpus {} {}",
                s.first().fingerprint.hostname,
                kobench_harness::cpus::format_list(&s.first().cpus.ids()),
                s.first().profile
            )
        },
        &|s| s.path.clone(),
    ];
    for f in levels {
        let l: Vec<String> = sets.iter().map(f).collect();
        let mut d = l.clone();
        d.sort();
        d.dedup();
        if d.len() == l.len() {
            return l;
        }
    }
    sets.iter()
        .enumerate()
        .map(|(i, s)| format!("#{} {}", i + 1, s.path))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    fn sets() -> Vec<ResultSet> {
        let mut m3 = fixtures::run("m3", 0);
        m3.workloads[1].status = WorkloadStatus::TimedOut;
        m3.workloads[1].note = "overran 30 s at readv 1 MiB".into();
        vec![
            ResultSet::from_runs(
                "m1.json",
                vec![fixtures::run("m1", 0), fixtures::run("m1", 1)],
            ),
            ResultSet::from_runs("m2.json", vec![fixtures::run("m2", 0)]),
            ResultSet::from_runs("m3.json", vec![m3]),
        ]
    }

    #[test]
    fn families_pick_x_and_series() {
        let s = sets();
        let r = Report::new(&s);
        let f = r.families("membarrier");
        let pe = f
            .iter()
            .find(|f| f.key == "membarrier/PRIVATE_EXPEDITED")
            .unwrap();
        assert_eq!(pe.x, Some("threads"));
        assert_eq!(pe.split, ["placement"]);
        let p = r.families("process_vm");
        assert!(p
            .iter()
            .all(|f| f.x == Some("size_bytes") && f.split.is_empty()));
        let charts = r.charts(&p);
        // readv and writev each with the memcpy ceiling overlaid; memcpy not drawn alone.
        assert_eq!(charts.len(), 2);
        assert_eq!(
            charts[0]
                .series
                .iter()
                .filter(|s| s.name.ends_with("memcpy ceiling"))
                .count(),
            3
        );
        assert!(charts[0].x_log && !charts[0].y_log);
    }

    #[test]
    fn labels_disambiguate() {
        let a = fixtures::run("vm", 0);
        let mut b = a.clone();
        b.cpus.cpus.truncate(1);
        let s = vec![
            ResultSet::from_runs("a", vec![a.clone()]),
            ResultSet::from_runs("b", vec![b]),
        ];
        assert_eq!(labels(&s), ["vm cpus 0-1", "vm cpus 0"]);
        let s = vec![
            ResultSet::from_runs("a", vec![a.clone()]),
            ResultSet::from_runs("b", vec![a]),
        ];
        assert_eq!(labels(&s), ["a", "b"]);
    }

    #[test]
    fn html_is_self_contained_and_has_every_section() {
        let s = sets();
        let html = Report::new(&s).html();
        assert!(
            !html.contains("<script")
                && !html.contains("src=\"http")
                && !html.contains("@import")
                && !html.contains("url(")
        );
        for want in [
            "id=\"machines\"",
            "id=\"verdicts\"",
            "id=\"w-membarrier\"",
            "id=\"w-process_vm\"",
            "id=\"w-kcmp\"",
            "kcmp KCMP_FILE: same file?",
            "latency CDF",
            "memcpy ceiling",
            "timed_out — overran 30 s",
        ] {
            assert!(html.contains(want), "missing {want}");
        }
        // 3 membarrier families × (percentiles + CDF) + readv + writev.
        assert_eq!(html.matches("<svg").count(), 8);
        // PVM-DATA fails on m3 only.
        assert!(html.contains("<td class=\"fail\">fail 1</td>"));
    }

    #[test]
    fn markdown_snapshot() {
        let s = sets();
        insta::assert_snapshot!("report_markdown", Report::new(&s).markdown());
    }

    #[test]
    fn chart_snapshot() {
        let s = sets();
        let r = Report::new(&s);
        let f = r.families("process_vm");
        let charts = r.charts(&f);
        insta::assert_snapshot!("report_readv_chart_svg", plot::svg(&charts[0]));
    }
}
