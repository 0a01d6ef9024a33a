//! The command line (clap). Types stop here: commands turn these into options.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "kobench",
    version,
    about = "Benchmark and stress harness for membarrier, process_vm and kcmp, checked against the Kobicha rules",
    after_help = "Exit codes: 0 all verdicts pass; 1 a verdict or workload failed; 2 bad usage; 3 input/output error; 130 interrupted (partial results saved)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the workloads, print latency and verdict tables, save results.json and summary.md.
    Run(RunArgs),
    /// Print this machine's fingerprint (stored in every result too).
    Env(FormatArgs),
    /// List every rule ID with its text and the workload that checks it.
    Rules(FormatArgs),
    /// List the workloads, what each exercises and why it may be unavailable.
    List(FormatArgs),
    /// Run the workloads concurrently for a duration, with fault injection, checking as they go.
    Stress(StressArgs),
    /// Check the Kobicha access gates (kcmp, process_vm) scenario by scenario: model vs kernel.
    Gates(GatesArgs),
    /// Run one litmus test (with its positive control) and print litmus7-style output.
    Litmus(LitmusArgs),
}

#[derive(Args, Debug)]
pub struct StressArgs {
    /// How long to run: e.g. 30s, 10m, 1h.
    #[arg(long, default_value = "60s", allow_hyphen_values = true)]
    pub duration: String,
    /// Stressors to run (comma-separated; default all): membarrier, ordering, process_vm, kcmp.
    #[arg(long, value_delimiter = ',')]
    pub workloads: Vec<String>,
    /// CPUs to use, as a list like 0,2-5 (default: every CPU this process may use).
    #[arg(long)]
    pub cpus: Option<String>,
    /// Directory for results.json and summary.md (default: kobench-results/<timestamp>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Progress line period (default 2s, or 10s for runs over 2 minutes).
    #[arg(long, allow_hyphen_values = true)]
    pub interval: Option<String>,
    /// Seconds without progress after which a stressor is reported failed (watchdog).
    #[arg(long)]
    pub stall: Option<u64>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProfileArg {
    /// Seconds in all (what the test suite uses).
    Smoke,
    /// About a minute on 2 CPUs (the default).
    Quick,
    /// Minutes; enough iterations for the ordering and JIT guarantees.
    Standard,
    /// The long run for nightly CI.
    Nightly,
}

impl ProfileArg {
    pub fn profile(self) -> kobench_harness::profile::Profile {
        use kobench_harness::profile::Profile;
        match self {
            ProfileArg::Smoke => Profile::Smoke,
            ProfileArg::Quick => Profile::Quick,
            ProfileArg::Standard => Profile::Standard,
            ProfileArg::Nightly => Profile::Nightly,
        }
    }
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// How long and how hard to measure.
    #[arg(long, value_enum, default_value = "quick")]
    pub profile: ProfileArg,
    /// Run only these workloads (repeat or comma-separate; see `kobench list`).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// CPUs to use, as a list like 0,2-5 (default: every CPU this process may use).
    #[arg(long)]
    pub cpus: Option<String>,
    /// Directory for results.json and summary.md (default: kobench-results/<timestamp>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write the result JSON here; `-` prints it on stdout (tables then go to stderr).
    #[arg(long)]
    pub json: Option<String>,
    /// process_vm transfer sizes, e.g. 4K,64K,1M,16M (K/M/G = KiB/MiB/GiB; default: the profile's).
    #[arg(long)]
    pub sizes: Option<String>,
    /// process_vm iovec counts per side, e.g. 1,16,256,1024 (each 1 to 1024).
    #[arg(long)]
    pub iovecs: Option<String>,
    /// Workload-specific option KEY=VALUE (repeatable), e.g. process_vm.verify=1.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Per-workload deadline in seconds, overriding the profile's.
    #[arg(long, hide = true)]
    pub deadline: Option<u64>,
}

#[derive(Args, Debug)]
pub struct FormatArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct GatesArgs {
    /// How long to measure the cost of allowed vs denied calls.
    #[arg(long, value_enum, default_value = "quick")]
    pub profile: ProfileArg,
    /// Directory for results.json and summary.md (default: kobench-results/<timestamp>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write the result JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct LitmusArgs {
    /// The test to run (see --list), e.g. SB, SB+mb-private-expedited, MP+xproc+mb-global.
    pub test: Option<String>,
    /// List the tests with their code and expected outcome per architecture.
    #[arg(long)]
    pub list: bool,
    /// Instances to run (1..=1000000000; default 1000000 or 10 s, whichever comes first).
    #[arg(long, allow_hyphen_values = true)]
    pub iterations: Option<String>,
    /// CPUs to use, as a list like 0,2-5 (two are picked, on distinct cores when possible).
    #[arg(long)]
    pub cpus: Option<String>,
}
