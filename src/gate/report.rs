//! The gate's result: [`GateReport`], per-rule [`RuleResult`]s and the
//! overall verdict. It is also the JSON verdict approval tooling reads, so
//! field names are stable (add freely, never rename).

use schemars::JsonSchema;
use serde::Serialize;

use super::decision::Decision;
use super::file::{InconclusivePolicy, Policy, Severity};
use super::waiver::{Date, WaiverKey};
use crate::bundle::BundleKey;
use crate::exit_code;
use crate::stats::Interval;

/// Statistical verdict of one rule, and the overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The whole interval is within the limit.
    Pass,
    /// Beyond the limit and (for baseline comparisons) significantly worse.
    Fail,
    /// The interval straddles the limit, or there are too few requests.
    Inconclusive,
    /// Could not be evaluated (no comparable baseline, metric absent).
    Skipped,
    /// The candidate run is invalid (its `context.validity.problems`): the
    /// client, not the server, limited the measurement, or the window was
    /// cut; no rule is judged. Exit [`exit_code::INVALID`].
    Invalid,
    /// The gate has relative rules and every one was skipped for lack of a
    /// comparable baseline: nothing was compared, so this is not a pass.
    /// Exit policy as for inconclusive.
    Ungated,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Skipped => "skipped",
            Verdict::Invalid => "invalid",
            Verdict::Ungated => "ungated",
        }
    }
}

/// What a rule's verdict means for the gate after severity and waivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    /// A failure that fails the gate.
    Fail,
    /// A failure of a `severity: warn` rule: reported, does not fail the gate.
    Warn,
    /// A failure accepted by an unexpired waiver.
    Waived,
    Inconclusive,
    Skipped,
    /// Not judged: the candidate run is invalid.
    Invalid,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Warn => "warn",
            Outcome::Waived => "waived",
            Outcome::Inconclusive => "inconclusive",
            Outcome::Skipped => "skipped",
            Outcome::Invalid => "invalid",
        }
    }
}

/// Where the baseline came from. The lead's baseline resolution fills it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub struct BaselineDesc {
    /// Directory or file the baseline was read from (e.g. `baselines/…`).
    pub location: String,
    /// Git ref it was read at (e.g. `origin/main`), when read from git.
    pub git_ref: Option<String>,
    /// Commit the ref resolved to.
    pub commit: Option<String>,
    /// Key of the baseline runs.
    pub key: Option<BundleKey>,
    /// sha256 digests of the pooled baseline bundles, oldest first.
    pub run_digests: Vec<String>,
}

/// A field allowed to differ between baseline and candidate: the change under test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct KeyChange {
    /// e.g. `serving_image`, `model_version`, `engine_flags`.
    pub field: String,
    pub baseline: String,
    pub candidate: String,
}

/// The bundle being judged.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct CandidateDesc {
    pub key: BundleKey,
    /// sha256 of the bundle file.
    pub digest: String,
    pub workload: String,
    pub workload_digest: String,
    /// The endpoint as reports name it: the run's `--label` (metadata
    /// `label`), else the endpoint's host and port (`sim://NAME` for the
    /// simulator); never its path, query or credentials.
    pub label: String,
    /// False when the run was interrupted.
    pub complete: bool,
    pub incomplete_reason: Option<String>,
    /// RFC 3339 start and end of the run (used as report timestamps).
    pub started_at: String,
    pub ended_at: String,
    /// Wall time of the measurement window, seconds.
    pub window_s: f64,
    /// Requests attempted in the measurement window.
    pub requests_attempted: u64,
    /// The CI run that measured it (`context.ci_run_url`), linked from the
    /// PR report; absent outside CI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_run_url: Option<String>,
}

/// What the estimate of a rule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EstimateKind {
    /// candidate / baseline.
    Ratio,
    /// candidate − baseline (rates, as fractions).
    Difference,
    /// The candidate's own value (absolute limits).
    Value,
}

/// The estimate a verdict rests on, with its interval.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Estimate {
    pub kind: EstimateKind,
    pub point: f64,
    /// Two-sided interval at the policy's confidence; `None` for point comparisons.
    pub interval: Option<Interval>,
}

/// A waiver that turned a failure into `waived`, or that was ignored because it expired.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct WaiverNote {
    pub rule: String,
    pub key: WaiverKey,
    pub approver: String,
    pub reason: String,
    pub expires: Date,
}

/// Waivers that mattered for this report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub struct WaiverSummary {
    pub applied: Vec<WaiverNote>,
    /// Expired waivers whose rule and key matched; they were ignored.
    pub expired: Vec<WaiverNote>,
}

/// The result of one rule.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct RuleResult {
    pub name: String,
    /// Canonical metric name, e.g. `ttft.p95`.
    pub metric: String,
    /// Limit as written, e.g. `max_increase 15%`.
    pub limit: String,
    pub severity: Severity,
    pub verdict: Verdict,
    /// Verdict after severity and waivers.
    pub outcome: Outcome,
    /// Unit of `baseline_value`/`candidate_value`: `ms`, `tok/s`, `req/s`,
    /// `%` (values are then fractions), or empty (currency).
    pub unit: String,
    pub baseline_value: Option<f64>,
    pub candidate_value: Option<f64>,
    pub estimate: Option<Estimate>,
    /// Raw one-sided p-value of "candidate is worse than baseline".
    pub p_value: Option<f64>,
    /// Benjamini-Hochberg adjusted p-value across the gate's baseline comparisons.
    pub p_adjusted: Option<f64>,
    /// Minimum detectable effect at this sample size: a relative change for
    /// ratio estimates, a rate (fraction) for rate rules.
    pub mde: Option<f64>,
    /// Requests (per side) that would likely settle an inconclusive verdict.
    pub requests_to_settle: Option<u64>,
    /// One sentence a human can act on, written from `decision`.
    pub explanation: String,
    pub waiver: Option<WaiverNote>,
    /// What the evaluation decided and the facts it rests on (test,
    /// estimate, interval, limit, adjusted p and alpha, counts, why
    /// inconclusive or skipped); `verdict`, `requests_to_settle`,
    /// `p_adjusted` and `explanation` follow from it.
    pub decision: Decision,
}

/// What a rule measured besides its decision: the values and statistics
/// its [`RuleResult`] reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Measured {
    pub baseline_value: Option<f64>,
    pub candidate_value: Option<f64>,
    pub estimate: Option<Estimate>,
    pub p_value: Option<f64>,
    pub mde: Option<f64>,
}

/// Version of the JSON verdict (`verdict.json`, the serialized
/// [`GateReport`]): bumped when a field changes meaning or is removed; fields
/// may be added without a bump. `schemas/verdict.schema.json` describes it.
pub const VERDICT_SCHEMA_VERSION: u32 = 1;

/// The complete result of a gate over one comparison.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(
    title = "tokengate verdict",
    description = "The JSON verdict (`verdict.json`): the gate's overall verdict, the candidate and baseline, and every rule's result and decision (src/gate/report.rs)."
)]
pub struct GateReport {
    /// First, so the JSON verdict's first field says it (an invalid run or
    /// an ungated comparison must not be read past).
    pub verdict: Verdict,
    /// Schema of this report; see [`VERDICT_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// tokengate version that produced the report.
    pub tool_version: String,
    pub gate: String,
    /// Process exit code this report implies (see [`crate::exit_code`]).
    pub exit_code: i32,
    pub policy: Policy,
    pub candidate: CandidateDesc,
    pub baseline: BaselineDesc,
    /// Why there is no comparable baseline, when there is none.
    pub skip_reason: Option<String>,
    pub change_under_test: Vec<KeyChange>,
    pub rules: Vec<RuleResult>,
    pub warnings: Vec<String>,
    pub waivers: WaiverSummary,
    /// Client and server views of the same window side by side (empty when
    /// neither bundle has server telemetry). The difference is network,
    /// proxy and client overhead; server queue time shows where a slowdown
    /// starts.
    pub client_server: Vec<SideBySide>,
}

/// One metric as the client measured it and as the server reported it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SideBySide {
    /// e.g. `TTFT p95`.
    pub metric: String,
    /// `ms`, `%` or empty for counts.
    pub unit: String,
    pub baseline_client: Option<f64>,
    pub baseline_server: Option<f64>,
    pub candidate_client: Option<f64>,
    pub candidate_server: Option<f64>,
    /// The histogram bucket `[lower, upper]` ms a server quantile was
    /// interpolated in (`upper` None: the `+Inf` bucket); None when exact
    /// or absent. The value is known only to lie in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_server_bucket: Option<(f64, Option<f64>)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_server_bucket: Option<(f64, Option<f64>)>,
}

impl GateReport {
    /// 0 pass, 1 fail, 3 inconclusive, all-skipped or ungated when the
    /// policy blocks on inconclusive (else 0), 4 invalid.
    pub fn exit_code(&self) -> i32 {
        exit_code_for(self.verdict, self.policy.inconclusive)
    }
}

pub(crate) fn exit_code_for(verdict: Verdict, policy: InconclusivePolicy) -> i32 {
    match (verdict, policy) {
        (Verdict::Pass, _) => exit_code::PASS,
        (Verdict::Fail, _) => exit_code::FAIL,
        (Verdict::Invalid, _) => exit_code::INVALID,
        (
            Verdict::Inconclusive | Verdict::Skipped | Verdict::Ungated,
            InconclusivePolicy::Block,
        ) => exit_code::INCONCLUSIVE,
        (Verdict::Inconclusive | Verdict::Skipped | Verdict::Ungated, InconclusivePolicy::Warn) => {
            exit_code::PASS
        }
    }
}
