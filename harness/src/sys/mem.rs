//! Memory mappings: anonymous and memfd-backed, with protection changes.

use super::{check, Errno};

/// An owned mapping, unmapped on drop.
#[derive(Debug)]
pub struct Mapping {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: a Mapping is a plain address range; synchronising access to its bytes is the
// user's job, exactly as for a raw pointer shared between threads.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

/// Page protections.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Prot {
    None,
    Read,
    ReadWrite,
    ReadExec,
}

impl Prot {
    fn raw(self) -> i32 {
        match self {
            Prot::None => libc::PROT_NONE,
            Prot::Read => libc::PROT_READ,
            Prot::ReadWrite => libc::PROT_READ | libc::PROT_WRITE,
            Prot::ReadExec => libc::PROT_READ | libc::PROT_EXEC,
        }
    }
}

impl Mapping {
    /// `mmap(NULL, len, prot, MAP_PRIVATE|MAP_ANONYMOUS [| extra], -1, 0)`.
    pub fn anon(len: usize, prot: Prot, extra_flags: i32) -> Result<Mapping, Errno> {
        Self::map(
            len,
            prot,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | extra_flags,
            -1,
        )
    }

    /// `mmap(NULL, len, prot, MAP_SHARED, fd, 0)`.
    pub fn shared_fd(fd: i32, len: usize, prot: Prot) -> Result<Mapping, Errno> {
        Self::map(len, prot, libc::MAP_SHARED, fd)
    }

    /// `mmap(NULL, len, prot, MAP_SHARED|MAP_ANONYMOUS, -1, 0)`: shared with fork children.
    pub fn shared_anon(len: usize, prot: Prot) -> Result<Mapping, Errno> {
        Self::map(len, prot, libc::MAP_SHARED | libc::MAP_ANONYMOUS, -1)
    }

    fn map(len: usize, prot: Prot, flags: i32, fd: i32) -> Result<Mapping, Errno> {
        // SAFETY: a NULL hint lets the kernel choose a fresh range; nothing existing is replaced.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot.raw(), flags, fd, 0) };
        if p == libc::MAP_FAILED {
            return Err(Errno::last());
        }
        Ok(Mapping {
            ptr: p as *mut u8,
            len,
        })
    }

    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    pub fn addr(&self) -> usize {
        self.ptr as usize
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `mprotect` over the whole mapping.
    pub fn protect(&self, prot: Prot) -> Result<(), Errno> {
        // SAFETY: the range is this mapping's own.
        check(
            unsafe { libc::mprotect(self.ptr as *mut libc::c_void, self.len, prot.raw()) }
                as libc::c_long,
        )
        .map(|_| ())
    }

    /// `madvise` over `[off, off+len)` of the mapping.
    pub fn advise(&self, off: usize, len: usize, advice: i32) -> Result<(), Errno> {
        assert!(off + len <= self.len);
        // SAFETY: the range lies inside this mapping (asserted above).
        check(
            unsafe { libc::madvise(self.ptr.add(off) as *mut libc::c_void, len, advice) }
                as libc::c_long,
        )
        .map(|_| ())
    }

    /// The bytes, for mappings that are readable.
    ///
    /// # Safety
    /// The mapping must be readable, and no one may write it while the slice lives.
    pub unsafe fn bytes(&self) -> &[u8] {
        // SAFETY: the caller guarantees readability and no concurrent writes.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// The bytes, mutable, for mappings that are writable.
    ///
    /// # Safety
    /// The mapping must be writable, and no one else may touch it while the slice lives.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn bytes_mut(&self) -> &mut [u8] {
        // SAFETY: the caller guarantees writability and exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: ptr/len are exactly what mmap returned, unmapped once.
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.len) };
    }
}

/// `memfd_create(name, MFD_CLOEXEC)` sized to `len`.
pub fn memfd(name: &str, len: usize) -> Result<std::os::fd::OwnedFd, Errno> {
    use std::os::fd::FromRawFd;
    let cname = std::ffi::CString::new(name).map_err(|_| Errno(libc::EINVAL))?;
    // SAFETY: cname is a valid NUL-terminated string for the call.
    let fd = unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    let f = std::fs::File::from(owned);
    f.set_len(len as u64)
        .map_err(|e| Errno(e.raw_os_error().unwrap_or(libc::EIO)))?;
    Ok(f.into())
}

/// The page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf takes an integer.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}
