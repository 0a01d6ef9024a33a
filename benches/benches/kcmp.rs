//! kcmp per type, one call per iteration, through kobench's `sys::kcmp` wrappers.
//!
//! The second process is a `sleep` child (dies with this bench through PDEATHSIG, killed
//! and reaped at the end) whose stdin is this process's pipe read end, so FILE and
//! EPOLL_TFD compare across processes too: FILE compares our pipe fd with the child's fd 0
//! (one open file), EPOLL_TFD asks whether the child's fd 0 sits in our epoll set (it does).
//! getppid is the floor: the cost of entering the kernel at all.

use criterion::{criterion_group, criterion_main, Criterion};
use kobench_harness::sys::epoll;
use kobench_harness::sys::kcmp::{self as k, EpollSlot, KcmpType};
use kobench_harness::sys::process as proc_;
use std::hint::black_box;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::Duration;

fn kcmp_per_type(c: &mut Criterion) {
    let (rd, _wr) = std::io::pipe().expect("pipe");
    let rd: OwnedFd = rd.into();
    let ep = epoll::create().expect("epoll_create1");
    epoll::add(&ep, rd.as_raw_fd()).expect("epoll_ctl");
    let mut cmd = Command::new("sleep");
    cmd.arg("600")
        .stdin(Stdio::from(rd.try_clone().expect("dup")))
        .stdout(Stdio::null());
    proc_::command_dying_with_parent(&mut cmd);
    let mut child = cmd.spawn().expect("spawn sleep");
    let (me, other) = (proc_::getpid(), child.id() as i32);
    let fd = rd.as_raw_fd() as u64;
    let slot = EpollSlot {
        efd: ep.as_raw_fd() as u32,
        tfd: rd.as_raw_fd() as u32,
        toff: 0,
    };
    assert_eq!(
        k::kcmp(me, other, KcmpType::File, fd, 0),
        Ok(0),
        "child's stdin is our pipe"
    );
    assert_eq!(
        k::kcmp_epoll(other, me, 0, &slot),
        Ok(0),
        "child's stdin is in our epoll set"
    );

    let mut g = c.benchmark_group("kcmp");
    g.warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    g.bench_function("getppid_floor", |b| {
        b.iter(|| black_box(proc_::getppid_raw()))
    });
    for t in KcmpType::ALL {
        g.bench_function(t.name(), |b| match t {
            KcmpType::File => b.iter(|| k::kcmp(black_box(me), other, KcmpType::File, fd, 0)),
            KcmpType::EpollTfd => b.iter(|| k::kcmp_epoll(black_box(other), me, 0, &slot)),
            t => b.iter(|| k::kcmp(black_box(me), other, t, 0, 0)),
        });
    }
    g.finish();
    let _ = child.kill();
    let _ = child.wait();
}

criterion_group!(benches, kcmp_per_type);
criterion_main!(benches);
