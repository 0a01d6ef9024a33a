//! The verdict rule, as a pure function of counts (unit-tested with synthetic counts).
//!
//! - A condition expected Never that was seen under a membarrier variant (or under the
//!   mutation, or under fences on both sides) is `fail`, with the counts.
//! - A Never counts as `pass` only if the positive control, run in the same configuration
//!   (same CPUs, same batch shape), saw the condition; otherwise `inconclusive`, saying why.
//! - A positive control passes when it saw the condition, else it is `inconclusive` (the
//!   harness, not the kernel, failed to create overlap).
//! - Variants that promise nothing (information) are `info`.
//!
//! With 0 positives in N instances the 95 % upper bound on the per-instance rate is
//! `-ln(0.05)/N ≈ 3/N` (the rule of three), printed beside the control's observed rate.

use super::test::{Expect, Role};
use crate::schema::Outcome;

/// Positives (instances satisfying the condition) out of a total.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct Observed {
    pub positive: u64,
    pub total: u64,
}

impl Observed {
    pub fn new(positive: u64, total: u64) -> Observed {
        Observed { positive, total }
    }

    /// `Never`, `Always` or `Sometimes`, litmus7's words (`Never` also for an empty run).
    pub fn observation(&self) -> &'static str {
        if self.positive == 0 {
            "Never"
        } else if self.positive == self.total {
            "Always"
        } else {
            "Sometimes"
        }
    }

    pub fn rate(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.positive as f64 / self.total as f64
        }
    }
}

/// The 95 % upper bound on the per-instance rate after 0 positives in `n` (rule of three:
/// `-ln 0.05 / n`).
pub fn upper_bound_95(n: u64) -> f64 {
    if n == 0 {
        1.0
    } else {
        (-(0.05f64).ln() / n as f64).min(1.0)
    }
}

/// What [`judge`] decided.
#[derive(Clone, Debug, PartialEq)]
pub struct Judgement {
    pub outcome: Outcome,
    pub expected: String,
    pub observed: String,
    pub note: String,
}

fn pct(x: f64) -> String {
    format!("{:.3} %", x * 100.0)
}

/// Judges one test's counts against its expectation, given its positive control's counts
/// (run in the same configuration) when it has one.
pub fn judge(expect: Expect, role: Role, obs: Observed, control: Option<Observed>) -> Judgement {
    let observed = format!(
        "{} {} {} (of {})",
        obs.observation(),
        obs.positive,
        obs.total - obs.positive,
        obs.total
    );
    let mk = |outcome, expected: &str, note: String| Judgement {
        outcome,
        expected: expected.to_string(),
        observed: observed.clone(),
        note,
    };
    if obs.total == 0 {
        return mk(
            Outcome::Inconclusive,
            expect.as_str(),
            "no instance ran".into(),
        );
    }
    match (role, expect) {
        (Role::Info, _) => mk(
            Outcome::Info,
            expect.as_str(),
            format!("rate {}; information only, no promise", pct(obs.rate())),
        ),
        (_, Expect::Allowed) => mk(
            Outcome::Info,
            "Allowed",
            format!("rate {}", pct(obs.rate())),
        ),
        (_, Expect::Sometimes) => {
            if obs.positive > 0 {
                mk(
                    Outcome::Pass,
                    "Sometimes",
                    format!("positive control: rate {}", pct(obs.rate())),
                )
            } else {
                mk(Outcome::Inconclusive, "Sometimes", format!("positive control saw the relaxed outcome 0 times in {}: the harness made no overlap here, so a Never in this configuration proves nothing", obs.total))
            }
        }
        (_, Expect::Never) => {
            if obs.positive > 0 {
                return mk(
                    Outcome::Fail,
                    "Never",
                    format!(
                        "forbidden outcome seen {} times in {} (rate {})",
                        obs.positive,
                        obs.total,
                        pct(obs.rate())
                    ),
                );
            }
            let bound = format!(
                "95 % upper bound {:.2e} per instance",
                upper_bound_95(obs.total)
            );
            match control {
                None => mk(Outcome::Inconclusive, "Never", format!("{bound}; no positive control ran in this configuration")),
                Some(c) if c.positive == 0 => mk(Outcome::Inconclusive, "Never", format!("{bound}; the positive control saw the relaxed outcome 0 times in {} in the same configuration, so this Never proves nothing", c.total)),
                Some(c) => mk(Outcome::Pass, "Never", format!("{bound} vs the positive control's observed rate {} ({} of {})", pct(c.rate()), c.positive, c.total)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: Role = Role::Rule("MB-ORDER-PRIVATE");

    #[test]
    fn a_forbidden_count_fails_with_the_counts() {
        let j = judge(
            Expect::Never,
            RULE,
            Observed::new(3, 1_000_000),
            Some(Observed::new(50_000, 1_000_000)),
        );
        assert_eq!(j.outcome, Outcome::Fail);
        assert_eq!(j.observed, "Sometimes 3 999997 (of 1000000)");
        assert!(j.note.contains("3 times in 1000000"), "{}", j.note);
    }

    #[test]
    fn a_forbidden_count_fails_even_without_a_control() {
        assert_eq!(
            judge(Expect::Never, RULE, Observed::new(1, 10), None).outcome,
            Outcome::Fail
        );
        assert_eq!(
            judge(
                Expect::Never,
                Role::Mutation("MB-ORDER-PRIVATE"),
                Observed::new(7, 10),
                Some(Observed::new(0, 10))
            )
            .outcome,
            Outcome::Fail
        );
    }

    #[test]
    fn never_passes_only_with_a_control_that_saw_it() {
        let j = judge(
            Expect::Never,
            RULE,
            Observed::new(0, 1_000_000),
            Some(Observed::new(120, 10_000)),
        );
        assert_eq!(j.outcome, Outcome::Pass);
        assert_eq!(j.observed, "Never 0 1000000 (of 1000000)");
        assert!(j.note.contains("3.00e-6"), "{}", j.note);
        assert!(j.note.contains("1.200 %"), "{}", j.note);
    }

    #[test]
    fn a_control_that_saw_nothing_makes_never_inconclusive() {
        let j = judge(
            Expect::Never,
            RULE,
            Observed::new(0, 1_000_000),
            Some(Observed::new(0, 1_000_000)),
        );
        assert_eq!(j.outcome, Outcome::Inconclusive);
        assert!(j.note.contains("0 times in 1000000"), "{}", j.note);
        let j = judge(Expect::Never, RULE, Observed::new(0, 5), None);
        assert_eq!(j.outcome, Outcome::Inconclusive);
        assert!(j.note.contains("no positive control"));
    }

    #[test]
    fn controls_and_info() {
        assert_eq!(
            judge(
                Expect::Sometimes,
                Role::Control,
                Observed::new(1, 100),
                None
            )
            .outcome,
            Outcome::Pass
        );
        assert_eq!(
            judge(
                Expect::Sometimes,
                Role::Control,
                Observed::new(0, 100),
                None
            )
            .outcome,
            Outcome::Inconclusive
        );
        assert_eq!(
            judge(Expect::Allowed, Role::Info, Observed::new(5, 100), None).outcome,
            Outcome::Info
        );
        assert_eq!(
            judge(Expect::Never, Role::Info, Observed::new(5, 100), None).outcome,
            Outcome::Info
        );
        assert_eq!(
            judge(
                Expect::Never,
                RULE,
                Observed::new(0, 0),
                Some(Observed::new(9, 9))
            )
            .outcome,
            Outcome::Inconclusive
        );
    }

    #[test]
    fn observation_words_and_bound() {
        assert_eq!(Observed::new(0, 9).observation(), "Never");
        assert_eq!(Observed::new(9, 9).observation(), "Always");
        assert_eq!(Observed::new(1, 9).observation(), "Sometimes");
        assert!((upper_bound_95(1_000_000) - 2.9957e-6).abs() < 1e-9);
        assert_eq!(upper_bound_95(0), 1.0);
        assert_eq!(upper_bound_95(1), 1.0);
    }
}
