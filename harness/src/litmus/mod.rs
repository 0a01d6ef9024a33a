//! Litmus tests on the real hardware, in the manner of herdtools' litmus7.
//!
//! - [`test`]: a test is data: threads, each a list of stores, loads and a barrier; the
//!   condition (the relaxed or forbidden final state) and what each architecture allows.
//! - [`catalog`]: SB and MP with every barrier kind, the asymmetric membarrier variants,
//!   their positive controls, the cross-process variants and a test-only mutation.
//! - [`engine`]: runs a test on pinned workers (or a worker and a helper process) over a
//!   shared region of fresh cells, batch by batch, and counts every final state.
//! - [`verdict`]: the pure rule that turns counts (and the positive control's counts)
//!   into pass / fail / inconclusive.
//!
//! Design note. Detection power comes from the harness, not the hardware alone
//! (methodology §1.6), so the engine copies litmus7's timebase mode (§1.2, §1.7): no
//! per-iteration rendezvous at all; instead the leader publishes a start tick `T0` and a
//! period `P` per batch, and thread `t` starts instance `i` when the (cross-CPU
//! synchronous, invariant) TSC passes `T0 + i·P + δt(i)`, with `δ` swept pseudo-randomly
//! over a window so that the fast side lands before, inside and after the slow side's
//! barrier. `P` adapts after every batch to what the slowest thread sustains, so a
//! membarrier call (µs) and a plain store (ns) each get the densest schedule they can
//! keep. Each instance has its own cells (`x[i]`, `y[i]`), zeroed before the batch, one
//! per cache line (stride) and placed through a per-batch permutation (litmus7's
//! indirect mode). A thread that falls behind still produces valid instances: timing
//! only changes how often windows overlap, never what an outcome means.

pub mod catalog;
pub mod engine;
pub mod test;
pub mod verdict;

pub use catalog::{catalog, find};
pub use engine::{Config, Counts, LitmusError};
pub use test::{Barrier, Expect, Op, Role, Test};
pub use verdict::{judge, Judgement};
