//! process_vm_readv / writev hammering patterned targets, with faults: targets killed
//! mid-transfer (ESRCH or a short count expected), stopped and continued (transfers keep
//! working), and remote ranges dropped with MADV_DONTNEED while being read (each byte is
//! then the pattern or zero). Every byte of every transfer is checked.

use super::{StressCtx, Stressor};
use crate::helpers::reply;
use kobench_harness::child::Helper;
use kobench_harness::pattern;
use kobench_harness::stats::new_histogram;
use kobench_harness::sys::mem::{Mapping, Prot};
use kobench_harness::sys::process::kill;
use kobench_harness::sys::pvm::{readv, writev, RemoteIov};
use serde::{Deserialize, Serialize};
use std::io::{IoSlice, IoSliceMut};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub struct PvmStress;

const LEN: usize = 16 << 20;
/// Transfer size on the plain target (killed / stopped) and on the dropping target.
const CHUNK: usize = 1 << 20;
const DROP_CHUNK: usize = 64 << 10;
const SEED: u64 = 0x5eed;

#[derive(Serialize, Deserialize)]
struct TargetInfo {
    pid: i32,
    addr: usize,
    len: usize,
}

/// `__helper stress-target LEN MODE`: maps LEN patterned bytes and waits for stdin to
/// close. MODE `dontneed` keeps dropping the pages (MADV_DONTNEED) and refilling them.
pub fn helper_target(args: &[String]) -> i32 {
    let len: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(LEN);
    let dontneed = args.get(1).map(String::as_str) == Some("dontneed");
    let mut m = match Mapping::anon(len, Prot::ReadWrite, 0) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("stress-target: mmap: {e}");
            return 1;
        }
    };
    let fill = |m: &mut Mapping| {
        if let Some(b) = m.slice_mut() {
            pattern::fill(b, SEED, 0);
        }
    };
    fill(&mut m);
    reply(&TargetInfo {
        pid: std::process::id() as i32,
        addr: m.addr(),
        len,
    });
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        if dontneed {
            // The dropper owns the mapping from here on: it is the only one touching it.
            let stop = &stop;
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _ = m.advise(0, len, libc::MADV_DONTNEED);
                    std::thread::sleep(Duration::from_millis(5));
                    fill(&mut m);
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
        }
        let mut line = String::new();
        while std::io::stdin()
            .read_line(&mut line)
            .map(|n| n > 0)
            .unwrap_or(false)
        {
            line.clear();
        }
        stop.store(true, Ordering::Relaxed);
    });
    0
}

fn spawn_target(ctx: &StressCtx, mode: &str) -> anyhow::Result<(Helper, TargetInfo)> {
    let mut h = Helper::spawn(
        &ctx.helper_exe,
        "stress-target",
        &[LEN.to_string(), mode.to_string()],
    )?;
    let info: TargetInfo = h.recv(Duration::from_secs(10))?;
    Ok((h, info))
}

impl Stressor for PvmStress {
    fn name(&self) -> &'static str {
        "process_vm"
    }
    fn op(&self) -> &'static str {
        "one process_vm_readv or process_vm_writev (1 MiB against a target that is killed and stopped, 64 KiB against one whose pages are dropped), every byte checked"
    }
    fn rule(&self) -> &'static str {
        "PVM-DATA"
    }

    fn run(&self, ctx: &StressCtx) -> anyhow::Result<()> {
        let mut reference = vec![0u8; LEN];
        pattern::fill(&mut reference, SEED, 0);
        let reference = &reference;
        let current = AtomicI32::new(0);
        let killed = AtomicU64::new(0);
        let stopped = AtomicBool::new(false);
        ctx.stats
            .set_at("process_vm transfers against patterned targets");
        std::thread::scope(|s| -> anyhow::Result<()> {
            // Fault injector: kill or stop/continue the plain target.
            s.spawn(|| {
                let mut k = 0u64;
                while !ctx.should_stop() {
                    std::thread::sleep(Duration::from_millis(100));
                    let pid = current.load(Ordering::Relaxed);
                    if pid <= 0 {
                        continue;
                    }
                    k += 1;
                    if k.is_multiple_of(3) {
                        // Counted before the signal goes, so the reader never sees the
                        // ESRCH before it knows a kill was sent.
                        killed.fetch_add(1, Ordering::SeqCst);
                        if kill(pid, libc::SIGKILL).is_ok() {
                            current.store(0, Ordering::Relaxed);
                            ctx.stats.fault("target killed mid-transfer", 1, 0, 0);
                        } else {
                            killed.fetch_sub(1, Ordering::SeqCst);
                        }
                    } else if kill(pid, libc::SIGSTOP).is_ok() {
                        stopped.store(true, Ordering::Relaxed);
                        ctx.stats.fault("target stopped and continued", 1, 0, 0);
                        std::thread::sleep(Duration::from_millis(5));
                        stopped.store(false, Ordering::Relaxed);
                        let _ = kill(pid, libc::SIGCONT);
                    }
                }
            });
            // Dropping target: reads see the pattern or zeros.
            let dropper = s.spawn(|| -> anyhow::Result<()> {
                let (_h, t) = spawn_target(ctx, "dontneed")?;
                let mut buf = vec![0u8; DROP_CHUNK];
                let mut i = 0usize;
                let mut zeros_seen = 0u64;
                while !ctx.should_stop() {
                    let off = (i * 7919 * 4096) % (LEN - DROP_CHUNK);
                    i += 1;
                    let r = readv(t.pid, &mut [IoSliceMut::new(&mut buf)], &[RemoteIov { base: t.addr + off, len: DROP_CHUNK }], 0);
                    match r {
                        Ok(n) if n == DROP_CHUNK => {
                            ctx.stats.bytes.fetch_add(n as u64, Ordering::Relaxed);
                            if buf[..] != reference[off..off + DROP_CHUNK] {
                                if let Some(bad) = pattern::first_mismatch_or_zero(&buf, SEED, off as u64) {
                                    ctx.stats.violation(format!("dropped-range read: byte {} is {:#x}, expected pattern or 0", off + bad, buf[bad]));
                                    ctx.stats.fault("remote range dropped (MADV_DONTNEED) while read", 1, 0, 1);
                                } else {
                                    zeros_seen += 1;
                                    ctx.stats.fault("remote range dropped (MADV_DONTNEED) while read", 1, 1, 0);
                                }
                            }
                        }
                        Ok(n) => {
                            ctx.stats.violation(format!("dropped-range read returned {n} of {DROP_CHUNK} bytes"));
                        }
                        Err(e) => ctx.stats.error(&e.name(), false),
                    }
                    ctx.tick(1);
                }
                let _ = zeros_seen;
                Ok(())
            });
            // Plain target: readv and writev (writing back the same pattern), restarted when killed.
            let mut buf = vec![0u8; CHUNK];
            let mut i = 0usize;
            let mut h = new_histogram();
            while !ctx.should_stop() {
                let (helper, t) = spawn_target(ctx, "plain")?;
                let kills_before = killed.load(Ordering::SeqCst);
                current.store(t.pid, Ordering::Relaxed);
                loop {
                    if ctx.should_stop() {
                        break;
                    }
                    let off = ((i * 104_729) % (LEN / 4096 - CHUNK / 4096)) * 4096;
                    i += 1;
                    let was_stopped = stopped.load(Ordering::Relaxed);
                    let t0 = Instant::now();
                    let r = if i.is_multiple_of(2) {
                        readv(
                            t.pid,
                            &mut [IoSliceMut::new(&mut buf)],
                            &[RemoteIov {
                                base: t.addr + off,
                                len: CHUNK,
                            }],
                            0,
                        )
                    } else {
                        writev(
                            t.pid,
                            &[IoSlice::new(&reference[off..off + CHUNK])],
                            &[RemoteIov {
                                base: t.addr + off,
                                len: CHUNK,
                            }],
                            0,
                        )
                    };
                    let _ = h.record(t0.elapsed().as_nanos() as u64);
                    ctx.tick(1);
                    if let Ok(n) = r {
                        ctx.stats.bytes.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    let was_killed = killed.load(Ordering::SeqCst) > kills_before;
                    match r {
                        Ok(n) => {
                            if i.is_multiple_of(2) && buf[..n] != reference[off..off + n] {
                                let bad = pattern::first_mismatch(&buf[..n], SEED, off as u64)
                                    .unwrap_or(0);
                                ctx.stats.violation(format!(
                                    "readv byte {} is {:#x}, expected {:#x}",
                                    off + bad,
                                    buf[bad],
                                    reference[off + bad]
                                ));
                            }
                            if n < CHUNK {
                                if was_killed {
                                    ctx.stats.fault("target killed mid-transfer", 0, 1, 0);
                                    break;
                                }
                                ctx.stats.violation(format!(
                                    "short count {n} of {CHUNK} with no fault injected"
                                ));
                            }
                            if was_stopped && stopped.load(Ordering::Relaxed) {
                                ctx.stats.fault("target stopped and continued", 0, 1, 0);
                            }
                        }
                        Err(e) if e.0 == libc::ESRCH && was_killed => {
                            ctx.stats.error("ESRCH", true);
                            ctx.stats.fault("target killed mid-transfer", 0, 1, 0);
                            break;
                        }
                        Err(e) => {
                            ctx.stats.error(&e.name(), false);
                            if was_killed {
                                break;
                            }
                        }
                    }
                }
                current.store(0, Ordering::Relaxed);
                drop(helper);
            }
            ctx.stats.latency(&h);
            dropper
                .join()
                .map_err(|_| anyhow::anyhow!("dropper thread panicked"))??;
            Ok(())
        })
    }
}
