//! Position-dependent byte patterns: byte `i` of a buffer depends on its absolute offset
//! and a seed, so a misplaced byte is caught, not only a missing one.

/// The pattern byte at `offset` for `seed` (a splitmix64 step: cheap, no short period).
#[inline(always)]
pub fn byte_at(seed: u64, offset: u64) -> u8 {
    let mut z = offset.wrapping_add(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) as u8
}

/// Fills `buf` with the pattern, as if it started at `base` in the patterned range.
pub fn fill(buf: &mut [u8], seed: u64, base: u64) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = byte_at(seed, base + i as u64);
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
    fn pattern_bytes_are_spread() {
        let mut counts = [0u32; 256];
        for i in 0..65536 {
            counts[byte_at(1, i) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| c > 150 && c < 380), "{counts:?}");
    }
}
