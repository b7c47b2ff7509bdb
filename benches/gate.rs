//! Times `tokengate::gate::evaluate` at the size of the performance goal: a
//! 10,000-request candidate bundle against a baseline of 5 runs × 10,000,
//! with 10,000 bootstrap resamples (goal: under 1 s per evaluation).
//!
//! The bundles go through the real pipeline: synthetic `RequestRecord`s from
//! a seeded log-normal latency model (closed loop, 16 users) are fed to a
//! `metrics::Recorder`, whose `finish()` output becomes the bundle. Two gates
//! are timed: `gates/default.yaml` with `bootstrap_resamples: 10000`, and a
//! gate with p50/p90/p95/p99 TTFT rules; then each rule of both on its own.
//!
//! Run: `cargo bench --bench gate`. Prints the median wall time of a few
//! evaluations (`GATE_BENCH_RUNS`, default 5).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::LogNormal;
use tokengate::bundle::{Bundle, ClientInfo, Context, LoadInfo, METRICS_VERSION, SCHEMA_VERSION};
use tokengate::client::{ErrorKind, Outcome, Phase, RequestRecord, TokenSource};
use tokengate::gate::{
    BaselineDesc, Comparison, Date, GateFile, GateReport, evaluate, load_gate_file, parse_gate_file,
};
use tokengate::metrics::Recorder;
use tokengate::runinfo::process_cpu;
use tokengate::workload::{Pricing, Slo};

const REQUESTS: usize = 10_000;
const BASELINE_RUNS: u64 = 5;
const RESAMPLES: u32 = 10_000;
const USERS: usize = 16;

const QUANTILE_GATE: &str = "\
name: ttft-quantiles
policy:
  bootstrap_resamples: 10000
  seed: 1
rules:
  - metric: ttft.p50
    max_increase: 10%
  - metric: ttft.p90
    max_increase: 15%
  - metric: ttft.p95
    max_increase: 15%
  - metric: ttft.p99
    max_increase: 25%
";

fn main() {
    let runs: usize = std::env::var("GATE_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1);

    let start = Instant::now();
    let candidate = synthetic_run(1_000);
    let baseline: Vec<Bundle> = (0..BASELINE_RUNS)
        .map(|i| synthetic_run(2_000 + i))
        .collect();
    println!(
        "built candidate {} requests, baseline {} × {} requests through the recorder in {:.2} s",
        candidate.samples.len(),
        baseline.len(),
        REQUESTS,
        start.elapsed().as_secs_f64()
    );
    let refs: Vec<&Bundle> = baseline.iter().collect();
    let cmp = comparison(&candidate, &refs);

    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut default_gate =
        load_gate_file(&manifest.join("gates/default.yaml")).expect("gates/default.yaml is valid");
    default_gate.policy.bootstrap_resamples = RESAMPLES;
    let quantile_gate =
        parse_gate_file(QUANTILE_GATE, "bench quantile gate").expect("bench gate is valid");

    for gate in [&default_gate, &quantile_gate] {
        let t = time_evaluate(gate, &cmp, runs);
        println!(
            "gate `{}` ({} rules, {} resamples): median {:.3} s wall, {:.3} s CPU per evaluate over {} runs (wall {:?}); verdict {:?}",
            gate.name,
            gate.rules.len(),
            gate.policy.bootstrap_resamples,
            t.wall.as_secs_f64(),
            t.cpu.as_secs_f64(),
            runs,
            t.walls
                .iter()
                .map(|t| format!("{:.3}", t.as_secs_f64()))
                .collect::<Vec<_>>(),
            t.report.verdict
        );
        for rule in &gate.rules {
            let single = GateFile {
                rules: vec![rule.clone()],
                ..gate.clone()
            };
            let t = time_evaluate(&single, &cmp, runs);
            let r = &t.report.rules[0];
            let interval = r
                .estimate
                .as_ref()
                .and_then(|e| e.interval.map(|iv| (e.point, iv.lo, iv.hi)));
            println!(
                "  {:<38} {:>7.1} ms wall {:>7.1} ms CPU  {:?} {}",
                rule.name,
                t.wall.as_secs_f64() * 1e3,
                t.cpu.as_secs_f64() * 1e3,
                r.verdict,
                interval.map_or_else(String::new, |(p, lo, hi)| format!(
                    "{p:.4} [{lo:.4}, {hi:.4}]"
                ))
            );
        }
    }
}

/// Medians of a few evaluations. CPU time (all threads) is printed beside
/// wall time because the machine is shared: wall time moves with other load.
struct Timing {
    wall: Duration,
    cpu: Duration,
    walls: Vec<Duration>,
    report: GateReport,
}

fn time_evaluate(gate: &GateFile, cmp: &Comparison, runs: usize) -> Timing {
    let today: Date = "2026-11-27".parse().expect("valid date");
    let mut walls = Vec::with_capacity(runs);
    let mut cpus = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let (user0, sys0) = process_cpu();
        let t = Instant::now();
        let report = evaluate(gate, cmp, &[], today);
        walls.push(t.elapsed());
        let (user1, sys1) = process_cpu();
        cpus.push((user1 + sys1).saturating_sub(user0 + sys0));
        last = Some(report);
    }
    let median = |v: &[Duration]| {
        let mut s = v.to_vec();
        s.sort();
        s[s.len() / 2]
    };
    Timing {
        wall: median(&walls),
        cpu: median(&cpus),
        walls,
        report: last.expect("at least one run"),
    }
}

/// One closed-loop run of `REQUESTS` measured requests: TTFT log-normal
/// (median 120 ms, σ 0.35), a per-request decode gap log-normal (median
/// 20 ms, σ 0.25) with ±20 % jitter per token, 96–160 output
/// tokens, and one stream interruption in 500 requests.
fn synthetic_run(seed: u64) -> Bundle {
    let mut rng = StdRng::seed_from_u64(seed);
    let ttft_d = LogNormal::new(120e3_f64.ln(), 0.35).expect("valid log-normal");
    let gap_d = LogNormal::new(20e3_f64.ln(), 0.25).expect("valid log-normal");
    let pricing = Pricing::PerToken {
        input_per_million: 0.5,
        output_per_million: 1.5,
        currency: "USD".into(),
    };
    let mut recorder = Recorder::new(Slo::default(), Some(pricing), Some(160), REQUESTS);
    // Each user starts its next request when the previous one ends.
    let mut free_at_us = [0u64; USERS];
    let mut offsets = Vec::with_capacity(160);
    for i in 0..REQUESTS {
        let user = i % USERS;
        let sent_us = free_at_us[user];
        let ttft_us: f64 = rng.sample(ttft_d);
        let gap_us: f64 = rng.sample(gap_d);
        let tokens: u32 = rng.random_range(96..=160);
        let interrupted = i % 500 == 499;
        let emitted = if interrupted { tokens / 2 } else { tokens };
        offsets.clear();
        let mut t = ttft_us;
        for k in 0..emitted {
            if k > 0 {
                t += gap_us * rng.random_range(0.8..1.2);
            }
            offsets.push(t as u32);
        }
        let e2e_us = u64::from(*offsets.last().expect("at least one token")) + 200;
        free_at_us[user] = sent_us + e2e_us;
        let rec = RequestRecord {
            index: i as u64,
            class: 0,
            phase: Phase::Measured,
            attempts: 1,
            scheduled_at: Duration::from_micros(sent_us),
            sent_at: Duration::from_micros(sent_us),
            ttfb: Some(Duration::from_micros((ttft_us * 0.8) as u64)),
            ttft: Some(Duration::from_micros(ttft_us as u64)),
            e2e: Duration::from_micros(e2e_us),
            event_offsets_us: offsets.clone(),
            event_bytes: vec![4; offsets.len()],
            output_tokens: emitted,
            token_source: TokenSource::Usage,
            usage_refused: false,
            input_tokens: 200,
            finish_reason: (!interrupted).then(|| "length".into()),
            quality_pass: None,
            retry_after: None,
            outcome: if interrupted {
                Outcome::Failed {
                    kind: ErrorKind::StreamInterrupted,
                    after_first_byte: true,
                }
            } else {
                Outcome::Success
            },
        };
        recorder.record(&rec);
    }
    let recorded = recorder.finish();
    Bundle {
        schema_version: SCHEMA_VERSION,
        metrics_version: METRICS_VERSION,
        key: tokengate::bundle::BundleKey {
            model_version: "llama-3.1-8b@2024-07".into(),
            serving_image: "vllm:0.6.3".into(),
            hardware_profile: "1xH100-80GB".into(),
            tokenizer: "o200k_base".into(),
        },
        context: Context {
            workload_name: "bench".into(),
            workload_digest: "sha256:bench".into(),
            workload_shape: Default::default(),
            endpoint_kind: "sim".into(),
            endpoint: "sim://bench".into(),
            api: "chat".into(),
            model: "m".into(),
            streaming: true,
            tool_version: env!("CARGO_PKG_VERSION").into(),
            git: None,
            ci_run_url: None,
            runner_host: "bench".into(),
            started_at: "2026-11-27T10:00:00Z".into(),
            ended_at: "2026-11-27T10:10:00Z".into(),
            window_s: recorded.window.as_secs_f64(),
            complete: true,
            incomplete_reason: None,
            token_source: "usage".into(),
            token_sources: recorded.token_sources.clone(),
            load: LoadInfo {
                mode: "closed".into(),
                concurrency: Some(USERS as u32),
                rate: None,
                arrival: None,
                requests: Some(REQUESTS as u64),
                duration_s: None,
                warmup_requests: 0,
            },
            seed,
            engine_flags: None,
            meta: BTreeMap::new(),
            client: ClientInfo::default(),
            warnings: vec![],
            validity: Default::default(),
            ab: None,
            shard: None,
            merged: None,
            imported: None,
        },
        metrics: recorded.metrics,
        histograms: recorded.histograms,
        samples: recorded.samples,
        server: None,
        sweep: None,
        soak: None,
        repeats: Vec::new(),
    }
}

fn comparison<'a>(cand: &'a Bundle, base: &[&'a Bundle]) -> Comparison<'a> {
    Comparison {
        candidate: cand,
        candidate_digest: "sha256:candidate".into(),
        baseline_runs: base.to_vec(),
        baseline_desc: BaselineDesc {
            location: "baselines/bench".into(),
            git_ref: None,
            commit: None,
            key: base.first().map(|b| b.key.clone()),
            run_digests: (0..base.len()).map(|i| format!("sha256:base{i}")).collect(),
        },
        skip_reason: None,
        change_under_test: vec![],
        warnings: vec![],
        design: tokengate::gate::Design::Sequential,
        calibration: None,
    }
}
