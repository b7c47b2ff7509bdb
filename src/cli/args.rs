//! clap types (`Cli*`): what the command line accepts. Value parsers only;
//! conversion into domain types happens in `convert.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "tokengate",
    version,
    about = "CI performance gate and regression checker for LLM inference endpoints",
    long_about = "Runs a short, fixed-prompt benchmark against an OpenAI-compatible endpoint, writes a result bundle, and gates it statistically against stored baselines.\n\nExit codes: 0 pass, 1 fail (regression), 2 tool or configuration error, 3 inconclusive (or ungated: no comparable baseline for any relative rule) when the gate's policy blocks, 4 invalid run (the client limited the measurement, the window was cut, or output lengths prove a wrong tokenizer: no rule judged), 130 interrupted."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: CliCommand,
}

#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Run a workload against an endpoint and write a result bundle.
    Run(CliRunArgs),
    /// Join the shard bundles of a run split with `--shard I/N` into one
    /// bundle; refuses shards of different runs, duplicated or missing
    /// shards and windows that do not line up (exit 2, nothing written).
    Merge(CliMergeArgs),
    /// Compare a bundle with its baseline under a gate file; exit code = verdict.
    Gate(CliGateArgs),
    /// `run` then `gate` in one step (what CI calls).
    Check(CliCheckArgs),
    /// Store, list, show and explain baselines.
    #[command(subcommand)]
    Baseline(CliBaselineCommand),
    /// Render the reports again from a bundle (and its baseline); exit 0.
    Report(CliGateArgs),
    /// Create or update one PR comment (GitHub) or MR note (GitLab).
    Comment(CliCommentArgs),
    /// Serve the built-in simulated OpenAI-compatible endpoint.
    Sim(CliSimArgs),
    /// Step the load up level by level: the saturation curve, the knee and
    /// the safe operating point, with charts.
    Sweep(CliSweepArgs),
    /// A long run at one level with per-interval snapshots and trend tests
    /// (latency drift, memory growth, error creep).
    Soak(CliSoakArgs),
    /// Measure the run-to-run noise of one setup (N A/A runs) and store it
    /// with the baseline set, so the gate knows how much runs differ.
    Calibrate(CliCalibrateArgs),
    /// Measure a baseline and a candidate endpoint in one time window, their
    /// requests interleaved, and gate the candidate against the baseline.
    Ab(CliAbArgs),
    /// Write a bundle in another tool's format: bmf (Bencher),
    /// benchmark-action-smaller / benchmark-action-bigger
    /// (github-action-benchmark), csv (per request), csv-summary, jsonl (per
    /// request), openmetrics.
    Export(CliExportArgs),
    /// Turn another tool's result file into a bundle that can be promoted
    /// and gated: vllm (`vllm bench serve --save-result --save-detailed`),
    /// guidellm (`guidellm run --output kind=json`), aiperf
    /// (`profile_export.jsonl`), k6 (`--summary-export`, a summary: rules
    /// that resample per-request values are inconclusive).
    /// Imported bundles are compared only with bundles imported from the
    /// same tool unless `--allow-imported` is given to gate, check or
    /// baseline explain.
    Import(CliImportArgs),
    /// A baseline set's promoted runs over time (the directory, or every
    /// commit of its git history): a table, change points of p50/p95 TTFT,
    /// ITL and output tokens/s (e-divisive means), SVG charts.
    History(CliHistoryArgs),
    /// Write the shell completions and man pages of a release archive.
    #[command(hide = true)]
    ReleaseAssets(CliReleaseAssetsArgs),
}

#[derive(Debug, Args, Clone)]
pub struct CliExportArgs {
    /// The bundle to export.
    pub bundle: PathBuf,
    /// bmf, benchmark-action-smaller, benchmark-action-bigger, csv,
    /// csv-summary, jsonl or openmetrics.
    #[arg(long)]
    pub format: String,
    /// The file to write (an export is never printed: it holds key values).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args, Clone)]
pub struct CliImportArgs {
    /// The file's format: vllm, guidellm, aiperf or k6.
    pub format: String,
    /// The tool's result file.
    pub file: PathBuf,
    /// The bundle to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Bundle key field or metadata: `model_version=…`, `serving_image=…`,
    /// `hardware_profile=…`, `tokenizer=…`, `engine_flags=…`, or any other key.
    #[arg(long = "meta", value_name = "KEY=VALUE", value_parser = parse_meta)]
    pub meta: Vec<(String, String)>,
    /// Workload name the bundle is stored under (default: `vllm-bench-serve`
    /// for vllm, `guidellm-run` for guidellm, `aiperf-profile` for aiperf,
    /// `k6-run` for k6).
    #[arg(long, value_name = "NAME")]
    pub workload: Option<String>,
    /// Version of the tool that wrote FILE, when the file does not record
    /// it (vLLM's, AIPerf's JSONL and k6's do not): stored in
    /// `context.imported.version`.
    #[arg(long, value_name = "VERSION")]
    pub tool_version: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct CliHistoryArgs {
    /// The set: a path part (`quickstart/sim`) or key text, as `baseline show`.
    pub set: String,
    #[command(flatten)]
    pub baselines: CliBaselineArgs,
    /// Read every first-parent commit of `--baseline-ref` (or `HEAD`), not
    /// only the runs the directory keeps now.
    #[arg(long)]
    pub git_history: bool,
    /// Directory for the SVG charts and `history.json`.
    #[arg(long, default_value = "tokengate-out/history")]
    pub out_dir: PathBuf,
    /// Largest permutation p-value that accepts a change point.
    #[arg(long, default_value_t = 0.01)]
    pub significance: f64,
}

/// `release-assets`: used by `scripts/package-release.sh`, not by users.
#[derive(Debug, Args, Clone)]
pub struct CliReleaseAssetsArgs {
    /// Directory for `completions/` and `man/`.
    pub out_dir: PathBuf,
}

/// Where baselines live.
#[derive(Debug, Args, Clone)]
pub struct CliBaselineArgs {
    /// Directory of promoted baselines.
    #[arg(long, default_value = "baselines")]
    pub baseline_dir: PathBuf,
    /// Read the baselines directory at this git ref (e.g. `origin/main`)
    /// without a checkout, so a change cannot lower its own bar.
    #[arg(long)]
    pub baseline_ref: Option<String>,
}

/// Gate and report options.
#[derive(Debug, Args, Clone)]
pub struct CliGateOptions {
    /// Gate file (YAML).
    #[arg(long, default_value = "gates/default.yaml")]
    pub gate: PathBuf,
    #[command(flatten)]
    pub baselines: CliBaselineArgs,
    /// Waivers file (default: `waivers.yaml` beside the gate file, if present).
    #[arg(long)]
    pub waivers: Option<PathBuf>,
    /// Write JUnit XML here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write the Markdown report here.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Write the JSON verdict here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Markdown template (minijinja) to use instead of the built-in one.
    #[arg(long)]
    pub template: Option<PathBuf>,
    /// What an inconclusive (or all-skipped) result does, overriding the
    /// gate file's `policy.inconclusive`: `warn` (exit 0) or `block` (exit 3).
    #[arg(long, value_name = "block|warn", value_parser = parse_inconclusive)]
    pub inconclusive: Option<crate::gate::InconclusivePolicy>,
    /// Compare an imported bundle (`tokengate import`) with native ones, and
    /// bundles imported from different tools; by default they are
    /// incomparable, because each tool times TTFT, ITL and E2E between
    /// different events (docs/import.md).
    #[arg(long)]
    pub allow_imported: bool,
    #[command(flatten)]
    pub publish: CliPublishArgs,
}

/// Publishing the result to the CI platform (`gate` and `check`; `report`
/// ignores these). None of it changes the exit code.
#[derive(Debug, Args, Clone, Default)]
pub struct CliPublishArgs {
    /// Write the GitHub Actions job summary, step outputs and annotations
    /// (automatic when `GITHUB_ACTIONS=true`).
    #[arg(long)]
    pub github_actions: bool,
    /// Write GitLab's `load_performance.json` and `metrics.txt` reports into
    /// this directory (default `REPORT_DIR/gitlab` when `GITLAB_CI=true`).
    #[arg(long, value_name = "DIR")]
    pub gitlab_reports: Option<PathBuf>,
    /// Create a GitHub check run with the verdict (token from
    /// `GITHUB_TOKEN`, repository from `GITHUB_REPOSITORY`, API from
    /// `GITHUB_API_URL`; needs `permissions: checks: write`).
    #[arg(long)]
    pub check_run: bool,
    /// Name of the check run (what a required status check names).
    #[arg(long, value_name = "NAME", requires = "check_run")]
    pub check_run_name: Option<String>,
    /// Commit of the check run (default `GITHUB_SHA`; on pull requests pass
    /// the head SHA, `github.event.pull_request.head.sha`).
    #[arg(long, value_name = "SHA", requires = "check_run")]
    pub head_sha: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct CliMergeArgs {
    /// Shard bundles (`tokengate run --shard I/N --out …`), one per shard.
    #[arg(required = true, value_name = "SHARD.json")]
    pub shards: Vec<PathBuf>,
    /// Where to write the merged bundle.
    #[arg(long, value_name = "BUNDLE.json")]
    pub out: PathBuf,
    /// Merge even when shards are missing; the bundle is marked incomplete
    /// (so `baseline promote` refuses it).
    #[arg(long)]
    pub allow_incomplete: bool,
    /// Least overlap of the shards' measurement windows, as a share of the
    /// shortest window (`90%` or `0.9`): less means the clocks or the
    /// starts were off.
    #[arg(long, default_value = "90%", value_parser = parse_share)]
    pub min_overlap: f64,
}

#[derive(Debug, Args, Clone)]
pub struct CliGateArgs {
    /// Bundle to judge.
    pub bundle: PathBuf,
    #[command(flatten)]
    pub options: CliGateOptions,
}

#[derive(Debug, Args, Clone)]
pub struct CliCheckArgs {
    #[command(flatten)]
    pub run: CliRunArgs,
    #[command(flatten)]
    pub gate: CliGateOptions,
    /// Directory for the default report files (`report.md`, `junit.xml`,
    /// `verdict.json`) when `--markdown`/`--junit`/`--json` are not given.
    #[arg(long, default_value = "tokengate-out")]
    pub report_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum CliBaselineCommand {
    /// Store a complete bundle as a baseline (keeps the last K runs of its set).
    Promote {
        bundle: PathBuf,
        #[arg(long, default_value = "baselines")]
        baseline_dir: PathBuf,
        #[arg(long, default_value_t = crate::baseline::DEFAULT_KEEP)]
        keep: usize,
    },
    /// List stored baseline sets.
    List {
        #[command(flatten)]
        baselines: CliBaselineArgs,
    },
    /// Show one baseline set (by path prefix or key text).
    Show {
        key: String,
        #[command(flatten)]
        baselines: CliBaselineArgs,
    },
    /// Explain which baseline a bundle would be compared with, and why every
    /// other one was refused.
    Explain {
        bundle: PathBuf,
        #[command(flatten)]
        baselines: CliBaselineArgs,
        /// Compare an imported bundle with native ones and with bundles of
        /// other tools, as `gate --allow-imported` does.
        #[arg(long)]
        allow_imported: bool,
    },
}

#[derive(Debug, Args, Clone)]
#[command(group(clap::ArgGroup::new("platform").required(true).args(["github", "gitlab"])))]
pub struct CliCommentArgs {
    /// The Markdown report to post.
    #[arg(long)]
    pub markdown: PathBuf,
    /// Post to a GitHub pull request (token from `GITHUB_TOKEN`).
    #[arg(long)]
    pub github: bool,
    /// Post to a GitLab merge request (token from `GITLAB_TOKEN` or `CI_JOB_TOKEN`).
    #[arg(long)]
    pub gitlab: bool,
    /// API base URL (default from the CI environment: `GITHUB_API_URL` /
    /// `CI_API_V4_URL`).
    #[arg(long)]
    pub api_url: Option<String>,
    /// GitHub `owner/name` (default `GITHUB_REPOSITORY`) or GitLab project id
    /// or path (default `CI_PROJECT_ID`).
    #[arg(long)]
    pub repo: Option<String>,
    /// Pull request number / merge request IID (default from the CI environment).
    #[arg(long)]
    pub number: Option<u64>,
    /// Which tokengate comment to create or update when several jobs comment
    /// on one PR/MR (one comment per key; letters, digits, `.`, `_`, `-`).
    /// Without it, the one unkeyed comment.
    #[arg(long, value_name = "KEY")]
    pub key: Option<crate::ci::CommentKey>,
}

/// What every command that runs a workload accepts besides the workload
/// file, where the bundle goes and the load (`run`, `check`, `soak`, `sweep`).
#[derive(Debug, Args, Clone)]
pub struct CliWorkloadArgs {
    /// Endpoint URL (`http://HOST:PORT/v1`) or `sim://NAME`; overrides the workload.
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Bundle key field or metadata: `model_version=…`, `serving_image=…`,
    /// `hardware_profile=…`, `tokenizer=…`, `engine_flags=…`, or any other key.
    #[arg(long = "meta", value_name = "KEY=VALUE", value_parser = parse_meta)]
    pub meta: Vec<(String, String)>,
    /// Name of the endpoint in reports, so merged JUnit reports of several
    /// jobs stay apart (stored as the metadata `label`; default: the
    /// endpoint's host).
    #[arg(long, value_name = "NAME")]
    pub label: Option<String>,
    /// Measured requests (overrides `requests`/`duration`; per level in a sweep).
    #[arg(long)]
    pub requests: Option<u64>,
    /// Measurement duration, e.g. `30s` (overrides `requests`/`duration`;
    /// per level in a sweep).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Seed of every random choice of the plan.
    #[arg(long)]
    pub seed: Option<u64>,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args, Clone)]
pub struct CliRunArgs {
    /// Workload file (YAML).
    pub workload: PathBuf,
    #[command(flatten)]
    pub common: CliWorkloadArgs,
    /// Where to write the bundle [default: tokengate-out/bundle.json; for
    /// `check`, bundle.json in --report-dir].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Closed loop with this many concurrent users.
    #[arg(long, conflicts_with = "rate")]
    pub concurrency: Option<u32>,
    /// Open loop at this many requests per second (Poisson arrivals).
    // A negative rate reaches the rate check (an error naming `--rate`),
    // not clap's hint to write `-- -5`.
    #[arg(long, allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// Run the workload this many times back to back (1–20), each run with
    /// its own warm-up, into one bundle: the gate then sees the run-to-run
    /// spread of the runs themselves.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=20))]
    pub repeat: u32,
    /// Send only shard I of N of the plan (1-based, e.g. `2/4`): request i
    /// goes to shard (i mod N) + 1, open-loop arrivals keep the one-process
    /// schedule, closed-loop users are split. `auto` reads
    /// `JOB_COMPLETION_INDEX` (Kubernetes, 0-based; N from --shard-total or
    /// `TOKENGATE_SHARD_TOTAL`), else `CI_NODE_INDEX`/`CI_NODE_TOTAL`
    /// (GitLab `parallel:`). Join the shards with `tokengate merge`.
    #[arg(long, value_name = "I/N|auto", env = "TOKENGATE_SHARD")]
    pub shard: Option<String>,
    /// Number of shards for `--shard auto` in a Kubernetes Indexed Job
    /// (its `completions`).
    #[arg(long, value_name = "N", requires = "shard",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub shard_total: Option<u32>,
    /// Start the run (after preflight) at this RFC 3339 instant, e.g.
    /// `2026-12-04T06:00:00Z`, so every shard opens its window together: at
    /// most 1 h ahead, at most 5 s past. Ctrl-C still stops the wait.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub start_at: Option<std::time::SystemTime>,
}

/// `tokengate calibrate`: N A/A runs of one workload against one endpoint;
/// the measured run-to-run noise per metric goes beside the baseline set.
#[derive(Debug, Args, Clone)]
pub struct CliCalibrateArgs {
    /// Workload file (YAML).
    pub workload: PathBuf,
    #[command(flatten)]
    pub common: CliWorkloadArgs,
    /// A/A runs to measure (2–20; more runs, a surer estimate: the noise's
    /// degrees of freedom are runs − 1).
    #[arg(long, value_name = "N")]
    pub runs: u32,
    /// Directory of promoted baselines: the calibration goes into the set
    /// directory of the runs' key, as `calibration.json`.
    #[arg(long, default_value = "baselines")]
    pub baseline_dir: PathBuf,
    /// Write the calibration here instead of into the baseline set.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Closed loop with this many concurrent users.
    #[arg(long, conflicts_with = "rate")]
    pub concurrency: Option<u32>,
    /// Open loop at this many requests per second (Poisson arrivals).
    // A negative rate reaches the rate check (an error naming `--rate`),
    // not clap's hint to write `-- -5`.
    #[arg(long, allow_negative_numbers = true)]
    pub rate: Option<f64>,
}

/// `tokengate ab`: both endpoints measured in the same time window. Request
/// slots go to A or B at random, one of each in every block of two, and both
/// slots of a block send the same planned request, so both sides get the
/// same prompt sequence and a noisy neighbour hits both alike.
#[derive(Debug, Args, Clone)]
#[command(mut_arg("endpoint", |a| a.hide(true)))]
pub struct CliAbArgs {
    /// Workload file (YAML): its prompts, warm-up (on both sides), request
    /// count (per side) and load.
    pub workload: PathBuf,
    #[command(flatten)]
    pub common: CliWorkloadArgs,
    /// Baseline (A) endpoint: `http://HOST:PORT/v1` or `sim://NAME`.
    #[arg(long, value_name = "URL")]
    pub baseline_endpoint: String,
    /// Candidate (B) endpoint: `http://HOST:PORT/v1` or `sim://NAME` (not
    /// the baseline's URL: both sides would share one server).
    #[arg(long, value_name = "URL")]
    pub candidate_endpoint: String,
    /// Simulator profile file (YAML) of a `sim://` candidate.
    #[arg(long, value_name = "FILE", conflicts_with = "candidate_builtin")]
    pub candidate_profile: Option<PathBuf>,
    /// Built-in simulator profile of a `sim://` candidate (e.g.
    /// `slow-decode`); default: the one its name says.
    #[arg(long, value_name = "NAME")]
    pub candidate_builtin: Option<String>,
    /// Time to first token of a `sim://` candidate's simulator, ms
    /// (replaces its profile's; no built-in has a slower prefill).
    #[arg(long, value_name = "MS")]
    pub candidate_ttft_ms: Option<f64>,
    /// Time per output token of a `sim://` candidate's simulator, ms.
    #[arg(long, value_name = "MS")]
    pub candidate_tpot_ms: Option<f64>,
    /// Gate file (YAML).
    #[arg(long, default_value = "gates/default.yaml")]
    pub gate: PathBuf,
    /// Waivers file (default: `waivers.yaml` beside the gate file, if present).
    #[arg(long)]
    pub waivers: Option<PathBuf>,
    /// What an inconclusive result does, overriding the gate file's
    /// `policy.inconclusive`: `warn` (exit 0) or `block` (exit 3).
    #[arg(long, value_name = "block|warn", value_parser = parse_inconclusive)]
    pub inconclusive: Option<crate::gate::InconclusivePolicy>,
    /// Directory for both bundles (`baseline.json`, `candidate.json`) and
    /// the reports (`report.md`, `junit.xml`, `verdict.json`).
    #[arg(long, default_value = "tokengate-out")]
    pub report_dir: PathBuf,
    /// Closed loop with this many concurrent users, shared by both sides
    /// (about half of them on each at any time).
    #[arg(long, conflicts_with = "rate")]
    pub concurrency: Option<u32>,
    /// Open loop at this many requests per second over both sides together
    /// (Poisson arrivals; half go to each side).
    // A negative rate reaches the rate check (an error naming `--rate`),
    // not clap's hint to write `-- -5`.
    #[arg(long, allow_negative_numbers = true)]
    pub rate: Option<f64>,
    #[command(flatten)]
    pub publish: CliPublishArgs,
}

/// `tokengate soak`: the `run` flags (the bundle goes to `soak.json` in
/// `--report-dir` by default, beside the reports) plus the snapshot interval.
#[derive(Debug, Args, Clone)]
#[command(mut_arg("out", |a| a.help("Where to write the bundle [default: soak.json in --report-dir]")))]
pub struct CliSoakArgs {
    #[command(flatten)]
    pub run: CliRunArgs,
    /// Length of one snapshot, e.g. `1m`: at least 1s and at most the
    /// duration (`--duration`, or the workload's `duration`; count mode is
    /// refused).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub interval: std::time::Duration,
    /// Directory for `soak.html` (charts inline), `soak.md` and the charts.
    #[arg(long, default_value = "tokengate-out")]
    pub report_dir: PathBuf,
}

#[derive(Debug, Args, Clone)]
pub struct CliSweepArgs {
    /// Workload file (YAML); its count or duration applies to every level.
    pub workload: PathBuf,
    #[command(flatten)]
    pub common: CliWorkloadArgs,
    /// Where to write the sweep bundle [default: sweep.json in --report-dir].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Directory for the reports (`sweep.html`, `sweep.md`, charts) and
    /// each level's bundle (`levels/`).
    #[arg(long, default_value = "tokengate-out")]
    pub report_dir: PathBuf,
    /// Levels to measure, e.g. `1,2,4,8,16` (concurrency, or req/s with
    /// `--open-loop`); default: automatic doubling, then bisection at the knee.
    #[arg(long, value_delimiter = ',', value_parser = parse_positive)]
    pub levels: Option<Vec<f64>>,
    /// First level of the automatic doubling.
    #[arg(long, value_parser = parse_positive, conflicts_with = "levels")]
    pub start: Option<f64>,
    /// Highest level the automatic doubling may reach.
    #[arg(long, default_value_t = 256.0, value_parser = parse_positive)]
    pub max_load: f64,
    /// Step request rates (open loop, Poisson arrivals) instead of
    /// concurrency, whatever the workload's load block says.
    #[arg(long)]
    pub open_loop: bool,
    /// Safe operating point as a share of the knee (`70%` or `0.7`).
    #[arg(long, default_value = "70%", value_parser = parse_share)]
    pub safe_share: f64,
    /// SLO gate file: a level breaking one of its absolute rules stops the
    /// stepping (e.g. `gates/slo.yaml`).
    #[arg(long, value_name = "GATE")]
    pub slo: Option<PathBuf>,
    /// Stop stepping up once a level's error rate passes this share.
    #[arg(long, default_value = "5%", value_parser = parse_share)]
    pub error_ceiling: f64,
    /// Stop once a step raises output tokens/s by less than this share.
    #[arg(long, default_value = "5%", value_parser = parse_share)]
    pub min_gain: f64,
    /// A knee point must lie at least this far below the straight line from
    /// the first to the last level (normalized, 0–1; Kneedle's difference).
    #[arg(long, default_value_t = 0.1)]
    pub min_prominence: f64,
    /// …and the signal to rise at least this share over its low-load value.
    #[arg(long, default_value = "25%", value_parser = parse_share)]
    pub min_rise: f64,
    /// Stop bisecting when the bracket around the knee is this narrow
    /// (default 1 user; a quarter of the first rate in open loop).
    #[arg(long, value_parser = parse_positive)]
    pub resolution: Option<f64>,
    /// Do not measure the safe operating point itself (its numbers are then
    /// interpolated between levels only).
    #[arg(long)]
    pub no_confirm: bool,
    /// Measure at most this many levels.
    #[arg(long, default_value_t = 24)]
    pub max_levels: usize,
    /// Start no new level after this much time, e.g. `30m`.
    #[arg(long, value_parser = parse_duration)]
    pub time_budget: Option<std::time::Duration>,
}

#[derive(Debug, Args, Clone)]
pub struct CliSimArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Address to bind. Loopback by default; the simulator is a test tool.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Profile file (YAML); flags below override it.
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// Built-in profile name (`default`, …) used when no file is given.
    #[arg(long, default_value = "default")]
    pub builtin: String,
    /// Time to first token, ms (fixed prefill cost).
    #[arg(long)]
    pub ttft_ms: Option<f64>,
    /// Time per output token, ms.
    #[arg(long)]
    pub tpot_ms: Option<f64>,
    /// Batch slots (sequences decoded at once).
    #[arg(long)]
    pub slots: Option<u32>,
    /// Seed of every random choice (faults, text, lengths, jitter, and the
    /// run-noise factor and stall times unless the profile seeds them).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Share of requests answered with HTTP 500 (`0.05` or `5%`).
    #[arg(long, value_parser = parse_share)]
    pub error_rate: Option<f64>,
}

fn parse_meta(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got `{s}`")),
    }
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    crate::workload::values::DurationValue::parse(s).map(|d| d.0)
}

fn parse_time(s: &str) -> Result<std::time::SystemTime, String> {
    crate::timefmt::parse_rfc3339(s)
        .map(std::time::SystemTime::from)
        .map_err(|e| e.to_string())
}

fn parse_inconclusive(s: &str) -> Result<crate::gate::InconclusivePolicy, String> {
    match s {
        "block" => Ok(crate::gate::InconclusivePolicy::Block),
        "warn" => Ok(crate::gate::InconclusivePolicy::Warn),
        _ => Err(format!("expected `block` or `warn`, got `{s}`")),
    }
}

fn parse_positive(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("expected a positive number, got `{s}`")),
    }
}

fn parse_share(s: &str) -> Result<f64, String> {
    crate::workload::values::Share::parse(s).map(|v| v.0)
}
