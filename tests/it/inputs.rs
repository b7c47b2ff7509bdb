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

fn mkfifo(path: &std::path::Path) {
    let st = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(st.success());
}

/// Defect 6: `prompts.file` naming `/dev/zero`, a FIFO without a writer or
/// a file over the cap is refused at once with exit 2, naming the file and
/// what was wrong; nothing is read until memory runs out, nothing hangs.
#[test]
fn prompt_files_that_are_not_bounded_regular_files_are_refused_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("prompts.fifo");
    mkfifo(&fifo);
    let big = dir.path().join("big.jsonl");
    // Sparse: 600 MB long, nothing on disk.
    std::fs::File::create(&big)
        .and_then(|f| f.set_len(600 << 20))
        .expect("sparse file");
    for (file, want) in [
        (std::path::PathBuf::from("/dev/zero"), "a character device"),
        (fifo.clone(), "a FIFO"),
        (big.clone(), "over the cap of 536870912 bytes"),
    ] {
        let w = dir.path().join("w.yaml");
        std::fs::write(
            &w,
            format!(
                "name: t\nendpoint: sim://default\nmodel: sim-model\nprompts:\n  file: {}\noutput: {{max_tokens: 4}}\nload: {{mode: closed, concurrency: 1}}\nrequests: 2\n",
                file.display()
            ),
        )
        .expect("write");
        let t = Instant::now();
        let o = tokengate()
            .arg("run")
            .arg(&w)
            .arg("--out")
            .arg(dir.path().join("b.json"))
            .output()
            .expect("run");
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{file:?}: {e}");
        assert!(e.contains(&file.display().to_string()), "{e}");
        assert!(e.contains(want), "{file:?}: {e}");
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{file:?}: {:?}",
            t.elapsed()
        );
    }
}

/// Defect 6: a 2 GB sparse `*.json` or a FIFO in `baselines/`, and a gate
/// file that is a FIFO, are errors naming the file, not a whole read or a
/// hang.
#[test]
fn baseline_and_gate_files_are_bounded_and_regular() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = dir.path().join("baselines/w/hw/tok/m@i");
    std::fs::create_dir_all(&set).expect("mkdir");
    let huge = set.join("20260101T000000.000Z-aaaaaaaaaaaa.json");
    std::fs::File::create(&huge)
        .and_then(|f| f.set_len(2 << 30))
        .expect("sparse file");
    let o = tokengate()
        .args(["baseline", "list", "--baseline-dir"])
        .arg(dir.path().join("baselines"))
        .output()
        .expect("list");
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("aaaaaaaaaaaa.json"), "{e}");
    assert!(e.contains("over the cap"), "{e}");
    std::fs::remove_file(&huge).expect("rm");
    mkfifo(&huge);
    let t = Instant::now();
    let o = tokengate()
        .args(["baseline", "list", "--baseline-dir"])
        .arg(dir.path().join("baselines"))
        .output()
        .expect("list");
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("a FIFO"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(10));

    let gate = dir.path().join("gate.fifo");
    mkfifo(&gate);
    let bundle = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "baselines/quickstart/simulated/o200k_base/sim-model@tokengate-sim_quickstart/20261202T201336.515Z-48b51d8b8f56.json",
    );
    let t = Instant::now();
    let o = tokengate()
        .arg("gate")
        .arg(&bundle)
        .arg("--gate")
        .arg(&gate)
        .current_dir(dir.path())
        .output()
        .expect("gate");
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("gate.fifo") && e.contains("a FIFO"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(10));
}

/// A raw HTTP listener on 127.0.0.1 that only counts connections (closing
/// each at once); the count tells whether the tool sent anything.
fn counting_listener() -> (
    String,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.set_nonblocking(true).expect("nonblocking");
    let url = format!("http://{}/v1", l.local_addr().expect("addr"));
    let seen = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (s, st) = (seen.clone(), stop.clone());
    std::thread::spawn(move || {
        // Bounded: 60 s at most, or until the test says stop.
        let until = Instant::now() + Duration::from_secs(60);
        while !st.load(Ordering::SeqCst) && Instant::now() < until {
            match l.accept() {
                Ok(_) => {
                    s.fetch_add(1, Ordering::SeqCst);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    (url, seen, stop)
}

/// Defect 11: `check` reads the gate file, the waivers and the baseline ref
/// before it sends a request: each mistake is exit 2 at once, naming it,
/// and the endpoint never sees a connection.
#[test]
fn check_fails_on_its_gate_inputs_before_sending_a_request() {
    use std::sync::atomic::Ordering;
    let (url, seen, stop) = counting_listener();
    let dir = tempfile::tempdir().expect("tempdir");
    let git = |args: &[&str]| {
        let st = Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .status()
            .expect("git");
        assert!(st.success());
    };
    git(&["init", "-q"]);
    std::fs::write(
        dir.path().join("w.yaml"),
        format!(
            "name: t\nendpoint: {url}\nmodel: m\nprompts:\n  inline: [\"hi\"]\noutput: {{max_tokens: 4}}\nload: {{mode: closed, concurrency: 1}}\nrequests: 2\n"
        ),
    )
    .expect("write");
    std::fs::write(dir.path().join("bad-gate.yaml"), "rules: [[[\n").expect("write");
    std::fs::write(dir.path().join("bad-waivers.yaml"), "waivers: 7\n").expect("write");
    let gate = concat!(env!("CARGO_MANIFEST_DIR"), "/gates/default.yaml");
    let cases: [(&[&str], &str); 3] = [
        (
            &["--gate", gate, "--baseline-ref", "no-such-ref"],
            "no-such-ref",
        ),
        (&["--gate", "bad-gate.yaml"], "bad-gate.yaml"),
        (
            &["--gate", gate, "--waivers", "bad-waivers.yaml"],
            "bad-waivers.yaml",
        ),
    ];
    for (flags, want) in cases {
        let t = Instant::now();
        let o = tokengate()
            .args(["check", "w.yaml", "--quiet", "--report-dir", "out"])
            .args(flags)
            .current_dir(dir.path())
            .output()
            .expect("check");
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {e}");
        assert!(e.contains(want), "{flags:?}: {e}");
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{flags:?}: {:?}",
            t.elapsed()
        );
    }
    stop.store(true, Ordering::SeqCst);
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "a request was sent before the inputs were read"
    );
}
