//! The position-dependent fill: every byte is a function of its address in the target
//! (and a seed), so a byte that arrives at the wrong place is caught, not only a missing
//! one. Each aligned 8-byte word at address `a` holds `splitmix64(a ^ seed)`,
//! little-endian; a byte reads its share of its word.

/// What a range of target memory must hold.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Never-touched anonymous memory: zeros.
    Zero,
    /// The pattern with this seed.
    Pattern(u64),
}

/// splitmix64 (Steele, Lea, Flood, "Fast splittable pseudorandom number generators",
/// OOPSLA 2014): a bijective mixer, so distinct words never collide.
#[inline(always)]
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[inline(always)]
fn word(addr_aligned: usize, seed: u64) -> u64 {
    mix(addr_aligned as u64 ^ seed)
}

/// The byte at target address `addr`.
#[inline(always)]
pub fn byte_at(addr: usize, e: Expect) -> u8 {
    match e {
        Expect::Zero => 0,
        Expect::Pattern(seed) => (word(addr & !7, seed) >> (8 * (addr & 7))) as u8,
    }
}

/// Fills `buf` with what target memory at `addr..addr+buf.len()` must hold.
pub fn fill(buf: &mut [u8], addr: usize, e: Expect) {
    let seed = match e {
        Expect::Zero => {
            buf.fill(0);
            return;
        }
        Expect::Pattern(s) => s,
    };
    let total = buf.len();
    let head = ((8 - addr % 8) % 8).min(total);
    for (i, b) in buf[..head].iter_mut().enumerate() {
        *b = byte_at(addr + i, e);
    }
    let body = &mut buf[head..];
    let a0 = addr + head;
    let mut chunks = body.chunks_exact_mut(8);
    for (k, c) in (&mut chunks).enumerate() {
        c.copy_from_slice(&word(a0 + 8 * k, seed).to_le_bytes());
    }
    let rest = chunks.into_remainder();
    let ra = addr + total - rest.len();
    for (i, b) in rest.iter_mut().enumerate() {
        *b = byte_at(ra + i, e);
    }
}

/// The offset of the first byte of `buf` that differs from what target memory at `addr`
/// must hold, or `None` when every byte matches.
pub fn first_mismatch(buf: &[u8], addr: usize, e: Expect) -> Option<usize> {
    let seed = match e {
        Expect::Zero => return buf.iter().position(|&b| b != 0),
        Expect::Pattern(s) => s,
    };
    let head = ((8 - addr % 8) % 8).min(buf.len());
    if let Some(i) = (0..head).find(|&i| buf[i] != byte_at(addr + i, e)) {
        return Some(i);
    }
    let a0 = addr + head;
    let body = &buf[head..];
    let mut chunks = body.chunks_exact(8);
    for (k, c) in (&mut chunks).enumerate() {
        let got = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        if got != word(a0 + 8 * k, seed) {
            let j = (0..8)
                .find(|&j| c[j] != byte_at(a0 + 8 * k + j, e))
                .unwrap_or(0);
            return Some(head + 8 * k + j);
        }
    }
    let rest = chunks.remainder();
    let ro = buf.len() - rest.len();
    (0..rest.len())
        .find(|&i| rest[i] != byte_at(addr + ro + i, e))
        .map(|i| ro + i)
}

/// A mismatch between what arrived and what must be there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// Offset in the transfer (the concatenated local iovecs).
    pub offset: usize,
    /// Target address of the byte.
    pub remote_addr: usize,
    pub expected: u8,
    pub got: u8,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "byte at offset {} (target address {:#x}) is {:#04x}, expected {:#04x}",
            self.offset, self.remote_addr, self.got, self.expected
        )
    }
}

/// Checks a transfer: the local side is the concatenation of `local` (in iovec order),
/// the remote side the ranges `remote` (target address, length) in order; the first
/// `moved` bytes of the stream must hold what the remote ranges hold (`expect`).
pub fn check_stream<'a>(
    local: impl IntoIterator<Item = &'a [u8]>,
    remote: &[(usize, usize)],
    moved: usize,
    expect: Expect,
) -> Option<Mismatch> {
    let mut chunks = local.into_iter();
    let mut cur: &[u8] = &[];
    let mut pos = 0usize;
    let mut left = moved;
    for &(addr, len) in remote {
        let mut done = 0usize;
        while done < len && left > 0 {
            while cur.is_empty() {
                cur = chunks.next()?;
            }
            let n = cur.len().min(len - done).min(left);
            if let Some(i) = first_mismatch(&cur[..n], addr + done, expect) {
                let a = addr + done + i;
                return Some(Mismatch {
                    offset: pos + i,
                    remote_addr: a,
                    expected: byte_at(a, expect),
                    got: cur[i],
                });
            }
            cur = &cur[n..];
            pos += n;
            done += n;
            left -= n;
        }
        if left == 0 {
            break;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_matches_byte_at_for_any_alignment() {
        for addr in [0x1000usize, 0x1003, 0x7fff_0005] {
            for len in [0usize, 1, 7, 8, 9, 63, 100] {
                let mut b = vec![0u8; len];
                fill(&mut b, addr, Expect::Pattern(7));
                for (i, &x) in b.iter().enumerate() {
                    assert_eq!(x, byte_at(addr + i, Expect::Pattern(7)));
                }
                assert_eq!(first_mismatch(&b, addr, Expect::Pattern(7)), None);
            }
        }
    }

    #[test]
    fn a_shifted_or_flipped_byte_is_found_at_its_offset() {
        let mut b = vec![0u8; 4096];
        fill(&mut b, 0x10_0000, Expect::Pattern(1));
        // The same bytes one position later (a misplaced copy) fail at once.
        assert_eq!(
            first_mismatch(&b[1..], 0x10_0001 + 1, Expect::Pattern(1)),
            Some(0)
        );
        b[1234] ^= 0x01;
        assert_eq!(
            first_mismatch(&b, 0x10_0000, Expect::Pattern(1)),
            Some(1234)
        );
        // Another seed is another pattern.
        assert_eq!(first_mismatch(&b, 0x10_0000, Expect::Pattern(2)), Some(0));
        assert_eq!(first_mismatch(&[0, 0, 5], 0, Expect::Zero), Some(2));
    }

    #[test]
    fn stream_check_follows_iovec_order() {
        // Remote: two ranges in reverse order; local: three uneven chunks.
        let e = Expect::Pattern(3);
        let remote = [(0x2000usize, 10usize), (0x1000usize, 6usize)];
        let mut data = [0u8; 16];
        fill(&mut data[..10], 0x2000, e);
        fill(&mut data[10..], 0x1000, e);
        let (a, rest) = data.split_at(3);
        let (b, c) = rest.split_at(9);
        assert_eq!(check_stream([a, b, c], &remote, 16, e), None);
        data[12] ^= 0xff;
        let (a, rest) = data.split_at(3);
        let (b, c) = rest.split_at(9);
        let m = check_stream([a, b, c], &remote, 16, e).unwrap();
        assert_eq!((m.offset, m.remote_addr), (12, 0x1002));
        // Only the moved prefix is checked.
        assert_eq!(check_stream([a, b, c], &remote, 12, e), None);
    }
}
