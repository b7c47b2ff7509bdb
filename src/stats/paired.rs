//! Paired analysis of an interleaved A/B measurement (the `ab` command):
//! requests of A (baseline) and B (candidate) share one measurement window,
//! their slots assigned at random, balanced within small blocks of the
//! schedule (the "duet" design of Bulej et al. 2020, "Duet benchmarking:
//! improving measurement accuracy in the cloud", *Empirical Software
//! Engineering* 25). Host noise then hits both sides alike.
//!
//! The ratio B/A gets its uncertainty from a stationary bootstrap
//! ([`super::block_bootstrap`]) over **time blocks of both sides
//! together**: the requests of both are merged in start order, a resample
//! draws blocks of consecutive merged positions, and each block brings the
//! A and B requests it contains. A stall lands in a resample with the A and
//! B requests it hit, so it moves both sides' statistics together and
//! largely cancels in the ratio — the covariance the interval keeps
//! ([`super::runs::VarianceComponents::shared`]). Each side's resample is cut
//! to its own n, as the stationary bootstrap cuts its last block: blocks
//! are drawn until both sides are full, and the side that fills first
//! ignores the rest (a handful of requests out of n).
//!
//! The block length is Politis–White's b̂_SB ([`super::blocklen`]) on the
//! linearization of ln(θ_B/θ_A) over the merged sequence: for a
//! B request its term of ln θ_B, for an A request minus its term of
//! ln θ_A, each divided by its side's n. For a quantile that term is
//! (1{x ≤ q̂_side} − p)/n_side — exactly proportional to the influence
//! function (p − 1{x ≤ q})/(q f(q))/n when q·f(q) is the same on both sides,
//! as it is when B is A scaled, and Politis–White is scale-free. For a ratio
//! of sums it is (num − R̂·den)/(R̂·Σden), the delta method as for one run.
//!
//! The interval is δ̂ ± t·SE on the log scale with SE² the bootstrap
//! variance of ln(θ_B*/θ_A*) and the degrees of freedom of that variance
//! from the kurtosis of the merged linearization's batch sums, as for one
//! run ([`super::block_bootstrap`], "Variance of the log"),
//! reported as ratios, with between-run noise marked as cancelled
//! ([`BetweenNoise::SharedWindow`]).

use super::block_bootstrap::{
    QuantileScratch, QuantileSide, RatioSide, StationaryBlocks, block_length, variance_df,
};
use super::bootstrap::{config_is_valid, resample_all};
use super::estimate::{BootstrapConfig, Direction};
use super::quantile::{EXACT_TAIL, HdCdf};
use super::runs::{BetweenNoise, NoiseComparison, VarianceComponents, log_scale_comparison};

/// The ratio B/A of Harrell-Davis `p`-quantiles of an interleaved A/B run:
/// `a` and `b` are (start time, value) per request, any order (sorted by
/// start here; ties put A first). `dir` says which way the metric gets
/// worse; `cfg.level` the interval's level; `power` the MDE's.
///
/// None when a side has fewer than 2 requests, a value is not finite, `p`
/// is not in (0, 1), the configuration is invalid (fewer than 2
/// resamples), an estimate is not positive, or the variance is 0.
pub fn paired_quantile(
    a: &[(f64, f64)],
    b: &[(f64, f64)],
    p: f64,
    dir: Direction,
    cfg: &BootstrapConfig,
    power: f64,
) -> Option<NoiseComparison> {
    let merged = Merged::new(a.len(), b.len(), |i| a[i].0, |j| b[j].0)?;
    let xa: Vec<f64> = merged.a_order.iter().map(|&i| a[i].1).collect();
    let xb: Vec<f64> = merged.b_order.iter().map(|&j| b[j].1).collect();
    if !valid(cfg) || !xa.iter().chain(&xb).all(|v| v.is_finite()) {
        return None;
    }
    let hd = |x: &[f64]| {
        let mut s = x.to_vec();
        s.sort_by(f64::total_cmp);
        HdCdf::new(s.len(), p, EXACT_TAIL).map(|t| t.estimate_sorted(&s))
    };
    let (qa, qb) = (hd(&xa)?, hd(&xb)?);
    if !(qa > 0.0 && qb > 0.0 && qa.is_finite() && qb.is_finite()) {
        return None;
    }
    let (na, nb) = (xa.len() as f64, xb.len() as f64);
    let term = |x: f64, q: f64, n: f64| (f64::from(u8::from(x <= q)) - p) / n;
    let linear = merged.series(|i| -term(xa[i], qa, na), |j| term(xb[j], qb, nb));
    let bl = block_length(&linear);
    let side_a = QuantileSide::new(&xa, p, bl)?;
    let side_b = QuantileSide::new(&xb, p, bl)?;
    let blocks = StationaryBlocks::new(merged.len(), bl)?;
    let reps = resample_all(
        cfg,
        blocks.expected_blocks() + side_a.window_len() + side_b.window_len(),
        || (side_a.scratch(), side_b.scratch()),
        |rng, (sa, sb): &mut (QuantileScratch, QuantileScratch)| {
            side_a.reset(sa);
            side_b.reset(sb);
            merged.resample(
                &blocks,
                rng,
                |s, e| side_a.add(sa, s, e),
                |s, e| side_b.add(sb, s, e),
            );
            (side_a.finish(sa), side_b.finish(sb))
        },
    );
    summarize(
        qb / qa,
        &reps,
        variance_df(&linear, bl, cfg.resamples),
        dir,
        cfg,
        power,
    )
}

/// The ratio B/A of ratio-of-sums statistics Σnum/Σden (throughput,
/// means) of an interleaved A/B run: `a` and `b` are (start time, num, den)
/// per request. Otherwise as [`paired_quantile`].
pub fn paired_ratio_of_sums(
    a: &[(f64, f64, f64)],
    b: &[(f64, f64, f64)],
    dir: Direction,
    cfg: &BootstrapConfig,
    power: f64,
) -> Option<NoiseComparison> {
    let merged = Merged::new(a.len(), b.len(), |i| a[i].0, |j| b[j].0)?;
    let pa: Vec<(f64, f64)> = merged.a_order.iter().map(|&i| (a[i].1, a[i].2)).collect();
    let pb: Vec<(f64, f64)> = merged.b_order.iter().map(|&j| (b[j].1, b[j].2)).collect();
    let finite = |v: &[(f64, f64)]| v.iter().all(|(x, y)| x.is_finite() && y.is_finite());
    if !valid(cfg) || !finite(&pa) || !finite(&pb) {
        return None;
    }
    let (side_a, side_b) = (RatioSide::new(&pa), RatioSide::new(&pb));
    let (ra, rb) = (side_a.statistic(), side_b.statistic());
    if !(ra > 0.0 && rb > 0.0 && ra.is_finite() && rb.is_finite()) {
        return None;
    }
    let den_sum = |v: &[(f64, f64)]| v.iter().map(|p| p.1).sum::<f64>();
    let (da, db) = (den_sum(&pa), den_sum(&pb));
    let linear = merged.series(
        |i| -(pa[i].0 - ra * pa[i].1) / (ra * da),
        |j| (pb[j].0 - rb * pb[j].1) / (rb * db),
    );
    let bl = block_length(&linear);
    let blocks = StationaryBlocks::new(merged.len(), bl)?;
    let reps = resample_all(
        cfg,
        blocks.expected_blocks(),
        || ((0.0, 0.0), (0.0, 0.0)),
        |rng, (sa, sb): &mut ((f64, f64), (f64, f64))| {
            *sa = (0.0, 0.0);
            *sb = (0.0, 0.0);
            merged.resample(
                &blocks,
                rng,
                |s, e| side_a.add(sa, s, e),
                |s, e| side_b.add(sb, s, e),
            );
            (sa.0 / sa.1, sb.0 / sb.1)
        },
    );
    summarize(
        rb / ra,
        &reps,
        variance_df(&linear, bl, cfg.resamples),
        dir,
        cfg,
        power,
    )
}

fn valid(cfg: &BootstrapConfig) -> bool {
    config_is_valid(cfg) && cfg.resamples >= 2
}

/// Both sides merged in start order.
struct Merged {
    /// Indices of A's (B's) requests in start order.
    a_order: Vec<usize>,
    b_order: Vec<usize>,
    /// a_before[i]: A requests among merged positions 0..i (length N + 1).
    a_before: Vec<u32>,
}

impl Merged {
    /// None when a side has fewer than 2 requests or a start time is NaN.
    fn new(
        na: usize,
        nb: usize,
        start_a: impl Fn(usize) -> f64,
        start_b: impl Fn(usize) -> f64,
    ) -> Option<Self> {
        if na < 2 || nb < 2 {
            return None;
        }
        // (start, side, index): A (0) before B (1) at equal starts.
        let mut all: Vec<(f64, u8, usize)> = (0..na)
            .map(|i| (start_a(i), 0, i))
            .chain((0..nb).map(|j| (start_b(j), 1, j)))
            .collect();
        if all.iter().any(|e| e.0.is_nan()) {
            return None;
        }
        all.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
        let mut a_before = Vec::with_capacity(all.len() + 1);
        let (mut a_order, mut b_order) = (Vec::with_capacity(na), Vec::with_capacity(nb));
        for &(_, side, i) in &all {
            a_before.push(a_order.len() as u32);
            if side == 0 {
                a_order.push(i);
            } else {
                b_order.push(i);
            }
        }
        a_before.push(a_order.len() as u32);
        Some(Self {
            a_order,
            b_order,
            a_before,
        })
    }

    fn len(&self) -> usize {
        self.a_before.len() - 1
    }

    /// A series over merged positions: `of_a(k)` for the k-th A request in
    /// start order, `of_b(k)` for the k-th B request.
    fn series(&self, of_a: impl Fn(usize) -> f64, of_b: impl Fn(usize) -> f64) -> Vec<f64> {
        (0..self.len())
            .map(|i| {
                let a = self.a_before[i] as usize;
                if self.a_before[i + 1] as usize > a {
                    of_a(a)
                } else {
                    of_b(i - a)
                }
            })
            .collect()
    }

    /// One paired resample: merged blocks, each split into its A range and
    /// B range (in each side's own start order), each side cut at its n.
    fn resample(
        &self,
        blocks: &StationaryBlocks,
        rng: &mut super::rng::Xoshiro256,
        mut add_a: impl FnMut(usize, usize),
        mut add_b: impl FnMut(usize, usize),
    ) {
        let (na, nb) = (self.a_order.len(), self.b_order.len());
        let (mut need_a, mut need_b) = (na, nb);
        blocks.until(rng, |s, e| {
            let (a0, a1) = (self.a_before[s] as usize, self.a_before[e] as usize);
            let take_a = (a1 - a0).min(need_a);
            if take_a > 0 {
                add_a(a0, a0 + take_a);
                need_a -= take_a;
            }
            let (b0, b1) = (s - a0, e - a1);
            let take_b = (b1 - b0).min(need_b);
            if take_b > 0 {
                add_b(b0, b0 + take_b);
                need_b -= take_b;
            }
            need_a > 0 || need_b > 0
        });
    }
}

/// Log-scale variances of the paired replicates (θ_A*, θ_B*) and the
/// comparison built on them.
fn summarize(
    point: f64,
    reps: &[(f64, f64)],
    df: f64,
    dir: Direction,
    cfg: &BootstrapConfig,
    power: f64,
) -> Option<NoiseComparison> {
    if !reps
        .iter()
        .all(|&(a, b)| a > 0.0 && b > 0.0 && a.is_finite() && b.is_finite())
    {
        return None;
    }
    let var = |f: &dyn Fn(&(f64, f64)) -> f64| {
        let m = reps.iter().map(f).sum::<f64>() / reps.len() as f64;
        reps.iter().map(|r| (f(r) - m).powi(2)).sum::<f64>() / (reps.len() - 1) as f64
    };
    let var_a = var(&|r| r.0.ln());
    let var_b = var(&|r| r.1.ln());
    let var_ratio = var(&|r| r.1.ln() - r.0.ln());
    let components = VarianceComponents {
        between: 0.0,
        within_candidate: var_b,
        within_baseline: var_a,
        shared: var_ratio - var_a - var_b,
    };
    log_scale_comparison(
        point.ln(),
        var_ratio,
        df,
        dir,
        cfg.level,
        power,
        components,
        BetweenNoise::SharedWindow,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::rng::Xoshiro256;
    use rand_distr::{Distribution, LogNormal};

    fn cfg(seed: u64) -> BootstrapConfig {
        BootstrapConfig {
            resamples: 1_000,
            level: 0.95,
            seed,
        }
    }

    /// 400 alternating slots (A even, B odd) in one window; every 7th run
    /// of 20 slots is stalled by 300 ms on both sides.
    type Side = Vec<(f64, f64)>;

    fn window() -> (Side, Side) {
        let mut rng = Xoshiro256::seed_from_u64(31);
        let base = LogNormal::new(50f64.ln(), 0.2).expect("valid");
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for i in 0..400usize {
            let stall = if (i / 20) % 7 == 0 { 300.0 } else { 0.0 };
            let v = (i as f64, base.sample(&mut rng) + stall);
            if i % 2 == 0 { a.push(v) } else { b.push(v) }
        }
        (a, b)
    }

    #[test]
    fn stalls_common_to_both_sides_cancel_in_the_ratio() {
        let (a, b) = window();
        let hi = Direction::HigherIsWorse;
        let c = paired_quantile(&a, &b, 0.9, hi, &cfg(1), 0.8).expect("valid");
        assert!(c.interval.contains(1.0), "{c:?}");
        assert_eq!(c.between, BetweenNoise::SharedWindow);
        let v = c.components;
        // The sides move together: their covariance takes back most of
        // the sum of their variances.
        assert!(
            v.shared < -0.5 * (v.within_candidate + v.within_baseline),
            "{v:?}"
        );
        let total = v.within_candidate + v.within_baseline + v.shared;
        assert!((total - c.se_log * c.se_log).abs() < 1e-12, "{v:?}");
        // Means (value, 1) as a ratio of sums: the same.
        let with_den = |v: &[(f64, f64)]| v.iter().map(|&(t, x)| (t, x, 1.0)).collect::<Vec<_>>();
        let m =
            paired_ratio_of_sums(&with_den(&a), &with_den(&b), hi, &cfg(2), 0.8).expect("valid");
        assert!(m.interval.contains(1.0), "{m:?}");
        assert!(m.components.shared < 0.0, "{m:?}");
    }

    #[test]
    fn a_slower_b_is_detected() {
        let (a, b) = window();
        let slow: Vec<(f64, f64)> = b.iter().map(|&(t, x)| (t, x * 1.3)).collect();
        let c =
            paired_quantile(&a, &slow, 0.5, Direction::HigherIsWorse, &cfg(3), 0.8).expect("valid");
        assert!(c.interval.lo > 1.0, "{c:?}");
        assert!(c.p_worse < 0.01, "{c:?}");
        assert!(c.mde > 0.0 && c.mde < 0.3, "{c:?}");
    }

    #[test]
    fn input_order_does_not_matter() {
        let (a, b) = window();
        let (mut ra, mut rb) = (a.clone(), b.clone());
        ra.reverse();
        rb.reverse();
        let hi = Direction::HigherIsWorse;
        assert_eq!(
            paired_quantile(&a, &b, 0.95, hi, &cfg(4), 0.8),
            paired_quantile(&ra, &rb, 0.95, hi, &cfg(4), 0.8)
        );
    }

    #[test]
    fn invalid_inputs_give_none() {
        let (a, b) = window();
        let hi = Direction::HigherIsWorse;
        assert!(paired_quantile(&a[..1], &b, 0.5, hi, &cfg(1), 0.8).is_none());
        assert!(paired_quantile(&a, &b, 1.0, hi, &cfg(1), 0.8).is_none());
        let mut nan = a.clone();
        nan[3].0 = f64::NAN;
        assert!(paired_quantile(&nan, &b, 0.5, hi, &cfg(1), 0.8).is_none());
        nan[3] = (3.0, f64::INFINITY);
        assert!(paired_quantile(&nan, &b, 0.5, hi, &cfg(1), 0.8).is_none());
        let zero = [(0.0, 1.0, 0.0), (1.0, 1.0, 0.0)];
        let ok = [(0.0, 1.0, 1.0), (1.0, 1.0, 1.0)];
        assert!(paired_ratio_of_sums(&zero, &ok, hi, &cfg(1), 0.8).is_none());
    }
}
