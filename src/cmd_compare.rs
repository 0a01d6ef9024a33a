//! `kobench compare BASE NEW`: the regression gate (statistics in `kobench_reports::compare`).
//!
//! Exit codes: 0 no regression; 1 a metric regressed or a verdict went from pass to
//! fail/inconclusive; 2 bad flag values; 3 an unreadable, foreign or too-new result, or
//! (with `--strict`) results from different machines, kernels, CPU sets or profiles.

use crate::cli::CompareArgs;
use crate::exit::{self, Exit};
use kobench_harness::output::write_atomic;
use kobench_reports::compare::{
    compare, parse_override, parse_percent, render_markdown, render_terminal, Options,
};
use kobench_reports::load::ResultSet;
use std::path::Path;

/// Loads a result set; any bad file is an input error naming the file.
pub fn load_set(p: &Path) -> Result<ResultSet, Exit> {
    ResultSet::load(p).map_err(|e| Exit::io(e.to_string()))
}

pub fn run(a: CompareArgs) -> anyhow::Result<i32> {
    let threshold =
        parse_percent(&a.threshold).map_err(|e| Exit::usage(format!("--threshold: {e}")))?;
    let overrides = a
        .metric_threshold
        .iter()
        .map(|s| parse_override(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Exit::usage(format!("--metric-threshold: {e}")))?;
    if !(a.alpha > 0.0 && a.alpha < 1.0) {
        return Err(Exit::usage(format!("--alpha: {} is not between 0 and 1", a.alpha)).into());
    }
    let base = load_set(&a.base)?;
    let new = load_set(&a.new)?;
    let c = compare(
        &base,
        &new,
        &Options {
            threshold,
            overrides,
            alpha: a.alpha,
        },
    );
    let width = (!std::io::IsTerminal::is_terminal(&std::io::stdout())).then_some(160);
    print!("{}", render_terminal(&c, width));
    if let Some(m) = a.markdown.as_deref() {
        let text = render_markdown(&c);
        if m == "-" {
            print!("{text}");
        } else {
            // Appends when the file exists (GitHub's $GITHUB_STEP_SUMMARY collects steps).
            let p = Path::new(m);
            let mut bytes = std::fs::read(p).unwrap_or_default();
            bytes.extend_from_slice(text.as_bytes());
            write_atomic(p, &bytes)
                .map_err(|e| Exit::io(format!("cannot write --markdown {m}: {e}")))?;
        }
    }
    if a.strict && !c.warnings.is_empty() {
        return Err(Exit::io(format!(
            "--strict: the results are not comparable: {}",
            c.warnings.join("; ")
        ))
        .into());
    }
    Ok(if c.regressions() > 0 {
        exit::FAILED
    } else {
        exit::OK
    })
}
