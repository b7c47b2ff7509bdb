//! Exact methods for rates (error rates, stream-cut rates, quality pass
//! rates): Clopper-Pearson bounds, Fisher's exact test against the
//! baseline, and the minimum detectable rate increase.

use statrs::function::factorial::ln_binomial;

use super::beta::beta_quantile;
use super::dist::normal_quantile;
use super::estimate::{Interval, in_open_unit};

/// Clopper & Pearson (1934) exact binomial interval, two-sided at `level`
/// (via Beta quantiles). k ≤ n, n > 0.
///
/// Clopper & Pearson (1934), "The use of confidence or fiducial limits
/// illustrated in the case of the binomial", *Biometrika* 26(4); in the Beta
/// form of Brown, Cai & DasGupta (2001), *Statistical Science* 16(2), §4.2.2:
/// lo = B(α/2; k, n − k + 1), hi = B(1 − α/2; k + 1, n − k), α = 1 − level,
/// with lo = 0 when k = 0 and hi = 1 when k = n.
///
/// Invalid input (n = 0, k > n, level outside (0, 1)) gives the
/// uninformative interval [0, 1] rather than a panic.
pub fn clopper_pearson(k: u64, n: u64, level: f64) -> Interval {
    let uninformative = Interval { lo: 0.0, hi: 1.0 };
    if n == 0 || k > n || !in_open_unit(level) {
        return uninformative;
    }
    let alpha = 1.0 - level;
    let (kf, nf) = (k as f64, n as f64);
    let lo = if k == 0 {
        0.0
    } else {
        beta_quantile(kf, nf - kf + 1.0, alpha / 2.0)
    };
    let hi = if k == n {
        1.0
    } else {
        beta_quantile(kf + 1.0, nf - kf, 1.0 - alpha / 2.0)
    };
    Interval { lo, hi }
}

/// One-sided Fisher exact test (Fisher 1922; hypergeometric tail) that the
/// candidate rate k1/n1 is greater than the baseline rate k2/n2. Returns p.
///
/// Fisher (1922), "On the interpretation of χ² from contingency tables, and
/// the calculation of P", *JRSS* 85(1); Agresti (2013), *Categorical Data
/// Analysis* 3rd ed., §3.5.1: conditioning on both margins of the 2×2 table
/// [[k1, n1 − k1], [k2, n2 − k2]], k1 is hypergeometric with population
/// N = n1 + n2, K = k1 + k2 successes and n1 draws; p = P(X ≥ k1). Same
/// convention as `scipy.stats.fisher_exact(.., alternative="greater")`.
///
/// Invalid input (k1 > n1, k2 > n2, or an empty side) gives p = 1: no
/// evidence of a worse candidate.
pub fn fisher_exact_greater(k1: u64, n1: u64, k2: u64, n2: u64) -> f64 {
    if n1 == 0 || n2 == 0 || k1 > n1 || k2 > n2 {
        return 1.0;
    }
    let (Some(total), Some(successes)) = (n1.checked_add(n2), k1.checked_add(k2)) else {
        return 1.0;
    };
    let failures = total - successes;
    let top = successes.min(n1);
    // P(X = k1) from log binomial coefficients (hypergeometric pmf), then the
    // upper tail by the pmf ratio
    // P(x+1)/P(x) = (K − x)(n1 − x) / ((x + 1)(N − K − n1 + x + 1)).
    // Every term is positive, so the sum keeps its relative precision.
    let ln_p = ln_binomial(successes, k1) + ln_binomial(failures, n1 - k1) - ln_binomial(total, n1);
    let mut term = ln_p.exp();
    let mut sum = term;
    for x in k1..top {
        let (xf, kf, nf, ff) = (x as f64, successes as f64, n1 as f64, failures as f64);
        term *= (kf - xf) * (nf - xf) / ((xf + 1.0) * (ff - nf + xf + 1.0));
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum.min(1.0)
}

/// Minimum detectable rate increase for a binomial at n (normal approximation,
/// cite), used for rate rules.
///
/// The smallest increase δ that a one-sided test at `alpha` detects with
/// probability `power` when both sides have n requests, from the normal
/// approximation to the difference of two proportions without continuity
/// correction (Fleiss, Levin & Paik 2003, *Statistical Methods for Rates
/// and Proportions* 3rd ed., §4.2):
/// δ·√n = z_{1−α}·√(2·p̄(1 − p̄)) + z_{power}·√(p₁(1 − p₁) + p₂(1 − p₂)),
/// p₂ = p₁ + δ, p̄ = p₁ + δ/2, solved for δ by bisection. The exact Fisher
/// test is slightly more conservative, so this is a lower bound.
///
/// Returns `1 − baseline_rate` (nothing smaller is detectable) when n = 0 or
/// even the largest increase is not detectable; NaN for a rate outside
/// [0, 1] or alpha/power outside (0, 1).
pub fn mde_rate(baseline_rate: f64, n: u64, alpha: f64, power: f64) -> f64 {
    let p1 = baseline_rate;
    if !(0.0..=1.0).contains(&p1) || !in_open_unit(alpha) || !in_open_unit(power) {
        return f64::NAN;
    }
    let headroom = 1.0 - p1;
    if n == 0 || headroom <= 0.0 {
        return headroom;
    }
    let z_alpha = normal_quantile(1.0 - alpha);
    let z_power = normal_quantile(power);
    let sqrt_n = (n as f64).sqrt();
    // Positive once δ is detectable; increasing in δ over the range where the
    // root lies, so bisection applies.
    let excess = |d: f64| {
        let p2 = p1 + d;
        let pbar = p1 + d / 2.0;
        d * sqrt_n
            - (z_alpha * (2.0 * pbar * (1.0 - pbar)).sqrt()
                + z_power * (p1 * (1.0 - p1) + p2 * (1.0 - p2)).sqrt())
    };
    if excess(headroom) < 0.0 {
        return headroom;
    }
    let (mut lo, mut hi) = (0.0_f64, headroom);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if excess(mid) < 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64, rel: f64) {
        assert!(
            (got - want).abs() <= rel * want.abs(),
            "got {got:e}, want {want:e}"
        );
    }

    #[test]
    fn clopper_pearson_matches_scipy_exact_interval() {
        // `scipy.stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method='exact')`
        // (SciPy 1.17.1)
        let cases = [
            (0, 200, 0.0, 0.018275340355148807),
            (3, 200, 0.003104107621555085, 0.043208281917709784),
            (10, 1000, 0.004805510691058102, 0.018313243055112373),
            (200, 200, 0.9817246596448512, 1.0),
        ];
        for (k, n, lo, hi) in cases {
            let iv = clopper_pearson(k, n, 0.95);
            if lo == 0.0 {
                assert_eq!(iv.lo, 0.0);
            } else {
                close(iv.lo, lo, 1e-9);
            }
            close(iv.hi, hi, 1e-9);
        }
        // Same with confidence_level=0.9.
        let iv = clopper_pearson(3, 200, 0.9);
        close(iv.lo, 0.004100613335066179, 1e-9);
        close(iv.hi, 0.03830970849818953, 1e-9);
    }

    #[test]
    fn clopper_pearson_is_uninformative_on_invalid_input() {
        let all = Interval { lo: 0.0, hi: 1.0 };
        assert_eq!(clopper_pearson(0, 0, 0.95), all);
        assert_eq!(clopper_pearson(5, 4, 0.95), all);
        assert_eq!(clopper_pearson(1, 4, 1.0), all);
    }

    #[test]
    fn fisher_greater_matches_scipy() {
        // `scipy.stats.fisher_exact([[k1, n1-k1], [k2, n2-k2]], alternative='greater').pvalue`
        // (SciPy 1.17.1)
        let cases = [
            (5, 200, 1, 200, 0.107608361847769),
            (1, 200, 5, 200, 0.9849579709245054),
            (0, 200, 0, 200, 1.0),
            (12, 1000, 4, 1000, 0.03782333576278144),
            (3, 50, 3, 50, 0.6611338561962545),
            (40, 10000, 20, 10000, 0.006675723179885662),
        ];
        for (k1, n1, k2, n2, p) in cases {
            close(fisher_exact_greater(k1, n1, k2, n2), p, 1e-10);
        }
        assert_eq!(fisher_exact_greater(3, 2, 0, 10), 1.0);
        assert_eq!(fisher_exact_greater(0, 0, 0, 10), 1.0);
    }

    #[test]
    fn mde_rate_matches_an_independent_root_finder() {
        // Same equation solved with SciPy 1.17.1's brentq:
        // za=norm.ppf(1-a); zb=norm.ppf(pw)
        // f=lambda d: d*np.sqrt(n)-(za*np.sqrt(2*(p1+d/2)*(1-p1-d/2))+zb*np.sqrt(p1*(1-p1)+(p1+d)*(1-p1-d)))
        // brentq(f, 1e-15, 1-p1, xtol=1e-15, rtol=1e-15)
        let cases = [
            (0.01, 200, 0.05, 0.8, 0.04347371521272318),
            (0.0, 1000, 0.05, 0.8, 0.00615707832556937),
            (0.1, 5000, 0.01, 0.9, 0.02269281511244119),
        ];
        for (p1, n, a, pw, want) in cases {
            close(mde_rate(p1, n, a, pw), want, 1e-9);
        }
        assert_eq!(mde_rate(0.2, 0, 0.05, 0.8), 0.8);
        assert!(mde_rate(1.5, 10, 0.05, 0.8).is_nan());
        // More requests detect smaller increases.
        assert!(mde_rate(0.01, 10_000, 0.05, 0.8) < mde_rate(0.01, 1_000, 0.05, 0.8));
    }
}
