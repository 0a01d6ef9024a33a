//! Position-dependent byte patterns: byte `i` of a buffer depends on its absolute offset
//! and a seed, so a misplaced byte is caught, not only a missing one.

#[inline(always)]
fn word(seed: u64, index: u64) -> u64 {
    let mut z = index.wrapping_add(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The pattern byte at `offset` for `seed`: byte `offset % 8` of a splitmix64 hash of
/// `offset / 8` (cheap, no short period, and filled a word at a time).
#[inline(always)]
pub fn byte_at(seed: u64, offset: u64) -> u8 {
    (word(seed, offset / 8) >> ((offset % 8) * 8)) as u8
}

/// Fills `buf` with the pattern, as if it started at `base` in the patterned range.
pub fn fill(buf: &mut [u8], seed: u64, base: u64) {
    let mut i = 0usize;
    // Head: up to the first 8-byte boundary of the absolute offset.
    while i < buf.len() && !(base + i as u64).is_multiple_of(8) {
        buf[i] = byte_at(seed, base + i as u64);
        i += 1;
    }
    let mut chunks = buf[i..].chunks_exact_mut(8);
    let mut idx = (base + i as u64) / 8;
    for c in &mut chunks {
        c.copy_from_slice(&word(seed, idx).to_le_bytes());
        idx += 1;
    }
    let tail = chunks.into_remainder();
    let tail_base = idx * 8;
    for (j, b) in tail.iter_mut().enumerate() {
        *b = byte_at(seed, tail_base + j as u64);
    }
}

/// The first offset (within `buf`) whose byte differs from the pattern, if any.
pub fn first_mismatch(buf: &[u8], seed: u64, base: u64) -> Option<usize> {
    buf.iter()
        .enumerate()
        .find(|&(i, &b)| b != byte_at(seed, base + i as u64))
        .map(|(i, _)| i)
}

/// Like [`first_mismatch`], but a zero byte is accepted too (pages dropped with
/// MADV_DONTNEED read back as zeros).
pub fn first_mismatch_or_zero(buf: &[u8], seed: u64, base: u64) -> Option<usize> {
    buf.iter()
        .enumerate()
        .find(|&(i, &b)| b != 0 && b != byte_at(seed, base + i as u64))
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_catches_misplaced_and_flipped_bytes() {
        let mut b = vec![0u8; 4096];
        fill(&mut b, 7, 100);
        assert_eq!(first_mismatch(&b, 7, 100), None);
        assert_eq!(first_mismatch(&b, 7, 101).map(|_| ()), Some(()));
        assert_eq!(first_mismatch(&b, 8, 100).map(|_| ()), Some(()));
        b[1234] ^= 1;
        assert_eq!(first_mismatch(&b, 7, 100), Some(1234));
        b[1234] ^= 1;
        b[77] = 0;
        assert_eq!(first_mismatch_or_zero(&b, 7, 100), None);
        b[78] = b[78].wrapping_add(1).max(1);
        if byte_at(7, 178) != b[78] {
            assert_eq!(first_mismatch_or_zero(&b, 7, 100), Some(78));
        }
    }

    #[test]
    fn fill_matches_byte_at_at_any_alignment() {
        for base in [0u64, 1, 7, 8, 13, 4096] {
            for len in [0usize, 1, 7, 8, 9, 100] {
                let mut b = vec![0u8; len];
                fill(&mut b, 3, base);
                for (i, &x) in b.iter().enumerate() {
                    assert_eq!(
                        x,
                        byte_at(3, base + i as u64),
                        "base {base} len {len} i {i}"
                    );
                }
            }
        }
    }

    #[test]
    fn pattern_bytes_are_spread() {
        let mut counts = [0u32; 256];
        for i in 0..65536 {
            counts[byte_at(1, i) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| c > 150 && c < 380), "{counts:?}");
    }
}
