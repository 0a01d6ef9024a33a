//! `kobench gates`: the Kobicha access-gate matrix (model vs kernel) and the cost of an
//! allowed vs a denied call; saved like `kobench run` (results.json, summary.md).

use crate::cli::GatesArgs;
use crate::cmd_run::{interrupt_flag, new_result, output_dir, save, select_cpus};
use crate::exit::{self, Exit};
use comfy_table::{presets, ContentArrangement, Table};
use kobench_harness::output::write_json_atomic;
use kobench_harness::schema::{RunResult, WorkloadResult};
use kobench_harness::timer::Clock;
use kobench_workloads::context::{Context, Options, Output};
use kobench_workloads::gates::{GateEnv, Gates};
use kobench_workloads::runner::{now_rfc3339, run_one};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The matrix as printed: scenario, expected, observed, verdict (and the model's reason).
pub fn matrix(w: &WorkloadResult) -> Option<String> {
    let m = w.data.get("matrix")?;
    let cols: Vec<&str> = m
        .get("columns")?
        .as_array()?
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    let idx = |name: &str| cols.iter().position(|c| *c == name);
    let pick = ["scenario", "model", "expected", "observed", "verdict"].map(idx);
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(vec!["scenario", "model", "expected", "observed", "verdict"]);
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        t.set_width(180);
    }
    for row in m.get("rows")?.as_array()? {
        let cells = row.as_array()?;
        let cell = |i: Option<usize>| {
            i.and_then(|i| cells.get(i))
                .and_then(|c| c.as_str())
                .unwrap_or("")
                .to_string()
        };
        let mut r: Vec<String> = pick.iter().map(|i| cell(*i)).collect();
        r[4] = r[4].to_uppercase();
        t.add_row(r);
    }
    Some(t.to_string())
}

pub fn run(a: GatesArgs) -> anyhow::Result<i32> {
    let cpus = select_cpus(None)?;
    let dir = output_dir(a.out.as_deref())?;
    let profile = a.profile.profile();
    let interrupt = interrupt_flag()?;
    let env = GateEnv::probe();
    if let Some(msg) = env.not_root_message() {
        eprintln!("kobench gates: {msg}");
    }
    let (clock, cal) = Clock::calibrate(Duration::from_millis(50));
    let mut result: RunResult = new_result("gates", profile.name(), &cpus, cal);
    let ctx = Context {
        profile,
        cpus: Arc::new(cpus),
        clock,
        helper_exe: kobench_harness::child::helper_exe(),
        options: Arc::new(Options::default()),
        cancel: Arc::new(AtomicBool::new(false)),
        out: Output::new(None),
    };
    let wr = run_one(Arc::new(Gates), &ctx, &interrupt, None);
    let table = matrix(&wr);
    result.workloads.push(wr);
    let interrupted = interrupt.load(Ordering::Relaxed);
    result.partial = interrupted;
    result.ended_at = Some(now_rfc3339());
    save(&dir, &result, true)?;
    if let Some(p) = &a.json {
        write_json_atomic(p, &result)
            .map_err(|e| Exit::io(format!("cannot write {}: {e}", p.display())))?;
    }
    if let Some(t) = table {
        println!("{t}");
    }
    if let Some(t) = kobench_reports::table::measurements(&result) {
        println!("{t}");
    }
    println!("{}", kobench_reports::table::totals(&result));
    if let Some(msg) = env.not_root_message() {
        println!("{msg}");
    }
    println!(
        "results: {}\nsummary: {}",
        dir.join("results.json").display(),
        dir.join("summary.md").display()
    );
    Ok(if interrupted {
        exit::INTERRUPTED
    } else if result.has_failures() {
        exit::FAILED
    } else {
        exit::OK
    })
}
