//! `kobench compare BASE NEW`: per-metric change with a significance test and a threshold,
//! and rule verdicts that got worse.
//!
//! A metric is **regressed** (or **improved**) only when both hold: the U test says the
//! two sides differ (p < alpha) and the median moved by more than the metric's threshold
//! in the worse (better) direction. Otherwise it is **unchanged**; a metric on one side
//! only is **missing** (listed, never a failure).
//!
//! Samples for the test: with ≥ [`MIN_REPEATS`] runs on both sides, each run's p50 is one
//! sample (run-to-run noise is what a regression must beat; per-call samples within one
//! run are not independent of it). With fewer, the pooled per-call samples of the stored
//! histograms are used: very sensitive, so the threshold does the real work there. The
//! medians compared are the median of the runs' p50s, or the pooled p50.
//!
//! A verdict (workload, rule, check) that passed in every base run and is `fail` or
//! `inconclusive` in any new run is always a regression.

use crate::format::value;
use crate::load::{Merged, ResultSet};
use crate::stats::{mann_whitney, unweighted};
use kobench_harness::schema::Outcome;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Runs per side from which each run's p50 is a sample of the test.
pub const MIN_REPEATS: usize = 3;

/// Comparison settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// Relative change (0.05 = 5 %) a significant difference must exceed.
    pub threshold: f64,
    /// `(glob, threshold)`: the first pattern matching a metric id wins.
    pub overrides: Vec<(String, f64)>,
    /// Significance level of the U test.
    pub alpha: f64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            threshold: 0.05,
            overrides: Vec::new(),
            alpha: 0.01,
        }
    }
}

impl Options {
    pub fn threshold_for(&self, id: &str) -> f64 {
        self.overrides
            .iter()
            .find(|(g, _)| glob(g, id))
            .map(|x| x.1)
            .unwrap_or(self.threshold)
    }
}

/// Parses `5%`, `5` (percent) or `12.5%` into a fraction.
pub fn parse_percent(s: &str) -> Result<f64, String> {
    let t = s.trim().trim_end_matches('%').trim();
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v / 100.0),
        _ => Err(format!("'{s}' is not a percentage (like 5% or 12.5)")),
    }
}

/// Parses `PATTERN=PCT` (`membarrier/GLOBAL*=20%`).
pub fn parse_override(s: &str) -> Result<(String, f64), String> {
    let (g, p) = s
        .rsplit_once('=')
        .ok_or_else(|| format!("'{s}' is not PATTERN=PERCENT (like 'membarrier/GLOBAL*=20%')"))?;
    Ok((g.trim().to_string(), parse_percent(p)?))
}

/// `*` matches any run of characters, `?` one character.
pub fn glob(pattern: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pattern.chars().collect(), s.chars().collect());
    let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Regressed,
    Improved,
    Unchanged,
    Missing,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Regressed => "regressed",
            Status::Improved => "improved",
            Status::Unchanged => "unchanged",
            Status::Missing => "missing",
        }
    }
}

/// One metric's comparison.
#[derive(Clone, Debug)]
pub struct MetricRow {
    pub id: String,
    pub unit: String,
    pub smaller_is_better: bool,
    pub base: Option<f64>,
    pub new: Option<f64>,
    /// new / base - 1.
    pub change: Option<f64>,
    pub p: Option<f64>,
    /// How the test was made (`U, 5×5 runs`, `U, 3000×2998 calls`, `threshold only`).
    pub test: String,
    pub threshold: f64,
    pub status: Status,
}

/// One verdict's comparison.
#[derive(Clone, Debug)]
pub struct VerdictRow {
    pub workload: String,
    pub rule: String,
    pub check: String,
    pub base: String,
    pub new: String,
    pub status: Status,
}

/// The whole comparison.
#[derive(Clone, Debug)]
pub struct Comparison {
    pub base_label: String,
    pub new_label: String,
    /// Different machines, profiles or CPU sets; partial runs.
    pub warnings: Vec<String>,
    pub metrics: Vec<MetricRow>,
    pub verdicts: Vec<VerdictRow>,
    pub alpha: f64,
}

impl Comparison {
    pub fn regressions(&self) -> usize {
        self.metrics
            .iter()
            .filter(|m| m.status == Status::Regressed)
            .count()
            + self
                .verdicts
                .iter()
                .filter(|v| v.status == Status::Regressed)
                .count()
    }

    fn count(&self, s: Status) -> (usize, usize) {
        (
            self.metrics.iter().filter(|m| m.status == s).count(),
            self.verdicts.iter().filter(|v| v.status == s).count(),
        )
    }

    /// `metrics: 1 regressed, ...; verdicts: ...`.
    pub fn totals(&self) -> String {
        let f = |which: usize| {
            [
                Status::Regressed,
                Status::Improved,
                Status::Unchanged,
                Status::Missing,
            ]
            .iter()
            .map(|&s| {
                let c = self.count(s);
                format!("{} {}", if which == 0 { c.0 } else { c.1 }, s.as_str())
            })
            .collect::<Vec<_>>()
            .join(", ")
        };
        format!("metrics: {}; verdicts: {}", f(0), f(1))
    }
}

fn describe(set: &ResultSet) -> String {
    let r = set.first();
    format!(
        "{} — {}, profile {}, CPUs {}, {} run(s)",
        set.path,
        r.fingerprint.label(),
        r.profile,
        kobench_harness::cpus::format_list(&r.cpus.ids()),
        set.runs.len()
    )
}

/// Differences that make a comparison questionable.
pub fn mismatches(base: &ResultSet, new: &ResultSet) -> Vec<String> {
    let mut w = Vec::new();
    for set in [base, new] {
        for r in &set.runs[1..] {
            if r.fingerprint.label() != set.first().fingerprint.label()
                || r.profile != set.first().profile
            {
                w.push(format!(
                    "{}: its runs come from different machines or profiles",
                    set.path
                ));
                break;
            }
        }
        if set.runs.iter().any(|r| r.partial) {
            w.push(format!("{}: holds a partial (interrupted) run", set.path));
        }
    }
    let (b, n) = (base.first(), new.first());
    let (fb, fnw) = (&b.fingerprint, &n.fingerprint);
    for (what, x, y) in [
        (
            "machine (hostname)",
            fb.hostname.clone(),
            fnw.hostname.clone(),
        ),
        ("CPU model", fb.cpu_model.clone(), fnw.cpu_model.clone()),
        (
            "kernel",
            fb.kernel_version.clone(),
            fnw.kernel_version.clone(),
        ),
        (
            "online CPUs",
            fb.cpus_online.to_string(),
            fnw.cpus_online.to_string(),
        ),
        ("profile", b.profile.clone(), n.profile.clone()),
        (
            "CPUs used",
            kobench_harness::cpus::format_list(&b.cpus.ids()),
            kobench_harness::cpus::format_list(&n.cpus.ids()),
        ),
    ] {
        if x != y {
            w.push(format!("different {what}: base {x}, new {y}"));
        }
    }
    w
}

fn samples_of(m: &Merged) -> Option<Vec<(f64, u64)>> {
    m.hist.as_ref().map(|h| {
        h.iter_recorded()
            .map(|v| (v.value_iterated_to() as f64, v.count_at_value()))
            .collect()
    })
}

fn compare_metric(b: &Merged, n: &Merged, o: &Options) -> MetricRow {
    let threshold = o.threshold_for(&b.m.id);
    let (base_v, new_v, test, p) = if b.p50s.len() >= MIN_REPEATS && n.p50s.len() >= MIN_REPEATS {
        let t = mann_whitney(&unweighted(&b.p50s), &unweighted(&n.p50s));
        (
            crate::stats::median(&b.p50s),
            crate::stats::median(&n.p50s),
            format!("U, {}×{} runs", b.p50s.len(), n.p50s.len()),
            t.map(|t| t.p),
        )
    } else {
        match (samples_of(b), samples_of(n)) {
            (Some(sb), Some(sn)) => {
                let t = mann_whitney(&sb, &sn);
                let test = t
                    .as_ref()
                    .map(|t| format!("U, {}×{} calls", t.n1, t.n2))
                    .unwrap_or_else(|| "no samples".into());
                (Some(b.p50()), Some(n.p50()), test, t.map(|t| t.p))
            }
            _ => (Some(b.p50()), Some(n.p50()), "threshold only".into(), None),
        }
    };
    let change = match (base_v, new_v) {
        (Some(x), Some(y)) if x > 0.0 => Some(y / x - 1.0),
        (Some(x), Some(y)) if x == 0.0 && y == 0.0 => Some(0.0),
        _ => None,
    };
    let significant = p.map(|p| p < o.alpha).unwrap_or(true);
    let status = match change {
        Some(c) if significant && c.abs() > threshold => {
            let worse = if b.m.smaller_is_better {
                c > 0.0
            } else {
                c < 0.0
            };
            if worse {
                Status::Regressed
            } else {
                Status::Improved
            }
        }
        Some(_) => Status::Unchanged,
        None => Status::Missing,
    };
    MetricRow {
        id: b.m.id.clone(),
        unit: b.m.unit.clone(),
        smaller_is_better: b.m.smaller_is_better,
        base: base_v,
        new: new_v,
        change,
        p,
        test,
        threshold,
        status,
    }
}

fn missing(m: &Merged, base_side: bool, o: &Options) -> MetricRow {
    let v = Some(m.p50());
    MetricRow {
        id: m.m.id.clone(),
        unit: m.m.unit.clone(),
        smaller_is_better: m.m.smaller_is_better,
        base: if base_side { v } else { None },
        new: if base_side { None } else { v },
        change: None,
        p: None,
        test: if base_side {
            "only in base".into()
        } else {
            "only in new".into()
        },
        threshold: o.threshold_for(&m.m.id),
        status: Status::Missing,
    }
}

type VerdictKey = (String, String, String);

fn outcomes(set: &ResultSet) -> (Vec<VerdictKey>, BTreeMap<VerdictKey, Vec<Outcome>>) {
    let mut order = Vec::new();
    let mut map: BTreeMap<VerdictKey, Vec<Outcome>> = BTreeMap::new();
    for r in &set.runs {
        for (w, v) in r.verdicts() {
            let k = (w.name.clone(), v.rule.clone(), v.check.clone());
            if !map.contains_key(&k) {
                order.push(k.clone());
            }
            map.entry(k).or_default().push(v.outcome);
        }
    }
    (order, map)
}

fn outcome_text(os: &[Outcome]) -> String {
    let mut counts: BTreeMap<Outcome, usize> = BTreeMap::new();
    for o in os {
        *counts.entry(*o).or_default() += 1;
    }
    if counts.len() == 1 {
        return os[0].as_str().to_string();
    }
    counts
        .iter()
        .map(|(o, c)| format!("{}×{c}", o.as_str()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Compares two result sets.
pub fn compare(base: &ResultSet, new: &ResultSet, o: &Options) -> Comparison {
    let (mb, mn) = (base.merged(), new.merged());
    let mut metrics = Vec::new();
    for b in &mb {
        match mn.iter().find(|n| n.m.id == b.m.id) {
            Some(n) if b.m.summary.count > 0 && n.m.summary.count > 0 => {
                metrics.push(compare_metric(b, n, o))
            }
            Some(_) | None => metrics.push(missing(b, true, o)),
        }
    }
    for n in mn.iter().filter(|n| !mb.iter().any(|b| b.m.id == n.m.id)) {
        metrics.push(missing(n, false, o));
    }
    let (order_b, vb) = outcomes(base);
    let (order_n, vn) = outcomes(new);
    let mut verdicts = Vec::new();
    for k in order_b
        .iter()
        .chain(order_n.iter().filter(|k| !vb.contains_key(*k)))
    {
        let (ob, on) = (vb.get(k), vn.get(k));
        let status = match (ob, on) {
            (Some(ob), Some(on)) => {
                let base_pass = ob.iter().all(|&x| x == Outcome::Pass);
                let new_bad = on
                    .iter()
                    .any(|&x| matches!(x, Outcome::Fail | Outcome::Inconclusive));
                let base_bad = ob.contains(&Outcome::Fail);
                if base_pass && new_bad {
                    Status::Regressed
                } else if base_bad && on.iter().all(|&x| x == Outcome::Pass) {
                    Status::Improved
                } else {
                    Status::Unchanged
                }
            }
            _ => Status::Missing,
        };
        verdicts.push(VerdictRow {
            workload: k.0.clone(),
            rule: k.1.clone(),
            check: k.2.clone(),
            base: ob.map(|x| outcome_text(x)).unwrap_or_else(|| "—".into()),
            new: on.map(|x| outcome_text(x)).unwrap_or_else(|| "—".into()),
            status,
        });
    }
    Comparison {
        base_label: describe(base),
        new_label: describe(new),
        warnings: mismatches(base, new),
        metrics,
        verdicts,
        alpha: o.alpha,
    }
}

fn pct(c: Option<f64>) -> String {
    c.map(|c| format!("{:+.1}%", c * 100.0))
        .unwrap_or_else(|| "—".into())
}

fn pval(p: Option<f64>) -> String {
    match p {
        None => "—".into(),
        Some(p) if p < 1e-4 => "<0.0001".into(),
        Some(p) => format!("{p:.4}"),
    }
}

fn val(v: Option<f64>, unit: &str) -> String {
    v.map(|v| value(v, unit)).unwrap_or_else(|| "—".into())
}

fn metric_cells(m: &MetricRow) -> Vec<String> {
    vec![
        m.id.clone(),
        val(m.base, &m.unit),
        val(m.new, &m.unit),
        pct(m.change),
        pval(m.p),
        m.test.clone(),
        format!("{:.0}%", m.threshold * 100.0),
        m.status.as_str().to_uppercase(),
    ]
}

const METRIC_HEADER: [&str; 8] = [
    "metric (p50)",
    "base",
    "new",
    "change",
    "p",
    "test",
    "threshold",
    "status",
];

/// Which verdict rows to show: every one that is not plainly unchanged.
fn shown_verdicts(c: &Comparison) -> impl Iterator<Item = &VerdictRow> {
    c.verdicts
        .iter()
        .filter(|v| v.status != Status::Unchanged || v.base != v.new)
}

/// The terminal rendering.
pub fn render_terminal(c: &Comparison, width: Option<u16>) -> String {
    use comfy_table::{presets, ContentArrangement, Table};
    let mut s = format!("base: {}\nnew:  {}\n", c.base_label, c.new_label);
    for w in &c.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    let mk = |header: Vec<&str>| {
        let mut t = Table::new();
        t.load_style(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(header);
        if let Some(w) = width {
            t.set_width(w);
        }
        t
    };
    let mut t = mk(METRIC_HEADER.to_vec());
    for m in &c.metrics {
        t.add_row(metric_cells(m));
    }
    if !c.metrics.is_empty() {
        let _ = writeln!(s, "{t}");
    }
    let mut t = mk(vec!["workload", "rule", "check", "base", "new", "status"]);
    let mut any = false;
    for v in shown_verdicts(c) {
        any = true;
        t.add_row(vec![
            v.workload.clone(),
            v.rule.clone(),
            v.check.clone(),
            v.base.clone(),
            v.new.clone(),
            v.status.as_str().to_uppercase(),
        ]);
    }
    if any {
        let _ = writeln!(s, "{t}");
    }
    let _ = writeln!(
        s,
        "{} (alpha {}, {} verdicts identical)",
        c.totals(),
        c.alpha,
        c.verdicts.len() - shown_verdicts(c).count()
    );
    s
}

fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The Markdown rendering (for a CI step summary).
pub fn render_markdown(c: &Comparison) -> String {
    let mut s = String::from("# kobench compare\n\n");
    let n = c.regressions();
    let _ = writeln!(
        s,
        "{}\n",
        if n == 0 {
            "**No regression.**".to_string()
        } else {
            format!("**{n} regression(s).**")
        }
    );
    let _ = writeln!(
        s,
        "- base: {}\n- new: {}\n",
        md(&c.base_label),
        md(&c.new_label)
    );
    for w in &c.warnings {
        let _ = writeln!(s, "> **Warning:** {}\n", md(w));
    }
    if !c.metrics.is_empty() {
        let _ = writeln!(
            s,
            "| {} |\n|---|---:|---:|---:|---:|---|---:|---|",
            METRIC_HEADER.join(" | ")
        );
        for m in &c.metrics {
            let mut cells = metric_cells(m);
            cells[0] = format!("`{}`", md(&cells[0]));
            if m.status != Status::Unchanged {
                cells[7] = format!("**{}**", cells[7]);
            }
            let _ = writeln!(s, "| {} |", cells.join(" | "));
        }
        s.push('\n');
    }
    let shown: Vec<&VerdictRow> = shown_verdicts(c).collect();
    if !shown.is_empty() {
        let _ = writeln!(
            s,
            "| workload | rule | check | base | new | status |\n|---|---|---|---|---|---|"
        );
        for v in shown {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | **{}** |",
                v.workload,
                v.rule,
                md(&v.check),
                v.base,
                v.new,
                v.status.as_str()
            );
        }
        s.push('\n');
    }
    let _ = writeln!(s, "{} (U test alpha {}; a metric changes only when p < alpha and the p50 moves past its threshold)", c.totals(), c.alpha);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    #[test]
    fn globs_and_percentages() {
        assert!(glob(
            "membarrier/GLOBAL*",
            "membarrier/GLOBAL_EXPEDITED/spin/1"
        ));
        assert!(glob("*/spin/?", "membarrier/GLOBAL/spin/1"));
        assert!(!glob(
            "membarrier/GLOBAL*",
            "membarrier/PRIVATE_EXPEDITED/none/0"
        ));
        assert!(glob("*", ""));
        assert_eq!(parse_percent("5%"), Ok(0.05));
        assert_eq!(parse_percent("12.5"), Ok(0.125));
        assert!(parse_percent("fast").is_err());
        assert_eq!(
            parse_override("membarrier/GLOBAL*=20%"),
            Ok(("membarrier/GLOBAL*".into(), 0.2))
        );
        let o = Options {
            overrides: vec![("membarrier/GLOBAL*".into(), 0.2)],
            ..Options::default()
        };
        assert_eq!(o.threshold_for("membarrier/GLOBAL/none/0"), 0.2);
        assert_eq!(o.threshold_for("membarrier/getppid/none/0"), 0.05);
    }

    #[test]
    fn identical_sets_are_unchanged() {
        let a = ResultSet::from_runs("a", vec![fixtures::run("m1", 0)]);
        let c = compare(&a, &a, &Options::default());
        assert_eq!(c.regressions(), 0);
        assert!(c
            .metrics
            .iter()
            .all(|m| m.status == Status::Unchanged && m.change == Some(0.0)));
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn injected_latency_is_flagged_on_that_metric_alone() {
        let base = fixtures::run("m1", 0);
        let new = fixtures::scaled(&base, "membarrier/PRIVATE_EXPEDITED/spin/1", 1.2);
        let c = compare(
            &ResultSet::from_runs("a", vec![base]),
            &ResultSet::from_runs("b", vec![new]),
            &Options::default(),
        );
        let flagged: Vec<&str> = c
            .metrics
            .iter()
            .filter(|m| m.status != Status::Unchanged)
            .map(|m| m.id.as_str())
            .collect();
        assert_eq!(flagged, ["membarrier/PRIVATE_EXPEDITED/spin/1"]);
        let m = c
            .metrics
            .iter()
            .find(|m| m.status == Status::Regressed)
            .unwrap();
        assert!((m.change.unwrap() - 0.2).abs() < 0.01, "{:?}", m.change);
        assert!(m.p.unwrap() < 1e-6);
        assert_eq!(c.regressions(), 1);
    }

    #[test]
    fn throughput_drop_regresses_and_override_silences() {
        let base = fixtures::run("m1", 0);
        let new = fixtures::scaled(&base, "process_vm/readv/65536", 0.8);
        let (b, n) = (
            ResultSet::from_runs("a", vec![base]),
            ResultSet::from_runs("b", vec![new]),
        );
        let c = compare(&b, &n, &Options::default());
        let m = c
            .metrics
            .iter()
            .find(|m| m.id == "process_vm/readv/65536")
            .unwrap();
        assert_eq!(m.status, Status::Regressed);
        let o = Options {
            overrides: vec![("process_vm/*".into(), 0.25)],
            ..Options::default()
        };
        assert_eq!(compare(&b, &n, &o).regressions(), 0);
    }

    #[test]
    fn repeats_use_run_medians() {
        // Five base runs and five new runs; the new ones 10 % slower on every metric.
        let base: Vec<_> = (0..5).map(|i| fixtures::run("m1", i)).collect();
        let new: Vec<_> = base.iter().map(|r| fixtures::scaled_all(r, 1.10)).collect();
        let c = compare(
            &ResultSet::from_runs("a", base.clone()),
            &ResultSet::from_runs("b", new),
            &Options::default(),
        );
        let m = c
            .metrics
            .iter()
            .find(|m| m.id == "membarrier/PRIVATE_EXPEDITED/spin/1")
            .unwrap();
        assert_eq!(m.test, "U, 5×5 runs");
        assert!((m.p.unwrap() - 2.0 / 252.0).abs() < 1e-9);
        assert_eq!(m.status, Status::Regressed);
        // Same runs against themselves, reordered: nothing moves.
        let mut rev = base.clone();
        rev.reverse();
        let c = compare(
            &ResultSet::from_runs("a", base),
            &ResultSet::from_runs("b", rev),
            &Options::default(),
        );
        assert_eq!(c.regressions(), 0);
    }

    #[test]
    fn verdict_pass_to_fail_or_inconclusive_regresses_and_mismatch_warns() {
        let base = fixtures::run("m1", 0);
        let mut new = fixtures::run("m1", 0);
        new.fingerprint.hostname = "m2".into();
        new.workloads[0].verdicts[0].outcome = Outcome::Inconclusive;
        new.workloads[0].measurements.pop();
        let c = compare(
            &ResultSet::from_runs("a", vec![base]),
            &ResultSet::from_runs("b", vec![new]),
            &Options::default(),
        );
        assert_eq!(c.verdicts[0].status, Status::Regressed);
        assert_eq!(c.verdicts[0].new, "inconclusive");
        assert_eq!(c.verdicts[1].status, Status::Unchanged);
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("different machine (hostname): base m1, new m2")),
            "{:?}",
            c.warnings
        );
        assert_eq!(
            c.metrics
                .iter()
                .filter(|m| m.status == Status::Missing)
                .count(),
            1
        );
        assert_eq!(c.regressions(), 1);
    }

    #[test]
    fn renders_snapshot() {
        let base = fixtures::run("m1", 0);
        let mut new = fixtures::scaled(&base, "membarrier/PRIVATE_EXPEDITED/spin/1", 1.2);
        new.workloads[0].verdicts[0].outcome = Outcome::Fail;
        let c = compare(
            &ResultSet::from_runs("base.json", vec![base]),
            &ResultSet::from_runs("new.json", vec![new]),
            &Options::default(),
        );
        insta::assert_snapshot!("compare_terminal", render_terminal(&c, Some(160)));
        insta::assert_snapshot!("compare_markdown", render_markdown(&c));
    }
}
