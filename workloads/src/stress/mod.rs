//! Stress mode: workloads at the same time on pinned workers, still checking correctness.
//!
//! Each [`Stressor`] runs in its own thread (and spawns its own pinned workers) until the
//! shared stop flag rises. It counts operations, errors by errno (expected ones apart,
//! e.g. ESRCH from a target it just killed), correctness violations and injected faults
//! with their expected effects, all in a shared [`Stats`]. The driver prints a progress
//! line every few seconds, samples RSS, and watches each stressor: one that stops making
//! progress, or outlives the run by more than the grace period, is reported failed with
//! where it was, and the others go on. Ctrl-C stops everything within 2 s; the result is
//! saved, marked partial.

pub mod jit;
pub mod kcmp;
pub mod membarrier;
pub mod ordering;
pub mod pvm;

use hdrhistogram::Histogram;
use kobench_harness::schema::{Measurement, Verdict, WorkloadResult, WorkloadStatus};
use kobench_harness::stats::{new_histogram, Summary};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Parses a duration like `10m`, `30s`, `1h`, `500ms`, `1m30s`. Zero, negative, or
/// unit-less values are refused.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration (expected e.g. 30s, 10m, 1h)".into());
    }
    if t.starts_with('-') {
        return Err(format!("'{s}': a duration cannot be negative"));
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits > 9 {
            return Err(format!(
                "'{s}' is not a duration (expected e.g. 30s, 10m, 1h, 500ms)"
            ));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("'{s}' is not a duration"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let d = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            "" => return Err(format!("'{s}': missing unit (use ms, s, m or h)")),
            u => return Err(format!("'{s}': unknown unit '{u}' (use ms, s, m or h)")),
        };
        total += d;
    }
    if total.is_zero() {
        return Err(format!("'{s}': the duration must be more than zero"));
    }
    if total > Duration::from_secs(7 * 24 * 3600) {
        return Err(format!("'{s}': longer than a week"));
    }
    Ok(total)
}

/// Counters a stressor shares with the driver.
#[derive(Default)]
pub struct Stats {
    pub ops: AtomicU64,
    /// Bytes moved, for stressors that move data.
    pub bytes: AtomicU64,
    pub violations: AtomicU64,
    /// Last time (ms since start) the stressor made progress.
    pub heartbeat_ms: AtomicU64,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    expected_errors: BTreeMap<String, u64>,
    unexpected_errors: BTreeMap<String, u64>,
    faults: BTreeMap<String, FaultCount>,
    violation_examples: Vec<String>,
    latency: Option<Histogram<u64>>,
    at: String,
}

/// One kind of injected fault: how often, and how often its expected effect was seen.
#[derive(Default, Clone, Debug, serde::Serialize)]
pub struct FaultCount {
    pub injected: u64,
    pub expected_effect: u64,
    pub unexpected_effect: u64,
}

impl Stats {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        f(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn error(&self, errno: &str, expected: bool) {
        self.with(|i| {
            let m = if expected {
                &mut i.expected_errors
            } else {
                &mut i.unexpected_errors
            };
            *m.entry(errno.to_string()).or_default() += 1;
        })
    }

    pub fn violation(&self, what: String) {
        self.violations.fetch_add(1, Ordering::Relaxed);
        self.with(|i| {
            if i.violation_examples.len() < 20 {
                i.violation_examples.push(what);
            }
        })
    }

    pub fn fault(&self, name: &str, injected: u64, expected: u64, unexpected: u64) {
        self.with(|i| {
            let f = i.faults.entry(name.to_string()).or_default();
            f.injected += injected;
            f.expected_effect += expected;
            f.unexpected_effect += unexpected;
        })
    }

    /// Merges a worker's latency histogram.
    pub fn latency(&self, h: &Histogram<u64>) {
        self.with(|i| {
            let l = i.latency.get_or_insert_with(new_histogram);
            let _ = l.add(h);
        })
    }

    pub fn set_at(&self, at: &str) {
        self.with(|i| i.at = at.to_string())
    }

    pub fn unexpected_total(&self) -> u64 {
        self.with(|i| i.unexpected_errors.values().sum())
    }

    pub fn unexpected_faults(&self) -> u64 {
        self.with(|i| i.faults.values().map(|f| f.unexpected_effect).sum())
    }
}

/// What a stressor runs with.
#[derive(Clone)]
pub struct StressCtx {
    pub cpus: Vec<usize>,
    pub helper_exe: PathBuf,
    pub stop: Arc<AtomicBool>,
    pub stats: Arc<Stats>,
    pub start: Instant,
}

impl StressCtx {
    #[inline]
    pub fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Records progress (the watchdog's heartbeat) and `n` operations.
    #[inline]
    pub fn tick(&self, n: u64) {
        self.stats.ops.fetch_add(n, Ordering::Relaxed);
        self.stats
            .heartbeat_ms
            .store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

/// One concurrent load.
pub trait Stressor: Send + Sync {
    fn name(&self) -> &'static str;
    /// What one operation is (for the comparison with stress-ng).
    fn op(&self) -> &'static str;
    /// The rule its violations and unexpected errors are reported under.
    fn rule(&self) -> &'static str;
    /// Runs until `ctx.should_stop()`.
    fn run(&self, ctx: &StressCtx) -> anyhow::Result<()>;
}

/// A stressor that hangs (test-only: offered only when `KOBENCH_TEST_STRESSORS=1`), to
/// prove the watchdog reports it and the others go on.
pub struct Hang;

impl Stressor for Hang {
    fn name(&self) -> &'static str {
        "test-hang"
    }
    fn op(&self) -> &'static str {
        "none: it hangs on purpose"
    }
    fn rule(&self) -> &'static str {
        "STRESS"
    }
    fn run(&self, ctx: &StressCtx) -> anyhow::Result<()> {
        ctx.stats.set_at("sleeping forever, ignoring the stop flag");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
}

/// Every stressor, in order.
pub fn stressors() -> Vec<Arc<dyn Stressor>> {
    let mut v: Vec<Arc<dyn Stressor>> = vec![
        Arc::new(membarrier::MembarrierStress),
        Arc::new(ordering::OrderingStress),
        Arc::new(pvm::PvmStress),
        Arc::new(kcmp::KcmpStress),
        Arc::new(jit::JitStress),
    ];
    if std::env::var("KOBENCH_TEST_STRESSORS").as_deref() == Ok("1") {
        v.push(Arc::new(Hang));
    }
    v
}

/// How a stress run is set up.
pub struct Config {
    pub duration: Duration,
    pub stressors: Vec<Arc<dyn Stressor>>,
    pub cpus: Vec<usize>,
    pub helper_exe: PathBuf,
    /// Progress line period.
    pub interval: Duration,
    /// A stressor with no heartbeat for this long is reported stalled (failed).
    pub stall: Duration,
    /// Ctrl-C flag.
    pub interrupt: Arc<AtomicBool>,
}

/// What a progress line reports.
pub struct Progress<'a> {
    pub elapsed: Duration,
    pub rows: Vec<(&'a str, u64, u64, u64, u64)>,
    pub rss_kib: u64,
}

fn rss_kib() -> u64 {
    kobench_harness::sys::process::status_field(None, "VmRSS")
        .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// Runs the stressors for the duration (or until Ctrl-C); returns one result per stressor
/// plus a `stress-monitor` entry (RSS series, progress) and whether it was interrupted.
pub fn run(cfg: &Config, mut on_progress: impl FnMut(&Progress)) -> (Vec<WorkloadResult>, bool) {
    let start = Instant::now();
    let started_at = crate::runner::now_rfc3339();
    let stop = Arc::new(AtomicBool::new(false));
    struct Running {
        s: Arc<dyn Stressor>,
        stats: Arc<Stats>,
        done: crossbeam::channel::Receiver<Result<(), String>>,
        outcome: Option<Result<(), String>>,
        stalled: Option<String>,
    }
    let mut running: Vec<Running> = Vec::new();
    for s in &cfg.stressors {
        let stats = Arc::new(Stats::default());
        let ctx = StressCtx {
            cpus: cfg.cpus.clone(),
            helper_exe: cfg.helper_exe.clone(),
            stop: stop.clone(),
            stats: stats.clone(),
            start,
        };
        let (tx, rx) = crossbeam::channel::bounded(1);
        let s2 = s.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("stress-{}", s.name()))
            .spawn(move || {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s2.run(&ctx)));
                let _ = tx.send(match r {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(format!("{e:#}")),
                    Err(_) => Err("panicked".into()),
                });
            });
        let outcome = spawned.err().map(|e| Err(format!("could not start: {e}")));
        running.push(Running {
            s: s.clone(),
            stats,
            done: rx,
            outcome,
            stalled: None,
        });
    }
    let mut rss: Vec<(f64, u64)> = vec![(0.0, rss_kib())];
    let mut next_line = start + cfg.interval;
    let mut next_rss = start + Duration::from_secs(1).min(cfg.interval);
    let end = start + cfg.duration;
    let mut interrupted = false;
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let now = Instant::now();
        for r in running.iter_mut().filter(|r| r.outcome.is_none()) {
            if let Ok(o) = r.done.try_recv() {
                r.outcome = Some(o);
            }
        }
        if cfg.interrupt.load(Ordering::Relaxed) {
            interrupted = true;
            break;
        }
        if now >= end || running.iter().all(|r| r.outcome.is_some()) {
            break;
        }
        // Watchdog: no heartbeat for `stall` means the stressor is stuck.
        let elapsed_ms = start.elapsed().as_millis() as u64;
        for r in running
            .iter_mut()
            .filter(|r| r.outcome.is_none() && r.stalled.is_none())
        {
            let hb = r.stats.heartbeat_ms.load(Ordering::Relaxed);
            if elapsed_ms.saturating_sub(hb) > cfg.stall.as_millis() as u64 {
                let at = r.stats.with(|i| i.at.clone());
                r.stalled = Some(format!(
                    "no progress for {:.0?} while at '{at}': reported failed, the others go on",
                    cfg.stall
                ));
            }
        }
        if now >= next_rss {
            rss.push((start.elapsed().as_secs_f64(), rss_kib()));
            next_rss = now + Duration::from_secs(1).max(cfg.interval / 4);
        }
        if now >= next_line {
            next_line = now + cfg.interval;
            let rows = running
                .iter()
                .map(|r| {
                    (
                        r.s.name(),
                        r.stats.ops.load(Ordering::Relaxed),
                        r.stats.unexpected_total()
                            + r.stats.with(|i| i.expected_errors.values().sum::<u64>()),
                        r.stats.violations.load(Ordering::Relaxed),
                        r.stats.unexpected_faults(),
                    )
                })
                .collect();
            on_progress(&Progress {
                elapsed: start.elapsed(),
                rows,
                rss_kib: rss.last().map(|x| x.1).unwrap_or(0),
            });
        }
    }
    // The last sample while everything still runs (the minute-10 figure of a 10 m run).
    rss.push((start.elapsed().as_secs_f64(), rss_kib()));
    stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed();
    // Everyone gets 1.5 s to return; past that they are abandoned (and reported).
    let deadline = Instant::now() + Duration::from_millis(1500);
    for r in running.iter_mut().filter(|r| r.outcome.is_none()) {
        if let Ok(o) = r.done.recv_deadline(deadline) {
            r.outcome = Some(o);
        }
    }
    let rss_after_stop = rss_kib();
    let mut results = Vec::new();
    for r in &running {
        let ops = r.stats.ops.load(Ordering::Relaxed);
        let viol = r.stats.violations.load(Ordering::Relaxed);
        let (status, note) = match (&r.stalled, &r.outcome) {
            (Some(n), _) => (WorkloadStatus::TimedOut, n.clone()),
            (None, None) => (
                WorkloadStatus::TimedOut,
                format!(
                    "did not stop within 1.5 s of the stop flag while at '{}'",
                    r.stats.with(|i| i.at.clone())
                ),
            ),
            (None, Some(Err(e))) => (WorkloadStatus::Failed, e.clone()),
            (None, Some(Ok(()))) if interrupted => (
                WorkloadStatus::Interrupted,
                "interrupted by Ctrl-C; counts so far kept".into(),
            ),
            (None, Some(Ok(()))) => (WorkloadStatus::Completed, String::new()),
        };
        let (expected, unexpected, faults, examples, lat) = r.stats.with(|i| {
            (
                i.expected_errors.clone(),
                i.unexpected_errors.clone(),
                i.faults.clone(),
                i.violation_examples.clone(),
                i.latency.clone(),
            )
        });
        let unexpected_n: u64 = unexpected.values().sum();
        let secs = elapsed.as_secs_f64().max(1e-9);
        let mut verdicts = vec![
            Verdict::check(
                r.s.rule(),
                format!("stress {}: correctness violations", r.s.name()),
                viol == 0,
                "0",
                format!(
                    "{viol} in {ops} ops{}",
                    if examples.is_empty() {
                        String::new()
                    } else {
                        format!("; e.g. {}", examples[0])
                    }
                ),
            ),
            Verdict::check(
                r.s.rule(),
                format!("stress {}: unexpected errno", r.s.name()),
                unexpected_n == 0,
                "none",
                format!("{unexpected:?} (expected: {expected:?})"),
            ),
        ];
        for (name, f) in &faults {
            verdicts.push(Verdict::check(
                r.s.rule(),
                format!(
                    "stress {}: fault '{name}' has only its expected effects",
                    r.s.name()
                ),
                f.unexpected_effect == 0 && (f.injected == 0 || f.expected_effect > 0),
                "expected effect seen, no other",
                format!(
                    "injected {}, expected effect {}, unexpected {}",
                    f.injected, f.expected_effect, f.unexpected_effect
                ),
            ));
        }
        let mut measurements = Vec::new();
        if let Some(h) = lat.filter(|h| !h.is_empty()) {
            let mut derived = BTreeMap::new();
            derived.insert("ops_per_s".to_string(), ops as f64 / secs);
            measurements.push(Measurement {
                id: format!("stress/{}/op_latency", r.s.name()),
                unit: "ns".into(),
                smaller_is_better: true,
                params: BTreeMap::from([("op".to_string(), json!(r.s.op()))]),
                summary: Summary::of(&h),
                derived,
            });
        }
        let mut data = BTreeMap::new();
        data.insert("ops".into(), json!(ops));
        data.insert("ops_per_s".into(), json!(ops as f64 / secs));
        data.insert("op".into(), json!(r.s.op()));
        let bytes = r.stats.bytes.load(Ordering::Relaxed);
        if bytes > 0 {
            data.insert("bytes".into(), json!(bytes));
            data.insert(
                "gib_per_s".into(),
                json!(bytes as f64 / secs / (1u64 << 30) as f64),
            );
        }
        data.insert("errors_expected".into(), json!(expected));
        data.insert("errors_unexpected".into(), json!(unexpected));
        data.insert("violations".into(), json!(viol));
        data.insert("violation_examples".into(), json!(examples));
        data.insert("faults".into(), json!(faults));
        results.push(WorkloadResult {
            name: format!("stress-{}", r.s.name()),
            status,
            note,
            started_at: started_at.clone(),
            duration_s: elapsed.as_secs_f64(),
            measurements,
            verdicts,
            data,
        });
    }
    let mut data = BTreeMap::new();
    data.insert("rss_kib".into(), json!(rss));
    data.insert("rss_kib_after_stop".into(), json!(rss_after_stop));
    data.insert(
        "duration_requested_s".into(),
        json!(cfg.duration.as_secs_f64()),
    );
    data.insert("cpus".into(), json!(cfg.cpus));
    results.push(WorkloadResult {
        name: "stress-monitor".into(),
        status: if interrupted {
            WorkloadStatus::Interrupted
        } else {
            WorkloadStatus::Completed
        },
        note: String::new(),
        started_at,
        duration_s: elapsed.as_secs_f64(),
        measurements: vec![],
        verdicts: vec![],
        data,
    });
    (results, interrupted)
}

/// RSS change between the first and the last minute-mark sample: (at ~60 s, at the end).
pub fn rss_drift(series: &[(f64, u64)]) -> Option<(u64, u64)> {
    let first = series.iter().find(|(t, _)| *t >= 60.0).or(series.first())?;
    let last = series.last()?;
    Some((first.1, last.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        for bad in ["0s", "-1m", "10x", "10", "", "m", "1.5m", "99999999999s"] {
            assert!(parse_duration(bad).is_err(), "{bad} accepted");
        }
        assert!(parse_duration("0s").unwrap_err().contains("more than zero"));
        assert!(parse_duration("-1m").unwrap_err().contains("negative"));
        assert!(parse_duration("10x")
            .unwrap_err()
            .contains("unknown unit 'x'"));
    }

    #[test]
    fn stats_count_errors_and_faults() {
        let s = Stats::default();
        s.error("ESRCH", true);
        s.error("EFAULT", false);
        s.error("EFAULT", false);
        s.fault("kill", 1, 1, 0);
        s.violation("byte 3".into());
        assert_eq!(s.unexpected_total(), 2);
        assert_eq!(s.violations.load(Ordering::Relaxed), 1);
        assert_eq!(s.unexpected_faults(), 0);
    }

    #[test]
    fn rss_drift_uses_the_minute_mark() {
        let s = vec![(0.0, 100), (30.0, 150), (61.0, 200), (600.0, 210)];
        assert_eq!(rss_drift(&s), Some((200, 210)));
        assert_eq!(rss_drift(&[(0.0, 5), (10.0, 6)]), Some((5, 6)));
    }
}
