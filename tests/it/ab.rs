//! The default gate on real simulator runs over HTTP (issue: A/A and A/B).
//! A/A: 20 pairs of runs of one profile with different simulator seeds must
//! never fail. A/B: TTFT 30 % higher and decode 25 % slower must fail at
//! least 19 of 20 pairs. Short runs of a fast profile keep this under a
//! minute; the statistics see the same 200 requests per run the issue names.

use std::path::Path;
use std::time::SystemTime;

use super::common::{run, start_sim, write_workload};
use tokengate::commands::{GateOptions, gate_bundle};
use tokengate::gate::Verdict;
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

async fn bundle_of(dir: &Path, name: &str, p: SimProfile) -> std::path::PathBuf {
    let sim = start_sim(p).await;
    // The workload names a `sim://` endpoint so baseline and candidate share a
    // workload digest; the URL override points it at this test's simulator.
    let yaml = format!(
        "name: ab\nendpoint: {}\nmodel: sim-model\nprompts:\n  inline: [\"one prompt\", \"another prompt\"]\noutput: {{max_tokens: 16, ignore_eos: true}}\nload: {{mode: closed, concurrency: 16}}\nrequests: 200\nwarmup: {{requests: 16}}\nkey: {{hardware_profile: test-host, serving_image: sim}}\n",
        sim.base_url()
    );
    let w = write_workload(dir, &format!("{name}.yaml"), &yaml);
    let out = dir.join(format!("{name}.json"));
    run(&w, &out, &[]).await.expect("run");
    sim.shutdown().await;
    out
}

async fn verdicts(baseline: SimProfile, candidate: SimProfile, pairs: u64) -> Vec<Verdict> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for pair in 0..pairs {
        let dir = tempfile::tempdir().unwrap();
        let mut b = baseline.clone();
        b.seed = 1000 + pair;
        let mut c = candidate.clone();
        c.seed = 2000 + pair;
        let base = bundle_of(dir.path(), "base", b).await;
        let cand = bundle_of(dir.path(), "cand", c).await;
        let store = dir.path().join("baselines");
        tokengate::baseline::promote(&base, &store, 5).expect("promote");
        let report = gate_bundle(&GateOptions {
            bundle: cand,
            gate: root.join("gates/default.yaml"),
            baseline_dir: store,
            baseline_ref: None,
            waivers: None,
            junit: None,
            markdown: None,
            json: None,
            template: None,
            now: SystemTime::now(),
        })
        .expect("gate")
        .report;
        assert!(report.skip_reason.is_none(), "{:?}", report.skip_reason);
        if report.verdict == Verdict::Fail {
            for r in &report.rules {
                eprintln!(
                    "pair {pair}: {} {}: {}",
                    r.outcome.as_str(),
                    r.name,
                    r.explanation
                );
            }
        }
        out.push(report.verdict);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_gate_never_fails_twenty_a_a_pairs() {
    let v = verdicts(profile(0, 40.0, 4.0), profile(0, 40.0, 4.0), 20).await;
    let fails = v.iter().filter(|&&v| v == Verdict::Fail).count();
    let inconclusive = v.iter().filter(|&&v| v == Verdict::Inconclusive).count();
    eprintln!(
        "A/A: {fails} fail, {inconclusive} inconclusive of {}",
        v.len()
    );
    assert_eq!(fails, 0, "{v:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_gate_fails_a_b_pairs_with_slower_ttft_and_decode() {
    // TTFT +30 %, decode 25 % slower (time per token ×1.25).
    let v = verdicts(profile(0, 40.0, 4.0), profile(0, 52.0, 5.0), 20).await;
    let fails = v.iter().filter(|&&v| v == Verdict::Fail).count();
    eprintln!("A/B: {fails} of {} failed", v.len());
    assert!(fails >= 19, "{v:?}");
}
