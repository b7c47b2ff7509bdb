//! Versioned serde types of the result bundle (DESIGN.md §4). These are wire
//! types: what goes into the file. Paths listed in DESIGN.md §4 are stable;
//! fields may be added, never renamed.

use std::collections::BTreeMap;

use schemars::JsonSchema;

use crate::client::ErrorKind;
use serde::{Deserialize, Serialize};

/// Bumped when a field changes meaning or is removed. Readers refuse bundles
/// with a newer schema.
pub const SCHEMA_VERSION: u32 = 1;
/// Bumped when a metric definition (DESIGN.md §3) changes; bundles with
/// different metrics versions are incomparable.
pub const METRICS_VERSION: u32 = 1;

/// One benchmark run: key, context, metrics, histograms and samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Bundle {
    /// Schema of this file; see [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Version of the metric definitions; see [`METRICS_VERSION`].
    pub metrics_version: u32,
    /// What was measured: the identity baselines are keyed by.
    pub key: BundleKey,
    /// How, when and where it was measured.
    pub context: Context,
    /// Summary statistics of the measurement window (warm-up excluded).
    pub metrics: Metrics,
    /// Serialized HDR histograms (V2 + deflate, base64), microseconds, so
    /// bundles from several runners can be merged exactly.
    pub histograms: Histograms,
    /// Compact per-request values of the measurement window, so the gate can
    /// resample.
    pub samples: Samples,
    /// What the server's own `/metrics` said about the window; `None` when
    /// the endpoint exposes no Prometheus metrics.
    #[serde(default)]
    pub server: Option<ServerTelemetry>,
    /// A load sweep (`tokengate sweep`): every level's bundle, the curve,
    /// the knee and the safe operating point. The rest of this bundle is the
    /// measured level at or just below the safe operating point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<Box<SweepSection>>,
    /// A soak run (`tokengate soak`): per-interval snapshots and trends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soak: Option<SoakSection>,
}

/// The result of a load sweep: one measured point per level, how each
/// signal bent, the knee and the recommended safe operating point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SweepSection {
    /// `closed` (levels are concurrent users) or `open` (levels are
    /// requests per second).
    pub mode: String,
    /// `concurrency` or `req/s`: what the load axis counts.
    pub load_unit: String,
    /// `list` (levels given) or `auto` (doubling, then bisection at the knee).
    pub strategy: String,
    /// Why stepping up stopped (SLO broken, error ceiling, throughput flat,
    /// last level reached, time budget, interrupted).
    pub stop_reason: String,
    /// The thresholds the bend, knee and stop rules used.
    pub rules: SweepRules,
    /// One point per measured level, by ascending load.
    pub curve: Vec<SweepPoint>,
    /// How each signal behaved along the curve.
    pub signals: Vec<SignalBend>,
    /// The knee: the highest load before the first signal (p95 TTFT, p95
    /// ITL, error rate, server queue time, KV-cache usage) climbs; `None`
    /// when none bent in the range.
    pub knee: Option<Knee>,
    /// The recommended operating point; `None` without a knee.
    pub safe: Option<SafePoint>,
    /// Every level's full bundle, in the order of `curve`.
    pub levels: Vec<Bundle>,
}

/// Thresholds of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SweepRules {
    /// A knee point must lie at least this far below the chord from the
    /// first to the last level, in normalized units (Kneedle's difference).
    pub min_prominence: f64,
    /// …and the signal to rise at least this share above its low-load value.
    pub min_rise: f64,
    /// Stop stepping up once the error rate passes this share.
    pub error_ceiling: f64,
    /// Stop once a doubling raises throughput by less than this share.
    pub min_throughput_gain: f64,
    /// Safe operating point = this share of the knee's load.
    pub safe_share: f64,
    /// Bisection stops when the bracket around the knee is this narrow
    /// (load units).
    pub resolution: f64,
    /// The SLO gate file whose absolute rules every level must meet.
    pub slo_gate: Option<String>,
}

impl Default for SweepRules {
    /// The `tokengate sweep` defaults (closed-loop resolution: one user).
    fn default() -> Self {
        SweepRules {
            min_prominence: 0.1,
            min_rise: 0.25,
            error_ceiling: 0.05,
            min_throughput_gain: 0.05,
            safe_share: 0.7,
            resolution: 1.0,
            slo_gate: None,
        }
    }
}

/// One level of a sweep, summarized.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SweepPoint {
    /// Concurrency or requests per second.
    pub load: f64,
    /// Measured requests (attempted) and failures.
    pub requests: u64,
    pub failed: u64,
    pub error_rate: f64,
    pub ttft_p50_ms: Option<f64>,
    pub ttft_p95_ms: Option<f64>,
    pub ttft_p99_ms: Option<f64>,
    pub itl_p50_ms: Option<f64>,
    pub itl_p95_ms: Option<f64>,
    pub itl_p99_ms: Option<f64>,
    pub e2e_p95_ms: Option<f64>,
    pub output_tokens_per_s: f64,
    pub requests_per_s: f64,
    /// Server queue time (p95 and mean) when the server exposes it.
    pub server_queue_p95_ms: Option<f64>,
    pub server_queue_mean_ms: Option<f64>,
    /// Highest KV-cache usage (0–1) the server reported at this level.
    pub kv_cache_peak: Option<f64>,
    /// Whether the level met the SLO gate (`None` without one).
    pub slo_met: Option<bool>,
    /// Rules of the SLO gate this level broke.
    pub slo_broken: Vec<String>,
    /// The client was the bottleneck at this level (numbers suspect).
    pub client_saturated: bool,
}

/// How one signal behaved along the curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SignalBend {
    /// `ttft_p95`, `itl_p95`, `error_rate`, `server_queue_p95`, `kv_cache_peak`.
    pub signal: String,
    /// `client`, `server` or `errors`.
    pub source: String,
    /// The knee point of this signal: the highest load before the climb;
    /// `None` when the signal did not bend (or was not measured).
    pub bend_load: Option<f64>,
    /// The signal's value at the lowest level.
    pub floor: Option<f64>,
    /// The signal's value at the corner and at the next level after it.
    pub at_bend: Option<f64>,
    pub after_bend: Option<f64>,
    /// Kneedle's difference at the knee point: how far (normalized) the
    /// curve lies below the chord from its first to its last level.
    pub prominence: Option<f64>,
    /// One sentence: why it bent or why not.
    pub note: String,
}

/// The knee of the curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Knee {
    /// The corner level (concurrency or req/s).
    pub load: f64,
    /// The signal that bent first (lowest corner; ties go to the one that
    /// rose most relative to its own value at the corner).
    pub first_signal: String,
    /// Every signal whose corner is at this level, first signal first.
    pub signals: Vec<String>,
    /// The rule, in words, with its source.
    pub rule: String,
}

/// The recommended operating point and what to expect there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SafePoint {
    /// Share of the knee's load (default 0.7).
    pub share: f64,
    /// share × knee load.
    pub load: f64,
    /// What to configure: the load rounded down to a whole number of users
    /// in closed loop; equal to `load` in open loop.
    pub configured_load: f64,
    /// Expected values at `load`, interpolated linearly between the two
    /// measured levels around it.
    pub ttft_p95_ms: Option<f64>,
    pub itl_p95_ms: Option<f64>,
    pub output_tokens_per_s: f64,
    pub requests_per_s: f64,
    /// The measured level whose bundle is this bundle's headline.
    pub headline_load: f64,
}

/// A long run at one level, cut into intervals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SoakSection {
    /// Length of one snapshot, seconds.
    pub interval_s: f64,
    /// One snapshot per interval of the measurement window, in time order.
    pub snapshots: Vec<SoakSnapshot>,
    /// Trend of each tracked series over the snapshots.
    pub trends: Vec<SoakTrend>,
}

/// What one interval of a soak run looked like.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SoakSnapshot {
    /// Interval bounds, seconds since the measurement window opened.
    pub start_s: f64,
    pub end_s: f64,
    /// Requests started in the interval, and how many of them failed.
    pub requests: u64,
    pub failed: u64,
    pub error_rate: f64,
    pub ttft_p50_ms: Option<f64>,
    pub ttft_p95_ms: Option<f64>,
    pub tpot_p95_ms: Option<f64>,
    pub e2e_p95_ms: Option<f64>,
    /// Output tokens of requests started in the interval / interval length.
    pub output_tokens_per_s: f64,
    /// The client's resident memory at the end of the interval, MiB.
    pub client_rss_mib: Option<f64>,
    /// The server's resident memory (`process_resident_memory_bytes`), MiB.
    pub server_rss_mib: Option<f64>,
    /// Server gauges at the scrape nearest the interval's end (within half
    /// an interval).
    pub server_running: Option<f64>,
    pub server_waiting: Option<f64>,
    pub kv_cache_usage: Option<f64>,
}

/// A monotonic trend test over a soak series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SoakTrend {
    /// `ttft_p95_ms`, `error_rate`, `client_rss_mib`, `server_rss_mib`, …
    pub series: String,
    /// Snapshots with a value.
    pub points: u64,
    /// Theil–Sen slope, units of the series per hour.
    pub slope_per_hour: Option<f64>,
    /// Slope per hour relative to the series' median.
    pub relative_per_hour: Option<f64>,
    /// Two-sided Mann–Kendall p-value.
    pub p_value: Option<f64>,
    /// A significant trend in the bad direction (rising latency, errors or
    /// memory; falling throughput).
    pub drifting: bool,
    /// One sentence for the report.
    pub note: String,
}

/// Server-side numbers from Prometheus `/metrics` (vLLM, llama.cpp, the
/// simulator), as deltas over the measurement window (histograms, counters)
/// and peaks over the run (gauges). Quantiles are interpolated inside
/// histogram buckets (PromQL `histogram_quantile`), so they are exact only to
/// the bucket bounds; means are exact (sum / count).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServerTelemetry {
    /// `vllm`, `llamacpp`, `tokengate_sim` or `unknown`.
    pub kind: String,
    /// The scraped URL.
    pub metrics_url: String,
    /// Successful scrapes.
    pub scrapes: u64,
    /// Server-side time to first token.
    pub ttft_ms: Option<LatencyStats>,
    /// Time requests waited in the server's queue before being scheduled.
    pub queue_time_ms: Option<LatencyStats>,
    /// Server-side inter-token latency.
    pub itl_ms: Option<LatencyStats>,
    /// Server-side request latency.
    pub e2e_ms: Option<LatencyStats>,
    /// Prefill phase per request.
    pub prefill_ms: Option<LatencyStats>,
    /// Decode phase per request.
    pub decode_ms: Option<LatencyStats>,
    /// Requests the server finished in the window.
    pub requests_completed: Option<f64>,
    /// Prompt tokens the server processed in the window.
    pub prompt_tokens: Option<f64>,
    /// Tokens the server generated in the window.
    pub generation_tokens: Option<f64>,
    /// Sequences preempted (KV cache pressure) in the window.
    pub preemptions: Option<f64>,
    /// Most requests running at once (peak of the scraped gauge).
    pub peak_running: Option<f64>,
    /// Most requests waiting at once.
    pub peak_waiting: Option<f64>,
    /// Highest KV-cache usage seen (0–1).
    pub peak_kv_cache_usage: Option<f64>,
    /// The run's scrapes, in time order (gauges as scraped); beyond 10,000
    /// points every other one is dropped, so a day-long soak stays bounded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<ServerScrape>,
}

/// One scrape of the server's gauges.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServerScrape {
    /// Seconds since the measurement window opened (negative during warm-up).
    pub t_s: f64,
    pub running: Option<f64>,
    pub waiting: Option<f64>,
    pub kv_cache_usage: Option<f64>,
    /// `process_resident_memory_bytes` of the server process.
    pub rss_bytes: Option<f64>,
}

/// The bundle key (DESIGN.md §4). Empty strings mean "not given".
#[derive(
    Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub struct BundleKey {
    /// Model name and version under test, e.g. `llama-3.1-8b-instruct@2024-07`.
    pub model_version: String,
    /// Serving image or engine build, e.g. `vllm/vllm-openai:v0.6.3`.
    pub serving_image: String,
    /// Hardware the endpoint runs on, e.g. `1xH100-80GB`.
    pub hardware_profile: String,
    /// Tokenizer the token counts and synthetic prompts use.
    pub tokenizer: String,
}

/// Git state of the directory the run started in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GitInfo {
    /// Commit hash of HEAD.
    pub commit: String,
    /// Branch name, if HEAD is on a branch.
    pub branch: Option<String>,
    /// True when tracked files differ from HEAD.
    pub dirty: bool,
}

/// Load shape summary (part of the workload digest too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LoadInfo {
    /// `closed` (fixed concurrency) or `open` (arrival rate).
    pub mode: String,
    /// Closed loop: number of concurrent users.
    pub concurrency: Option<u32>,
    /// Open loop: target requests per second.
    pub rate: Option<f64>,
    /// Open loop: `constant` or `poisson` arrivals.
    pub arrival: Option<String>,
    /// Requests planned for the measurement window (count mode).
    pub requests: Option<u64>,
    /// Planned measurement duration in seconds (duration mode).
    pub duration_s: Option<f64>,
    /// Warm-up requests excluded from metrics.
    pub warmup_requests: u64,
}

/// The client's own resource use: a saturated client makes numbers suspect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClientInfo {
    /// User CPU seconds of the tokengate process over the run.
    pub cpu_user_s: f64,
    /// System CPU seconds of the tokengate process over the run.
    pub cpu_system_s: f64,
    /// CPU seconds divided by wall seconds (1.0 = one core fully busy).
    pub cpu_utilization: f64,
    /// Client CPU time per request, microseconds.
    pub cpu_per_request_us: f64,
    /// Open loop: how late requests started against their schedule, ms.
    pub schedule_lag_p99_ms: f64,
    /// Open loop: the largest lag, ms.
    pub schedule_lag_max_ms: f64,
    /// True when the client was likely the bottleneck (CPU near a core, or
    /// the open-loop schedule fell behind); numbers from such runs are suspect.
    pub saturated: bool,
    /// Human-readable reasons for `saturated`.
    pub warnings: Vec<String>,
    /// The client host's CPU signals over the run.
    #[serde(default)]
    pub host: HostSignals,
}

/// CPU pressure and load of the machine the client ran on. On a shared host
/// (a CI runner with the server beside the client) these explain noisy runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HostSignals {
    /// Logical CPUs.
    pub cpus: u32,
    /// Share of the run's wall time during which some task waited for a CPU
    /// (`/proc/pressure/cpu` "some" total, Linux PSI); `None` where absent.
    pub cpu_pressure_some: Option<f64>,
    /// One-minute load average at the start and end of the run.
    pub load1_start: Option<f64>,
    pub load1_end: Option<f64>,
}

/// How and where the run happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Context {
    /// `name` from the workload file.
    pub workload_name: String,
    /// sha256 of everything that must match for two runs to be comparable:
    /// prompts, max_tokens, sampling, ignore_eos, load shape, streaming, API kind.
    pub workload_digest: String,
    /// `sim` (built-in simulator) or `http`.
    pub endpoint_kind: String,
    /// Endpoint URL with any credentials removed (`sim://NAME` for the simulator).
    pub endpoint: String,
    /// `chat` or `completions`.
    pub api: String,
    /// Model name sent in requests.
    pub model: String,
    /// Whether responses were streamed (SSE).
    pub streaming: bool,
    /// tokengate version that wrote the bundle.
    pub tool_version: String,
    /// Git state of the working directory, when inside a repository.
    pub git: Option<GitInfo>,
    /// CI run URL from the environment (GitHub Actions, GitLab CI).
    pub ci_run_url: Option<String>,
    /// Host name of the machine that ran the client.
    pub runner_host: String,
    /// RFC 3339 UTC start of the run (warm-up included).
    pub started_at: String,
    /// RFC 3339 UTC end of the run.
    pub ended_at: String,
    /// Wall time of the measurement window, seconds (warm-up excluded).
    pub window_s: f64,
    /// False when the run was interrupted (SIGINT/SIGTERM) or cut short.
    pub complete: bool,
    /// Why the run is incomplete.
    pub incomplete_reason: Option<String>,
    /// Token count source across successful requests: `usage`, `tokenizer`,
    /// `events`, or `mixed`.
    pub token_source: String,
    /// Successful requests per token source.
    pub token_sources: BTreeMap<String, u64>,
    /// Load shape.
    pub load: LoadInfo,
    /// Seed of every random choice of the plan.
    pub seed: u64,
    /// Engine flags of the server under test (a change-under-test field).
    pub engine_flags: Option<String>,
    /// Free-form metadata from `--meta KEY=VALUE` that is not a key field.
    pub meta: BTreeMap<String, String>,
    /// The client's own resource use.
    pub client: ClientInfo,
    /// Notes the run produced for humans (e.g. schedule lag, token source fallback).
    pub warnings: Vec<String>,
}

/// Summary of one latency metric, milliseconds. Quantiles from exact samples
/// use linear interpolation between order statistics (Hyndman & Fan 1996,
/// definition 7 — R's and NumPy's default); ITL quantiles come from the HDR
/// histogram (3 significant digits). `None` when there were no values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LatencyStats {
    pub count: u64,
    pub mean: Option<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// Request counts of the measurement window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RequestCounts {
    /// Requests sent (succeeded + failed + cancelled).
    pub attempted: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Planned cancellations (not errors).
    pub cancelled: u64,
    /// Requests that needed more than one attempt (retry policy on).
    pub retried: u64,
    /// Warm-up requests, excluded from every other number.
    pub warmup: u64,
}

/// Token totals of the measurement window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TokenTotals {
    /// Output tokens of successful requests.
    pub output_total: u64,
    /// Prompt tokens of successful requests.
    pub input_total: u64,
    /// Mean output tokens per successful request.
    pub output_mean: Option<f64>,
    /// Requested `max_tokens` (when fixed), for output-length checks.
    pub max_tokens: Option<u32>,
    /// Content events that carried more than one token (their ITL gap was
    /// divided over the tokens).
    pub multi_token_events: u64,
}

/// Summary metrics of the measurement window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Metrics {
    /// Time to first content event.
    pub ttft_ms: LatencyStats,
    /// Time to response headers.
    pub ttfb_ms: LatencyStats,
    /// Inter-token latency (every gap of every successful request).
    pub itl_ms: LatencyStats,
    /// Time per output token after the first, per successful request.
    pub tpot_ms: LatencyStats,
    /// Request start to last byte, successful requests.
    pub e2e_ms: LatencyStats,
    /// Server-side queue time when the server exposes it; `None` = unavailable.
    pub queue_time_ms: Option<LatencyStats>,
    /// E2E of requests that needed retries (reported apart).
    pub retried_e2e_ms: LatencyStats,
    /// Per-request decode rate, tokens/s: (tokens − 1) / (E2E − TTFT).
    pub decode_tokens_per_s: LatencyStats,
    /// Output tokens of successful requests / window wall time.
    pub output_tokens_per_s: f64,
    /// Prompt tokens of successful requests / window wall time.
    pub input_tokens_per_s: f64,
    /// Successful requests / window wall time.
    pub requests_per_s: f64,
    pub requests: RequestCounts,
    pub tokens: TokenTotals,
    /// Failures by kind (`connect`, `timeout`, `http_4xx`, …); every kind listed.
    pub errors: BTreeMap<String, u64>,
    /// failed / (attempted − cancelled).
    pub error_rate: f64,
    /// Failures after the first byte / (attempted − cancelled).
    pub stream_error_rate: f64,
    /// Cost per 1,000 successful responses in the pricing block's currency;
    /// `None` without a pricing block.
    pub cost_per_1k: Option<f64>,
    /// Share of attempted (non-cancelled) requests that met every SLO; `None` without SLOs.
    pub goodput: Option<f64>,
    /// Share of checked responses that met their quality expectation.
    pub quality_pass_rate: Option<f64>,
}

/// Serialized HDR histograms (V2 + deflate, base64) of microsecond values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Histograms {
    pub ttft_us: String,
    pub ttfb_us: String,
    pub itl_us: String,
    pub tpot_us: String,
    pub e2e_us: String,
}

/// Outcome of one sample, as stored in [`Samples::outcome`]: `ok`,
/// `cancelled`, or the error kind's name (`http_5xx`, …), one flat string so
/// the column stays compact and readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SampleOutcome {
    Ok,
    Cancelled,
    Failed(ErrorKind),
}

impl SampleOutcome {
    pub fn is_ok(self) -> bool {
        self == SampleOutcome::Ok
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SampleOutcome::Ok => "ok",
            SampleOutcome::Cancelled => "cancelled",
            SampleOutcome::Failed(kind) => kind.as_str(),
        }
    }

    fn parse(s: &str) -> Option<SampleOutcome> {
        match s {
            "ok" => Some(SampleOutcome::Ok),
            "cancelled" => Some(SampleOutcome::Cancelled),
            _ => ErrorKind::ALL
                .iter()
                .find(|k| k.as_str() == s)
                .map(|&k| SampleOutcome::Failed(k)),
        }
    }
}

impl Serialize for SampleOutcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SampleOutcome {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(d)?;
        SampleOutcome::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown outcome `{text}`, expected `ok`, `cancelled` or an error kind"
            ))
        })
    }
}

impl JsonSchema for SampleOutcome {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SampleOutcome".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut names = vec!["ok", "cancelled"];
        names.extend(ErrorKind::ALL.iter().map(|k| k.as_str()));
        schemars::json_schema!({
            "type": "string",
            "enum": names,
            "description": "`ok`, `cancelled`, or the error kind of a failed request"
        })
    }
}

impl From<crate::client::Outcome> for SampleOutcome {
    fn from(o: crate::client::Outcome) -> Self {
        use crate::client::Outcome;
        match o {
            Outcome::Success => SampleOutcome::Ok,
            Outcome::Cancelled => SampleOutcome::Cancelled,
            Outcome::Failed { kind, .. } => SampleOutcome::Failed(kind),
        }
    }
}

/// Per-request values of the measurement window, one column per field, one
/// entry per request in completion order. Integer microseconds keep both the
/// file and the recorder's memory small (≈45 bytes a request).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Samples {
    /// Send time, µs since the start of the measurement window.
    pub start_us: Vec<u64>,
    /// Time to first content event, µs (`null` when none arrived).
    pub ttft_us: Vec<Option<u32>>,
    /// Time per output token after the first, µs (successful requests with ≥ 2 tokens).
    pub tpot_us: Vec<Option<u32>>,
    /// Request start to last byte (or failure), µs.
    pub e2e_us: Vec<u32>,
    pub output_tokens: Vec<u32>,
    pub input_tokens: Vec<u32>,
    /// Prompt class index.
    pub class: Vec<u16>,
    /// Attempts (1 = first attempt).
    pub attempts: Vec<u32>,
    /// `ok`, `cancelled`, or the error kind.
    pub outcome: Vec<SampleOutcome>,
}

impl Samples {
    pub fn len(&self) -> usize {
        self.outcome.len()
    }
    pub fn is_empty(&self) -> bool {
        self.outcome.is_empty()
    }
}

/// The JSON Schema of [`Bundle`] (draft 2020-12), generated from these types
/// so it cannot drift from them; `src/bundle/bundle.schema.json` is the
/// committed copy that other tools read.
pub fn bundle_json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(Bundle);
    serde_json::to_value(&schema).unwrap_or(serde_json::Value::Null)
}
