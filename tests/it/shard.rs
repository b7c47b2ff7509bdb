//! Shards over real processes: `tokengate sim` in one process, `tokengate
//! run --shard I/N` in N others, `tokengate merge`, then `gate` — the way a
//! CI matrix or an Indexed Job runs them, on one host.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use tokengate::bundle::{Bundle, read_bundle};

use crate::common::{bundle_schema_errors, workload_yaml, write_workload};

fn tokengate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tokengate"))
}

/// A `tokengate sim` process on 127.0.0.1:0, killed when dropped.
struct SimProcess {
    child: Child,
    url: String,
}

impl SimProcess {
    fn start(args: &[&str]) -> SimProcess {
        let mut child = tokengate()
            .args(["sim", "--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn tokengate sim");
        let mut url = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut url)
            .expect("sim URL");
        let url = url.trim_end().to_owned();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        SimProcess { child, url }
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Wait for `child` at most `limit`; its exit code.
fn wait_bounded(mut child: Child, limit: Duration, what: &str) -> Option<i32> {
    let began = Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return s.code();
        }
        if began.elapsed() > limit {
            let _ = child.kill();
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Run `n` shard processes of `workload` at once (all told to start at one
/// instant 3 s ahead), bundles `shard-I.json` in `dir`.
fn run_shards(dir: &Path, workload: &Path, n: u32, extra: &[&str]) -> Vec<PathBuf> {
    let start_at =
        chrono::DateTime::<chrono::Utc>::from(SystemTime::now() + Duration::from_secs(3))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let children: Vec<(Child, PathBuf)> = (1..=n)
        .map(|i| {
            let out = dir.join(format!("shard-{i}.json"));
            let child = tokengate()
                .arg("run")
                .arg(workload)
                .args([
                    "--shard",
                    &format!("{i}/{n}"),
                    "--start-at",
                    &start_at,
                    "-q",
                ])
                .args(extra)
                .arg("--out")
                .arg(&out)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn shard");
            (child, out)
        })
        .collect();
    children
        .into_iter()
        .map(|(child, out)| {
            let code = wait_bounded(child, Duration::from_secs(120), "a shard run");
            assert_eq!(code, Some(0), "{}", out.display());
            out
        })
        .collect()
}

fn merge(dir: &Path, shards: &[&Path], extra: &[&str]) -> (Option<i32>, String, PathBuf) {
    let out = dir.join("merged.json");
    let _ = std::fs::remove_file(&out);
    let o = tokengate()
        .arg("merge")
        .args(shards)
        .args(extra)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("merge");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        out,
    )
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b
}

/// The closing demonstration. Four shard processes of 2 users each
/// and one process of 8 users, one after the other against one simulator
/// process. Noise controlled: the simulator has no jitter and a 300 ms
/// prefill, so the host's few ms of scheduling delay stay well under 2 % of
/// TTFT, and 31 decode steps of 8 ms make the output rate smooth at the
/// edges of the steady span.
#[test]
fn four_shards_merge_to_the_numbers_of_one_process_and_pass_its_gate() {
    let sim = SimProcess::start(&["--ttft-ms", "300", "--tpot-ms", "8"]);
    let dir = tempfile::tempdir().unwrap();
    let w = write_workload(
        dir.path(),
        "w.yaml",
        &workload_yaml(
            &sim.url,
            32,
            "load: {mode: closed, concurrency: 8}",
            "requests: 160",
        ),
    );
    let shards = run_shards(dir.path(), &w, 4, &[]);
    let paths: Vec<&Path> = shards.iter().map(PathBuf::as_path).collect();
    let (code, stderr, merged_path) = merge(dir.path(), &paths, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let single_path = dir.path().join("single.json");
    let status = tokengate()
        .arg("run")
        .arg(&w)
        .arg("-q")
        .arg("--out")
        .arg(&single_path)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());

    let merged = read_bundle(&merged_path).unwrap();
    let single = read_bundle(&single_path).unwrap();
    for (i, s) in shards.iter().enumerate() {
        let b = read_bundle(s).unwrap();
        let info = b.context.shard.as_ref().expect("context.shard");
        assert_eq!((info.index, info.total), (i as u32 + 1, 4));
        assert_eq!(info.concurrency, Some(2));
        assert_eq!(b.metrics.requests.attempted, 40, "shard {}", i + 1);
        assert!(info.start_at.is_some() && info.start_late_ms.is_some());
    }
    // Request counts exact.
    assert_eq!(merged.metrics.requests.attempted, 160);
    assert_eq!(merged.metrics.requests.succeeded, 160);
    assert_eq!(single.metrics.requests.attempted, 160);
    assert_eq!(merged.samples.len(), 160);
    for i in 1..=4u16 {
        assert_eq!(merged.samples.shard.iter().filter(|&&s| s == i).count(), 40);
    }
    let m = merged.context.merged.as_ref().expect("context.merged");
    assert_eq!(m.shards.len(), 4);
    assert!(m.missing.is_empty() && merged.context.complete);
    assert!(m.overlap >= 0.9, "overlap {}", m.overlap);
    assert_eq!(
        merged.context.workload_digest,
        single.context.workload_digest
    );
    assert_eq!(bundle_schema_errors(&merged_path), Vec::<String>::new());

    let (mt, st) = (&merged.metrics.ttft_ms, &single.metrics.ttft_ms);
    let (mp50, sp50) = (mt.p50.unwrap(), st.p50.unwrap());
    let (mp95, sp95) = (mt.p95.unwrap(), st.p95.unwrap());
    let (mtok, stok) = (
        merged.metrics.output_tokens_per_s,
        single.metrics.output_tokens_per_s,
    );
    println!(
        "TTFT p50 merged {mp50} ms vs single {sp50} ms ({:+.2} %); p95 {mp95} vs {sp95} ({:+.2} %); output tok/s {mtok} vs {stok} ({:+.2} %)",
        (mp50 / sp50 - 1.0) * 100.0,
        (mp95 / sp95 - 1.0) * 100.0,
        (mtok / stok - 1.0) * 100.0
    );
    assert!(rel(mp50, sp50) <= 0.02, "p50 {mp50} vs {sp50}");
    assert!(rel(mp95, sp95) <= 0.02, "p95 {mp95} vs {sp95}");
    assert!(rel(mtok, stok) <= 0.03, "tok/s {mtok} vs {stok}");

    // The merged bundle gates against the single process as its baseline.
    let baselines = dir.path().join("baselines");
    let promoted = tokengate()
        .args(["baseline", "promote"])
        .arg(&single_path)
        .arg("--baseline-dir")
        .arg(&baselines)
        .output()
        .unwrap();
    assert!(promoted.status.success());
    let gate = write_workload(
        dir.path(),
        "gate.yaml",
        "name: shards\npolicy:\n  inconclusive: block\n  unmeasured_run_cv: 3%\nrules:\n  - metric: ttft.p50\n    max_increase: 15%\n  - metric: output_tokens_per_s\n    max_decrease: 15%\n",
    );
    let verdict = dir.path().join("verdict.json");
    let gated = tokengate()
        .arg("gate")
        .arg(&merged_path)
        .arg("--baseline-dir")
        .arg(&baselines)
        .arg("--gate")
        .arg(&gate)
        .arg("--json")
        .arg(&verdict)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&gated.stdout);
    assert_eq!(gated.status.code(), Some(0), "{text}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&verdict).unwrap()).unwrap();
    assert_eq!(v["verdict"], "pass", "{text}");
    let rules = v["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2);
    assert!(rules.iter().all(|r| r["verdict"] == "pass"), "{text}");
}

/// Rewrite a shard's window as a host whose clock is `shift_s` ahead would
/// have recorded it.
fn skew(src: &Path, dst: &Path, shift_s: i64) {
    let mut b: Bundle = read_bundle(src).unwrap();
    let info = b.context.shard.as_mut().unwrap();
    for t in [&mut info.window_started_at, &mut info.window_ended_at] {
        let parsed = chrono::DateTime::parse_from_rfc3339(t).unwrap();
        *t = (parsed + chrono::TimeDelta::seconds(shift_s))
            .with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    }
    tokengate::bundle::write_bundle(&b, dst).unwrap();
}

#[test]
fn merge_refuses_missing_duplicated_foreign_or_skewed_shards_and_writes_nothing() {
    let sim = SimProcess::start(&["--ttft-ms", "20", "--tpot-ms", "2"]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let w = write_workload(
        d,
        "w.yaml",
        &workload_yaml(
            &sim.url,
            8,
            "load: {mode: closed, concurrency: 3}",
            "requests: 60",
        ),
    );
    let shards = run_shards(d, &w, 3, &[]);
    let [s1, s2, s3] = [&shards[0], &shards[1], &shards[2]].map(PathBuf::as_path);
    // A shard of another plan (another seed, so another digest).
    let foreign_dir = d.join("foreign");
    std::fs::create_dir_all(&foreign_dir).unwrap();
    let foreign = run_shards(&foreign_dir, &w, 3, &["--seed", "99"]);
    let skewed = d.join("skewed.json");
    skew(s3, &skewed, 3600);

    let cases: [(&str, Vec<&Path>, &str, &str); 5] = [
        ("missing", vec![s1, s2], "shard(s) 3 of 3 missing", ""),
        (
            "duplicated",
            vec![s1, s2, s2, s3],
            "field `context.shard.index` is 2",
            "shard-2.json",
        ),
        (
            "foreign",
            vec![s1, s2, &foreign[2]],
            "field `context.workload_digest`",
            "foreign/shard-3.json",
        ),
        (
            "skewed",
            vec![s1, s2, &skewed],
            "field `context.shard.window_started_at`",
            "skewed.json",
        ),
        (
            "not a shard",
            vec![s1, s2, &w],
            "not a valid tokengate bundle",
            "w.yaml",
        ),
    ];
    for (what, files, field, file) in cases {
        let (code, stderr, out) = merge(d, &files, &[]);
        assert_eq!(code, Some(2), "{what}: {stderr}");
        assert!(stderr.contains(field), "{what}: {stderr}");
        assert!(stderr.contains(file), "{what}: {stderr}");
        assert!(!out.exists(), "{what}: nothing may be written");
    }
    let (code, stderr, _) = merge(d, &[s1, s2, s3], &["--min-overlap", "150%"]);
    assert_eq!(code, Some(2), "{stderr}");

    // Asked to, a missing shard merges into a bundle marked incomplete.
    let (code, stderr, out) = merge(d, &[s1, s3], &["--allow-incomplete"]);
    assert_eq!(code, Some(0), "{stderr}");
    let b = read_bundle(&out).unwrap();
    assert!(!b.context.complete);
    assert_eq!(b.context.merged.as_ref().unwrap().missing, [2]);
    assert_eq!(b.metrics.requests.attempted, 40);
    let (code, _, _) = merge(d, &[s1, s2, s3], &[]);
    assert_eq!(code, Some(0));
}

#[test]
fn more_shards_than_users_or_a_far_start_time_is_refused_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 9: the plan's own checks come first.
    let w = write_workload(
        dir.path(),
        "w.yaml",
        &workload_yaml(
            "http://127.0.0.1:9/v1",
            8,
            "load: {mode: closed, concurrency: 3}",
            "requests: 12",
        ),
    );
    let out = dir.path().join("b.json");
    let run = |args: &[&str]| {
        let o = tokengate()
            .arg("run")
            .arg(&w)
            .args(args)
            .arg("--out")
            .arg(&out)
            .env_remove("CI_NODE_INDEX")
            .env_remove("CI_NODE_TOTAL")
            .env_remove("JOB_COMPLETION_INDEX")
            .env_remove("TOKENGATE_SHARD")
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, stderr) = run(&["--shard", "4/4"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("field `load.concurrency`") && stderr.contains("fewer than the 4 shards"),
        "{stderr}"
    );
    let (code, stderr) = run(&["--shard", "5/4"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--shard: expected I/N"), "{stderr}");
    let (code, stderr) = run(&["--start-at", "2000-01-01T00:00:00Z"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("passed") && stderr.contains("--start-at"),
        "{stderr}"
    );
    let far = chrono::DateTime::<chrono::Utc>::from(SystemTime::now() + Duration::from_secs(7200))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (code, stderr) = run(&["--start-at", &far]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("at most 60 min ahead"), "{stderr}");
    let (code, stderr) = run(&["--shard", "auto"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("no shard in the environment"), "{stderr}");
    assert!(!out.exists());
}
