//! `tokengate ab` end to end over HTTP against simulators on 127.0.0.1:
//! A/A never fails, a real regression fails every time, both bundles are
//! valid bundles of n requests with the same prompt sequence, and bad input
//! (an endpoint down, the wrong model, one endpoint twice) is exit 2 with
//! nothing written.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use assert_cmd::cargo::CommandCargoExt;

use super::common::{bundle_schema_errors, start_sim, write_workload};
use tokengate::bundle::{AbSide, Bundle, read_bundle};
use tokengate::commands::ab::{AbOptions, bundle_paths};
use tokengate::commands::{Outcome, ProgressMode, Status};
use tokengate::driver::StopSignal;
use tokengate::sim::SimProfile;

fn profile(seed: u64, ttft_ms: f64, tpot_ms: f64) -> SimProfile {
    SimProfile {
        ttft_ms,
        tpot_ms,
        jitter_pct: 10.0,
        seed,
        ..SimProfile::default()
    }
}

const REQUESTS: u64 = 200;

/// Three prompts of different lengths, so each request's input token count
/// says which prompt it sent.
fn workload(dir: &Path, seed: u64, extra: &str) -> PathBuf {
    let yaml = format!(
        "name: ab-command\nendpoint: sim://default\nmodel: sim-model\nprompts:\n  inline: [\"one\", \"a prompt of six words here\", \"a much longer prompt with quite a few more words in it than the others\"]\noutput: {{max_tokens: 16, ignore_eos: true}}\nload: {{mode: closed, concurrency: 16}}\nrequests: {REQUESTS}\nwarmup: {{requests: 16}}\nseed: {seed}\nkey: {{hardware_profile: test-host, serving_image: sim}}\n{extra}"
    );
    write_workload(dir, "w.yaml", &yaml)
}

fn options(w: &Path, a: &str, b: &str, report_dir: &Path) -> AbOptions {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    AbOptions {
        workload: w.to_owned(),
        overrides: Default::default(),
        baseline_endpoint: a.to_owned(),
        candidate_endpoint: b.to_owned(),
        candidate_sim: None,
        candidate_overrides: Default::default(),
        gate: root.join("gates/default.yaml"),
        waivers: None,
        inconclusive: None,
        report_dir: report_dir.to_owned(),
        progress: ProgressMode::Off,
        stop: StopSignal::new(),
        env: Arc::new(|_: &str| None),
        publish: Default::default(),
    }
}

/// Both sides load both cores: the A/B tests take turns.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One `ab` run of workload seed `seed` against fresh simulators of the two
/// profiles; a run whose client validity check declares either side invalid
/// (on a host this suite saturates, `client_limited`) says nothing about
/// the design and is run again, at most three times in all.
async fn ab_run(seed: u64, a: &SimProfile, b: &SimProfile) -> (Outcome, Bundle, Bundle) {
    let (outcome, base, cand, _) = ab_run_with_verdict(seed, a, b).await;
    (outcome, base, cand)
}

/// [`ab_run`] and the `verdict.json` it wrote.
async fn ab_run_with_verdict(
    seed: u64,
    a: &SimProfile,
    b: &SimProfile,
) -> (Outcome, Bundle, Bundle, serde_json::Value) {
    let mut attempt = 1;
    loop {
        let dir = tempfile::tempdir().unwrap();
        let (sa, sb) = (start_sim(a.clone()).await, start_sim(b.clone()).await);
        let w = workload(dir.path(), seed, "");
        let report_dir = dir.path().join("out");
        let outcome =
            tokengate::commands::ab::run(options(&w, &sa.base_url(), &sb.base_url(), &report_dir))
                .await
                .expect("ab run");
        sa.shutdown().await;
        sb.shutdown().await;
        let (pa, pb) = bundle_paths(&report_dir);
        let (base, cand) = (read_bundle(&pa).unwrap(), read_bundle(&pb).unwrap());
        let problems: Vec<String> = [&base, &cand]
            .iter()
            .flat_map(|b| {
                b.context
                    .validity
                    .problems
                    .iter()
                    .map(|p| p.message.clone())
            })
            .collect();
        if problems.is_empty() {
            for p in [&pa, &pb] {
                let errors = bundle_schema_errors(p);
                assert!(errors.is_empty(), "{}: {errors:?}", p.display());
            }
            let verdict =
                std::fs::read_to_string(report_dir.join("verdict.json")).expect("verdict.json");
            let verdict = serde_json::from_str(&verdict).expect("verdict.json is JSON");
            return (outcome, base, cand, verdict);
        }
        eprintln!("seed {seed}: ab run {attempt} invalid, run again: {problems:?}");
        assert!(attempt < 3, "seed {seed}: three invalid runs: {problems:?}");
        attempt += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_a_over_three_seeds_never_fails() {
    let _turn = TURN.lock().await;
    let mut statuses = Vec::new();
    for seed in 1..=3u64 {
        let (outcome, _, _) = ab_run(
            seed,
            &profile(100 + seed, 40.0, 4.0),
            &profile(200 + seed, 40.0, 4.0),
        )
        .await;
        eprintln!("A/A seed {seed}: {:?}\n{}", outcome.status, outcome.stdout);
        statuses.push(outcome.status);
    }
    assert!(
        statuses
            .iter()
            .all(|s| *s != Status::Fail && *s != Status::ToolError),
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttft_30_percent_and_decode_25_percent_slower_fails_three_of_three() {
    let _turn = TURN.lock().await;
    let mut statuses = Vec::new();
    for seed in 1..=3u64 {
        let (outcome, _, _) = ab_run(
            seed,
            &profile(100 + seed, 40.0, 4.0),
            &profile(200 + seed, 52.0, 5.0),
        )
        .await;
        eprintln!("A/B seed {seed}: {:?}\n{}", outcome.status, outcome.stdout);
        statuses.push(outcome.status);
    }
    assert_eq!(statuses, vec![Status::Fail; 3]);
}

/// Both sides share the window and complete the same requests, so their
/// window throughputs are equal whatever their speed; the gate compares
/// tokens per second of request time instead. A candidate with the same
/// TTFT but 50 % slower decode (E2E 40 + 16 × 6 = 136 ms against 104 ms:
/// −24 % per stream) fails on output tok/s, and an A/A does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slower_decode_alone_fails_the_throughput_rule_of_the_shared_window() {
    let _turn = TURN.lock().await;
    let rule = |v: &serde_json::Value| {
        v["rules"]
            .as_array()
            .and_then(|rules| {
                rules
                    .iter()
                    .find(|r| r["metric"] == "output_tokens_per_s")
                    .cloned()
            })
            .expect("the default gate has an output_tokens_per_s rule")
    };
    let (outcome, base, cand, verdict) =
        ab_run_with_verdict(11, &profile(111, 40.0, 4.0), &profile(211, 40.0, 6.0)).await;
    let tput = rule(&verdict);
    eprintln!("slower decode: {:?} {tput}", outcome.status);
    // The window throughputs are within a few per cent of each other …
    let window = cand.metrics.output_tokens_per_s / base.metrics.output_tokens_per_s;
    assert!((window - 1.0).abs() < 0.05, "window ratio {window}");
    // … the rule's ratio is not, and it fails.
    assert_eq!(tput["verdict"], "fail", "{tput}");
    let point = tput["estimate"]["point"].as_f64().expect("a ratio");
    assert!((0.70..0.82).contains(&point), "{point}");
    assert_eq!(outcome.status, Status::Fail);

    let (_, _, _, verdict) =
        ab_run_with_verdict(12, &profile(112, 40.0, 4.0), &profile(212, 40.0, 4.0)).await;
    let tput = rule(&verdict);
    assert_ne!(tput["verdict"], "fail", "A/A: {tput}");
}

/// Input token counts of a bundle's requests, sorted: which prompts it sent.
fn prompt_lengths(b: &Bundle) -> Vec<u32> {
    let mut v = b.samples.input_tokens.clone();
    v.sort_unstable();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_bundles_are_valid_bundles_of_n_requests_with_the_same_prompts() {
    let _turn = TURN.lock().await;
    let (outcome, base, cand) = ab_run(5, &profile(7, 40.0, 4.0), &profile(8, 40.0, 4.0)).await;
    for (b, side) in [(&base, AbSide::Baseline), (&cand, AbSide::Candidate)] {
        assert_eq!(b.metrics.requests.attempted, REQUESTS);
        assert_eq!(b.metrics.requests.warmup, 16);
        assert_eq!(b.samples.len() as u64, REQUESTS);
        let ab = b
            .context
            .ab
            .as_ref()
            .expect("marked as one side of an ab pair");
        assert_eq!(ab.side, side);
        assert_eq!(ab.order_seed, 5);
        assert!(b.context.endpoint.starts_with("http://127.0.0.1:"));
        // Per-side window throughput is equal by design in a shared
        // window; the bundle says so, and what the gate compares instead.
        assert!(
            b.context.warnings.iter().any(|w| w.contains("by design")
                && w.contains("tokens per second of request time")),
            "{:?}",
            b.context.warnings
        );
    }
    assert_ne!(base.context.endpoint, cand.context.endpoint);
    let lengths = prompt_lengths(&base);
    assert_eq!(lengths, prompt_lengths(&cand), "the same prompt sequence");
    // All three prompts were drawn (the check above is not vacuous).
    let mut distinct = lengths.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "{distinct:?}");
    // Both sides measured in one window: of an A/A pair, the two sides'
    // measurement windows agree closely.
    let (wa, wb) = (base.context.window_s, cand.context.window_s);
    assert!(
        wa > 0.0 && (wa / wb - 1.0).abs() < 0.2,
        "windows {wa} s and {wb} s"
    );
    for name in ["report.md", "junit.xml", "verdict.json"] {
        assert!(
            outcome.files.iter().any(|f| f.ends_with(name)),
            "{name} in {:?}",
            outcome.files
        );
    }
}

fn tokengate() -> Command {
    Command::cargo_bin("tokengate").expect("binary built")
}

/// `tokengate ab` with the two endpoints; its exit code and stderr, and
/// whether the report directory holds any file afterwards.
fn ab_cli(dir: &Path, w: &Path, a: &str, b: &str) -> (Option<i32>, String, Vec<PathBuf>) {
    let report_dir = dir.join("out");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tokengate()
        .arg("ab")
        .arg(w)
        .args([
            "--baseline-endpoint",
            a,
            "--candidate-endpoint",
            b,
            "--quiet",
        ])
        .arg("--gate")
        .arg(root.join("gates/default.yaml"))
        .arg("--report-dir")
        .arg(&report_dir)
        .output()
        .expect("run tokengate");
    let written = std::fs::read_dir(&report_dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        written,
    )
}

/// A port nothing listens on: bound, then closed.
fn refused_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}/v1")
}

/// The newcomer's one command: two simulators, the candidate a slower
/// built-in; both bundles and the reports are written and the bundle names
/// the profile the candidate's simulator ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_endpoints_on_both_sides_with_a_slower_builtin_candidate() {
    let _turn = TURN.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let report_dir = dir.path().join("out");
    let out = tokengate()
        .arg("ab")
        .arg(root.join("examples/quickstart.yaml"))
        .args(["--baseline-endpoint", "sim://quickstart"])
        .args(["--candidate-endpoint", "sim://quickstart"])
        .args([
            "--candidate-builtin",
            "slow-decode",
            "--requests",
            "48",
            "--quiet",
        ])
        .arg("--gate")
        .arg(root.join("gates/default.yaml"))
        .arg("--report-dir")
        .arg(&report_dir)
        .output()
        .expect("run tokengate");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // A verdict (pass, fail or inconclusive), not a tool error.
    assert!(
        matches!(out.status.code(), Some(0 | 1 | 3)),
        "{:?}\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("gate release:"), "{stdout}");
    let (pa, pb) = bundle_paths(&report_dir);
    let (base, cand) = (read_bundle(&pa).unwrap(), read_bundle(&pb).unwrap());
    assert_eq!(base.context.endpoint, "sim://quickstart");
    assert_eq!(cand.context.endpoint, "sim://slow-decode");
    assert!(cand.metrics.tpot_ms.p50 > base.metrics.tpot_ms.p50);
    for name in ["report.md", "junit.xml", "verdict.json"] {
        assert!(report_dir.join(name).is_file(), "{name}");
    }
}

/// The regression demo: the quickstart's simulator on both sides, the
/// candidate's prefill 30 % slower and decode 25 % slower — `ab` fails it
/// (exit 1). A run the client's validity check declares invalid is run
/// again, at most three times in all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slower_sim_candidate_fails_with_exit_1() {
    let _turn = TURN.lock().await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for attempt in 1..=3 {
        let dir = tempfile::tempdir().unwrap();
        let report_dir = dir.path().join("out");
        let out = tokengate()
            .arg("ab")
            .arg(root.join("examples/quickstart.yaml"))
            .args(["--baseline-endpoint", "sim://quickstart"])
            .args(["--candidate-endpoint", "sim://quickstart"])
            .args(["--candidate-ttft-ms", "52", "--candidate-tpot-ms", "10"])
            .args(["--requests", "100", "--quiet"])
            .arg("--gate")
            .arg(root.join("gates/default.yaml"))
            .arg("--report-dir")
            .arg(&report_dir)
            .output()
            .expect("run tokengate");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let (_, pb) = bundle_paths(&report_dir);
        let cand = read_bundle(&pb).expect("candidate bundle");
        assert_eq!(
            cand.context.endpoint,
            "sim://quickstart (ttft_ms 52, tpot_ms 10)"
        );
        let base = read_bundle(&bundle_paths(&report_dir).0).expect("baseline bundle");
        let problems: Vec<String> = [&base, &cand]
            .iter()
            .flat_map(|b| {
                b.context
                    .validity
                    .problems
                    .iter()
                    .map(|p| p.message.clone())
            })
            .collect();
        if problems.is_empty() {
            assert_eq!(out.status.code(), Some(1), "{stdout}");
            return;
        }
        eprintln!("ab demo run {attempt} invalid, run again: {problems:?}");
    }
    panic!("three invalid runs in a row");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_is_exit_2_with_no_bundle() {
    let sim = start_sim(profile(1, 5.0, 1.0)).await;
    let dir = tempfile::tempdir().unwrap();
    let w = workload(dir.path(), 1, "preflight: {wait: 1s}\n");
    let down = refused_url();
    for (a, b, side) in [
        (sim.base_url(), down.clone(), "candidate"),
        (down.clone(), sim.base_url(), "baseline"),
    ] {
        let (code, stderr, written) = ab_cli(dir.path(), &w, &a, &b);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains(&format!("{side} endpoint")), "{stderr}");
        assert!(written.is_empty(), "{written:?}");
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_serving_another_model_is_exit_2_with_no_bundle() {
    let right = start_sim(profile(1, 5.0, 1.0)).await;
    let wrong = start_sim(SimProfile {
        models: vec!["another-model".into()],
        ..profile(2, 5.0, 1.0)
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let w = workload(dir.path(), 1, "preflight: {wait: 1s}\n");
    let (code, stderr, written) = ab_cli(dir.path(), &w, &right.base_url(), &wrong.base_url());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("candidate endpoint"), "{stderr}");
    assert!(stderr.contains("sim-model"), "{stderr}");
    assert!(written.is_empty(), "{written:?}");
    right.shutdown().await;
    wrong.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_endpoint_twice_is_refused() {
    let sim = start_sim(profile(1, 5.0, 1.0)).await;
    let dir = tempfile::tempdir().unwrap();
    let w = workload(dir.path(), 1, "");
    let url = sim.base_url();
    let (code, stderr, written) = ab_cli(dir.path(), &w, &url, &format!("{url}/"));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("the same endpoint"), "{stderr}");
    assert!(written.is_empty(), "{written:?}");
    sim.shutdown().await;
}
