//! `tokengate sweep` against the simulator over real HTTP: the knee where a
//! queueing model puts it, the safe operating point, stop rules, gating a
//! sweep bundle against a baseline sweep, and bad flags.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use assert_cmd::cargo::CommandCargoExt;
use tokengate::bundle::{SweepRules, read_bundle};
use tokengate::commands::{ProgressMode, RunOptions, SweepOptions, SweepOutcome, sweep_workload};
use tokengate::driver::StopSignal;
use tokengate::sim::SimProfile;

use crate::common::{bundle_schema_errors, start_sim, write_workload};

const MAX_TOKENS: u32 = 32;

fn workload(url: &str, duration: &str, warmup: &str) -> String {
    format!(
        "name: capacity\nendpoint: {url}\napi: chat\nmodel: sim-model\nprompts:\n  inline:\n    - \"Say something about latency.\"\noutput:\n  max_tokens: {MAX_TOKENS}\n  ignore_eos: true\nload: {{mode: closed, concurrency: 1}}\nduration: {duration}\nwarmup: {{duration: {warmup}}}\nkey: {{hardware_profile: simulated}}\n"
    )
}

fn rules() -> SweepRules {
    SweepRules::default()
}

fn options(dir: &Path, w: &Path, out: &str) -> SweepOptions {
    SweepOptions {
        run: RunOptions {
            workload: w.to_owned(),
            overrides: Default::default(),
            out: dir.join(out),
            progress: ProgressMode::Off,
            stop: StopSignal::new(),
            env: Arc::new(|_| None),
            repeat: 1,
        },
        levels: None,
        start: None,
        max_load: 64.0,
        rules: rules(),
        slo_gate: None,
        confirm_safe: true,
        max_levels: 16,
        time_budget: None,
        levels_dir: dir.join(format!("{out}.levels")),
        report_dir: Some(dir.join(format!("{out}.reports"))),
        on_level: None,
    }
}

/// Service time of one request at batch size `b` in the simulator's model
/// (src/sim/model.rs): prefill, then one decode step per further token,
/// each `tpot × (1 + batch_growth × (b − 1))`.
fn service_ms(p: &SimProfile, prompt_tokens: f64, b: f64) -> f64 {
    p.ttft_ms
        + p.prefill_us_per_token * prompt_tokens / 1e3
        + (MAX_TOKENS as f64 - 1.0) * p.tpot_ms * (1.0 + p.batch_growth * (b - 1.0))
}

/// The prediction: a closed loop of N users with no think time against c
/// batch slots. Operational analysis bounds throughput by
/// X(N) ≤ min(N / D(N), c / D(c)) and response time by R(N) ≥ max(D, N/X_max)
/// (Lazowska et al. 1984, §5.2, with a c-server station); the two bounds meet
/// at N* = c. Below N* no request waits for a slot (TTFT = prefill); past it,
/// every extra user adds D(c)/c of waiting on average.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_knee_is_where_the_queueing_model_puts_it_and_the_safe_point_is_70_percent() {
    let profile = SimProfile::builtin("saturating").unwrap();
    let slots = f64::from(profile.slots);
    assert_eq!(slots, 8.0);
    let sim = start_sim(profile.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let w = write_workload(
        dir.path(),
        "w.yaml",
        &workload(&sim.base_url(), "2s", "500ms"),
    );
    // An SLO the saturated levels break: p95 TTFT within 200 ms.
    let slo = dir.path().join("slo.yaml");
    std::fs::write(
        &slo,
        "name: slo\npolicy: {min_requests: 10}\nrules:\n  - metric: ttft.p95\n    max: 200ms\n",
    )
    .unwrap();
    let mut opts = options(dir.path(), &w, "sweep.json");
    opts.slo_gate = Some(slo);
    let SweepOutcome { bundle, path, .. } = sweep_workload(opts).await.unwrap();
    let counters = sim.counters();
    sim.shutdown().await;

    let sw = bundle.sweep.as_deref().expect("a sweep section");
    let loads: Vec<f64> = sw.curve.iter().map(|p| p.load).collect();
    eprintln!("levels {loads:?}; stop: {}", sw.stop_reason);
    for p in &sw.curve {
        eprintln!(
            "  {:>3}: TTFT p95 {:?} ITL p95 {:?} {:.1} tok/s queue p95 {:?} slo {:?}",
            p.load,
            p.ttft_p95_ms,
            p.itl_p95_ms,
            p.output_tokens_per_s,
            p.server_queue_p95_ms,
            p.slo_met
        );
    }
    for s in &sw.signals {
        eprintln!("  {}", s.note);
    }
    // Doubling to 16 broke the SLO; bisection then closed in on the knee,
    // and the safe point (5.6 → 5 users) was measured too.
    assert!(
        sw.stop_reason.contains("the SLO broke at 16"),
        "{}",
        sw.stop_reason
    );
    assert_eq!(loads, vec![1.0, 2.0, 4.0, 5.0, 8.0, 9.0, 10.0, 12.0, 16.0]);
    let knee = sw.knee.as_ref().expect("a knee");
    assert_eq!(knee.load, slots, "the knee is at the slot count");
    assert!(
        ["server_queue_p95", "ttft_p95"].contains(&knee.first_signal.as_str()),
        "{}",
        knee.first_signal
    );
    let itl = sw.signals.iter().find(|s| s.signal == "itl_p95").unwrap();
    assert_eq!(
        itl.bend_load, None,
        "ITL grows with the batch, it does not bend: {}",
        itl.note
    );
    let safe = sw.safe.as_ref().expect("a safe point");
    assert!((safe.load - 0.7 * slots).abs() < 1e-9);
    assert_eq!(safe.configured_load, 5.0);
    assert_eq!(safe.headline_load, 5.0);
    assert_eq!(
        bundle.context.load.concurrency,
        Some(5),
        "the headline is the 5-user level"
    );

    // The measured curve follows the model, level by level.
    let prompt =
        bundle.metrics.tokens.input_total as f64 / bundle.metrics.requests.succeeded.max(1) as f64;
    let d_c = service_ms(&profile, prompt, slots);
    for p in &sw.curve {
        let n = p.load;
        let model_rps = n.min(slots) / (service_ms(&profile, prompt, n.min(slots)) / 1e3);
        let ratio = p.requests_per_s / model_rps;
        assert!(
            (0.8..=1.1).contains(&ratio),
            "level {n}: {:.2} req/s, model {model_rps:.2}",
            p.requests_per_s
        );
        let ttft = p.ttft_p95_ms.unwrap();
        if n <= slots {
            assert!(
                ttft < profile.ttft_ms * 1.5,
                "level {n}: TTFT p95 {ttft} without queueing"
            );
        } else {
            // Waiting for a slot adds on the order of a service time.
            assert!(
                ttft > profile.ttft_ms + 0.5 * d_c,
                "level {n}: TTFT p95 {ttft}"
            );
            assert!(p.server_queue_p95_ms.unwrap() > 0.5 * d_c);
        }
        assert_eq!(p.slo_met, Some(n <= slots || p.slo_broken.is_empty()));
    }
    assert_eq!(sw.curve.last().unwrap().slo_met, Some(false));
    // Every level's bundle is inside, and the file on disk is the same.
    assert_eq!(sw.levels.len(), sw.curve.len());
    let total: u64 = sw.levels.iter().map(|b| b.metrics.requests.attempted).sum();
    let warmup: u64 = sw.levels.iter().map(|b| b.metrics.requests.warmup).sum();
    assert!(counters.requests_received >= total + warmup);
    assert_eq!(read_bundle(&path).unwrap(), bundle);
    // The sweep bundle validates against the committed schema.
    let errors = bundle_schema_errors(&path);
    assert!(errors.is_empty(), "{errors:?}");
}

async fn sweep_with_slots(dir: &Path, slots: u32, out: &str) -> std::path::PathBuf {
    let profile = SimProfile {
        slots,
        ..SimProfile::builtin("saturating").unwrap()
    };
    let sim = start_sim(profile).await;
    let w = write_workload(
        dir,
        &format!("{out}.yaml"),
        &workload(&sim.base_url(), "1s", "300ms"),
    );
    let mut opts = options(dir, &w, out);
    opts.levels = Some(vec![2.0, 4.0, 6.0, 8.0, 9.0, 10.0, 12.0]);
    opts.confirm_safe = false;
    let outcome = sweep_workload(opts).await.unwrap();
    sim.shutdown().await;
    outcome.path
}

fn tokengate() -> Command {
    Command::cargo_bin("tokengate").expect("binary built")
}

/// The capacity gate: a server with half the slots halves the safe operating
/// point and fails `sweep.safe_load max_decrease 10%`; the baseline sweep
/// against itself passes (a bisected closed-loop knee is exact).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_bundle_is_gated_like_any_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let base = sweep_with_slots(dir.path(), 8, "base.json").await;
    let cand = sweep_with_slots(dir.path(), 4, "cand.json").await;
    let b = read_bundle(&base).unwrap();
    let c = read_bundle(&cand).unwrap();
    let (bk, ck) = (
        b.sweep.as_ref().unwrap().knee.as_ref().map(|k| k.load),
        c.sweep.as_ref().unwrap().knee.as_ref().map(|k| k.load),
    );
    // On failure, say what each level measured and which signal bent.
    let curve = |x: &tokengate::bundle::Bundle| {
        let sw = x.sweep.as_ref().unwrap();
        let levels: Vec<String> = sw
            .curve
            .iter()
            .map(|p| {
                format!(
                    "{}: ttft p95 {:?} itl p95 {:?} queue p95 {:?} client saturated {}",
                    p.load, p.ttft_p95_ms, p.itl_p95_ms, p.server_queue_p95_ms, p.client_saturated
                )
            })
            .collect();
        format!("{levels:#?} knee {:?}", sw.knee)
    };
    assert_eq!(
        (bk, ck),
        (Some(8.0), Some(4.0)),
        "base {}\ncand {}",
        curve(&b),
        curve(&c)
    );

    let baselines = dir.path().join("baselines");
    let promote = tokengate()
        .args(["baseline", "promote"])
        .arg(&base)
        .arg("--baseline-dir")
        .arg(&baselines)
        .output()
        .unwrap();
    assert!(
        promote.status.success(),
        "{}",
        String::from_utf8_lossy(&promote.stderr)
    );
    let gate = Path::new(env!("CARGO_MANIFEST_DIR")).join("gates/sweep.yaml");
    let judge = |bundle: &Path, json: &str| {
        let out = tokengate()
            .arg("gate")
            .arg(bundle)
            .arg("--gate")
            .arg(&gate)
            .arg("--baseline-dir")
            .arg(&baselines)
            .arg("--json")
            .arg(dir.path().join(json))
            .output()
            .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join(json)).unwrap()).unwrap();
        (
            out.status.code(),
            v,
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let rule = |v: &serde_json::Value, name: &str| {
        v["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no rule {name} in {v}"))
    };
    let (code, v, stdout) = judge(&cand, "cand.json");
    assert_eq!(code, Some(1), "{stdout}");
    let r = rule(&v, "sweep.safe_load max_decrease 10%");
    assert_eq!(r["verdict"], "fail", "{r}");
    assert!(
        (r["baseline_value"].as_f64().unwrap() - 5.6).abs() < 1e-9,
        "{r}"
    );
    assert!(
        (r["candidate_value"].as_f64().unwrap() - 2.8).abs() < 1e-9,
        "{r}"
    );
    assert!(r["explanation"].as_str().unwrap().contains("−50 %"), "{r}");
    assert_eq!(r["decision"]["kind"], "sweep_change", "{r}");
    assert_eq!(r["decision"]["finding"], "past", "{r}");

    let (code, v, stdout) = judge(&base, "base-again.json");
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(
        rule(&v, "sweep.safe_load max_decrease 10%")["verdict"],
        "pass"
    );
}

#[test]
fn bad_sweep_flags_are_errors_that_name_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let w = write_workload(
        dir.path(),
        "w.yaml",
        &workload("sim://saturating", "1s", "0s"),
    );
    for (args, expected) in [
        (
            vec!["--levels", "1.5,2"],
            "whole numbers of concurrent users",
        ),
        (vec!["--safe-share", "0"], "--safe-share"),
        (vec!["--levels", "0,2"], "expected a positive number"),
        (vec!["--min-prominence", "1.5"], "--min-prominence"),
    ] {
        let out = tokengate()
            .arg("sweep")
            .arg(&w)
            .args(&args)
            .arg("--report-dir")
            .arg(dir.path())
            .arg("--quiet")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// The binary end to end on a short list: one line per level, the summary,
/// the sweep bundle and each level's bundle on disk.
#[test]
fn the_sweep_command_prints_each_level_and_writes_its_bundles() {
    let dir = tempfile::tempdir().unwrap();
    let w = write_workload(
        dir.path(),
        "w.yaml",
        &workload("sim://saturating", "1s", "200ms"),
    );
    let out = tokengate()
        .arg("sweep")
        .arg(&w)
        .args(["--levels", "1,2", "--quiet", "--out"])
        .arg(dir.path().join("s.json"))
        .arg("--report-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("level       1 users"), "{stdout}");
    assert!(stdout.contains("level       2 users"), "{stdout}");
    assert!(
        stdout.contains("knee: none in the measured range"),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 level(s) measured: a bend needs at least 3"),
        "{stdout}"
    );
    let b = read_bundle(&dir.path().join("s.json")).unwrap();
    assert_eq!(b.sweep.as_ref().unwrap().curve.len(), 2);
    assert!(stdout.contains("report: "), "{stdout}");
    let html = std::fs::read_to_string(dir.path().join("sweep.html")).unwrap();
    assert!(html.contains("<svg"), "the HTML embeds its charts");
    let md = std::fs::read_to_string(dir.path().join("sweep.md")).unwrap();
    assert!(md.contains("(sweep.html)"), "{md}");
    assert!(dir.path().join("sweep-ttft.svg").exists());
    for l in ["level-1.json", "level-2.json"] {
        assert!(
            read_bundle(&dir.path().join("levels").join(l)).is_ok(),
            "{l}"
        );
    }
}

/// An open-loop sweep steps request rates. The simulator's 8 slots serve
/// about 8 / D(8) requests per second (D(8) ≈ 0.37 s with 32 tokens, so
/// ≈ 21 req/s); below that the queue stays short, past it the queue grows
/// for as long as the level runs, so TTFT climbs past the last rate under
/// capacity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_loop_sweep_bends_at_the_last_rate_under_capacity() {
    let profile = SimProfile::builtin("saturating").unwrap();
    let sim = start_sim(profile.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let w = write_workload(
        dir.path(),
        "w.yaml",
        &workload(&sim.base_url(), "2s", "300ms").replace(
            "load: {mode: closed, concurrency: 1}",
            "load: {mode: open, rate: 1, arrival: constant}",
        ),
    );
    let mut opts = options(dir.path(), &w, "open.json");
    opts.levels = Some(vec![4.0, 8.0, 12.0, 16.0, 32.0]);
    opts.confirm_safe = false;
    let outcome = sweep_workload(opts).await.unwrap();
    sim.shutdown().await;
    let sw = outcome.bundle.sweep.as_deref().unwrap();
    for p in &sw.curve {
        eprintln!(
            "  {:>4} req/s: TTFT p95 {:?} achieved {:.1} req/s",
            p.load, p.ttft_p95_ms, p.requests_per_s
        );
    }
    assert_eq!(sw.mode, "open");
    assert_eq!(sw.load_unit, "req/s");
    let prompt = outcome.bundle.metrics.tokens.input_total as f64
        / outcome.bundle.metrics.requests.succeeded.max(1) as f64;
    let capacity = 8.0 / (service_ms(&profile, prompt, 8.0) / 1e3);
    let knee = sw.knee.as_ref().expect("a knee").load;
    // The knee is the highest listed rate below capacity.
    let expected = [4.0, 8.0, 12.0, 16.0]
        .into_iter()
        .filter(|&r| r < capacity)
        .fold(0.0, f64::max);
    assert_eq!(knee, expected, "capacity {capacity:.1} req/s");
    let safe = sw.safe.as_ref().unwrap();
    assert!(
        (safe.configured_load - 0.7 * knee).abs() < 1e-9,
        "open loop keeps the fraction"
    );
}

/// A level that cannot run (here: the workload file broke between levels)
/// ends the sweep, but what was measured is kept: the sweep bundle is
/// written with the levels before it and says why it ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_level_that_cannot_run_ends_the_sweep_without_losing_the_measured_ones() {
    let dir = tempfile::tempdir().unwrap();
    let w = write_workload(
        dir.path(),
        "w.yaml",
        &workload("sim://saturating", "1s", "200ms"),
    );
    let mut opts = options(dir.path(), &w, "cut.json");
    opts.levels = Some(vec![1.0, 2.0, 4.0]);
    let broken = w.clone();
    opts.on_level = Some(Arc::new(move |p, _| {
        if p.load == 2.0 {
            std::fs::write(&broken, "name: broken\nunknown_field: 1\n").unwrap();
        }
    }));
    let outcome = sweep_workload(opts).await.unwrap();
    let sw = outcome.bundle.sweep.as_deref().unwrap();
    assert_eq!(
        sw.curve.iter().map(|p| p.load).collect::<Vec<_>>(),
        vec![1.0, 2.0]
    );
    assert!(
        sw.stop_reason.contains("level 4 of the sweep"),
        "{}",
        sw.stop_reason
    );
    assert!(
        sw.stop_reason.contains("unknown_field"),
        "{}",
        sw.stop_reason
    );
    assert!(
        outcome
            .bundle
            .context
            .warnings
            .iter()
            .any(|w| w.contains("the sweep ended early")),
        "{:?}",
        outcome.bundle.context.warnings
    );
    assert_eq!(read_bundle(&outcome.path).unwrap(), outcome.bundle);
}
