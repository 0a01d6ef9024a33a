//! kcmp(2). libc defines no KCMP_* for Linux; values from `include/uapi/linux/kcmp.h`.

use super::{check, Errno};
use serde::{Deserialize, Serialize};

/// The kernel object kcmp compares.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KcmpType {
    File,
    Vm,
    Files,
    Fs,
    Sighand,
    Io,
    Sysvsem,
    EpollTfd,
}

impl KcmpType {
    pub const ALL: [KcmpType; 8] = [
        KcmpType::File,
        KcmpType::Vm,
        KcmpType::Files,
        KcmpType::Fs,
        KcmpType::Sighand,
        KcmpType::Io,
        KcmpType::Sysvsem,
        KcmpType::EpollTfd,
    ];

    pub const fn raw(self) -> i32 {
        self as i32
    }

    pub const fn name(self) -> &'static str {
        match self {
            KcmpType::File => "FILE",
            KcmpType::Vm => "VM",
            KcmpType::Files => "FILES",
            KcmpType::Fs => "FS",
            KcmpType::Sighand => "SIGHAND",
            KcmpType::Io => "IO",
            KcmpType::Sysvsem => "SYSVSEM",
            KcmpType::EpollTfd => "EPOLL_TFD",
        }
    }
}

/// `struct kcmp_epoll_slot`: three u32 (efd, tfd, toff).
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct EpollSlot {
    pub efd: u32,
    pub tfd: u32,
    pub toff: u32,
}

/// `kcmp(pid1, pid2, type, idx1, idx2)` with raw arguments. Returns 0 (equal), 1 or 2
/// (ordered), 3 (not equal, unordered).
#[inline]
pub fn raw(pid1: i32, pid2: i32, kind: i32, idx1: u64, idx2: u64) -> Result<i64, Errno> {
    // SAFETY: for every type but EPOLL_TFD the indexes are integers. For EPOLL_TFD idx2 is
    // read by the kernel as a user pointer, which it validates (copy_from_user -> EFAULT).
    check(unsafe {
        libc::syscall(
            libc::SYS_kcmp,
            pid1,
            pid2,
            kind,
            idx1 as libc::c_ulong,
            idx2 as libc::c_ulong,
        )
    })
}

/// `kcmp(pid1, pid2, kind, idx1, idx2)` for the integer-indexed types.
#[inline]
pub fn kcmp(pid1: i32, pid2: i32, kind: KcmpType, idx1: u64, idx2: u64) -> Result<i64, Errno> {
    raw(pid1, pid2, kind.raw(), idx1, idx2)
}

/// `kcmp(pid1, pid2, KCMP_EPOLL_TFD, fd1, &slot)`.
pub fn kcmp_epoll(pid1: i32, pid2: i32, fd1: i32, slot: &EpollSlot) -> Result<i64, Errno> {
    raw(
        pid1,
        pid2,
        KcmpType::EpollTfd.raw(),
        fd1 as u64,
        slot as *const EpollSlot as u64,
    )
}
