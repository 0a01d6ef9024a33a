//! The clock every sample is read with, calibrated at start.
//!
//! On x86_64 with an invariant TSC (`constant_tsc` and `nonstop_tsc` in /proc/cpuinfo) the
//! clock is `lfence; rdtsc`, calibrated against CLOCK_MONOTONIC_RAW (methodology §5.4:
//! rdtsc is not ordered with earlier loads, so the lfence keeps the read at the interval
//! edge). On aarch64 it is CNTVCT_EL0 after an ISB (Arm ARM D11.2), whose frequency is
//! CNTFRQ_EL0. Elsewhere, or when the TSC is not invariant, it is CLOCK_MONOTONIC (vDSO).
//! Overhead (median of back-to-back reads) and resolution (smallest non-zero step) are
//! measured and stored in every result.

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// What the clock reads.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockSource {
    Tsc,
    Cntvct,
    ClockMonotonic,
}

/// The calibration stored with every result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimerCalibration {
    pub source: ClockSource,
    /// Nanoseconds per tick (1.0 for CLOCK_MONOTONIC).
    pub ns_per_tick: f64,
    /// Median cost of one read, in ns, from back-to-back reads.
    pub overhead_ns: f64,
    /// Smallest non-zero difference between consecutive reads, in ns.
    pub resolution_ns: f64,
    /// Why the source was chosen (e.g. "invariant TSC").
    pub note: String,
}

/// A calibrated clock. Cheap to copy; read with [`Clock::now`].
#[derive(Copy, Clone, Debug)]
pub struct Clock {
    source: ClockSource,
    ns_per_tick: f64,
    overhead_ticks: u64,
}

#[inline(always)]
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn monotonic_raw_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: as above.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_RAW, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn tsc() -> u64 {
    // SAFETY: lfence and rdtsc have no memory operands and exist on every x86_64 CPU.
    #[allow(unused_unsafe)]
    unsafe {
        core::arch::x86_64::_mm_lfence();
        core::arch::x86_64::_rdtsc()
    }
}

#[cfg(target_arch = "aarch64")]
#[inline(always)]
fn tsc() -> u64 {
    let v: u64;
    // SAFETY: ISB and a read of CNTVCT_EL0 (readable at EL0 on Linux) touch no memory.
    unsafe { core::arch::asm!("isb", "mrs {}, cntvct_el0", out(reg) v, options(nostack, nomem)) };
    v
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
#[inline(always)]
fn tsc() -> u64 {
    monotonic_ns()
}

#[cfg(target_arch = "aarch64")]
fn cntfrq() -> u64 {
    let v: u64;
    // SAFETY: CNTFRQ_EL0 is readable at EL0; no memory is touched.
    unsafe { core::arch::asm!("mrs {}, cntfrq_el0", out(reg) v, options(nostack, nomem)) };
    v
}

fn invariant_tsc() -> bool {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let flags = info
        .lines()
        .find(|l| l.starts_with("flags"))
        .unwrap_or_default();
    let has = |f: &str| flags.split_whitespace().any(|w| w == f);
    has("constant_tsc") && has("nonstop_tsc")
}

impl Clock {
    /// Reads the clock, in ticks.
    #[inline(always)]
    pub fn now(&self) -> u64 {
        match self.source {
            ClockSource::ClockMonotonic => monotonic_ns(),
            _ => tsc(),
        }
    }

    /// Converts a tick difference to ns.
    #[inline(always)]
    pub fn to_ns(&self, ticks: u64) -> u64 {
        (ticks as f64 * self.ns_per_tick) as u64
    }

    /// Ticks between two reads minus one read's overhead, in ns (at least 1).
    #[inline(always)]
    pub fn interval_ns(&self, start: u64, end: u64) -> u64 {
        self.to_ns(
            end.saturating_sub(start)
                .saturating_sub(self.overhead_ticks),
        )
        .max(1)
    }

    pub fn source(&self) -> ClockSource {
        self.source
    }

    /// A plain CLOCK_MONOTONIC clock with no calibration (for tests).
    pub fn monotonic() -> Clock {
        Clock {
            source: ClockSource::ClockMonotonic,
            ns_per_tick: 1.0,
            overhead_ticks: 0,
        }
    }

    /// Picks and calibrates the best clock. Takes about `window` (50 ms is plenty).
    pub fn calibrate(window: Duration) -> (Clock, TimerCalibration) {
        #[cfg(target_arch = "x86_64")]
        let (source, ns_per_tick, note) = if invariant_tsc() {
            let (r0, t0) = (monotonic_raw_ns(), tsc());
            let start = Instant::now();
            while start.elapsed() < window {
                std::hint::spin_loop();
            }
            let (r1, t1) = (monotonic_raw_ns(), tsc());
            let npt = (r1 - r0) as f64 / (t1 - t0).max(1) as f64;
            (
                ClockSource::Tsc,
                npt,
                format!("invariant TSC at {:.3} GHz (lfence; rdtsc), calibrated against CLOCK_MONOTONIC_RAW over {} ms", 1.0 / npt, window.as_millis()),
            )
        } else {
            (
                ClockSource::ClockMonotonic,
                1.0,
                "TSC not invariant (constant_tsc/nonstop_tsc missing): CLOCK_MONOTONIC".to_string(),
            )
        };
        #[cfg(target_arch = "aarch64")]
        let (source, ns_per_tick, note) = {
            let _ = (
                window,
                invariant_tsc as fn() -> bool,
                monotonic_raw_ns as fn() -> u64,
            );
            let f = cntfrq().max(1);
            (
                ClockSource::Cntvct,
                1e9 / f as f64,
                format!("CNTVCT_EL0 at {} Hz (isb; mrs)", f),
            )
        };
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        let (source, ns_per_tick, note) = {
            let _ = (
                window,
                invariant_tsc as fn() -> bool,
                monotonic_raw_ns as fn() -> u64,
            );
            (
                ClockSource::ClockMonotonic,
                1.0,
                "CLOCK_MONOTONIC (no cycle counter on this architecture)".to_string(),
            )
        };
        let mut clock = Clock {
            source,
            ns_per_tick,
            overhead_ticks: 0,
        };
        let mut deltas: Vec<u64> = (0..2001)
            .map(|_| {
                let a = clock.now();
                let b = clock.now();
                b.saturating_sub(a)
            })
            .collect();
        deltas.sort_unstable();
        let overhead_ticks = deltas[deltas.len() / 2];
        let min_nz = deltas.iter().copied().find(|&d| d > 0).unwrap_or(1);
        clock.overhead_ticks = overhead_ticks;
        let cal = TimerCalibration {
            source,
            ns_per_tick,
            overhead_ns: overhead_ticks as f64 * ns_per_tick,
            resolution_ns: min_nz as f64 * ns_per_tick,
            note,
        };
        (clock, cal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibrated_clock_tracks_wall_time() {
        let (clock, cal) = Clock::calibrate(Duration::from_millis(20));
        assert!(cal.ns_per_tick > 0.0);
        assert!(cal.resolution_ns > 0.0);
        let t0 = clock.now();
        let w0 = Instant::now();
        std::thread::sleep(Duration::from_millis(30));
        let ns = clock.to_ns(clock.now() - t0) as f64;
        let wall = w0.elapsed().as_nanos() as f64;
        // Same interval, two clocks: within 10 % of each other.
        assert!((ns / wall - 1.0).abs() < 0.1, "clock {ns} vs wall {wall}");
    }

    #[test]
    fn interval_never_reports_zero() {
        let c = Clock::monotonic();
        assert_eq!(c.interval_ns(10, 10), 1);
        assert_eq!(c.interval_ns(10, 5), 1);
        assert_eq!(c.interval_ns(10, 110), 100);
    }
}
