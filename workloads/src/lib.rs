//! kobench's workloads: one module per workload, listed once in [`registry`].
//!
//! A workload is a [`Workload`]: a [`Descriptor`] (what it exercises, which rules it
//! checks, why it may be unavailable), an availability probe, and `run`, which pushes
//! measurements, verdicts and data into the shared [`Output`] as it goes, so a workload
//! stopped by its deadline or by Ctrl-C still leaves what it gathered. The [`runner`]
//! runs the selected workloads one after another, each under a watchdog.

pub mod context;
pub mod gates;
pub mod helpers;
pub mod jit;
pub mod kcmp;
pub mod membarrier;
pub mod ordering;
pub mod process_vm;
pub mod registry;
pub mod runner;
pub mod stress;

pub use context::{Context, Options, Output};
pub use registry::{find, registry};

use std::time::Duration;

/// What `kobench list` shows for a workload.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Descriptor {
    pub name: &'static str,
    pub summary: &'static str,
    /// Syscalls and mechanisms it exercises.
    pub exercises: &'static [&'static str],
    /// Rule IDs its verdicts name.
    pub rules: &'static [&'static str],
    /// Whether it checks correctness (not only speed).
    pub verifies: bool,
    /// Why it may be unavailable on a machine.
    pub unavailable_when: &'static str,
}

/// One workload.
pub trait Workload: Send + Sync {
    fn descriptor(&self) -> Descriptor;

    /// `Some(reason)` when it cannot run here (the run records it as skipped).
    fn unavailable(&self, _ctx: &Context) -> Option<String> {
        None
    }

    /// How long it may run before the watchdog reports it failed.
    fn deadline(&self, ctx: &Context) -> Duration {
        ctx.profile.pick(
            Duration::from_secs(60),
            Duration::from_secs(120),
            Duration::from_secs(600),
            Duration::from_secs(3600),
        )
    }

    /// Measures and checks, pushing results into `ctx.out` as it goes.
    fn run(&self, ctx: &Context) -> anyhow::Result<()>;
}
