//! Point estimates of quantiles: Hyndman & Fan type 7 and the Harrell-Davis
//! estimator, plus the Harrell-Davis weight table the bootstrap reuses.

use super::beta::beta_tails;

/// Hyndman & Fan (1996) definition 7 (R/NumPy default). `sorted` ascending. None if empty.
///
/// Hyndman & Fan (1996), "Sample quantiles in statistical packages", *The
/// American Statistician* 50(4), definition 7: with h = (n − 1)p (0-based),
/// Q(p) = x_⌊h⌋ + (h − ⌊h⌋)(x_⌊h⌋+1 − x_⌊h⌋). `p` outside [0, 1] (or NaN)
/// gives None.
pub fn quantile_type7(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&p) {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor();
    // `h` is in [0, n − 1], so the casts are in range.
    let i = lo as usize;
    let frac = h - lo;
    let x_lo = sorted[i];
    match sorted.get(i + 1) {
        Some(&x_hi) if frac > 0.0 => Some(x_lo + frac * (x_hi - x_lo)),
        _ => Some(x_lo),
    }
}

/// Harrell & Davis (1982) estimator: weighted sum of order statistics with
/// Beta((n+1)p, (n+1)(1-p)) weights via the regularized incomplete beta. None if empty.
///
/// Harrell & Davis (1982), "A new distribution-free quantile estimator",
/// *Biometrika* 69(3), eq. (1.2)–(1.3): θ̂_p = Σᵢ Wᵢ x₍ᵢ₎ with
/// Wᵢ = I_{i/n}(a, b) − I_{(i−1)/n}(a, b), a = (n+1)p, b = (n+1)(1−p).
/// `p` must be strictly inside (0, 1) (the Beta weights are undefined at
/// the ends); otherwise None.
pub fn harrell_davis(sorted: &[f64], p: f64) -> Option<f64> {
    let table = HdCdf::new(sorted.len(), p, EXACT_TAIL)?;
    Some(table.estimate_sorted(sorted))
}

/// Tails of the Beta CDF below this are treated as exactly 0 (or 1) in point
/// estimates: the weights dropped sum to less than 2e-18, far below f64
/// resolution of the estimate.
pub(crate) const EXACT_TAIL: f64 = 1e-18;

/// The Beta((n+1)p, (n+1)(1−p)) CDF at k/n for k = 0..=n, the cumulative
/// Harrell-Davis weights, computed once per (n, p) and reused for every
/// bootstrap resample.
///
/// Only the ranks where the CDF is between `tail` and 1 − `tail` (plus one
/// rank each side) are stored: at n = 50,000 and p = 0.95 that is about 1,000
/// of the 50,001 values, so building the table costs a few milliseconds.
#[derive(Debug, Clone)]
pub(crate) struct HdCdf {
    n: usize,
    /// cdf(k) = 0 for k < `first`.
    first: usize,
    /// cdf(first + j) = values[j]; cdf(k) = 1 past the end.
    values: Vec<f64>,
}

impl HdCdf {
    /// The table with negligible tails of size `tail` clamped to 0 and 1
    /// (the dropped weights sum to less than 2·`tail`).
    pub(crate) fn new(n: usize, p: f64, tail: f64) -> Option<Self> {
        if n == 0 || !(p > 0.0 && p < 1.0) {
            return None;
        }
        let nf = n as f64;
        let a = (nf + 1.0) * p;
        let b = (nf + 1.0) * (1.0 - p);
        let x = |k: usize| k as f64 / nf;
        // Walk outward from the Beta mean until each tail is negligible; the
        // Beta density is unimodal, so the tails only shrink from there on.
        let centre = ((nf * p).round() as usize).min(n);
        let mut below = Vec::new();
        let mut k = centre;
        loop {
            let t = beta_tails(a, b, x(k));
            below.push(t.lower);
            if t.lower < tail || k == 0 {
                break;
            }
            k -= 1;
        }
        let first = k;
        below.reverse();
        let mut values = below;
        let mut k = centre;
        while k < n {
            k += 1;
            let t = beta_tails(a, b, x(k));
            values.push(t.lower);
            if t.upper < tail {
                break;
            }
        }
        Some(Self { n, first, values })
    }

    /// Number of observations the table was built for.
    pub(crate) fn n(&self) -> usize {
        self.n
    }

    /// First rank k (0..=n) at which the CDF may be non-zero.
    pub(crate) fn first(&self) -> usize {
        self.first
    }

    /// One past the last rank k at which the CDF may be below 1.
    pub(crate) fn end(&self) -> usize {
        self.first + self.values.len()
    }

    /// I_{k/n}(a, b), with the negligible tails clamped to 0 and 1.
    #[inline]
    pub(crate) fn cdf(&self, k: usize) -> f64 {
        if k < self.first {
            0.0
        } else {
            self.values.get(k - self.first).copied().unwrap_or(1.0)
        }
    }

    /// θ̂_p of a sorted sample of length n (Harrell & Davis 1982, eq. 1.3),
    /// summing only the order statistics with non-negligible weight.
    pub(crate) fn estimate_sorted(&self, sorted: &[f64]) -> f64 {
        debug_assert_eq!(sorted.len(), self.n, "table built for another n");
        // Order statistic x₍ᵢ₎ (1-based i) has weight cdf(i) − cdf(i − 1).
        let lo = self.first.max(1);
        let hi = self.end().min(self.n);
        let mut acc = 0.0;
        let mut prev = self.cdf(lo - 1);
        for (i, &x) in sorted.iter().enumerate().take(hi).skip(lo - 1) {
            let next = self.cdf(i + 1);
            acc += (next - prev) * x;
            prev = next;
        }
        acc
    }
    /// θ̂_p of a resample given by counts: `counts[j]` copies of the
    /// order statistic x₍start+j₎, with `before` drawn values ranked below
    /// `start`. Its sorted form repeats each x₍ᵢ₎ cᵢ times, so with
    /// cumulative counts Cᵢ the estimate is Σᵢ x₍ᵢ₎ (F(Cᵢ/n) − F(Cᵢ₋₁/n)),
    /// no sort needed (the counts must cover every rank of non-negligible
    /// weight: `before ≤ first()` and `before + Σ counts ≥ end()`).
    pub(crate) fn estimate_counts(
        &self,
        sorted: &[f64],
        start: usize,
        before: u64,
        counts: &[u32],
    ) -> f64 {
        let end_rank = self.end();
        let mut rank = before as usize;
        let mut prev = self.cdf(rank);
        let mut acc = 0.0;
        // No test for c == 0: about 37 % of the counts are 0 (Poisson(1)),
        // too many for the branch predictor, and a zero count adds an exact
        // 0 · x, which leaves the sum unchanged bit for bit.
        for (&c, &x) in counts.iter().zip(&sorted[start..]) {
            rank += c as usize;
            let next = self.cdf(rank);
            acc += (next - prev) * x;
            prev = next;
            if rank >= end_rank {
                break;
            }
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 25 values drawn once with NumPy and rounded to 0.1:
    /// `np.round(np.random.default_rng(20261127).lognormal(5.5, 0.4, size=25), 1)`, sorted.
    const SAMPLE: [f64; 25] = [
        146.4, 172.9, 186.1, 200.1, 203.6, 218.4, 222.9, 229.9, 238.2, 238.5, 245.0, 250.4, 251.9,
        261.7, 266.3, 267.6, 272.2, 296.5, 369.6, 411.0, 417.0, 430.0, 432.1, 479.0, 522.9,
    ];
    const PROBS: [f64; 5] = [0.05, 0.5, 0.9, 0.95, 0.99];

    fn close(got: f64, want: f64, rel: f64) {
        assert!(
            (got - want).abs() <= rel * want.abs(),
            "got {got}, want {want}"
        );
    }

    #[test]
    fn type7_matches_numpy_default() {
        // SciPy 1.17.1 / NumPy: `[np.quantile(SAMPLE, p) for p in PROBS]`
        let want = [175.54, 251.9, 431.26, 469.6199999999999, 512.3639999999999];
        for (p, w) in PROBS.into_iter().zip(want) {
            close(quantile_type7(&SAMPLE, p).expect("non-empty"), w, 1e-13);
        }
        assert_eq!(quantile_type7(&SAMPLE, 0.0), Some(146.4));
        assert_eq!(quantile_type7(&SAMPLE, 1.0), Some(522.9));
        assert_eq!(quantile_type7(&[4.0], 0.3), Some(4.0));
        assert_eq!(quantile_type7(&[], 0.5), None);
        assert_eq!(quantile_type7(&SAMPLE, 1.5), None);
    }

    #[test]
    fn harrell_davis_matches_scipy_hdquantiles() {
        // `scipy.stats.mstats.hdquantiles(SAMPLE, prob=PROBS)` (SciPy 1.17.1)
        let want = [
            163.12048767774945,
            255.88122331164465,
            453.2933526019431,
            491.67607624833164,
            519.1753496533626,
        ];
        for (p, w) in PROBS.into_iter().zip(want) {
            close(harrell_davis(&SAMPLE, p).expect("non-empty"), w, 1e-12);
        }
        // `hdquantiles(np.array([3.0, 7.0]), prob=[0.5, 0.9])`
        close(
            harrell_davis(&[3.0, 7.0], 0.5).expect("n = 2"),
            5.000000000000001,
            1e-13,
        );
        close(
            harrell_davis(&[3.0, 7.0], 0.9).expect("n = 2"),
            6.862454029148331,
            1e-12,
        );
        assert_eq!(harrell_davis(&[42.0], 0.95), Some(42.0));
        assert_eq!(harrell_davis(&[], 0.5), None);
        assert_eq!(harrell_davis(&SAMPLE, 0.0), None);
        assert_eq!(harrell_davis(&SAMPLE, f64::NAN), None);
    }

    #[test]
    fn harrell_davis_stays_accurate_at_large_n() {
        // x_i = 10·√i, i = 1..=n: `hdquantiles(np.sqrt(np.arange(1, n+1)) * 10.0, prob=[0.5, 0.95, 0.99])`
        let cases = [
            (
                2000,
                [316.2870708595801, 435.94581069377114, 445.027807149493],
            ),
            (
                20000,
                [1000.0187503840825, 1378.422558574168, 1407.1424056980204],
            ),
        ];
        for (n, want) in cases {
            let xs: Vec<f64> = (1..=n).map(|i| f64::from(i).sqrt() * 10.0).collect();
            for (p, w) in [0.5, 0.95, 0.99].into_iter().zip(want) {
                close(harrell_davis(&xs, p).expect("non-empty"), w, 1e-10);
            }
        }
    }

    #[test]
    fn weight_table_is_short_for_large_n() {
        let t = HdCdf::new(50_000, 0.95, EXACT_TAIL).expect("valid");
        assert!(t.end() - t.first() < 2_000, "{}..{}", t.first(), t.end());
        assert_eq!(t.cdf(0), 0.0);
        assert_eq!(t.cdf(50_000), 1.0);
    }
}
