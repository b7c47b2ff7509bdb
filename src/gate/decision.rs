//! What the evaluation of one rule decided, as facts: the test, the
//! estimate and its interval, the limit, the adjusted p-value and alpha,
//! the counts, why a rule is inconclusive or skipped. The rule's verdict
//! follows from it ([`Decision::verdict`]) and its explanation is written
//! from it by [`crate::wording::explain`], the one place the gate's
//! sentences are worded. It is serialized into the JSON verdict
//! (`rules[].decision`, tagged by `kind`) for approval tooling.
//!
//! Adding a kind of decision: a variant here with the facts it rests on,
//! its verdict in [`Decision::verdict`] and its sentence in
//! `wording::decision`; the compiler points at every other `match`.

use schemars::JsonSchema;
use serde::Serialize;

use super::file::SweepValue;
use super::report::Verdict;
use crate::stats::Interval;

/// The decision behind one rule's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Decision {
    /// The candidate bundle is incomplete (an interrupted run): every rule
    /// is inconclusive.
    IncompleteBundle,
    /// The candidate run is invalid (`context.validity.problems`): no rule
    /// is judged, the gate's verdict is invalid.
    InvalidRun,
    /// A tail quantile against a baseline with run-to-run noise unmeasured
    /// (one run a side, no calibration): never failed, never passed.
    NoiseUnmeasured(Unmeasured),
    /// The rule could not be evaluated.
    Skipped { reason: SkipReason },
    /// Fewer values than the policy's `min_requests`: inconclusive, never a pass.
    TooFewSamples(TooFew),
    /// The values gave no estimate: inconclusive.
    NoEstimate { reason: NoEstimate },
    /// A change against the baseline runs: a ratio, or a difference of
    /// error rates, judged with its interval and the Benjamini-Hochberg
    /// adjusted p-value.
    Relative(Relative),
    /// An absolute limit on the candidate's value, judged with its interval.
    Absolute(Absolute),
    /// An error rate against a ceiling, with exact binomial bounds.
    RateCeiling(Binomial),
    /// The goodput share against a floor, with exact binomial bounds.
    RateFloor(Binomial),
    /// A value the bundle computed itself (cost, quality, a server
    /// latency), compared as a point: there are no per-request values.
    Point(PointValue),
    /// A sweep value against the baseline sweeps', across both grids.
    SweepChange(SweepChange),
    /// A sweep value against a minimum, across the sweep's grid.
    SweepMinimum(SweepMinimum),
}

impl Decision {
    /// The statistical verdict this decision stands for.
    pub fn verdict(&self) -> Verdict {
        match self {
            Decision::IncompleteBundle
            | Decision::TooFewSamples(_)
            | Decision::NoEstimate { .. }
            | Decision::NoiseUnmeasured(_) => Verdict::Inconclusive,
            Decision::InvalidRun => Verdict::Invalid,
            Decision::Skipped { .. } => Verdict::Skipped,
            Decision::Relative(d) => d.finding.verdict(),
            Decision::Absolute(d) => d.finding.verdict(),
            Decision::RateCeiling(d) | Decision::RateFloor(d) => d.finding.verdict(),
            Decision::Point(d) => d.finding.verdict(),
            Decision::SweepChange(d) => d.finding.verdict(),
            Decision::SweepMinimum(d) => d.finding.verdict(),
        }
    }

    /// Requests per side that would likely settle an inconclusive verdict
    /// (for too few samples: the policy minimum).
    pub fn requests_to_settle(&self) -> Option<u64> {
        match self {
            Decision::TooFewSamples(t) => Some(t.min),
            Decision::Relative(d) => d.requests_to_settle,
            Decision::Absolute(d) => d.requests_to_settle,
            Decision::RateCeiling(d) | Decision::RateFloor(d) => d.requests_to_settle,
            _ => None,
        }
    }

    /// The Benjamini-Hochberg adjusted p-value, for baseline comparisons.
    pub fn p_adjusted(&self) -> Option<f64> {
        match self {
            Decision::Relative(d) => Some(d.p_adjusted),
            _ => None,
        }
    }
}

/// Where an estimate lies relative to its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// Within the limit (the whole interval, where there is one): pass.
    Within,
    /// Past the limit, decisively: fail.
    Past,
    /// The point is past the limit but the evidence does not show it (the
    /// adjusted p-value is not below alpha, or the exact bound is within
    /// the limit): inconclusive.
    PointPast,
    /// The interval (or the sweep's grid) reaches both sides of the limit:
    /// inconclusive.
    Straddles,
}

impl Finding {
    pub fn verdict(self) -> Verdict {
        match self {
            Finding::Within => Verdict::Pass,
            Finding::Past => Verdict::Fail,
            Finding::PointPast | Finding::Straddles => Verdict::Inconclusive,
        }
    }
}

/// Which side of the limit is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// The value may not exceed the limit (`max`, `max_increase`).
    Max,
    /// The value may not fall below the limit (`min`, `max_decrease`).
    Min,
}

impl Bound {
    pub fn from_higher_is_worse(higher_is_worse: bool) -> Bound {
        if higher_is_worse {
            Bound::Max
        } else {
            Bound::Min
        }
    }
}

/// The estimate and test a rule rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Test {
    /// A Harrell-Davis quantile with a bootstrap percentile interval
    /// (two-sample for a ratio, with the p-value from the resamples).
    QuantileBootstrap,
    /// A mean as a ratio of sums over requests, bootstrapped by request.
    MeanBootstrap,
    /// The measured throughput, with the relative uncertainty of the
    /// bootstrapped Σtokens/Σtime scaled onto it.
    ThroughputBootstrap,
    /// A difference of two error rates: Fisher's exact test, the interval
    /// from the two Clopper-Pearson intervals.
    FisherExact,
    /// Candidate runs against baseline runs under the two-stage noise
    /// model (`stats::compare_runs`): a block bootstrap within each run,
    /// the between-run variance from the runs, a calibration or the policy.
    RunNoiseModel,
    /// A Harrell-Davis quantile of one bundle with a stationary block
    /// bootstrap interval over its requests in start order
    /// (`stats::run_stat_quantile`), so a stall shared by in-flight
    /// requests counts as one event.
    BlockQuantileBootstrap,
}

/// Where the between-run variance of a [`Test::RunNoiseModel`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoiseSource {
    /// The baseline set's calibration (A/A runs measured for it).
    Calibration,
    /// The compared runs (some side has ≥ 2 runs).
    Runs,
    /// Unmeasured: the policy's `unmeasured_run_cv`.
    Assumed,
    /// Baseline and candidate shared one time window (`ab`): a run effect
    /// common to both cancels.
    SharedWindow,
}

/// The run-to-run noise a relative rule was judged under.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct RunNoise {
    pub source: NoiseSource,
    /// Between-run coefficient of variation of the statistic,
    /// √(exp(τ²) − 1) (log-normal run effects).
    pub between_cv: f64,
    /// The CV the runs or the calibration showed, when it was below the
    /// policy's `min_run_cv` and `between_cv` is that floor instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floored_from: Option<f64>,
    pub candidate_runs: usize,
    pub baseline_runs: usize,
}

/// A tail-quantile ratio with run-to-run noise unmeasured.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Unmeasured {
    /// candidate / baseline.
    pub point: f64,
    /// The interval from within-run noise alone: too narrow by the unknown
    /// run-to-run spread, shown for orientation only.
    pub within_run_interval: Interval,
    /// The limit as a ratio.
    pub limit: f64,
    pub bound: Bound,
    pub level: f64,
}

/// Caveats a sentence adds to its numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Caveat {
    /// ITL gaps were resampled with an effective sample size of one per
    /// request (see `gate::data`).
    ItlGapsPerRequest,
}

/// Why a rule was skipped.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SkipReason {
    /// The run was not streamed and the metric exists only for streamed responses.
    NotStreamed,
    /// There is no comparable baseline; `reason` is baseline resolution's.
    NoBaseline { reason: Option<String> },
    /// The workload has no pricing block (no cost).
    NoPricing,
    /// The workload has no quality checks (no pass rate).
    NoQualityChecks,
    /// The workload has no SLO block (no goodput).
    NoSlo,
    /// The endpoint exposed no such server metric.
    NoServerMetric,
    /// The bundle was not written by a sweep.
    NotASweep,
    /// The sweep did not find the value (e.g. no safe point without a knee).
    SweepLacks { value: SweepValue },
    /// None of the baseline runs is a sweep with the value.
    BaselineNotSweeps { value: SweepValue },
    /// The baseline's value is zero, so a relative change has no meaning.
    BaselineZero,
    /// The limit does not apply to sweep values (a parser bug, reported).
    LimitNotForSweeps { limit: String },
}

/// What was counted when there were too few.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Counted {
    SuccessfulRequests,
    TtfbValues,
    RequestsWithGaps,
    RequestsWithDecodeRate,
    RequestsAttempted,
    Requests,
}

/// Too few values for the policy's `min_requests`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct TooFew {
    pub counted: Counted,
    /// `true` when the pooled baseline runs had too few, not the candidate.
    pub baseline: bool,
    pub n: u64,
    pub min: u64,
    /// The tool whose summary that side was imported from (`tokengate
    /// import` of a summary-only file, `context.imported.per_request`
    /// false): it holds no per-request values at all, so no number of
    /// requests would settle the rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary_of: Option<String>,
}

/// Why there is no estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoEstimate {
    /// The samples are empty or all alike in a way the bootstrap cannot use.
    DegenerateSamples,
    /// The requests carry no time to divide by.
    NoRequestTime,
    /// The baseline runs measured no throughput.
    NoBaselineThroughput,
}

/// A change against the baseline runs.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Relative {
    pub test: Test,
    /// candidate / baseline; for [`Test::FisherExact`] candidate − baseline
    /// (fractions).
    pub point: f64,
    pub interval: Interval,
    /// The limit on the scale of `point` (`1.15` for `max_increase: 15%`,
    /// `0.005` for `max_increase: 0.5pp`).
    pub limit: f64,
    pub bound: Bound,
    /// Confidence level of `interval`.
    pub level: f64,
    /// Benjamini-Hochberg adjusted one-sided p-value of "worse than
    /// baseline", and the alpha it is compared with.
    pub p_adjusted: f64,
    pub alpha: f64,
    pub finding: Finding,
    pub requests_to_settle: Option<u64>,
    pub caveats: Vec<Caveat>,
    /// Minimum detectable relative change in the worse direction at 80 %
    /// power (Bloom 1995), for ratio rules under the noise model.
    pub mde: Option<f64>,
    /// The run-to-run noise the interval includes (ratio rules).
    pub noise: Option<RunNoise>,
}

impl Relative {
    /// The rule's limit is a smaller change than this setup can detect.
    pub fn limit_below_mde(&self) -> bool {
        let limit_change = (self.limit - 1.0).abs();
        !self.is_difference() && self.mde.is_some_and(|m| limit_change < m)
    }

    /// A difference of rates (percentage points) rather than a ratio.
    pub fn is_difference(&self) -> bool {
        self.test == Test::FisherExact
    }
}

/// An absolute limit on the candidate's value.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Absolute {
    pub test: Test,
    /// The value, in the metric's unit.
    pub point: f64,
    pub interval: Interval,
    pub limit: f64,
    pub bound: Bound,
    pub level: f64,
    pub finding: Finding,
    pub requests_to_settle: Option<u64>,
    pub caveats: Vec<Caveat>,
}

/// A binomial share against a ceiling or floor: exact (Clopper-Pearson)
/// bounds.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Binomial {
    /// The observed share k / n (for goodput, the bundle's own share).
    pub observed: f64,
    /// Requests counted, of `n` (for goodput, round(observed · n)).
    pub k: u64,
    pub n: u64,
    /// Clopper-Pearson interval at `level`.
    pub interval: Interval,
    pub level: f64,
    pub limit: f64,
    pub finding: Finding,
    pub requests_to_settle: Option<u64>,
}

/// A point comparison of a value the bundle computed.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct PointValue {
    pub value: f64,
    pub limit: f64,
    pub bound: Bound,
    pub finding: Finding,
}

/// Where a sweep value lies on the sweep's grid: a point, and the bracket
/// between measured levels the true value lies in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, JsonSchema)]
pub struct GridValue {
    pub point: f64,
    pub lo: f64,
    /// `None` when unbounded: no knee in the measured range.
    pub hi: Option<f64>,
}

/// A sweep value against the baseline sweeps' (median of the runs).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SweepChange {
    pub candidate: GridValue,
    pub baseline: GridValue,
    /// candidate.point / baseline.point.
    pub ratio: f64,
    /// The limit as a ratio (`0.9` for `max_decrease: 10%`).
    pub limit: f64,
    /// Within the limit across both grids / past it even at their most
    /// favourable ends / neither.
    pub finding: Finding,
}

/// A sweep value against a minimum.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SweepMinimum {
    pub value: GridValue,
    pub limit: f64,
    pub finding: Finding,
}
