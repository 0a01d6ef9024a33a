//! The command line (clap). Types stop here: commands turn these into options.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "kobench",
    version,
    about = "Benchmark and stress harness for membarrier, process_vm and kcmp, checked against the Kobicha rules",
    after_help = "Exit codes: 0 all verdicts pass; 1 a verdict or workload failed, or compare found a regression; 2 bad usage; 3 input/output error; 130 interrupted (partial results saved)."
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
    /// Compare two results (files or --repeat directories): per-metric change with a U test
    /// and a threshold, verdicts that got worse. Exit 1 on regression.
    Compare(CompareArgs),
    /// Write one self-contained HTML page (inline SVG) and Markdown setting results side by side.
    Report(ReportArgs),
    /// Export a result for CI dashboards: Bencher Metric Format or github-action-benchmark.
    Export(ExportArgs),
}

#[derive(Args, Debug)]
pub struct StressArgs {
    /// How long to run: e.g. 30s, 10m, 1h.
    #[arg(long, default_value = "60s", allow_hyphen_values = true)]
    pub duration: String,
    /// Stressors to run (comma-separated; default all): membarrier, ordering, process_vm, kcmp, jit.
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
    /// Seconds without progress after which a stressor is reported failed (watchdog; default 30).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub stall: Option<u64>,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The baseline: a results.json, or a directory written by `run` (with or without --repeat).
    pub base: PathBuf,
    /// The candidate, same forms as BASE.
    pub new: PathBuf,
    /// Relative change of the p50 a significant difference must exceed (percent).
    #[arg(long, default_value = "5%")]
    pub threshold: String,
    /// Per-metric threshold, PATTERN=PERCENT with * and ? globs on the metric id
    /// (e.g. 'membarrier/GLOBAL*=20%'); repeatable; the first match wins.
    #[arg(long = "metric-threshold")]
    pub metric_threshold: Vec<String>,
    /// Significance level of the Mann-Whitney U test.
    #[arg(long, default_value_t = 0.01)]
    pub alpha: f64,
    /// Also write the comparison as Markdown here (e.g. $GITHUB_STEP_SUMMARY); `-` for stdout.
    #[arg(long)]
    pub markdown: Option<String>,
    /// Different machines, kernels, CPU sets or profiles are an error (exit 3), not a warning.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Results to set side by side (files or `run` directories); one column/legend entry each.
    #[arg(required = true)]
    pub results: Vec<PathBuf>,
    /// Output directory for report.html and report.md.
    #[arg(short = 'o', long = "out")]
    pub out: PathBuf,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Bencher Metric Format (`bencher run --adapter json`).
    Bmf,
    /// github-action-benchmark custom JSON array (customSmallerIsBetter / customBiggerIsBetter).
    GithubActionBenchmark,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Direction {
    /// Latencies and other smaller-is-better metrics (tool: customSmallerIsBetter).
    Smaller,
    /// Throughputs (tool: customBiggerIsBetter).
    Bigger,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The result to export (a results.json or a `run` directory).
    pub result: PathBuf,
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// For github-action-benchmark: which metrics (one tool per array).
    #[arg(long, value_enum, default_value = "smaller")]
    pub direction: Direction,
    /// Write here instead of stdout.
    #[arg(short = 'o', long = "out")]
    pub out: Option<PathBuf>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProfileArg {
    /// Seconds in all (what the test suite uses).
    Smoke,
    /// About 20 s on 2 CPUs (the default).
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
    /// Run everything N times: DIR/repeat-01/results.json ... (what `compare` needs for its
    /// test on run medians; 5 or more recommended).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: u32,
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
