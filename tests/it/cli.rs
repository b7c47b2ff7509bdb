//! The binary: exit codes, stderr, signals.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;

fn tokengate() -> Command {
    Command::cargo_bin("tokengate").expect("binary built")
}

/// SIGINT mid-run: the bundle is written within 2 s, marked incomplete, and
/// the exit code says interrupted.
#[test]
fn sigint_writes_an_incomplete_bundle_within_two_seconds() {
    for (signal, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM")] {
        let dir = tempfile::tempdir().unwrap();
        let w = dir.path().join("w.yaml");
        std::fs::write(
            &w,
            "name: long\nendpoint: sim://default\nmodel: sim-model\nprompts:\n  inline: [\"hello\"]\noutput: {max_tokens: 32, ignore_eos: true}\nload: {mode: closed, concurrency: 4}\nrequests: 100000\n",
        )
        .unwrap();
        let out = dir.path().join("b.json");
        let mut child = tokengate()
            .arg("run")
            .arg(&w)
            .arg("--out")
            .arg(&out)
            .arg("--quiet")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(2500));
        // SAFETY: sending a signal to our own child process.
        unsafe {
            libc::kill(child.id() as i32, signal);
        }
        let sent = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(
                sent.elapsed() < Duration::from_secs(10),
                "no exit after {name}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let took = sent.elapsed();
        assert!(took < Duration::from_secs(2), "{name}: exit took {took:?}");
        assert_eq!(status.code(), Some(130), "{name}");
        let bundle = tokengate::bundle::read_bundle(&out).unwrap();
        assert!(!bundle.context.complete);
        assert_eq!(
            bundle.context.incomplete_reason.as_deref(),
            Some(format!("interrupted by {name}").as_str())
        );
        assert!(bundle.metrics.requests.succeeded > 0);
    }
}

/// A configuration error exits 2 with one line naming file, line and field.
#[test]
fn bad_workload_exits_2_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("bad.yaml");
    std::fs::write(
        &w,
        "name: t\nendpoint: sim://default\nmodel: m\nprompts:\n  inline: [\"hi\"]\nload:\n  mode: sideways\nrequests: 5\n",
    )
    .unwrap();
    let out = tokengate().arg("run").arg(&w).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("bad.yaml:7:"), "{stderr}");
    assert!(stderr.contains("sideways"), "{stderr}");
}

/// A missing API key variable is a configuration error, and the error does
/// not print any secret.
#[test]
fn missing_api_key_variable_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w.yaml");
    std::fs::write(
        &w,
        "name: t\nendpoint: sim://default\nmodel: m\napi_key_env: TOKENGATE_TEST_UNSET_KEY\nprompts:\n  inline: [\"hi\"]\nload: {mode: closed, concurrency: 1}\nrequests: 5\n",
    )
    .unwrap();
    let out = tokengate()
        .arg("run")
        .arg(&w)
        .env_remove("TOKENGATE_TEST_UNSET_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("TOKENGATE_TEST_UNSET_KEY"), "{stderr}");
}

/// The README's first command: the quickstart on the built-in simulator,
/// compared with the baseline committed in `baselines/`. The baseline must
/// stay comparable (same workload digest, metrics version, tool major), so a
/// change that silently breaks comparability fails here.
#[test]
fn quickstart_check_compares_with_the_committed_baseline() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    let output = tokengate()
        .current_dir(root)
        .args(["check", "examples/quickstart.yaml", "--quiet", "--out"])
        .arg(out.path().join("bundle.json"))
        .arg("--report-dir")
        .arg(out.path())
        // A label is metadata: it names the suite, it does not change
        // which baseline is comparable.
        .args(["--label", "sim-pool"])
        .output()
        .unwrap();
    let verdict: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("verdict.json")).unwrap())
            .unwrap();
    assert_eq!(
        verdict["skip_reason"],
        serde_json::Value::Null,
        "{verdict:#}"
    );
    assert_eq!(
        verdict["baseline"]["run_digests"].as_array().map(Vec::len),
        Some(5)
    );
    // The verdict itself depends on the machine this runs on (a loaded CI
    // host may really be slower than the one the baseline was measured on);
    // the exit code must say what the verdict says.
    let expected = match verdict["verdict"].as_str() {
        Some("pass") | Some("inconclusive") => 0,
        Some("fail") => 1,
        other => panic!("unexpected verdict {other:?}"),
    };
    assert_eq!(output.status.code(), Some(expected), "{verdict:#}");
    for name in ["junit.xml", "report.md", "verdict.json", "bundle.json"] {
        assert!(out.path().join(name).exists(), "{name} missing");
    }
    let md = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(md.starts_with("<!-- tokengate:report -->"));
    let junit = std::fs::read_to_string(out.path().join("junit.xml")).unwrap();
    assert!(junit.contains(" · quickstart · sim-pool\""), "{junit}");
}

/// Run the quickstart once into `dir` and return the bundle path.
fn quickstart_bundle(dir: &std::path::Path, extra: &[&str]) -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let bundle = dir.join("bundle.json");
    let out = tokengate()
        .current_dir(root)
        .args([
            "run",
            "examples/quickstart.yaml",
            "--quiet",
            "--requests",
            "60",
            "--out",
        ])
        .arg(&bundle)
        .args(extra)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    bundle
}

/// A baseline measured on other hardware is never a silent pass: the
/// comparison is skipped with the reason, in the report and the JSON verdict;
/// with `inconclusive: block` that blocks (exit 3).
#[test]
fn other_hardware_baseline_is_skipped_with_the_reason_and_blocks_when_asked() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let bundle = quickstart_bundle(dir.path(), &["--meta", "hardware_profile=1xH100-80GB"]);
    let json = dir.path().join("verdict.json");
    let out = tokengate()
        .current_dir(root)
        .arg("gate")
        .arg(&bundle)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let reason = v["skip_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("hardware_profile"), "{v:#}");
    assert!(
        reason.contains("1xH100-80GB") && reason.contains("simulated"),
        "{reason}"
    );
    let ttft = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metric"] == "ttft.p95")
        .unwrap();
    assert_eq!(ttft["verdict"], "skipped");
    assert!(stdout.contains("hardware_profile"), "{stdout}");

    // The same with a gate whose policy blocks on inconclusive results.
    let gate = dir.path().join("block.yaml");
    std::fs::write(
        &gate,
        "name: strict\npolicy:\n  inconclusive: block\nrules:\n  - metric: ttft.p95\n    max_increase: 15%\n",
    )
    .unwrap();
    let out = tokengate()
        .current_dir(root)
        .arg("gate")
        .arg(&bundle)
        .arg("--gate")
        .arg(&gate)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// `baseline explain` names the chosen baseline and, for a bundle from other
/// hardware, why the stored one was refused.
#[test]
fn baseline_explain_says_why_a_baseline_was_refused() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let bundle = quickstart_bundle(dir.path(), &["--meta", "hardware_profile=other-box"]);
    let out = tokengate()
        .current_dir(root)
        .args(["baseline", "explain"])
        .arg(&bundle)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("hardware_profile"), "{text}");
    assert!(text.contains("other-box"), "{text}");
}

/// Preflight: a model the server does not serve is exit 2 with one clear
/// line, in seconds, before any request is timed.
#[test]
fn wrong_model_name_fails_preflight_fast() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w.yaml");
    std::fs::write(
        &w,
        "name: t\nendpoint: sim://default\nmodel: no-such-model\nprompts:\n  inline: [\"hi\"]\nload: {mode: closed, concurrency: 1}\nrequests: 200\n",
    )
    .unwrap();
    let started = Instant::now();
    let out = tokengate()
        .arg("run")
        .arg(&w)
        .arg("--out")
        .arg(dir.path().join("b.json"))
        .output()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("`no-such-model`") && stderr.contains("sim-model"),
        "{stderr}"
    );
    assert!(!dir.path().join("b.json").exists());
}

/// A planted API key reaches the server as a bearer token but never a
/// bundle, report, verdict, log line or error message.
#[test]
fn planted_api_key_appears_in_no_output() {
    const KEY: &str = "sk-planted-7f3a9c0e1d2b4a6f8e0c2a4b6d8f0a1c";
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w.yaml");
    std::fs::write(
        &w,
        "name: secrets\nendpoint: sim://default\nmodel: sim-model\napi_key_env: TG_PLANTED_KEY\nprompts:\n  inline: [\"hi\"]\noutput: {max_tokens: 4}\nload: {mode: closed, concurrency: 2}\nrequests: 10\n",
    )
    .unwrap();
    let out = tokengate()
        .current_dir(dir.path())
        .args([
            "check",
            "w.yaml",
            "--quiet",
            "--report-dir",
            "out",
            "--out",
            "out/bundle.json",
        ])
        .args([
            "--gate",
            concat!(env!("CARGO_MANIFEST_DIR"), "/gates/default.yaml"),
        ])
        .args(["--baseline-dir", "baselines"])
        .env("TG_PLANTED_KEY", KEY)
        .output()
        .unwrap();
    // Any verdict (pass, fail, inconclusive, invalid), never a tool error:
    // this test is about what the outputs contain.
    assert!(
        out.status
            .code()
            .is_some_and(|c| matches!(c, 0 | 1 | 3 | 4)),
        "{out:?}"
    );
    let mut searched = 0;
    for text in [
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ] {
        assert!(!text.contains(KEY));
        searched += 1;
    }
    for entry in std::fs::read_dir(dir.path().join("out")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(KEY), "key leaked into {}", path.display());
        searched += 1;
    }
    assert!(searched >= 6, "bundle, three reports, stdout, stderr");

    // A failing run (refused endpoint) prints an error: no key there either.
    std::fs::write(
        &w,
        "name: secrets\nendpoint: http://127.0.0.1:9/v1\nmodel: m\napi_key_env: TG_PLANTED_KEY\nprompts:\n  inline: [\"hi\"]\nload: {mode: closed, concurrency: 1}\nrequests: 2\npreflight: {wait: 500ms}\n",
    )
    .unwrap();
    let out = tokengate()
        .current_dir(dir.path())
        .args(["run", "w.yaml"])
        .env("TG_PLANTED_KEY", KEY)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&out.stderr).contains(KEY));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(KEY));
}

/// `tokengate sim` prints its URL on stdout (what scripts read) and the
/// banner on stderr as soon as it serves, and stops cleanly with exit 0 on
/// SIGINT and on SIGTERM.
#[test]
fn sim_prints_its_url_when_ready_and_exits_0_on_sigint_or_sigterm() {
    use std::io::{BufRead as _, BufReader};
    for (signal, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM")] {
        let mut child = tokengate()
            .args(["sim", "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut url = String::new();
        stdout.read_line(&mut url).unwrap();
        let url = url.trim_end().to_owned();
        assert!(
            url.starts_with("http://127.0.0.1:") && url.ends_with("/v1"),
            "{name}: {url}"
        );
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut banner = String::new();
        stderr.read_line(&mut banner).unwrap();
        assert_eq!(
            banner,
            format!("tokengate sim: serving on {url} (Ctrl-C to stop)\n")
        );
        // SAFETY: sending a signal to our own child process.
        unsafe {
            libc::kill(child.id() as i32, signal);
        }
        let sent = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(
                sent.elapsed() < Duration::from_secs(10),
                "no exit after {name}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(0), "{name}");
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
        assert_eq!(rest, "", "{name}: nothing more on stdout");
    }
}
