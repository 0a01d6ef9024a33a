//! kobench's reports, made from result files alone: they never run a workload.
//!
//! - [`load`]: result sets (a file, or a directory of `--repeat` runs), pooled per metric.
//! - [`compare`]: `kobench compare`: change per metric with a U test and a threshold.
//! - [`stats`]: the Mann-Whitney U test (weighted samples, ties, exact small samples).
//! - [`report`]: `kobench report`: the HTML page (inline SVG) and its Markdown twin.
//! - [`plot`]: the SVG charts (plotters, SVG backend only).
//! - [`export`]: `kobench export`: Bencher Metric Format and github-action-benchmark.
//! - [`table`]: the terminal tables printed at the end of a run.
//! - [`markdown`]: the `summary.md` written beside `results.json`.
//! - [`format`]: unit formatting shared by every renderer.
//! - [`fixtures`]: synthetic results for tests and demonstrations.

pub mod compare;
pub mod export;
pub mod fixtures;
pub mod format;
pub mod load;
pub mod markdown;
pub mod plot;
pub mod report;
pub mod stats;
pub mod table;
