//! What a litmus test is: data, interpreted by the [engine](super::engine).

use crate::sys::membarrier::Cmd;
use serde::Serialize;

/// A barrier between two memory operations of one thread.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Barrier {
    /// Nothing at all.
    None,
    /// `compiler_fence(SeqCst)`: stops the compiler, emits no instruction (Linux `barrier()`).
    Compiler,
    /// `fence(SeqCst)`: `mfence` on x86_64, `dmb ish` on aarch64 (Linux `smp_mb()`).
    Fence,
    /// `membarrier(cmd, 0, 0)` through `sys::membarrier`.
    Membarrier(Cmd),
    /// Test-only mutation: stands where `membarrier(cmd)` should be and does nothing, so a
    /// test that still expects Never must come out `fail`.
    Omitted(Cmd),
}

impl Barrier {
    pub fn label(self) -> String {
        match self {
            Barrier::None => "none".into(),
            Barrier::Compiler => "compiler barrier".into(),
            Barrier::Fence => "full fence".into(),
            Barrier::Membarrier(c) => format!("membarrier({})", c.name()),
            Barrier::Omitted(c) => format!("membarrier({}) OMITTED (mutation)", c.name()),
        }
    }

    /// The membarrier command this barrier issues (or stands for).
    pub fn command(self) -> Option<Cmd> {
        match self {
            Barrier::Membarrier(c) | Barrier::Omitted(c) => Some(c),
            _ => None,
        }
    }
}

/// One operation of a thread. Locations and registers are small indices.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Op {
    /// `loc = value`
    Store {
        loc: usize,
        value: u64,
    },
    /// `reg = loc`
    Load {
        loc: usize,
        reg: usize,
    },
    Barrier(Barrier),
}

/// What the architecture's model says about the test's condition.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// Forbidden: must be Never.
    Never,
    /// Allowed, and a good harness sees it: a positive control must be Sometimes.
    Sometimes,
    /// Allowed by the model but not required to show (reported only).
    Allowed,
}

impl Expect {
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Never => "Never",
            Expect::Sometimes => "Sometimes",
            Expect::Allowed => "Allowed",
        }
    }
}

/// What a test's result is used for.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Proves the harness can see the condition in this configuration.
    Control,
    /// Checks a membarrier guarantee (the rule ID).
    Rule(&'static str),
    /// Reported as information only (e.g. PRIVATE_EXPEDITED across processes).
    Info,
    /// Hardware-model sanity (fences on both sides, MP on TSO): reported, and a forbidden
    /// outcome here means the engine or the machine is broken.
    Sanity,
    /// Test-only: the barrier is omitted while the verdict still expects Never.
    Mutation(&'static str),
}

/// A litmus test. Thread 0 is the slow side (it may issue membarrier), thread 1 the fast side.
#[derive(Clone, Debug, Serialize)]
pub struct Test {
    pub name: String,
    /// `SB` or `MP`.
    pub family: &'static str,
    /// Names of the locations, by index (`x`, `y`).
    pub locs: &'static [&'static str],
    pub threads: Vec<Vec<Op>>,
    /// The condition: every `(thread, reg, value)` holds. The relaxed outcome of a
    /// control, the forbidden outcome of a barrier variant.
    pub condition: Vec<(usize, usize, u64)>,
    /// The expectation on x86_64 (x86-TSO).
    pub expect_x86_64: Expect,
    /// The expectation on weaker architectures (aarch64, Power, RISC-V).
    pub expect_weak: Expect,
    pub role: Role,
    /// The positive control that must show the condition in the same configuration, on
    /// x86_64 and on weaker architectures (MP's differs: x86-TSO already forbids it).
    pub control_x86_64: Option<String>,
    pub control_weak: Option<String>,
    /// The fast side runs in a second process over a shared mapping.
    pub cross_process: bool,
    /// Not run by the workload; exists to prove the engine catches a missing barrier.
    pub test_only: bool,
    pub note: &'static str,
}

impl Test {
    /// The expectation on the architecture this was built for.
    pub fn expect(&self) -> Expect {
        if cfg!(target_arch = "x86_64") {
            self.expect_x86_64
        } else {
            self.expect_weak
        }
    }

    /// The positive control for the architecture this was built for.
    pub fn control(&self) -> Option<&str> {
        if cfg!(target_arch = "x86_64") {
            self.control_x86_64.as_deref()
        } else {
            self.control_weak.as_deref()
        }
    }

    /// Registers per thread (one past the highest index loaded).
    pub fn regs(&self, thread: usize) -> usize {
        self.threads[thread]
            .iter()
            .filter_map(|op| match op {
                Op::Load { reg, .. } => Some(reg + 1),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// Every `(thread, reg)` the final state lists, in order.
    pub fn state_regs(&self) -> Vec<(usize, usize)> {
        (0..self.threads.len())
            .flat_map(|t| (0..self.regs(t)).map(move |r| (t, r)))
            .collect()
    }

    /// The slow side's barrier (thread 0), if any.
    pub fn slow_barrier(&self) -> Barrier {
        self.threads[0]
            .iter()
            .find_map(|op| match op {
                Op::Barrier(b) => Some(*b),
                _ => None,
            })
            .unwrap_or(Barrier::None)
    }

    /// The membarrier command the slow side issues (or stands for), if any.
    pub fn command(&self) -> Option<Cmd> {
        self.slow_barrier().command()
    }

    /// Thread code in litmus notation: `x=1; membarrier(GLOBAL); r0=y`.
    pub fn code(&self, thread: usize) -> String {
        self.threads[thread]
            .iter()
            .map(|op| match *op {
                Op::Store { loc, value } => format!("{}={value}", self.locs[loc]),
                Op::Load { loc, reg } => format!("r{reg}={}", self.locs[loc]),
                Op::Barrier(b) => b.label(),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The condition in litmus notation: `0:r0=0 /\ 1:r0=0`.
    pub fn condition_text(&self) -> String {
        self.condition
            .iter()
            .map(|(t, r, v)| format!("{t}:r{r}={v}"))
            .collect::<Vec<_>>()
            .join(" /\\ ")
    }
}
