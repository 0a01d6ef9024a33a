//! kobench's core, shared by every workload and report.
//!
//! - [`sys`]: typed syscall wrappers (all of the project's syscalls go through here).
//! - [`cpus`]: the CPU set and `--cpus` parsing; [`pool`]: pinned workers.
//! - [`timer`]: the calibrated clock; [`sample`]: the measuring loop; [`stats`]: histograms.
//! - [`schema`]: the versioned result file; [`rules`]: the rulebook; [`fingerprint`]: the machine.
//! - [`gates`]: the Kobicha access-gate model (SD + PIP), pure.
//! - [`jit`]: stub encodings, W^X maps checks and the code-swap engine (executors, swapper).
//! - [`child`]: helper processes that die with the harness; [`output`]: atomic writes.
//! - [`litmus`]: litmus tests (SB, MP, membarrier variants) on pinned workers.

pub mod child;
pub mod cpus;
pub mod fingerprint;
pub mod gates;
pub mod jit;
pub mod litmus;
pub mod output;
pub mod pattern;
pub mod pool;
pub mod profile;
pub mod rules;
pub mod sample;
pub mod schema;
pub mod stats;
pub mod sys;
pub mod timer;

pub use schema::{Measurement, Outcome, RunResult, Verdict, WorkloadResult, WorkloadStatus};
