//! What a workload gets to run with, and where it puts what it finds.

use kobench_harness::cpus::CpuSet;
use kobench_harness::profile::Profile;
use kobench_harness::schema::{Measurement, Verdict};
use kobench_harness::timer::Clock;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Workload options from the command line (each workload reads the ones it knows).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// process_vm transfer sizes in bytes (`--sizes`).
    pub sizes: Option<Vec<usize>>,
    /// process_vm iovec counts (`--iovecs`).
    pub iovecs: Option<Vec<usize>>,
    /// Free-form `--set KEY=VALUE` options, for workload-specific knobs.
    pub extra: BTreeMap<String, String>,
}

/// What a workload has gathered so far. Shared with the runner, which keeps it even when
/// the workload overruns or is interrupted.
#[derive(Debug, Default, Clone)]
pub struct Gathered {
    pub measurements: Vec<Measurement>,
    pub verdicts: Vec<Verdict>,
    pub data: BTreeMap<String, serde_json::Value>,
    /// The last progress message: where the workload was.
    pub at: String,
}

/// A progress callback (the progress bar).
pub type ProgressFn = Arc<dyn Fn(&str) + Send + Sync>;

/// Where a workload puts its results.
#[derive(Clone, Default)]
pub struct Output {
    inner: Arc<Mutex<Gathered>>,
    progress: Option<ProgressFn>,
}

impl Output {
    pub fn new(progress: Option<ProgressFn>) -> Output {
        Output {
            inner: Arc::default(),
            progress,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Gathered) -> R) -> R {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut g)
    }

    pub fn measurement(&self, m: Measurement) {
        self.with(|g| g.measurements.push(m))
    }

    pub fn verdict(&self, v: Verdict) {
        self.with(|g| g.verdicts.push(v))
    }

    pub fn verdicts(&self, vs: impl IntoIterator<Item = Verdict>) {
        self.with(|g| g.verdicts.extend(vs))
    }

    pub fn data(&self, key: &str, value: serde_json::Value) {
        self.with(|g| {
            g.data.insert(key.to_string(), value);
        })
    }

    /// Reports progress (shown on the progress bar; remembered as "where it was").
    pub fn progress(&self, msg: &str) {
        self.with(|g| g.at = msg.to_string());
        if let Some(p) = &self.progress {
            p(msg)
        }
    }

    /// A copy of what was gathered so far.
    pub fn snapshot(&self) -> Gathered {
        self.with(|g| g.clone())
    }
}

/// Everything a workload runs with.
#[derive(Clone)]
pub struct Context {
    pub profile: Profile,
    pub cpus: Arc<CpuSet>,
    pub clock: Clock,
    /// The executable providing `__helper` mode.
    pub helper_exe: PathBuf,
    pub options: Arc<Options>,
    /// Raised by Ctrl-C or the watchdog: stop soon, keep what you have.
    pub cancel: Arc<AtomicBool>,
    pub out: Output,
}

impl Context {
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// A context for tests and benches: the smoke profile, all allowed CPUs (or `cpus`),
    /// helpers from `helper_exe`.
    pub fn for_tests(helper_exe: PathBuf, cpus: Option<&str>) -> Context {
        let (clock, _) = Clock::calibrate(std::time::Duration::from_millis(20));
        Context {
            profile: Profile::Smoke,
            cpus: Arc::new(CpuSet::discover(cpus).expect("CPU set")),
            clock,
            helper_exe,
            options: Arc::default(),
            cancel: Arc::default(),
            out: Output::new(None),
        }
    }
}
