//! `kobench export`: a result as Bencher Metric Format or github-action-benchmark JSON.

use crate::cli::{Direction, ExportArgs, ExportFormat};
use crate::exit::{self, Exit};
use kobench_harness::output::write_atomic;
use kobench_reports::export;

pub fn run(a: ExportArgs) -> anyhow::Result<i32> {
    let set = crate::cmd_compare::load_set(&a.result)?;
    let value = match a.format {
        ExportFormat::Bmf => export::bmf(&set),
        ExportFormat::GithubActionBenchmark => {
            export::github_action_benchmark(&set, a.direction == Direction::Smaller)
        }
    };
    let mut text = serde_json::to_string_pretty(&value)?;
    text.push('\n');
    match &a.out {
        Some(p) => write_atomic(p, text.as_bytes())
            .map_err(|e| Exit::io(format!("cannot write {}: {e}", p.display())))?,
        None => print!("{text}"),
    }
    Ok(exit::OK)
}
