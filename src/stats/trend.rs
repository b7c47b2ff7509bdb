//! Monotonic trend of a series over time: the Mann–Kendall test (is there a
//! trend?) and the Theil–Sen estimator (how steep is it?). Both are
//! rank-based, so one slow interval or a burst of outliers moves them little,
//! and neither assumes normal errors. Used by soak runs to tell drift from
//! noise.

use statrs::function::erf::erfc;

/// The Mann–Kendall test of a series in time order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannKendall {
    /// Values in the test (NaNs dropped).
    pub n: usize,
    /// S = Σ_{i<j} sgn(y_j − y_i): positive when later values are larger.
    pub s: i64,
    /// Var(S) under the null hypothesis, with the correction for ties.
    pub var_s: f64,
    /// Continuity-corrected standard normal score of S.
    pub z: f64,
    /// Two-sided p-value of "no monotonic trend" (1 when every value ties).
    pub p_value: f64,
}

/// Mann–Kendall trend test of `y` in time order.
///
/// Mann (1945), "Nonparametric tests against trend", *Econometrica* 13(3),
/// and Kendall (1975), *Rank Correlation Methods*, 4th ed.:
/// S = Σ_{i<j} sgn(y_j − y_i). Under H₀ (independent, identically
/// distributed values) S is approximately normal with mean 0 and, with
/// ties, Var(S) = [n(n−1)(2n+5) − Σ_g t_g(t_g−1)(2t_g+5)] / 18, where t_g
/// is the size of tie group g (Kendall 1975, eq. 4.4; Hirsch, Slack &
/// Smith 1982, "Techniques of trend analysis for monthly water quality
/// data", *Water Resources Research* 18(1); Gilbert 1987, *Statistical
/// Methods for Environmental Pollution Monitoring*, eq. 16.4). The score is
/// continuity corrected, Z = (S − sgn S)/√Var(S) (Gilbert eq. 16.5), and
/// p = 2(1 − Φ(|Z|)) = erfc(|Z|/√2).
///
/// NaN values are dropped. `None` with fewer than 2 values. O(n²) time,
/// O(n) memory: 10,000 points take ~5·10⁷ comparisons.
pub fn mann_kendall(y: &[f64]) -> Option<MannKendall> {
    let y: Vec<f64> = y.iter().copied().filter(|v| !v.is_nan()).collect();
    let n = y.len();
    if n < 2 {
        return None;
    }
    let mut s: i64 = 0;
    for (i, &a) in y.iter().enumerate() {
        for &b in &y[i + 1..] {
            s += match b.partial_cmp(&a) {
                Some(std::cmp::Ordering::Greater) => 1,
                Some(std::cmp::Ordering::Less) => -1,
                _ => 0,
            };
        }
    }
    let mut sorted = y.clone();
    sorted.sort_by(f64::total_cmp);
    let nf = n as f64;
    let mut var = nf * (nf - 1.0) * (2.0 * nf + 5.0);
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && sorted[j] == sorted[i] {
            j += 1;
        }
        let t = (j - i) as f64;
        var -= t * (t - 1.0) * (2.0 * t + 5.0);
        i = j;
    }
    let var_s = var / 18.0;
    let z = if var_s <= 0.0 || s == 0 {
        0.0
    } else {
        (s - s.signum()) as f64 / var_s.sqrt()
    };
    let p_value = if var_s <= 0.0 {
        1.0
    } else {
        erfc(z.abs() / std::f64::consts::SQRT_2).clamp(0.0, 1.0)
    };
    Some(MannKendall {
        n,
        s,
        var_s,
        z,
        p_value,
    })
}

/// A Theil–Sen line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TheilSen {
    /// Median of the pairwise slopes.
    pub slope: f64,
    /// median(y − slope·x).
    pub intercept: f64,
}

/// Above this many points the median slope is found by counting instead of
/// listing every pairwise slope (n² / 2 of them would not fit in memory).
const LIST_ALL_SLOPES_UP_TO: usize = 2000;

/// Theil–Sen estimator of the line through (x, y).
///
/// Theil (1950), "A rank-invariant method of linear and polynomial
/// regression analysis", *Indagationes Mathematicae* 12; Sen (1968),
/// "Estimates of the regression coefficient based on Kendall's tau",
/// *JASA* 63(324): the slope is the median of (y_j − y_i)/(x_j − x_i) over
/// all pairs with x_i ≠ x_j (the mean of the two middle slopes when their
/// number is even); the intercept is median(y − slope·x) (Conover 1980,
/// *Practical Nonparametric Statistics*, §5.5).
///
/// Pairs with a NaN are dropped. `None` with fewer than two distinct x.
/// Up to 2,000 points every slope is listed; above, the k-th smallest slope
/// is found by bisection on t with the count of slopes ≤ t, which is a
/// count of inversions of y − t·x in x order (merge sort, O(n log n) per
/// step; the same duality underlies Cole, Salowe, Steiger & Szemerédi 1989,
/// "An optimal-time algorithm for slope selection", *SIAM J. Comput.*
/// 18(4)), to within 10⁻¹⁵ of the slope range.
pub fn theil_sen(x: &[f64], y: &[f64]) -> Option<TheilSen> {
    let mut pts: Vec<(f64, f64)> = x
        .iter()
        .zip(y)
        .map(|(&a, &b)| (a, b))
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .collect();
    // Sort by x, ties by descending y: within one x no pair then counts as
    // increasing (see `slopes_at_most`).
    pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)));
    if pts.len() < 2 || pts[0].0 == pts[pts.len() - 1].0 {
        return None;
    }
    let slope = if pts.len() <= LIST_ALL_SLOPES_UP_TO {
        median_slope_listed(&pts)
    } else {
        median_slope_counted(&pts)
    }?;
    let mut resid: Vec<f64> = pts.iter().map(|(a, b)| b - slope * a).collect();
    resid.sort_by(f64::total_cmp);
    let intercept = median_sorted(&resid)?;
    Some(TheilSen { slope, intercept })
}

/// The median of sorted values (type 7 at p = 0.5: the middle value, or
/// the mean of the middle two).
fn median_sorted(v: &[f64]) -> Option<f64> {
    super::quantile::quantile_type7(v, 0.5)
}

fn median_slope_listed(pts: &[(f64, f64)]) -> Option<f64> {
    let mut slopes = Vec::with_capacity(pts.len() * (pts.len() - 1) / 2);
    for (i, &(xi, yi)) in pts.iter().enumerate() {
        for &(xj, yj) in &pts[i + 1..] {
            if xj != xi {
                slopes.push((yj - yi) / (xj - xi));
            }
        }
    }
    slopes.sort_by(f64::total_cmp);
    median_sorted(&slopes)
}

/// Pairs (i < j in x order, x_i < x_j) whose slope is ≤ t. Slope ≤ t ⇔
/// y_j − t·x_j ≤ y_i − t·x_i, so these are the pairs whose z = y − t·x do
/// not increase: all pairs with distinct x, minus those with z_i < z_j.
/// Points with equal x come sorted by descending y, hence descending z, so
/// they form no pair with z_i < z_j and the inversion count needs no fix.
fn slopes_at_most(pts: &[(f64, f64)], t: f64, scratch: &mut Vec<f64>, buf: &mut Vec<f64>) -> u64 {
    scratch.clear();
    scratch.extend(pts.iter().map(|(x, y)| y - t * x));
    let increasing = count_increasing_pairs(scratch, buf);
    let n = pts.len() as u64;
    let distinct_x_pairs = n * (n - 1) / 2 - same_x_pairs(pts);
    distinct_x_pairs - increasing
}

fn same_x_pairs(pts: &[(f64, f64)]) -> u64 {
    let mut total = 0u64;
    let mut i = 0;
    while i < pts.len() {
        let mut j = i + 1;
        while j < pts.len() && pts[j].0 == pts[i].0 {
            j += 1;
        }
        let t = (j - i) as u64;
        total += t * (t - 1) / 2;
        i = j;
    }
    total
}

/// Number of pairs i < j with v_i < v_j, by merge sort (sorts `v`).
fn count_increasing_pairs(v: &mut [f64], buf: &mut Vec<f64>) -> u64 {
    let n = v.len();
    if n < 2 {
        return 0;
    }
    let mid = n / 2;
    let (left, right) = v.split_at_mut(mid);
    let mut count = count_increasing_pairs(left, buf) + count_increasing_pairs(right, buf);
    // Both halves sorted ascending: for each right element, the left ones
    // strictly below it form increasing pairs.
    let mut i = 0;
    for &r in right.iter() {
        while i < left.len() && left[i] < r {
            i += 1;
        }
        count += i as u64;
    }
    buf.clear();
    let (mut a, mut b) = (0, 0);
    while a < left.len() && b < right.len() {
        if left[a] <= right[b] {
            buf.push(left[a]);
            a += 1;
        } else {
            buf.push(right[b]);
            b += 1;
        }
    }
    buf.extend_from_slice(&left[a..]);
    buf.extend_from_slice(&right[b..]);
    v.copy_from_slice(buf);
    count
}

fn median_slope_counted(pts: &[(f64, f64)]) -> Option<f64> {
    let n = pts.len() as u64;
    let total = n * (n - 1) / 2 - same_x_pairs(pts);
    if total == 0 {
        return None;
    }
    // Every slope lies within ±(y range)/(smallest x gap).
    let (ymin, ymax) = pts
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.1), hi.max(p.1))
        });
    let min_gap = pts
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .filter(|d| *d > 0.0)
        .fold(f64::INFINITY, f64::min);
    if ymax == ymin {
        return Some(0.0);
    }
    let bound = ((ymax - ymin) / min_gap).abs() * 1.01;
    // Bisect to 1e-15 of the slope range (about 50 steps), not to adjacent
    // floats: near a slope of 0 that would take over a thousand steps.
    let tolerance = bound * 1e-15;
    let mut scratch = Vec::with_capacity(pts.len());
    let mut buf = Vec::with_capacity(pts.len());
    // Smallest t with at least k slopes ≤ t: the k-th smallest slope.
    let mut kth = |k: u64| -> f64 {
        let (mut lo, mut hi) = (-bound, bound);
        for _ in 0..2000 {
            let mid = lo + (hi - lo) / 2.0;
            if hi - lo <= tolerance || mid <= lo || mid >= hi {
                break;
            }
            if slopes_at_most(pts, mid, &mut scratch, &mut buf) >= k {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi
    };
    Some(if total % 2 == 1 {
        kth(total / 2 + 1)
    } else {
        (kth(total / 2) + kth(total / 2 + 1)) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-12)
    }

    /// Reference values from pymannkendall 1.4.3 (`original_test`,
    /// `sens_slope`), an independent implementation, with x = 0, 1, …;
    /// intercepts are numpy's `median(y - slope * x)` (pymannkendall's own
    /// intercept is median(y) − slope·median(x), Conover's variant).
    fn check(y: &[f64], mk_ref: (i64, f64, f64, f64), ts_ref: (f64, f64)) {
        let mk = mann_kendall(y).expect("values");
        assert_eq!(mk.s, mk_ref.0, "{mk:?}");
        assert!(close(mk.var_s, mk_ref.1, 1e-12), "{mk:?}");
        assert!(close(mk.z, mk_ref.2, 1e-12), "{mk:?}");
        assert!(close(mk.p_value, mk_ref.3, 1e-9), "{mk:?}");
        let x: Vec<f64> = (0..y.len()).map(|i| i as f64).collect();
        let ts = theil_sen(&x, y).expect("line");
        assert!(close(ts.slope, ts_ref.0, 1e-12), "{ts:?}");
        assert!(close(ts.intercept, ts_ref.1, 1e-12), "{ts:?}");
    }

    #[test]
    fn rising_series_matches_pymannkendall() {
        check(
            &[3.1, 2.9, 3.4, 3.3, 3.8, 3.6, 4.0, 4.2, 3.9, 4.5],
            (35, 125.0, 3.041052449399714, 0.002357527595795439),
            (0.15555555555555556, 3.0777777777777775),
        );
    }

    #[test]
    fn ties_reduce_the_variance_as_pymannkendall_does() {
        // Tie groups: 5 ×4, 6 ×2, 7 ×3, 8 ×2 → Var(S) = (12·11·29 −
        // 4·3·13 − 2·1·9 − 3·2·11 − 2·1·9) / 18 = 3570 / 18 = 198.33.
        check(
            &[5.0, 5.0, 6.0, 5.0, 7.0, 7.0, 7.0, 6.0, 8.0, 8.0, 9.0, 5.0],
            (
                31,
                198.33333333333334,
                2.1302148074901788,
                0.033153883119150906,
            ),
            (0.3333333333333333, 5.0),
        );
    }

    #[test]
    fn falling_series_has_negative_s_and_slope() {
        check(
            &[10.0, 9.5, 9.7, 8.0, 8.2, 7.1, 7.3, 6.0],
            (
                -22,
                65.33333333333333,
                -2.598076211353316,
                0.009374768459434968,
            ),
            (-0.5607142857142856, 10.030357142857142),
        );
    }

    #[test]
    fn noise_is_not_a_trend() {
        let mk = mann_kendall(&[1.0, 3.0, 2.0, 5.0, 4.0, 1.5, 3.5, 2.5, 4.5, 2.2]).expect("10");
        assert_eq!(mk.s, 7);
        assert!(close(mk.p_value, 0.5915050369949166, 1e-9), "{mk:?}");
    }

    #[test]
    fn a_flat_series_has_p_one_and_slope_zero() {
        let mk = mann_kendall(&[2.0; 6]).expect("6");
        assert_eq!((mk.s, mk.var_s, mk.z, mk.p_value), (0, 0.0, 0.0, 1.0));
        let ts = theil_sen(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], &[2.0; 6]).expect("line");
        assert_eq!((ts.slope, ts.intercept), (0.0, 2.0));
    }

    #[test]
    fn too_few_points_give_none() {
        assert!(mann_kendall(&[1.0]).is_none());
        assert!(mann_kendall(&[f64::NAN, 1.0]).is_none());
        assert!(theil_sen(&[1.0], &[1.0]).is_none());
        // Two points at the same x: no slope exists.
        assert!(theil_sen(&[1.0, 1.0], &[1.0, 2.0]).is_none());
    }

    #[test]
    fn equal_x_pairs_are_skipped() {
        // Slopes of pairs with distinct x: (0,0)-(1,1) 1, (0,0)-(1,3) 3;
        // the pair at x = 1 has none. Median of {1, 3} = 2.
        let ts = theil_sen(&[0.0, 1.0, 1.0], &[0.0, 1.0, 3.0]).expect("line");
        assert_eq!(ts.slope, 2.0);
        // Residuals 0, −1, 1 → median 0.
        assert_eq!(ts.intercept, 0.0);
    }

    /// 2,001 points take the counting path. pymannkendall 1.4.3:
    /// `sens_slope(y)` with y_i = −0.002 i + ((7919 i) mod 997)/300 gives
    /// −0.0020952380952380927; numpy `median(y − slope·x)` 1.804095238095233.
    #[test]
    fn counted_median_slope_matches_the_listed_one_and_pymannkendall() {
        let n = 2001;
        let x: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let y: Vec<f64> = (0..n)
            .map(|i| -0.002 * i as f64 + ((i * 7919) % 997) as f64 / 300.0)
            .collect();
        let ts = theil_sen(&x, &y).expect("line");
        assert!(close(ts.slope, -0.0020952380952380927, 1e-9), "{ts:?}");
        assert!(close(ts.intercept, 1.804095238095233, 1e-9), "{ts:?}");
        // Same answer as listing every slope, on a smaller set with ties in x.
        let mut pts: Vec<(f64, f64)> = (0..300)
            .map(|i| {
                (
                    (i / 3) as f64,
                    ((i * 37) % 101) as f64 * 0.5 + i as f64 * 0.01,
                )
            })
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)));
        let listed = median_slope_listed(&pts).expect("listed");
        let counted = median_slope_counted(&pts).expect("counted");
        assert!(close(counted, listed, 1e-9), "{counted} vs {listed}");
    }

    /// Long series take the counting path: a flat one is exactly flat, a
    /// rising one finds its slope. (3,000 points keep the debug-build test
    /// short; 10,000, the soak's most, take ~10 s unoptimized.)
    #[test]
    fn long_series_are_handled() {
        let n = 3_000;
        let x: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let flat = vec![3.0; n];
        assert_eq!(theil_sen(&x, &flat).map(|t| t.slope), Some(0.0));
        let y: Vec<f64> = (0..n)
            .map(|i| 0.5 * i as f64 + ((i * 7919) % 101) as f64)
            .collect();
        let ts = theil_sen(&x, &y).expect("line");
        assert!((ts.slope - 0.5).abs() < 0.01, "{ts:?}");
        let mk = mann_kendall(&y).expect("mk");
        assert!(mk.p_value < 1e-10 && mk.s > 0, "{mk:?}");
    }
}
