//! The within-run stage of the noise model: a seeded stationary bootstrap
//! (Politis & Romano 1994, "The stationary bootstrap", *JASA* 89(428)) over
//! a run's requests in **start order**, for a Harrell-Davis quantile and for
//! a ratio of sums. Each run gives a [`RunStat`]: the point estimate, the
//! bootstrap variance of its logarithm, the block length and n; the
//! comparison across runs is in [`super::runs`].
//!
//! # Why blocks
//! Requests that are in flight together share the host's fate: a stall of
//! the machine delays every one of them (in one vLLM run 15 requests
//! started in the same millisecond all took 453 ms). Resampled one by one,
//! such a cluster counts as 15 independent slow requests and the interval
//! is far too narrow. Resampling blocks of consecutive requests keeps the
//! dependence within a block (Künsch 1989, "The jackknife and the bootstrap
//! for general stationary observations", *Ann. Statist.* 17(3)), so a stall
//! that hits 16 in-flight requests counts as about one event.
//!
//! # Which block bootstrap
//! The stationary bootstrap draws blocks of geometric length with mean b
//! starting at uniform positions, wrapping around the end (Politis & Romano
//! 1994, §2). It is chosen over the moving or circular block bootstrap
//! (Künsch 1989; Politis & Romano 1992) although those estimate a variance
//! with a somewhat smaller error at their best block length (Lahiri 1999,
//! *Ann. Statist.* 27(1); with the correction of Nordman 2009, *Ann.
//! Statist.* 37(1), the stationary bootstrap's variance is larger by a
//! factor D_SB/D_CB = 3/2): its resamples are stationary, its mean block
//! length is real-valued (runs here often want b between 1 and 3, where
//! rounding to an integer block is a large relative change), and it is
//! less sensitive to a misjudged b (Politis & White 2004, §4).
//!
//! # Block length
//! b is chosen automatically per run and statistic: the Politis–White
//! estimate b̂_SB ([`super::blocklen`]), at least 1, applied to the
//! statistic's linearization — the series whose mean the statistic behaves
//! like to first order (its influence function, Künsch 1989 §3; Politis &
//! White 2004 recommend applying the rule to the linearized series for
//! statistics other than the mean). For the p-quantile q̂ that series is
//! 1{xᵢ ≤ q̂} (Bahadur representation, Serfling 1980 §2.5: q̂ − q ≈
//! (p − F̂(q))/f(q), and F̂ is the mean of the indicators); for the ratio of
//! sums R̂ = Σnumᵢ/Σdenᵢ it is numᵢ − R̂·denᵢ (the delta method: R̂ − R ≈
//! mean(num − R·den)/mean(den), Cochran 1977 §6.3).
//!
//! # Variance of the log, and how sure it is
//! The run's output is the sample variance of ln T* over the resamples. Its
//! own uncertainty enters the comparison as degrees of freedom
//! ([`RunStat::var_df`]). For Gaussian data the stationary bootstrap's
//! variance estimate has relative variance ≈ 2b/n (D_SB·b/n over the
//! squared target, Politis & White 2004 Thm 3.1 with PPW 2009's
//! D_SB = 2g²), that of a batch-means estimate from k = n/b batches, i.e.
//! a χ² with about k − 1 degrees of freedom. Latency tails are far from
//! Gaussian: the p95 of a run of 200 may be decided by two stalls, and its
//! variance estimate is then about as uncertain as a variance from two
//! values. So the degrees of freedom come from the batch sums of the
//! linearized series (non-overlapping batches of ⌈b⌉ positions): with their
//! sample kurtosis κ̂, the relative variance of a variance estimated from
//! k values is (κ − (k − 3)/(k − 1))/k (O'Neill 2014, "Some useful moment
//! results in sampling problems", *The American Statistician* 68(4),
//! Result 3), never taken below the Gaussian 2/(k − 1); ν = 2/that. The
//! Monte Carlo error of B resamples adds that of a χ² with B − 1
//! (1/ν = rel/2 + 1/(B − 1)).
//!
//! # Speed
//! A block is a contiguous range of start positions, so nothing is touched
//! one request at a time except what must be. For a ratio of sums a block
//! adds prefix-sum differences: O(1) per block. For a quantile, a resample
//! is again a multiset of original ranks (as in [`super::bootstrap`]); the
//! count below a window of ranks around the Harrell-Davis weights comes
//! from a prefix count (O(1) per block), and only the positions whose rank
//! falls inside the window are visited; their counts and the weight table
//! give the HD estimate without a sort ([`HdCdf::estimate_counts`]). When
//! a resample's counts do not cover the weighted ranks (rare, the window
//! has a margin), that resample is recomputed from every position, so the
//! result is exact.

use super::blocklen::optimal_block_length;
use super::bootstrap::{RESAMPLE_TAIL, config_is_valid, resample_all};
use super::estimate::BootstrapConfig;
use super::quantile::{EXACT_TAIL, HdCdf};
use super::rng::{Batch, Xoshiro256};
use super::runs::RunStat;

/// Within-run statistic of the Harrell-Davis `p`-quantile of one run's
/// values **in start order** (TTFT, TPOT, E2E, …), with a stationary
/// bootstrap of automatically chosen mean block length (module docs).
/// Give every run its own `cfg.seed` (e.g. the policy seed mixed with the
/// run's index), so that the runs' bootstrap errors are independent.
///
/// None when there are fewer than 2 values, a value is not finite, `p` is
/// not in (0, 1), the configuration has fewer than 2 resamples or a level
/// outside (0, 1), or the estimate is not positive (its log is needed).
pub fn run_stat_quantile(
    values_in_start_order: &[f64],
    p: f64,
    cfg: &BootstrapConfig,
) -> Option<RunStat> {
    let x = values_in_start_order;
    if !valid(cfg) || x.len() < 2 || !x.iter().all(|v| v.is_finite()) {
        return None;
    }
    let mut sorted = x.to_vec();
    sorted.sort_by(f64::total_cmp);
    let point = HdCdf::new(x.len(), p, EXACT_TAIL)?.estimate_sorted(&sorted);
    if !(point > 0.0 && point.is_finite()) {
        return None;
    }
    let indicator: Vec<f64> = x.iter().map(|&v| f64::from(u8::from(v <= point))).collect();
    let b = block_length(&indicator);
    let side = QuantileSide::new(x, p, b)?;
    let blocks = StationaryBlocks::new(x.len(), b)?;
    let reps = resample_all(
        cfg,
        blocks.expected_blocks() + side.window_len(),
        || side.scratch(),
        |rng, scratch| {
            side.reset(scratch);
            blocks.fill(rng, |s, e| side.add(scratch, s, e));
            side.finish(scratch)
        },
    );
    run_stat(point, &reps, b, &indicator, cfg)
}

/// Within-run statistic of the ratio of sums Σnum/Σden of one run's
/// (num, den) pairs **in start order**: throughput (tokens, request
/// seconds), a mean (value, 1), the mean ITL (gap time, gaps). Stationary
/// bootstrap as for [`run_stat_quantile`], block length from the series
/// numᵢ − R̂·denᵢ.
///
/// None when there are fewer than 2 pairs, a value is not finite, the
/// configuration is invalid (as above), or the ratio is not positive and
/// finite, or some resample's ratio is not (e.g. every resampled request
/// produced no tokens).
pub fn run_stat_ratio(
    pairs_in_start_order: &[(f64, f64)],
    cfg: &BootstrapConfig,
) -> Option<RunStat> {
    let pairs = pairs_in_start_order;
    if !valid(cfg) || pairs.len() < 2 || !pairs.iter().all(|(a, b)| a.is_finite() && b.is_finite())
    {
        return None;
    }
    let side = RatioSide::new(pairs);
    let point = side.statistic();
    if !(point > 0.0 && point.is_finite()) {
        return None;
    }
    let linear: Vec<f64> = pairs.iter().map(|&(num, den)| num - point * den).collect();
    let b = block_length(&linear);
    let blocks = StationaryBlocks::new(pairs.len(), b)?;
    let reps = resample_all(
        cfg,
        blocks.expected_blocks(),
        || (0.0, 0.0),
        |rng, sums| {
            *sums = (0.0, 0.0);
            blocks.fill(rng, |s, e| side.add(sums, s, e));
            sums.0 / sums.1
        },
    );
    run_stat(point, &reps, b, &linear, cfg)
}

fn valid(cfg: &BootstrapConfig) -> bool {
    config_is_valid(cfg) && cfg.resamples >= 2
}

/// max(b̂_SB, 1) of the linearized series; 1 (the ordinary bootstrap) when
/// the series is constant or too short for the estimate.
pub(crate) fn block_length(linearized: &[f64]) -> f64 {
    optimal_block_length(linearized).map_or(1.0, |b| b.stationary.max(1.0))
}

fn run_stat(
    point: f64,
    reps: &[f64],
    b: f64,
    linearized: &[f64],
    cfg: &BootstrapConfig,
) -> Option<RunStat> {
    Some(RunStat {
        point,
        log_var: log_variance(reps)?,
        block_len: b,
        n: linearized.len(),
        resamples: cfg.resamples,
        var_df: variance_df(linearized, b, cfg.resamples),
    })
}

/// Degrees of freedom of a block-bootstrap variance with mean block `b`
/// of the statistic whose linearization is `linearized` (module docs: the
/// kurtosis of its batch sums, plus the Monte Carlo error of `resamples`).
pub(crate) fn variance_df(linearized: &[f64], b: f64, resamples: u32) -> f64 {
    let len = (b.ceil() as usize).clamp(1, linearized.len());
    let sums: Vec<f64> = linearized
        .chunks_exact(len)
        .map(|c| c.iter().sum::<f64>())
        .collect();
    let k = sums.len() as f64;
    let mc = 1.0 / (f64::from(resamples) - 1.0);
    if k < 2.0 {
        return 1.0 / (1.0 + mc);
    }
    let mean = sums.iter().sum::<f64>() / k;
    let (m2, m4) = sums.iter().fold((0.0, 0.0), |(m2, m4), s| {
        let d = (s - mean) * (s - mean);
        (m2 + d / k, m4 + d * d / k)
    });
    let gaussian = 2.0 / (k - 1.0);
    let rel = if m2 > 0.0 {
        let kurtosis = m4 / (m2 * m2);
        ((kurtosis - (k - 3.0) / (k - 1.0)) / k).max(gaussian)
    } else {
        gaussian
    };
    1.0 / (rel / 2.0 + mc)
}

/// Sample variance (divisor B − 1) of ln T* over the replicates; None if
/// any replicate is not positive and finite.
pub(crate) fn log_variance(reps: &[f64]) -> Option<f64> {
    if reps.len() < 2 || !reps.iter().all(|r| *r > 0.0 && r.is_finite()) {
        return None;
    }
    let logs: Vec<f64> = reps.iter().map(|r| r.ln()).collect();
    let mean = logs.iter().sum::<f64>() / logs.len() as f64;
    let ss: f64 = logs.iter().map(|l| (l - mean).powi(2)).sum();
    Some(ss / (logs.len() - 1) as f64)
}

/// The block stream of a stationary bootstrap over positions 0..len.
pub(crate) struct StationaryBlocks {
    len: usize,
    starts: Batch<1>,
    /// ln(1 − 1/b), the log of the chance that a block goes on; None for
    /// b = 1 (every block has length 1).
    ln_continue: Option<f64>,
    mean: f64,
}

impl StationaryBlocks {
    /// None for an empty sequence or a mean block length below 1 or NaN.
    pub(crate) fn new(len: usize, mean_block: f64) -> Option<Self> {
        if mean_block.is_nan() || mean_block < 1.0 {
            return None;
        }
        let starts = Batch::<1>::new(len as u64)?;
        let ln_continue = (mean_block > 1.0).then(|| (-1.0 / mean_block).ln_1p());
        Some(Self {
            len,
            starts,
            ln_continue,
            mean: mean_block,
        })
    }

    /// Blocks per resample of `len` positions, on average: the work
    /// estimate that decides on threads.
    pub(crate) fn expected_blocks(&self) -> usize {
        (self.len as f64 / self.mean).ceil() as usize
    }

    /// One block: a uniform start in 0..len and a Geometric(1/b) length
    /// (P(L = k) = (1 − 1/b)^{k−1}/b, k ≥ 1, mean b; Politis & Romano 1994
    /// §2), drawn by inversion, L = ⌈ln U / ln(1 − 1/b)⌉ with U uniform on
    /// (0, 1) (Knuth, *TAOCP* vol. 2, 3rd ed., §3.4.1). Not capped.
    #[inline]
    fn draw(&self, rng: &mut Xoshiro256) -> (usize, u64) {
        let [start] = rng.below_batch(&self.starts);
        let len = match self.ln_continue {
            None => 1,
            Some(ln_c) => {
                // 53 random bits, shifted by half a step so U is never 0 or 1.
                let u = ((rng.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64);
                // A float above u64::MAX saturates, and the caller caps it.
                ((u.ln() / ln_c).ceil() as u64).max(1)
            }
        };
        (start as usize, len)
    }

    /// One resample of exactly `len` positions: blocks until `len` are
    /// drawn, the last one cut short (Politis & Romano 1994 §2). `visit`
    /// gets each block as non-wrapping ranges [start, end).
    pub(crate) fn fill(&self, rng: &mut Xoshiro256, mut visit: impl FnMut(usize, usize)) {
        let mut left = self.len;
        while left > 0 {
            let (start, len) = self.draw(rng);
            let len = len.min(left as u64) as usize;
            left -= len;
            self.wrap(start, len, &mut visit);
        }
    }

    /// Blocks without a total, for the paired bootstrap, whose sides fill
    /// at their own pace: `visit` gets the ranges of each block, whole, and
    /// returns whether more positions are needed; the stream stops at the
    /// first false.
    pub(crate) fn until(&self, rng: &mut Xoshiro256, mut visit: impl FnMut(usize, usize) -> bool) {
        loop {
            let (start, len) = self.draw(rng);
            // A block longer than the circle would revisit positions; one
            // lap is the most that can be distinct.
            let len = len.min(self.len as u64) as usize;
            let first = len.min(self.len - start);
            if !visit(start, start + first) {
                return;
            }
            if first < len && !visit(0, len - first) {
                return;
            }
        }
    }

    /// Positions start, start + 1, … (len of them, len ≤ self.len) mod len,
    /// as at most two ranges.
    #[inline]
    fn wrap(&self, start: usize, len: usize, visit: &mut impl FnMut(usize, usize)) {
        let first = len.min(self.len - start);
        visit(start, start + first);
        if first < len {
            visit(0, len - first);
        }
    }
}

/// Σnum and Σden of a block from prefix sums.
pub(crate) struct RatioSide {
    num: Vec<f64>,
    den: Vec<f64>,
}

impl RatioSide {
    pub(crate) fn new(pairs: &[(f64, f64)]) -> Self {
        let mut num = Vec::with_capacity(pairs.len() + 1);
        let mut den = Vec::with_capacity(pairs.len() + 1);
        let (mut a, mut b) = (0.0, 0.0);
        num.push(a);
        den.push(b);
        for &(x, y) in pairs {
            a += x;
            b += y;
            num.push(a);
            den.push(b);
        }
        Self { num, den }
    }

    /// Σnum/Σden of the whole sample.
    pub(crate) fn statistic(&self) -> f64 {
        self.num[self.num.len() - 1] / self.den[self.den.len() - 1]
    }

    /// Adds positions [s, e) to the running (Σnum, Σden). The rounding
    /// error of a prefix difference is ~1e-16 of the whole sum, far below
    /// the bootstrap's spread.
    #[inline]
    pub(crate) fn add(&self, sums: &mut (f64, f64), s: usize, e: usize) {
        sums.0 += self.num[e] - self.num[s];
        sums.1 += self.den[e] - self.den[s];
    }
}

/// Binomial-like standard deviations of margin around the weighted ranks
/// (as `WINDOW_MARGIN_SD` in [`super::bootstrap`]), scaled for blocks.
const WINDOW_MARGIN_SD: f64 = 4.0;

/// The Harrell-Davis estimate of block resamples of one sample, touching
/// only the positions whose rank carries weight (module docs).
pub(crate) struct QuantileSide {
    sorted: Vec<f64>,
    /// Rank (0-based, ties in start order) of each position.
    rank: Vec<u32>,
    table: HdCdf,
    /// Window [lo, hi) of ranks whose counts are kept one by one.
    lo: usize,
    hi: usize,
    /// below[i]: positions before i whose rank is below `lo`.
    below: Vec<u32>,
    /// in_window[i]: positions before i whose rank is in [lo, hi); the
    /// slots (rank − lo) of those positions are `slots[in_window[i]..]`.
    in_window: Vec<u32>,
    slots: Vec<u32>,
}

/// Per-thread state of a [`QuantileSide`] resample.
pub(crate) struct QuantileScratch {
    counts: Vec<u32>,
    below: u64,
    ranges: Vec<(usize, usize)>,
    /// The last resample used every count (the fallback), not only the
    /// window's.
    full: bool,
}

impl QuantileSide {
    /// `values` in start order; `mean_block` the block length, which
    /// widens the window (a block of ranks below it moves the count below
    /// by more than single draws do).
    pub(crate) fn new(values: &[f64], p: f64, mean_block: f64) -> Option<Self> {
        let n = values.len();
        let table = HdCdf::new(n, p, RESAMPLE_TAIL)?;
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.sort_by(|&a, &b| values[a as usize].total_cmp(&values[b as usize]));
        let mut rank = vec![0u32; n];
        for (r, &i) in order.iter().enumerate() {
            rank[i as usize] = r as u32;
        }
        let sorted: Vec<f64> = order.iter().map(|&i| values[i as usize]).collect();
        // The count of positions below rank k in a resample of n has
        // variance k(1 − k/n) for single draws; blocks of mean b whose
        // members are all below k (the worst case) multiply it by
        // E[L²]/E[L] = 2b − 1 for geometric L.
        let (nf, inflate) = (n as f64, (2.0 * mean_block - 1.0).max(1.0));
        let margin = |k: usize| {
            let kf = k as f64;
            (WINDOW_MARGIN_SD * (kf * (1.0 - kf / nf) * inflate).max(0.0).sqrt()).ceil() as usize
                + 1
        };
        let lo = table.first().saturating_sub(margin(table.first()));
        let hi = table.end().saturating_add(margin(table.end())).min(n);
        let mut below = Vec::with_capacity(n + 1);
        let mut in_window = Vec::with_capacity(n + 1);
        let mut slots = Vec::new();
        let (mut b, mut w) = (0u32, 0u32);
        for &r in &rank {
            below.push(b);
            in_window.push(w);
            let r = r as usize;
            if r < lo {
                b += 1;
            } else if r < hi {
                w += 1;
                slots.push((r - lo) as u32);
            }
        }
        below.push(b);
        in_window.push(w);
        Some(Self {
            sorted,
            rank,
            table,
            lo,
            hi,
            below,
            in_window,
            slots,
        })
    }

    /// Ranks in the window: the per-resample work besides the blocks.
    pub(crate) fn window_len(&self) -> usize {
        self.hi - self.lo
    }

    pub(crate) fn scratch(&self) -> QuantileScratch {
        QuantileScratch {
            counts: vec![0; self.sorted.len()],
            below: 0,
            ranges: Vec::new(),
            full: false,
        }
    }

    pub(crate) fn reset(&self, s: &mut QuantileScratch) {
        if s.full {
            s.counts.fill(0);
            s.full = false;
        } else {
            s.counts[..self.hi - self.lo].fill(0);
        }
        s.below = 0;
        s.ranges.clear();
    }

    /// Adds positions [start, end) to the resample.
    #[inline]
    pub(crate) fn add(&self, s: &mut QuantileScratch, start: usize, end: usize) {
        s.below += u64::from(self.below[end] - self.below[start]);
        let (a, b) = (self.in_window[start] as usize, self.in_window[end] as usize);
        for &slot in &self.slots[a..b] {
            s.counts[slot as usize] += 1;
        }
        s.ranges.push((start, end));
    }

    /// The HD estimate of the resample built since the last reset.
    pub(crate) fn finish(&self, s: &mut QuantileScratch) -> f64 {
        let window = &s.counts[..self.hi - self.lo];
        let inside: u64 = window.iter().map(|&c| u64::from(c)).sum();
        if s.below <= self.table.first() as u64 && s.below + inside >= self.table.end() as u64 {
            return self
                .table
                .estimate_counts(&self.sorted, self.lo, s.below, window);
        }
        // Rare: the resample piles up outside the window. Count every rank.
        s.counts.fill(0);
        s.full = true;
        for &(start, end) in &s.ranges {
            for &r in &self.rank[start..end] {
                s.counts[r as usize] += 1;
            }
        }
        self.table.estimate_counts(&self.sorted, 0, 0, &s.counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::{Distribution, LogNormal, StandardNormal};

    fn cfg(resamples: u32, seed: u64) -> BootstrapConfig {
        BootstrapConfig {
            resamples,
            level: 0.95,
            seed,
        }
    }

    fn lognormal(n: usize, median: f64, sigma: f64, seed: u64) -> Vec<f64> {
        let mut rng = Xoshiro256::seed_from_u64(seed);
        let dist = LogNormal::new(median.ln(), sigma).expect("valid parameters");
        (0..n).map(|_| dist.sample(&mut rng)).collect()
    }

    /// 100 + an AR(1) series with unit innovations.
    fn ar1(phi: f64, n: usize, seed: u64) -> Vec<f64> {
        let mut rng = Xoshiro256::seed_from_u64(seed);
        let mut prev = 0.0;
        (0..n)
            .map(|_| {
                let e: f64 = StandardNormal.sample(&mut rng);
                prev = phi * prev + e;
                100.0 + prev
            })
            .collect()
    }

    #[test]
    fn blocks_have_the_mean_length_and_fill_exactly_n() {
        let blocks = StationaryBlocks::new(1_000, 5.0).expect("valid");
        let mut rng = Xoshiro256::seed_from_u64(3);
        let draws = 40_000;
        let total: u64 = (0..draws).map(|_| blocks.draw(&mut rng).1).sum();
        let mean = total as f64 / f64::from(draws);
        // Geometric(1/5): sd √20 ≈ 4.5, so the mean of 40,000 has sd 0.022.
        assert!((mean - 5.0).abs() < 0.1, "mean block {mean}");
        for seed in 0..50 {
            let mut covered = 0;
            blocks.fill(&mut Xoshiro256::seed_from_u64(seed), |s, e| {
                assert!(s < e && e <= 1_000, "range {s}..{e}");
                covered += e - s;
            });
            assert_eq!(covered, 1_000);
        }
        let ones = StationaryBlocks::new(10, 1.0).expect("valid");
        assert!((0..100).all(|_| ones.draw(&mut rng).1 == 1));
        assert!(StationaryBlocks::new(10, 0.5).is_none());
        assert!(StationaryBlocks::new(0, 2.0).is_none());
    }

    /// Every windowed resample equals the Harrell-Davis estimate of the
    /// resample built position by position and sorted, including the
    /// resamples that fall back to counting every rank: in an increasing
    /// series neighbours have neighbouring ranks, so blocks of mean 40 with
    /// a window sized for b = 1 make the fallback common.
    #[test]
    fn windowed_block_resamples_match_sorting_each_resample() {
        let mut x = lognormal(400, 50.0, 0.5, 4);
        x.sort_by(f64::total_cmp);
        let sorted = x.clone();
        for (p, window_b, block_b) in [(0.95, 1.0, 40.0), (0.5, 1.0, 40.0), (0.95, 8.0, 8.0)] {
            let side = QuantileSide::new(&x, p, window_b).expect("valid");
            let blocks = StationaryBlocks::new(x.len(), block_b).expect("valid");
            let table = HdCdf::new(x.len(), p, RESAMPLE_TAIL).expect("valid");
            let mut scratch = side.scratch();
            let mut fallbacks = 0;
            for r in 0..300 {
                let mut rng = Xoshiro256::for_stream(9, r);
                let mut positions = Vec::new();
                side.reset(&mut scratch);
                blocks.fill(&mut rng, |s, e| {
                    side.add(&mut scratch, s, e);
                    positions.extend(s..e);
                });
                let got = side.finish(&mut scratch);
                fallbacks += usize::from(scratch.full);
                let mut re: Vec<f64> = positions.iter().map(|&i| x[i]).collect();
                re.sort_by(f64::total_cmp);
                let want = table.estimate_sorted(&re);
                assert!(
                    (got - want).abs() <= 1e-9 * (sorted[399] - sorted[0]),
                    "p {p}, resample {r}: {got} vs {want}"
                );
            }
            if window_b == 1.0 {
                assert!(fallbacks > 10, "p {p}: only {fallbacks} fallbacks");
            }
        }
    }

    /// For the mean of an AR(1) series with φ = 0.5 the variance of the
    /// mean is σ²/(1 − φ)²/n = 4/n; the block bootstrap finds it, the
    /// ordinary bootstrap (b = 1) finds the marginal variance
    /// σ²/(1 − φ²)/n = 1.33/n, a third of it.
    #[test]
    fn block_variance_tracks_the_long_run_variance_of_an_ar1_mean() {
        let n = 4_000;
        let x = ar1(0.5, n, 12);
        let pairs: Vec<(f64, f64)> = x.iter().map(|&v| (v, 1.0)).collect();
        let stat = run_stat_ratio(&pairs, &cfg(2_000, 1)).expect("valid");
        let mean = stat.point;
        // log_var ≈ Var(mean)/mean² for a small relative spread.
        let want = 4.0 / n as f64 / (mean * mean);
        let ratio = stat.log_var / want;
        assert!(
            (0.75..1.25).contains(&ratio),
            "block/true {ratio}, {stat:?}"
        );
        assert!(stat.block_len > 3.0, "{stat:?}");
        let side = RatioSide::new(&pairs);
        let iid = StationaryBlocks::new(n, 1.0).expect("valid");
        let reps: Vec<f64> = (0..2_000)
            .map(|r| {
                let mut sums = (0.0, 0.0);
                iid.fill(&mut Xoshiro256::for_stream(2, r), |s, e| {
                    side.add(&mut sums, s, e)
                });
                sums.0 / sums.1
            })
            .collect();
        let iid_ratio = log_variance(&reps).expect("positive") / want;
        assert!((0.25..0.45).contains(&iid_ratio), "iid/true {iid_ratio}");
    }

    /// Independent requests: blocks of about one request, and the
    /// variance of the ordinary bootstrap. For the mean of a log-normal
    /// the target is known, Var(ln mean) ≈ (e^{σ²} − 1)/n; for the median
    /// the reference is the i.i.d. bootstrap interval of
    /// [`crate::stats::bootstrap_quantile`] (a bootstrap variance of a
    /// median is itself noisy, Hall & Martin 1988, so ±25 %).
    #[test]
    fn independent_requests_get_blocks_of_about_one_and_the_iid_variance() {
        let (n, sigma) = (2_000, 0.3);
        let x = lognormal(n, 50.0, sigma, 21);
        let c = cfg(2_000, 5);
        let pairs: Vec<(f64, f64)> = x.iter().map(|&v| (v, 1.0)).collect();
        let mean = run_stat_ratio(&pairs, &c).expect("valid");
        assert!(mean.block_len < 2.5, "{mean:?}");
        let want = (sigma * sigma).exp_m1() / n as f64;
        let ratio = mean.log_var / want;
        assert!((0.8..1.2).contains(&ratio), "mean: bootstrap/true {ratio}");
        let median = run_stat_quantile(&x, 0.5, &c).expect("valid");
        assert!(median.block_len < 2.5, "{median:?}");
        let (_, iv) = crate::stats::bootstrap_quantile(&x, 0.5, &c).expect("valid");
        let iid_se = (iv.hi.ln() - iv.lo.ln()) / (2.0 * 1.959_963_984_540_054);
        let ratio = median.log_var / (iid_se * iid_se);
        assert!((0.75..1.25).contains(&ratio), "median: block/iid {ratio}");
        assert_eq!((median.n, median.resamples), (n, 2_000));
    }

    #[test]
    fn same_seed_gives_identical_run_stats() {
        let x = lognormal(300, 50.0, 0.4, 7);
        let a = run_stat_quantile(&x, 0.95, &cfg(300, 1));
        assert!(a.is_some());
        assert_eq!(a, run_stat_quantile(&x, 0.95, &cfg(300, 1)));
        assert_ne!(a, run_stat_quantile(&x, 0.95, &cfg(300, 2)));
    }

    #[test]
    fn invalid_inputs_give_none() {
        let ok = [1.0, 2.0, 3.0, 4.0];
        let c = cfg(100, 1);
        assert!(run_stat_quantile(&[1.0], 0.5, &c).is_none());
        assert!(run_stat_quantile(&[1.0, f64::NAN, 2.0], 0.5, &c).is_none());
        assert!(run_stat_quantile(&ok, 1.0, &c).is_none());
        assert!(run_stat_quantile(&ok, 0.5, &cfg(1, 1)).is_none());
        assert!(run_stat_quantile(&[-2.0, -1.0, -3.0], 0.5, &c).is_none());
        assert!(run_stat_ratio(&[(1.0, 0.0), (1.0, 0.0)], &c).is_none());
        assert!(run_stat_ratio(&[(0.0, 1.0), (0.0, 1.0)], &c).is_none());
        assert!(run_stat_ratio(&[(1.0, 1.0)], &c).is_none());
    }
}
