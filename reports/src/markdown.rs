//! `summary.md`: the run as Markdown (machine, measurements, verdicts).

use crate::format::value;
use kobench_harness::schema::RunResult;
use std::fmt::Write;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Renders the Markdown summary of one result.
pub fn summary(r: &RunResult) -> String {
    let f = &r.fingerprint;
    let mut s = String::new();
    let _ = writeln!(s, "# kobench {} — {}\n", r.command, f.label());
    let _ = writeln!(s, "| | |\n|---|---|");
    for (k, v) in [
        (
            "kobench",
            format!("{} (schema {})", r.kobench_version, r.schema_version),
        ),
        ("profile", r.profile.clone()),
        ("kernel", f.kernel_version.clone()),
        (
            "CPU",
            format!(
                "{} ({} online, {} allowed, {} per core, {} NUMA node(s))",
                f.cpu_model, f.cpus_online, f.cpus_allowed, f.threads_per_core, f.numa_nodes
            ),
        ),
        (
            "CPUs used",
            kobench_harness::cpus::format_list(&r.cpus.ids()),
        ),
        ("virtualisation", f.virtualization.clone()),
        (
            "timer",
            format!(
                "{:?}, overhead {:.1} ns, resolution {:.1} ns",
                r.timer.source, r.timer.overhead_ns, r.timer.resolution_ns
            ),
        ),
        ("started", r.started_at.clone()),
        (
            "ended",
            r.ended_at.clone().unwrap_or_else(|| "(partial)".into()),
        ),
    ] {
        let _ = writeln!(s, "| {k} | {} |", cell(&v));
    }
    if r.partial {
        let _ = writeln!(
            s,
            "\n**Partial result**: the run was interrupted; what it gathered is below."
        );
    }
    for w in &r.workloads {
        let _ = writeln!(
            s,
            "\n## {} ({:?}, {:.1} s)\n",
            w.name, w.status, w.duration_s
        );
        if !w.note.is_empty() {
            let _ = writeln!(s, "{}\n", w.note);
        }
        if !w.measurements.is_empty() {
            let _ = writeln!(s, "| measurement | count | p50 | p90 | p99 | p99.9 | max | p50 / floor |\n|---|---:|---:|---:|---:|---:|---:|---:|");
            for m in &w.measurements {
                let v = |x: u64| value(x as f64, &m.unit);
                let m2 = &m.summary;
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} | {} |",
                    cell(&m.id),
                    m2.count,
                    v(m2.p50),
                    v(m2.p90),
                    v(m2.p99),
                    v(m2.p999),
                    v(m2.max),
                    m.derived
                        .get("x_floor")
                        .map(|x| format!("{x:.1}×"))
                        .unwrap_or_default()
                );
            }
            s.push('\n');
        }
        if !w.verdicts.is_empty() {
            let _ = writeln!(
                s,
                "| rule | check | verdict | expected | observed / reason |\n|---|---|---|---|---|"
            );
            for v in &w.verdicts {
                let obs = [v.observed.as_str(), v.note.as_str()]
                    .iter()
                    .filter(|x| !x.is_empty())
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" — ");
                let _ = writeln!(
                    s,
                    "| {} | {} | **{}** | {} | {} |",
                    v.rule,
                    cell(&v.check),
                    v.outcome.as_str(),
                    cell(&v.expected),
                    cell(&obs)
                );
            }
        }
    }
    let _ = writeln!(s, "\n{}", crate::table::totals(r));
    s
}
