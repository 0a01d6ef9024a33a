//! `kobench run`: select workloads, run each under its watchdog, save after each one.

use crate::cli::RunArgs;
use crate::exit::{self, Exit};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kobench_harness::cpus::CpuSet;
use kobench_harness::output::{ensure_writable_dir, write_atomic, write_json_atomic};
use kobench_harness::schema::{RunResult, FORMAT, SCHEMA_VERSION};
use kobench_harness::timer::Clock;
use kobench_workloads::context::{Context, Options, Output};
use kobench_workloads::runner::{now_rfc3339, run_one};
use kobench_workloads::Workload;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The Ctrl-C flag, installed once per process.
pub fn interrupt_flag() -> anyhow::Result<Arc<AtomicBool>> {
    static FLAG: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();
    if let Some(f) = FLAG.get() {
        return Ok(f.clone());
    }
    let flag = Arc::new(AtomicBool::new(false));
    let f2 = flag.clone();
    let first = std::sync::Mutex::new(None::<std::time::Instant>);
    ctrlc::set_handler(move || {
        let mut first = first.lock().unwrap_or_else(|e| e.into_inner());
        match *first {
            None => {
                *first = Some(std::time::Instant::now());
                f2.store(true, Ordering::SeqCst);
            }
            // A second Ctrl-C a while later: leave now (finished workloads are on disk).
            // One within a second is the same interrupt delivered twice (e.g. `timeout`
            // signals the process and its group), so it is ignored.
            Some(t) if t.elapsed() > Duration::from_secs(1) => {
                std::process::exit(exit::INTERRUPTED)
            }
            Some(_) => {}
        }
    })
    .map_err(|e| Exit::io(format!("cannot install the Ctrl-C handler: {e}")))?;
    let _ = FLAG.set(flag.clone());
    Ok(flag)
}

/// Resolves `--only` against the registry; an unknown name is a usage error.
pub fn select_workloads(only: &[String]) -> Result<Vec<Arc<dyn Workload>>, Exit> {
    let all: Vec<Arc<dyn Workload>> = kobench_workloads::registry()
        .into_iter()
        .map(Arc::from)
        .collect();
    if only.is_empty() {
        return Ok(all);
    }
    let names: Vec<&str> = all.iter().map(|w| w.descriptor().name).collect();
    let mut picked = Vec::new();
    for o in only {
        let o = o.trim();
        match all.iter().find(|w| w.descriptor().name == o) {
            // A workload named twice runs once.
            Some(w) => {
                if !picked
                    .iter()
                    .any(|p: &Arc<dyn Workload>| p.descriptor().name == o)
                {
                    picked.push(w.clone());
                }
            }
            None => {
                return Err(Exit::usage(format!(
                    "unknown workload '{o}' for --only (known: {})",
                    names.join(", ")
                )))
            }
        }
    }
    Ok(picked)
}

/// Resolves `--cpus`; a bad list is a usage error naming the CPU.
pub fn select_cpus(list: Option<&str>) -> Result<CpuSet, Exit> {
    CpuSet::discover(list).map_err(|e| Exit::usage(format!("--cpus: {e}")))
}

/// The output directory: `--out`, or `kobench-results/<timestamp>`; created and proven
/// writable before anything runs.
pub fn output_dir(out: Option<&Path>) -> Result<PathBuf, Exit> {
    let dir = match out {
        Some(d) => d.to_path_buf(),
        None => {
            let stamp = now_rfc3339().replace([':', '-'], "").replace('T', "-");
            PathBuf::from("kobench-results").join(stamp.trim_end_matches('Z'))
        }
    };
    ensure_writable_dir(&dir)
        .map_err(|e| Exit::io(format!("cannot write results to {}: {e}", dir.display())))?;
    Ok(dir)
}

/// A new result, marked partial until the run ends.
pub fn new_result(
    command: &str,
    profile: &str,
    cpus: &CpuSet,
    timer: kobench_harness::timer::TimerCalibration,
) -> RunResult {
    RunResult {
        format: FORMAT.into(),
        schema_version: SCHEMA_VERSION,
        kobench_version: env!("CARGO_PKG_VERSION").into(),
        command: command.into(),
        profile: profile.into(),
        fingerprint: crate::cmd_info::fingerprint(),
        cpus: cpus.clone(),
        timer,
        started_at: now_rfc3339(),
        ended_at: None,
        partial: true,
        repeat: None,
        workloads: Vec::new(),
    }
}

/// Writes results.json (and, when `summary`, summary.md) atomically.
pub fn save(dir: &Path, r: &RunResult, summary: bool) -> Result<(), Exit> {
    let p = dir.join("results.json");
    write_json_atomic(&p, r).map_err(|e| Exit::io(format!("cannot write {}: {e}", p.display())))?;
    if summary {
        let m = dir.join("summary.md");
        write_atomic(&m, kobench_reports::markdown::summary(r).as_bytes())
            .map_err(|e| Exit::io(format!("cannot write {}: {e}", m.display())))?;
    }
    Ok(())
}

fn progress_bar(n: usize) -> ProgressBar {
    let pb = ProgressBar::new(n as u64);
    if !std::io::stderr().is_terminal() {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    }
    pb.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {pos}/{len} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// The `--set` keys workloads read (all switches: 1 or 0).
pub const SET_KEYS: &[&str] = &["process_vm.verify", "process_vm.big"];

/// Turns `--sizes`, `--iovecs` and `--set` into workload options; bad values are usage errors.
pub fn options(a: &RunArgs) -> Result<Options, Exit> {
    use kobench_workloads::process_vm::{parse_iovecs, parse_sizes};
    let mut o = Options::default();
    if let Some(s) = &a.sizes {
        o.sizes = Some(parse_sizes(s).map_err(|e| Exit::usage(format!("--sizes: {e}")))?);
    }
    if let Some(s) = &a.iovecs {
        o.iovecs = Some(parse_iovecs(s).map_err(|e| Exit::usage(format!("--iovecs: {e}")))?);
    }
    for kv in &a.set {
        let (k, v) = kv
            .split_once('=')
            .filter(|(k, _)| !k.trim().is_empty())
            .ok_or_else(|| Exit::usage(format!("--set: '{kv}' is not KEY=VALUE")))?;
        let (k, v) = (k.trim(), v.trim());
        if !SET_KEYS.contains(&k) {
            return Err(Exit::usage(format!(
                "--set: unknown key '{k}' (known: {})",
                SET_KEYS.join(", ")
            )));
        }
        if !["0", "1", "true", "false", "yes", "no"].contains(&v) {
            return Err(Exit::usage(format!(
                "--set {k}: '{v}' is not a switch (use 1 or 0)"
            )));
        }
        let on = matches!(v, "1" | "true" | "yes");
        o.extra
            .insert(k.to_string(), if on { "1" } else { "0" }.to_string());
    }
    Ok(o)
}

pub fn run(a: RunArgs) -> anyhow::Result<i32> {
    // Validate everything before measuring anything.
    let workloads = select_workloads(&a.only)?;
    let opts = options(&a)?;
    let cpus = select_cpus(a.cpus.as_deref())?;
    let base_dir = output_dir(a.out.as_deref())?;
    let json_path = match a.json.as_deref() {
        None | Some("-") => None,
        Some(p) => {
            let p = PathBuf::from(p);
            let parent = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            ensure_writable_dir(parent)
                .map_err(|e| Exit::io(format!("cannot write --json {}: {e}", p.display())))?;
            Some(p)
        }
    };
    if a.repeat > 1 && a.json.is_some() {
        return Err(Exit::usage("--json writes one result; with --repeat read the repeat-NN/results.json files under the output directory").into());
    }
    let profile = a.profile.profile();
    let interrupt = interrupt_flag()?;
    let (clock, cal) = Clock::calibrate(Duration::from_millis(50));

    let pb = progress_bar(workloads.len() * a.repeat as usize);
    let pb2 = pb.clone();
    let ctx = Context {
        profile,
        cpus: Arc::new(cpus.clone()),
        clock,
        helper_exe: kobench_harness::child::helper_exe(),
        options: Arc::new(opts),
        cancel: Arc::new(AtomicBool::new(false)),
        out: Output::new(Some(Arc::new(move |m: &str| {
            pb2.set_message(m.to_string())
        }))),
    };
    // With --repeat N, run i goes to DIR/repeat-<i+1, two digits>/ with `repeat` = (i, N).
    let mut failed = false;
    let mut result = new_result("run", profile.name(), &cpus, cal.clone());
    let mut dir = base_dir.clone();
    for i in 0..a.repeat {
        if interrupt.load(Ordering::Relaxed) {
            break;
        }
        if a.repeat > 1 {
            dir = base_dir.join(format!("repeat-{:02}", i + 1));
            ensure_writable_dir(&dir)
                .map_err(|e| Exit::io(format!("cannot write results to {}: {e}", dir.display())))?;
            result = new_result("run", profile.name(), &cpus, cal.clone());
            result.repeat = Some((i, a.repeat));
        }
        for w in &workloads {
            if interrupt.load(Ordering::Relaxed) {
                break;
            }
            pb.set_message(w.descriptor().name.to_string());
            let wr = run_one(
                w.clone(),
                &ctx,
                &interrupt,
                a.deadline.map(Duration::from_secs),
            );
            result.workloads.push(wr);
            save(&dir, &result, false)?;
            pb.inc(1);
        }
        result.partial = interrupt.load(Ordering::Relaxed);
        result.ended_at = Some(now_rfc3339());
        save(&dir, &result, true)?;
        failed |= result.has_failures();
        if a.repeat > 1 {
            let line = format!(
                "repeat {}/{}: {}",
                i + 1,
                a.repeat,
                kobench_reports::table::totals(&result).replace('\n', "; ")
            );
            pb.suspend(|| eprintln!("{line}"));
        }
    }
    pb.finish_and_clear();
    let interrupted = interrupt.load(Ordering::Relaxed);
    if let Some(p) = &json_path {
        write_json_atomic(p, &result)
            .map_err(|e| Exit::io(format!("cannot write {}: {e}", p.display())))?;
    }
    let tables = kobench_reports::table::render(&result);
    let saved = format!(
        "results: {}\nsummary: {}",
        dir.join("results.json").display(),
        dir.join("summary.md").display()
    );
    if a.json.as_deref() == Some("-") {
        eprint!("{tables}");
        eprintln!("{saved}");
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print!("{tables}");
        println!("{saved}");
    }
    if a.repeat > 1 {
        println!(
            "{} runs under {} (compare, report and export read the directory)",
            a.repeat,
            base_dir.display()
        );
    }
    Ok(if interrupted {
        exit::INTERRUPTED
    } else if failed {
        exit::FAILED
    } else {
        exit::OK
    })
}
