//! `tokengate calibrate`: A/A runs over HTTP against the simulator, the
//! calibration file beside the baseline set, loading it back, refusing one
//! from another setup or a corrupt one, and promotion keeping it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use assert_cmd::cargo::CommandCargoExt;

use super::common::{run, start_sim, workload_yaml, write_workload};
use tokengate::baseline::{
    BaselineSource, CALIBRATION_FILE, Calibration, load_sets, promote, resolve, set_dir_for,
};
use tokengate::commands::calibrate::{self, CalibrateOptions};
use tokengate::commands::gate::comparison;
use tokengate::commands::{GateOptions, ProgressMode, RunOptions, Status};
use tokengate::driver::StopSignal;
use tokengate::sim::SimProfile;

fn fast_profile() -> SimProfile {
    SimProfile {
        ttft_ms: 5.0,
        tpot_ms: 1.0,
        ..SimProfile::default()
    }
}

fn workload(dir: &Path, url: &str) -> PathBuf {
    write_workload(
        dir,
        "w.yaml",
        &workload_yaml(
            url,
            16,
            "load: {mode: closed, concurrency: 4}\nrequests: 40\nwarmup: {requests: 4}",
            "",
        ),
    )
}

fn calibrate_options(workload: &Path, baselines: &Path, runs: u32) -> CalibrateOptions {
    CalibrateOptions {
        run: RunOptions {
            workload: workload.to_owned(),
            overrides: Default::default(),
            out: baselines.join("unused.json"),
            progress: ProgressMode::Off,
            stop: StopSignal::new(),
            env: Arc::new(|_: &str| None),
            repeat: runs,
        },
        baseline_dir: baselines.to_owned(),
        out: None,
    }
}

fn gate_options(bundle: &Path, baselines: &Path) -> GateOptions {
    GateOptions {
        bundle: bundle.to_owned(),
        gate: Path::new(env!("CARGO_MANIFEST_DIR")).join("gates/default.yaml"),
        baseline_dir: baselines.to_owned(),
        baseline_ref: None,
        waivers: None,
        junit: None,
        markdown: None,
        json: None,
        template: None,
        now: SystemTime::now(),
        inconclusive: None,
        allow_imported: false,
    }
}

/// The calibrate tests take turns: each loads both cores, and a client
/// starved of CPU makes its runs invalid (`client_limited`).
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Tries of a run that may come out invalid on a loaded host (the client
/// probe then says the client limited the measurement, rightly).
const TRIES: u32 = 3;

/// A promoted baseline run and a calibration of 3 A/A runs of the same
/// workload against the same simulator, in `dir/baselines`. Returns the
/// baseline bundle's file and the calibration file.
async fn calibrated_store(dir: &Path) -> (PathBuf, PathBuf) {
    let _turn = TURN.lock().await;
    let sim = start_sim(fast_profile()).await;
    let w = workload(dir, &sim.base_url());
    let baselines = dir.join("baselines");
    let bundle = dir.join("b.json");
    let mut tries = 0;
    while let Err(e) = {
        run(&w, &bundle, &[]).await.expect("baseline run");
        promote(&bundle, &baselines, 5)
    } {
        tries += 1;
        assert!(tries < TRIES, "{TRIES} invalid baseline runs in a row: {e}");
    }
    let mut tries = 0;
    let out = loop {
        match calibrate::run(calibrate_options(&w, &baselines, 3)).await {
            Ok(out) => break out,
            Err(e) if e.to_string().contains("are invalid") && tries + 1 < TRIES => tries += 1,
            Err(e) => panic!("calibrate: {e:#}"),
        }
    };
    sim.shutdown().await;
    assert_eq!(out.status, Status::Pass, "{out:?}");
    assert!(out.stdout.contains("between-run CV"), "{}", out.stdout);
    assert!(out.stdout.contains("ttft.p50"), "{}", out.stdout);
    let b = tokengate::bundle::read_bundle(&bundle).expect("bundle");
    let file = baselines.join(set_dir_for(&b)).join(CALIBRATION_FILE);
    assert_eq!(out.files, vec![file.clone()]);
    (bundle, file)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calibrate_writes_a_file_beside_the_set_that_loads_back_and_is_used() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (bundle_path, file) = calibrated_store(dir.path()).await;
    let baselines = dir.path().join("baselines");

    let c = Calibration::read(&file).expect("a valid calibration");
    assert_eq!(c.runs, 3);
    for metric in ["ttft.p50", "ttft.p95", "output_tokens_per_s", "tpot.mean"] {
        let m = c.metrics.get(metric).unwrap_or_else(|| panic!("{metric}"));
        assert_eq!(m.df, 2.0, "{metric}: 3 runs give 2 degrees of freedom");
        assert!(
            m.tau2 >= 0.0 && m.cv >= 0.0 && m.within > 0.0,
            "{metric}: {m:?}"
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(file.parent().expect("set dir"))
        .expect("set dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary file left: {leftovers:?}"
    );

    let sets = load_sets(&BaselineSource::Dir(baselines.clone())).expect("load");
    assert_eq!(sets.len(), 1, "the calibration is not a run");
    assert_eq!(sets[0].runs.len(), 1);
    assert_eq!(sets[0].calibration.as_ref(), Some(&c));

    let bundle = tokengate::bundle::read_bundle(&bundle_path).expect("bundle");
    let res = resolve(
        &bundle,
        &BaselineSource::Dir(baselines.clone()),
        SystemTime::now(),
    )
    .expect("resolve");
    assert_eq!(res.calibration_refused, None);
    let opts = gate_options(&bundle_path, &baselines);
    let cmp = comparison(&bundle, "digest".into(), Some(&res), &opts);
    assert_eq!(
        cmp.calibration,
        Some(&c),
        "the gate is given the calibration"
    );

    let text = tokengate::baseline::render_explain(&res);
    assert!(text.contains("calibration: 3 A/A runs"), "{text}");
    assert!(text.contains("ttft.p50: between-run CV"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calibration_from_other_hardware_is_refused_with_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (bundle_path, file) = calibrated_store(dir.path()).await;
    let baselines = dir.path().join("baselines");
    let mut c = Calibration::read(&file).expect("valid");
    c.key.hardware_profile = "1xA100".into();
    std::fs::write(&file, c.to_bytes()).expect("rewrite");

    let bundle = tokengate::bundle::read_bundle(&bundle_path).expect("bundle");
    let res = resolve(
        &bundle,
        &BaselineSource::Dir(baselines.clone()),
        SystemTime::now(),
    )
    .expect("resolve");
    let set = res.chosen.as_ref().expect("the runs still apply");
    assert_eq!(set.calibration, None, "not used");
    let why = res.calibration_refused.clone().expect("a warning");
    assert!(why.contains(CALIBRATION_FILE), "{why}");
    assert!(
        why.contains("key.hardware_profile: calibrated 1xA100, this run "),
        "{why}"
    );
    let opts = gate_options(&bundle_path, &baselines);
    let cmp = comparison(&bundle, "digest".into(), Some(&res), &opts);
    assert_eq!(cmp.calibration, None);
    assert!(cmp.warnings.contains(&why), "{:?}", cmp.warnings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_calibration_is_an_error_naming_the_file_and_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, file) = calibrated_store(dir.path()).await;
    let source = BaselineSource::Dir(dir.path().join("baselines"));

    std::fs::write(&file, "{not json").expect("corrupt");
    let e = load_sets(&source).expect_err("corrupt");
    let chain = tokengate::error_chain(&e);
    assert!(chain.contains(&file.display().to_string()), "{chain}");

    let text = r#"{"schema_version": 1, "runz": 3}"#;
    std::fs::write(&file, text).expect("unknown field");
    let chain = tokengate::error_chain(&load_sets(&source).expect_err("unknown field"));
    assert!(
        chain.contains(&file.display().to_string()) && chain.contains("unknown field `runz`"),
        "{chain}"
    );

    std::fs::write(&file, vec![b' '; 2 << 20]).expect("too large");
    let chain = tokengate::error_chain(&load_sets(&source).expect_err("too large"));
    assert!(chain.contains("more than the 1048576"), "{chain}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_with_keep_one_keeps_the_calibration() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (bundle_path, file) = calibrated_store(dir.path()).await;
    let baselines = dir.path().join("baselines");
    let before = std::fs::read(&file).expect("calibration");
    // A second, different run of the same set, promoted with --keep 1.
    let _turn = TURN.lock().await;
    let sim = start_sim(fast_profile()).await;
    let w = workload(dir.path(), &sim.base_url());
    let second = dir.path().join("b2.json");
    let mut tries = 0;
    while let Err(e) = {
        run(&w, &second, &[]).await.expect("second run");
        promote(&second, &baselines, 1)
    } {
        tries += 1;
        assert!(tries < TRIES, "{TRIES} invalid runs in a row: {e}");
    }
    sim.shutdown().await;
    promote(&bundle_path, &baselines, 1).expect("promote again");
    assert_eq!(std::fs::read(&file).expect("still there"), before);
    let sets = load_sets(&BaselineSource::Dir(baselines)).expect("load");
    assert_eq!(sets[0].runs.len(), 1, "pruned to one run");
    assert!(sets[0].calibration.is_some());
}

/// `--runs 1` is a usage error (exit 2) with the reason, before any run.
#[test]
fn calibrate_with_one_run_is_refused_with_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = workload(dir.path(), "http://127.0.0.1:9/v1");
    let out = std::process::Command::cargo_bin("tokengate")
        .expect("binary")
        .args(["calibrate", &w.display().to_string(), "--runs", "1"])
        .arg("--baseline-dir")
        .arg(dir.path().join("baselines"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("calibrate needs at least 2 runs to measure run-to-run noise"),
        "{stderr}"
    );
    assert!(!dir.path().join("baselines").exists(), "nothing written");
}

/// Ctrl-C during the A/A runs: exit 130 and no calibration file (a partial
/// series does not measure the setup's noise).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_calibration_writes_nothing() {
    let _turn = TURN.lock().await;
    let sim = start_sim(fast_profile()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let w = workload(dir.path(), &sim.base_url());
    let baselines = dir.path().join("baselines");
    let opts = calibrate_options(&w, &baselines, 4);
    let stop = opts.run.stop.clone();
    let interrupt = async {
        // 44 requests a run: stop during the second run.
        for _ in 0..3000 {
            if sim.counters().requests_received >= 44 + 10 {
                stop.stop("interrupted by SIGINT");
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        false
    };
    let (out, stopped) = tokio::join!(calibrate::run(opts), interrupt);
    sim.shutdown().await;
    let out = out.expect("an interrupted calibration is not an error");
    assert!(stopped, "the series reached run 2");
    assert_eq!(out.status, Status::Interrupted);
    assert!(out.files.is_empty());
    let notes = out.notes.join("\n");
    assert!(notes.contains("nothing written"), "{notes}");
    assert!(!baselines.exists(), "no calibration, no directory");
}
