//! Gate evaluation on constructed bundles whose samples are drawn from
//! seeded distributions: regressions fail, unchanged servers do not, missing
//! baselines skip with a reason, incomplete runs are inconclusive, waivers
//! apply until they expire.

use std::collections::BTreeMap;

use base64::Engine as _;
use hdrhistogram::serialization::{Serializer as _, V2DeflateSerializer};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::LogNormal;
use tokengate::bundle::*;
use tokengate::exit_code;
use tokengate::gate::*;

/// Parameters of a synthetic run.
#[derive(Clone)]
pub struct Spec {
    pub seed: u64,
    pub requests: usize,
    pub ttft_ms: f64,
    pub tpot_ms: f64,
    pub tokens: u32,
    /// Every k-th request fails with a stream interruption.
    pub fail_every: Option<usize>,
    pub cost_per_1k: Option<f64>,
    pub complete: bool,
    pub serving_image: &'static str,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            seed: 1,
            requests: 300,
            ttft_ms: 120.0,
            tpot_ms: 20.0,
            tokens: 64,
            fail_every: None,
            cost_per_1k: None,
            complete: true,
            serving_image: "vllm:0.6.3",
        }
    }
}

fn stats_of(values: &mut [f64]) -> LatencyStats {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return LatencyStats::default();
    }
    let q = |p: f64| {
        let h = (n - 1) as f64 * p;
        let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
        values[lo] + (h - lo as f64) * (values[hi] - values[lo])
    };
    LatencyStats {
        count: n as u64,
        mean: Some(values.iter().sum::<f64>() / n as f64),
        p50: Some(q(0.5)),
        p90: Some(q(0.9)),
        p95: Some(q(0.95)),
        p99: Some(q(0.99)),
        min: Some(values[0]),
        max: Some(values[n - 1]),
        buckets_ms: Default::default(),
    }
}

fn encode(h: &hdrhistogram::Histogram<u64>) -> String {
    let mut buf = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut buf)
        .expect("serialize histogram");
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// A bundle of a closed-loop run (concurrency 4) with log-normal TTFT and
/// per-token gaps.
pub fn make_bundle(spec: &Spec) -> Bundle {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let ttft_d = LogNormal::new(spec.ttft_ms.ln(), 0.25).expect("valid log-normal");
    let gap_d = LogNormal::new(spec.tpot_ms.ln(), 0.3).expect("valid log-normal");
    let mut s = Samples::default();
    let mut itl = hdrhistogram::Histogram::<u64>::new(3).expect("sigfig 3");
    let mut ttfb = hdrhistogram::Histogram::<u64>::new(3).expect("sigfig 3");
    let (mut ttfts, mut tpots, mut e2es) = (Vec::new(), Vec::new(), Vec::new());
    let mut failed = 0u64;
    let mut out_total = 0u64;
    let mut clock_us = 0u64;
    for i in 0..spec.requests {
        let ttft: f64 = rng.sample(ttft_d);
        let fail = spec.fail_every.is_some_and(|k| i % k == k - 1);
        let tokens = if fail { spec.tokens / 2 } else { spec.tokens };
        let mut decode = 0.0;
        for _ in 1..tokens {
            let g: f64 = rng.sample(gap_d);
            decode += g;
            if !fail {
                itl.record((g * 1000.0) as u64).expect("in range");
            }
        }
        let e2e = ttft + decode;
        ttfb.record((ttft * 0.8 * 1000.0) as u64).expect("in range");
        s.start_us.push(clock_us);
        clock_us += (e2e * 1000.0 / 4.0) as u64;
        s.ttft_us.push(Some((ttft * 1000.0) as u32));
        let tpot = decode / f64::from(tokens - 1);
        s.tpot_us.push((!fail).then_some((tpot * 1000.0) as u32));
        s.e2e_us.push((e2e * 1000.0) as u32);
        s.output_tokens.push(tokens);
        s.input_tokens.push(200);
        s.class.push(0);
        s.attempts.push(1);
        if fail {
            failed += 1;
            s.outcome.push(SampleOutcome::Failed(
                tokengate::client::ErrorKind::StreamInterrupted,
            ));
        } else {
            out_total += u64::from(tokens);
            s.outcome.push(SampleOutcome::Ok);
            ttfts.push(ttft);
            tpots.push(tpot);
            e2es.push(e2e);
        }
    }
    let n = spec.requests as u64;
    let succeeded = n - failed;
    let window_s = clock_us as f64 / 1e6;
    let mut errors = BTreeMap::new();
    errors.insert("stream_interrupted".to_owned(), failed);
    Bundle {
        schema_version: SCHEMA_VERSION,
        metrics_version: METRICS_VERSION,
        key: BundleKey {
            model_version: "llama-3.1-8b@2024-07".into(),
            serving_image: spec.serving_image.into(),
            hardware_profile: "1xH100-80GB".into(),
            tokenizer: "o200k_base".into(),
        },
        context: Context {
            workload_name: "quickstart".into(),
            workload_digest: "sha256:abc".into(),
            workload_shape: Default::default(),
            endpoint_kind: "sim".into(),
            endpoint: "sim://default".into(),
            api: "chat".into(),
            model: "m".into(),
            streaming: true,
            tool_version: "0.1.0".into(),
            git: None,
            ci_run_url: None,
            runner_host: "host".into(),
            started_at: "2026-11-27T10:00:00Z".into(),
            ended_at: "2026-11-27T10:01:00Z".into(),
            window_s,
            complete: spec.complete,
            incomplete_reason: (!spec.complete).then(|| "interrupted by SIGINT".to_owned()),
            token_source: "usage".into(),
            token_sources: BTreeMap::new(),
            load: LoadInfo {
                mode: "closed".into(),
                concurrency: Some(4),
                rate: None,
                arrival: None,
                requests: Some(n),
                duration_s: None,
                warmup_requests: 0,
            },
            seed: spec.seed,
            engine_flags: None,
            meta: BTreeMap::new(),
            client: ClientInfo {
                cpu_user_s: 0.1,
                cpu_system_s: 0.1,
                cpu_utilization: 0.01,
                cpu_per_request_us: 10.0,
                schedule_lag_p99_ms: 0.0,
                schedule_lag_max_ms: 0.0,
                saturated: false,
                warnings: vec![],
                host: Default::default(),
                health: None,
            },
            warnings: vec![],
            validity: Default::default(),
            ab: None,
            shard: None,
            merged: None,
            imported: None,
        },
        metrics: Metrics {
            ttft_ms: stats_of(&mut ttfts),
            tpot_ms: stats_of(&mut tpots),
            e2e_ms: stats_of(&mut e2es),
            output_tokens_per_s: out_total as f64 / window_s,
            input_tokens_per_s: (succeeded * 200) as f64 / window_s,
            requests_per_s: succeeded as f64 / window_s,
            requests: RequestCounts {
                attempted: n,
                succeeded,
                failed,
                ..Default::default()
            },
            errors,
            error_rate: failed as f64 / n as f64,
            stream_error_rate: failed as f64 / n as f64,
            cost_per_1k: spec.cost_per_1k,
            ..Default::default()
        },
        histograms: Histograms {
            itl_us: encode(&itl),
            ttfb_us: encode(&ttfb),
            ..Default::default()
        },
        samples: s,
        server: None,
        sweep: None,
        soak: None,
        repeats: Vec::new(),
    }
}

pub fn comparison<'a>(cand: &'a Bundle, base: &[&'a Bundle]) -> Comparison<'a> {
    Comparison {
        candidate: cand,
        candidate_digest: "sha256:candidate".into(),
        baseline_runs: base.to_vec(),
        baseline_desc: BaselineDesc {
            location: "baselines/quickstart".into(),
            git_ref: Some("origin/main".into()),
            commit: Some("0123456789abcdef".into()),
            key: base.first().map(|b| b.key.clone()),
            run_digests: base
                .iter()
                .enumerate()
                .map(|(i, _)| format!("sha256:base{i}"))
                .collect(),
        },
        skip_reason: base
            .is_empty()
            .then(|| "no baseline for key 1xH100-80GB/quickstart".to_owned()),
        change_under_test: vec![],
        warnings: vec![],
        design: tokengate::gate::Design::Sequential,
        calibration: None,
    }
}

pub fn gate(yaml: &str) -> GateFile {
    parse_gate_file(yaml, "test.yaml").expect("valid test gate")
}

pub fn today() -> Date {
    "2026-11-27".parse().expect("valid date")
}

/// `k` baseline runs of `spec` with seeds 100, 101, …: a baseline set whose
/// run-to-run noise the gate can measure (with one run a side it is
/// unmeasured, and a tail quantile is never failed on it).
pub fn baseline_runs(spec: &Spec, k: u64) -> Vec<Bundle> {
    (0..k)
        .map(|i| {
            make_bundle(&Spec {
                seed: 100 + i,
                ..spec.clone()
            })
        })
        .collect()
}

/// A run of 1200 requests: a +30 % change against a 15 % limit fails only
/// when the whole interval is past the limit, which a single candidate
/// run's tail needs this many requests to show.
fn big_run() -> Spec {
    Spec {
        requests: 1200,
        ..Spec::default()
    }
}

fn rule<'a>(r: &'a GateReport, name: &str) -> &'a RuleResult {
    r.rules
        .iter()
        .find(|x| x.name == name)
        .unwrap_or_else(|| panic!("rule {name} in report"))
}

const RELATIVE: &str = "name: rel\nrules:\n  - metric: ttft.p95\n    max_increase: 15%\n  - metric: output_tokens_per_s\n    max_decrease: 10%\n  - metric: e2e.mean\n    max_increase: 15%\n  - metric: itl.p95\n    max_increase: 15%\n  - metric: ttfb.p50\n    max_increase: 15%\n";

#[test]
fn fails_when_p95_ttft_rises_30_percent() {
    let runs = baseline_runs(&big_run(), 8);
    let base: Vec<&Bundle> = runs.iter().collect();
    let cand = make_bundle(&Spec {
        seed: 2,
        ttft_ms: 120.0 * 1.3,
        ..big_run()
    });
    let g = gate(RELATIVE);
    let r = evaluate(&g, &comparison(&cand, &base), &[], today());
    let ttft = rule(&r, "ttft.p95 max_increase 15%");
    assert_eq!(ttft.verdict, Verdict::Fail, "{}", ttft.explanation);
    let est = ttft.estimate.as_ref().expect("estimate");
    assert!(est.point > 1.15 && est.point < 1.5, "ratio {}", est.point);
    assert!(ttft.p_adjusted.expect("adjusted") < 0.05);
    assert!(ttft.p_adjusted >= ttft.p_value, "BH never lowers a p-value");
    assert!(ttft.mde.expect("mde") > 0.0);
    assert!(
        ttft.explanation.contains("past the limit"),
        "{}",
        ttft.explanation
    );
    // TTFB follows TTFT in the synthetic run, so it regresses too.
    assert_eq!(rule(&r, "ttfb.p50 max_increase 15%").verdict, Verdict::Fail);
    // Decode is unchanged: throughput and ITL do not fail.
    assert_ne!(rule(&r, "itl.p95 max_increase 15%").verdict, Verdict::Fail);
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(r.exit_code, exit_code::FAIL);
    assert_eq!(r.exit_code(), exit_code::FAIL);
}

#[test]
fn does_not_fail_on_identical_distributions() {
    let base = make_bundle(&Spec::default());
    let g = gate(RELATIVE);
    for seed in 10..16 {
        let cand = make_bundle(&Spec {
            seed,
            ..Spec::default()
        });
        let r = evaluate(&g, &comparison(&cand, &[&base]), &[], today());
        for x in &r.rules {
            assert_ne!(
                x.verdict,
                Verdict::Fail,
                "seed {seed}: {}: {}",
                x.name,
                x.explanation
            );
        }
        assert_ne!(r.verdict, Verdict::Fail);
    }
}

#[test]
fn fails_when_decode_is_30_percent_slower() {
    let runs = baseline_runs(&big_run(), 8);
    let base: Vec<&Bundle> = runs.iter().collect();
    let cand = make_bundle(&Spec {
        seed: 2,
        tpot_ms: 26.0,
        ..big_run()
    });
    let g = gate(RELATIVE);
    let r = evaluate(&g, &comparison(&cand, &base), &[], today());
    let tput = rule(&r, "output_tokens_per_s max_decrease 10%");
    assert_eq!(tput.verdict, Verdict::Fail, "{}", tput.explanation);
    let est = tput.estimate.as_ref().expect("estimate");
    // The point is the measured throughput over the geometric mean of the
    // baseline runs' measured throughputs (the noise model's log scale).
    let log_mean = base
        .iter()
        .map(|b| b.metrics.output_tokens_per_s.ln())
        .sum::<f64>()
        / base.len() as f64;
    let measured = cand.metrics.output_tokens_per_s / log_mean.exp();
    assert!(
        (est.point - measured).abs() < 1e-9,
        "point is the measured ratio: {} vs {measured}",
        est.point
    );
    let iv = est.interval.expect("interval");
    assert!(iv.lo <= est.point && est.point <= iv.hi);
    assert_eq!(rule(&r, "itl.p95 max_increase 15%").verdict, Verdict::Fail);
    assert_eq!(rule(&r, "e2e.mean max_increase 15%").verdict, Verdict::Fail);
}

#[test]
fn compares_with_several_baseline_runs() {
    let runs = baseline_runs(&big_run(), 5);
    let base: Vec<&Bundle> = runs.iter().collect();
    let cand = make_bundle(&Spec {
        seed: 3,
        ttft_ms: 160.0,
        ..big_run()
    });
    let r = evaluate(&gate(RELATIVE), &comparison(&cand, &base), &[], today());
    let x = rule(&r, "ttft.p95 max_increase 15%");
    assert_eq!(x.verdict, Verdict::Fail, "{}", x.explanation);
    assert!(x.explanation.contains("1 vs 5 runs"), "{}", x.explanation);
    assert_eq!(r.baseline.run_digests.len(), 5);
}

#[test]
fn one_run_a_side_never_fails_a_tail_quantile() {
    let base = make_bundle(&Spec::default());
    let cand = make_bundle(&Spec {
        seed: 3,
        ttft_ms: 160.0,
        ..Spec::default()
    });
    let r = evaluate(&gate(RELATIVE), &comparison(&cand, &[&base]), &[], today());
    let x = rule(&r, "ttft.p95 max_increase 15%");
    assert_eq!(x.verdict, Verdict::Inconclusive, "{}", x.explanation);
    assert!(x.explanation.contains("--repeat 3"), "{}", x.explanation);
}

#[test]
fn skips_baseline_rules_with_the_reason_when_there_is_no_baseline() {
    let cand = make_bundle(&Spec::default());
    let g = gate(RELATIVE);
    let r = evaluate(&g, &comparison(&cand, &[]), &[], today());
    for x in &r.rules {
        assert_eq!(x.verdict, Verdict::Skipped);
        assert_eq!(
            x.explanation,
            "skipped: no baseline for key 1xH100-80GB/quickstart"
        );
    }
    assert_eq!(
        r.verdict,
        Verdict::Ungated,
        "nothing was compared: not a pass"
    );
    assert_eq!(r.exit_code, exit_code::PASS, "policy warn: ungated exits 0");
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("5 baseline comparison(s) skipped"))
    );
    let blocking =
        gate(&RELATIVE.replace("name: rel\n", "name: rel\npolicy:\n  inconclusive: block\n"));
    let r = evaluate(&blocking, &comparison(&cand, &[]), &[], today());
    assert_eq!(
        r.exit_code,
        exit_code::INCONCLUSIVE,
        "ungated is not a pass"
    );
}

#[test]
fn incomplete_bundle_makes_every_rule_inconclusive() {
    let base = make_bundle(&Spec::default());
    let cand = make_bundle(&Spec {
        seed: 2,
        complete: false,
        ttft_ms: 300.0,
        ..Spec::default()
    });
    let g = gate(&RELATIVE.replace("name: rel\n", "name: rel\npolicy:\n  inconclusive: block\n"));
    let r = evaluate(&g, &comparison(&cand, &[&base]), &[], today());
    for x in &r.rules {
        assert_eq!(x.verdict, Verdict::Inconclusive);
        assert_eq!(x.explanation, "bundle is incomplete (interrupted run)");
    }
    assert_eq!(r.verdict, Verdict::Inconclusive);
    assert_eq!(r.exit_code, exit_code::INCONCLUSIVE);
    assert!(!r.candidate.complete);
}

#[test]
fn absolute_slos_pass_fail_and_need_enough_requests() {
    let cand = make_bundle(&Spec::default());
    let g = gate(
        "name: slo\nrules:\n  - metric: ttft.p95\n    max: 1500ms\n  - metric: itl.p95\n    max: 150ms\n  - metric: decode_tokens_per_s.p50\n    min: 35 tok/s\n  - metric: ttft.p50\n    max: 50ms\n  - metric: output_tokens_per_s\n    min: 1000000 tok/s\n  - metric: tpot.mean\n    max: 1s\n",
    );
    let r = evaluate(&g, &comparison(&cand, &[]), &[], today());
    assert_eq!(rule(&r, "ttft.p95 max 1500ms").verdict, Verdict::Pass);
    assert_eq!(rule(&r, "itl.p95 max 150ms").verdict, Verdict::Pass);
    assert_eq!(
        rule(&r, "decode_tokens_per_s.p50 min 35 tok/s").verdict,
        Verdict::Pass
    );
    assert_eq!(rule(&r, "tpot.mean max 1s").verdict, Verdict::Pass);
    let slow = rule(&r, "ttft.p50 max 50ms");
    assert_eq!(slow.verdict, Verdict::Fail, "{}", slow.explanation);
    let iv = slow
        .estimate
        .as_ref()
        .and_then(|e| e.interval)
        .expect("interval");
    assert!(iv.lo > 50.0);
    assert_eq!(
        rule(&r, "output_tokens_per_s min 1000000 tok/s").verdict,
        Verdict::Fail
    );
    assert_eq!(r.verdict, Verdict::Fail);

    let few = make_bundle(&Spec {
        requests: 20,
        ..Spec::default()
    });
    let r = evaluate(&g, &comparison(&few, &[]), &[], today());
    let x = rule(&r, "ttft.p95 max 1500ms");
    assert_eq!(x.verdict, Verdict::Inconclusive);
    assert_eq!(
        x.explanation,
        "only 20 successful requests (policy min_requests 50): need 30 more requests"
    );
}

#[test]
fn rate_ceilings_use_exact_bounds() {
    let g = gate(
        "name: rates\nrules:\n  - metric: stream_error_rate\n    max: 0.5%\n  - metric: error_rate\n    max: 3%\n",
    );
    let clean = make_bundle(&Spec::default());
    let r = evaluate(&g, &comparison(&clean, &[]), &[], today());
    assert_eq!(
        rule(&r, "stream_error_rate max 0.5%").verdict,
        Verdict::Pass
    );
    // 10 % failures against a 0.5 % ceiling: the exact lower bound is far above.
    let bad = make_bundle(&Spec {
        fail_every: Some(10),
        ..Spec::default()
    });
    let r = evaluate(&g, &comparison(&bad, &[]), &[], today());
    let x = rule(&r, "stream_error_rate max 0.5%");
    assert_eq!(x.verdict, Verdict::Fail, "{}", x.explanation);
    assert!(x.explanation.contains("30 of 300"), "{}", x.explanation);
    // 3 failures in 300 (1 %) against 0.5 %: above the ceiling, but the exact
    // lower bound (0.2 %) is not, so it is inconclusive; against 3 % it passes.
    let some = make_bundle(&Spec {
        fail_every: Some(100),
        ..Spec::default()
    });
    let r = evaluate(&g, &comparison(&some, &[]), &[], today());
    let x = rule(&r, "stream_error_rate max 0.5%");
    assert_eq!(x.verdict, Verdict::Inconclusive, "{}", x.explanation);
    assert!(x.requests_to_settle.is_some());
    assert_eq!(rule(&r, "error_rate max 3%").verdict, Verdict::Pass);
}

#[test]
fn error_rate_increase_against_baseline_uses_fisher() {
    let g = gate("name: r\nrules:\n  - metric: error_rate\n    max_increase: 1pp\n");
    let base = make_bundle(&Spec::default());
    let bad = make_bundle(&Spec {
        seed: 4,
        fail_every: Some(10),
        ..Spec::default()
    });
    let r = evaluate(&g, &comparison(&bad, &[&base]), &[], today());
    let x = rule(&r, "error_rate max_increase 1pp");
    assert_eq!(x.verdict, Verdict::Fail, "{}", x.explanation);
    assert_eq!(
        x.estimate.as_ref().map(|e| e.kind),
        Some(EstimateKind::Difference)
    );
    assert!(x.p_value.expect("fisher p") < 1e-6);
    let same = make_bundle(&Spec {
        seed: 4,
        ..Spec::default()
    });
    // 0 of 300 on both sides: the exact upper bound of the difference is
    // 1.22 pp, which a 1 pp limit cannot rule out but a 2 pp limit can.
    let r = evaluate(&g, &comparison(&same, &[&base]), &[], today());
    assert_eq!(
        rule(&r, "error_rate max_increase 1pp").verdict,
        Verdict::Inconclusive
    );
    let g2 = gate("name: r\nrules:\n  - metric: error_rate\n    max_increase: 2pp\n");
    let r = evaluate(&g2, &comparison(&same, &[&base]), &[], today());
    assert_eq!(
        rule(&r, "error_rate max_increase 2pp").verdict,
        Verdict::Pass
    );
}

#[test]
fn cost_is_skipped_without_pricing_and_severity_warn_does_not_fail() {
    let g = gate(
        "name: c\nrules:\n  - metric: cost_per_1k\n    max: 2.50\n    severity: warn\n  - metric: ttft.p95\n    max: 10s\n",
    );
    let cand = make_bundle(&Spec::default());
    let r = evaluate(&g, &comparison(&cand, &[]), &[], today());
    let c = rule(&r, "cost_per_1k max 2.50");
    assert_eq!(c.verdict, Verdict::Skipped);
    assert_eq!(c.explanation, "skipped: the workload has no pricing block");
    assert_eq!(r.verdict, Verdict::Pass);

    let pricey = make_bundle(&Spec {
        cost_per_1k: Some(4.0),
        ..Spec::default()
    });
    let r = evaluate(&g, &comparison(&pricey, &[]), &[], today());
    let c = rule(&r, "cost_per_1k max 2.50");
    assert_eq!(c.verdict, Verdict::Fail);
    assert_eq!(c.outcome, Outcome::Warn);
    assert_eq!(r.verdict, Verdict::Pass, "a warn rule never fails the gate");
    assert_eq!(r.exit_code, exit_code::PASS);
}

#[test]
fn goodput_floor_uses_exact_bounds_and_skips_without_slos() {
    let g = gate("name: g\nrules:\n  - metric: goodput\n    min: 95%\n");
    let mut b = make_bundle(&Spec::default());
    let r = evaluate(&g, &comparison(&b, &[]), &[], today());
    let x = rule(&r, "goodput min 95%");
    assert_eq!(x.verdict, Verdict::Skipped);
    assert!(x.explanation.contains("no SLO block"), "{}", x.explanation);
    b.metrics.goodput = Some(0.99);
    let r = evaluate(&g, &comparison(&b, &[]), &[], today());
    assert_eq!(rule(&r, "goodput min 95%").verdict, Verdict::Pass);
    b.metrics.goodput = Some(0.80);
    let r = evaluate(&g, &comparison(&b, &[]), &[], today());
    assert_eq!(rule(&r, "goodput min 95%").verdict, Verdict::Fail);
    // 282 of 300 (94 %) against 95 %: below, but the upper bound is not.
    b.metrics.goodput = Some(0.94);
    let r = evaluate(&g, &comparison(&b, &[]), &[], today());
    let x = rule(&r, "goodput min 95%");
    assert_eq!(x.verdict, Verdict::Inconclusive, "{}", x.explanation);
}

#[test]
fn streaming_only_metrics_are_skipped_for_non_streamed_runs() {
    let g = gate(
        "name: s\nrules:\n  - metric: ttft.p95\n    max: 1s\n  - metric: e2e.p95\n    max: 10s\n",
    );
    let mut b = make_bundle(&Spec::default());
    b.context.streaming = false;
    let r = evaluate(&g, &comparison(&b, &[]), &[], today());
    let x = rule(&r, "ttft.p95 max 1s");
    assert_eq!(x.verdict, Verdict::Skipped);
    assert_eq!(
        x.explanation,
        "skipped: the run was not streamed, and ttft.p95 is only defined for streamed responses"
    );
    assert_eq!(rule(&r, "e2e.p95 max 10s").verdict, Verdict::Pass);
    assert_eq!(r.verdict, Verdict::Pass);
}

#[test]
fn waivers_apply_until_they_expire() {
    let runs = baseline_runs(&Spec::default(), 8);
    let base: Vec<&Bundle> = runs.iter().collect();
    let cand = make_bundle(&Spec {
        seed: 2,
        ttft_ms: 160.0,
        serving_image: "vllm:0.6.4",
        ..Spec::default()
    });
    let g = gate("name: w\nrules:\n  - metric: ttft.p95\n    max_increase: 15%\n");
    let waivers = parse_waivers(
        "- rule: ttft.p95 max_increase 15%\n  key: {serving_image: 'vllm:0.6.4'}\n  approver: alice\n  reason: known prefill regression, fixed in 0.6.5\n  expires: 2026-12-31\n- rule: ttft.p95 max_increase 15%\n  key: {serving_image: 'vllm:0.6.4'}\n  approver: bob\n  reason: old\n  expires: 2026-01-31\n",
        "waivers.yaml",
    )
    .expect("valid waivers");
    let cmp = comparison(&cand, &base);
    let r = evaluate(&g, &cmp, &waivers, today());
    let x = rule(&r, "ttft.p95 max_increase 15%");
    assert_eq!(x.verdict, Verdict::Fail);
    assert_eq!(x.outcome, Outcome::Waived);
    assert_eq!(
        x.waiver.as_ref().map(|w| w.approver.as_str()),
        Some("alice")
    );
    assert_eq!(r.verdict, Verdict::Pass);
    assert_eq!(r.waivers.applied.len(), 1);
    assert_eq!(r.waivers.expired.len(), 1);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("expired on 2026-01-31"))
    );

    // After both expire, the failure stands and both are listed as expired.
    let later: Date = "2027-01-01".parse().expect("valid date");
    let r = evaluate(&g, &cmp, &waivers, later);
    assert_eq!(rule(&r, "ttft.p95 max_increase 15%").outcome, Outcome::Fail);
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(r.waivers.expired.len(), 2);
    assert!(r.waivers.applied.is_empty());
}

#[test]
fn same_inputs_give_the_same_report() {
    let base = make_bundle(&Spec::default());
    let cand = make_bundle(&Spec {
        seed: 2,
        ttft_ms: 130.0,
        ..Spec::default()
    });
    let g = gate(RELATIVE);
    let a = evaluate(&g, &comparison(&cand, &[&base]), &[], today());
    let b = evaluate(&g, &comparison(&cand, &[&base]), &[], today());
    assert_eq!(a, b);
}

#[test]
fn the_shipped_release_gate_does_not_flap_on_unchanged_servers() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("gates/default.yaml");
    let g = load_gate_file(&path).expect("shipped gate parses");
    let base = make_bundle(&Spec {
        seed: 100,
        cost_per_1k: Some(1.0),
        ..Spec::default()
    });
    for seed in 200..220 {
        let cand = make_bundle(&Spec {
            seed,
            cost_per_1k: Some(1.0),
            ..Spec::default()
        });
        let r = evaluate(&g, &comparison(&cand, &[&base]), &[], today());
        assert_ne!(r.verdict, Verdict::Fail, "seed {seed}: {:#?}", r.rules);
    }
}

#[test]
fn the_shipped_release_gate_catches_20_percent_slower_decode() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("gates/default.yaml");
    let g = load_gate_file(&path).expect("shipped gate parses");
    let runs = baseline_runs(&Spec::default(), 8);
    let base: Vec<&Bundle> = runs.iter().collect();
    let cand = make_bundle(&Spec {
        seed: 9,
        tpot_ms: 25.0,
        ..Spec::default()
    });
    let r = evaluate(&g, &comparison(&cand, &base), &[], today());
    let x = rule(&r, "output_tokens_per_s max_decrease 10%");
    assert_eq!(x.verdict, Verdict::Fail, "{}", x.explanation);
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(r.exit_code, exit_code::FAIL);
}
