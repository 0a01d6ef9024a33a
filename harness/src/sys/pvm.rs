//! process_vm_readv(2) / process_vm_writev(2).

use super::{check, Errno};

/// One remote range: an address in the target and a length.
#[repr(C)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RemoteIov {
    pub base: usize,
    pub len: usize,
}

/// The per-call cap the kernel applies to one transfer (`MAX_RW_COUNT`).
pub const MAX_RW_COUNT: usize = 0x7fff_f000;
/// `UIO_MAXIOV`.
pub const UIO_MAXIOV: usize = 1024;

fn local(iov: &[std::io::IoSliceMut<'_>]) -> (*const libc::iovec, libc::c_ulong) {
    (
        iov.as_ptr() as *const libc::iovec,
        iov.len() as libc::c_ulong,
    )
}

/// `process_vm_readv(pid, local, remote, flags)`: bytes read into `local`.
#[inline]
pub fn readv(
    pid: i32,
    local_iov: &mut [std::io::IoSliceMut<'_>],
    remote: &[RemoteIov],
    flags: u64,
) -> Result<usize, Errno> {
    let (lp, ln) = local(local_iov);
    // SAFETY: IoSliceMut is ABI-compatible with iovec on Unix and each entry describes
    // memory this process may write; RemoteIov is repr(C) like iovec. The kernel checks
    // the remote ranges against the target's address space.
    check(unsafe {
        libc::process_vm_readv(
            pid,
            lp,
            ln,
            remote.as_ptr() as *const libc::iovec,
            remote.len() as libc::c_ulong,
            flags as libc::c_ulong,
        )
    } as libc::c_long)
    .map(|n| n as usize)
}

/// `process_vm_writev(pid, local, remote, flags)`: bytes written from `local`.
#[inline]
pub fn writev(
    pid: i32,
    local_iov: &[std::io::IoSlice<'_>],
    remote: &[RemoteIov],
    flags: u64,
) -> Result<usize, Errno> {
    // SAFETY: IoSlice is ABI-compatible with iovec; each entry describes readable memory.
    check(unsafe {
        libc::process_vm_writev(
            pid,
            local_iov.as_ptr() as *const libc::iovec,
            local_iov.len() as libc::c_ulong,
            remote.as_ptr() as *const libc::iovec,
            remote.len() as libc::c_ulong,
            flags as libc::c_ulong,
        )
    } as libc::c_long)
    .map(|n| n as usize)
}

/// `process_vm_readv` with raw iovec arrays, for the argument checks that must pass bad
/// pointers and lengths. The kernel validates every pointer (EFAULT), so no memory of
/// this process is touched except through valid local iovecs.
pub fn readv_raw(
    pid: i32,
    local: *const libc::iovec,
    nlocal: u64,
    remote: *const libc::iovec,
    nremote: u64,
    flags: u64,
) -> Result<usize, Errno> {
    // SAFETY: see above; the caller passes either valid iovecs or deliberately bad pointers
    // that the kernel rejects with EFAULT before writing anything.
    check(unsafe {
        libc::process_vm_readv(
            pid,
            local,
            nlocal as libc::c_ulong,
            remote,
            nremote as libc::c_ulong,
            flags as libc::c_ulong,
        )
    } as libc::c_long)
    .map(|n| n as usize)
}
