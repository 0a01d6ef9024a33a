//! kobench's exit codes, in one place (the README's table is copied from here).

/// Everything ran and no verdict failed (skip, n/a, inconclusive do not fail a run).
pub const OK: i32 = 0;
/// A rule verdict failed, a workload failed or overran its deadline, or (`compare`) a
/// metric regressed or a verdict went from pass (in every base run) to fail or
/// inconclusive.
pub const FAILED: i32 = 1;
/// Bad usage: unknown flag or value, bad CPU list, unknown workload or test.
pub const USAGE: i32 = 2;
/// An input or output problem: an unwritable output place; an unreadable, empty,
/// truncated, malformed, foreign or too-new result file (`compare`, `report`, `export`: one
/// line naming the file); or `compare --strict` on results from different machines,
/// kernels, CPU sets or profiles.
pub const IO: i32 = 3;
/// Interrupted by Ctrl-C (SIGINT); the results gathered so far were saved, marked partial.
pub const INTERRUPTED: i32 = 130;

/// An error that carries its exit code.
#[derive(Debug)]
pub struct Exit {
    pub code: i32,
    pub message: String,
}

impl Exit {
    pub fn usage(msg: impl Into<String>) -> Exit {
        Exit {
            code: USAGE,
            message: msg.into(),
        }
    }

    pub fn io(msg: impl Into<String>) -> Exit {
        Exit {
            code: IO,
            message: msg.into(),
        }
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}
