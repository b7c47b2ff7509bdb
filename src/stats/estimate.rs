//! The result types shared by the estimators, and the sample-size arithmetic
//! built on an interval: minimum detectable effect and requests needed to
//! settle an inconclusive rule.

use serde::Serialize;

/// A two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

impl Interval {
    /// Half the interval's width.
    pub fn half_width(&self) -> f64 {
        (self.hi - self.lo) / 2.0
    }

    /// Whether `value` lies inside the closed interval.
    pub fn contains(&self, value: f64) -> bool {
        self.lo <= value && value <= self.hi
    }
}

/// A candidate/baseline ratio with its bootstrap interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatioEstimate {
    /// estimate(candidate) / estimate(baseline), on the original samples.
    pub point: f64,
    /// Two-sided percentile-bootstrap interval of the ratio at `level`.
    pub interval: Interval,
    /// One-sided bootstrap p-value for "candidate is worse than baseline" in
    /// the given direction (share of resamples on the not-worse side, with the
    /// +1 correction of Davison & Hinkley 1997 §4.4).
    pub p_worse: f64,
    /// Number of bootstrap resamples behind `interval` and `p_worse`.
    pub resamples: u32,
}

/// Which way a metric gets worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Direction {
    /// Latency, cost, error rates: a larger value is a regression.
    HigherIsWorse,
    /// Throughput, decode rate: a smaller value is a regression.
    LowerIsWorse,
}

/// Bootstrap settings; the gate file's `policy` supplies them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BootstrapConfig {
    /// Number of resamples B (≥ 1; 2,000 or more for 95 % intervals,
    /// Efron & Tibshirani 1993 §19.3).
    pub resamples: u32,
    /// Two-sided confidence level in (0, 1), e.g. 0.95.
    pub level: f64,
    /// Seed of the resampling stream: same inputs and seed ⇒ same output.
    pub seed: u64,
}

/// Minimum detectable relative effect of a ratio estimate at this sample size,
/// from the bootstrap interval's half-width (document the formula and cite).
///
/// MDE = (hi − lo) / 2 / point: the relative interval half-width. Bloom
/// (1995), "Minimum detectable effects: a simple way to report the
/// statistical power of experimental designs", *Evaluation Review* 19(5),
/// defines MDE = (z_{1−α/2} + z_{power})·SE; a level-(1 − α) interval has
/// half-width z_{1−α/2}·SE, so this is Bloom's MDE at 50 % power — the
/// smallest change whose interval would just exclude "no change". For 80 %
/// power multiply by (z_{1−α/2} + 0.8416) / z_{1−α/2} (≈ 1.43 at 95 %); see
/// [`mde_from_interval_at_power`]. NaN when `point` is zero or not finite.
pub fn mde_from_interval(iv: &Interval, point: f64) -> f64 {
    if point == 0.0 || !point.is_finite() {
        return f64::NAN;
    }
    iv.half_width() / point.abs()
}

/// Bloom's (1995) MDE at a chosen power for an interval of two-sided
/// `level`: MDE = half-width/point × (z_{(1+level)/2} + z_{power}) / z_{(1+level)/2}.
/// NaN for `level` or `power` outside (0, 1).
pub fn mde_from_interval_at_power(iv: &Interval, point: f64, level: f64, power: f64) -> f64 {
    if !in_open_unit(level) || !in_open_unit(power) {
        return f64::NAN;
    }
    let z_level = super::dist::normal_quantile((1.0 + level) / 2.0);
    let z_power = super::dist::normal_quantile(power);
    mde_from_interval(iv, point) * (z_level + z_power) / z_level
}

/// Requests needed (per side) to shrink the interval so that it would no longer
/// straddle `limit`: n_needed = n × (half_width / |point − limit|)², from the
/// 1/√n scaling of the standard error (cite). None if point == limit.
///
/// The standard error of a smooth statistic (a quantile, a ratio of means)
/// scales as 1/√n (Serfling 1980, *Approximation Theorems of Mathematical
/// Statistics*, §2.3.3 for sample quantiles, §3.3 for smooth functions of
/// means); the bootstrap interval's half-width scales with it. Setting the
/// half-width at n' equal to the distance |point − limit| gives the formula.
/// It assumes the point estimate stays where it is. The result is the
/// total per side (at least 1), rounded up, saturating at `u64::MAX`;
/// subtract n for the additional requests. None also when any input is not
/// finite.
pub fn requests_to_settle(n: u64, iv: &Interval, point: f64, limit: f64) -> Option<u64> {
    let gap = (point - limit).abs();
    let half = iv.half_width();
    if gap == 0.0 || !gap.is_finite() || !half.is_finite() {
        return None;
    }
    let needed = (n as f64 * (half / gap).powi(2)).ceil();
    // `as` saturates for values beyond u64::MAX.
    Some((needed as u64).max(1))
}

/// Whether `x` is strictly between 0 and 1 (false for NaN).
pub(crate) fn in_open_unit(x: f64) -> bool {
    x > 0.0 && x < 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mde_is_relative_half_width() {
        let iv = Interval { lo: 0.9, hi: 1.1 };
        assert!((mde_from_interval(&iv, 1.0) - 0.1).abs() < 1e-15);
        assert!((mde_from_interval(&iv, 2.0) - 0.05).abs() < 1e-15);
        assert!(mde_from_interval(&iv, 0.0).is_nan());
        // 80 % power at a 95 % interval, SciPy 1.17.1:
        // `z = norm.ppf(0.975); 0.1 * (z + norm.ppf(0.8)) / z` = 0.14294064790024283
        let at80 = mde_from_interval_at_power(&iv, 1.0, 0.95, 0.8);
        assert!((at80 - 0.142_940_647_900_242_83).abs() < 1e-12, "{at80}");
    }

    #[test]
    fn settling_an_interval_scales_with_inverse_square() {
        // Half-width 0.25, distance to the limit 0.125: 4× the requests.
        let iv = Interval { lo: 0.75, hi: 1.25 };
        assert_eq!(requests_to_settle(200, &iv, 1.0, 1.125), Some(800));
        // Already settled: fewer than n suffice.
        assert_eq!(requests_to_settle(200, &iv, 1.0, 1.5), Some(50));
        assert_eq!(requests_to_settle(200, &iv, 1.0, 1.0), None);
        assert_eq!(requests_to_settle(200, &iv, f64::NAN, 1.0), None);
    }
}
