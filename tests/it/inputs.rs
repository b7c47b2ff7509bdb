//! Hostile flags and input files (issue 13): flags share the file's
//! validation, user-named files are bounded and must be regular files.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;

fn tokengate() -> Command {
    Command::cargo_bin("tokengate").expect("binary built")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const OPEN: &str = "name: t\nendpoint: sim://default\nmodel: sim-model\nprompts:\n  inline: [\"hi\"]\noutput: {max_tokens: 4}\nload: {mode: open, rate: 50}\nrequests: 20\nwarmup: {requests: 0}\n";
const CLOSED: &str = "name: t\nendpoint: sim://default\nmodel: sim-model\nprompts:\n  inline: [\"hi\"]\noutput: {max_tokens: 4}\nload: {mode: closed, concurrency: 2}\nrequests: 20\nwarmup: {requests: 0}\n";

/// Defect 5: `--concurrency` and `--rate` get the file's bounds in either
/// mode, and a bad `--rate` on a closed-loop workload is an error naming the
/// flag, never silently ignored. Nothing is sent (exit 2 at once).
#[test]
fn load_flags_are_checked_like_the_file_fields() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, yaml) in [("open.yaml", OPEN), ("closed.yaml", CLOSED)] {
        let w = dir.path().join(name);
        std::fs::write(&w, yaml).expect("write");
        let cases: [(&[&str], &str); 6] = [
            (
                &["--concurrency", "5000000"],
                "field `--concurrency`: expected 1 to 100000, got 5000000",
            ),
            (
                &["--rate", "0"],
                "field `--rate`: expected a rate between 0 and 1000000 per second, got 0",
            ),
            (&["--rate", "NaN"], "got NaN"),
            (&["--rate", "inf"], "got inf"),
            (&["--rate", "1e9"], "got 1000000000"),
            (
                &["--rate", "-5"],
                "field `--rate`: expected a rate between 0 and 1000000 per second, got -5",
            ),
        ];
        for (flags, want) in cases {
            let t = Instant::now();
            let o = tokengate()
                .arg("run")
                .arg(&w)
                .args(flags)
                .arg("--out")
                .arg(dir.path().join("b.json"))
                .output()
                .expect("run");
            let e = stderr(&o);
            assert_eq!(o.status.code(), Some(2), "{name} {flags:?}: {e}");
            assert!(e.contains(want), "{name} {flags:?}: {e}");
            assert!(
                !e.contains("-- -5"),
                "clap's hint instead of the rate error: {e}"
            );
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "{flags:?} took {:?}",
                t.elapsed()
            );
        }
    }
}

/// Defect 5: `--concurrency 100000` for 20 requests starts no more users
/// than requests: the run completes quickly over real HTTP to the simulator
/// and every planned request is measured.
#[test]
fn more_users_than_requests_starts_only_as_many_as_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = dir.path().join("open.yaml");
    std::fs::write(&w, OPEN).expect("write");
    let out = dir.path().join("b.json");
    let t = Instant::now();
    let o = tokengate()
        .arg("run")
        .arg(&w)
        .args(["--concurrency", "100000", "--quiet", "--out"])
        .arg(&out)
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "took {:?}",
        t.elapsed()
    );
    let b = tokengate::bundle::read_bundle(&out).expect("bundle");
    assert_eq!(b.metrics.requests.attempted, 20);
    assert_eq!(b.metrics.requests.succeeded, 20);
}
