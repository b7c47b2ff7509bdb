//! Validity of whole runs (`context.validity`): output lengths against a
//! server that reports no usage, an open-loop schedule that is kept or held
//! back, a cut window — and an invalid bundle cannot become a baseline.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use axum::routing::post;
use tokengate::bundle::{Bundle, ProblemKind, TokenMetric};
use tokengate::commands::{ProgressMode, RunOptions, run_workload};
use tokengate::driver::StopSignal;
use tokengate::sim::SimProfile;

use super::common::{run, run_on_sim, write_workload};

fn kinds(b: &Bundle) -> Vec<ProblemKind> {
    b.context.validity.problems.iter().map(|p| p.kind).collect()
}

/// A chat server that streams `events` content events of `word` and
/// `finish_reason: length`, and never sends usage (as llama-cpp-python's
/// server does): the client counts tokens with the workload's tokenizer.
async fn serve_without_usage(word: &'static str, events: usize) -> String {
    let body = {
        let mut s = String::new();
        for i in 0..events {
            let reason = if i + 1 == events {
                serde_json::json!("length")
            } else {
                serde_json::Value::Null
            };
            let chunk = serde_json::json!({"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":word},"finish_reason":reason}]});
            s.push_str(&format!("data: {chunk}\n\n"));
        }
        s.push_str("data: [DONE]\n\n");
        s
    };
    let handler = move || {
        let body = body.clone();
        async move {
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from(body))
                .expect("response")
        }
    };
    let app = Router::new().route("/v1/chat/completions", post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/v1")
}

fn no_usage_workload(url: &str, max_tokens: u32) -> String {
    format!(
        "name: t\nendpoint: {url}\nmodel: m\ntokenizer: o200k_base\nprompts:\n  inline: [\"Say something.\"]\noutput: {{max_tokens: {max_tokens}, ignore_eos: true}}\nload: {{mode: closed, concurrency: 2}}\nrequests: 12\npreflight: {{check_model: false}}\ntelemetry: {{enabled: false}}\npricing: {{input_per_million: 1.0, output_per_million: 2.0}}\n"
    )
}

/// Eight events of a word `o200k_base` splits into several tokens, for
/// `max_tokens: 8`: more tokens than the model may generate, so the
/// counting tokenizer is not the model's. The run is invalid, names the
/// tokenizer and what to do, marks every token-based metric — and cannot
/// be promoted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_count_above_max_tokens_blames_the_tokenizer_and_the_bundle_cannot_be_promoted() {
    let url = serve_without_usage(" antidisestablishmentarianism", 8).await;
    let dir = tempfile::tempdir().unwrap();
    let w = write_workload(dir.path(), "w.yaml", &no_usage_workload(&url, 8));
    let out = dir.path().join("b.json");
    let outcome = run(&w, &out, &[]).await.unwrap();
    let b = &outcome.bundle;
    assert_eq!(b.metrics.requests.succeeded, 12, "{:?}", b.metrics.errors);
    assert_eq!(b.context.token_source, "tokenizer");
    assert!(
        kinds(b).contains(&ProblemKind::OutputLength),
        "{:?}",
        b.context.validity
    );
    let p = b
        .context
        .validity
        .problems
        .iter()
        .find(|p| p.kind == ProblemKind::OutputLength)
        .unwrap();
    assert!(
        p.message
            .contains("the o200k_base tokenizer is not the model's"),
        "{}",
        p.message
    );
    assert!(p.advice.contains("tokenizer: {file:"), "{}", p.advice);
    for m in [
        TokenMetric::OutputTokensPerS,
        TokenMetric::InputTokensPerS,
        TokenMetric::Tpot,
        TokenMetric::Itl,
        TokenMetric::DecodeTokensPerS,
        TokenMetric::CostPer1k,
    ] {
        assert!(
            b.context.validity.untrusted_metrics.contains(&m),
            "{m:?} in {:?}",
            b.context.validity.untrusted_metrics
        );
    }
    // The problem is a warning too, so the summary shows it.
    assert!(
        b.context
            .warnings
            .iter()
            .any(|w| w.starts_with("invalid run (output_length)")),
        "{:?}",
        b.context.warnings
    );
    // The bundle file says the same, and promotion refuses it.
    let on_disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(
        on_disk["context"]["validity"]["problems"]
            .as_array()
            .map(|a| a.iter().any(|p| p["kind"] == "output_length")),
        Some(true)
    );
    let err = tokengate::baseline::promote(&out, &dir.path().join("baselines"), 5)
        .expect_err("an invalid run is no baseline");
    assert!(err.to_string().contains("output_length"), "{err}");
    assert!(!dir.path().join("baselines").exists());
}

/// Short outputs with the same server: four one-token words for
/// `max_tokens: 64` is a server that stopped early.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_shorter_than_max_tokens_are_a_server_that_stopped_early() {
    let url = serve_without_usage(" the", 4).await;
    let dir = tempfile::tempdir().unwrap();
    let w = write_workload(dir.path(), "w.yaml", &no_usage_workload(&url, 64));
    let outcome = run(&w, &dir.path().join("b.json"), &[]).await.unwrap();
    let v = &outcome.bundle.context.validity;
    let p = v
        .problems
        .iter()
        .find(|p| p.kind == ProblemKind::OutputLength)
        .unwrap_or_else(|| panic!("{v:?}"));
    assert!(p.message.contains("outputs short"), "{}", p.message);
    assert!(p.message.contains("mean 4.00"), "{}", p.message);
    assert!(v.untrusted_metrics.is_empty(), "{v:?}");
}

/// Against the simulator (exact usage counts) the lengths check out and the
/// check is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_lengths_from_usage_are_checked_and_valid() {
    let (outcome, _) = run_on_sim(
        SimProfile::default(),
        16,
        "load: {mode: closed, concurrency: 4}\nrequests: 20",
        "",
    )
    .await;
    let v = &outcome.bundle.context.validity;
    assert!(
        !kinds(&outcome.bundle).contains(&ProblemKind::OutputLength),
        "{v:?}"
    );
    assert!(
        v.checked
            .iter()
            .any(|c| c.contains("20 requests, mean 16.00 tokens") && c.contains("usage")),
        "{v:?}"
    );
}

/// An open loop at 40 req/s keeps its schedule; one whose `max_in_flight`
/// of 1 holds arrivals back behind 100 ms requests starts at most 10 a
/// second and missed its rate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_loop_held_back_by_max_in_flight_missed_its_rate() {
    let fast = SimProfile {
        ttft_ms: 2.0,
        tpot_ms: 0.5,
        ..SimProfile::default()
    };
    let (kept, _) = run_on_sim(
        fast,
        8,
        "load: {mode: open, rate: 40, arrival: constant}\nduration: 3s",
        "",
    )
    .await;
    let v = &kept.bundle.context.validity;
    assert!(
        !kinds(&kept.bundle).contains(&ProblemKind::RateMissed),
        "{v:?}"
    );
    assert!(
        v.checked.iter().any(|c| c.starts_with("open loop:")),
        "{v:?}"
    );

    let slow = SimProfile {
        ttft_ms: 100.0,
        tpot_ms: 1.0,
        ..SimProfile::default()
    };
    let (held, _) = run_on_sim(
        slow,
        8,
        "load: {mode: open, rate: 40, arrival: constant, max_in_flight: 1}\nrequests: 20",
        "",
    )
    .await;
    let v = &held.bundle.context.validity;
    let p = v
        .problems
        .iter()
        .find(|p| p.kind == ProblemKind::RateMissed)
        .unwrap_or_else(|| panic!("{v:?}"));
    assert!(p.message.contains("fell more than 2 %"), "{}", p.message);
    assert!(p.advice.contains("max_in_flight"), "{}", p.advice);
}

/// A run stopped half-way (SIGINT) is incomplete and invalid: window cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_run_is_a_cut_window() {
    let dir = tempfile::tempdir().unwrap();
    let w = write_workload(
        dir.path(),
        "w.yaml",
        "name: t\nendpoint: sim://default\nmodel: sim-model\nprompts:\n  inline: [\"hi\"]\noutput: {max_tokens: 8, ignore_eos: true}\nload: {mode: closed, concurrency: 2}\nduration: 30s\n",
    );
    let stop = StopSignal::new();
    let stopper = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(800)).await;
        stopper.stop("interrupted by SIGINT");
    });
    let outcome = run_workload(RunOptions {
        workload: w,
        overrides: Default::default(),
        out: dir.path().join("b.json"),
        progress: ProgressMode::Off,
        stop,
        env: std::sync::Arc::new(|_| None),
        repeat: 1,
    })
    .await
    .unwrap();
    let b = &outcome.bundle;
    assert!(!b.context.complete);
    assert_eq!(
        kinds(b).first(),
        Some(&ProblemKind::WindowCut),
        "{:?}",
        b.context.validity
    );
    assert!(
        b.context.validity.problems[0]
            .message
            .contains("interrupted by SIGINT"),
        "{:?}",
        b.context.validity.problems[0]
    );
}
