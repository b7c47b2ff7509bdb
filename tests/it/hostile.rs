//! Hostile configuration: broken workload, gate, waiver and bundle files.
//! Each is exit 2 with one line that names the file and what was expected —
//! never a panic, never a regression verdict.

use std::path::Path;
use std::process::Command;

fn tokengate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tokengate"))
}

const GOOD_WORKLOAD: &str = "name: t\nendpoint: sim://default\nmodel: sim-model\nprompts:\n  inline: [\"hi\"]\nload: {mode: closed, concurrency: 2}\nrequests: 5\n";

/// Run `args`, expect exit 2 and one stderr line containing every `needle`.
fn expect_config_error(args: &[&str], needles: &[&str], cwd: &Path) {
    let out = tokengate().args(args).current_dir(cwd).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "{args:?}: one line expected:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{args:?}: `{n}` missing in: {stderr}");
    }
}

#[test]
fn broken_workloads_are_exit_2_naming_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "wrong-type.yaml",
            "name: t\nendpoint: sim://default\nmodel: m\nprompts:\n  inline: [\"hi\"]\nload: {mode: closed, concurrency: many}\nrequests: 5\n",
            &["wrong-type.yaml:6"],
        ),
        (
            "unknown.yaml",
            "name: t\nendpoint: sim://default\nmodel: m\nprompts:\n  inline: [\"hi\"]\nload: {mode: closed, concurrency: 2}\nrequests: 5\nwarmpu: {requests: 2}\n",
            &["unknown.yaml:8", "warmpu"],
        ),
        (
            "negative.yaml",
            "name: t\nendpoint: sim://default\nmodel: m\nprompts:\n  inline: [\"hi\"]\nload: {mode: closed, concurrency: 2}\nrequests: -5\n",
            &["negative.yaml:7"],
        ),
        (
            "zero.yaml",
            "name: t\nendpoint: sim://default\nmodel: m\nprompts:\n  inline: [\"hi\"]\nload: {mode: closed, concurrency: 2}\nrequests: 0\n",
            &["zero.yaml", "requests"],
        ),
        (
            "over100.yaml",
            "name: t\nendpoint: sim://default\nmodel: m\nprompts:\n  inline: [\"hi\"]\nload: {mode: closed, concurrency: 2}\nrequests: 5\ncancel: {probability: 150%, after_tokens: 3}\n",
            &["over100.yaml", "150%"],
        ),
        (
            "empty-prompts.yaml",
            "name: t\nendpoint: sim://default\nmodel: m\nprompts: {inline: []}\nload: {mode: closed, concurrency: 2}\nrequests: 5\n",
            &["empty-prompts.yaml", "prompts"],
        ),
        (
            "missing-file.yaml",
            "name: t\nendpoint: sim://default\nmodel: m\nprompts: {file: nowhere.jsonl}\nload: {mode: closed, concurrency: 2}\nrequests: 5\n",
            &["nowhere.jsonl"],
        ),
        (
            "invalid.yaml",
            "name: t\nendpoint: [unclosed\n",
            &["invalid.yaml"],
        ),
        (
            "bad-endpoint.yaml",
            "name: t\nendpoint: ftp://x\nmodel: m\nprompts:\n  inline: [\"hi\"]\nload: {mode: closed, concurrency: 2}\nrequests: 5\n",
            &["bad-endpoint.yaml", "endpoint"],
        ),
        (
            "bad-duration.yaml",
            "name: t\nendpoint: sim://default\nmodel: m\nprompts:\n  inline: [\"hi\"]\nload: {mode: closed, concurrency: 2}\nduration: soon\n",
            &["bad-duration.yaml:7", "duration"],
        ),
    ];
    for (name, text, needles) in cases {
        std::fs::write(dir.path().join(name), text).unwrap();
        expect_config_error(&["run", name, "--quiet"], needles, dir.path());
    }
    expect_config_error(&["run", "absent.yaml"], &["absent.yaml"], dir.path());
}

#[test]
fn broken_gates_waivers_and_bundles_are_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // A real bundle to gate.
    std::fs::write(dir.path().join("w.yaml"), GOOD_WORKLOAD).unwrap();
    let out = tokengate()
        .args(["run", "w.yaml", "--quiet", "--out", "b.json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let gates: &[(&str, &str, &[&str])] = &[
        (
            "unknown-metric.yaml",
            "name: g\nrules:\n  - metric: ttft.p97.5x\n    max_increase: 15%\n",
            &["unknown-metric.yaml", "metric"],
        ),
        (
            "bad-limit.yaml",
            "name: g\nrules:\n  - metric: ttft.p95\n    max_increase: 15\n",
            &["bad-limit.yaml", "max_increase"],
        ),
        (
            "over100.yaml",
            "name: g\nrules:\n  - metric: stream_error_rate\n    max: 250%\n",
            &["over100.yaml"],
        ),
        (
            "unknown-field.yaml",
            "name: g\nrules:\n  - metric: ttft.p95\n    max_increase: 15%\n    severty: warn\n",
            &["unknown-field.yaml", "severty"],
        ),
    ];
    for (name, text, needles) in gates {
        std::fs::write(dir.path().join(name), text).unwrap();
        expect_config_error(&["gate", "b.json", "--gate", name], needles, dir.path());
    }
    std::fs::write(
        dir.path().join("waivers.yaml"),
        "- rule: ttft.p95 max_increase 15%\n  approver: a\n  reason: r\n  expires: 2026-13-40\n",
    )
    .unwrap();
    let gate = root.join("gates/default.yaml");
    let gate = gate.to_str().unwrap();
    expect_config_error(
        &[
            "gate",
            "b.json",
            "--gate",
            gate,
            "--waivers",
            "waivers.yaml",
        ],
        &["waivers.yaml"],
        dir.path(),
    );

    // Bundles: truncated, wrong type, from a newer schema.
    let good = std::fs::read_to_string(dir.path().join("b.json")).unwrap();
    std::fs::write(dir.path().join("truncated.json"), &good[..good.len() / 2]).unwrap();
    std::fs::write(
        dir.path().join("wrong.json"),
        "{\"schema_version\": \"one\"}",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("newer.json"),
        good.replacen("\"schema_version\": 1", "\"schema_version\": 99", 1),
    )
    .unwrap();
    expect_config_error(
        &["gate", "truncated.json", "--gate", gate],
        &["truncated.json"],
        dir.path(),
    );
    expect_config_error(
        &["gate", "wrong.json", "--gate", gate],
        &["wrong.json", "schema_version"],
        dir.path(),
    );
    expect_config_error(
        &["gate", "newer.json", "--gate", gate],
        &["newer.json", "schema_version", "upgrade"],
        dir.path(),
    );
    expect_config_error(
        &["baseline", "promote", "truncated.json"],
        &["truncated.json"],
        dir.path(),
    );
}

/// Child process of `atomic_writes_survive_kill_9`: writes ever newer
/// versions of a large file with `write_atomic` until killed (bounded to
/// 30 s in case nobody kills it).
#[test]
#[ignore = "run by atomic_writes_survive_kill_9 as a child process"]
fn atomic_writer_child() {
    let Some(path) = std::env::var_os("TOKENGATE_WRITER_CHILD") else {
        return;
    };
    let path = std::path::PathBuf::from(path);
    let started = std::time::Instant::now();
    let mut version = 0u64;
    while started.elapsed() < std::time::Duration::from_secs(30) {
        // A self-checking document: 400,000 copies of one version number.
        let body = serde_json::to_vec(&vec![version; 400_000]).unwrap();
        tokengate::fsutil::write_atomic(&path, &body).unwrap();
        version += 1;
    }
}

/// `kill -9` in the middle of writes never leaves a truncated file: after
/// each kill the file is absent or one complete version.
#[test]
fn atomic_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bundle.json");
    let exe = std::env::current_exe().unwrap();
    let mut complete = 0;
    for trial in 0..8u64 {
        let mut child = Command::new(&exe)
            .args(["--ignored", "--exact", "hostile::atomic_writer_child"])
            .env("TOKENGATE_WRITER_CHILD", &path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(150 + trial * 41));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if let Ok(bytes) = std::fs::read(&path) {
            let v: Vec<u64> = serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("trial {trial}: truncated or corrupt file: {e}"));
            assert_eq!(v.len(), 400_000, "trial {trial}");
            assert!(
                v.iter().all(|&x| x == v[0]),
                "trial {trial}: mixed versions"
            );
            complete += 1;
        }
    }
    assert!(
        complete > 0,
        "the writer never finished a version; the test proved nothing"
    );
}
