//! JIT-style code swapping: the pure parts (stub encodings, cache-line arithmetic, maps
//! parsing) and the engine that runs pinned executors against a swapper.
//!
//! - [`encode`]: x86_64 and aarch64 stub encodings, `CTR_EL0` decoding, line ranges.
//! - [`maps`]: `/proc/<pid>/maps` parsing for the W^X checks.
//! - [`engine`]: executors, the swapper and its variants, the measurements.
//!
//! The code buffers themselves, and the call into them, live in [`crate::sys::code`].

pub mod encode;
pub mod engine;
pub mod maps;
