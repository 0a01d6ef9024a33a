//! `kobench`: CLI -> options -> runner -> result file -> reports.

mod cli;
mod cmd_compare;
mod cmd_export;
mod cmd_gates;
mod cmd_info;
mod cmd_litmus;
mod cmd_report;
mod cmd_run;
mod cmd_stress;
mod exit;

use clap::Parser;

/// Prints a clap error as one line (`kobench: error: ...`) and returns the exit code;
/// help and version go out as clap prints them.
fn usage_error(e: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return if e.use_stderr() {
            exit::USAGE
        } else {
            exit::OK
        };
    }
    let text = e.render().to_string();
    let line = text
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information")
        })
        .map(|l| l.strip_prefix("error: ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join(" ");
    eprintln!("kobench: error: {line} (see kobench --help)");
    exit::USAGE
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // Helper mode first: a re-executed kobench serving as a target or a fresh process for
    // rule checks. It must stay single-threaded, so no CLI parsing, no handlers.
    if args.get(1).map(String::as_str) == Some("__helper") {
        std::process::exit(kobench_workloads::helpers::helper_main(&args[2..]));
    }
    kobench_harness::sys::process::default_sigpipe();
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => std::process::exit(usage_error(e)),
    };
    let code = match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            let (code, msg) = match e.downcast_ref::<exit::Exit>() {
                Some(x) => (x.code, x.message.clone()),
                None => (exit::IO, format!("{e:#}")),
            };
            eprintln!("kobench: error: {msg}");
            code
        }
    };
    std::process::exit(code);
}

fn dispatch(cli: cli::Cli) -> anyhow::Result<i32> {
    match cli.command {
        cli::Command::Run(a) => cmd_run::run(a),
        cli::Command::Env(a) => cmd_info::env(a),
        cli::Command::Rules(a) => cmd_info::rules(a),
        cli::Command::List(a) => cmd_info::list(a),
        cli::Command::Stress(a) => cmd_stress::run(a),
        cli::Command::Gates(a) => cmd_gates::run(a),
        cli::Command::Litmus(a) => cmd_litmus::run(a),
        cli::Command::Compare(a) => cmd_compare::run(a),
        cli::Command::Report(a) => cmd_report::run(a),
        cli::Command::Export(a) => cmd_export::run(a),
    }
}
