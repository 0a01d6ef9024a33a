//! Two-sample statistics for `compare`: the Mann-Whitney U test on weighted samples.
//!
//! Samples are `(value, count)` pairs, so a decoded HdrHistogram (thousands of calls in a
//! few hundred buckets) is tested without expanding it. Ties get average ranks and the
//! variance carries the tie correction; the p-value is two-sided. Small samples without
//! ties (≤ [`EXACT_MAX`] in all) get the exact permutation distribution of U (ties included), because the normal
//! approximation cannot reach small p-values there (5 vs 5 fully separated: exact
//! p = 2/252 ≈ 0.0079, normal ≈ 0.012); otherwise the normal approximation with continuity
//! correction is used, as scipy's `mannwhitneyu(method="asymptotic")` does.

/// Largest total sample size (both sides) for the exact permutation p-value
/// (C(20, 10) = 184 756 splits at most).
pub const EXACT_MAX: u64 = 20;

/// The outcome of a U test.
#[derive(Clone, Debug, PartialEq)]
pub struct UTest {
    /// U of the first sample: the number of (a, b) pairs with a > b, ties counting ½.
    pub u: f64,
    pub n1: u64,
    pub n2: u64,
    /// Two-sided p-value.
    pub p: f64,
    /// Whether `p` comes from the exact distribution.
    pub exact: bool,
}

/// Mann-Whitney U test of `a` against `b`; `None` when either side is empty.
pub fn mann_whitney(a: &[(f64, u64)], b: &[(f64, u64)]) -> Option<UTest> {
    let n1: u64 = a.iter().map(|x| x.1).sum();
    let n2: u64 = b.iter().map(|x| x.1).sum();
    if n1 == 0 || n2 == 0 {
        return None;
    }
    // Merge both sides into (value, count in a, count in b), sorted by value.
    let mut all: Vec<(f64, u64, u64)> = a
        .iter()
        .map(|&(v, c)| (v, c, 0))
        .chain(b.iter().map(|&(v, c)| (v, 0, c)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let (mut seen, mut r1, mut ties) = (0f64, 0f64, 0f64);
    let mut i = 0;
    while i < all.len() {
        let (mut ca, mut cb) = (0u64, 0u64);
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            ca += all[j].1;
            cb += all[j].2;
            j += 1;
        }
        let t = (ca + cb) as f64;
        r1 += ca as f64 * (seen + (t + 1.0) / 2.0);
        ties += t * t * t - t;
        seen += t;
        i = j;
    }
    let f1 = n1 as f64;
    let u = r1 - f1 * (f1 + 1.0) / 2.0;
    if n1 + n2 <= EXACT_MAX {
        let p = exact_p(&all, n1 as usize, u);
        return Some(UTest {
            u,
            n1,
            n2,
            p,
            exact: true,
        });
    }
    let p = asymptotic_p(u, n1, n2, ties);
    Some(UTest {
        u,
        n1,
        n2,
        p,
        exact: false,
    })
}

/// Two-sided p of U from the normal approximation with tie correction (`ties` = Σ t³ - t
/// over groups of equal values) and continuity correction.
pub fn asymptotic_p(u: f64, n1: u64, n2: u64, ties: f64) -> f64 {
    let (f1, f2) = (n1 as f64, n2 as f64);
    let n = f1 + f2;
    let var = f1 * f2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    if var <= 0.0 {
        return 1.0;
    }
    let z = ((u - f1 * f2 / 2.0).abs() - 0.5).max(0.0) / var.sqrt();
    erfc(z / std::f64::consts::SQRT_2).min(1.0)
}

/// Unweighted samples as `(value, 1)` pairs.
pub fn unweighted(xs: &[f64]) -> Vec<(f64, u64)> {
    xs.iter().map(|&x| (x, 1)).collect()
}

/// Exact two-sided p by enumerating every split of the pooled (mid-ranked) samples into
/// sizes n1 and n - n1: the share of splits whose U lies at least as far from its mean.
fn exact_p(all: &[(f64, u64, u64)], n1: usize, u_obs: f64) -> f64 {
    let mut ranks = Vec::new();
    let mut seen = 0.0;
    let mut i = 0;
    while i < all.len() {
        let j = i + all[i..].iter().take_while(|x| x.0 == all[i].0).count();
        let t: u64 = all[i..j].iter().map(|x| x.1 + x.2).sum();
        for _ in 0..t {
            ranks.push(seen + (t as f64 + 1.0) / 2.0);
        }
        seen += t as f64;
        i = j;
    }
    let n = ranks.len();
    let mu = n1 as f64 * (n - n1) as f64 / 2.0;
    let offset = n1 as f64 * (n1 as f64 + 1.0) / 2.0;
    let d_obs = (u_obs - mu).abs() - 1e-9;
    fn walk(ranks: &[f64], start: usize, left: usize, sum: f64, f: &mut dyn FnMut(f64)) {
        if left == 0 {
            f(sum);
            return;
        }
        for i in start..=ranks.len() - left {
            walk(ranks, i + 1, left - 1, sum + ranks[i], f);
        }
    }
    let (mut extreme, mut total) = (0u64, 0u64);
    walk(&ranks, 0, n1, 0.0, &mut |r1| {
        total += 1;
        if (r1 - offset - mu).abs() >= d_obs {
            extreme += 1;
        }
    });
    extreme as f64 / total as f64
}

/// Complementary error function (Numerical Recipes `erfcc`, relative error < 1.2e-7).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// Median of unweighted values (`None` when empty).
pub fn median(xs: &[f64]) -> Option<f64> {
    kobench_harness::stats::median(xs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn erfc_known_values() {
        assert!(close(erfc(0.0), 1.0, 1e-7));
        assert!(close(erfc(1.0), 0.157_299_207, 1e-7));
        assert!(close(erfc(-1.0), 1.842_700_793, 1e-7));
        assert!(close(
            erfc(1.959_964 / std::f64::consts::SQRT_2),
            0.05,
            1e-6
        ));
    }

    #[test]
    fn fully_separated_five_by_five_is_exact_2_over_252() {
        let a = unweighted(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        let b = unweighted(&[6.0, 7.0, 8.0, 9.0, 10.0]);
        let t = mann_whitney(&a, &b).unwrap();
        assert_eq!(t.u, 0.0);
        assert!(t.exact);
        assert!(close(t.p, 2.0 / 252.0, 1e-12), "p = {}", t.p);
        // Symmetric: b against a has U = 25 and the same p.
        let t2 = mann_whitney(&b, &a).unwrap();
        assert_eq!(t2.u, 25.0);
        assert!(close(t2.p, t.p, 1e-12));
    }

    #[test]
    fn exact_small_case_by_hand() {
        // a = {1, 4}, b = {2, 3}: U_a = pairs a > b = (4>2, 4>3) = 2 = m n / 2, the centre.
        // The 6 arrangements give U = 0,1,2,2,3,4, so P(U <= 2) = 4/6 and p = min(1, 8/6) = 1.
        let t = mann_whitney(&unweighted(&[1.0, 4.0]), &unweighted(&[2.0, 3.0])).unwrap();
        assert_eq!(t.u, 2.0);
        assert_eq!(t.p, 1.0);
        // a = {1, 2}, b = {3, 4}: U = 0, P(U <= 0) = 1/6, p = 2/6.
        let t = mann_whitney(&unweighted(&[1.0, 2.0]), &unweighted(&[3.0, 4.0])).unwrap();
        assert_eq!(t.u, 0.0);
        assert!(close(t.p, 1.0 / 3.0, 1e-12));
    }

    #[test]
    fn ties_hand_computed() {
        // Combined: 1a 2a 2a 2b 3a 3b 4b 5b; ranks 1, (2,3,4)->3, (5,6)->5.5, 7, 8.
        // R1 = 1 + 3 + 3 + 5.5 = 12.5, U1 = 12.5 - 4*5/2 = 2.5.
        // Tie term: (3^3-3) + (2^3-2) = 30; var = 16/12 * (9 - 30/56) = 11.2857.
        // z = (|2.5 - 8| - 0.5) / sqrt(11.2857) = 1.48837; p = erfc(z / sqrt 2) = 0.13666.
        let a = unweighted(&[1.0, 2.0, 2.0, 3.0]);
        let b = unweighted(&[2.0, 3.0, 4.0, 5.0]);
        let t = mann_whitney(&a, &b).unwrap();
        assert_eq!(t.u, 2.5);
        assert!(close(asymptotic_p(t.u, 4, 4, 30.0), 0.136_66, 2e-4));
        // 8 samples: exact. Of the C(8,4) = 70 splits of the mid-ranks, 14 have
        // |U - 8| >= 5.5 (enumerated independently), so p = 14/70.
        assert!(t.exact);
        assert!(close(t.p, 14.0 / 70.0, 1e-12), "p = {}", t.p);
    }

    #[test]
    fn weights_equal_expanded_samples() {
        let w = mann_whitney(&[(10.0, 3), (20.0, 2)], &[(15.0, 4), (20.0, 1)]).unwrap();
        let e = mann_whitney(
            &unweighted(&[10.0, 10.0, 10.0, 20.0, 20.0]),
            &unweighted(&[15.0, 15.0, 15.0, 15.0, 20.0]),
        )
        .unwrap();
        assert_eq!(w, e);
    }

    #[test]
    fn identical_samples_give_p_one_and_a_shift_gives_tiny_p() {
        // A histogram-like sample: 3000 calls spread over 300 buckets.
        let base: Vec<(f64, u64)> = (0..300).map(|i| (500.0 + i as f64, 10)).collect();
        let t = mann_whitney(&base, &base).unwrap();
        assert_eq!(t.u, 3000.0 * 3000.0 / 2.0);
        assert!(t.p > 0.99, "p = {}", t.p);
        let shifted: Vec<(f64, u64)> = base.iter().map(|&(v, c)| (v * 1.2, c)).collect();
        let t = mann_whitney(&base, &shifted).unwrap();
        assert!(t.p < 1e-12, "p = {}", t.p);
        assert!(t.u < 3000.0 * 3000.0 / 2.0);
    }

    #[test]
    fn all_equal_and_empty() {
        let t = mann_whitney(&[(5.0, 10)], &[(5.0, 10)]).unwrap();
        assert_eq!(t.p, 1.0);
        assert!(mann_whitney(&[], &[(1.0, 1)]).is_none());
    }
}
