//! `kobench litmus TEST`: run one litmus test (and its positive control, in the same
//! configuration) and print litmus7-style histograms, the observation line and the verdict;
//! `kobench litmus --list` lists the tests.

use crate::cli::LitmusArgs;
use crate::exit::{self, Exit};
use kobench_harness::litmus::{self, Test};
use kobench_harness::schema::Outcome;
use kobench_harness::timer::Clock;
use kobench_workloads::context::Context;
use kobench_workloads::ordering;
use std::time::Duration;

/// The most instances one invocation may ask for.
pub const MAX_ITERATIONS: u64 = 1_000_000_000;

/// Parses `--iterations`: a whole number in 1..=MAX_ITERATIONS (`_` separators allowed).
pub fn parse_iterations(s: &str) -> Result<u64, Exit> {
    let t = s.trim().replace('_', "");
    let bad = |why: &str| Exit::usage(format!("--iterations '{s}': {why}"));
    if t.starts_with('-') {
        return Err(bad("must be a positive whole number"));
    }
    let n: u64 = t.parse().map_err(|_| {
        if t.chars().all(|c| c.is_ascii_digit()) && !t.is_empty() {
            bad(&format!("too large (at most {MAX_ITERATIONS})"))
        } else {
            bad("not a whole number")
        }
    })?;
    match n {
        0 => Err(bad("must be at least 1")),
        n if n > MAX_ITERATIONS => Err(bad(&format!("too large (at most {MAX_ITERATIONS})"))),
        n => Ok(n),
    }
}

fn list() -> i32 {
    println!(
        "{:<38} {:<9} {:<9} {:<18} code",
        "test", "x86_64", "weak", "role"
    );
    for t in litmus::catalog() {
        let role = match t.role {
            _ if t.test_only => "test-only".to_string(),
            litmus::test::Role::Control => "control".to_string(),
            litmus::test::Role::Rule(r) => r.to_string(),
            litmus::test::Role::Info => "info".to_string(),
            litmus::test::Role::Sanity => "sanity".to_string(),
            litmus::test::Role::Mutation(r) => format!("mutation of {r}"),
        };
        println!(
            "{:<38} {:<9} {:<9} {:<18} P0: {} | P1: {}",
            t.name,
            t.expect_x86_64.as_str(),
            t.expect_weak.as_str(),
            role,
            t.code(0),
            t.code(1)
        );
    }
    exit::OK
}

fn find(name: &str) -> Result<Test, Exit> {
    litmus::find(name).ok_or_else(|| {
        Exit::usage(format!(
            "unknown litmus test '{name}' (see `kobench litmus --list`)"
        ))
    })
}

pub fn run(a: LitmusArgs) -> anyhow::Result<i32> {
    if a.list {
        return Ok(list());
    }
    let Some(name) = a.test.as_deref() else {
        return Err(Exit::usage("litmus needs a TEST name (see `kobench litmus --list`)").into());
    };
    let test = find(name)?;
    let iterations = a.iterations.as_deref().map(parse_iterations).transpose()?;
    let cpus = crate::cmd_run::select_cpus(a.cpus.as_deref())?;
    let interrupt = crate::cmd_run::interrupt_flag()?;
    let (clock, _) = Clock::calibrate(Duration::from_millis(50));
    let mut ctx = Context::for_tests(kobench_harness::child::helper_exe(), None);
    ctx.cpus = std::sync::Arc::new(cpus);
    ctx.clock = clock;
    ctx.cancel = interrupt.clone();
    let Some(pair) = ordering::pick_cpus(&ctx) else {
        return Err(Exit::usage(format!(
            "a litmus test needs 2 CPUs; --cpus gave {}",
            ctx.cpus.len()
        ))
        .into());
    };
    let mut cfg = ordering::config_for(&test, pair, kobench_harness::profile::Profile::Quick);
    cfg.iterations = iterations.unwrap_or(1_000_000);
    cfg.time_budget = if iterations.is_some() {
        Duration::from_secs(24 * 3600)
    } else {
        Duration::from_secs(10)
    };
    let control = match test.control().map(find).transpose()? {
        Some(ct) => {
            let c = ordering::run_test(&ct, &cfg, &ctx.clock, &ctx.helper_exe, &interrupt)
                .map_err(|e| Exit::io(format!("{}: {e}", ct.name)))?;
            println!("{}", c.litmus_text(&ct));
            Some(c)
        }
        None => None,
    };
    let counts = ordering::run_test(&test, &cfg, &ctx.clock, &ctx.helper_exe, &interrupt)
        .map_err(|e| Exit::io(format!("{}: {e}", test.name)))?;
    print!("{}", counts.litmus_text(&test));
    let v = ordering::verdict_for(&test, &counts, control.as_ref());
    println!(
        "Verdict {} {}: {} (expected {}; {})",
        v.rule,
        test.name,
        v.outcome.as_str().to_uppercase(),
        v.expected,
        v.note
    );
    Ok(if interrupt.load(std::sync::atomic::Ordering::Relaxed) {
        exit::INTERRUPTED
    } else if v.outcome == Outcome::Fail {
        exit::FAILED
    } else {
        exit::OK
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterations_parse_and_refuse() {
        assert_eq!(parse_iterations("1000").unwrap(), 1000);
        assert_eq!(parse_iterations("1_000_000").unwrap(), 1_000_000);
        for (s, why) in [
            ("0", "at least 1"),
            ("-5", "positive"),
            ("abc", "not a whole number"),
            ("1.5", "not a whole number"),
            ("", "not a whole number"),
            ("99999999999999999999999", "too large"),
            ("1000000001", "too large"),
        ] {
            let e = parse_iterations(s).unwrap_err();
            assert_eq!(e.code, exit::USAGE);
            assert!(e.message.contains(why), "{s}: {}", e.message);
        }
    }
}
