//! Runs workloads one after another, each in its own thread under a watchdog.
//!
//! A workload that returns an error or panics is `failed`; one that overruns its deadline
//! is `timed_out` with where it was (its last progress message), and the run goes on; one
//! stopped by Ctrl-C is `interrupted`. In every case what it gathered so far is kept.

use crate::context::{Context, Output};
use crate::Workload;
use kobench_harness::schema::{WorkloadResult, WorkloadStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a cancelled workload gets to return before it is abandoned.
pub const GRACE: Duration = Duration::from_millis(1500);

/// Now, as an RFC 3339 UTC timestamp.
pub fn now_rfc3339() -> String {
    let t = time::OffsetDateTime::now_utc();
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// Runs one workload under its deadline. `interrupt` is the run-wide Ctrl-C flag.
pub fn run_one(
    w: Arc<dyn Workload>,
    base: &Context,
    interrupt: &Arc<AtomicBool>,
    deadline_override: Option<Duration>,
) -> WorkloadResult {
    let desc = w.descriptor();
    let started_at = now_rfc3339();
    let t0 = Instant::now();
    let cancel = Arc::new(AtomicBool::new(interrupt.load(Ordering::Relaxed)));
    let progress = base.out.clone();
    let out = Output::new(Some(Arc::new(move |m: &str| progress.progress(m))));
    let ctx = Context {
        cancel: cancel.clone(),
        out: out.clone(),
        ..base.clone()
    };
    let finish = |status: WorkloadStatus, note: String| {
        let g = out.snapshot();
        WorkloadResult {
            name: desc.name.to_string(),
            status,
            note,
            started_at: started_at.clone(),
            duration_s: t0.elapsed().as_secs_f64(),
            measurements: g.measurements,
            verdicts: g.verdicts,
            data: g.data,
        }
    };
    if let Some(reason) = w.unavailable(&ctx) {
        return finish(WorkloadStatus::Skipped, reason);
    }
    let deadline = deadline_override.unwrap_or_else(|| w.deadline(&ctx));
    let (tx, rx) = crossbeam::channel::bounded(1);
    let wctx = ctx.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("wl-{}", desc.name))
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.run(&wctx)));
            let _ = tx.send(r);
        });
    if let Err(e) = spawned {
        return finish(
            WorkloadStatus::Failed,
            format!("could not start the workload thread: {e}"),
        );
    }
    let end = t0 + deadline;
    loop {
        // Poll so Ctrl-C is noticed within 50 ms.
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(Ok(Ok(()))) => {
                return if interrupt.load(Ordering::Relaxed) {
                    finish(
                        WorkloadStatus::Interrupted,
                        "interrupted by Ctrl-C; results so far kept".into(),
                    )
                } else {
                    finish(WorkloadStatus::Completed, String::new())
                };
            }
            Ok(Ok(Err(e))) => {
                let status = if interrupt.load(Ordering::Relaxed) {
                    WorkloadStatus::Interrupted
                } else {
                    WorkloadStatus::Failed
                };
                return finish(status, format!("{e:#}"));
            }
            Ok(Err(panic)) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                return finish(WorkloadStatus::Failed, format!("panicked: {msg}"));
            }
            Err(crossbeam::channel::RecvTimeoutError::Disconnected) => {
                return finish(WorkloadStatus::Failed, "workload thread vanished".into());
            }
            Err(crossbeam::channel::RecvTimeoutError::Timeout) => {}
        }
        if interrupt.load(Ordering::Relaxed) && !cancel.load(Ordering::Relaxed) {
            cancel.store(true, Ordering::Relaxed);
            // Give it GRACE to return what it has, then abandon it.
            let r = rx.recv_timeout(GRACE);
            let at = out.snapshot().at;
            let note = match r {
                Ok(_) => "interrupted by Ctrl-C; results so far kept".to_string(),
                Err(_) => format!("interrupted by Ctrl-C while at '{at}'; results so far kept"),
            };
            return finish(WorkloadStatus::Interrupted, note);
        }
        if Instant::now() >= end {
            cancel.store(true, Ordering::Relaxed);
            let _ = rx.recv_timeout(GRACE);
            let at = out.snapshot().at;
            return finish(
                WorkloadStatus::TimedOut,
                format!("overran its {:.0?} deadline while at '{at}'", deadline),
            );
        }
    }
}
