//! The fault matrix: each fault the simulator injects is one classified
//! outcome, with counts equal to what was injected, and the run finishes
//! within its time budget (DESIGN.md §11).

use std::time::{Duration, Instant};

use super::common::run_on_sim;
use tokengate::sim::{FaultKind, FaultProfile, SimProfile};

struct Row {
    name: &'static str,
    faults: FaultProfile,
    kind: FaultKind,
    /// The bundle's error kind, or `None` when the request still succeeds.
    expect: Option<&'static str>,
    extra: &'static str,
}

fn rows() -> Vec<Row> {
    let f = FaultProfile::default;
    vec![
        Row {
            name: "HTTP 5xx",
            faults: FaultProfile {
                error_rate: 0.5,
                error_status: 503,
                ..f()
            },
            kind: FaultKind::ErrorStatus,
            expect: Some("http_5xx"),
            extra: "",
        },
        Row {
            name: "429 with Retry-After, retries off",
            faults: FaultProfile {
                rate_429: 0.5,
                retry_after_s: 1,
                ..f()
            },
            kind: FaultKind::RateLimited,
            expect: Some("http_429"),
            extra: "",
        },
        Row {
            name: "200 with an empty body",
            faults: FaultProfile {
                empty_body_rate: 0.5,
                ..f()
            },
            kind: FaultKind::EmptyBody,
            expect: Some("empty_response"),
            extra: "",
        },
        Row {
            name: "non-JSON error body",
            faults: FaultProfile {
                non_json_error_rate: 0.5,
                ..f()
            },
            kind: FaultKind::NonJsonError,
            expect: Some("http_5xx"),
            extra: "",
        },
        Row {
            name: "reset mid-stream",
            faults: FaultProfile {
                stream_cut_rate: 0.5,
                cut_after_tokens: 3,
                ..f()
            },
            kind: FaultKind::StreamCut,
            expect: Some("stream_interrupted"),
            extra: "",
        },
        Row {
            name: "malformed event",
            faults: FaultProfile {
                malformed_rate: 0.5,
                ..f()
            },
            kind: FaultKind::Malformed,
            expect: Some("malformed_event"),
            extra: "",
        },
        Row {
            name: "invalid UTF-8",
            faults: FaultProfile {
                invalid_utf8_rate: 0.5,
                ..f()
            },
            kind: FaultKind::InvalidUtf8,
            expect: Some("malformed_event"),
            extra: "",
        },
        Row {
            name: "10 MB line without newline",
            faults: FaultProfile {
                huge_line_rate: 0.5,
                ..f()
            },
            kind: FaultKind::HugeLine,
            expect: Some("malformed_event"),
            extra: "",
        },
        Row {
            name: "stall longer than the timeout",
            faults: FaultProfile {
                stall_rate: 0.5,
                stall_ms: 3000.0,
                ..f()
            },
            kind: FaultKind::Stall,
            expect: Some("timeout"),
            extra: "timeout: 1s",
        },
        Row {
            name: "short stall",
            faults: FaultProfile {
                stall_rate: 0.5,
                stall_ms: 50.0,
                ..f()
            },
            kind: FaultKind::Stall,
            expect: None,
            extra: "",
        },
        Row {
            name: "headers slower than the timeout",
            faults: FaultProfile {
                slow_headers_rate: 0.5,
                slow_headers_ms: 3000.0,
                ..f()
            },
            kind: FaultKind::SlowHeaders,
            expect: Some("timeout"),
            extra: "timeout: 1s",
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_injected_fault_is_one_classified_outcome_counted_exactly() {
    for row in rows() {
        let profile = SimProfile {
            ttft_ms: 2.0,
            tpot_ms: 0.5,
            seed: 21,
            faults: row.faults,
            ..SimProfile::default()
        };
        let started = Instant::now();
        let (outcome, counters) = run_on_sim(
            profile,
            8,
            "load: {mode: closed, concurrency: 8}\nrequests: 40",
            row.extra,
        )
        .await;
        let took = started.elapsed();
        let m = &outcome.bundle.metrics;
        let injected = counters.injected(row.kind);
        assert!(injected > 5, "{}: only {injected} injected", row.name);
        assert_eq!(m.requests.attempted, 40, "{}", row.name);
        assert_eq!(
            m.requests.succeeded + m.requests.failed,
            40,
            "{}: every request has exactly one outcome",
            row.name
        );
        match row.expect {
            Some(kind) => {
                assert_eq!(m.errors[kind], injected, "{}: {:?}", row.name, m.errors);
                assert_eq!(m.requests.failed, injected, "{}: {:?}", row.name, m.errors);
            }
            None => assert_eq!(m.requests.failed, 0, "{}: {:?}", row.name, m.errors),
        }
        // Bounded: 40 short requests, at most a 1 s timeout each in waves of 8.
        assert!(
            took < Duration::from_secs(20),
            "{}: took {took:?}",
            row.name
        );
        eprintln!(
            "{:<36} injected {injected:>2} → {} in {took:.2?}",
            row.name,
            row.expect.unwrap_or("success")
        );
    }
}

/// Unknown model (404) and context overflow (400), with preflight off so the
/// requests reach the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_model_and_context_overflow_are_their_own_kinds() {
    let sim = super::common::start_sim(SimProfile {
        max_context: 64,
        ..SimProfile::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let run = |model: &str, max_tokens: u32| {
        format!(
            "name: t\nendpoint: {}\nmodel: {model}\nprompts:\n  inline: [\"hello\"]\noutput: {{max_tokens: {max_tokens}}}\nload: {{mode: closed, concurrency: 2}}\nrequests: 6\npreflight: {{check_model: false}}\n",
            sim.base_url()
        )
    };
    let w = super::common::write_workload(dir.path(), "a.yaml", &run("nope", 8));
    let o = super::common::run(&w, &dir.path().join("a.json"), &[])
        .await
        .unwrap();
    assert_eq!(
        o.bundle.metrics.errors["http_4xx"], 6,
        "{:?}",
        o.bundle.metrics.errors
    );
    let w = super::common::write_workload(dir.path(), "b.yaml", &run("sim-model", 500));
    let o = super::common::run(&w, &dir.path().join("b.json"), &[])
        .await
        .unwrap();
    assert_eq!(
        o.bundle.metrics.errors["context_overflow"], 6,
        "{:?}",
        o.bundle.metrics.errors
    );
    sim.shutdown().await;
}
