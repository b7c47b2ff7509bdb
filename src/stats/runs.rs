//! The between-run stage of the noise model and the comparison it feeds:
//! candidate runs against baseline runs on the log scale, a two-stage
//! model of runs, then blocks of requests within runs (Davison & Hinkley
//! 1997, *Bootstrap Methods and their Application*, §3.8, "hierarchical
//! data"; Kalibera & Jones 2013, "Rigorous benchmarking in reasonable
//! time", ISMM, §3–4: variance at each level of repetition).
//!
//! # The model
//! Run k of a side gives a log statistic T_k = μ + u_k + e_k: u_k the run
//! effect (host, placement, warm state), Var u = τ², shared by every
//! request of the run; e_k the within-run error, Var e_k = v_k, estimated
//! by the block bootstrap ([`super::block_bootstrap`], `RunStat::log_var`).
//! With R candidate and K baseline runs,
//! δ̂ = mean(T_cand) − mean(T_base) and
//! Var δ̂ = (τ² + v̄_c)/R + (τ² + v̄_b)/K, v̄ the mean within-run variance
//! of a side (the variance of an unweighted mean of independent terms).
//! A single candidate run still carries τ²: its run-level variance comes
//! from the baseline's spread (or a calibration), which is what makes a
//! sequential A/A comparison honest.
//!
//! # τ²
//! From a calibration when one is given ([`BetweenSource::Calibration`]);
//! else, when some side has ≥ 2 runs, from the runs: the method-of-moments
//! random-effects estimate (DerSimonian & Laird 1986, "Meta-analysis in
//! clinical trials", *Controlled Clinical Trials* 7(3)) in its general
//! form for arbitrary weights (DerSimonian & Kacker 2007, *Contemporary
//! Clinical Trials* 28(2), eq. 6) with equal weights, because δ̂ weights
//! runs equally: E[s²] = τ² + v̄ for the sample variance s² of a side's
//! T_k, so τ̂² = max(0, s² − v̄). Both sides share τ² (the same setup
//! measured twice), so the sides' moments are pooled with their degrees of
//! freedom as in a subgroup analysis with a common τ² (Borenstein, Hedges,
//! Higgins & Rothstein 2009, *Introduction to Meta-Analysis*, ch. 19):
//! τ̂² = max(0, Σ(K_s − 1)(s²_s − v̄_s) / Σ(K_s − 1)), with
//! ν_τ = Σ(K_s − 1) degrees of freedom. Equal weights rather than DL's
//! 1/v_k also keep one run with a small bootstrap variance from deciding
//! the estimate; for tail quantiles τ² ≫ v_k and the two nearly agree.
//! With one run per side and no calibration τ² is **unknown**: the
//! interval then has the within-run variances only and says so
//! ([`BetweenNoise::Unknown`]); it must not fail a rule on a tail quantile.
//!
//! # The interval
//! A Student-t interval δ̂ ± t_{ν, (1+level)/2}·SE, SE² = Var δ̂, with
//! Welch–Satterthwaite degrees of freedom (Satterthwaite 1946,
//! "An approximate distribution of estimates of variance components",
//! *Biometrics Bulletin* 2(6), eq. 3: ν = (Σ aⱼsⱼ)² / Σ (aⱼsⱼ)²/νⱼ for a
//! linear combination of independent variance estimates sⱼ with νⱼ degrees
//! of freedom). The terms are τ̂² (a = 1/R + 1/K; its variance is that of
//! the run spread it comes from, 2(τ̂² + v̄)²/ν_τ, since τ̂² + v̄ is a
//! χ²-like estimate with ν_τ degrees of freedom) and each run's v_k (a =
//! 1/R² or 1/K², ν_k = [`RunStat::var_df`]). Everything is reported as a
//! ratio exp(·): the point exp(δ̂), the interval, and the minimum
//! detectable effect at the given power, Bloom (1995), *Evaluation
//! Review* 19(5): MDE = (t_{ν,(1+level)/2} + t_{ν,power})·SE on the log
//! scale (t rather than z multipliers for few degrees of freedom, Bloom
//! 1995 §2), as the relative change in the worse direction.
//!
//! # Why the top stage is analytic
//! With K = 2..5 runs a side, resampling the runs (the first stage of the
//! two-stage bootstrap) is badly too narrow: the bootstrap distribution of
//! a mean of K values has variance (K − 1)/K · s²/K and nearly normal
//! tails, where the honest reference is s²/K with t_{K−1} tails
//! (t_{2; 0.975} = 4.30 against z = 1.96). At K = 3 the percentile
//! interval of a difference of two such means covers far less than its
//! nominal level (the unit test `resampling_few_runs_undercovers_where_t_holds`
//! measures both). So the run level is analytic — the moments of the runs
//! with a t reference — and only the request level, where n is in the
//! hundreds, is resampled.

//!
//! # Calling it from the gate
//! For a relative rule, per run (each candidate run, each baseline run —
//! not pooled): take the rule's per-request series **in start order** (a
//! bundle's `samples` are in completion order: sort by `start_us`), and
//! call [`super::run_stat_quantile`] (values) or [`super::run_stat_ratio`]
//! ((num, den) pairs: throughput, means) with a seed per run. Then
//! [`compare_runs`]`(cand, base, calibration, dir, confidence, 0.8)`, where
//! `calibration` is a stored [`BetweenRun`] for this metric (a calibrate
//! command builds it with [`between_run_variance`] over its A/A runs and
//! marks it [`BetweenSource::Calibration`]). Its `point`, `interval`,
//! `p_worse` (into Benjamini–Hochberg as today) and `mde` replace the
//! i.i.d. ones. What [`NoiseComparison::between`] allows is the gate's
//! call; the simulations in `noise_tests` suggest: with
//! [`BetweenNoise::Unknown`] neither fail nor pass a tail quantile
//! (inconclusive, with its MDE, "run `--repeat` or calibrate"), and treat
//! a fail of any other relative rule with the same caution, since an
//! unmodelled run effect of 10 % made one-run-a-side intervals of the
//! median and of throughput false-alarm in 19 % and 33 % of A/A pairs.

use serde::{Deserialize, Serialize};

use super::dist::{student_t_cdf, student_t_quantile};
use super::estimate::{Direction, Interval, in_open_unit};

/// One run's statistic from the within-run block bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RunStat {
    /// The statistic on the run's requests (positive).
    pub point: f64,
    /// Bootstrap variance of ln(statistic).
    pub log_var: f64,
    /// Mean block length of the stationary bootstrap (≥ 1).
    pub block_len: f64,
    /// Requests (values or pairs) in the run.
    pub n: usize,
    /// Bootstrap resamples behind `log_var`.
    pub resamples: u32,
    /// Degrees of freedom of `log_var` as a variance estimate: about n/b
    /// for Gaussian data, as few as 1–2 when a tail is decided by a couple
    /// of stalls (block_bootstrap module docs).
    pub var_df: f64,
}

impl RunStat {
    fn is_valid(&self) -> bool {
        self.point > 0.0
            && self.point.is_finite()
            && self.log_var >= 0.0
            && self.log_var.is_finite()
            && self.block_len >= 1.0
            && self.n > 0
            && self.resamples >= 2
            && self.var_df > 0.0
    }
}

/// Where a between-run variance came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BetweenSource {
    /// A stored calibration (A/A runs measured for the purpose).
    Calibration,
    /// The runs being compared (some side has ≥ 2 runs).
    Runs,
    /// Not measured: a policy's assumed between-run coefficient of
    /// variation (the gate's `unmeasured_run_cv`), used for the median,
    /// means and throughput when one run a side and no calibration leave
    /// τ² unknown. Treated as known exactly (a large `df`).
    Assumed,
}

/// The between-run variance τ² of a log statistic, with its uncertainty.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BetweenRun {
    /// τ², the variance of the run effect on ln(statistic).
    pub tau2: f64,
    /// Degrees of freedom of the run spread behind it (Σ(runs − 1)).
    pub df: f64,
    /// Mean within-run variance v̄ of the runs it came from: τ̂² + v̄ is
    /// the χ²-like spread estimate, so Var τ̂² ≈ 2(τ̂² + v̄)²/df.
    pub within: f64,
    pub source: BetweenSource,
}

impl BetweenRun {
    fn is_valid(&self) -> bool {
        self.tau2 >= 0.0
            && self.tau2.is_finite()
            && self.df > 0.0
            && self.within >= 0.0
            && self.within.is_finite()
    }

    /// Var(τ̂²)/2: the term of the Satterthwaite denominator per unit
    /// squared coefficient.
    fn half_var(&self) -> f64 {
        (self.tau2 + self.within).powi(2) / self.df
    }
}

/// What the comparison knows about noise between runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BetweenNoise {
    /// One run per side and no calibration: the interval holds only the
    /// within-run noise. A gate must not fail a tail quantile on it.
    Unknown,
    /// τ² estimated (from runs or a calibration) and in the interval.
    Known(BetweenRun),
    /// Both sides measured in the same window (paired A/B): a run effect
    /// common to both cancels in the ratio.
    SharedWindow,
}

impl BetweenNoise {
    /// Whether the interval accounts for run-to-run noise.
    pub fn is_known(&self) -> bool {
        !matches!(self, BetweenNoise::Unknown)
    }
}

/// The parts of Var δ̂ on the log scale (they sum to `se_log²`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct VarianceComponents {
    /// τ²·(1/R + 1/K); 0 when τ² is unknown or cancels.
    pub between: f64,
    /// v̄_c/R (paired: the bootstrap variance of ln θ_B* alone).
    pub within_candidate: f64,
    /// v̄_b/K (paired: of ln θ_A* alone).
    pub within_baseline: f64,
    /// −2·Cov(ln θ_B*, ln θ_A*): the noise common to both sides that the
    /// paired design cancels (negative); 0 for separate runs.
    pub shared: f64,
}

/// A candidate/baseline ratio under the noise model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoiseComparison {
    /// exp(δ̂): geometric mean of the candidate runs' statistics over the
    /// baseline runs' (the plain ratio with one run a side).
    pub point: f64,
    /// exp(δ̂ ± t·SE), two-sided at the requested level.
    pub interval: Interval,
    /// One-sided p-value of "candidate worse" in the rule's direction:
    /// P(T_ν ≥ δ̂/SE) when higher is worse, P(T_ν ≤ δ̂/SE) when lower is.
    pub p_worse: f64,
    /// Bloom's minimum detectable relative change in the worse direction
    /// at the requested power: e^M − 1 (higher is worse) or 1 − e^{−M}.
    pub mde: f64,
    /// Welch–Satterthwaite degrees of freedom of the t reference.
    pub df: f64,
    /// SE of δ̂ on the log scale.
    pub se_log: f64,
    pub components: VarianceComponents,
    pub between: BetweenNoise,
    /// Runs per side (1 each for a paired comparison).
    pub candidate_runs: usize,
    pub baseline_runs: usize,
}

/// τ² from groups of runs of one setup (e.g. the candidate's and the
/// baseline's runs, or a calibration's A/A runs as one group): the pooled
/// equal-weight moment estimate of the module docs. Groups with one run add
/// nothing. None when no group has 2 runs or a run is invalid.
pub fn between_run_variance(groups: &[&[RunStat]]) -> Option<BetweenRun> {
    let (mut df, mut spread, mut within) = (0.0, 0.0, 0.0);
    for runs in groups {
        if !runs.iter().all(RunStat::is_valid) {
            return None;
        }
        if runs.len() < 2 {
            continue;
        }
        let k = runs.len() as f64;
        let logs: Vec<f64> = runs.iter().map(|r| r.point.ln()).collect();
        let mean = logs.iter().sum::<f64>() / k;
        let s2 = logs.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / (k - 1.0);
        let v_bar = runs.iter().map(|r| r.log_var).sum::<f64>() / k;
        df += k - 1.0;
        spread += (k - 1.0) * s2;
        within += (k - 1.0) * v_bar;
    }
    (df > 0.0).then(|| BetweenRun {
        tau2: ((spread - within) / df).max(0.0),
        df,
        within: within / df,
        source: BetweenSource::Runs,
    })
}

/// Candidate runs against baseline runs under the two-stage noise model
/// (module docs). `external`: a calibration's τ², used instead of the
/// runs' own estimate when given. `level`: two-sided interval level;
/// `power`: for the MDE (0.8 is customary).
///
/// None when a side is empty, a run or `external` is invalid, `level` or
/// `power` is outside (0, 1), or the variance is 0 (identical values).
pub fn compare_runs(
    cand: &[RunStat],
    base: &[RunStat],
    external: Option<BetweenRun>,
    dir: Direction,
    level: f64,
    power: f64,
) -> Option<NoiseComparison> {
    if cand.is_empty()
        || base.is_empty()
        || !cand.iter().chain(base).all(RunStat::is_valid)
        || external.is_some_and(|e| !e.is_valid())
    {
        return None;
    }
    let between = match external {
        Some(e) => Some(e),
        None => between_run_variance(&[cand, base]),
    };
    let (r, k) = (cand.len() as f64, base.len() as f64);
    let mean_log =
        |runs: &[RunStat]| runs.iter().map(|s| s.point.ln()).sum::<f64>() / runs.len() as f64;
    let delta = mean_log(cand) - mean_log(base);
    // Σ v_k / R² is v̄/R; each v_k is its own Satterthwaite term.
    let within = |runs: &[RunStat], count: f64| {
        let var = runs.iter().map(|s| s.log_var).sum::<f64>() / (count * count);
        let half_var: f64 = runs
            .iter()
            .map(|s| (s.log_var / (count * count)).powi(2) / s.var_df)
            .sum();
        (var, half_var)
    };
    let (within_c, half_c) = within(cand, r);
    let (within_b, half_b) = within(base, k);
    let (between_var, half_between) = between.map_or((0.0, 0.0), |b| {
        let a = 1.0 / r + 1.0 / k;
        (a * b.tau2, a * a * b.half_var())
    });
    let var = between_var + within_c + within_b;
    // Below 1 degree of freedom (a variance dominated by the spread of a
    // couple of runs whose own bootstrap variances disagree) the t
    // reference explodes; take it as 1 (t₁, the Cauchy: still very wide).
    let df = (var * var / (half_between + half_c + half_b)).max(1.0);
    let components = VarianceComponents {
        between: between_var,
        within_candidate: within_c,
        within_baseline: within_b,
        shared: 0.0,
    };
    let noise = between.map_or(BetweenNoise::Unknown, BetweenNoise::Known);
    let mut out = log_scale_comparison(delta, var, df, dir, level, power, components, noise)?;
    out.candidate_runs = cand.len();
    out.baseline_runs = base.len();
    Some(out)
}

/// The interval, p-value and MDE of a log-scale difference δ̂ with
/// variance `var` and `df` degrees of freedom (∞ allowed), as ratios.
#[expect(
    clippy::too_many_arguments,
    reason = "the shared tail of compare_runs and the paired comparison"
)]
pub(crate) fn log_scale_comparison(
    delta: f64,
    var: f64,
    df: f64,
    dir: Direction,
    level: f64,
    power: f64,
    components: VarianceComponents,
    between: BetweenNoise,
) -> Option<NoiseComparison> {
    if !in_open_unit(level) || !in_open_unit(power) || !delta.is_finite() {
        return None;
    }
    if !(var > 0.0 && var.is_finite()) {
        return None;
    }
    // 0/0 cannot happen (var > 0); an infinite df is the normal limit.
    let df = if df.is_nan() { f64::INFINITY } else { df };
    let se = var.sqrt();
    let t_level = student_t_quantile((1.0 + level) / 2.0, df);
    let t_power = student_t_quantile(power, df);
    let z = delta / se;
    let p_worse = match dir {
        Direction::HigherIsWorse => student_t_cdf(-z, df),
        Direction::LowerIsWorse => student_t_cdf(z, df),
    };
    let m = (t_level + t_power) * se;
    let mde = match dir {
        Direction::HigherIsWorse => m.exp_m1(),
        Direction::LowerIsWorse => -(-m).exp_m1(),
    };
    Some(NoiseComparison {
        point: delta.exp(),
        interval: Interval {
            lo: (delta - t_level * se).exp(),
            hi: (delta + t_level * se).exp(),
        },
        p_worse,
        mde,
        df,
        se_log: se,
        components,
        between,
        candidate_runs: 1,
        baseline_runs: 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::rng::Xoshiro256;
    use rand_distr::{Distribution, Normal};

    /// A run with the Gaussian degrees of freedom 1/(b/n + 1/(B − 1)).
    fn run(point: f64, log_var: f64, block_len: f64) -> RunStat {
        RunStat {
            point,
            log_var,
            block_len,
            n: 200,
            resamples: 2000,
            var_df: 1.0 / (block_len / 200.0 + 1.0 / 1999.0),
        }
    }

    fn close(got: f64, want: f64, rel: f64) {
        assert!(
            (got - want).abs() <= rel * want.abs(),
            "got {got}, want {want}"
        );
    }

    /// Reference values from the formulas of the module docs written out
    /// independently in NumPy 2.4.6 / SciPy 1.17.1 (`scipy.stats.t.ppf`,
    /// `t.sf`; np.var(ddof=1) for the run spread).
    #[test]
    fn comparison_matches_an_independent_transcription() {
        let cand = [run(120.0, 0.004, 4.0)];
        let base = [
            run(100.0, 0.003, 3.0),
            run(110.0, 0.005, 5.0),
            run(95.0, 0.0025, 2.5),
        ];
        let hi = Direction::HigherIsWorse;
        // Three baseline runs: τ² from their spread.
        let c = compare_runs(&cand, &base, None, hi, 0.95, 0.8).expect("valid");
        let BetweenNoise::Known(b) = c.between else {
            panic!("{c:?}")
        };
        assert_eq!(b.source, BetweenSource::Runs);
        assert_eq!(b.df, 2.0);
        close(b.tau2, 0.0020346018447647807, 1e-12);
        close(c.df, 2.2521964395847447, 1e-12);
        close(c.se_log, 0.08876637384929634, 1e-12);
        close(c.point, 1.182521782171166, 1e-12);
        close(c.interval.lo, 0.8385443469961633, 1e-9);
        close(c.interval.hi, 1.6676014456700747, 1e-9);
        close(c.p_worse, 0.09255617250029546, 1e-9);
        close(c.mde, 0.5454862638885898, 1e-9);
        let parts = c.components;
        close(
            parts.between + parts.within_candidate + parts.within_baseline,
            c.se_log * c.se_log,
            1e-12,
        );
        let lower =
            compare_runs(&cand, &base, None, Direction::LowerIsWorse, 0.95, 0.8).expect("valid");
        close(lower.p_worse, 1.0 - 0.09255617250029546, 1e-9);
        close(lower.mde, 0.3529544562344376, 1e-9);
        assert_eq!(lower.interval, c.interval);

        // One run a side: within-run noise only, and it says so.
        let one = compare_runs(&cand, &base[..1], None, hi, 0.95, 0.8).expect("valid");
        assert_eq!(one.between, BetweenNoise::Unknown);
        assert!(!one.between.is_known());
        assert_eq!(one.components.between, 0.0);
        close(one.df, 104.81143230128032, 1e-12);
        close(one.interval.lo, 1.0165594627087569, 1e-9);
        close(one.interval.hi, 1.41654281212722, 1e-9);
        close(one.p_worse, 0.015779618026752082, 1e-9);
        close(one.mde, 0.2669353090558667, 1e-9);

        // The same with a calibration: τ² = 0.01 with 4 df.
        let cal = BetweenRun {
            tau2: 0.01,
            df: 4.0,
            within: 0.003,
            source: BetweenSource::Calibration,
        };
        let c = compare_runs(&cand, &base[..1], Some(cal), hi, 0.95, 0.8).expect("valid");
        assert_eq!(c.between, BetweenNoise::Known(cal));
        close(c.df, 4.301709608632128, 1e-12);
        close(c.interval.lo, 0.7698585013674424, 1e-9);
        close(c.interval.hi, 1.8704735966963193, 1e-9);
        close(c.p_worse, 0.16266290558441304, 1e-9);
        close(c.mde, 0.8170913411118268, 1e-9);
    }

    #[test]
    fn runs_that_agree_better_than_their_bootstrap_says_give_tau2_zero() {
        let runs = [
            run(100.0, 0.01, 2.0),
            run(100.5, 0.01, 2.0),
            run(99.8, 0.01, 2.0),
        ];
        let b = between_run_variance(&[&runs]).expect("three runs");
        assert_eq!(b.tau2, 0.0);
        assert_eq!(b.df, 2.0);
        // A single run per group has no spread to measure.
        assert!(between_run_variance(&[&runs[..1], &runs[1..2]]).is_none());
    }

    #[test]
    fn invalid_inputs_give_none() {
        let ok = [run(100.0, 0.001, 1.0)];
        let hi = Direction::HigherIsWorse;
        assert!(compare_runs(&[], &ok, None, hi, 0.95, 0.8).is_none());
        assert!(compare_runs(&ok, &ok, None, hi, 1.0, 0.8).is_none());
        assert!(compare_runs(&ok, &ok, None, hi, 0.95, 0.0).is_none());
        assert!(compare_runs(&[run(-1.0, 0.001, 1.0)], &ok, None, hi, 0.95, 0.8).is_none());
        assert!(compare_runs(&[run(1.0, f64::NAN, 1.0)], &ok, None, hi, 0.95, 0.8).is_none());
        let bad = BetweenRun {
            tau2: -0.1,
            df: 3.0,
            within: 0.0,
            source: BetweenSource::Calibration,
        };
        assert!(compare_runs(&ok, &ok, Some(bad), hi, 0.95, 0.8).is_none());
        // Zero variance everywhere: no interval to give.
        let exact = [run(100.0, 0.0, 1.0)];
        assert!(compare_runs(&exact, &exact, None, hi, 0.95, 0.8).is_none());
    }

    /// The module docs' argument for an analytic top stage, measured: three
    /// runs a side, a run effect of sd 0.1 on the log scale, within-run
    /// noise negligible, no true change. The t interval of `compare_runs`
    /// covers the truth at its nominal 95 %; the percentile bootstrap that
    /// resamples the three runs of each side covers far less.
    #[test]
    fn resampling_few_runs_undercovers_where_t_holds() {
        let trials = 1_000;
        let reps = 500;
        let effect = Normal::<f64>::new(0.0, 0.1).expect("valid sd");
        let (mut t_cover, mut boot_cover) = (0, 0);
        for trial in 0..trials {
            let mut rng = Xoshiro256::for_stream(77, trial);
            let mut side = || -> Vec<RunStat> {
                (0..3)
                    .map(|_| run(100.0 * effect.sample(&mut rng).exp(), 1e-6, 1.0))
                    .collect()
            };
            let (cand, base) = (side(), side());
            let c = compare_runs(&cand, &base, None, Direction::HigherIsWorse, 0.95, 0.8)
                .expect("valid");
            t_cover += usize::from(c.interval.contains(1.0));
            // First-stage bootstrap: runs drawn with replacement per side.
            let logs = |s: &[RunStat]| s.iter().map(|r| r.point.ln()).collect::<Vec<_>>();
            let (lc, lb) = (logs(&cand), logs(&base));
            let mut boot_rng = Xoshiro256::for_stream(78, trial);
            let mut draws: Vec<f64> = (0..reps)
                .map(|_| {
                    let mut mean = |v: &[f64]| {
                        (0..3).map(|_| v[boot_rng.below(3) as usize]).sum::<f64>() / 3.0
                    };
                    mean(&lc) - mean(&lb)
                })
                .collect();
            draws.sort_by(f64::total_cmp);
            let lo = crate::stats::quantile_type7(&draws, 0.025).expect("non-empty");
            let hi = crate::stats::quantile_type7(&draws, 0.975).expect("non-empty");
            boot_cover += usize::from(lo <= 0.0 && 0.0 <= hi);
        }
        println!(
            "K = R = 3: t interval covers {t_cover}/{trials}, run bootstrap {boot_cover}/{trials}"
        );
        assert!(
            (930..=970).contains(&t_cover),
            "t covers {t_cover}/{trials}"
        );
        assert!(
            boot_cover < 880,
            "run bootstrap covers {boot_cover}/{trials}"
        );
    }
}
