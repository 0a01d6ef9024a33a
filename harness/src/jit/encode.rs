//! Machine code for the generation stubs, and the cache-line arithmetic of arm64 cache
//! maintenance: pure functions, tested on any host.
//!
//! A stub is a whole function `fn() -> u32` that returns its generation number, padded to
//! [`IMAGE_LEN`] bytes with trapping instructions so a stray jump past `ret` faults.
//!
//! - x86_64: `mov eax, imm32` (`B8 id`, Intel SDM Vol. 2B "MOV") then `ret` (`C3`), padded
//!   with `int3` (`CC`): 6 + 2 bytes, so the whole image is one aligned 8-byte store.
//! - aarch64: `movz w0, #lo16` then `movk w0, #hi16, lsl #16` then `ret` (x30), padded
//!   with `brk #0` (Arm ARM DDI 0487, C6.2 "MOVZ", "MOVK", "RET", "BRK").

/// Bytes of one stub image (both architectures).
pub const IMAGE_LEN: usize = 16;

/// `MOVZ Wd, #imm16, LSL #(hw*16)` (32-bit, sf = 0).
pub const fn a64_movz_w(rd: u32, imm16: u16, hw: u32) -> u32 {
    0x5280_0000 | ((hw & 1) << 21) | ((imm16 as u32) << 5) | (rd & 31)
}

/// `MOVK Wd, #imm16, LSL #(hw*16)` (32-bit, sf = 0).
pub const fn a64_movk_w(rd: u32, imm16: u16, hw: u32) -> u32 {
    0x7280_0000 | ((hw & 1) << 21) | ((imm16 as u32) << 5) | (rd & 31)
}

/// `RET` (to x30).
pub const A64_RET: u32 = 0xD65F_03C0;
/// `BRK #0`: traps if ever executed (padding).
pub const A64_BRK0: u32 = 0xD420_0000;

/// The aarch64 stub returning `gen`: `movz w0, lo; movk w0, hi, lsl 16; ret; brk #0`.
pub const fn a64_stub(gen: u32) -> [u32; 4] {
    [
        a64_movz_w(0, (gen & 0xffff) as u16, 0),
        a64_movk_w(0, (gen >> 16) as u16, 1),
        A64_RET,
        A64_BRK0,
    ]
}

/// The x86_64 stub returning `gen`: `mov eax, gen; ret; int3; int3`.
pub const fn x86_stub(gen: u32) -> [u8; 8] {
    let b = gen.to_le_bytes();
    [0xB8, b[0], b[1], b[2], b[3], 0xC3, 0xCC, 0xCC]
}

/// The stub image for the architecture this was built for, as bytes ([`IMAGE_LEN`]):
/// x86_64 images are 8 bytes of code then 8 bytes of `int3`.
pub fn native_image(gen: u32) -> [u8; IMAGE_LEN] {
    let mut out = [0xCCu8; IMAGE_LEN];
    if cfg!(target_arch = "aarch64") {
        for (i, w) in a64_stub(gen).iter().enumerate() {
            out[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
        }
    } else {
        out[..8].copy_from_slice(&x86_stub(gen));
    }
    out
}

/// Whether stubs can be generated and run on the architecture this was built for.
pub const NATIVE_SUPPORTED: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

/// What `CTR_EL0` says about the caches (Arm ARM D19.2 "CTR_EL0").
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct CacheInfo {
    /// Smallest D-cache line in bytes (`4 << DminLine`, bits 19:16).
    pub dline: usize,
    /// Smallest I-cache line in bytes (`4 << IminLine`, bits 3:0).
    pub iline: usize,
    /// IDC (bit 28): D-cache clean to PoU not needed for I/D coherence.
    pub idc: bool,
    /// DIC (bit 29): I-cache invalidation to PoU not needed.
    pub dic: bool,
}

impl CacheInfo {
    /// Decodes a `CTR_EL0` value.
    pub const fn from_ctr(ctr: u64) -> CacheInfo {
        CacheInfo {
            dline: 4 << ((ctr >> 16) & 0xf),
            iline: 4 << (ctr & 0xf),
            idc: (ctr >> 28) & 1 == 1,
            dic: (ctr >> 29) & 1 == 1,
        }
    }
}

/// The line-aligned addresses whose lines cover `[start, start + len)` (none for `len == 0`).
/// `line` must be a power of two.
pub fn line_addrs(start: usize, len: usize, line: usize) -> impl Iterator<Item = usize> {
    debug_assert!(line.is_power_of_two());
    let first = start & !(line - 1);
    let end = if len == 0 { first } else { start + len };
    (first..end).step_by(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a64_encodings_match_the_assembler() {
        // Values as GNU as / llvm-mc encode them.
        assert_eq!(a64_movz_w(0, 0, 0), 0x5280_0000); // mov w0, #0
        assert_eq!(a64_movz_w(0, 1, 0), 0x5280_0020); // mov w0, #1
        assert_eq!(a64_movz_w(0, 0xffff, 0), 0x529F_FFE0); // mov w0, #0xffff
        assert_eq!(a64_movk_w(0, 0x1234, 1), 0x72A2_4680); // movk w0, #0x1234, lsl #16
        assert_eq!(a64_movk_w(0, 0, 1), 0x72A0_0000); // movk w0, #0, lsl #16
        assert_eq!(a64_movz_w(3, 7, 0), 0x5280_00E3); // mov w3, #7
        assert_eq!(A64_RET, 0xD65F_03C0);
        assert_eq!(A64_BRK0, 0xD420_0000);
        assert_eq!(
            a64_stub(0x0001_0002),
            [0x5280_0040, 0x72A0_0020, 0xD65F_03C0, 0xD420_0000]
        );
        assert_eq!(
            a64_stub(u32::MAX),
            [0x529F_FFE0, 0x72BF_FFE0, 0xD65F_03C0, 0xD420_0000]
        );
    }

    #[test]
    fn x86_encoding_is_mov_eax_imm32_ret() {
        assert_eq!(
            x86_stub(0x1234_5678),
            [0xB8, 0x78, 0x56, 0x34, 0x12, 0xC3, 0xCC, 0xCC]
        );
        assert_eq!(x86_stub(0), [0xB8, 0, 0, 0, 0, 0xC3, 0xCC, 0xCC]);
    }

    #[test]
    fn native_image_holds_the_native_stub() {
        let img = native_image(42);
        if cfg!(target_arch = "x86_64") {
            assert_eq!(&img[..8], &x86_stub(42));
            assert!(img[8..].iter().all(|&b| b == 0xCC));
        } else if cfg!(target_arch = "aarch64") {
            assert_eq!(
                u32::from_le_bytes(img[0..4].try_into().unwrap()),
                a64_movz_w(0, 42, 0)
            );
        }
    }

    #[test]
    fn ctr_el0_decodes_known_parts() {
        // Cortex-A72: 64-byte lines, IDC = DIC = 0.
        let a72 = CacheInfo::from_ctr(0x8444_C004);
        assert_eq!(
            a72,
            CacheInfo {
                dline: 64,
                iline: 64,
                idc: false,
                dic: false
            }
        );
        // Neoverse-N1: IDC and DIC set.
        let n1 = CacheInfo::from_ctr(0xB444_C004);
        assert!(n1.idc && n1.dic);
        assert_eq!((n1.dline, n1.iline), (64, 64));
        // 256-byte lines, as on A64FX (log2 words = 6).
        let a64fx = CacheInfo::from_ctr(0x8006_0006);
        assert_eq!((a64fx.dline, a64fx.iline), (256, 256));
        // IminLine 2 (16 B), DminLine 3 (32 B).
        let small = CacheInfo::from_ctr(0x0003_0002);
        assert_eq!((small.dline, small.iline), (32, 16));
    }

    #[test]
    fn line_addrs_cover_the_range() {
        assert_eq!(line_addrs(0x1000, 16, 64).collect::<Vec<_>>(), vec![0x1000]);
        assert_eq!(
            line_addrs(0x103c, 8, 64).collect::<Vec<_>>(),
            vec![0x1000, 0x1040]
        );
        assert_eq!(line_addrs(0x1040, 64, 64).collect::<Vec<_>>(), vec![0x1040]);
        assert_eq!(
            line_addrs(0x1041, 64, 64).collect::<Vec<_>>(),
            vec![0x1040, 0x1080]
        );
        assert_eq!(line_addrs(0x2000, 0, 64).count(), 0);
        assert_eq!(line_addrs(0, 4096, 256).count(), 16);
    }

    /// A torn write of one stub over another still leaves a stub: every byte-wise mix of
    /// two images decodes as `mov eax, imm32; ret` (x86_64) or `movz w0; movk w0, lsl 16;
    /// ret` (aarch64), only the immediate differs. `sys::code` relies on this.
    #[test]
    fn any_byte_mix_of_two_stubs_is_a_stub() {
        let pairs = [
            (0u32, u32::MAX),
            (0x1234_5678, 0x8765_4321),
            (1, 2),
            (0xffff, 0x1_0000),
        ];
        for (a, b) in pairs {
            let (xa, xb) = (x86_stub(a), x86_stub(b));
            for mask in 0u32..256 {
                let mix: Vec<u8> = (0..8)
                    .map(|i| if mask >> i & 1 == 1 { xb[i] } else { xa[i] })
                    .collect();
                let imm = u32::from_le_bytes(mix[1..5].try_into().unwrap());
                assert_eq!(mix, x86_stub(imm));
            }
            let to_bytes =
                |w: [u32; 4]| w.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
            let (aa, ab) = (to_bytes(a64_stub(a)), to_bytes(a64_stub(b)));
            for mask in 0u32..4096 {
                let mix: Vec<u8> = (0..16)
                    .map(|i| {
                        if i < 12 && mask >> i & 1 == 1 {
                            ab[i]
                        } else {
                            aa[i]
                        }
                    })
                    .collect();
                let w = |i: usize| u32::from_le_bytes(mix[i * 4..i * 4 + 4].try_into().unwrap());
                let imm_mask = 0xffffu32 << 5;
                assert_eq!(w(0) & !imm_mask, a64_movz_w(0, 0, 0));
                assert_eq!(w(1) & !imm_mask, a64_movk_w(0, 0, 1));
                assert_eq!(w(2), A64_RET);
                assert_eq!(w(3), A64_BRK0);
            }
        }
    }
}
