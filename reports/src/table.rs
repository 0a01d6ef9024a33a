//! Terminal tables: latency percentiles and rule verdicts.

use crate::format::value;
use comfy_table::{presets, ContentArrangement, Table};
use kobench_harness::schema::{Outcome, RunResult, WorkloadStatus};

fn new_table(header: Vec<&str>) -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        t.set_width(160);
    }
    t
}

/// The measurement table: one row per measurement.
pub fn measurements(r: &RunResult) -> Option<Table> {
    let mut t = new_table(vec![
        "measurement",
        "count",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max",
        "p50 / floor",
    ]);
    let mut any = false;
    for m in r.measurements() {
        any = true;
        let s = &m.summary;
        let f = |v: u64| value(v as f64, &m.unit);
        t.add_row(vec![
            m.id.clone(),
            s.count.to_string(),
            f(s.p50),
            f(s.p90),
            f(s.p99),
            f(s.p999),
            f(s.max),
            m.derived
                .get("x_floor")
                .map(|x| format!("{x:.1}×"))
                .unwrap_or_default(),
        ]);
    }
    any.then_some(t)
}

/// The verdict table: one row per verdict.
pub fn verdicts(r: &RunResult) -> Option<Table> {
    let mut t = new_table(vec![
        "rule",
        "check",
        "verdict",
        "expected",
        "observed / reason",
    ]);
    let mut any = false;
    for (_, v) in r.verdicts() {
        any = true;
        let observed = if v.note.is_empty() {
            v.observed.clone()
        } else if v.observed.is_empty() {
            v.note.clone()
        } else {
            format!("{} ({})", v.observed, v.note)
        };
        t.add_row(vec![
            v.rule.clone(),
            v.check.clone(),
            v.outcome.as_str().to_uppercase(),
            v.expected.clone(),
            observed,
        ]);
    }
    any.then_some(t)
}

/// Counts of verdicts by outcome, and workloads that did not complete.
pub fn totals(r: &RunResult) -> String {
    let count = |o: Outcome| r.verdicts().filter(|(_, v)| v.outcome == o).count();
    let mut s = format!(
        "verdicts: {} pass, {} fail, {} inconclusive, {} skip, {} n/a",
        count(Outcome::Pass),
        count(Outcome::Fail),
        count(Outcome::Inconclusive),
        count(Outcome::Skip),
        count(Outcome::NotApplicable)
    );
    for w in &r.workloads {
        if w.status != WorkloadStatus::Completed {
            s.push_str(&format!(
                "\nworkload {}: {}: {}",
                w.name,
                w.status.as_str(),
                w.note
            ));
        }
    }
    s
}

/// Everything printed at the end of a run.
pub fn render(r: &RunResult) -> String {
    let mut s = String::new();
    if let Some(t) = measurements(r) {
        s.push_str(&t.to_string());
        s.push('\n');
    }
    if let Some(t) = verdicts(r) {
        s.push_str(&t.to_string());
        s.push('\n');
    }
    s.push_str(&totals(r));
    s.push('\n');
    s
}
