//! `kobench stress`: workloads at the same time, checking as they go.

use crate::cli::StressArgs;
use crate::cmd_run::{interrupt_flag, new_result, output_dir, save, select_cpus};
use crate::exit::{self, Exit};
use comfy_table::{presets, Table};
use kobench_harness::timer::Clock;
use kobench_workloads::runner::now_rfc3339;
use kobench_workloads::stress::{self, parse_duration, Config};
use std::sync::atomic::Ordering;
use std::time::Duration;

pub fn run(a: StressArgs) -> anyhow::Result<i32> {
    let duration =
        parse_duration(&a.duration).map_err(|e| Exit::usage(format!("--duration: {e}")))?;
    let interval = match &a.interval {
        Some(i) => parse_duration(i).map_err(|e| Exit::usage(format!("--interval: {e}")))?,
        None => Duration::from_secs(if duration > Duration::from_secs(120) {
            10
        } else {
            2
        }),
    };
    let all = stress::stressors();
    let names: Vec<&str> = all.iter().map(|s| s.name()).collect();
    let chosen = if a.workloads.is_empty() {
        all.iter()
            .filter(|s| s.name() != "test-hang")
            .cloned()
            .collect()
    } else {
        let mut v = Vec::new();
        for w in &a.workloads {
            match all.iter().find(|s| s.name() == w.trim()) {
                Some(s) => v.push(s.clone()),
                None => {
                    return Err(Exit::usage(format!(
                        "unknown stress workload '{w}' for --workloads (known: {})",
                        names.join(", ")
                    ))
                    .into())
                }
            }
        }
        v
    };
    let cpus = select_cpus(a.cpus.as_deref())?;
    let dir = output_dir(a.out.as_deref())?;
    let interrupt = interrupt_flag()?;
    let (_, cal) = Clock::calibrate(Duration::from_millis(20));
    let mut result = new_result("stress", &format!("stress {}", a.duration), &cpus, cal);
    let cfg = Config {
        duration,
        stressors: chosen,
        cpus: cpus.ids(),
        helper_exe: kobench_harness::child::helper_exe(),
        interval,
        stall: Duration::from_secs(a.stall.unwrap_or(30)),
        interrupt: interrupt.clone(),
    };
    eprintln!(
        "kobench stress: {} on CPUs {} for {:?} (Ctrl-C stops and saves)",
        cfg.stressors
            .iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
            .join(", "),
        kobench_harness::cpus::format_list(&cfg.cpus),
        duration
    );
    let (workloads, interrupted) = stress::run(&cfg, |p| {
        let secs = p.elapsed.as_secs_f64().max(1e-9);
        let parts: Vec<String> = p
            .rows
            .iter()
            .map(|(n, ops, errs, viol, _)| {
                format!(
                    "{n} {ops} ops ({:.0}/s) err {errs} viol {viol}",
                    *ops as f64 / secs
                )
            })
            .collect();
        eprintln!(
            "[{:>6.0}s] {} | rss {:.1} MiB",
            secs,
            parts.join(" | "),
            p.rss_kib as f64 / 1024.0
        );
    });
    result.workloads = workloads;
    result.partial = interrupted || interrupt.load(Ordering::Relaxed);
    result.ended_at = Some(now_rfc3339());
    save(&dir, &result, true)?;
    println!("{}", summary_table(&result));
    // Every check that did not pass, with its evidence (all of them are in summary.md).
    let mut bad = result.clone();
    for w in &mut bad.workloads {
        w.measurements.clear();
        w.verdicts
            .retain(|v| v.outcome == kobench_harness::Outcome::Fail);
    }
    if let Some(t) = kobench_reports::table::verdicts(&bad) {
        println!("{t}");
    }
    println!("results: {}", dir.join("results.json").display());
    println!("summary: {}", dir.join("summary.md").display());
    Ok(if result.partial {
        exit::INTERRUPTED
    } else if result.has_failures() {
        exit::FAILED
    } else {
        exit::OK
    })
}

fn summary_table(r: &kobench_harness::RunResult) -> String {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED).set_header(vec![
        "stressor",
        "status",
        "ops",
        "ops/s",
        "errors (expected)",
        "errors (unexpected)",
        "violations",
        "faults injected",
        "max latency",
    ]);
    for w in r.workloads.iter().filter(|w| w.name != "stress-monitor") {
        let d = &w.data;
        let sum = |k: &str| {
            d.get(k)
                .and_then(|v| v.as_object())
                .map(|m| m.values().filter_map(|x| x.as_u64()).sum::<u64>())
                .unwrap_or(0)
        };
        let faults: u64 = d
            .get("faults")
            .and_then(|v| v.as_object())
            .map(|m| m.values().filter_map(|f| f["injected"].as_u64()).sum())
            .unwrap_or(0);
        let max = w
            .measurements
            .first()
            .map(|m| kobench_reports::format::ns(m.summary.max as f64))
            .unwrap_or_default();
        t.add_row(vec![
            w.name.trim_start_matches("stress-").to_string(),
            w.status.as_str().to_string(),
            d.get("ops").map(|v| v.to_string()).unwrap_or_default(),
            d.get("ops_per_s")
                .and_then(|v| v.as_f64())
                .map(|v| format!("{v:.0}"))
                .unwrap_or_default(),
            sum("errors_expected").to_string(),
            sum("errors_unexpected").to_string(),
            d.get("violations")
                .map(|v| v.to_string())
                .unwrap_or_default(),
            faults.to_string(),
            max,
        ]);
    }
    let mut s = t.to_string();
    if let Some(rss) = r
        .workloads
        .iter()
        .find(|w| w.name == "stress-monitor")
        .and_then(|w| w.data.get("rss_kib"))
        .and_then(|v| serde_json::from_value::<Vec<(f64, u64)>>(v.clone()).ok())
    {
        if let Some((a, b)) = stress::rss_drift(&rss) {
            s.push_str(&format!("\nRSS: {:.1} MiB at the first minute mark (or start), {:.1} MiB at the end ({:+.1} %)", a as f64 / 1024.0, b as f64 / 1024.0, (b as f64 / a.max(1) as f64 - 1.0) * 100.0));
        }
    }
    s.push('\n');
    s.push_str(&kobench_reports::table::totals(r));
    s
}
