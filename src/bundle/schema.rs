//! Versioned serde types of the result bundle (DESIGN.md §4). These are wire
//! types: what goes into the file. Paths listed in DESIGN.md §4 are stable;
//! fields may be added, never renamed.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::kinds::{ErrorKind, ProblemKind, ThroughputBasis, TokenMetric};

/// Bumped when a field changes meaning or is removed. Readers refuse bundles
/// with a newer schema.
pub const SCHEMA_VERSION: u32 = 1;
/// Bumped when a metric definition (DESIGN.md §3) changes; bundles with
/// different metrics versions are incomparable. 2: throughputs are measured
/// over the steady span of the window (`metrics.throughput_span`), no longer
/// over the whole window.
pub const METRICS_VERSION: u32 = 2;

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
    /// The runs of a `--repeat N` bundle (N ≥ 2), in the order they ran;
    /// `samples.run` says which run each request belongs to, and the
    /// metrics above pool every run. Empty for a bundle of one run. The gate
    /// treats each entry as one run of the noise model (run-to-run spread).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repeats: Vec<RepeatRun>,
}

/// One run of a `--repeat N` bundle: its own window and throughput (a
/// throughput is a property of a run's window, so it cannot be recomputed
/// from pooled samples).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RepeatRun {
    /// RFC 3339 UTC start and end of this run (its warm-up included).
    pub started_at: String,
    pub ended_at: String,
    /// Wall time of this run's measurement window, seconds.
    pub window_s: f64,
    /// This run's request counts.
    pub requests: RequestCounts,
    /// This run's throughputs, as `metrics` defines them.
    pub output_tokens_per_s: f64,
    pub input_tokens_per_s: f64,
    pub requests_per_s: f64,
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
    /// Theil–Sen intercept: the trend line's value at the window's opening,
    /// median(yᵢ − slope·xᵢ) with x in hours since then (Sen 1968, JASA
    /// 63(324)), so a report draws the line without refitting it. Absent
    /// where `slope_per_hour` is, and in bundles written before it was stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intercept: Option<f64>,
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

/// The client's own resource use, and whether the client limited the
/// measurement (`saturated`, decided by the client probe in `health`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    /// True when the client limited the measurement: the client probe
    /// (`health`) saw the client's own scheduling delay large enough to
    /// distort TTFT (`health.limited`). A busy host alone (`host`, high CPU
    /// pressure) does not set it. Bundles written before the probe existed
    /// set it from CPU use, open-loop lag or host CPU pressure.
    pub saturated: bool,
    /// Human-readable reasons for `saturated` (empty when it is false).
    pub warnings: Vec<String>,
    /// The client host's CPU signals over the run.
    #[serde(default)]
    pub host: HostSignals,
    /// What the client probe measured over the measurement window; `None`
    /// when the window never opened (a run stopped during warm-up) or the
    /// bundle predates the probe.
    #[serde(default)]
    pub health: Option<ClientHealth>,
}

/// The client probe's reading of the measurement window: how late the
/// client's own runtime and threads got to run, and the verdict whether that
/// delay distorted the measured latencies. A first-token event that reaches
/// the socket while the client's runtime is late is timestamped late by
/// about as much, so the tick lag is the client's share of every TTFT.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClientHealth {
    /// Wall time the probe ran (the measurement window), seconds.
    pub window_s: f64,
    /// Period of the probe's ticker task, ms: it sleeps to absolute
    /// deadlines this far apart on the client's runtime.
    pub tick_period_ms: f64,
    /// Deadlines the ticker covered (missed ones included: a tick that woke
    /// late over several periods counts each deadline it passed).
    pub ticks: u64,
    /// How late the ticker woke after its deadline, ms, over all deadlines:
    /// the delay an event arriving at a random moment of the window would
    /// have met before the client saw it. Includes tokio's 1 ms timer
    /// granularity (a quiet runtime reads 0–1 ms).
    pub tick_lag_p50_ms: f64,
    /// Mean tick lag, ms.
    pub tick_lag_mean_ms: f64,
    /// 95th percentile of the tick lag, ms: about what the client added to
    /// the TTFT p95; the statistic `limited` compares with `limit_ms`.
    pub tick_lag_p95_ms: f64,
    /// 99th percentile of the tick lag, ms.
    pub tick_lag_p99_ms: f64,
    /// Largest tick lag, ms.
    pub tick_lag_max_ms: f64,
    /// Of the time the process's threads were runnable (running or waiting
    /// in a CPU run queue), the share they spent waiting: Σ run-queue wait /
    /// Σ (run-queue wait + CPU time) over the threads alive at the end of
    /// the window (`/proc/self/task/*/schedstat`, Linux). High when the host
    /// starves the client; `None` where schedstat is unavailable.
    pub runnable_wait_share: Option<f64>,
    /// Mean run-queue wait per time a thread of the process was put on a
    /// CPU, µs (Σ wait / Σ dispatches from the same files): how long a woken
    /// client thread typically waited for a CPU.
    pub run_queue_wait_per_dispatch_us: Option<f64>,
    /// Threads of the process whose schedstat was read at the window's end.
    pub threads: Option<u32>,
    /// The client process's CPU time (user + system) per wall second of the
    /// window (1.0 = one core fully busy).
    pub cpu_cores: f64,
    /// The tick-lag p95 above which the client counts as limiting, ms:
    /// the larger of 4 ms and 10 % of the TTFT p50 (E2E p50 without
    /// streaming) less the tick-lag p50, as calibrated in
    /// `tests/tools/client_probe.sh` (see `runinfo::probe::Thresholds`).
    pub limit_ms: f64,
    /// The client limited the measurement: tick-lag p95 above `limit_ms`.
    pub limited: bool,
    /// One sentence naming the numbers behind `limited`.
    pub reason: String,
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
    /// prompts, max_tokens, sampling, ignore_eos, load shape, warm-up,
    /// cancellations, seed, streaming, API kind. Not the sample size
    /// (`load.requests`, `load.duration_s`): since digest version 2 a run of
    /// 100 requests is comparable with one of 200.
    pub workload_digest: String,
    /// The digest's inputs in words, one entry per field (`api`, `streaming`,
    /// `seed`, `prompt_order`, `load` — e.g. `closed, concurrency 16` —,
    /// `warmup`, `cancel`, `classes`, and per class `max_tokens`,
    /// `ignore_eos`, `temperature`, `top_p`, `stop`, `prompts`; prefixed
    /// `CLASS.` when the workload mixes several classes), so a refused
    /// baseline names the field that differs. Empty in bundles written
    /// before it was recorded; the sample size is in `load`, not here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub workload_shape: BTreeMap<String, String>,
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
    /// Whether the run measured what its workload configured; a bundle
    /// written before this was recorded reads as having no problems.
    #[serde(default)]
    pub validity: Validity,
    /// Set when this bundle is one side of an interleaved A/B run
    /// (`tokengate ab`): both sides were measured in the same time window,
    /// so their client and host facts (CPU, probe, host signals) are those
    /// of the one shared client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ab: Option<AbPair>,
    /// Set when this bundle is one shard of a run split over several load
    /// generators (`--shard I/N`); `tokengate merge` joins the shards.
    /// `load` above is the whole run's load, this the shard's part of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// Set on a bundle made by `tokengate merge`: which shards it joins and
    /// how their windows lined up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<MergeInfo>,
    /// Set on a bundle made by `tokengate import` from another tool's
    /// output: which tool, which version and which file. The comparability
    /// contract keeps imported and native bundles apart, and bundles of
    /// different tools (`--allow-imported` overrides); `docs/import.md`
    /// maps each tool's fields to this bundle's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported: Option<ImportInfo>,
}

/// Where an imported bundle came from (`tokengate import`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ImportInfo {
    /// The tool that measured: `vllm` (`vllm bench serve`), `guidellm`,
    /// `aiperf` or `k6`.
    pub tool: String,
    /// That tool's version, as the file states it or `--tool-version`
    /// gave it; `None` when neither says.
    pub version: Option<String>,
    /// The imported file's name (without its directories).
    pub file: String,
    /// sha256 (hex) of the imported file's bytes.
    pub file_digest: String,
    /// True when the file held one entry per request (the bundle's
    /// `samples` are those requests); false for a summary, whose bundle has
    /// no samples, so rules that resample judge nothing.
    pub per_request: bool,
    /// What the bundle needs and the file does not hold, in words (e.g.
    /// `ttfb: not measured by vllm`); those fields are absent or empty,
    /// never made up.
    #[serde(default)]
    pub absent: Vec<String>,
}

/// One shard of a sharded run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ShardInfo {
    /// This shard, 1-based (`--shard 2/4` is index 2 of total 4).
    pub index: u32,
    /// Shards of the run.
    pub total: u32,
    /// Requests i with i mod total = index − 1 were this shard's.
    pub split: String,
    /// Closed loop: this shard's users; open loop: its rate, req/s.
    pub concurrency: Option<u32>,
    pub rate: Option<f64>,
    /// Count mode: this shard's measured requests.
    pub requests: Option<u64>,
    /// RFC 3339 UTC, milliseconds: when the measurement window opened and
    /// closed on this host's clock (what `merge` lines up).
    pub window_started_at: String,
    pub window_ended_at: String,
    /// `--start-at`: the wall-clock instant every shard was told to start
    /// at, and how late this one started after it, ms.
    pub start_at: Option<String>,
    pub start_late_ms: Option<f64>,
}

/// How a merged bundle was made (`tokengate merge`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MergeInfo {
    /// Shards of the run.
    pub total: u32,
    /// The shards merged, by index.
    pub shards: Vec<MergedShard>,
    /// Shard indices that were not given (`--allow-incomplete`); the
    /// bundle is then marked incomplete.
    pub missing: Vec<u32>,
    /// Length of the windows' intersection over the shortest window.
    pub overlap: f64,
    /// The least overlap `merge` accepted (`--min-overlap`).
    pub min_overlap: f64,
    /// The shard whose server telemetry this bundle keeps: every shard
    /// scraped the same server over about the same window, so one set
    /// describes it (the lowest index's; summing would count it N times).
    pub telemetry_from: Option<u32>,
}

/// One shard of a merged bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MergedShard {
    pub index: u32,
    /// The shard bundle's file and sha256.
    pub file: String,
    pub sha256: String,
    /// Host name of the shard's load generator.
    pub runner_host: String,
    pub window_started_at: String,
    pub window_ended_at: String,
    /// Measured requests of the shard.
    pub requests: u64,
    pub client_saturated: bool,
}

/// One side of an interleaved A/B run (`tokengate ab`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AbPair {
    /// Which side this bundle is.
    pub side: AbSide,
    /// The other side's endpoint, credentials removed.
    pub other_endpoint: String,
    /// Seed of the A/B order within each block of two request slots (the
    /// workload's seed).
    pub order_seed: u64,
}

/// Baseline (A) or candidate (B) of an A/B run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AbSide {
    Baseline,
    Candidate,
}

/// Whether a run measured what its workload configured (`src/validity.rs`).
/// A run with problems is **invalid**: its numbers say nothing about the
/// server, so a gate neither passes nor fails it, and `baseline promote`
/// refuses it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Validity {
    /// Why the run is invalid, each with what to change; empty = valid.
    pub problems: Vec<ValidityProblem>,
    /// Metrics computed from token counts that are known to be wrong (the
    /// counting tokenizer is not the model's): the gate's names
    /// (`output_tokens_per_s`, `tpot`, …); a rule on one of them judges
    /// nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub untrusted_metrics: Vec<TokenMetric>,
    /// What was checked and found, in words, valid or not (e.g. `open loop:
    /// 399 of 400 scheduled starts, rate 99.9 % of 40 req/s, start lag p99
    /// 1.2 ms`).
    #[serde(default)]
    pub checked: Vec<String>,
}

impl Validity {
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One reason a run is invalid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ValidityProblem {
    /// `window_cut`, `output_length`, `rate_missed` or `client_limited`.
    pub kind: ProblemKind,
    /// What happened, with the numbers.
    pub message: String,
    /// What to change so the next run is valid.
    pub advice: String,
}

/// Summary of one latency metric, milliseconds. Quantiles from exact samples
/// use linear interpolation between order statistics (Hyndman & Fan 1996,
/// definition 7 — R's and NumPy's default); ITL quantiles come from the HDR
/// histogram (3 significant digits); server quantiles are interpolated in
/// Prometheus histogram buckets (see `buckets_ms`). `None` when there were
/// no values.
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
    /// Server quantiles only (`server.*`, `metrics.queue_time_ms`): by
    /// quantile (`p50`, `p90`, `p95`, `p99`), the bounds in ms of the
    /// histogram bucket the quantile was interpolated in, `[lower, upper]`
    /// (`upper` is `null` for the `+Inf` bucket). The quantile is known only
    /// to lie in that bucket: a server p95 of 58.3 ms from a 40–60 ms bucket
    /// says "somewhere in 40–60 ms". Empty, and left out, for the client's
    /// own metrics, whose quantiles come from the requests themselves.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub buckets_ms: BTreeMap<String, (f64, Option<f64>)>,
}

impl LatencyStats {
    /// The resolution of a bucketed quantile in words, `40–60 ms` or
    /// `≥ 300 ms` (the `+Inf` bucket); `None` for an exact quantile.
    /// `quantile` is a field name: `p50`, `p90`, `p95` or `p99`.
    pub fn bucket_text(&self, quantile: &str) -> Option<String> {
        let &(lower, upper) = self.buckets_ms.get(quantile)?;
        Some(match upper {
            Some(upper) => format!("{lower}–{upper} ms"),
            None => format!("≥ {lower} ms"),
        })
    }
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
    /// Output tokens of successful requests per second over
    /// `throughput_span`: each request's tokens spread over its decode
    /// phase, the share inside the span counted.
    pub output_tokens_per_s: f64,
    /// Prompt tokens of successful requests per second over
    /// `throughput_span` (each spread over send → first token).
    pub input_tokens_per_s: f64,
    /// Successful requests per second over `throughput_span` (each spread
    /// over send → end).
    pub requests_per_s: f64,
    /// Length of the steady span, seconds: from the end of the last warm-up
    /// request (or the window start, if later) to the start of the last
    /// measured request, where every user was on a measured request. 0 when
    /// there is none; see `throughput_span` for whether it was used.
    #[serde(default)]
    pub steady_window_s: f64,
    /// The span the three throughputs above were measured over.
    #[serde(default)]
    pub throughput_span: ThroughputSpan,
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

/// The part of the measurement window the throughputs were measured over.
/// A count-based closed loop drains at the end (in-flight requests fall from
/// the concurrency to 0) and overlaps its warm-up at the start, so over the
/// whole window a server past its knee seems to slow down; the steady span
/// leaves both out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ThroughputSpan {
    /// `steady` (the steady span, `metrics.steady_window_s` long) or
    /// `window` (the whole window: the steady span was too short, or the
    /// bundle predates it).
    pub basis: ThroughputBasis,
    /// Start and end of the span, seconds since the window opened.
    pub start_s: f64,
    pub end_s: f64,
    /// Why the whole window was used; `None` when the steady span was.
    pub fallback: Option<String>,
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
            _ => ErrorKind::from_name(s).map(SampleOutcome::Failed),
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
    /// Index into [`Bundle::repeats`] of each request's run (`--repeat N`);
    /// empty when the bundle holds one run. Send times (`start_us`) count
    /// from the start of the request's own run's window.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub run: Vec<u16>,
    /// Shard (1-based `context.merged.shards[].index`) of each request of a
    /// merged bundle; empty otherwise. Send times (`start_us`) of a merged
    /// bundle count from the earliest shard's window start, on the shards'
    /// wall clocks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shard: Vec<u16>,
}

impl Samples {
    pub fn len(&self) -> usize {
        self.outcome.len()
    }
    pub fn is_empty(&self) -> bool {
        self.outcome.is_empty()
    }

    /// The first column whose length differs from `outcome`'s (one entry
    /// per request), as an error detail; `run` and `shard` may also be
    /// empty (a bundle of one run, not merged). Every reader indexes the
    /// columns together, so a hand-edited bundle with a short column is
    /// refused where it is read, not met by a panic later.
    pub fn ragged_column(&self) -> Option<String> {
        let n = self.outcome.len();
        let columns = [
            ("start_us", self.start_us.len()),
            ("ttft_us", self.ttft_us.len()),
            ("tpot_us", self.tpot_us.len()),
            ("e2e_us", self.e2e_us.len()),
            ("output_tokens", self.output_tokens.len()),
            ("input_tokens", self.input_tokens.len()),
            ("class", self.class.len()),
            ("attempts", self.attempts.len()),
        ];
        let optional = [("run", self.run.len()), ("shard", self.shard.len())];
        columns
            .into_iter()
            .find(|&(_, len)| len != n)
            .or_else(|| optional.into_iter().find(|&(_, len)| len != 0 && len != n))
            .map(|(name, len)| {
                format!(
                    "field `samples.{name}` has {len} entries, expected one per request ({n}, as `samples.outcome`)"
                )
            })
    }

    /// Appends `other`'s per-request columns, its send times shifted by
    /// `start_offset_us` (a common clock); the `run` and `shard` columns are
    /// the caller's to fill (they say which part a request came from).
    pub fn append(&mut self, other: &Samples, start_offset_us: u64) {
        self.start_us.extend(
            other
                .start_us
                .iter()
                .map(|&t| t.saturating_add(start_offset_us)),
        );
        self.ttft_us.extend_from_slice(&other.ttft_us);
        self.tpot_us.extend_from_slice(&other.tpot_us);
        self.e2e_us.extend_from_slice(&other.e2e_us);
        self.output_tokens.extend_from_slice(&other.output_tokens);
        self.input_tokens.extend_from_slice(&other.input_tokens);
        self.class.extend_from_slice(&other.class);
        self.attempts.extend_from_slice(&other.attempts);
        self.outcome.extend_from_slice(&other.outcome);
    }
}

/// The JSON Schema of [`Bundle`] (draft 2020-12), generated from these types
/// so it cannot drift from them; `src/bundle/bundle.schema.json` is the
/// committed copy that other tools read.
pub fn bundle_json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(Bundle);
    serde_json::to_value(&schema).unwrap_or(serde_json::Value::Null)
}
