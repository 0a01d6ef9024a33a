//! Processes and threads: ids, CPUs, prctl, fork, wait, signals, credentials.

use super::{check, Errno};
use std::os::unix::process::CommandExt;
use std::process::Command;

/// `getppid()`: the cheapest real syscall, used as the floor every barrier is compared with.
#[inline(always)]
pub fn getppid_raw() -> i64 {
    // SAFETY: getppid takes no arguments and cannot fail. Called through syscall(2) so
    // that no libc caching can turn it into a user-space read.
    unsafe { libc::syscall(libc::SYS_getppid) as i64 }
}

/// `getpid()`.
pub fn getpid() -> i32 {
    std::process::id() as i32
}

/// `gettid()`.
pub fn gettid() -> i32 {
    // SAFETY: gettid takes no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

/// `sched_getcpu()`: the CPU the calling thread runs on now.
pub fn current_cpu() -> Result<usize, Errno> {
    // SAFETY: sched_getcpu takes no arguments.
    let r = unsafe { libc::sched_getcpu() };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r as usize)
    }
}

/// `sched_getaffinity(0)`: the CPUs the calling thread may run on. The mask grows past
/// glibc's 1024-bit `cpu_set_t` when the kernel has more CPU ids (EINVAL means "too small").
pub fn allowed_cpus() -> Result<Vec<usize>, Errno> {
    let mut words = 1024 / 64;
    loop {
        let mut mask = vec![0u64; words];
        // SAFETY: the pointer and byte size describe `mask`, which outlives the call; the
        // kernel writes at most that many bytes.
        let r = unsafe {
            libc::sched_getaffinity(0, words * 8, mask.as_mut_ptr() as *mut libc::cpu_set_t)
        };
        if r == 0 {
            return Ok((0..words * 64)
                .filter(|&i| mask[i / 64] & (1u64 << (i % 64)) != 0)
                .collect());
        }
        let e = Errno::last();
        if e.0 != libc::EINVAL || words >= (1 << 20) / 64 {
            return Err(e);
        }
        words *= 2;
    }
}

/// `sched_setaffinity(pid, cpus)` (0: the calling thread), with a mask sized for the
/// largest CPU id given.
pub fn set_affinity(pid: i32, cpus: &[usize]) -> Result<(), Errno> {
    let max = cpus.iter().copied().max().unwrap_or(0);
    if max >= 1 << 20 {
        return Err(Errno(libc::EINVAL));
    }
    let words = (max / 64 + 1).max(1024 / 64);
    let mut mask = vec![0u64; words];
    for &c in cpus {
        mask[c / 64] |= 1u64 << (c % 64);
    }
    // SAFETY: the pointer and byte size describe `mask`, which outlives the call.
    let r =
        unsafe { libc::sched_setaffinity(pid, words * 8, mask.as_ptr() as *const libc::cpu_set_t) };
    if r != 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// `prctl(PR_SET_PDEATHSIG, SIGKILL)`: this process dies when the thread that made it exits.
pub fn die_with_parent() -> Result<(), Errno> {
    // SAFETY: PR_SET_PDEATHSIG takes a signal number and no pointers.
    check(unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    } as libc::c_long)
    .map(|_| ())
}

/// `prctl(PR_SET_DUMPABLE, v)`.
pub fn set_dumpable(dumpable: bool) -> Result<(), Errno> {
    // SAFETY: PR_SET_DUMPABLE takes an integer and no pointers.
    check(
        unsafe { libc::prctl(libc::PR_SET_DUMPABLE, dumpable as libc::c_ulong, 0, 0, 0) }
            as libc::c_long,
    )
    .map(|_| ())
}

/// `prctl(PR_SET_NO_NEW_PRIVS, 1)`.
pub fn set_no_new_privs() -> Result<(), Errno> {
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integers and no pointers.
    check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } as libc::c_long).map(|_| ())
}

/// Makes a `Command` whose child gets `PR_SET_PDEATHSIG(SIGKILL)` before it execs, so it
/// dies with the thread that spawned it. The parent must keep that thread alive as long as
/// the child should live, and still kill and reap the child itself (see `harness::child`).
pub fn command_dying_with_parent(cmd: &mut Command) -> &mut Command {
    let parent = getpid();
    // SAFETY: the closure runs between fork and exec and calls only async-signal-safe
    // functions (prctl, getppid, _exit through libc).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before prctl: then nobody will ever signal us.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        })
    }
}

/// Restores the default SIGPIPE action (Rust ignores it), so `kobench ... | head` ends
/// quietly like any Unix tool instead of failing on a closed pipe.
pub fn default_sigpipe() {
    // SAFETY: installing SIG_DFL for SIGPIPE touches no memory of this process.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

/// The children of every thread of `pid`, from `/proc/PID/task/*/children`.
pub fn children(pid: i32) -> Vec<i32> {
    let mut v = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let s = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
        v.extend(s.split_whitespace().filter_map(|x| x.parse::<i32>().ok()));
    }
    v
}

/// Threads in this process, from `/proc/self/status`.
pub fn thread_count() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:").map(|v| v.trim().parse().ok()))
                .flatten()
        })
        .unwrap_or(0)
}

/// Which side of a fork we are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fork {
    Parent { child: i32 },
    Child,
}

/// `fork()`, refused unless the process is single-threaded (kobench's helper processes
/// are; the harness itself never forks).
pub fn fork_single_threaded() -> Result<Fork, Errno> {
    if thread_count() != 1 {
        return Err(Errno(libc::EAGAIN));
    }
    // SAFETY: the process has one thread (checked above), so the child inherits no lock
    // held by another thread.
    let r = unsafe { libc::fork() };
    match r {
        -1 => Err(Errno::last()),
        0 => Ok(Fork::Child),
        pid => Ok(Fork::Parent { child: pid }),
    }
}

/// `_exit(code)`: leaves a forked child without running the parent's atexit handlers.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and is always safe to call.
    unsafe { libc::_exit(code) }
}

/// How a waited-for child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

/// `waitpid(pid, 0)`, or with `nohang`, `None` while it still runs.
pub fn wait_pid(pid: i32, nohang: bool) -> Result<Option<Exit>, Errno> {
    let mut status = 0;
    // SAFETY: `status` is a valid out-pointer for the call's duration.
    let r = unsafe { libc::waitpid(pid, &mut status, if nohang { libc::WNOHANG } else { 0 }) };
    if r < 0 {
        return Err(Errno::last());
    }
    if r == 0 {
        return Ok(None);
    }
    if libc::WIFEXITED(status) {
        Ok(Some(Exit::Code(libc::WEXITSTATUS(status))))
    } else {
        Ok(Some(Exit::Signal(libc::WTERMSIG(status))))
    }
}

/// Waits for `pid` at most `timeout`; kills it (SIGKILL) and reaps it when it overruns.
pub fn wait_pid_timeout(pid: i32, timeout: std::time::Duration) -> Result<Exit, Errno> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(e) = wait_pid(pid, true)? {
            return Ok(e);
        }
        if std::time::Instant::now() >= deadline {
            let _ = kill(pid, libc::SIGKILL);
            return wait_pid(pid, false).map(|e| e.unwrap_or(Exit::Signal(libc::SIGKILL)));
        }
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
}

/// `kill(pid, sig)`.
pub fn kill(pid: i32, sig: i32) -> Result<(), Errno> {
    // SAFETY: kill takes integers only.
    check(unsafe { libc::kill(pid, sig) } as libc::c_long).map(|_| ())
}

/// `getuid()`.
pub fn uid() -> u32 {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}

/// `geteuid()`.
pub fn euid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

/// Drops to `uid`/`gid` with no supplementary groups. From root to a non-root uid the
/// kernel clears the permitted and effective capability sets (capabilities(7)).
pub fn drop_to(uid: u32, gid: u32) -> Result<(), Errno> {
    // SAFETY: setgroups with a zero count reads no memory.
    check(unsafe { libc::setgroups(0, std::ptr::null()) } as libc::c_long)?;
    // SAFETY: integer arguments only.
    check(unsafe { libc::setresgid(gid, gid, gid) } as libc::c_long)?;
    // SAFETY: integer arguments only.
    check(unsafe { libc::setresuid(uid, uid, uid) } as libc::c_long)?;
    Ok(())
}

/// A field of `/proc/<pid>/status` (e.g. `CapEff`, `Uid`), trimmed.
pub fn status_field(pid: Option<i32>, field: &str) -> Option<String> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".to_string(),
    };
    let s = std::fs::read_to_string(path).ok()?;
    let prefix = format!("{field}:");
    s.lines()
        .find_map(|l| l.strip_prefix(&prefix).map(|v| v.trim().to_string()))
}

/// The effective capability mask of a process, from `/proc/<pid>/status`.
pub fn cap_eff(pid: Option<i32>) -> Option<u64> {
    status_field(pid, "CapEff").and_then(|v| u64::from_str_radix(&v, 16).ok())
}

/// Replaces this process's image (`execv`), returning only on failure.
pub fn exec(cmd: &mut Command) -> std::io::Error {
    cmd.exec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_cpu_is_allowed() {
        let cpu = current_cpu().unwrap();
        assert!(allowed_cpus().unwrap().contains(&cpu));
    }

    #[test]
    fn getppid_matches_std() {
        assert_eq!(getppid_raw() as u32, std::os::unix::process::parent_id());
    }

    #[test]
    fn fork_refused_when_threaded() {
        // The test harness runs tests on several threads; even with one, the main thread
        // exists beside this one.
        let t = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_millis(200)));
        assert_eq!(fork_single_threaded(), Err(Errno(libc::EAGAIN)));
        t.join().unwrap();
    }
}
