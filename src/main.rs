//! `kobench`: CLI -> options -> runner -> result file -> reports.

mod cli;
mod cmd_compare;
mod cmd_export;
mod cmd_info;
mod cmd_report;
mod cmd_run;
mod exit;

use clap::Parser;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // Helper mode first: a re-executed kobench serving as a target or a fresh process for
    // rule checks. It must stay single-threaded, so no CLI parsing, no handlers.
    if args.get(1).map(String::as_str) == Some("__helper") {
        std::process::exit(kobench_workloads::helpers::helper_main(&args[2..]));
    }
    let cli = cli::Cli::parse();
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
        cli::Command::Compare(a) => cmd_compare::run(a),
        cli::Command::Report(a) => cmd_report::run(a),
        cli::Command::Export(a) => cmd_export::run(a),
    }
}
