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

/// The tests that measure, or load the host with 64 streams, take turns:
/// two at once on a small runner would starve each other's clients and so
/// the measurement (a run judged invalid, quantiles off by more than 2 %).
static LOADS_THE_HOST: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    LOADS_THE_HOST
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Wait for `child` at most `limit`; its exit code.
fn wait_bounded(mut child: Child, limit: Duration, what: &str) -> Option<i32> {
    match wait_bounded_status(&mut child, limit) {
        Some(status) => status.code(),
        None => panic!("{what} did not finish within {limit:?}"),
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
    let _turn = one_at_a_time();
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
    assert!(stderr.contains("--min-overlap"), "{stderr}");

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

// --- The engines' own argv: examples/kubernetes and examples/gitlab ------

/// A file of the repository (the examples).
fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn yaml_docs(rel: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(repo_file(rel)).unwrap();
    serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The one document of `kind` in `docs`.
fn doc_of_kind<'a>(docs: &'a [serde_json::Value], kind: &str) -> &'a serde_json::Value {
    let mut found = docs.iter().filter(|d| d["kind"] == kind);
    let doc = found.next().unwrap_or_else(|| panic!("no {kind}"));
    assert!(found.next().is_none(), "more than one {kind}");
    doc
}

/// Expand `$(NAME)` as the kubelet does in a container's args: from the
/// container's environment; a name it does not hold stays as written.
fn kubelet_expand(arg: &str, env: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(at) = rest.find("$(") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 2..];
        match tail.find(')') {
            Some(end) if env.iter().any(|(k, _)| k == &tail[..end]) => {
                let name = &tail[..end];
                out.push_str(&env.iter().find(|(k, _)| k == name).unwrap().1);
                rest = &tail[end + 1..];
            }
            _ => {
                out.push_str("$(");
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A container of a Job's pod template run here as its pod would run it:
/// the image's entrypoint (tokengate) with the container's args, `$(…)`
/// expanded from its env, each volume mount a directory under `root`.
struct PodCommand {
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl PodCommand {
    /// `env_value` gives the value of an env entry: its literal `value`, or
    /// what the test puts in place of a `valueFrom` or a placeholder.
    fn of(
        job: &serde_json::Value,
        root: &Path,
        env_value: impl Fn(&str, &serde_json::Value) -> String,
    ) -> PodCommand {
        let containers = job["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap();
        assert_eq!(containers.len(), 1);
        let c = &containers[0];
        assert!(
            c["command"].is_null(),
            "the image's entrypoint (tokengate) runs the args"
        );
        assert_eq!(c["image"], "registry.gitlab.com/tokengate/tokengate:0.1.0");
        let env: Vec<(String, String)> = c["env"]
            .as_array()
            .map(|v| v.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|e| {
                let name = e["name"].as_str().unwrap().to_owned();
                let value = env_value(&name, e);
                (name, value)
            })
            .collect();
        let mounts: Vec<(String, PathBuf)> = c["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let name = m["name"].as_str().unwrap();
                let local = root.join(name);
                std::fs::create_dir_all(&local).unwrap();
                (m["mountPath"].as_str().unwrap().to_owned(), local)
            })
            .collect();
        let args = c["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                let a = kubelet_expand(a.as_str().unwrap(), &env);
                match mounts
                    .iter()
                    .find(|(at, _)| a.starts_with(&format!("{at}/")))
                {
                    Some((at, local)) => format!("{}{}", local.display(), &a[at.len()..]),
                    None => a,
                }
            })
            .collect();
        PodCommand { args, env }
    }

    fn spawn(&self) -> Child {
        let mut cmd = tokengate();
        for k in [
            "CI_NODE_INDEX",
            "CI_NODE_TOTAL",
            "JOB_COMPLETION_INDEX",
            "TOKENGATE_SHARD",
            "TOKENGATE_SHARD_TOTAL",
        ] {
            cmd.env_remove(k);
        }
        cmd.args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the pod's command")
    }
}

/// `child`'s exit status and output once it exits, within `limit` (killed
/// and the test failed past it); the pipes are read meanwhile.
fn output_within(mut child: Child, limit: Duration, what: &str) -> std::process::Output {
    fn drain(
        pipe: Option<impl std::io::Read + Send + 'static>,
    ) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    }
    let (out, err) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let status = match wait_bounded_status(&mut child, limit) {
        Some(status) => status,
        None => panic!("{what} did not finish within {limit:?}"),
    };
    std::process::Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Wait for `child` at most `limit` (then kill it: `None`).
fn wait_bounded_status(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let began = Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return Some(s);
        }
        if began.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn rfc3339_in(secs: u64) -> String {
    chrono::DateTime::<chrono::Utc>::from(SystemTime::now() + Duration::from_secs(secs))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn requests_of(workload_yaml: &str) -> u64 {
    let w: serde_json::Value = serde_saphyr::from_str(workload_yaml).unwrap();
    w["requests"].as_u64().expect("the workload's `requests`")
}

/// examples/kubernetes: the Indexed Job's pods (the container's argv, one
/// process per JOB_COMPLETION_INDEX 0..completions) against the simulator,
/// then the merge Job's argv; the merged bundle holds the whole plan.
#[test]
fn kubernetes_indexed_job_pods_and_merge_job_give_the_whole_plan() {
    let _turn = one_at_a_time();
    let docs = yaml_docs("examples/kubernetes/shards.yaml");
    let config = doc_of_kind(&docs, "ConfigMap");
    let workload = config["data"]["workload.yaml"].as_str().unwrap();
    assert_eq!(
        workload,
        std::fs::read_to_string(repo_file("examples/shards.yaml")).unwrap(),
        "the ConfigMap holds examples/shards.yaml"
    );
    let job = doc_of_kind(&docs, "Job");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let n = spec["completions"].as_u64().unwrap();
    assert_eq!(spec["parallelism"].as_u64(), Some(n), "all shards at once");

    // Each step on its own "node": the volumes are directories under root.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let sim = SimProcess::start(&["--ttft-ms", "5", "--tpot-ms", "1"]);
    // What `envsubst '$START_AT'` fills in at apply time.
    let start_at = rfc3339_in(5);
    let pods: Vec<PodCommand> = (0..n)
        .map(|k| {
            let pod = PodCommand::of(job, root, |name, e| match name {
                "TOKENGATE_START_AT" => {
                    assert_eq!(e["value"], "${START_AT}");
                    start_at.clone()
                }
                "TOKENGATE_ENDPOINT" => sim.url.clone(),
                "JOB_COMPLETION_INDEX" => {
                    assert_eq!(
                        e["valueFrom"]["fieldRef"]["fieldPath"],
                        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
                    );
                    k.to_string()
                }
                _ => e["value"].as_str().expect("a literal value").to_owned(),
            });
            let at = pod.args.iter().position(|a| a == "--shard-total").unwrap();
            assert_eq!(
                pod.args[at + 1],
                n.to_string(),
                "--shard-total = completions"
            );
            pod
        })
        .collect();
    // The ConfigMap volume: its keys as files.
    let config_dir = root.join("workload");
    assert!(config_dir.is_dir(), "the workload volume is mounted");
    std::fs::write(config_dir.join("workload.yaml"), workload).unwrap();

    let children: Vec<Child> = pods.iter().map(PodCommand::spawn).collect();
    for (k, child) in children.into_iter().enumerate() {
        let o = output_within(child, Duration::from_secs(120), "a shard pod");
        assert!(
            o.status.success(),
            "pod {k}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    for k in 0..n {
        let b = read_bundle(&root.join(format!("bundles/shard-{k}.json"))).unwrap();
        let info = b.context.shard.as_ref().unwrap();
        assert_eq!((info.index, info.total), (k as u32 + 1, n as u32));
    }

    let merge_job = doc_of_kind(&yaml_docs("examples/kubernetes/merge.yaml"), "Job").clone();
    let merge = PodCommand::of(&merge_job, root, |_, e| {
        e["value"].as_str().unwrap().to_owned()
    });
    assert_eq!(merge.args[0], "merge");
    let o = output_within(merge.spawn(), Duration::from_secs(60), "the merge Job");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let merged_path = root.join("bundles/bundle.json");
    let merged = read_bundle(&merged_path).unwrap();
    let want = requests_of(workload);
    assert_eq!(merged.metrics.requests.attempted, want);
    assert_eq!(merged.metrics.requests.succeeded, want);
    assert!(merged.context.complete);
    assert_eq!(
        merged.context.merged.as_ref().unwrap().shards.len(),
        n as usize
    );
    assert_eq!(bundle_schema_errors(&merged_path), Vec::<String>::new());
}

/// A GitLab job's `script` run the way the runner does (one bash, errexit)
/// in `project`, with the pipeline's and the job's variables and `env`.
fn gitlab_job(
    pipeline: &serde_json::Value,
    job: &str,
    project: &Path,
    env: &[(&str, String)],
) -> Child {
    let body = &pipeline[job];
    let script: Vec<&str> = body["script"]
        .as_array()
        .unwrap_or_else(|| panic!("{job}: no script"))
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_tokengate")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.arg("-e")
        .arg("-c")
        .arg(script.join("\n"))
        .current_dir(project);
    for k in [
        "CI_NODE_INDEX",
        "CI_NODE_TOTAL",
        "JOB_COMPLETION_INDEX",
        "TOKENGATE_SHARD",
        "TOKENGATE_SHARD_TOTAL",
        "TOKENGATE_ENDPOINT",
        "GITHUB_ACTIONS",
        "GITLAB_CI",
    ] {
        cmd.env_remove(k);
    }
    for vars in [&pipeline["variables"], &body["variables"]] {
        for (k, v) in vars.as_object().into_iter().flatten() {
            cmd.env(k, v.as_str().unwrap());
        }
    }
    cmd.env("PATH", path)
        .env("CI_PROJECT_DIR", project)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash")
}

/// A job's exit code and its output.
fn job_result(child: Child) -> (Option<i32>, String) {
    let o = output_within(child, Duration::from_secs(120), "a GitLab job");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code(), text)
}

fn finished(child: Child, what: &str) -> String {
    let (code, text) = job_result(child);
    assert_eq!(code, Some(0), "{what}: {text}");
    text
}

/// examples/gitlab/shards.gitlab-ci.yml: the plan job's dotenv start
/// instant, `parallel: N` shard jobs with GitLab's 1-based CI_NODE_INDEX
/// (what `--shard auto` reads), then the merge job's merge and gate.
#[test]
fn gitlab_parallel_shard_jobs_and_merge_job_give_the_whole_plan() {
    let _turn = one_at_a_time();
    let text = std::fs::read_to_string(repo_file("examples/gitlab/shards.gitlab-ci.yml")).unwrap();
    let pipeline: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let n = pipeline["tokengate-shard"]["parallel"].as_u64().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path();
    // The files of the repository the jobs read.
    let workload_rel = pipeline["variables"]["TOKENGATE_WORKLOAD"]
        .as_str()
        .unwrap();
    for rel in [workload_rel, "gates/default.yaml"] {
        std::fs::create_dir_all(project.join(rel).parent().unwrap()).unwrap();
        std::fs::copy(repo_file(rel), project.join(rel)).unwrap();
    }
    let sim = SimProcess::start(&["--ttft-ms", "5", "--tpot-ms", "1"]);

    // The plan job, its margin cut to a few seconds; its dotenv report.
    assert_eq!(
        pipeline["tokengate-plan"]["variables"]["TOKENGATE_START_DELAY"],
        "180"
    );
    let plan = gitlab_job(
        &pipeline,
        "tokengate-plan",
        project,
        &[("TOKENGATE_START_DELAY", "6".into())],
    );
    finished(plan, "tokengate-plan");
    let dotenv = std::fs::read_to_string(project.join("start.env")).unwrap();
    let start_at = dotenv
        .trim_end()
        .strip_prefix("TOKENGATE_START_AT=")
        .unwrap()
        .to_owned();

    let shards: Vec<Child> = (1..=n)
        .map(|i| {
            gitlab_job(
                &pipeline,
                "tokengate-shard",
                project,
                &[
                    ("CI_NODE_INDEX", i.to_string()),
                    ("CI_NODE_TOTAL", n.to_string()),
                    ("TOKENGATE_START_AT", start_at.clone()),
                    ("TOKENGATE_ENDPOINT", sim.url.clone()),
                ],
            )
        })
        .collect();
    for (i, child) in shards.into_iter().enumerate() {
        finished(child, &format!("tokengate-shard {}/{n}", i + 1));
    }
    for i in 1..=n {
        let b = read_bundle(&project.join(format!("tokengate-shards/shard-{i}.json"))).unwrap();
        let info = b.context.shard.as_ref().unwrap();
        assert_eq!((u64::from(info.index), u64::from(info.total)), (i, n));
    }

    // The gate's verdict: no baseline is stored, so `ungated` (exit 0 under
    // the default gate's `inconclusive: warn`); a host too busy for 64
    // streams makes the run `invalid` (exit 4, client saturated) instead,
    // which is the gate working, not the pipeline failing.
    let merge = gitlab_job(&pipeline, "tokengate-merge", project, &[]);
    let (code, out) = job_result(merge);
    assert!(out.contains(&format!("merged {n} of {n} shards")), "{out}");
    match code {
        Some(0) => assert!(out.contains("no baseline stored"), "{out}"),
        Some(4) => assert!(out.contains("the client limited the measurement"), "{out}"),
        _ => panic!("tokengate-merge exited {code:?}: {out}"),
    }
    let merged = read_bundle(&project.join("tokengate-out/bundle.json")).unwrap();
    let want = requests_of(&std::fs::read_to_string(repo_file(workload_rel)).unwrap());
    assert_eq!(merged.metrics.requests.attempted, want);
    assert_eq!(merged.metrics.requests.succeeded, want);
    assert!(merged.context.complete);
    for report in ["report.md", "junit.xml", "gitlab/metrics.txt"] {
        assert!(
            project.join("tokengate-out").join(report).is_file(),
            "{report}"
        );
    }
}
