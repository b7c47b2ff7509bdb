//! Shared helpers: temporary workloads, an in-process simulator, running a
//! workload through the library's entry point.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokengate::commands::{ProgressMode, RunOptions, RunOutcome, run_workload};
use tokengate::driver::StopSignal;
use tokengate::sim::{SimProfile, SimServer};

/// Write `yaml` as a workload file in `dir`.
pub fn write_workload(dir: &Path, name: &str, yaml: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, yaml).expect("write workload");
    p
}

/// Start a simulator with `profile` on 127.0.0.1:0.
pub async fn start_sim(profile: SimProfile) -> SimServer {
    SimServer::start(profile, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("start simulator")
}

/// Run a workload through the library, with an empty environment plus `env`.
pub async fn run(workload: &Path, out: &Path, env: &[(&str, &str)]) -> anyhow::Result<RunOutcome> {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    run_workload(RunOptions {
        workload: workload.to_owned(),
        overrides: Default::default(),
        out: out.to_owned(),
        progress: ProgressMode::Off,
        stop: StopSignal::new(),
        env: Arc::new(move |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())),
        repeat: 1,
    })
    .await
}

/// A workload against `url` with the given load lines.
pub fn workload_yaml(url: &str, max_tokens: u32, load: &str, extra: &str) -> String {
    format!(
        "name: test\nendpoint: {url}\napi: chat\nmodel: sim-model\nprompts:\n  inline:\n    - \"Say something about latency.\"\n    - \"Another prompt with a few more words in it.\"\noutput:\n  max_tokens: {max_tokens}\n  ignore_eos: true\n{load}\n{extra}\n"
    )
}

/// Start a simulator with `profile`, run a chat workload of `max_tokens`
/// output tokens with the given load and extra lines against it, stop the
/// simulator; returns the run and the simulator's own counters.
pub async fn run_on_sim(
    profile: SimProfile,
    max_tokens: u32,
    load: &str,
    extra: &str,
) -> (RunOutcome, tokengate::sim::SimCounters) {
    let sim = start_sim(profile).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let w = write_workload(
        dir.path(),
        "w.yaml",
        &workload_yaml(&sim.base_url(), max_tokens, load, extra),
    );
    let outcome = run(&w, &dir.path().join("b.json"), &[]).await.expect("run");
    let counters = sim.counters();
    sim.shutdown().await;
    (outcome, counters)
}

/// Violations of the committed bundle JSON Schema by the bundle file at
/// `path` (empty when it validates).
pub fn bundle_schema_errors(path: &Path) -> Vec<String> {
    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bundle/bundle.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).expect("schema"))
            .expect("schema JSON");
    let instance: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("bundle")).expect("bundle JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    validator
        .iter_errors(&instance)
        .map(|e| e.to_string())
        .collect()
}

/// Runs git in `dir` with a fixed identity and no signing; panics with
/// git's output when it fails.
pub fn git(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {out:?}");
}
