//! Soak runs against the simulator over real HTTP: interval snapshots add up
//! to the bundle's totals, a stable server shows no drift, a drifting one
//! is caught; the CLI refuses bad intervals and count mode.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use assert_cmd::cargo::CommandCargoExt;
use tokengate::bundle::{Bundle, read_bundle};
use tokengate::commands::{ProgressMode, RunOptions, SoakOptions, soak_workload};
use tokengate::driver::StopSignal;
use tokengate::sim::SimProfile;

use crate::common::{start_sim, workload_yaml, write_workload};

/// Soak `secs` seconds at interval 1 s against an in-process simulator with
/// `profile`, closed loop with 3 users, telemetry scraped every 500 ms.
async fn soak_on_sim(profile: SimProfile, secs: u64) -> Bundle {
    let sim = start_sim(profile).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let w = write_workload(
        dir.path(),
        "w.yaml",
        &workload_yaml(
            &sim.base_url(),
            8,
            "load: {mode: closed, concurrency: 3}",
            "duration: 1h\ntelemetry: {interval: 500ms}",
        ),
    );
    let out = dir.path().join("soak.json");
    let outcome = soak_workload(SoakOptions {
        run: RunOptions {
            workload: w,
            // The override wins over the workload's `duration: 1h`.
            overrides: tokengate::workload::Overrides {
                duration: Some(Duration::from_secs(secs)),
                ..Default::default()
            },
            out: out.clone(),
            progress: ProgressMode::Off,
            stop: StopSignal::new(),
            env: Arc::new(|_: &str| None),
            repeat: 1,
        },
        interval: Duration::from_secs(1),
        report_dir: None,
    })
    .await
    .expect("soak");
    sim.shutdown().await;
    // What was returned is what was written.
    let written = read_bundle(&out).expect("bundle on disk");
    assert_eq!(written.soak, outcome.bundle.soak);
    written
}

fn trend<'a>(b: &'a Bundle, series: &str) -> &'a tokengate::bundle::SoakTrend {
    let soak = b.soak.as_ref().expect("soak section");
    soak.trends
        .iter()
        .find(|t| t.series == series)
        .unwrap_or_else(|| panic!("no {series} trend in {:?}", soak.trends))
}

/// Through the binary with the built-in simulator (`sim://default`, real
/// HTTP on loopback inside the child): the client's and the server's memory
/// are then the child's own, not this test process's, which other tests
/// share and grow.
#[test]
fn stable_soak_has_a_snapshot_per_second_that_add_up_and_no_drift() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = dir.path().join("w.yaml");
    std::fs::write(
        &w,
        "name: stable\nendpoint: sim://default\nmodel: sim-model\nprompts:\n  inline: [\"Say something about latency.\"]\noutput: {max_tokens: 8, ignore_eos: true}\nload: {mode: closed, concurrency: 3}\nduration: 8s\ntelemetry: {interval: 500ms}\n",
    )
    .expect("write workload");
    let out = dir.path().join("soak.json");
    let res = tokengate()
        .args(["soak", "--quiet", "--interval", "1s"])
        .arg(&w)
        .arg("--out")
        .arg(&out)
        .arg("--report-dir")
        .arg(dir.path())
        .output()
        .expect("run tokengate");
    let stdout = String::from_utf8_lossy(&res.stdout);
    assert_eq!(
        res.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let b = read_bundle(&out).expect("bundle");
    let soak = b.soak.as_ref().expect("soak section");
    assert_eq!(soak.interval_s, 1.0);
    assert_eq!(soak.snapshots.len(), 8, "{:?}", soak.snapshots);
    for (k, s) in soak.snapshots.iter().enumerate() {
        assert_eq!(s.start_s, k as f64);
        assert!(s.requests > 0, "{s:?}");
        assert!(
            s.ttft_p95_ms.is_some() && s.client_rss_mib.is_some(),
            "{s:?}"
        );
    }
    let requests: u64 = soak.snapshots.iter().map(|s| s.requests).sum();
    let failed: u64 = soak.snapshots.iter().map(|s| s.failed).sum();
    assert_eq!(requests, b.metrics.requests.attempted);
    assert_eq!(failed, b.metrics.requests.failed);
    assert_eq!(b.samples.len() as u64, requests);
    for t in &soak.trends {
        assert!(!t.drifting, "{t:?}\n{stdout}");
    }
    assert!(stdout.contains("no series is drifting"), "{stdout}");
    assert_eq!(trend(&b, "ttft_p95_ms").points, 8);
    assert_eq!(trend(&b, "client_rss_mib").points, 8);

    // The server timeline: every scrape, times from the window's opening,
    // with the simulator's resident memory.
    let server = b.server.as_ref().expect("server telemetry");
    let tl = &server.timeline;
    assert!(tl.len() >= 10, "{} scrapes", tl.len());
    assert!(tl.windows(2).all(|w| w[0].t_s <= w[1].t_s), "{tl:?}");
    assert!(tl[0].t_s <= 0.0 && tl[tl.len() - 1].t_s >= 7.5, "{tl:?}");
    assert!(tl.iter().all(|p| p.rss_bytes.is_some_and(|r| r > 1e6)));
    assert!(tl.iter().any(|p| p.running.is_some_and(|r| r >= 1.0)));
    assert!(soak.snapshots.iter().all(|s| s.server_rss_mib.is_some()));
    assert_eq!(trend(&b, "server_rss_mib").points, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttft_drift_on_the_server_is_caught_as_a_rising_trend() {
    // Prefill grows 25 ms per second of uptime: +200 ms over the soak.
    let profile = SimProfile {
        ttft_drift_ms_per_s: 25.0,
        ..SimProfile::default()
    };
    let b = soak_on_sim(profile, 8).await;
    let t = trend(&b, "ttft_p95_ms");
    assert!(t.drifting, "{t:?}");
    assert!(t.p_value.expect("p-value") < 0.05, "{t:?}");
    let slope_ms_per_s = t.slope_per_hour.expect("slope") / 3600.0;
    assert!(slope_ms_per_s > 15.0 && slope_ms_per_s < 35.0, "{t:?}");
    assert!(
        t.note.starts_with("p95 TTFT rises") && t.note.ends_with("drifting"),
        "{}",
        t.note
    );
    // Throughput falls as each request takes longer: it may count as drift,
    // but never the other way round.
    let tput = trend(&b, "output_tokens_per_s");
    assert!(tput.slope_per_hour.expect("slope") < 0.0, "{tput:?}");
}

fn tokengate() -> Command {
    Command::cargo_bin("tokengate").expect("binary built")
}

/// The binary with a tiny workload; returns (exit code, stderr).
fn soak_cli(workload_tail: &str, args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = dir.path().join("w.yaml");
    std::fs::write(
        &w,
        format!(
            "name: s\nendpoint: sim://default\nmodel: sim-model\nprompts:\n  inline: [\"hello\"]\noutput: {{max_tokens: 4}}\nload: {{mode: closed, concurrency: 1}}\n{workload_tail}\n"
        ),
    )
    .expect("write workload");
    let out = tokengate()
        .arg("soak")
        .arg(&w)
        .arg("--out")
        .arg(dir.path().join("s.json"))
        .arg("--report-dir")
        .arg(dir.path())
        .arg("--quiet")
        .args(args)
        .output()
        .expect("run tokengate");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_interval_under_one_second_is_a_tool_error_naming_the_flag() {
    let (code, err) = soak_cli("duration: 5s", &["--interval", "500ms"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--interval 500ms") && err.contains("at least 1s"),
        "{err}"
    );
}

#[test]
fn an_interval_longer_than_the_duration_is_a_tool_error() {
    let (code, err) = soak_cli("duration: 5s", &["--interval", "1m"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--interval 1m") && err.contains("5s"), "{err}");
}

#[test]
fn count_mode_is_refused_with_a_pointer_to_duration() {
    let (code, err) = soak_cli("requests: 10", &["--interval", "1s"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("`requests`") && err.contains("--duration"),
        "{err}"
    );
    let (code, err) = soak_cli("duration: 5s", &["--requests", "10"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--requests") && err.contains("--duration"),
        "{err}"
    );
}

#[test]
fn a_short_cli_soak_prints_the_table_and_the_trends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = dir.path().join("w.yaml");
    std::fs::write(
        &w,
        "name: s\nendpoint: sim://default\nmodel: sim-model\nprompts:\n  inline: [\"hello\"]\noutput: {max_tokens: 4}\nload: {mode: closed, concurrency: 1}\nrequests: 5\n",
    )
    .expect("write workload");
    let out = dir.path().join("s.json");
    // `--duration` overrides the workload's count mode.
    let res = tokengate()
        .args(["soak", "--quiet", "--duration", "3s", "--interval", "1s"])
        .arg(&w)
        .arg("--out")
        .arg(&out)
        .arg("--report-dir")
        .arg(dir.path())
        .output()
        .expect("run tokengate");
    let stdout = String::from_utf8_lossy(&res.stdout);
    assert_eq!(
        res.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(stdout.contains("soak: 3 interval(s) of 1s"), "{stdout}");
    assert!(
        stdout.contains("trends:") && stdout.contains("p95 TTFT"),
        "{stdout}"
    );
    let b = read_bundle(&out).expect("bundle");
    assert_eq!(b.soak.map(|s| s.snapshots.len()), Some(3));
    // The reports: the HTML with its charts inline, the Markdown linking it.
    assert!(stdout.contains("report: "), "{stdout}");
    let html = std::fs::read_to_string(dir.path().join("soak.html")).expect("soak.html");
    assert!(html.contains("<svg"), "charts inline");
    let md = std::fs::read_to_string(dir.path().join("soak.md")).expect("soak.md");
    assert!(md.contains("(soak.html)"), "{md}");
    assert!(dir.path().join("soak-ttft.svg").exists());
}
