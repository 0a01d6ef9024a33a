//! Moving more than one call can: the kernel moves at most `MAX_RW_COUNT` (0x7ffff000)
//! bytes per call and takes at most `UIO_MAXIOV` (1024) iovecs a side, and any call may
//! return short (a fault part way). [`transfer_all`] loops until everything moved,
//! advancing both iovec lists by what each call returned, as Open MPI's CMA copy does
//! (`opal/mca/smsc/cma/smsc_cma_module.c`).

use kobench_harness::sys::pvm::UIO_MAXIOV;
use kobench_harness::sys::Errno;

/// An address range: (base, length).
pub type Range = (usize, usize);

/// How a looped transfer went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Looped {
    /// Bytes moved in all.
    pub moved: usize,
    /// What each call returned.
    pub calls: Vec<usize>,
    /// The error that stopped it early, if any (after `moved` bytes).
    pub error: Option<Errno>,
}

/// Drops `n` bytes from the front of a range list.
pub fn advance(v: &mut Vec<Range>, mut n: usize) {
    let mut drop = 0;
    for r in v.iter_mut() {
        if n == 0 {
            break;
        }
        if r.1 <= n {
            n -= r.1;
            drop += 1;
        } else {
            r.0 += n;
            r.1 -= n;
            n = 0;
        }
    }
    v.drain(..drop);
}

/// Moves `min(local total, remote total)` bytes by calling `call(local, remote)` (each
/// at most 1024 ranges) until done, a call fails, or a call moves nothing.
pub fn transfer_all(
    local: &[Range],
    remote: &[Range],
    mut call: impl FnMut(&[Range], &[Range]) -> Result<usize, Errno>,
) -> Looped {
    let mut l: Vec<Range> = local.iter().copied().filter(|r| r.1 > 0).collect();
    let mut r: Vec<Range> = remote.iter().copied().filter(|r| r.1 > 0).collect();
    let mut out = Looped {
        moved: 0,
        calls: Vec::new(),
        error: None,
    };
    while !l.is_empty() && !r.is_empty() {
        let (lw, rw) = (&l[..l.len().min(UIO_MAXIOV)], &r[..r.len().min(UIO_MAXIOV)]);
        match call(lw, rw) {
            Ok(0) => break,
            Ok(n) => {
                out.calls.push(n);
                out.moved += n;
                advance(&mut l, n);
                advance(&mut r, n);
            }
            Err(e) => {
                out.error = Some(e);
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mock kernel: moves min(cap, local, remote) of the ranges it is given, and
    /// records the memory it "copied" as (local addr, remote addr) byte pairs.
    fn mock(
        cap: usize,
        log: &mut Vec<(usize, usize)>,
    ) -> impl FnMut(&[Range], &[Range]) -> Result<usize, Errno> + '_ {
        move |l, r| {
            let lt: usize = l.iter().map(|x| x.1).sum();
            let rt: usize = r.iter().map(|x| x.1).sum();
            let n = cap.min(lt).min(rt);
            let flat = |v: &[Range]| {
                v.iter()
                    .flat_map(|&(b, len)| b..b + len)
                    .take(n)
                    .collect::<Vec<_>>()
            };
            log.extend(flat(l).into_iter().zip(flat(r)));
            Ok(n)
        }
    }

    #[test]
    fn loops_on_the_cap_and_pairs_every_byte_in_order() {
        let mut log = Vec::new();
        let local = [(1000, 7), (2000, 13)];
        let remote = [(50_000, 4), (60_000, 100)];
        let r = transfer_all(&local, &remote, mock(6, &mut log));
        assert_eq!(
            r,
            Looped {
                moved: 20,
                calls: vec![6, 6, 6, 2],
                error: None
            }
        );
        let want: Vec<(usize, usize)> = (1000..1007)
            .chain(2000..2013)
            .zip((50_000..50_004).chain(60_000..60_016))
            .collect();
        assert_eq!(log, want);
    }

    #[test]
    fn takes_at_most_1024_iovecs_per_call_and_stops_on_errors() {
        let local: Vec<Range> = (0..3000).map(|i| (i * 10, 1)).collect();
        let remote = [(1 << 20, 3000)];
        let mut widths = Vec::new();
        let r = transfer_all(&local, &remote, |l, _| {
            widths.push(l.len());
            Ok(l.len())
        });
        assert_eq!(r.moved, 3000);
        assert_eq!(widths, vec![1024, 1024, 952]);
        let mut k = 0;
        let r = transfer_all(&[(0, 100)], &[(0, 100)], |_, _| {
            k += 1;
            if k == 1 {
                Ok(40)
            } else {
                Err(Errno(libc::EFAULT))
            }
        });
        assert_eq!(
            r,
            Looped {
                moved: 40,
                calls: vec![40],
                error: Some(Errno(libc::EFAULT))
            }
        );
    }

    #[test]
    fn advance_splits_a_range() {
        let mut v = vec![(0, 4), (100, 4)];
        advance(&mut v, 5);
        assert_eq!(v, vec![(101, 3)]);
        advance(&mut v, 3);
        assert!(v.is_empty());
    }
}
