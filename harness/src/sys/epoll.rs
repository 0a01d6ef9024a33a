//! epoll_create1(2) / epoll_ctl(2): just enough to put a file into an epoll set (kcmp's
//! EPOLL_TFD type asks whether one is there).

use super::{check, Errno};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `epoll_create1(EPOLL_CLOEXEC)`.
pub fn create() -> Result<OwnedFd, Errno> {
    // SAFETY: integer argument only.
    let fd = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) } as libc::c_long)?;
    // SAFETY: epoll_create1 returned a fresh fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `epoll_ctl(epfd, EPOLL_CTL_ADD, fd, {EPOLLIN, data = fd})`.
pub fn add(epfd: &OwnedFd, fd: i32) -> Result<(), Errno> {
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: fd as u64,
    };
    // SAFETY: `ev` is a valid epoll_event for the call's duration.
    check(
        unsafe { libc::epoll_ctl(epfd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) }
            as libc::c_long,
    )
    .map(|_| ())
}
