//! process_vm_readv / process_vm_writev at 4 KiB, 64 KiB, 1 MiB and 16 MiB, each next to
//! memcpy of the same size and next to a plain loop of the same libc call (no kobench
//! code in the path). The target is a child forked before criterion starts any thread; it
//! holds a pattern-filled buffer and dies with the bench (PR_SET_PDEATHSIG, and its
//! control pipe closing).
//!
//! `cargo bench --bench process_vm -- --quick` for a short run. At the end the bench
//! prints kobench-path / plain-loop ratios measured in the same run (median of batches).

use criterion::{BenchmarkId, Criterion, Throughput};
use kobench_harness::sys::process as proc_;
use kobench_workloads::process_vm::pattern::{self, Expect};
use kobench_workloads::process_vm::{ReadXfer, WriteXfer, RSEED};
use std::hint::black_box;
use std::io::{Read, Write};

const SIZES: [usize; 4] = [4 << 10, 64 << 10, 1 << 20, 16 << 20];
const MAX: usize = 16 << 20;

struct Forked {
    pid: i32,
    addr: usize,
    _keep: std::io::PipeWriter,
}

/// Forks the target while this process is still single-threaded.
fn fork_target() -> Forked {
    let (mut addr_r, mut addr_w) = std::io::pipe().expect("pipe");
    let (mut hold_r, hold_w) = std::io::pipe().expect("pipe");
    match proc_::fork_single_threaded().expect("fork before any thread") {
        proc_::Fork::Child => {
            drop(hold_w);
            let _ = proc_::die_with_parent();
            let mut buf = vec![0u8; MAX];
            let addr = buf.as_ptr() as usize;
            pattern::fill(&mut buf, addr, Expect::Pattern(RSEED));
            let _ = addr_w.write_all(&addr.to_le_bytes());
            // Block until the bench closes the pipe (or dies).
            let mut b = [0u8; 1];
            let _ = hold_r.read(&mut b);
            drop(buf);
            proc_::exit_now(0);
        }
        proc_::Fork::Parent { child } => {
            drop(addr_w);
            let mut a = [0u8; 8];
            addr_r.read_exact(&mut a).expect("target address");
            Forked {
                pid: child,
                addr: usize::from_le_bytes(a),
                _keep: hold_w,
            }
        }
    }
}

fn iov(p: *const u8, n: usize) -> libc::iovec {
    libc::iovec {
        iov_base: p as *mut libc::c_void,
        iov_len: n,
    }
}

/// The plain loop: process_vm_readv straight from libc.
#[inline(always)]
fn plain_readv(pid: i32, l: &libc::iovec, r: &libc::iovec) -> isize {
    // SAFETY: `l` names a writable buffer of this process; `r` a range of the target.
    unsafe { libc::process_vm_readv(pid, l, 1, r, 1, 0) }
}

#[inline(always)]
fn plain_writev(pid: i32, l: &libc::iovec, r: &libc::iovec) -> isize {
    // SAFETY: `l` names a readable buffer of this process; `r` a writable range of the target.
    unsafe { libc::process_vm_writev(pid, l, 1, r, 1, 0) }
}

/// Median over 21 alternating batches of `time(b) / time(a)`: the throughput of `a`
/// relative to `b`.
fn paired(calls: u64, mut a: impl FnMut(), mut b: impl FnMut()) -> f64 {
    let batch = |f: &mut dyn FnMut()| {
        let t = std::time::Instant::now();
        for _ in 0..calls {
            f();
        }
        t.elapsed().as_nanos() as f64
    };
    batch(&mut a);
    batch(&mut b);
    let ratios: Vec<f64> = (0..21)
        .map(|_| {
            let ta = batch(&mut a);
            let tb = batch(&mut b);
            tb / ta
        })
        .collect();
    kobench_harness::stats::median(&ratios).unwrap_or(0.0)
}

fn main() {
    let t = fork_target();
    let mut c = Criterion::default().configure_from_args();
    let mut src = vec![0u8; MAX];
    pattern::fill(&mut src, t.addr, Expect::Pattern(RSEED));
    let mut dst = vec![0u8; MAX];

    let mut g = c.benchmark_group("process_vm/readv");
    for &n in &SIZES {
        g.throughput(Throughput::Bytes(n as u64));
        g.bench_function(BenchmarkId::new("kobench", n), |b| {
            let mut x = ReadXfer::new(t.pid, &mut dst[..n], t.addr, 1);
            b.iter(|| assert_eq!(x.call(), Ok(n)))
        });
        let (l, r) = (iov(dst.as_mut_ptr(), n), iov(t.addr as *const u8, n));
        g.bench_function(BenchmarkId::new("plain_libc", n), |b| {
            b.iter(|| assert_eq!(plain_readv(t.pid, black_box(&l), black_box(&r)), n as isize))
        });
        g.bench_function(BenchmarkId::new("memcpy", n), |b| {
            b.iter(|| dst[..n].copy_from_slice(black_box(&src[..n])))
        });
    }
    g.finish();
    dst.fill(0);
    assert_eq!(ReadXfer::new(t.pid, &mut dst, t.addr, 16).call(), Ok(MAX));
    assert!(dst == src, "readv moved the target's bytes");

    let mut g = c.benchmark_group("process_vm/writev");
    for &n in &SIZES {
        g.throughput(Throughput::Bytes(n as u64));
        g.bench_function(BenchmarkId::new("kobench", n), |b| {
            let mut x = WriteXfer::new(t.pid, &src[..n], t.addr, 1);
            b.iter(|| assert_eq!(x.call(), Ok(n)))
        });
        let (l, r) = (iov(src.as_ptr(), n), iov(t.addr as *const u8, n));
        g.bench_function(BenchmarkId::new("plain_libc", n), |b| {
            b.iter(|| {
                assert_eq!(
                    plain_writev(t.pid, black_box(&l), black_box(&r)),
                    n as isize
                )
            })
        });
        g.bench_function(BenchmarkId::new("memcpy", n), |b| {
            b.iter(|| dst[..n].copy_from_slice(black_box(&src[..n])))
        });
    }
    g.finish();
    c.final_summary();

    // Same-run ratios, as throughput: kobench path / plain loop (>= 0.95 wanted at 1 and
    // 16 MiB) and readv / memcpy. The two sides run in alternating batches and the median
    // of the per-pair ratios is kept, so load that drifts during the run hits both alike.
    eprintln!("\nsize      readv kobench/plain  writev kobench/plain  readv/memcpy  (median of 21 paired batches)");
    for &n in &SIZES {
        let calls = ((64u64 << 20) / n as u64).clamp(4, 2_000);
        let mut x = ReadXfer::new(t.pid, &mut dst[..n], t.addr, 1);
        let (l, r) = (iov(x.local[0].as_ptr(), n), iov(t.addr as *const u8, n));
        let rd = paired(
            calls,
            || assert_eq!(x.call(), Ok(n)),
            || assert_eq!(plain_readv(t.pid, black_box(&l), black_box(&r)), n as isize),
        );
        drop(x);
        let mut w = WriteXfer::new(t.pid, &src[..n], t.addr, 1);
        let (lw, rw) = (iov(src.as_ptr(), n), iov(t.addr as *const u8, n));
        let wr = paired(
            calls,
            || assert_eq!(w.call(), Ok(n)),
            || {
                assert_eq!(
                    plain_writev(t.pid, black_box(&lw), black_box(&rw)),
                    n as isize
                )
            },
        );
        let mut x = ReadXfer::new(t.pid, &mut dst[..n], t.addr, 1);
        let mut m = vec![0u8; n];
        let mc = paired(
            calls,
            || assert_eq!(x.call(), Ok(n)),
            || m.copy_from_slice(black_box(&src[..n])),
        );
        eprintln!("{:>8}  {:>19.3}  {:>20.3}  {:>12.3}", n, rd, wr, mc);
    }
    drop(t);
}
