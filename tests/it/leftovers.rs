//! What a command leaves on disk (issue 13, leftovers): every output goes
//! under `--report-dir`, and a sweep never mixes its levels with an older
//! one's.

use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

fn tokengate() -> Command {
    Command::cargo_bin("tokengate").expect("binary built")
}

const W: &str = "name: t\nendpoint: sim://default\nmodel: sim-model\nprompts:\n  inline: [\"hi\"]\noutput: {max_tokens: 4}\nload: {mode: closed, concurrency: 1}\nrequests: 10\nwarmup: {requests: 0}\n";

/// `sweep` writes `sweep.json` into `--report-dir` (not `./tokengate-out/`)
/// and removes an older sweep's `level-*.json` first, keeping other files.
#[test]
fn sweep_writes_under_the_report_dir_and_replaces_old_levels() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("w.yaml"), W).expect("write");
    let reports = dir.path().join("reports");
    let levels = reports.join("levels");
    std::fs::create_dir_all(&levels).expect("mkdir");
    let old = levels.join("level-64.json");
    std::fs::write(&old, b"{}").expect("old level");
    let keep = levels.join("notes.txt");
    std::fs::write(&keep, b"mine").expect("other file");
    let o = tokengate()
        .args([
            "sweep",
            "w.yaml",
            "--levels",
            "1,2",
            "--quiet",
            "--report-dir",
        ])
        .arg(&reports)
        .current_dir(dir.path())
        .output()
        .expect("sweep");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(reports.join("sweep.json").is_file());
    assert!(
        !dir.path().join("tokengate-out").exists(),
        "wrote outside --report-dir"
    );
    assert!(!old.exists(), "an older sweep's level is mixed in");
    assert!(keep.is_file(), "a file the sweep did not write was removed");
    let mut names: Vec<String> = std::fs::read_dir(&levels)
        .expect("levels")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("level-"))
        .collect();
    names.sort();
    assert_eq!(names, ["level-1.json", "level-2.json"]);
}

/// `check` writes its bundle into `--report-dir` unless `--out` is given.
#[test]
fn check_writes_its_bundle_under_the_report_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("w.yaml"), W).expect("write");
    let reports = dir.path().join("reports");
    let o = tokengate()
        .args([
            "check",
            "w.yaml",
            "--quiet",
            "--baseline-dir",
            "none",
            "--report-dir",
        ])
        .arg(&reports)
        .arg("--gate")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/gates/default.yaml"))
        .current_dir(dir.path())
        .output()
        .expect("check");
    assert!(
        matches!(o.status.code(), Some(0 | 3)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(reports.join("bundle.json").is_file());
    assert!(reports.join("verdict.json").is_file());
    assert!(
        !dir.path().join("tokengate-out").exists(),
        "wrote outside --report-dir"
    );
}
