//! Memory mappings: anonymous and memfd-backed, with protection changes.

use super::{check, Errno};

/// An owned mapping, unmapped on drop.
#[derive(Debug)]
pub struct Mapping {
    ptr: *mut u8,
    len: usize,
    prot: Prot,
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
            prot,
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
    pub fn protect(&mut self, prot: Prot) -> Result<(), Errno> {
        // SAFETY: the range is this mapping's own.
        check(
            unsafe { libc::mprotect(self.ptr as *mut libc::c_void, self.len, prot.raw()) }
                as libc::c_long,
        )?;
        self.prot = prot;
        Ok(())
    }

    /// `mprotect` over `[off, off+len)` of the mapping (`off` page-aligned).
    pub fn protect_range(&self, off: usize, len: usize, prot: Prot) -> Result<(), Errno> {
        assert!(off + len <= self.len);
        // SAFETY: the range lies inside this mapping (asserted above).
        check(
            unsafe { libc::mprotect(self.ptr.add(off) as *mut libc::c_void, len, prot.raw()) }
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

    /// The mapping as 64-bit atomic words: how threads and processes share litmus cells
    /// without data races (a Relaxed atomic load/store is a plain load/store on x86_64 and
    /// aarch64, so the hardware's own ordering is what a litmus test sees).
    ///
    /// The mapping must be readable and writable (accessing it otherwise faults, as any
    /// access to such a mapping would).
    pub fn words(&self) -> &[std::sync::atomic::AtomicU64] {
        // SAFETY:
        // - mmap returns page-aligned memory, so every 8-byte word is aligned for AtomicU64;
        // - the range [ptr, ptr+len) stays mapped while `self` (and so the slice) lives;
        // - AtomicU64 has the layout of u64 and every bit pattern is a valid value;
        // - all access through the slice is atomic, so concurrent use by threads (or by other
        //   processes mapping the same memfd) is not a data race.
        unsafe {
            std::slice::from_raw_parts(
                self.ptr as *const std::sync::atomic::AtomicU64,
                self.len / 8,
            )
        }
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

impl Mapping {
    /// Unmaps the tail `[new_len, len)` of the mapping, leaving an unmapped hole after it
    /// (for checks that need an address range known not to be mapped).
    pub fn truncate(&mut self, new_len: usize) -> Result<(), Errno> {
        assert!(new_len <= self.len && new_len.is_multiple_of(page_size()));
        if new_len == self.len {
            return Ok(());
        }
        // SAFETY: the range is the tail of this mapping, which no slice borrows (we hold &mut).
        check(unsafe {
            libc::munmap(
                self.ptr.add(new_len) as *mut libc::c_void,
                self.len - new_len,
            )
        } as libc::c_long)?;
        self.len = new_len;
        Ok(())
    }

    /// The bytes, when the mapping is readable. Other processes may change them (a
    /// shared mapping, or process_vm_writev into this one) as for any shared memory.
    pub fn slice(&self) -> Option<&[u8]> {
        // SAFETY: readable (checked); writes from this process need `&mut self`
        // (`slice_mut`) or the unsafe `bytes_mut`, whose contract excludes this borrow.
        matches!(self.prot, Prot::Read | Prot::ReadWrite | Prot::ReadExec)
            .then(|| unsafe { self.bytes() })
    }

    /// The bytes, mutable, when the mapping is writable; `&mut self` makes them exclusive.
    pub fn slice_mut(&mut self) -> Option<&mut [u8]> {
        // SAFETY: writable (checked) and exclusively borrowed through `&mut self`.
        (self.prot == Prot::ReadWrite).then(|| unsafe { self.bytes_mut() })
    }
}

/// `MADV_HUGEPAGE`: ask for transparent huge pages on a range.
pub const MADV_HUGEPAGE: i32 = libc::MADV_HUGEPAGE;
/// `MADV_DONTNEED`: drop a range's pages (anonymous memory reads back as zero, untouched).
pub const MADV_DONTNEED: i32 = libc::MADV_DONTNEED;
/// `MAP_HUGETLB`: back a mapping with hugetlb pages (default huge page size).
pub const MAP_HUGETLB: i32 = libc::MAP_HUGETLB;
/// `MAP_NORESERVE`.
pub const MAP_NORESERVE: i32 = libc::MAP_NORESERVE;

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped(addr: usize) -> bool {
        std::fs::read_to_string("/proc/self/maps")
            .unwrap()
            .lines()
            .any(|l| {
                let (a, b) = l.split_once(' ').unwrap().0.split_once('-').unwrap();
                let (a, b) = (
                    usize::from_str_radix(a, 16).unwrap(),
                    usize::from_str_radix(b, 16).unwrap(),
                );
                a <= addr && addr < b
            })
    }

    #[test]
    fn truncate_leaves_an_unmapped_tail_and_slices_follow_protection() {
        let p = page_size();
        let mut m = Mapping::anon(3 * p, Prot::ReadWrite, 0).unwrap();
        m.slice_mut().unwrap()[..3].copy_from_slice(b"abc");
        m.truncate(2 * p).unwrap();
        assert_eq!(m.len(), 2 * p);
        assert!(mapped(m.addr() + p) && !mapped(m.addr() + 2 * p));
        m.protect(Prot::Read).unwrap();
        assert!(m.slice_mut().is_none());
        assert_eq!(&m.slice().unwrap()[..3], b"abc");
        m.protect(Prot::None).unwrap();
        assert!(m.slice().is_none());
    }
}
