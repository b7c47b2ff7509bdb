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

/// `soak` writes its bundle into `--report-dir` beside its reports unless
/// `--out` is given.
#[test]
fn soak_writes_its_bundle_under_the_report_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("w.yaml"),
        "name: s\nendpoint: sim://default\nmodel: sim-model\nprompts:\n  inline: [\"hi\"]\noutput: {max_tokens: 4}\nload: {mode: closed, concurrency: 1}\nduration: 2s\nwarmup: {requests: 0}\n",
    )
    .expect("write");
    let reports = dir.path().join("reports");
    let o = tokengate()
        .args([
            "soak",
            "w.yaml",
            "--quiet",
            "--interval",
            "1s",
            "--report-dir",
        ])
        .arg(&reports)
        .current_dir(dir.path())
        .output()
        .expect("soak");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(reports.join("soak.json").is_file());
    assert!(reports.join("soak.md").is_file());
    assert!(
        !dir.path().join("tokengate-out").exists(),
        "wrote outside --report-dir"
    );
}

/// A raw OpenAI-compatible server that runs `on_first_request` when the
/// first completion request arrives, then streams a short answer to every
/// one. `/v1/models` is a 404 (the model is not checked). Each answer
/// closes its connection; bounded: at most 50 connections and 60 s.
fn hooked_server(on_first_request: impl FnOnce() + Send + 'static) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let start = std::time::Instant::now();
        let mut hook = Some(on_first_request);
        let mut served = 0;
        while served < 50 && start.elapsed() < std::time::Duration::from_secs(60) {
            let Ok((mut s, _)) = listener.accept() else {
                std::thread::sleep(std::time::Duration::from_millis(5));
                continue;
            };
            served += 1;
            s.set_nonblocking(false).expect("blocking");
            s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .expect("timeout");
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // The head, then the body by Content-Length (bounded).
            let head_end = loop {
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(i + 4);
                }
                match s.read(&mut chunk) {
                    Ok(n) if n > 0 && buf.len() < 64 * 1024 => buf.extend_from_slice(&chunk[..n]),
                    _ => break None,
                }
            };
            let Some(head_end) = head_end else { continue };
            let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
                .min(1 << 20);
            while buf.len() < head_end + length {
                match s.read(&mut chunk) {
                    Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                    _ => break,
                }
            }
            if !head.starts_with("post /v1/chat/completions") {
                let _ = s.write_all(
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
                continue;
            }
            if let Some(h) = hook.take() {
                h();
            }
            let body = concat!(
                "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":null}]}\n\n",
                "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" b\"},\"finish_reason\":\"stop\"}]}\n\n",
                "data: [DONE]\n\n"
            );
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// `check` reads the baselines once, before it sends a request, and judges
/// with what it read: a file that appears in `baselines/` while the run
/// measures (here a broken one, written when the first request arrives) is
/// not read. Reading them again after the run would fail on it.
#[test]
fn check_reads_the_baselines_once_before_it_measures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let baselines = dir.path().join("baselines");
    std::fs::create_dir_all(&baselines).expect("mkdir");
    let broken = baselines.join("broken.json");
    let late = broken.clone();
    let port = hooked_server(move || std::fs::write(&late, b"{").expect("write late file"));
    std::fs::write(
        dir.path().join("w.yaml"),
        format!("name: t\nendpoint: http://127.0.0.1:{port}/v1\nmodel: m\nprompts:\n  inline: [\"hi\"]\noutput: {{max_tokens: 2}}\nload: {{mode: closed, concurrency: 1}}\nrequests: 3\nwarmup: {{requests: 0}}\n"),
    )
    .expect("write");
    let o = tokengate()
        .args(["check", "w.yaml", "--quiet", "--baseline-dir"])
        .arg(&baselines)
        .arg("--report-dir")
        .arg(dir.path().join("reports"))
        .arg("--gate")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/gates/default.yaml"))
        .current_dir(dir.path())
        .output()
        .expect("check");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(broken.is_file(), "the hook ran: {stderr}");
    assert!(matches!(o.status.code(), Some(0 | 3)), "{stderr}");
    assert!(!stderr.contains("broken.json"), "{stderr}");
}
