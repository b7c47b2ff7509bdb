//! `tokengate history`: 22 promotions of one set, each committed to a real
//! git repository with `--keep 5`, so the directory holds the last five and
//! only the git history holds them all. A +15 % step in TTFT (p50 and p95)
//! is planted at run 13; ITL and throughput carry the same noise without a
//! step. The history over the commits finds that step and no other.

use crate::common::git;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tokengate::bundle::Bundle;

const RUNS: usize = 22;
const STEP_AT: usize = 13;

fn tokengate(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tokengate"));
    c.current_dir(dir);
    c
}

/// Noise of relative size ±`cv`·√3 (standard deviation `cv`) from a fixed
/// linear congruential sequence, so the test data are the same every run.
struct Noise(u64);

impl Noise {
    fn factor(&mut self, cv: f64) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let u = (self.0 >> 11) as f64 / (1u64 << 53) as f64;
        1.0 + cv * 3f64.sqrt() * (2.0 * u - 1.0)
    }
}

fn fixture_bundle() -> Bundle {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ci/bundle.json");
    serde_json::from_str(&std::fs::read_to_string(p).expect("fixture")).expect("bundle")
}

/// A repository whose `baselines/` went through `RUNS` promotions, one
/// commit each.
fn promoted_history(dir: &Path) -> PathBuf {
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).expect("mkdir");
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("README"), "x").expect("write");
    git(&repo, &["add", "README"]);
    git(&repo, &["commit", "-q", "-m", "init"]);
    let base = fixture_bundle();
    let mut noise = Noise(42);
    for run in 1..=RUNS {
        let mut b = base.clone();
        let step = if run >= STEP_AT { 1.15 } else { 1.0 };
        let m = &mut b.metrics;
        let ttft = 100.0 * step * noise.factor(0.03);
        m.ttft_ms.p50 = Some(ttft);
        m.ttft_ms.p95 = Some(ttft * 1.2 * noise.factor(0.03));
        m.itl_ms.p50 = Some(8.0 * noise.factor(0.03));
        m.itl_ms.p95 = Some(11.0 * noise.factor(0.03));
        m.output_tokens_per_s = 415.0 * noise.factor(0.03);
        let path = dir.join(format!("run-{run}.json"));
        std::fs::write(&path, serde_json::to_vec(&b).expect("JSON")).expect("write");
        let o = tokengate(&repo)
            .args(["baseline", "promote"])
            .arg(&path)
            .args(["--baseline-dir", "baselines", "--keep", "5"])
            .output()
            .expect("promote");
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        git(&repo, &["add", "-A", "baselines"]);
        git(
            &repo,
            &["commit", "-q", "-m", &format!("promote run {run}")],
        );
    }
    repo
}

fn history(repo: &Path, extra: &[&str]) -> Output {
    tokengate(repo)
        .args(["history", "quickstart", "--baseline-dir", "baselines"])
        .args(extra)
        .output()
        .expect("history")
}

#[test]
fn git_history_of_22_promotions_finds_the_planted_step_and_no_other() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = promoted_history(dir.path());
    let o = history(&repo, &["--git-history", "--out-dir", "out"]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.contains(&format!("{RUNS} runs from {} commits", RUNS + 1)),
        "{stdout}"
    );
    let report: Value = serde_json::from_slice(
        &std::fs::read(repo.join("out/history.json")).expect("history.json"),
    )
    .expect("JSON");
    assert_eq!(report["rows"].as_array().map(Vec::len), Some(RUNS));
    let shifts: Vec<(String, u64)> = report["shifts"]
        .as_array()
        .expect("shifts")
        .iter()
        .map(|s| {
            (
                s["measure"].as_str().unwrap_or_default().to_owned(),
                s["run"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        shifts,
        [
            ("ttft_p50".to_owned(), STEP_AT as u64),
            ("ttft_p95".to_owned(), STEP_AT as u64)
        ],
        "{stdout}"
    );
    let change = report["shifts"][0]["change"].as_f64().expect("change");
    // Each run is credited to the commit that first held it: run k to the
    // k-th promotion commit (the first commit is the README's).
    let log = Command::new("git")
        .args(["rev-list", "--reverse", "--first-parent", "HEAD"])
        .current_dir(&repo)
        .output()
        .expect("git rev-list");
    let commits: Vec<String> = String::from_utf8_lossy(&log.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(commits.len(), RUNS + 1);
    for (k, row) in report["rows"].as_array().expect("rows").iter().enumerate() {
        assert_eq!(
            row["commit"].as_str(),
            Some(commits[k + 1].as_str()),
            "run {}",
            k + 1
        );
    }
    assert!((0.10..0.20).contains(&change), "{change}");
    assert!(
        stdout.contains(&format!("TTFT p50 from run {STEP_AT}:")),
        "{stdout}"
    );
    // Every run names the commit that first held it.
    assert!(
        report["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .all(|r| r["commit"].is_string())
    );
    let svg = std::fs::read_to_string(repo.join("out/history-ttft.svg")).expect("svg");
    assert!(
        svg.starts_with("<svg") && svg.matches("class=\"marker change\"").count() == 2,
        "{svg}"
    );
    assert!(repo.join("out/history-itl.svg").is_file());
    assert!(repo.join("out/history-throughput.svg").is_file());
}

/// The directory alone keeps the last five runs: too few for a change
/// point, and it says so.
#[test]
fn the_directory_alone_keeps_five_runs_and_says_change_points_need_more() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = promoted_history(dir.path());
    let o = history(&repo, &["--out-dir", "out"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains(": 5 runs"), "{stdout}");
    assert!(
        stderr.contains("change points need at least 6 runs"),
        "{stderr}"
    );
    assert!(stdout.contains("change points: none"), "{stdout}");
}

#[test]
fn an_unknown_set_or_no_repository_is_exit_2_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = promoted_history(dir.path());
    let o = tokengate(&repo)
        .args(["history", "no-such-set", "--baseline-dir", "baselines"])
        .output()
        .expect("history");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no baseline set matches `no-such-set`"),
        "{err}"
    );

    let plain = dir.path().join("plain");
    std::fs::create_dir_all(plain.join("baselines")).expect("mkdir");
    let o = tokengate(&plain)
        .args([
            "history",
            "quickstart",
            "--baseline-dir",
            "baselines",
            "--git-history",
        ])
        .output()
        .expect("history");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("git") || err.contains("repository"), "{err}");

    let o = tokengate(&repo)
        .args(["history", "quickstart", "--significance", "2"])
        .output()
        .expect("history");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--significance 2"));
}
