//! clone(2) children that only park: process relationships built for real (kcmp).
//!
//! Design note. A [`Parked`] child is made by `clone(flags | SIGCHLD)` on a stack of its
//! own and runs [`parked_main`] only: set `PR_SET_PDEATHSIG(SIGKILL)`, optionally take a
//! SysV semaphore with `SEM_UNDO` (so that it owns an undo list), report readiness with one
//! byte on a pipe, then block in `ppoll` until it is killed. It never returns into Rust
//! code that assumes the parent's state, takes no lock and allocates nothing, so it is
//! sound even when it shares the parent's address space (`CLONE_VM`), fd table or signal
//! handlers. Dropping a `Parked` kills (SIGKILL) and reaps it, then unmaps its stack; if
//! the parent dies first, PDEATHSIG kills it.
//!
//! Call [`Parked::spawn`] only from a single-threaded process (kobench's helpers): the
//! death signal is tied to the spawning thread, and a plain fork-like clone of a
//! multi-threaded process would copy locks held by other threads (the child never takes
//! one, but the rule keeps the reasoning local).

use super::mem::{Mapping, Prot};
use super::{check, Errno};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

/// The sharing flags kcmp can observe (`include/uapi/linux/sched.h`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct CloneFlags(pub i32);

impl CloneFlags {
    /// Nothing shared: a fork.
    pub const FORK: CloneFlags = CloneFlags(0);
    pub const VM: CloneFlags = CloneFlags(libc::CLONE_VM);
    pub const FILES: CloneFlags = CloneFlags(libc::CLONE_FILES);
    pub const FS: CloneFlags = CloneFlags(libc::CLONE_FS);
    /// CLONE_SIGHAND needs CLONE_VM (clone(2): EINVAL otherwise).
    pub const SIGHAND_VM: CloneFlags = CloneFlags(libc::CLONE_SIGHAND | libc::CLONE_VM);
    pub const IO: CloneFlags = CloneFlags(libc::CLONE_IO);
    pub const SYSVSEM: CloneFlags = CloneFlags(libc::CLONE_SYSVSEM);

    /// `CLONE_VM|CLONE_SIGHAND`-style name (`fork` for none).
    pub fn name(self) -> String {
        let names = [
            (libc::CLONE_VM, "CLONE_VM"),
            (libc::CLONE_FILES, "CLONE_FILES"),
            (libc::CLONE_FS, "CLONE_FS"),
            (libc::CLONE_SIGHAND, "CLONE_SIGHAND"),
            (libc::CLONE_IO, "CLONE_IO"),
            (libc::CLONE_SYSVSEM, "CLONE_SYSVSEM"),
        ];
        let v: Vec<&str> = names
            .iter()
            .filter(|(b, _)| self.0 & b != 0)
            .map(|(_, n)| *n)
            .collect();
        if v.is_empty() {
            "fork".into()
        } else {
            v.join("|")
        }
    }
}

/// What the child reads at start. Plain data, copied by the child before it signals ready.
#[derive(Copy, Clone, Debug)]
#[repr(C)]
struct Setup {
    parent: libc::pid_t,
    ready_fd: libc::c_int,
    /// A SysV semaphore set to take one unit of with SEM_UNDO, or -1.
    semid: libc::c_int,
}

/// Stack for the child's few frames (a ppoll, a semop, a write). 64 KiB leaves a wide margin.
const STACK_LEN: usize = 64 * 1024;

/// A parked clone child. Killed and reaped on drop.
#[derive(Debug)]
pub struct Parked {
    pid: i32,
    flags: CloneFlags,
    /// The child's stack; with CLONE_VM it lives in the shared address space and must stay
    /// mapped until the child is reaped (drop order: kill, reap, then unmap).
    _stack: Mapping,
}

impl Parked {
    /// Clones a parked child sharing what `flags` says. With `semid`, the child takes one
    /// unit of semaphore 0 of that set with `SEM_UNDO` before it reports ready (so it owns
    /// a SysV undo list); use it only without CLONE_VM (it makes a libc call that may set
    /// errno). Waits at most `timeout` for readiness (ETIMEDOUT; EIO when the child failed).
    /// Refused (EAGAIN) in a multi-threaded process.
    pub fn spawn(
        flags: CloneFlags,
        semid: Option<i32>,
        timeout: Duration,
    ) -> Result<Parked, Errno> {
        if semid.is_some() && flags.0 & libc::CLONE_VM != 0 {
            return Err(Errno(libc::EINVAL));
        }
        if super::process::thread_count() != 1 {
            return Err(Errno(libc::EAGAIN));
        }
        let stack = Mapping::anon(STACK_LEN, Prot::ReadWrite, libc::MAP_STACK)?;
        let (rd, wr) = pipe()?;
        let setup = Setup {
            parent: super::process::getpid(),
            ready_fd: wr.as_raw_fd(),
            semid: semid.unwrap_or(-1),
        };
        // The stack grows down on every architecture kobench supports: pass its top,
        // 16-byte aligned (the mapping is page aligned).
        let top = stack.as_ptr().wrapping_add(STACK_LEN) as *mut libc::c_void;
        // SAFETY:
        // - `parked_main` runs on `stack`, which stays mapped until the child is reaped;
        // - `setup` outlives the child's read of it: the child copies it before writing
        //   the ready byte, and we wait for that byte (or kill and reap the child) below;
        // - the child makes raw syscalls only, so sharing the address space, fd table or
        //   signal handlers with this process cannot corrupt any state of ours.
        let pid = unsafe {
            libc::clone(
                parked_main,
                top,
                flags.0 | libc::SIGCHLD,
                &setup as *const Setup as *mut libc::c_void,
            )
        };
        if pid < 0 {
            return Err(Errno::last());
        }
        let child = Parked {
            pid,
            flags,
            _stack: stack,
        };
        // Keep our write end open until the byte is read: with CLONE_FILES closing it here
        // would close the child's too (one shared table).
        let got = read_byte_timeout(&rd, timeout);
        drop(wr);
        match got {
            Ok(0) => Ok(child),
            Ok(_) => Err(Errno(libc::EIO)),
            Err(e) => Err(e),
        }
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    pub fn flags(&self) -> CloneFlags {
        self.flags
    }
}

impl Drop for Parked {
    fn drop(&mut self) {
        let _ = super::process::kill(self.pid, libc::SIGKILL);
        let _ = super::process::wait_pid_timeout(self.pid, Duration::from_secs(5));
    }
}

/// The child: see the module note. Never returns.
extern "C" fn parked_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` points to the parent's `Setup`, alive until we write the ready byte.
    let s = unsafe { *(arg as *const Setup) };
    // SAFETY (whole block): raw syscalls with integer arguments or pointers to locals of
    // this frame. Through libc::syscall a failing call sets errno, which with CLONE_VM and
    // no CLONE_SETTLS is the parent's thread-local errno; these calls do not fail in
    // normal operation, and a failure is reported through the ready byte instead.
    unsafe {
        libc::syscall(
            libc::SYS_prctl,
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
        // The parent may have died before prctl: then nobody would ever signal us.
        if libc::syscall(libc::SYS_getppid) as libc::pid_t != s.parent {
            libc::syscall(libc::SYS_exit_group, 1);
        }
        let mut status: u8 = 0;
        if s.semid >= 0 {
            let mut op = libc::sembuf {
                sem_num: 0,
                sem_op: 1,
                sem_flg: libc::SEM_UNDO as libc::c_short,
            };
            if libc::semop(s.semid, &mut op, 1) != 0 {
                status = 1;
            }
        }
        libc::syscall(libc::SYS_write, s.ready_fd, &status as *const u8, 1usize);
        loop {
            // ppoll with no fds and no timeout: sleeps until a signal (SIGKILL) arrives.
            libc::syscall(
                libc::SYS_ppoll,
                std::ptr::null::<libc::pollfd>(),
                0usize,
                std::ptr::null::<libc::timespec>(),
                std::ptr::null::<libc::sigset_t>(),
                0usize,
            );
        }
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), Errno> {
    let (r, w) = std::io::pipe().map_err(|e| Errno(e.raw_os_error().unwrap_or(libc::EIO)))?;
    Ok((r.into(), w.into()))
}

/// Reads one byte, waiting at most `timeout` (ETIMEDOUT); EIO at end of file.
fn read_byte_timeout(fd: &OwnedFd, timeout: Duration) -> Result<u8, Errno> {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd for the call's duration.
    let n = check(unsafe { libc::poll(&mut p, 1, ms) } as libc::c_long)?;
    if n == 0 {
        return Err(Errno(libc::ETIMEDOUT));
    }
    let mut b = 0u8;
    // SAFETY: reads at most one byte into `b`.
    let r = check(
        unsafe { libc::read(fd.as_raw_fd(), &mut b as *mut u8 as *mut libc::c_void, 1) }
            as libc::c_long,
    )?;
    if r == 0 {
        return Err(Errno(libc::EIO));
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_names() {
        assert_eq!(CloneFlags::FORK.name(), "fork");
        assert_eq!(CloneFlags::SIGHAND_VM.name(), "CLONE_VM|CLONE_SIGHAND");
        assert_eq!(CloneFlags::SYSVSEM.name(), "CLONE_SYSVSEM");
    }

    #[test]
    fn semop_with_vm_refused() {
        assert_eq!(
            Parked::spawn(CloneFlags::VM, Some(0), Duration::from_secs(1)).unwrap_err(),
            Errno(libc::EINVAL)
        );
    }

    #[test]
    fn refused_in_a_multi_threaded_process() {
        // The test harness runs this beside its main thread.
        let t = std::thread::spawn(|| std::thread::sleep(Duration::from_millis(200)));
        assert_eq!(
            Parked::spawn(CloneFlags::FORK, None, Duration::from_secs(1)).unwrap_err(),
            Errno(libc::EAGAIN)
        );
        t.join().unwrap();
    }
}
