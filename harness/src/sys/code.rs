//! Generated code: rings of generation stubs kept under W^X, the arm64 cache maintenance
//! that makes written code fetchable, and the call into it. This is the one file of
//! kobench that executes code it wrote.
//!
//! A [`CodeRing`] is `slots` stubs (see [`crate::jit::encode`]), each returning a
//! generation number, in one of two layouts:
//!
//! - [`Layout::Dual`]: one memfd mapped twice, read-write at one address and
//!   read-execute at another (the .NET / asmjit double mapping, methodology §3.4). Slots
//!   are [`DUAL_STRIDE`] bytes apart.
//! - [`Layout::Flip`]: one private mapping, one page per slot, each page read-execute
//!   except while it is rewritten: `mprotect` RW, write, `mprotect` RX.
//!
//! No address is ever writable and executable at once. Every slot always holds a
//! complete stub: images are written whole at construction, before any view is
//! executable, and later writes replace one stub by another. Any byte-wise mix of two
//! stub images is itself a stub (the bytes that differ carry only immediate bits, a
//! property the encode tests check), so even a torn write leaves a function that returns.

use super::mem::{memfd, page_size, Mapping, Prot};
use super::Errno;
use crate::jit::encode::{native_image, IMAGE_LEN};
use std::os::fd::{AsRawFd, OwnedFd};

/// Bytes between two slots of a dual mapping: one 64-byte cache line per slot, so
/// writing a slot does not touch the line another CPU is executing (x86 SMC detection
/// works on whole lines, Intel SDM Vol. 3A §11.6; Arm's common line size is 64 B).
pub const DUAL_STRIDE: usize = 64;

/// A view's `(start, len)`, when the ring has that view.
pub type View = Option<(usize, usize)>;

/// How the code buffer is mapped.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// memfd mapped RW and RX at two addresses.
    Dual,
    /// One mapping flipped RX -> RW -> RX with mprotect per write.
    Flip,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Dual => "dual",
            Layout::Flip => "mprotect",
        }
    }
}

/// A ring of generation stubs.
#[derive(Debug)]
pub struct CodeRing {
    layout: Layout,
    slots: usize,
    stride: usize,
    /// The read-execute view (absent in a writer-only ring).
    exec: Option<Mapping>,
    /// The read-write alias (dual layout and writer-only rings).
    write: Option<Mapping>,
    fd: Option<OwnedFd>,
}

fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

impl CodeRing {
    /// A dual mapping: memfd `kobench-jit`, written through an RW view, run through an RX
    /// view; every slot starts as the stub returning `gen`.
    pub fn dual(slots: usize, gen: u32) -> Result<CodeRing, Errno> {
        let mut ring = CodeRing::writer(slots, gen)?;
        let fd = ring.fd.as_ref().expect("writer has an fd").as_raw_fd();
        ring.exec = Some(Mapping::shared_fd(fd, ring.byte_len(), Prot::ReadExec)?);
        ring.sync_all();
        Ok(ring)
    }

    /// A memfd with only the RW view: the writer side of cross-process swapping, whose
    /// executor maps the same memfd RX in another process ([`CodeRing::open_exec`]).
    pub fn writer(slots: usize, gen: u32) -> Result<CodeRing, Errno> {
        let len = round_up(slots * DUAL_STRIDE, page_size());
        let fd = memfd("kobench-jit", len)?;
        let write = Mapping::shared_fd(fd.as_raw_fd(), len, Prot::ReadWrite)?;
        let ring = CodeRing {
            layout: Layout::Dual,
            slots,
            stride: DUAL_STRIDE,
            exec: None,
            write: Some(write),
            fd: Some(fd),
        };
        for s in 0..slots {
            ring.fill_slot(ring.write_ptr(s), gen);
        }
        Ok(ring)
    }

    /// Maps an existing ring's memfd (opened from `path`, e.g. `/proc/PID/fd/N`) RX, and
    /// with `rw_alias` also RW at a second address.
    pub fn open_exec(path: &str, slots: usize, rw_alias: bool) -> Result<CodeRing, Errno> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(rw_alias)
            .open(path)
            .map_err(|e| Errno(e.raw_os_error().unwrap_or(libc::EIO)))?;
        let len = round_up(slots * DUAL_STRIDE, page_size());
        let exec = Mapping::shared_fd(file.as_raw_fd(), len, Prot::ReadExec)?;
        let write = if rw_alias {
            Some(Mapping::shared_fd(file.as_raw_fd(), len, Prot::ReadWrite)?)
        } else {
            None
        };
        let ring = CodeRing {
            layout: Layout::Dual,
            slots,
            stride: DUAL_STRIDE,
            exec: Some(exec),
            write,
            fd: Some(file.into()),
        };
        ring.sync_all();
        Ok(ring)
    }

    /// A single private mapping, one page per slot, flipped with mprotect on each write.
    pub fn flip(slots: usize, gen: u32) -> Result<CodeRing, Errno> {
        let stride = page_size();
        let mut m = Mapping::anon(slots * stride, Prot::ReadWrite, 0)?;
        let mut ring = CodeRing {
            layout: Layout::Flip,
            slots,
            stride,
            exec: None,
            write: None,
            fd: None,
        };
        for s in 0..slots {
            // SAFETY: slot s lies inside `m` (s < slots, stride-sized slots).
            ring.fill_slot(unsafe { m.as_ptr().add(s * stride) }, gen);
        }
        m.protect(Prot::ReadExec)?;
        ring.exec = Some(m);
        ring.sync_all();
        Ok(ring)
    }

    /// Writes a whole image (code and padding) at `p`, before any view of it executes.
    fn fill_slot(&self, p: *mut u8, gen: u32) {
        let img = native_image(gen);
        // SAFETY: p points at a writable slot of IMAGE_LEN <= stride bytes inside a live
        // mapping of this ring, and no view of it is executable yet.
        unsafe { std::ptr::copy_nonoverlapping(img.as_ptr(), p, IMAGE_LEN) };
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Bytes between slots.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Length of each view in bytes.
    pub fn byte_len(&self) -> usize {
        round_up(self.slots * self.stride, page_size())
    }

    /// The memfd, for sharing with another process (dual layout only).
    pub fn raw_fd(&self) -> Option<i32> {
        self.fd.as_ref().map(|f| f.as_raw_fd())
    }

    /// Address of `slot` in the RX view.
    pub fn exec_addr(&self, slot: usize) -> Option<usize> {
        self.exec.as_ref().map(|m| m.addr() + slot * self.stride)
    }

    /// Address of `slot` in the RW view.
    pub fn write_addr(&self, slot: usize) -> Option<usize> {
        self.write.as_ref().map(|m| m.addr() + slot * self.stride)
    }

    /// The RX view's range `(start, len)`, and the RW view's.
    pub fn views(&self) -> (View, View) {
        let r = |m: &Option<Mapping>| m.as_ref().map(|m| (m.addr(), m.len()));
        (r(&self.exec), r(&self.write))
    }

    fn write_ptr(&self, slot: usize) -> *mut u8 {
        assert!(slot < self.slots, "slot {slot} out of {}", self.slots);
        let m = self.write.as_ref().expect("a ring with an RW view");
        // SAFETY: slot < slots, so the offset stays inside the mapping.
        unsafe { m.as_ptr().add(slot * self.stride) }
    }

    /// Replaces `slot`'s stub by the one returning `gen`.
    ///
    /// Dual: written through the RW alias. Flip: the slot's page goes RW, is written, and
    /// goes back RX; nobody may run that slot meanwhile (it would fault). On x86_64 the
    /// code bytes are one aligned 8-byte store (atomic: Intel SDM Vol. 3A §9.1.1); on
    /// aarch64 four aligned 32-bit stores, one per instruction word (single-copy atomic).
    pub fn write_slot(&self, slot: usize, gen: u32) -> Result<(), Errno> {
        assert!(slot < self.slots, "slot {slot} out of {}", self.slots);
        match self.layout {
            Layout::Dual => {
                store_image(self.write_ptr(slot), gen);
                Ok(())
            }
            Layout::Flip => {
                let m = self.exec.as_ref().expect("flip ring has its mapping");
                let off = slot * self.stride;
                m.protect_range(off, self.stride, Prot::ReadWrite)?;
                // SAFETY: the slot's page is RW now and lies inside the mapping.
                store_image(unsafe { m.as_ptr().add(off) }, gen);
                m.protect_range(off, self.stride, Prot::ReadExec)
            }
        }
    }

    /// The cache maintenance that makes `slot`'s new code visible to instruction fetch
    /// (clear_cache: nothing on x86_64, whose caches are coherent; on aarch64 DC CVAU,
    /// DSB ISH, IC IVAU, DSB ISH, ISB per wasmtime's jit-icache-coherence).
    pub fn sync_icache(&self, slot: usize) {
        let d = self
            .write_addr(slot)
            .or(self.exec_addr(slot))
            .expect("a view");
        let i = self.exec_addr(slot).unwrap_or(d);
        arch::sync_icache(d, i, IMAGE_LEN);
    }

    fn sync_all(&self) {
        for s in 0..self.slots {
            self.sync_icache(s);
        }
    }

    /// Calls `slot`'s stub and returns what it returned.
    #[inline(always)]
    pub fn call(&self, slot: usize) -> u32 {
        let m = self.exec.as_ref().expect("a ring with an RX view");
        debug_assert!(slot < self.slots);
        let slot = slot % self.slots;
        // SAFETY:
        // - the address is a slot start inside the live RX view (slot < slots);
        // - every slot holds a complete `extern "C" fn() -> u32` at all times: whole images
        //   are written before the view became executable, and a rewrite replaces a stub
        //   by a stub (even a torn one is a stub, see the module note);
        // - the stub only sets the return register and returns: it touches no memory and
        //   no callee-saved register, so it satisfies the C ABI;
        // - flip layout: the caller (the swapper's protocol) never runs a slot while its
        //   page is RW; if it did, the fetch would fault (SIGSEGV), not run garbage.
        let f: extern "C" fn() -> u32 = unsafe {
            std::mem::transmute::<*mut u8, extern "C" fn() -> u32>(
                m.as_ptr().add(slot * self.stride),
            )
        };
        f()
    }
}

/// Stores the code words of the stub returning `gen` at `p`, which must be a slot start in
/// a writable view (the padding after them never changes).
fn store_image(p: *mut u8, gen: u32) {
    use std::sync::atomic::Ordering::Relaxed;
    let img = native_image(gen);
    if cfg!(target_arch = "aarch64") {
        for i in 0..3 {
            let w = u32::from_le_bytes(img[i * 4..i * 4 + 4].try_into().expect("4 bytes"));
            // SAFETY: p is a slot start (DUAL_STRIDE- or page-aligned, so 4-aligned) in a
            // writable live mapping; the word lies inside the slot.
            unsafe { std::sync::atomic::AtomicU32::from_ptr((p as *mut u32).add(i)) }
                .store(w, Relaxed);
        }
    } else {
        let w = u64::from_le_bytes(img[..8].try_into().expect("8 bytes"));
        // SAFETY: p is a slot start, 64- or page-aligned and so 8-aligned, in a writable
        // live mapping; the 8 bytes lie inside the slot.
        unsafe { std::sync::atomic::AtomicU64::from_ptr(p as *mut u64) }.store(w, Relaxed);
    }
}

#[cfg(target_arch = "aarch64")]
mod arch {
    use crate::jit::encode::{line_addrs, CacheInfo};
    use core::arch::asm;

    /// `CTR_EL0` (readable at EL0 on Linux: the kernel sets SCTLR_EL1.UCT or emulates it).
    pub fn ctr_el0() -> u64 {
        let v: u64;
        // SAFETY: a system-register read; touches no memory.
        unsafe { asm!("mrs {}, ctr_el0", out(reg) v, options(nomem, nostack)) };
        v
    }

    /// Arm ARM B2.4.4 / wasmtime `clear_cache`: clean D lines to PoU (unless IDC) through
    /// `dstart`, DSB ISH, invalidate I lines to PoU (unless DIC) through `istart`, DSB ISH,
    /// ISB. IC IVAU is broadcast to the Inner Shareable domain; the ISB is local (remote
    /// CPUs get theirs from membarrier SYNC_CORE).
    pub fn sync_icache(dstart: usize, istart: usize, len: usize) {
        let info = CacheInfo::from_ctr(ctr_el0());
        if !info.idc {
            for a in line_addrs(dstart, len, info.dline) {
                // SAFETY: a lies in a readable mapping of ours; DC CVAU only cleans.
                unsafe { asm!("dc cvau, {}", in(reg) a, options(nostack)) };
            }
        }
        // SAFETY: barriers touch no memory we own.
        unsafe { asm!("dsb ish", options(nostack)) };
        if !info.dic {
            for a in line_addrs(istart, len, info.iline) {
                // SAFETY: a lies in a mapping of ours; IC IVAU only invalidates.
                unsafe { asm!("ic ivau, {}", in(reg) a, options(nostack)) };
            }
            // SAFETY: as above.
            unsafe { asm!("dsb ish", options(nostack)) };
        }
        // SAFETY: as above.
        unsafe { asm!("isb", options(nostack)) };
    }
}

#[cfg(not(target_arch = "aarch64"))]
mod arch {
    /// x86_64 (and others kobench runs stubs on): instruction and data caches are
    /// coherent; the serialising step is membarrier SYNC_CORE's job.
    #[inline(always)]
    pub fn sync_icache(_dstart: usize, _istart: usize, _len: usize) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dual_ring_runs_what_is_written() {
        let r = CodeRing::dual(4, 7).unwrap();
        for s in 0..4 {
            assert_eq!(r.call(s), 7);
        }
        r.write_slot(2, 0xdead_beef).unwrap();
        r.sync_icache(2);
        assert_eq!(r.call(2), 0xdead_beef);
        assert_eq!(r.call(1), 7);
        let (x, w) = r.views();
        assert_ne!(x.unwrap().0, w.unwrap().0);
    }

    #[test]
    fn flip_ring_runs_what_is_written() {
        let r = CodeRing::flip(3, 1).unwrap();
        assert_eq!(r.stride(), page_size());
        r.write_slot(0, 99).unwrap();
        r.sync_icache(0);
        assert_eq!(r.call(0), 99);
        assert_eq!(r.call(2), 1);
        assert!(r.views().1.is_none());
    }

    #[test]
    fn views_are_never_writable_and_executable() {
        let d = CodeRing::dual(8, 0).unwrap();
        let f = CodeRing::flip(2, 0).unwrap();
        f.write_slot(1, 5).unwrap();
        let maps = crate::jit::maps::parse(&std::fs::read_to_string("/proc/self/maps").unwrap());
        let (dx, dw) = d.views();
        let (dx, dw) = (dx.unwrap(), dw.unwrap());
        assert_eq!(
            crate::jit::maps::perms_at(&maps, dx.0, dx.1).as_deref(),
            Some("r-xs")
        );
        assert_eq!(
            crate::jit::maps::perms_at(&maps, dw.0, dw.1).as_deref(),
            Some("rw-s")
        );
        let fx = f.views().0.unwrap();
        assert_eq!(
            crate::jit::maps::perms_at(&maps, fx.0, fx.1).as_deref(),
            Some("r-xp")
        );
        assert!(crate::jit::maps::writable_and_executable(&maps).is_empty());
    }
}
