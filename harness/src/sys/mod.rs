//! Thin typed syscall wrappers: the one place where kobench talks to the kernel.
//!
//! Every function here is a documented one-liner over `libc`; the `unsafe` of the whole
//! project lives in this module (and in the few architecture files that need inline
//! assembly). Errors come back as [`Errno`], never as a raw `-1`.
//!
//! - [`membarrier`]: membarrier(2) commands, flags and QUERY decoding.
//! - [`process`]: pids, CPUs, prctl, fork/exec helpers, credentials.
//! - [`creds`]: capability sets, keep-caps, bounding set, dumpable, Yama ptracer; taking chosen credentials.
//! - [`kcmp`]: kcmp(2) and its types.
//! - [`pvm`]: process_vm_readv(2) / process_vm_writev(2).
//! - [`mem`]: mmap, mprotect, memfd.
//! - [`clone`]: parked clone children (kcmp relationships); [`ioprio`], [`sysvsem`], [`epoll`]: what they share.
//! - [`code`]: generated-code rings under W^X, arm64 cache maintenance, calls into them.

pub mod clone;
pub mod code;
pub mod creds;
pub mod epoll;
pub mod ioprio;
pub mod kcmp;
pub mod mem;
pub mod membarrier;
pub mod process;
pub mod pvm;
pub mod sysvsem;

use serde::{Deserialize, Serialize};
use std::fmt;

/// An error number returned by a failed system call.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Errno(pub i32);

impl Errno {
    /// The calling thread's current `errno`.
    pub fn last() -> Self {
        Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }

    /// The symbolic name (`EPERM`, `EINVAL`, ...), or `E?<n>` for numbers kobench does not name.
    pub fn name(self) -> String {
        let n = match self.0 {
            0 => "OK",
            libc::EPERM => "EPERM",
            libc::ENOENT => "ENOENT",
            libc::ESRCH => "ESRCH",
            libc::EINTR => "EINTR",
            libc::EIO => "EIO",
            libc::E2BIG => "E2BIG",
            libc::EBADF => "EBADF",
            libc::ECHILD => "ECHILD",
            libc::EAGAIN => "EAGAIN",
            libc::ENOMEM => "ENOMEM",
            libc::EACCES => "EACCES",
            libc::EFAULT => "EFAULT",
            libc::EBUSY => "EBUSY",
            libc::EEXIST => "EEXIST",
            libc::EINVAL => "EINVAL",
            libc::ENOSPC => "ENOSPC",
            libc::ENOSYS => "ENOSYS",
            libc::EOPNOTSUPP => "EOPNOTSUPP",
            libc::ETIMEDOUT => "ETIMEDOUT",
            _ => return format!("E?{}", self.0),
        };
        n.to_string()
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({})",
            self.name(),
            std::io::Error::from_raw_os_error(self.0)
        )
    }
}

impl std::error::Error for Errno {}

/// Turns a raw syscall return (`-1` sets errno) into a `Result`.
#[inline(always)]
pub(crate) fn check(ret: libc::c_long) -> Result<i64, Errno> {
    if ret == -1 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

/// The outcome of one call as the rule checks record it: `0`, a positive value, or an errno name.
pub fn outcome<T: fmt::Display>(r: &Result<T, Errno>) -> String {
    match r {
        Ok(v) => v.to_string(),
        Err(e) => e.name(),
    }
}
