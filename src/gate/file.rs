//! Gate files (`gates/*.yaml`): the policy and the rules, validated once at
//! parse time into typed values. Every limit is a newtype checked against the
//! metric it applies to (a duration only for latency metrics, `tok/s` only for
//! token throughput, …), so evaluation never meets a meaningless rule.
//!
//! A rule is `metric` plus exactly one limit, an optional `name` (default:
//! `METRIC LIMIT VALUE`, e.g. `ttft.p95 max_increase 15%`; waivers refer to
//! it) and `severity: fail|warn`:
//!
//! | metric | `max_increase` / `max_decrease` | `max` / `min` |
//! |---|---|---|
//! | `ttft`, `ttfb`, `itl`, `tpot`, `e2e` `.pNN`/`.mean` | `max_increase: 15%` (0–1000 %) | `max: 150ms` / `1.5s` / `800us` / `2m` |
//! | `decode_tokens_per_s.pNN`/`.mean`, `output_tokens_per_s`, `input_tokens_per_s` | `max_decrease: 10%` (0–100 %) | `min: 35 tok/s` |
//! | `requests_per_s` | `max_decrease: 10%` | `min: 2 req/s` |
//! | `error_rate`, `stream_error_rate` | `max_increase: 0.5pp` (percentage points) | `max: 0.5%` |
//! | `goodput`, `quality_pass_rate` | — | `min: 95%` |
//! | `cost_per_1k` | — | `max: 2.50` (pricing block currency) |
//! | `sweep.knee`, `sweep.safe_load` (sweep bundles) | `max_decrease: 10%` | `min: 8` (users or req/s) |
//! | `sweep.safe_output_tokens_per_s`, `sweep.max_output_tokens_per_s` | `max_decrease: 10%` | `min: 500 tok/s` |
//!
//! The direction is fixed by the metric: a limit that would reward a
//! regression (`max_increase` on a throughput, `min` on a latency) is an error.

use std::fmt;
use std::path::Path;

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::units::{self, BareNumber, Quantity, RateUnit};

/// What a gate does with an inconclusive (or all-skipped) result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InconclusivePolicy {
    /// Report it, exit 0.
    Warn,
    /// Report it, exit 3 ([`crate::exit_code::INCONCLUSIVE`]).
    Block,
}

/// Whether a failing rule fails the gate or only warns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Fail,
    Warn,
}

/// Statistical policy of one gate.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Policy {
    pub inconclusive: InconclusivePolicy,
    /// False-discovery rate across the gate's baseline comparisons
    /// (Benjamini-Hochberg).
    pub alpha: f64,
    /// Level of every two-sided interval.
    pub confidence: f64,
    pub bootstrap_resamples: u32,
    /// Bootstrap seed: same inputs ⇒ same report.
    pub seed: u64,
    /// Below this many requests a rule is inconclusive (too few samples),
    /// never a pass. The one exception is an error-rate ceiling: an exact
    /// (Clopper–Pearson) lower bound already past it is evidence at any n,
    /// so that rule still fails.
    pub min_requests: u64,
    /// Between-run coefficient of variation assumed for the median, means
    /// and throughput when run-to-run noise is unmeasured (one baseline
    /// run, one candidate run, no calibration), as a fraction. Why 20 %:
    /// issue 12 measured p50 TTFT across 21 back-to-back vLLM runs at CV
    /// 18 % and output tok/s at 13 %, so a single pair of runs cannot show
    /// a change smaller than that spread, whatever its request-level
    /// interval says. Tail quantiles get no assumed CV: unmeasured, they
    /// are never failed (their run-to-run CV was 54–63 %).
    pub unmeasured_run_cv: f64,
    /// Floor of the between-run coefficient of variation measured from runs
    /// or a calibration, as a fraction (0 turns it off). Runs recorded back
    /// to back on one quiet host can show almost no spread (the committed
    /// quickstart baseline's five runs: 0–0.04 %), and the moment estimate
    /// of τ² is truncated at 0, but a candidate measured later, on another
    /// runner, differs by more: issue 12 measured p50 TTFT at CV 1.8 % and
    /// output tok/s at 10.6 % on a busy 2-core host. Without a floor a
    /// burst of near-identical baseline runs makes the run-to-run term
    /// vanish, and an unchanged server measured on a busier runner fails.
    pub min_run_cv: f64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            inconclusive: InconclusivePolicy::Warn,
            alpha: 0.05,
            confidence: 0.95,
            bootstrap_resamples: 2000,
            seed: 1,
            min_requests: 50,
            unmeasured_run_cv: 0.20,
            min_run_cv: 0.03,
        }
    }
}

/// Latency metrics with per-request (or per-gap, for ITL) distributions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyKind {
    Ttft,
    Ttfb,
    Itl,
    Tpot,
    E2e,
}

impl LatencyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LatencyKind::Ttft => "ttft",
            LatencyKind::Ttfb => "ttfb",
            LatencyKind::Itl => "itl",
            LatencyKind::Tpot => "tpot",
            LatencyKind::E2e => "e2e",
        }
    }
}

/// Which statistic of a distribution a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stat {
    Mean,
    /// A percentile in (0, 100), e.g. 95 for `p95`, 99.9 for `p99.9`.
    Percentile(f64),
}

impl Stat {
    /// The quantile as a probability, `None` for the mean.
    pub fn probability(self) -> Option<f64> {
        match self {
            Stat::Mean => None,
            Stat::Percentile(p) => Some(p / 100.0),
        }
    }
}

impl fmt::Display for Stat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stat::Mean => f.write_str("mean"),
            Stat::Percentile(p) => write!(f, "p{p}"),
        }
    }
}

/// A metric a rule may constrain.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Latency(LatencyKind, Stat),
    /// Per-request decode rate, tokens/s: (tokens − 1) / (E2E − TTFT).
    DecodeRate(Stat),
    OutputTokensPerS,
    InputTokensPerS,
    RequestsPerS,
    ErrorRate,
    StreamErrorRate,
    CostPer1k,
    Goodput,
    QualityPassRate,
    /// A latency the server itself reported (Prometheus `/metrics`),
    /// compared as a point value (`server.queue_time.p95 <= 50ms`).
    Server(ServerLatency, Stat),
    /// A number a load sweep found (`tokengate sweep`), compared as a
    /// point value; skipped for bundles without a sweep.
    Sweep(SweepValue),
}

/// What a sweep found, as gateable numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SweepValue {
    /// The knee's load (users or req/s).
    Knee,
    /// The safe operating point's load.
    SafeLoad,
    /// Output tokens/s expected at the safe operating point.
    SafeOutputTokensPerS,
    /// The highest output tokens/s of any level.
    MaxOutputTokensPerS,
}

impl SweepValue {
    pub fn as_str(self) -> &'static str {
        match self {
            SweepValue::Knee => "knee",
            SweepValue::SafeLoad => "safe_load",
            SweepValue::SafeOutputTokensPerS => "safe_output_tokens_per_s",
            SweepValue::MaxOutputTokensPerS => "max_output_tokens_per_s",
        }
    }

    fn parse(s: &str) -> Option<SweepValue> {
        [
            SweepValue::Knee,
            SweepValue::SafeLoad,
            SweepValue::SafeOutputTokensPerS,
            SweepValue::MaxOutputTokensPerS,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// True for the loads (resolved only to the sweep's bisection grid).
    pub fn is_load(self) -> bool {
        matches!(self, SweepValue::Knee | SweepValue::SafeLoad)
    }
}

/// Server-side latencies kept in the bundle's `server` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerLatency {
    Ttft,
    QueueTime,
    Itl,
    E2e,
    Prefill,
    Decode,
}

impl ServerLatency {
    pub fn as_str(self) -> &'static str {
        match self {
            ServerLatency::Ttft => "ttft",
            ServerLatency::QueueTime => "queue_time",
            ServerLatency::Itl => "itl",
            ServerLatency::E2e => "e2e",
            ServerLatency::Prefill => "prefill",
            ServerLatency::Decode => "decode",
        }
    }

    fn parse(s: &str) -> Option<ServerLatency> {
        Some(match s {
            "ttft" => ServerLatency::Ttft,
            "queue_time" => ServerLatency::QueueTime,
            "itl" => ServerLatency::Itl,
            "e2e" => ServerLatency::E2e,
            "prefill" => ServerLatency::Prefill,
            "decode" => ServerLatency::Decode,
            _ => return None,
        })
    }
}

/// The unit family a metric's absolute limits are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitFamily {
    Duration,
    TokensPerSecond,
    RequestsPerSecond,
    Rate,
    Money,
    /// Concurrent users or requests per second, as the sweep measured.
    Load,
}

impl Metric {
    /// True when a larger value is worse (latency, error rates, cost).
    pub fn higher_is_worse(self) -> bool {
        matches!(
            self,
            Metric::Latency(..)
                | Metric::Server(..)
                | Metric::ErrorRate
                | Metric::StreamErrorRate
                | Metric::CostPer1k
        )
    }

    pub fn unit_family(self) -> UnitFamily {
        match self {
            Metric::Latency(..) | Metric::Server(..) => UnitFamily::Duration,
            Metric::DecodeRate(_) | Metric::OutputTokensPerS | Metric::InputTokensPerS => {
                UnitFamily::TokensPerSecond
            }
            Metric::RequestsPerS => UnitFamily::RequestsPerSecond,
            Metric::ErrorRate
            | Metric::StreamErrorRate
            | Metric::Goodput
            | Metric::QualityPassRate => UnitFamily::Rate,
            Metric::CostPer1k => UnitFamily::Money,
            Metric::Sweep(v) if v.is_load() => UnitFamily::Load,
            Metric::Sweep(_) => UnitFamily::TokensPerSecond,
        }
    }

    /// True for the binomial rates compared with exact tests.
    pub fn is_error_rate(self) -> bool {
        matches!(self, Metric::ErrorRate | Metric::StreamErrorRate)
    }

    /// True when the metric can be compared with a baseline.
    pub fn allows_relative(self) -> bool {
        !matches!(
            self,
            Metric::CostPer1k | Metric::Goodput | Metric::QualityPassRate | Metric::Server(..)
        )
    }

    /// Unit shown next to values in reports.
    pub fn unit(self) -> &'static str {
        match self.unit_family() {
            UnitFamily::Duration => "ms",
            UnitFamily::TokensPerSecond => "tok/s",
            UnitFamily::RequestsPerSecond => "req/s",
            UnitFamily::Rate => "%",
            UnitFamily::Money | UnitFamily::Load => "",
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Metric::Latency(k, s) => write!(f, "{}.{s}", k.as_str()),
            Metric::DecodeRate(s) => write!(f, "decode_tokens_per_s.{s}"),
            Metric::OutputTokensPerS => f.write_str("output_tokens_per_s"),
            Metric::InputTokensPerS => f.write_str("input_tokens_per_s"),
            Metric::RequestsPerS => f.write_str("requests_per_s"),
            Metric::ErrorRate => f.write_str("error_rate"),
            Metric::StreamErrorRate => f.write_str("stream_error_rate"),
            Metric::CostPer1k => f.write_str("cost_per_1k"),
            Metric::Goodput => f.write_str("goodput"),
            Metric::QualityPassRate => f.write_str("quality_pass_rate"),
            Metric::Server(k, s) => write!(f, "server.{}.{s}", k.as_str()),
            Metric::Sweep(v) => write!(f, "sweep.{}", v.as_str()),
        }
    }
}

const METRIC_HELP: &str = "one of ttft|ttfb|itl|tpot|e2e|decode_tokens_per_s followed by .pNN or .mean, \
output_tokens_per_s, input_tokens_per_s, requests_per_s, error_rate, stream_error_rate, \
cost_per_1k, goodput, quality_pass_rate, or server.ttft|queue_time|itl|e2e|prefill|decode \
followed by .p50, .p90, .p95, .p99 or .mean, or sweep.knee|safe_load|safe_output_tokens_per_s|max_output_tokens_per_s";

impl std::str::FromStr for Metric {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let plain = match s {
            "output_tokens_per_s" => Some(Metric::OutputTokensPerS),
            "input_tokens_per_s" => Some(Metric::InputTokensPerS),
            "requests_per_s" => Some(Metric::RequestsPerS),
            "error_rate" => Some(Metric::ErrorRate),
            "stream_error_rate" => Some(Metric::StreamErrorRate),
            "cost_per_1k" => Some(Metric::CostPer1k),
            "goodput" => Some(Metric::Goodput),
            "quality_pass_rate" => Some(Metric::QualityPassRate),
            _ => None,
        };
        if let Some(m) = plain {
            return Ok(m);
        }
        let unknown = || format!("expected {METRIC_HELP}, found `{s}`");
        if let Some(rest) = s.strip_prefix("sweep.") {
            return SweepValue::parse(rest)
                .map(Metric::Sweep)
                .ok_or_else(unknown);
        }
        if let Some(rest) = s.strip_prefix("server.") {
            // Server histograms give only these quantiles (and the mean).
            let (kind, stat) = rest.split_once('.').ok_or_else(unknown)?;
            let kind = ServerLatency::parse(kind).ok_or_else(unknown)?;
            let stat = match parse_stat(stat) {
                Some(Stat::Mean) => Stat::Mean,
                Some(Stat::Percentile(p)) if [50.0, 90.0, 95.0, 99.0].contains(&p) => {
                    Stat::Percentile(p)
                }
                _ => return Err(unknown()),
            };
            return Ok(Metric::Server(kind, stat));
        }
        let (base, stat) = s.split_once('.').ok_or_else(unknown)?;
        let stat = parse_stat(stat).ok_or_else(unknown)?;
        Ok(match base {
            "ttft" => Metric::Latency(LatencyKind::Ttft, stat),
            "ttfb" => Metric::Latency(LatencyKind::Ttfb, stat),
            "itl" => Metric::Latency(LatencyKind::Itl, stat),
            "tpot" => Metric::Latency(LatencyKind::Tpot, stat),
            "e2e" => Metric::Latency(LatencyKind::E2e, stat),
            "decode_tokens_per_s" => Metric::DecodeRate(stat),
            _ => return Err(unknown()),
        })
    }
}

fn parse_stat(s: &str) -> Option<Stat> {
    if s == "mean" {
        return Some(Stat::Mean);
    }
    let digits = s.strip_prefix('p')?;
    // Only plain decimal digits (and one dot): `p1e1` or `p+5` are not percentiles.
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let p: f64 = digits.parse().ok()?;
    (p > 0.0 && p < 100.0).then_some(Stat::Percentile(p))
}

/// A relative change limit: a fraction in (0, 10] (written `15%`, at most `1000%`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RelativeChange(f64);

impl RelativeChange {
    pub fn fraction(self) -> f64 {
        self.0
    }
}

/// A share in [0, 1] (written `0.5%`, at most `100%`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rate(f64);

impl Rate {
    pub fn fraction(self) -> f64 {
        self.0
    }
}

/// A duration in milliseconds (written `150ms`, `1.5s` or `800us`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Millis(f64);

impl Millis {
    pub fn get(self) -> f64 {
        self.0
    }
}

/// An absolute threshold, in the unit family of its metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Threshold {
    Duration(Millis),
    /// Tokens or requests per second.
    PerSecond(f64),
    Rate(Rate),
    /// Currency units of the workload's pricing block.
    Money(f64),
}

impl Threshold {
    /// The value in the unit the metric is reported in (ms, per second,
    /// fraction, currency).
    pub fn value(self) -> f64 {
        match self {
            Threshold::Duration(m) => m.get(),
            Threshold::PerSecond(v) | Threshold::Money(v) => v,
            Threshold::Rate(r) => r.fraction(),
        }
    }
}

/// The limit of one rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// candidate / baseline may not exceed 1 + x.
    MaxIncrease(RelativeChange),
    /// candidate / baseline may not fall below 1 − x.
    MaxDecrease(RelativeChange),
    /// Error rates: candidate rate − baseline rate may not exceed x
    /// (percentage points, written `0.5pp`).
    MaxRateIncrease(Rate),
    Max(Threshold),
    Min(Threshold),
}

impl Limit {
    /// True for limits that compare against a baseline.
    pub fn is_relative(self) -> bool {
        matches!(
            self,
            Limit::MaxIncrease(_) | Limit::MaxDecrease(_) | Limit::MaxRateIncrease(_)
        )
    }
}

/// One validated rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    /// Given in the file, or derived (`ttft.p95 max_increase 15%`); waivers refer to it.
    pub name: String,
    pub metric: Metric,
    pub limit: Limit,
    /// The limit as written, e.g. `max_increase 15%`.
    pub limit_text: String,
    pub severity: Severity,
}

/// A validated gate file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateFile {
    pub name: String,
    pub policy: Policy,
    pub rules: Vec<Rule>,
}

/// Errors reading or validating a YAML file of the gate (gate file,
/// waivers file). Messages name the file, the line, the field and what was
/// expected.
#[derive(Debug, thiserror::Error)]
pub enum GateFileError {
    /// `what` is `gate` or `waivers`.
    #[error("cannot read {what} file {path}")]
    Read {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The YAML does not fit the file's shape (unknown field, wrong type,
    /// missing field).
    #[error("{origin}: {message}")]
    Yaml {
        origin: String,
        /// The parser's message (position, what was expected), one line:
        /// its source snippet would break the one-line error the CLI prints.
        message: String,
    },
    /// A well-formed value that is not valid for its field.
    #[error("{origin}: line {line} column {column}: field `{field}`: {message}")]
    Invalid {
        origin: String,
        line: u64,
        column: u64,
        field: String,
        message: String,
    },
}

impl GateFileError {
    /// Reads `path` as text, or the `Read` error naming it as a `what` file.
    pub(crate) fn read(what: &'static str, path: &Path) -> Result<String, GateFileError> {
        crate::fsutil::read_bounded_string(path, crate::fsutil::MAX_CONFIG_BYTES).map_err(
            |source| GateFileError::Read {
                what,
                path: path.display().to_string(),
                source,
            },
        )
    }

    /// The first line of a serde-saphyr error, for `origin`.
    pub(crate) fn yaml(origin: &str, e: &serde_saphyr::Error) -> GateFileError {
        GateFileError::Yaml {
            origin: origin.to_owned(),
            message: first_line(e),
        }
    }

    /// A bad value at `loc` of `origin`.
    pub(crate) fn invalid(
        origin: &str,
        loc: &serde_saphyr::Location,
        field: String,
        message: String,
    ) -> GateFileError {
        GateFileError::Invalid {
            origin: origin.to_owned(),
            line: loc.line(),
            column: loc.column(),
            field,
            message,
        }
    }
}

/// The first line of a serde-saphyr error (`error: line L column C: …`)
/// without the `error: ` prefix; the full error with its snippet stays in the
/// source chain.
fn first_line(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    let line = text.lines().next().unwrap_or_default();
    line.strip_prefix("error: ").unwrap_or(line).to_owned()
}

/// The gate file as written (the YAML wire type); `parse_gate_file`
/// validates it into a [`GateFile`].
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    rename = "GateFile",
    title = "tokengate gate file",
    description = "A gate: its statistical policy and the rules a candidate bundle is judged by (src/gate/file.rs)."
)]
struct RawGate {
    /// Gate name, shown in reports.
    name: String,
    /// Statistical policy; every field has a default.
    #[serde(default)]
    policy: Option<RawPolicy>,
    /// At least one rule.
    #[schemars(with = "Vec<RawRule>", length(min = 1))]
    rules: Spanned<Vec<RawRule>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "GatePolicy")]
struct RawPolicy {
    /// `warn` (exit 0) or `block` (exit 3) on an inconclusive, all-skipped
    /// or ungated result.
    inconclusive: Option<InconclusivePolicy>,
    /// False-discovery rate across the baseline comparisons, in (0, 0.5].
    #[schemars(with = "Option<f64>")]
    alpha: Option<Spanned<f64>>,
    /// Level of every interval, in [0.5, 1).
    #[schemars(with = "Option<f64>")]
    confidence: Option<Spanned<f64>>,
    /// Bootstrap resamples, 100 to 100000.
    #[schemars(with = "Option<u32>", range(min = 100, max = 100_000))]
    bootstrap_resamples: Option<Spanned<u32>>,
    /// Bootstrap seed: same inputs, same report.
    seed: Option<u64>,
    /// Below this many requests a rule cannot pass.
    #[schemars(with = "Option<u64>", range(min = 1))]
    min_requests: Option<Spanned<u64>>,
    /// Run-to-run CV assumed when the noise is unmeasured, e.g. `20%`.
    #[schemars(with = "Option<PercentText>")]
    unmeasured_run_cv: Option<Spanned<String>>,
    /// Floor of a measured run-to-run CV, e.g. `3%`.
    #[schemars(with = "Option<PercentText>")]
    min_run_cv: Option<Spanned<String>>,
}

/// A rule: `metric` and exactly one of the four limits.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    rename = "GateRule",
    extend("oneOf" = [
        {"required": ["max_increase"]},
        {"required": ["max_decrease"]},
        {"required": ["max"]},
        {"required": ["min"]}
    ])
)]
struct RawRule {
    /// Rule name (default `METRIC LIMIT VALUE`); waivers refer to it.
    #[schemars(with = "Option<String>")]
    name: Option<Spanned<String>>,
    /// e.g. `ttft.p95`, `output_tokens_per_s`, `error_rate`, `sweep.knee`.
    #[schemars(with = "String")]
    metric: Spanned<String>,
    /// Largest allowed rise against the baseline: `15%`, or `0.5pp` for rates.
    #[schemars(with = "Option<LimitText>")]
    max_increase: Option<Spanned<String>>,
    /// Largest allowed fall against the baseline: `10%`.
    #[schemars(with = "Option<LimitText>")]
    max_decrease: Option<Spanned<String>>,
    /// Ceiling on the candidate's value: `150ms`, `0.5%`, `2.50`.
    #[schemars(with = "Option<LimitText>")]
    max: Option<Spanned<String>>,
    /// Floor on the candidate's value: `35 tok/s`, `95%`, `8`.
    #[schemars(with = "Option<LimitText>")]
    min: Option<Spanned<String>>,
    /// `fail` (default) or `warn`.
    severity: Option<Severity>,
}

/// Schema of a percentage (`20%`): `units::parse_percentage` wants the `%`.
struct PercentText;

impl JsonSchema for PercentText {
    fn schema_name() -> Cow<'static, str> {
        "Percentage".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": r"^\s*(?:[0-9]+\.?[0-9]*|\.[0-9]+)\s*%\s*$"
        })
    }
}

/// Schema of a limit's value: text or a YAML number (`max: 2.50`). Which
/// unit fits depends on the metric, which a schema cannot follow; the loader
/// checks it and names the field.
struct LimitText;

impl JsonSchema for LimitText {
    fn schema_name() -> Cow<'static, str> {
        "Limit".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A limit in the metric's unit: `15%`, `0.5pp`, `150ms`, `35 tok/s`, `2 req/s`, `95%` or a number.",
            "type": ["string", "number"]
        })
    }
}

/// The JSON Schema of a gate file (draft 2020-12), generated from the wire
/// types so it cannot drift from them; `schemas/gate.schema.json` is the
/// committed copy editors validate against.
pub fn gate_json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(RawGate)).unwrap_or(serde_json::Value::Null)
}

/// Read and validate a gate file.
pub fn load_gate_file(path: &Path) -> Result<GateFile, GateFileError> {
    let text = GateFileError::read("gate", path)?;
    parse_gate_file(&text, &path.display().to_string())
}

/// Validate gate file text; `origin` names it in errors.
pub fn parse_gate_file(text: &str, origin: &str) -> Result<GateFile, GateFileError> {
    let raw: RawGate = serde_saphyr::from_str(text).map_err(|e| GateFileError::yaml(origin, &e))?;
    let invalid = |loc: &serde_saphyr::Location, field: String, message: String| {
        GateFileError::invalid(origin, loc, field, message)
    };
    let mut policy = Policy::default();
    if let Some(p) = raw.policy {
        if let Some(i) = p.inconclusive {
            policy.inconclusive = i;
        }
        if let Some(a) = p.alpha {
            if !(a.value > 0.0 && a.value <= 0.5) {
                return Err(invalid(
                    &a.referenced,
                    "policy.alpha".into(),
                    format!(
                        "expected a false-discovery rate in (0, 0.5], found {}",
                        a.value
                    ),
                ));
            }
            policy.alpha = a.value;
        }
        if let Some(c) = p.confidence {
            if !(c.value >= 0.5 && c.value < 1.0) {
                return Err(invalid(
                    &c.referenced,
                    "policy.confidence".into(),
                    format!("expected a confidence level in [0.5, 1), found {}", c.value),
                ));
            }
            policy.confidence = c.value;
        }
        if let Some(r) = p.bootstrap_resamples {
            if !(100..=100_000).contains(&r.value) {
                return Err(invalid(
                    &r.referenced,
                    "policy.bootstrap_resamples".into(),
                    format!("expected 100 to 100000 resamples, found {}", r.value),
                ));
            }
            policy.bootstrap_resamples = r.value;
        }
        if let Some(s) = p.seed {
            policy.seed = s;
        }
        if let Some(m) = p.min_requests {
            if m.value == 0 {
                return Err(invalid(
                    &m.referenced,
                    "policy.min_requests".into(),
                    "expected at least 1 request, found 0".into(),
                ));
            }
            policy.min_requests = m.value;
        }
        if let Some(cv) = p.unmeasured_run_cv {
            let v = units::parse_percentage(&cv.value)
                .ok()
                .map(units::Percentage::fraction)
                .filter(|v| *v > 0.0 && *v <= 1.0)
                .ok_or_else(|| {
                    invalid(
                        &cv.referenced,
                        "policy.unmeasured_run_cv".into(),
                        format!(
                            "expected a coefficient of variation like `20%` in (0 %, 100 %], found `{}`",
                            cv.value
                        ),
                    )
                })?;
            policy.unmeasured_run_cv = v;
        }
        if let Some(cv) = p.min_run_cv {
            let v = units::parse_percentage(&cv.value)
                .ok()
                .map(units::Percentage::fraction)
                .filter(|v| (0.0..=1.0).contains(v))
                .ok_or_else(|| {
                    invalid(
                        &cv.referenced,
                        "policy.min_run_cv".into(),
                        format!(
                            "expected a coefficient of variation like `3%` in [0 %, 100 %], found `{}`",
                            cv.value
                        ),
                    )
                })?;
            policy.min_run_cv = v;
        }
    }
    if raw.rules.value.is_empty() {
        return Err(invalid(
            &raw.rules.referenced,
            "rules".into(),
            "expected at least one rule".into(),
        ));
    }
    let mut rules: Vec<Rule> = Vec::with_capacity(raw.rules.value.len());
    for (i, r) in raw.rules.value.into_iter().enumerate() {
        let field = |f: &str| format!("rules[{i}].{f}");
        let metric: Metric = r
            .metric
            .value
            .trim()
            .parse()
            .map_err(|m| invalid(&r.metric.referenced, field("metric"), m))?;
        let given: Vec<(&str, Spanned<String>)> = [
            ("max_increase", r.max_increase),
            ("max_decrease", r.max_decrease),
            ("max", r.max),
            ("min", r.min),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
        let (kind, value) = match given.len() {
            1 => given
                .into_iter()
                .next()
                .expect("exactly one limit was counted"),
            0 => {
                return Err(invalid(
                    &r.metric.referenced,
                    format!("rules[{i}]"),
                    format!(
                        "rule for `{metric}` has no limit: expected one of max_increase, max_decrease, max, min"
                    ),
                ));
            }
            _ => {
                let names: Vec<&str> = given.iter().map(|(k, _)| *k).collect();
                return Err(invalid(
                    &given[1].1.referenced,
                    field(given[1].0),
                    format!(
                        "rule for `{metric}` has several limits ({}): expected exactly one; write one rule per limit",
                        names.join(", ")
                    ),
                ));
            }
        };
        let text = value.value.trim().to_owned();
        let limit = parse_limit(metric, kind, &text)
            .map_err(|m| invalid(&value.referenced, field(kind), m))?;
        let limit_text = format!("{kind} {text}");
        let name = match r.name {
            Some(n) if n.value.trim().is_empty() => {
                return Err(invalid(
                    &n.referenced,
                    field("name"),
                    "expected a non-empty rule name".into(),
                ));
            }
            Some(n) => n.value.trim().to_owned(),
            None => format!("{metric} {limit_text}"),
        };
        if rules.iter().any(|x| x.name == name) {
            return Err(invalid(
                &r.metric.referenced,
                field("name"),
                format!(
                    "rule name `{name}` is used twice; give one of the rules a distinct `name` (waivers refer to rules by name)"
                ),
            ));
        }
        rules.push(Rule {
            name,
            metric,
            limit,
            limit_text,
            severity: r.severity.unwrap_or(Severity::Fail),
        });
    }
    Ok(GateFile {
        name: raw.name,
        policy,
        rules,
    })
}

fn parse_limit(metric: Metric, kind: &str, text: &str) -> Result<Limit, String> {
    let direction_error = |better: &str, use_: &str| {
        format!(
            "`{kind}` does not fit `{metric}`: {better} is better for this metric; use `{use_}`"
        )
    };
    match kind {
        "max_increase" | "max_decrease" => {
            if !metric.allows_relative() {
                return Err(format!(
                    "`{metric}` is an absolute value of the bundle and cannot be compared with a baseline; use `max` or `min`"
                ));
            }
            let increase = kind == "max_increase";
            if increase != metric.higher_is_worse() {
                return Err(if increase {
                    direction_error("higher", "max_decrease")
                } else {
                    direction_error("lower", "max_increase")
                });
            }
            if metric.is_error_rate() {
                let v = units::parse_percentage_points(text)
                    .ok()
                    .filter(|v| (0.0..=100.0).contains(v))
                    .ok_or_else(|| {
                        format!(
                            "expected an increase in percentage points like `0.5pp` in [0pp, 100pp], found `{text}` (for rates `max_increase` is absolute: 0.5pp allows 1.0 % → 1.5 %)"
                        )
                    })?;
                return Ok(Limit::MaxRateIncrease(Rate(v / 100.0)));
            }
            let upper = if increase { 1000.0 } else { 100.0 };
            let v = units::parse_percentage(text)
                .ok()
                .map(units::Percentage::points)
                .filter(|v| *v > 0.0 && (*v <= upper) && (increase || *v < 100.0))
                .ok_or_else(|| {
                    let range = if increase {
                        "(0 %, 1000 %]"
                    } else {
                        "(0 %, 100 %)"
                    };
                    format!("expected a percentage like `15%` in {range}, found `{text}`")
                })?;
            let change = RelativeChange(v / 100.0);
            Ok(if increase {
                Limit::MaxIncrease(change)
            } else {
                Limit::MaxDecrease(change)
            })
        }
        "max" | "min" => {
            let is_max = kind == "max";
            if is_max != metric.higher_is_worse() {
                return Err(if is_max {
                    direction_error("higher", "min")
                } else {
                    direction_error("lower", "max")
                });
            }
            let t = parse_threshold(metric, text)?;
            Ok(if is_max { Limit::Max(t) } else { Limit::Min(t) })
        }
        _ => unreachable!("limit kinds are the four fields of RawRule"),
    }
}

fn parse_threshold(metric: Metric, text: &str) -> Result<Threshold, String> {
    // Each message keeps the value's grammar (from `units`) and adds what
    // only the rule knows: the metric, and the range where there is one.
    let per_second = |unit: RateUnit| {
        units::parse_rate(text, unit)
            .map(Threshold::PerSecond)
            .map_err(|_| {
                format!(
                    "expected {} for `{metric}`, found `{text}`",
                    Quantity::Rate(unit).expected()
                )
            })
    };
    match metric.unit_family() {
        UnitFamily::Duration => units::parse_duration(text, BareNumber::Refused)
            .map(|d| Threshold::Duration(Millis(d.millis())))
            .map_err(|_| {
                format!(
                    "expected {} for `{metric}`, found `{text}`",
                    Quantity::Duration.expected()
                )
            }),
        UnitFamily::TokensPerSecond => per_second(RateUnit::TokensPerSecond),
        UnitFamily::RequestsPerSecond => per_second(RateUnit::RequestsPerSecond),
        UnitFamily::Rate => units::parse_percentage(text)
            .ok()
            .map(units::Percentage::points)
            .filter(|v| (0.0..=100.0).contains(v))
            .map(|v| Threshold::Rate(Rate(v / 100.0)))
            .ok_or_else(|| {
                format!("expected a percentage like `0.5%` in [0 %, 100 %] for `{metric}`, found `{text}`")
            }),
        UnitFamily::Load => units::parse_number(text)
            .map(Threshold::PerSecond)
            .map_err(|_| {
                format!(
                    "expected a load like `8` (concurrent users, or requests per second for an open-loop sweep) for `{metric}`, found `{text}`"
                )
            }),
        UnitFamily::Money => units::parse_number(text)
            .map(Threshold::Money)
            .map_err(|_| {
                format!(
                    "expected a non-negative amount like `2.50` (currency of the workload's pricing block) for `{metric}`, found `{text}`"
                )
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(yaml: &str) -> String {
        match parse_gate_file(yaml, "gates/t.yaml") {
            Ok(g) => panic!("expected an error, got {g:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parses_the_brief_example() {
        let g = parse_gate_file(
            "name: release\npolicy:\n  inconclusive: block\n  alpha: 0.05\n  confidence: 0.95\n  bootstrap_resamples: 2000\n  seed: 1\n  min_requests: 50\nrules:\n  - metric: ttft.p95\n    max_increase: 15%\n  - metric: output_tokens_per_s\n    max_decrease: 10%\n  - metric: stream_error_rate\n    max: 0.5%\n  - metric: cost_per_1k\n    max: 2.50\n    severity: warn\n  - metric: itl.p95\n    max: 150ms\n  - metric: decode_tokens_per_s.p50\n    min: 35 tok/s\n  - metric: e2e.p99.9\n    max: 1.5s\n  - metric: error_rate\n    max_increase: 0.5pp\n    name: errors\n",
            "t",
        )
        .expect("valid gate");
        assert_eq!(g.policy.inconclusive, InconclusivePolicy::Block);
        let names: Vec<&str> = g.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "ttft.p95 max_increase 15%",
                "output_tokens_per_s max_decrease 10%",
                "stream_error_rate max 0.5%",
                "cost_per_1k max 2.50",
                "itl.p95 max 150ms",
                "decode_tokens_per_s.p50 min 35 tok/s",
                "e2e.p99.9 max 1.5s",
                "errors"
            ]
        );
        assert_eq!(g.rules[0].limit, Limit::MaxIncrease(RelativeChange(0.15)));
        assert_eq!(g.rules[2].limit, Limit::Max(Threshold::Rate(Rate(0.005))));
        assert_eq!(g.rules[3].severity, Severity::Warn);
        assert_eq!(g.rules[3].limit, Limit::Max(Threshold::Money(2.5)));
        assert_eq!(g.rules[5].limit, Limit::Min(Threshold::PerSecond(35.0)));
        assert_eq!(
            g.rules[6].limit,
            Limit::Max(Threshold::Duration(Millis(1500.0)))
        );
        assert_eq!(
            g.rules[6].metric,
            Metric::Latency(LatencyKind::E2e, Stat::Percentile(99.9))
        );
        assert_eq!(g.rules[7].limit, Limit::MaxRateIncrease(Rate(0.005)));
    }

    #[test]
    fn rejects_a_bare_number_for_a_relative_limit_naming_line_and_field() {
        assert_eq!(
            err("name: x\nrules:\n  - metric: ttft.p95\n    max_increase: 15\n"),
            "gates/t.yaml: line 4 column 19: field `rules[0].max_increase`: expected a percentage like `15%` in (0 %, 1000 %], found `15`"
        );
    }

    #[test]
    fn rejects_a_duration_on_a_rate_metric() {
        assert_eq!(
            err("name: x\nrules:\n  - metric: error_rate\n    max: 150ms\n"),
            "gates/t.yaml: line 4 column 10: field `rules[0].max`: expected a percentage like `0.5%` in [0 %, 100 %] for `error_rate`, found `150ms`"
        );
    }

    #[test]
    fn rejects_out_of_range_values() {
        assert!(
            err("name: x\nrules:\n  - metric: ttft.p95\n    max_increase: 1500%\n")
                .contains("in (0 %, 1000 %], found `1500%`")
        );
        assert!(
            err("name: x\nrules:\n  - metric: ttft.p95\n    max_increase: 0%\n")
                .contains("found `0%`")
        );
        assert!(
            err("name: x\nrules:\n  - metric: stream_error_rate\n    max: 101%\n")
                .contains("found `101%`")
        );
        assert!(
            err("name: x\nrules:\n  - metric: output_tokens_per_s\n    max_decrease: 100%\n")
                .contains("in (0 %, 100 %), found `100%`")
        );
    }

    #[test]
    fn rejects_unit_mismatch_and_wrong_direction() {
        assert_eq!(
            err("name: x\nrules:\n  - metric: decode_tokens_per_s.p50\n    min: 35ms\n"),
            "gates/t.yaml: line 4 column 10: field `rules[0].min`: expected a rate like `35 tok/s` for `decode_tokens_per_s.p50`, found `35ms`"
        );
        assert_eq!(
            err("name: x\nrules:\n  - metric: output_tokens_per_s\n    max_increase: 10%\n"),
            "gates/t.yaml: line 4 column 19: field `rules[0].max_increase`: `max_increase` does not fit `output_tokens_per_s`: higher is better for this metric; use `max_decrease`"
        );
        assert!(
            err("name: x\nrules:\n  - metric: cost_per_1k\n    max_increase: 10%\n")
                .contains("cannot be compared with a baseline")
        );
        assert!(
            err("name: x\nrules:\n  - metric: error_rate\n    max_increase: 10%\n")
                .contains("expected an increase in percentage points like `0.5pp`")
        );
    }

    #[test]
    fn rejects_unknown_metric_and_missing_or_double_limits() {
        assert_eq!(
            err("name: x\nrules:\n  - metric: ttft.p100\n    max: 1s\n"),
            format!(
                "gates/t.yaml: line 3 column 13: field `rules[0].metric`: expected {METRIC_HELP}, found `ttft.p100`"
            )
        );
        assert_eq!(
            err("name: x\nrules:\n  - metric: ttft.p95\n    severity: warn\n"),
            "gates/t.yaml: line 3 column 13: field `rules[0]`: rule for `ttft.p95` has no limit: expected one of max_increase, max_decrease, max, min"
        );
        assert_eq!(
            err("name: x\nrules:\n  - metric: ttft.p95\n    max: 1s\n    max_increase: 5%\n"),
            "gates/t.yaml: line 4 column 10: field `rules[0].max`: rule for `ttft.p95` has several limits (max_increase, max): expected exactly one; write one rule per limit"
        );
    }

    #[test]
    fn rejects_unknown_fields_with_line_and_expected_fields() {
        assert_eq!(
            err("name: x\nrules:\n  - metric: ttft.p95\n    max_increse: 15%\n"),
            "gates/t.yaml: line 4 column 5: unknown field `max_increse`, expected one of name, metric, max_increase, max_decrease, max, min, severity"
        );
        assert_eq!(
            err("name: x\npolicy:\n  alpah: 0.1\nrules: []\n"),
            "gates/t.yaml: line 3 column 3: unknown field `alpah`, expected one of inconclusive, alpha, confidence, bootstrap_resamples, seed, min_requests, unmeasured_run_cv, min_run_cv"
        );
        assert_eq!(
            err("name: x\nrules: []\n"),
            "gates/t.yaml: line 2 column 8: field `rules`: expected at least one rule"
        );
        assert_eq!(
            err("name: x\npolicy:\n  alpha: 0.9\nrules: []\n"),
            "gates/t.yaml: line 3 column 10: field `policy.alpha`: expected a false-discovery rate in (0, 0.5], found 0.9"
        );
    }

    #[test]
    fn rejects_duplicate_rule_names() {
        assert!(
            err("name: x\nrules:\n  - metric: ttft.p95\n    max: 1s\n  - metric: ttft.p95\n    max: 1s\n")
                .contains("rule name `ttft.p95 max 1s` is used twice")
        );
    }

    #[test]
    fn durations_take_the_units_grammar_minutes_and_micro_signs_included() {
        let g = parse_gate_file(
            "name: x\nrules:\n  - metric: e2e.p95\n    max: 2m\n  - metric: itl.p50\n    max: 800µs\n  - metric: ttft.p95\n    max: 150 ms\n  - metric: server.queue_time.p95\n    max: 0.5h\n",
            "t",
        )
        .expect("valid gate");
        let limits: Vec<Limit> = g.rules.iter().map(|r| r.limit).collect();
        assert_eq!(
            limits,
            [120_000.0, 0.8, 150.0, 1_800_000.0]
                .map(|ms| Limit::Max(Threshold::Duration(Millis(ms))))
        );
    }

    #[test]
    fn a_bare_or_negative_duration_names_the_grammar_and_the_metric() {
        assert_eq!(
            err("name: x\nrules:\n  - metric: ttft.p95\n    max: 150\n"),
            "gates/t.yaml: line 4 column 10: field `rules[0].max`: expected a duration like `500ms`, `30s` or `2m` for `ttft.p95`, found `150`"
        );
        assert!(
            err("name: x\nrules:\n  - metric: ttft.p95\n    max: -5ms\n")
                .ends_with("for `ttft.p95`, found `-5ms`")
        );
        assert_eq!(
            err("name: x\nrules:\n  - metric: requests_per_s\n    min: 2 tok/s\n"),
            "gates/t.yaml: line 4 column 10: field `rules[0].min`: expected a rate like `2 req/s` for `requests_per_s`, found `2 tok/s`"
        );
    }

    #[test]
    fn minus_zero_and_non_decimal_numbers_are_refused() {
        for v in ["-0", "1e3", "inf", "nan", "+2"] {
            assert!(
                err(&format!(
                    "name: x\nrules:\n  - metric: cost_per_1k\n    max: \"{v}\"\n"
                ))
                .contains("expected a non-negative amount like `2.50`"),
                "{v}"
            );
        }
        assert!(
            err("name: x\nrules:\n  - metric: error_rate\n    max_increase: -0pp\n")
                .contains("expected an increase in percentage points like `0.5pp`")
        );
    }

    proptest::proptest! {
        #[test]
        fn any_limit_text_parses_or_errors_without_panicking(v in "\\PC{0,12}", m in 0usize..4) {
            let (metric, kind) = [("ttft.p95", "max_increase"), ("error_rate", "max"), ("output_tokens_per_s", "min"), ("cost_per_1k", "max")][m];
            let yaml = format!("name: x\nrules:\n  - metric: {metric}\n    {kind}: {}\n", serde_json::to_string(&v).expect("json string"));
            let _ = parse_gate_file(&yaml, "p.yaml");
        }

        #[test]
        fn percentages_in_range_parse_exactly(x in 1u32..=100_000) {
            let text = format!("{}%", f64::from(x) / 100.0);
            let yaml = format!("name: x\nrules:\n  - metric: ttft.p95\n    max_increase: {text}\n");
            let g = parse_gate_file(&yaml, "p.yaml").expect("in range");
            proptest::prop_assert_eq!(g.rules[0].limit, Limit::MaxIncrease(RelativeChange(f64::from(x) / 100.0 / 100.0)));
        }
    }

    #[test]
    fn shipped_gate_files_parse() {
        for f in ["default.yaml", "slo.yaml"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("gates").join(f);
            let g = load_gate_file(&path).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert!(!g.rules.is_empty(), "{f}");
        }
    }
}
