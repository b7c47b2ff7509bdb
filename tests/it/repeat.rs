//! `--repeat N`: N runs of one workload into one bundle, over HTTP against
//! the simulator on 127.0.0.1.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::common::{bundle_schema_errors, start_sim, workload_yaml, write_workload};
use tokengate::bundle::read_bundle;
use tokengate::commands::{ProgressMode, RunOptions, run_workload};
use tokengate::driver::StopSignal;
use tokengate::sim::SimProfile;

/// 24 measured requests after 4 warm-up requests, 4 users: each run is 28
/// requests to the simulator.
const PER_RUN: u64 = 28;

fn fast_profile() -> SimProfile {
    SimProfile {
        ttft_ms: 5.0,
        tpot_ms: 1.0,
        ..SimProfile::default()
    }
}

fn options(workload: &Path, out: &Path, repeat: u32, stop: Arc<StopSignal>) -> RunOptions {
    RunOptions {
        workload: workload.to_owned(),
        overrides: Default::default(),
        out: out.to_owned(),
        progress: ProgressMode::Off,
        stop,
        env: Arc::new(|_: &str| None),
        repeat,
    }
}

fn workload(dir: &Path, url: &str) -> std::path::PathBuf {
    write_workload(
        dir,
        "w.yaml",
        &workload_yaml(
            url,
            16,
            "load: {mode: closed, concurrency: 4}\nrequests: 24\nwarmup: {requests: 4}",
            "",
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_repeats_make_one_bundle_of_three_runs_the_gate_sees_as_three() {
    let sim = start_sim(fast_profile()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let w = workload(dir.path(), &sim.base_url());
    let out = dir.path().join("b.json");
    let outcome = run_workload(options(&w, &out, 3, StopSignal::new()))
        .await
        .expect("run");
    let received = sim.counters().requests_received;
    sim.shutdown().await;
    let b = &outcome.bundle;

    assert!(b.context.complete, "{:?}", b.context.incomplete_reason);
    assert_eq!(received, 3 * PER_RUN, "each run has its own warm-up");
    assert_eq!(b.repeats.len(), 3);
    assert_eq!(b.samples.run.len(), b.samples.len());
    for k in 0..3u16 {
        let n = b.samples.run.iter().filter(|&&r| r == k).count();
        assert_eq!(n, 24, "run {k} holds its 24 measured requests");
    }
    assert!(b.samples.run.iter().all(|&r| r < 3));
    assert_eq!(tokengate::gate::run_count(b), 3);
    // The pooled metrics count every run.
    assert_eq!(b.metrics.requests.attempted, 72);
    assert_eq!(b.metrics.requests.warmup, 12);
    assert_eq!(b.metrics.ttft_ms.count, 72);
    let per_run: u64 = b.repeats.iter().map(|r| r.requests.succeeded).sum();
    assert_eq!(per_run, b.metrics.requests.succeeded);
    // Runs follow each other, and the pooled throughput lies within the runs'.
    assert!(
        b.repeats
            .windows(2)
            .all(|w| w[0].ended_at <= w[1].started_at)
    );
    let rates: Vec<f64> = b.repeats.iter().map(|r| r.output_tokens_per_s).collect();
    let (lo, hi) = rates
        .iter()
        .fold((f64::MAX, 0.0f64), |(l, h), &r| (l.min(r), h.max(r)));
    assert!(lo > 0.0, "{rates:?}");
    let pooled = b.metrics.output_tokens_per_s;
    assert!(
        lo - 1e-3 <= pooled && pooled <= hi + 1e-3,
        "{pooled} outside {rates:?}"
    );
    assert_eq!(b.context.started_at, b.repeats[0].started_at);
    assert_eq!(b.context.ended_at, b.repeats[2].ended_at);

    let mut shown = tokengate::commands::Outcome::default();
    tokengate::commands::run::summarize(&outcome, &mut shown);
    assert!(
        shown.stdout.contains("runs: 3 back to back (--repeat)"),
        "{}",
        shown.stdout
    );
    assert_eq!(read_bundle(&out).expect("bundle file"), *b);
    let errors = bundle_schema_errors(&out);
    assert!(errors.is_empty(), "{errors:?}");
}

/// Ctrl-C during run 3 keeps runs 1 and 2 and marks the bundle incomplete;
/// the cut run is left out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_during_run_three_keeps_the_two_runs_before_it() {
    let sim = start_sim(SimProfile {
        ttft_ms: 20.0,
        tpot_ms: 5.0,
        ..SimProfile::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let w = workload(dir.path(), &sim.base_url());
    let out = dir.path().join("b.json");
    let stop = StopSignal::new();
    let counters = {
        let sim = &sim;
        let stop = stop.clone();
        async move {
            // Stop once run 3 is under way (its warm-up is done).
            for _ in 0..3000 {
                if sim.counters().requests_received >= 2 * PER_RUN + 8 {
                    stop.stop("interrupted by SIGINT");
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            false
        }
    };
    let (outcome, stopped) = tokio::join!(run_workload(options(&w, &out, 5, stop)), counters);
    sim.shutdown().await;
    let outcome = outcome.expect("run");
    assert!(stopped, "the series reached run 3");
    let b = &outcome.bundle;
    assert!(!b.context.complete);
    let reason = b.context.incomplete_reason.as_deref().unwrap_or("");
    assert!(
        reason.contains("during run 3 of 5") && reason.contains("2 complete run(s)"),
        "{reason}"
    );
    assert_eq!(b.repeats.len(), 2);
    assert_eq!(tokengate::gate::run_count(b), 2);
    assert_eq!(b.metrics.requests.attempted, 48, "only the two whole runs");
    assert!(b.samples.run.iter().all(|&r| r < 2));
    let errors = bundle_schema_errors(&out);
    assert!(errors.is_empty(), "{errors:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_outside_one_to_twenty_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = workload(dir.path(), "http://127.0.0.1:9/v1");
    let out = dir.path().join("b.json");
    for n in [0, 21] {
        let Err(e) = run_workload(options(&w, &out, n, StopSignal::new())).await else {
            panic!("--repeat {n} was accepted");
        };
        assert_eq!(
            e.to_string(),
            format!("--repeat {n}: expected a number of runs from 1 to 20")
        );
    }
    assert!(!out.exists(), "nothing written");
}

/// `check --repeat 2`: the series is judged as one bundle of two runs (the
/// report files are written, the verdict is the gate's, not an error).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_with_repeat_judges_the_bundle_of_all_runs() {
    use tokengate::commands::{CheckOptions, GateOptions, PublishFlags, Status};
    let sim = start_sim(fast_profile()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let w = workload(dir.path(), &sim.base_url());
    let out = dir.path().join("b.json");
    let gate = GateOptions {
        bundle: out.clone(),
        gate: Path::new(env!("CARGO_MANIFEST_DIR")).join("gates/default.yaml"),
        baseline_dir: dir.path().join("baselines"),
        baseline_ref: None,
        waivers: None,
        junit: None,
        markdown: None,
        json: Some(dir.path().join("verdict.json")),
        template: None,
        now: std::time::SystemTime::now(),
        inconclusive: None,
        allow_imported: false,
    };
    let o = tokengate::commands::check::run(CheckOptions {
        run: options(&w, &out, 2, StopSignal::new()),
        gate,
        publish: PublishFlags::default(),
        report_dir: dir.path().to_owned(),
    })
    .await
    .expect("check");
    sim.shutdown().await;
    assert_ne!(o.status, Status::ToolError, "{:?}", o.error);
    assert!(o.stdout.contains("runs: 2 back to back"), "{}", o.stdout);
    let b = read_bundle(&out).expect("bundle");
    assert_eq!(b.repeats.len(), 2);
    assert_eq!(tokengate::gate::run_count(&b), 2);
    assert!(dir.path().join("verdict.json").exists());
}
