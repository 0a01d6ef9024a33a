//! kobench's reports, made from result files alone: they never run a workload.
//!
//! - [`table`]: the terminal tables printed at the end of a run.
//! - [`markdown`]: the `summary.md` written beside `results.json`.
//! - [`format`]: unit formatting shared by every renderer.

pub mod format;
pub mod markdown;
pub mod table;
