//! The validity harness (issue 12, item 6): how often the whole gate cries
//! wolf on an unchanged server, whether its intervals cover the truth, and
//! whether it catches a real regression — on a quiet host and with a noisy
//! neighbour the harness starts itself.
//!
//! It drives the debug `tokengate` binary as child processes and reads
//! `verdict.json` and bundles as JSON (`serde_json::Value`), never the
//! library's types, so it measures whatever gate the command line has and
//! keeps working as verdicts gain fields and new strings (`invalid`,
//! `ungated`, …). Every run is a fresh simulator process
//! (`tokengate sim --port 0 --profile F`) with its own seeds, so runs happen
//! at different times with different run noise, plus a client process
//! (`tokengate run`); both on 127.0.0.1.
//!
//! Two conditions: **quiet** (no neighbour; the simulator's per-step jitter
//! only) and **neighbour** (the harness's CPU hog, and the simulator's
//! run-to-run slowdown factor and host stalls on top: the busy runner of
//! issue 12 in full). Per condition the runs form one sequence,
//! as CI produces them: a few warm-up runs fill the baselines, then A/A
//! candidates (the baseline's profile) with detection candidates (+30 % TTFT,
//! −20 % output tok/s) spread between them. Every candidate is gated twice
//! with the gate file: against a one-run baseline (`baseline promote
//! --keep 1`) and against a rolling 5-run baseline (`--keep 5`); A/A runs are
//! then promoted into both, detection runs never. So consecutive one-run
//! pairs share a run (as consecutive CI runs against the last promoted
//! baseline do): the false-alarm count is exact, but its pairs are not
//! independent.
//!
//! ```text
//! cargo test --test validity                         # short form (CI): a few pairs, checks the harness
//! cargo test --test validity -- --ignored full       # ≥ 40 A/A pairs per condition
//! TOKENGATE_VALIDITY_PAIRS=10 TOKENGATE_VALIDITY_DETECT=5 \
//!   cargo test --test validity -- --ignored full     # reduced full form
//! TOKENGATE_VALIDITY_DIR=/tmp/v cargo test --test validity -- --ignored full   # keep every bundle
//! TOKENGATE_VALIDITY_DIR=/tmp/v TOKENGATE_VALIDITY_GATE=gates/new.yaml \
//!   cargo test --test validity -- --ignored regate   # the kept bundles under another gate
//! ```
//!
//! Measured on a 2-core host: the short form takes 140–150 s; the full form
//! (65 sequential and 30 `ab` runs per condition) took 2305 s with nothing
//! else running (quiet 1077 s, neighbour 1226 s; a 200-request run with its
//! two gates and promotions ~11 s, ~14.5 s on a host at load 9–16).
//!
//! The issue's goals are printed with every table and asserted only with
//! `TOKENGATE_VALIDITY_ASSERT_GOALS=1`: today's gate is known to miss them.
//! Without it, the trials assert what holds of the harness itself (every run
//! wrote a bundle, every pair got a verdict, the counts add up, the
//! neighbour ran for the whole condition).
//!
//! After the sequential runs, each condition makes `tokengate ab` runs
//! (baseline and candidate interleaved in one window, under the same
//! neighbour): A/A and detection, judged by `ab` itself.
//!
//! Modes not measured yet (`--repeat`, `tokengate calibrate`) have one hook
//! function each ([`repeat_mode`], [`calibrate_mode`]); they report why
//! nothing was measured until their loop is written there.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `1`: fail a trial when one of the issue's goals is not met.
const ASSERT_GOALS_ENV: &str = "TOKENGATE_VALIDITY_ASSERT_GOALS";
/// Keep every bundle, verdict and manifest under this directory (and the
/// directory `regate` reads).
const DIR_ENV: &str = "TOKENGATE_VALIDITY_DIR";
/// Gate file of every comparison (default `gates/default.yaml`).
const GATE_ENV: &str = "TOKENGATE_VALIDITY_GATE";
/// Override the number of A/A pairs per condition.
const PAIRS_ENV: &str = "TOKENGATE_VALIDITY_PAIRS";
/// Override the number of detection runs per condition.
const DETECT_ENV: &str = "TOKENGATE_VALIDITY_DETECT";
/// Override the number of `tokengate ab` A/A runs per condition.
const AB_AA_ENV: &str = "TOKENGATE_VALIDITY_AB_AA";
/// Override the number of `tokengate ab` detection runs per condition.
const AB_DETECT_ENV: &str = "TOKENGATE_VALIDITY_AB_DETECT";
/// Base of every simulator seed (default 1): a harness run is reproducible
/// up to host noise.
const SEED_ENV: &str = "TOKENGATE_VALIDITY_SEED";
/// CPU hog threads of the neighbour (default: the number of CPUs).
const HOG_THREADS_ENV: &str = "TOKENGATE_VALIDITY_HOG_THREADS";
/// Hidden argument: the test binary re-executed as the noisy neighbour.
const HOG_ARG: &str = "--validity-hog";

/// Runs kept in the rolling baseline, as in the issue's table.
const ROLLING_KEEP: usize = 5;
/// A simulator that has not printed its URL by then is killed.
const SIM_START_LIMIT: Duration = Duration::from_secs(30);
/// One client run (a 200-request run takes ~13 s on a loaded 2-core host).
const RUN_LIMIT: Duration = Duration::from_secs(240);
/// One `gate` or `baseline promote`, or a `--help` probe.
const GATE_LIMIT: Duration = Duration::from_secs(120);
/// The neighbour outlives its condition's limit by at most this much, even
/// if nothing kills it.
const HOG_GRACE: Duration = Duration::from_secs(30);
/// A condition stops after this many failed runs in a row (a broken gate
/// file or binary fails every run; there is no point in 60 more).
const MAX_FAILED_IN_A_ROW: usize = 3;
/// How often the host load is sampled during a condition.
const LOAD_SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// How many runs of what size one trial makes per condition.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    name: &'static str,
    /// `--requests` of every run.
    requests: u64,
    /// Runs promoted before the first gated candidate, so the rolling
    /// baseline is full (short form: partly) from the first pair on.
    warmup_runs: usize,
    aa_pairs: usize,
    detect_runs: usize,
    /// `tokengate ab` runs per condition, after the sequential ones: A/A
    /// (the baseline's server on both sides) and detection (the candidate's
    /// server on side B). Each side gets `requests / 2`, so an ab run does
    /// the work of one sequential run.
    ab_aa: usize,
    ab_detect: usize,
    /// No new run starts after this much time in one condition.
    condition_limit: Duration,
}

/// CI: enough runs to exercise every path (both baselines, the neighbour,
/// detection) in about two minutes; too few to judge the goals.
const SHORT: Sizes = Sizes {
    name: "short",
    requests: 100,
    warmup_runs: 2,
    aa_pairs: 3,
    detect_runs: 2,
    ab_aa: 1,
    ab_detect: 1,
    condition_limit: Duration::from_secs(200),
};

/// The issue's sizes: ≥ 40 A/A pairs per condition, 200 requests per run.
const FULL: Sizes = Sizes {
    name: "full",
    requests: 200,
    warmup_runs: ROLLING_KEEP,
    aa_pairs: 40,
    detect_runs: 20,
    ab_aa: 10,
    ab_detect: 20,
    condition_limit: Duration::from_secs(45 * 60),
};

impl Sizes {
    fn with_env_overrides(mut self) -> anyhow::Result<Sizes> {
        if let Some(n) = env_count(PAIRS_ENV)? {
            self.aa_pairs = n;
        }
        if let Some(n) = env_count(DETECT_ENV)? {
            self.detect_runs = n;
        }
        if let Some(n) = env_count(AB_AA_ENV)? {
            self.ab_aa = n;
        }
        if let Some(n) = env_count(AB_DETECT_ENV)? {
            self.ab_detect = n;
        }
        Ok(self)
    }
}

fn env_count(name: &str) -> anyhow::Result<Option<usize>> {
    match std::env::var(name) {
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => Ok(Some(n)),
            _ => bail!("{name}={v:?}: expected a count from 1 to 1000"),
        },
        Err(_) => Ok(None),
    }
}

// ---------------------------------------------------------------------------
// The simulated server

/// The two servers the harness compares: TTFT and decode time of one
/// sequence. The baseline is the issue's `tokengate sim --ttft-ms 50
/// --tpot-ms 10`.
#[derive(Debug, Clone, Copy)]
struct ServerModel {
    ttft_ms: f64,
    tpot_ms: f64,
}

const BASELINE_SERVER: ServerModel = ServerModel {
    ttft_ms: 50.0,
    tpot_ms: 10.0,
};

/// +30 % TTFT, and decode 25 % slower: a request takes 65 + 64 × 12.5 =
/// 865 ms instead of 690 ms, so output tok/s falls by 20 %.
const CANDIDATE_SERVER: ServerModel = ServerModel {
    ttft_ms: 65.0,
    tpot_ms: 12.5,
};

/// Noise of the simulated runs, the built-in `noisy` profile's: ±10 %
/// jitter per step (every run), and — under the neighbour only — a
/// run-to-run slowdown factor with CV 10 % and host stalls of 200 ms at
/// 0.5 per second that delay every request in flight (see
/// `src/sim/profile.rs`). The quiet condition is a quiet host in full: no
/// neighbour and no injected run noise, so the host's own noise is all
/// there is; the neighbour condition is the busy runner of issue 12 in
/// full: a CPU hog, a slower or faster run now and then, and stalls.
const JITTER_PCT: f64 = 10.0;
const RUN_NOISE_CV: f64 = 0.1;
const STALL_RATE_PER_S: f64 = 0.5;
const STALL_MS: f64 = 200.0;

/// The profile file of one run. The three seeds are distinct functions of
/// the run's seed so that jitter, run factor and stall times do not move in
/// step.
fn profile_yaml(server: ServerModel, seed: u64, condition: Condition) -> String {
    profile_yaml_seeds(server, seed, seed, condition)
}

/// A profile whose per-step jitter follows `seed` and whose run factor and
/// stall times follow `shared`: the two simulators of one `ab` run share
/// `shared`, because those two model the host's state over a stretch of
/// time (how fast it runs now, when it stalls), which one time window
/// shares; their jitter is their own.
fn profile_yaml_seeds(server: ServerModel, seed: u64, shared: u64, condition: Condition) -> String {
    let mut yaml = format!(
        "# written by tests/validity.rs\nmodels: [sim-model]\nttft_ms: {ttft}\ntpot_ms: {tpot}\njitter_pct: {JITTER_PCT}\nseed: {seed}\n",
        ttft = server.ttft_ms,
        tpot = server.tpot_ms,
    );
    if condition == Condition::Neighbour {
        yaml.push_str(&format!(
            "run_noise:\n  cv: {RUN_NOISE_CV}\n  seed: {noise}\nhost_stalls:\n  rate_per_s: {STALL_RATE_PER_S}\n  duration_ms: {STALL_MS}\n  seed: {stalls}\n",
            noise = shared ^ 0x9E37_79B9_7F4A_7C15,
            stalls = shared.rotate_left(17) ^ 0xD1B5_4A32_D192_ED03,
        ));
    }
    yaml
}

// ---------------------------------------------------------------------------
// Child processes

/// A child process that is killed and reaped when dropped, so no exit path
/// of the harness (error, panic, deadline) leaves one running.
struct ChildGuard {
    child: Child,
}

impl ChildGuard {
    fn spawn(cmd: &mut Command, what: &str) -> anyhow::Result<ChildGuard> {
        die_with_parent(cmd);
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {what}"))?;
        Ok(ChildGuard { child })
    }

    fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits at most `limit`; past it the child is killed and it is an error.
    fn wait_bounded(&mut self, limit: Duration, what: &str) -> anyhow::Result<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().context("waiting for a child")? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                bail!("{what} did not finish within {limit:?}; killed");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Linux: the child gets SIGKILL when the harness dies, even by SIGKILL,
/// when no Drop runs.
#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: the closure runs in the forked child before exec; prctl is
    // async-signal-safe and touches no memory shared with the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command) {}

/// A `tokengate` command with an empty environment (no CI variables: the
/// gate must not publish annotations of the harness's runs), run in `cwd`.
fn tokengate(tg: &Path, cwd: &Path) -> Command {
    let mut cmd = Command::new(tg);
    cmd.env_clear()
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd
}

/// Runs `cmd` to completion within `limit`, its output in `log`.
fn run_logged(
    mut cmd: Command,
    log: &Path,
    limit: Duration,
    what: &str,
) -> anyhow::Result<ExitStatus> {
    let out =
        std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    let err = out.try_clone().context("cannot share a log file")?;
    cmd.stdout(out).stderr(err);
    ChildGuard::spawn(&mut cmd, what)?.wait_bounded(limit, what)
}

/// The last lines of a log, for an error message.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

/// One simulator process; killed when dropped.
struct Sim {
    _guard: ChildGuard,
    url: String,
}

fn start_sim(tg: &Path, dir: &Path, profile: &Path) -> anyhow::Result<Sim> {
    let log = dir.join("sim.log");
    let err =
        std::fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
    let mut cmd = tokengate(tg, dir);
    cmd.args(["sim", "--port", "0", "--profile"])
        .arg(profile)
        .stdout(Stdio::piped())
        .stderr(err);
    let mut guard = ChildGuard::spawn(&mut cmd, "the simulator")?;
    let stdout = guard.child.stdout.take().context("simulator stdout")?;
    // The URL is the first line on stdout; read it on a thread so a
    // simulator that never prints cannot block the harness.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(SIM_START_LIMIT).map_err(|_| {
        anyhow::anyhow!(
            "the simulator printed no URL within {SIM_START_LIMIT:?}: {}",
            tail(&log)
        )
    })?;
    let url = line.trim().to_string();
    ensure!(
        url.starts_with("http://127.0.0.1:"),
        "the simulator printed {url:?} instead of its URL: {}",
        tail(&log)
    );
    Ok(Sim { _guard: guard, url })
}

// ---------------------------------------------------------------------------
// The noisy neighbour

/// The bounded CPU hog: this test binary re-executed with [`HOG_ARG`],
/// spinning `threads` threads until its own deadline. Killed when dropped.
struct Neighbour {
    guard: ChildGuard,
    threads: usize,
}

fn hog_threads() -> anyhow::Result<usize> {
    match env_count(HOG_THREADS_ENV)? {
        Some(n) => Ok(n.min(64)),
        None => Ok(std::thread::available_parallelism().map_or(2, |n| n.get())),
    }
}

fn start_neighbour(limit: Duration) -> anyhow::Result<Neighbour> {
    let threads = hog_threads()?;
    let exe = std::env::current_exe().context("the harness's own path")?;
    let secs = (limit + HOG_GRACE).as_secs();
    let mut cmd = Command::new(exe);
    cmd.arg(HOG_ARG)
        .arg(secs.to_string())
        .arg(threads.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let guard = ChildGuard::spawn(&mut cmd, "the noisy neighbour")?;
    Ok(Neighbour { guard, threads })
}

/// The neighbour process itself: `--validity-hog SECONDS THREADS`.
fn hog_main(args: &[String]) -> ExitCode {
    let secs = args.first().and_then(|s| s.parse::<u64>().ok());
    let threads = args.get(1).and_then(|s| s.parse::<usize>().ok());
    let (Some(secs @ 1..=7200), Some(threads @ 1..=64)) = (secs, threads) else {
        eprintln!("usage: {HOG_ARG} SECONDS(1-7200) THREADS(1-64)");
        return ExitCode::from(2);
    };
    let deadline = Instant::now() + Duration::from_secs(secs);
    let spinners: Vec<_> = (0..threads as u64)
        .map(|salt| std::thread::spawn(move || spin_until(deadline, salt)))
        .collect();
    for s in spinners {
        let _ = s.join();
    }
    ExitCode::SUCCESS
}

/// Pure CPU work (a linear congruential step, Knuth's MMIX constants) until
/// the deadline; `black_box` keeps the optimizer from removing it.
fn spin_until(deadline: Instant, salt: u64) -> u64 {
    let mut x = salt;
    while Instant::now() < deadline {
        for _ in 0..10_000 {
            x = std::hint::black_box(
                x.wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407),
            );
        }
    }
    x
}

// ---------------------------------------------------------------------------
// Host load

/// Load average and CPU pressure sampled through one condition.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct LoadSummary {
    samples: usize,
    cpus: usize,
    load1_min: Option<f64>,
    load1_median: Option<f64>,
    load1_max: Option<f64>,
    /// `some avg10` of `/proc/pressure/cpu`, percent; None without PSI.
    psi_some_median: Option<f64>,
    psi_some_max: Option<f64>,
}

/// The 1-minute load average from `/proc/loadavg`.
fn load1() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// `some avg10` (percent of the last 10 s in which some runnable task waited
/// for a CPU) from `/proc/pressure/cpu`.
fn psi_cpu_some() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/pressure/cpu").ok()?;
    let line = text.lines().find(|l| l.starts_with("some "))?;
    line.split_whitespace()
        .find_map(|f| f.strip_prefix("avg10="))?
        .parse()
        .ok()
}

/// One sample: the 1-minute load average and PSI `some avg10`.
type LoadSample = (Option<f64>, Option<f64>);

/// Samples the load on a thread until finished (or dropped).
struct LoadSampler {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Vec<LoadSample>>>,
}

impl LoadSampler {
    fn start(limit: Duration) -> LoadSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let end = Instant::now() + limit + HOG_GRACE;
            let mut samples = Vec::new();
            while !flag.load(Ordering::Relaxed) && Instant::now() < end {
                samples.push((load1(), psi_cpu_some()));
                let next = Instant::now() + LOAD_SAMPLE_EVERY;
                while !flag.load(Ordering::Relaxed) && Instant::now() < next {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            samples
        });
        LoadSampler {
            stop,
            handle: Some(handle),
        }
    }

    fn finish(mut self) -> LoadSummary {
        self.stop.store(true, Ordering::Relaxed);
        let samples = self
            .handle
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        let mut load: Vec<f64> = samples.iter().filter_map(|s| s.0).collect();
        let mut psi: Vec<f64> = samples.iter().filter_map(|s| s.1).collect();
        load.sort_by(f64::total_cmp);
        psi.sort_by(f64::total_cmp);
        LoadSummary {
            samples: samples.len(),
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            load1_min: load.first().copied(),
            load1_median: median_sorted(&load),
            load1_max: load.last().copied(),
            psi_some_median: median_sorted(&psi),
            psi_some_max: psi.last().copied(),
        }
    }
}

impl Drop for LoadSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

// ---------------------------------------------------------------------------
// Records (the manifest `regate` reads back)

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Condition {
    Quiet,
    Neighbour,
}

impl Condition {
    fn name(self) -> &'static str {
        match self {
            Condition::Quiet => "quiet",
            Condition::Neighbour => "neighbour",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RunKind {
    /// Baseline profile; promoted, not gated.
    Warmup,
    /// Baseline profile; gated, then promoted.
    Aa,
    /// Candidate profile (+30 % TTFT, −20 % tok/s); gated, never promoted.
    Detect,
}

impl RunKind {
    fn name(self) -> &'static str {
        match self {
            RunKind::Warmup => "warmup",
            RunKind::Aa => "aa",
            RunKind::Detect => "detect",
        }
    }
}

/// How the baseline of a sequential comparison is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Mode {
    /// `baseline promote --keep 1`: the last promoted run.
    OneRun,
    /// `baseline promote --keep 5`: the last five.
    Rolling,
}

const MODES: [Mode; 2] = [Mode::OneRun, Mode::Rolling];

impl Mode {
    fn keep(self) -> usize {
        match self {
            Mode::OneRun => 1,
            Mode::Rolling => ROLLING_KEEP,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Mode::OneRun => "one-run",
            Mode::Rolling => "rolling-5",
        }
    }
}

/// What the harness keeps of one bundle.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct BundleSummary {
    succeeded: Option<u64>,
    ttft_p50_ms: Option<f64>,
    ttft_p95_ms: Option<f64>,
    output_tokens_per_s: Option<f64>,
    /// The client's own saturation flag, when the bundle has one.
    saturated: Option<bool>,
    complete: Option<bool>,
    /// Kinds of the bundle's validity problems (`client_limited`, …); a run
    /// with any is invalid, and `baseline promote` refuses it.
    #[serde(default)]
    invalid: Vec<String>,
}

/// A ratio estimate of one rule with its interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Ratio {
    point: f64,
    lo: f64,
    hi: f64,
}

impl Ratio {
    fn covers_one(self) -> bool {
        self.lo <= 1.0 && 1.0 <= self.hi
    }

    fn width(self) -> f64 {
        self.hi - self.lo
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RuleSummary {
    metric: String,
    verdict: String,
    ratio: Option<Ratio>,
    /// Minimum detectable effect as the gate reports it.
    mde: Option<f64>,
}

/// What the harness keeps of one `verdict.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct GateResult {
    verdict: String,
    exit_code: Option<i64>,
    /// Baseline runs the gate says it pooled (`baseline.run_digests`).
    baseline_runs_reported: Option<usize>,
    rules: Vec<RuleSummary>,
}

impl GateResult {
    fn rule(&self, metric: &str) -> Option<&RuleSummary> {
        self.rules.iter().find(|r| r.metric == metric)
    }

    fn ratio(&self, metric: &str) -> Option<Ratio> {
        self.rule(metric).and_then(|r| r.ratio)
    }

    /// Whether the gate compared with a baseline at all (a verdict with no
    /// baseline reports no runs and says nothing about pooling).
    fn skip_free(&self) -> bool {
        self.baseline_runs_reported.is_some_and(|n| n > 0)
    }

    /// Largest MDE among the rules that estimate a ratio (the relative
    /// rules), when any reports one.
    fn max_relative_mde(&self) -> Option<f64> {
        self.rules
            .iter()
            .filter(|r| r.ratio.is_some())
            .filter_map(|r| r.mde)
            .reduce(f64::max)
    }
}

/// One comparison of a candidate with one baseline.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct GateRecord {
    mode: Mode,
    /// Ids of the runs in the baseline, oldest first (to rebuild it).
    baseline_runs: Vec<String>,
    /// Relative to the condition directory.
    verdict_file: String,
    result: Option<GateResult>,
    error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunRecord {
    id: String,
    kind: RunKind,
    seed: u64,
    /// Relative to the condition directory.
    bundle: String,
    summary: Option<BundleSummary>,
    load1_at_start: Option<f64>,
    error: Option<String>,
    gates: Vec<GateRecord>,
}

impl RunRecord {
    /// No bundle, or a comparison without a verdict.
    fn failed(&self) -> bool {
        self.error.is_some()
            || self.summary.is_none()
            || self.gates.iter().any(|g| g.result.is_none())
    }
}

/// One `tokengate ab` run: both simulators in one window, one verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AbRecord {
    id: String,
    /// `aa` (the baseline's server on both sides) or `detect`.
    kind: RunKind,
    seed: u64,
    /// Relative to the condition directory.
    verdict_file: String,
    result: Option<GateResult>,
    /// Validity problems of either side's bundle (kinds).
    #[serde(default)]
    invalid: Vec<String>,
    error: Option<String>,
}

/// One condition of one trial, as written to `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    trial: String,
    condition: Condition,
    requests: u64,
    gate: String,
    hog_threads: usize,
    planned_runs: usize,
    elapsed_s: f64,
    load: LoadSummary,
    /// Why the condition stopped before its last run.
    aborted: Option<String>,
    runs: Vec<RunRecord>,
    /// `tokengate ab` runs (none in manifests of older harnesses).
    #[serde(default)]
    planned_ab_runs: usize,
    #[serde(default)]
    ab_runs: Vec<AbRecord>,
}

// ---------------------------------------------------------------------------
// Reading bundles and verdicts (tolerant JSON)

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

fn summarize_bundle(v: &Value) -> anyhow::Result<BundleSummary> {
    let metrics = v.get("metrics").context("the bundle has no `metrics`")?;
    Ok(BundleSummary {
        succeeded: metrics
            .pointer("/requests/succeeded")
            .and_then(Value::as_u64),
        ttft_p50_ms: metrics.pointer("/ttft_ms/p50").and_then(Value::as_f64),
        ttft_p95_ms: metrics.pointer("/ttft_ms/p95").and_then(Value::as_f64),
        output_tokens_per_s: metrics.get("output_tokens_per_s").and_then(Value::as_f64),
        saturated: v
            .pointer("/context/client/saturated")
            .and_then(Value::as_bool),
        complete: v.pointer("/context/complete").and_then(Value::as_bool),
        invalid: v
            .pointer("/context/validity/problems")
            .and_then(Value::as_array)
            .map(|ps| {
                ps.iter()
                    .filter_map(|p| p.get("kind").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// Reads a verdict: the overall verdict string is required; everything else
/// is taken when present, so added fields and new verdict strings are fine.
fn summarize_verdict(v: &Value) -> anyhow::Result<GateResult> {
    let verdict = v
        .get("verdict")
        .and_then(Value::as_str)
        .context("the verdict JSON has no `verdict` string")?;
    let rules = v
        .get("rules")
        .and_then(Value::as_array)
        .map(|rules| {
            rules
                .iter()
                .filter_map(|r| {
                    let metric = r.get("metric")?.as_str()?.to_string();
                    let verdict = r
                        .get("verdict")
                        .and_then(Value::as_str)
                        .unwrap_or("unknown")
                        .to_string();
                    let est = r.get("estimate");
                    let ratio = est
                        .filter(|e| e.get("kind").and_then(Value::as_str) == Some("ratio"))
                        .and_then(|e| {
                            let point = e.get("point")?.as_f64()?;
                            let lo = e.pointer("/interval/lo")?.as_f64()?;
                            let hi = e.pointer("/interval/hi")?.as_f64()?;
                            (point.is_finite() && lo.is_finite() && hi.is_finite())
                                .then_some(Ratio { point, lo, hi })
                        });
                    Some(RuleSummary {
                        metric,
                        verdict,
                        ratio,
                        mde: r.get("mde").and_then(Value::as_f64),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(GateResult {
        verdict: verdict.to_string(),
        exit_code: v.get("exit_code").and_then(Value::as_i64),
        baseline_runs_reported: v
            .pointer("/baseline/run_digests")
            .and_then(Value::as_array)
            .map(Vec::len),
        rules,
    })
}

// ---------------------------------------------------------------------------
// Measuring

/// What every run of a trial shares.
struct Ctx {
    tg: PathBuf,
    gate: PathBuf,
    workload: PathBuf,
    seed: u64,
}

impl Ctx {
    fn from_env() -> anyhow::Result<Ctx> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let gate = match std::env::var_os(GATE_ENV) {
            Some(g) => std::path::absolute(PathBuf::from(g)).context("the gate file's path")?,
            None => root.join("gates/default.yaml"),
        };
        ensure!(
            gate.is_file(),
            "{GATE_ENV}: no gate file at {}",
            gate.display()
        );
        let seed = match std::env::var(SEED_ENV) {
            Ok(s) => s
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|&s| s < 1 << 40)
                .with_context(|| format!("{SEED_ENV}={s:?}: expected an integer below 2^40"))?,
            Err(_) => 1,
        };
        Ok(Ctx {
            tg: PathBuf::from(env!("CARGO_BIN_EXE_tokengate")),
            gate,
            workload: root.join("tests/validity/workload.yaml"),
            seed,
        })
    }

    /// Distinct for every run of every condition of a harness run.
    fn seed_for(&self, condition: Condition, index: usize) -> u64 {
        let c = match condition {
            Condition::Quiet => 0,
            Condition::Neighbour => 1,
        };
        self.seed * 1_000_000 + c * 10_000 + index as u64
    }
}

/// The order of a condition's runs: warm-ups, then the A/A pairs with the
/// detection runs spread evenly between them (never first), so both kinds
/// see the same stretch of host load.
fn schedule(warmups: usize, aa: usize, detect: usize) -> Vec<RunKind> {
    let mut kinds = vec![RunKind::Warmup; warmups];
    let mut placed = 0;
    for i in 0..aa {
        kinds.push(RunKind::Aa);
        // After A/A pair i, as many detection runs as bring the total to
        // round((i + 1) · detect / aa).
        let due = ((i + 1) * detect + aa / 2) / aa.max(1);
        while placed < due.min(detect) {
            kinds.push(RunKind::Detect);
            placed += 1;
        }
    }
    kinds.extend(std::iter::repeat_n(RunKind::Detect, detect - placed));
    kinds
}

/// The baselines of one condition: one directory per mode, and which runs
/// each holds (oldest first).
struct Baselines {
    dirs: BTreeMap<&'static str, (PathBuf, VecDeque<String>)>,
}

impl Baselines {
    fn new(cdir: &Path) -> Baselines {
        Baselines {
            dirs: MODES
                .iter()
                .map(|m| {
                    (
                        m.label(),
                        (
                            cdir.join(format!("baselines-{}", m.label())),
                            VecDeque::new(),
                        ),
                    )
                })
                .collect(),
        }
    }

    fn get(&self, mode: Mode) -> &(PathBuf, VecDeque<String>) {
        &self.dirs[mode.label()]
    }

    fn promoted(&mut self, mode: Mode, id: &str) {
        if let Some((_, runs)) = self.dirs.get_mut(mode.label()) {
            runs.push_back(id.to_string());
            while runs.len() > mode.keep() {
                runs.pop_front();
            }
        }
    }
}

/// A fresh simulator, one client run, the simulator killed; the bundle's
/// summary.
fn measure_run(
    ctx: &Ctx,
    sizes: &Sizes,
    rdir: &Path,
    condition: Condition,
    kind: RunKind,
    seed: u64,
) -> anyhow::Result<BundleSummary> {
    let server = if kind == RunKind::Detect {
        CANDIDATE_SERVER
    } else {
        BASELINE_SERVER
    };
    let profile = rdir.join("sim.yaml");
    std::fs::write(&profile, profile_yaml(server, seed, condition))
        .with_context(|| format!("cannot write {}", profile.display()))?;
    let sim = start_sim(&ctx.tg, rdir, &profile)?;
    let bundle = rdir.join("bundle.json");
    let mut cmd = tokengate(&ctx.tg, rdir);
    cmd.arg("run")
        .arg(&ctx.workload)
        .args(["--endpoint", &sim.url, "--requests"])
        .arg(sizes.requests.to_string())
        .arg("--out")
        .arg(&bundle)
        .arg("--quiet");
    let log = rdir.join("run.log");
    let status = run_logged(cmd, &log, RUN_LIMIT, "tokengate run")?;
    drop(sim);
    ensure!(
        status.success(),
        "tokengate run exited with {status}: {}",
        tail(&log)
    );
    summarize_bundle(&read_json(&bundle)?).with_context(|| format!("reading {}", bundle.display()))
}

/// `tokengate gate` of `bundle` against `baseline_dir`; writes `verdict`.
fn gate_bundle(
    tg: &Path,
    gate: &Path,
    bundle: &Path,
    baseline_dir: &Path,
    verdict: &Path,
) -> anyhow::Result<GateResult> {
    let cwd = verdict.parent().context("verdict path has a directory")?;
    let mut cmd = tokengate(tg, cwd);
    cmd.arg("gate")
        .arg(bundle)
        .arg("--gate")
        .arg(gate)
        .arg("--baseline-dir")
        .arg(baseline_dir)
        .arg("--json")
        .arg(verdict);
    let log = verdict.with_extension("log");
    let status = run_logged(cmd, &log, GATE_LIMIT, "tokengate gate")?;
    // The exit code is the verdict's (0, 1, 3, and whatever new verdicts
    // get); without a verdict file the gate itself failed.
    ensure!(
        verdict.is_file(),
        "tokengate gate exited with {status} and wrote no verdict: {}",
        tail(&log)
    );
    summarize_verdict(&read_json(verdict)?)
        .with_context(|| format!("reading {}", verdict.display()))
}

fn promote(
    tg: &Path,
    bundle: &Path,
    baseline_dir: &Path,
    keep: usize,
    log: &Path,
) -> anyhow::Result<()> {
    let cwd = log.parent().context("log path has a directory")?;
    let mut cmd = tokengate(tg, cwd);
    cmd.args(["baseline", "promote"])
        .arg(bundle)
        .arg("--baseline-dir")
        .arg(baseline_dir)
        .arg("--keep")
        .arg(keep.to_string());
    let status = run_logged(cmd, log, GATE_LIMIT, "tokengate baseline promote")?;
    ensure!(
        status.success(),
        "baseline promote exited with {status}: {}",
        tail(log)
    );
    Ok(())
}

/// One run of the sequence: measure, gate in both modes (not warm-ups),
/// promote into both baselines (not detection runs). Failures are recorded,
/// not returned, so one bad run does not lose the condition's table.
fn one_run(
    ctx: &Ctx,
    sizes: &Sizes,
    cdir: &Path,
    condition: Condition,
    index: usize,
    kind: RunKind,
    baselines: &mut Baselines,
) -> RunRecord {
    let id = format!("{index:03}-{}", kind.name());
    let rel = format!("runs/{id}");
    let rdir = cdir.join(&rel);
    let seed = ctx.seed_for(condition, index);
    let mut rec = RunRecord {
        id: id.clone(),
        kind,
        seed,
        bundle: format!("{rel}/bundle.json"),
        summary: None,
        load1_at_start: load1(),
        error: None,
        gates: Vec::new(),
    };
    if let Err(e) = std::fs::create_dir_all(&rdir) {
        rec.error = Some(format!("cannot create {}: {e}", rdir.display()));
        return rec;
    }
    match measure_run(ctx, sizes, &rdir, condition, kind, seed) {
        Ok(s) => rec.summary = Some(s),
        Err(e) => {
            rec.error = Some(format!("{e:#}"));
            return rec;
        }
    }
    let bundle = cdir.join(&rec.bundle);
    if kind != RunKind::Warmup {
        for mode in MODES {
            let (dir, runs) = baselines.get(mode);
            let verdict_file = format!("{rel}/verdict-{}.json", mode.label());
            let outcome = if runs.is_empty() {
                Err(anyhow::anyhow!("no baseline run promoted yet"))
            } else {
                gate_bundle(&ctx.tg, &ctx.gate, &bundle, dir, &cdir.join(&verdict_file))
            };
            let (result, error) = match outcome {
                Ok(r) => (Some(r), None),
                Err(e) => (None, Some(format!("{e:#}"))),
            };
            rec.gates.push(GateRecord {
                mode,
                baseline_runs: runs.iter().cloned().collect(),
                verdict_file,
                result,
                error,
            });
        }
    }
    // An invalid run is not promoted: `baseline promote` refuses it, as it
    // would in CI, and the next candidates are judged against the runs that
    // were valid.
    let invalid = rec.summary.as_ref().is_some_and(|s| !s.invalid.is_empty());
    if kind != RunKind::Detect && !invalid {
        for mode in MODES {
            let dir = baselines.get(mode).0.clone();
            let log = rdir.join(format!("promote-{}.log", mode.label()));
            match promote(&ctx.tg, &bundle, &dir, mode.keep(), &log) {
                Ok(()) => baselines.promoted(mode, &id),
                Err(e) => rec.error = Some(format!("{e:#}")),
            }
        }
    }
    rec
}

/// One `tokengate ab` run: two fresh simulators (A the baseline's server;
/// B the baseline's for A/A, the candidate's for detection) sharing the
/// run factor and stall seed (see [`profile_yaml_seeds`]), `requests / 2`
/// per side, judged by `ab` itself under the gate file.
fn one_ab_run(
    ctx: &Ctx,
    sizes: &Sizes,
    cdir: &Path,
    condition: Condition,
    index: usize,
    kind: RunKind,
) -> AbRecord {
    let id = format!("ab-{index:03}-{}", kind.name());
    let rel = format!("ab/{id}");
    let rdir = cdir.join(&rel);
    // Distinct from the sequential runs' seeds (those use index < 10_000).
    let seed = ctx.seed_for(condition, 5_000 + index);
    let mut rec = AbRecord {
        id,
        kind,
        seed,
        verdict_file: format!("{rel}/verdict.json"),
        result: None,
        invalid: Vec::new(),
        error: None,
    };
    if let Err(e) = measure_ab(ctx, sizes, &rdir, condition, &mut rec) {
        rec.error = Some(format!("{e:#}"));
    }
    rec
}

fn measure_ab(
    ctx: &Ctx,
    sizes: &Sizes,
    rdir: &Path,
    condition: Condition,
    rec: &mut AbRecord,
) -> anyhow::Result<()> {
    let b_server = if rec.kind == RunKind::Detect {
        CANDIDATE_SERVER
    } else {
        BASELINE_SERVER
    };
    let mut urls = Vec::new();
    let mut sims = Vec::new();
    for (side, server, jitter) in [
        ("a", BASELINE_SERVER, rec.seed),
        ("b", b_server, rec.seed ^ 0x5555_5555),
    ] {
        let sdir = rdir.join(format!("sim-{side}"));
        std::fs::create_dir_all(&sdir)
            .with_context(|| format!("cannot create {}", sdir.display()))?;
        let profile = sdir.join("sim.yaml");
        std::fs::write(
            &profile,
            profile_yaml_seeds(server, jitter, rec.seed, condition),
        )
        .with_context(|| format!("cannot write {}", profile.display()))?;
        let sim = start_sim(&ctx.tg, &sdir, &profile)?;
        urls.push(sim.url.clone());
        sims.push(sim);
    }
    let mut cmd = tokengate(&ctx.tg, rdir);
    cmd.arg("ab")
        .arg(&ctx.workload)
        .args([
            "--baseline-endpoint",
            &urls[0],
            "--candidate-endpoint",
            &urls[1],
        ])
        .arg("--requests")
        .arg((sizes.requests / 2).max(1).to_string())
        .arg("--gate")
        .arg(&ctx.gate)
        .arg("--report-dir")
        .arg(rdir)
        .arg("--quiet");
    let log = rdir.join("ab.log");
    // Two sides: twice a sequential run's time at most.
    let status = run_logged(cmd, &log, RUN_LIMIT * 2, "tokengate ab")?;
    drop(sims);
    let verdict = rdir.join("verdict.json");
    ensure!(
        verdict.is_file(),
        "tokengate ab exited with {status} and wrote no verdict: {}",
        tail(&log)
    );
    for side in ["baseline.json", "candidate.json"] {
        let summary = summarize_bundle(&read_json(&rdir.join(side))?)
            .with_context(|| format!("reading {side} of {}", rdir.display()))?;
        rec.invalid.extend(summary.invalid);
    }
    rec.result = Some(
        summarize_verdict(&read_json(&verdict)?)
            .with_context(|| format!("reading {}", verdict.display()))?,
    );
    Ok(())
}

/// The order of a condition's ab runs: A/A and detection alternating as
/// evenly as their counts allow (the same rule as [`schedule`]).
fn ab_schedule(aa: usize, detect: usize) -> Vec<RunKind> {
    if aa == 0 {
        return vec![RunKind::Detect; detect];
    }
    schedule(0, aa, detect)
}

/// Runs `plan` in order through `run_one` (which returns a record and
/// whether it failed), stopping early — with the reason — when the
/// condition's time `(started, limit)` is up, when the neighbour has
/// exited, or after [`MAX_FAILED_IN_A_ROW`] failed runs in a row.
fn run_sequence<R>(
    what: &str,
    plan: &[RunKind],
    (started, limit): (Instant, Duration),
    neighbour: &mut Option<Neighbour>,
    mut run_one: impl FnMut(usize, RunKind) -> (R, bool),
) -> (Vec<R>, Option<String>) {
    let mut records = Vec::with_capacity(plan.len());
    let mut failed_in_a_row = 0;
    for (index, &kind) in plan.iter().enumerate() {
        if started.elapsed() >= limit {
            let why = format!(
                "stopped after {index} of {} {what}: the condition's limit of {limit:?} was reached",
                plan.len()
            );
            return (records, Some(why));
        }
        if let Some(n) = neighbour.as_mut()
            && !n.guard.is_running()
        {
            let why = format!(
                "stopped after {index} of {} {what}: the neighbour exited early",
                plan.len()
            );
            return (records, Some(why));
        }
        let (rec, failed) = run_one(index, kind);
        records.push(rec);
        failed_in_a_row = if failed { failed_in_a_row + 1 } else { 0 };
        if failed_in_a_row >= MAX_FAILED_IN_A_ROW {
            let why = format!(
                "stopped after {} of {} {what}: {MAX_FAILED_IN_A_ROW} in a row failed (see the errors below)",
                index + 1,
                plan.len()
            );
            return (records, Some(why));
        }
    }
    (records, None)
}

/// One condition: its neighbour (if any) and load sampler around the whole
/// sequence of runs; bounded by the run count and `sizes.condition_limit`.
fn run_condition(
    ctx: &Ctx,
    sizes: &Sizes,
    condition: Condition,
    cdir: &Path,
) -> anyhow::Result<Manifest> {
    std::fs::create_dir_all(cdir).with_context(|| format!("cannot create {}", cdir.display()))?;
    let started = Instant::now();
    let mut neighbour = match condition {
        Condition::Quiet => None,
        Condition::Neighbour => Some(start_neighbour(sizes.condition_limit)?),
    };
    let sampler = LoadSampler::start(sizes.condition_limit);
    let plan = schedule(sizes.warmup_runs, sizes.aa_pairs, sizes.detect_runs);
    let mut baselines = Baselines::new(cdir);
    let label = |what: &str, index: usize, total: usize, kind: RunKind, note: &str| {
        eprintln!(
            "validity {} {}: {what} {}/{total} {} {note}",
            sizes.name,
            condition.name(),
            index + 1,
            kind.name(),
        );
    };
    let (runs, mut aborted) = run_sequence(
        "runs",
        &plan,
        (started, sizes.condition_limit),
        &mut neighbour,
        |index, kind| {
            let rec = one_run(ctx, sizes, cdir, condition, index, kind, &mut baselines);
            label("run", index, plan.len(), kind, &progress_note(&rec));
            let failed = rec.failed();
            (rec, failed)
        },
    );
    // Then the interleaved design, under the same neighbour.
    let mut ab_runs = Vec::new();
    if aborted.is_none() {
        let ab_plan = ab_schedule(sizes.ab_aa, sizes.ab_detect);
        (ab_runs, aborted) = run_sequence(
            "ab runs",
            &ab_plan,
            (started, sizes.condition_limit),
            &mut neighbour,
            |index, kind| {
                let rec = one_ab_run(ctx, sizes, cdir, condition, index, kind);
                let note = match (&rec.result, &rec.error) {
                    (_, Some(e)) => format!("error: {e}"),
                    (Some(r), None) => format!("ab {}", r.verdict),
                    (None, None) => "no verdict".into(),
                };
                label("ab run", index, ab_plan.len(), kind, &note);
                let failed = rec.result.is_none();
                (rec, failed)
            },
        );
    }
    if aborted.is_none()
        && let Some(n) = neighbour.as_mut()
        && !n.guard.is_running()
    {
        aborted = Some("the neighbour exited before the condition ended".into());
    }
    let load = sampler.finish();
    let hog_threads = neighbour.as_ref().map_or(0, |n| n.threads);
    drop(neighbour);
    let manifest = Manifest {
        trial: sizes.name.to_string(),
        condition,
        requests: sizes.requests,
        gate: ctx.gate.display().to_string(),
        hog_threads,
        planned_runs: plan.len(),
        elapsed_s: started.elapsed().as_secs_f64(),
        load,
        aborted,
        runs,
        planned_ab_runs: sizes.ab_aa + sizes.ab_detect,
        ab_runs,
    };
    let path = cdir.join("manifest.json");
    let text = serde_json::to_string_pretty(&manifest).context("manifest to JSON")?;
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(manifest)
}

fn progress_note(rec: &RunRecord) -> String {
    if let Some(e) = &rec.error {
        return format!("error: {e}");
    }
    let gates: Vec<String> = rec
        .gates
        .iter()
        .map(|g| {
            let v = g.result.as_ref().map_or("error", |r| r.verdict.as_str());
            format!("{} {v}", g.mode.label())
        })
        .collect();
    let p95 = rec
        .summary
        .as_ref()
        .and_then(|s| s.ttft_p95_ms)
        .map_or("?".into(), |v| format!("{v:.1}"));
    format!("ttft p95 {p95} ms {}", gates.join(", "))
}

// ---------------------------------------------------------------------------
// Counting

/// How often a ratio's interval contained 1.0, and how wide it was.
#[derive(Debug, Clone, Default, PartialEq)]
struct Coverage {
    covered: usize,
    /// Comparisons that reported an interval for the metric.
    with_interval: usize,
    widths: Vec<f64>,
}

impl Coverage {
    fn add(&mut self, r: Option<Ratio>) {
        if let Some(r) = r {
            self.with_interval += 1;
            self.covered += usize::from(r.covers_one());
            self.widths.push(r.width());
        }
    }

    fn median_width(&self) -> Option<f64> {
        let mut w = self.widths.clone();
        w.sort_by(f64::total_cmp);
        median_sorted(&w)
    }
}

/// The counts of one kind of run, one condition, one mode.
#[derive(Debug, Clone, Default, PartialEq)]
struct Counts {
    /// Runs of the kind that were measured (with a bundle).
    runs: usize,
    /// … that got a verdict; `runs − verdicts` gate errors.
    verdicts: usize,
    by_verdict: BTreeMap<String, usize>,
    /// Rules whose own verdict was `fail`, by metric.
    fails_by_rule: BTreeMap<String, usize>,
    ttft_p95: Coverage,
    tokens_per_s: Coverage,
    /// Verdicts that are neither `fail` nor `inconclusive`/`invalid` with a
    /// relative rule's MDE above 30 % — the detection runs' "never pass".
    unsafe_misses: usize,
    /// Smallest and largest number of baseline runs compared with.
    pooled: Option<(usize, usize)>,
}

impl Counts {
    /// One verdict.
    fn add(&mut self, result: &GateResult) {
        self.verdicts += 1;
        *self.by_verdict.entry(result.verdict.clone()).or_default() += 1;
        for rule in result.rules.iter().filter(|r| r.verdict == "fail") {
            *self.fails_by_rule.entry(rule.metric.clone()).or_default() += 1;
        }
        self.ttft_p95.add(result.ratio("ttft.p95"));
        self.tokens_per_s.add(result.ratio("output_tokens_per_s"));
        self.unsafe_misses += usize::from(!is_safe_detection(result));
    }

    fn verdict(&self, v: &str) -> usize {
        self.by_verdict.get(v).copied().unwrap_or(0)
    }

    /// Verdicts other than fail / inconclusive / pass, named.
    fn others(&self) -> (usize, String) {
        let rest: Vec<(&String, &usize)> = self
            .by_verdict
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "fail" | "inconclusive" | "pass"))
            .collect();
        let n = rest.iter().map(|&(_, &c)| c).sum();
        let names = rest
            .iter()
            .map(|(k, c)| format!("{k} {c}"))
            .collect::<Vec<_>>()
            .join(", ");
        (n, names)
    }
}

/// A detection run that is not caught must say why it cannot decide: an
/// `inconclusive` or `invalid` verdict with an MDE above 30 %. Anything else
/// (pass, ungated, skipped, or inconclusive with a small MDE) is unsafe.
const DETECT_EFFECT: f64 = 0.30;

fn is_safe_detection(r: &GateResult) -> bool {
    match r.verdict.as_str() {
        "fail" => true,
        "inconclusive" | "invalid" => r.max_relative_mde().is_some_and(|m| m > DETECT_EFFECT),
        _ => false,
    }
}

fn count(runs: &[RunRecord], kind: RunKind, mode: Mode) -> Counts {
    let mut c = Counts::default();
    for rec in runs
        .iter()
        .filter(|r| r.kind == kind && r.summary.is_some())
    {
        c.runs += 1;
        let Some(gate) = rec.gates.iter().find(|g| g.mode == mode) else {
            continue;
        };
        let Some(result) = gate.result.as_ref() else {
            continue;
        };
        let n = gate.baseline_runs.len();
        c.pooled = Some(c.pooled.map_or((n, n), |(lo, hi)| (lo.min(n), hi.max(n))));
        c.add(result);
    }
    c
}

/// The counts of one kind of `ab` run (its baseline is the A side of the
/// same window: one run).
fn count_ab(runs: &[AbRecord], kind: RunKind) -> Counts {
    let mut c = Counts::default();
    for rec in runs.iter().filter(|r| r.kind == kind) {
        c.runs += 1;
        if let Some(result) = &rec.result {
            c.pooled = Some((1, 1));
            c.add(result);
        }
    }
    c
}

/// Sample coefficient of variation (standard deviation with n − 1 over the
/// mean).
fn cv(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean > 0.0).then(|| var.sqrt() / mean)
}

fn median_sorted(v: &[f64]) -> Option<f64> {
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// Exact (Clopper & Pearson, 1934, Biometrika 26(4):404–413) two-sided
/// interval of a binomial proportion k/n at level 1 − alpha: the alpha/2 and
/// 1 − alpha/2 quantiles of Beta(k, n − k + 1) and Beta(k + 1, n − k).
fn clopper_pearson(k: usize, n: usize, alpha: f64) -> (f64, f64) {
    use statrs::distribution::{Beta, ContinuousCDF as _};
    if n == 0 {
        return (0.0, 1.0);
    }
    let (k, n) = (k as f64, n as f64);
    let lo = if k == 0.0 {
        0.0
    } else {
        Beta::new(k, n - k + 1.0).map_or(0.0, |b| b.inverse_cdf(alpha / 2.0))
    };
    let hi = if k == n {
        1.0
    } else {
        Beta::new(k + 1.0, n - k).map_or(1.0, |b| b.inverse_cdf(1.0 - alpha / 2.0))
    };
    (lo, hi)
}

// ---------------------------------------------------------------------------
// Goals

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Judgement {
    Met,
    NotMet,
    /// Too few runs to tell either way.
    TooFew,
    /// The mode does not exist in this tokengate (yet).
    NotMeasured,
}

impl Judgement {
    fn label(self) -> &'static str {
        match self {
            Judgement::Met => "met",
            Judgement::NotMet => "NOT MET",
            Judgement::TooFew => "too few runs to judge",
            Judgement::NotMeasured => "not measured",
        }
    }
}

/// "At most `allowed` bad of `of`" judged on `bad` of `n`: decided at
/// n ≥ `of` by the rate (bad · of ≤ allowed · n); below that only a
/// violation is certain (more bad ones than the goal allows at its own
/// size).
fn judge_at_most(bad: usize, n: usize, allowed: usize, of: usize) -> Judgement {
    if n >= of {
        if bad * of <= allowed * n {
            Judgement::Met
        } else {
            Judgement::NotMet
        }
    } else if bad > allowed {
        Judgement::NotMet
    } else {
        Judgement::TooFew
    }
}

/// A coverage goal `lo..=hi` judged with the 95 % Clopper–Pearson interval
/// of k/n: not met when that interval misses the goal range entirely (at
/// any n); met when it overlaps and n ≥ `min_n`. (A point estimate would
/// call 40 of 40 a miss although a true 95 % coverage gives it 13 % of the
/// time.)
fn judge_coverage(k: usize, n: usize, lo: f64, hi: f64, min_n: usize) -> Judgement {
    if n == 0 {
        return Judgement::TooFew;
    }
    let (l, u) = clopper_pearson(k, n, 0.05);
    if u < lo || l > hi {
        Judgement::NotMet
    } else if n >= min_n {
        Judgement::Met
    } else {
        Judgement::TooFew
    }
}

struct Goal {
    name: String,
    observed: String,
    judgement: Judgement,
}

/// Issue 12, item 6, goal by goal, for every condition and mode measured.
fn judge_goals(manifests: &[Manifest], future: &[FutureMode]) -> Vec<Goal> {
    let mut goals = Vec::new();
    for m in manifests {
        let cond = m.condition.name();
        for mode in MODES {
            let aa = count(&m.runs, RunKind::Aa, mode);
            let det = count(&m.runs, RunKind::Detect, mode);
            let fails = aa.verdict("fail");
            goals.push(Goal {
                name: format!("{cond} {}: A/A false alarms ≤ 1 of 40", mode.label()),
                observed: format!("{fails} of {}", aa.verdicts),
                judgement: judge_at_most(fails, aa.verdicts, 1, 40),
            });
            for (metric, cov) in [
                ("ttft.p95", &aa.ttft_p95),
                ("output tok/s", &aa.tokens_per_s),
            ] {
                let (l, u) = clopper_pearson(cov.covered, cov.with_interval, 0.05);
                goals.push(Goal {
                    name: format!(
                        "{cond} {}: {metric} interval covers 1.0 in 90–99 %",
                        mode.label()
                    ),
                    observed: format!(
                        "{} of {} (exact 95 % CI {:.0}–{:.0} %)",
                        cov.covered,
                        cov.with_interval,
                        l * 100.0,
                        u * 100.0
                    ),
                    judgement: judge_coverage(cov.covered, cov.with_interval, 0.90, 0.99, 40),
                });
            }
            let caught = det.verdict("fail");
            if m.condition == Condition::Quiet {
                goals.push(Goal {
                    name: format!(
                        "{cond} {}: +30 % TTFT / −20 % tok/s caught ≥ 95 %",
                        mode.label()
                    ),
                    observed: format!("{caught} of {}", det.verdicts),
                    judgement: judge_at_most(det.verdicts - caught, det.verdicts, 1, 20),
                });
            }
            goals.push(Goal {
                name: format!(
                    "{cond} {}: a missed +30 % candidate is inconclusive/invalid with MDE > 30 %, never pass",
                    mode.label()
                ),
                observed: format!("{} unsafe of {}", det.unsafe_misses, det.verdicts),
                judgement: match (det.verdicts, det.unsafe_misses) {
                    (0, _) => Judgement::TooFew,
                    (_, 0) => Judgement::Met,
                    _ => Judgement::NotMet,
                },
            });
        }
        let ab_aa = count_ab(&m.ab_runs, RunKind::Aa);
        let ab_det = count_ab(&m.ab_runs, RunKind::Detect);
        if ab_aa.runs + ab_det.runs > 0 {
            let caught = ab_det.verdict("fail");
            // The issue asks ≥ 95 % of `ab` under the neighbour; on a quiet
            // host it is shown with the same bar.
            goals.push(Goal {
                name: format!("{cond} ab: +30 % TTFT / −20 % tok/s caught ≥ 95 %"),
                observed: format!("{caught} of {}", ab_det.verdicts),
                judgement: judge_at_most(ab_det.verdicts - caught, ab_det.verdicts, 1, 20),
            });
            // Not a goal of the issue, but an interleaved design that cries
            // wolf would be no answer: the sequential bar.
            let fails = ab_aa.verdict("fail");
            goals.push(Goal {
                name: format!("{cond} ab: A/A false alarms ≤ 1 of 40 (rate)"),
                observed: format!("{fails} of {}", ab_aa.verdicts),
                judgement: judge_at_most(fails, ab_aa.verdicts, 1, 40),
            });
        }
    }
    for f in future {
        goals.push(Goal {
            name: f.goal.to_string(),
            observed: f.status.clone(),
            judgement: Judgement::NotMeasured,
        });
    }
    goals
}

// ---------------------------------------------------------------------------
// Hooks for the modes the command line does not have yet

/// A comparison mode of issue 12 and whether this harness measures it.
struct FutureMode {
    goal: &'static str,
    status: String,
}

/// Whether `tokengate ARGS… --help` succeeds and its help mentions `needle`.
fn help_mentions(tg: &Path, args: &[&str], needle: &str) -> bool {
    let Ok(dir) = tempfile::tempdir() else {
        return false;
    };
    let log = dir.path().join("help.log");
    let mut cmd = tokengate(tg, dir.path());
    cmd.args(args).arg("--help");
    matches!(run_logged(cmd, &log, GATE_LIMIT, "tokengate --help"), Ok(s) if s.success())
        && std::fs::read_to_string(&log).is_ok_and(|t| t.contains(needle))
}

/// Hook: `run --repeat N` (issue 12 item 1), N runs of the workload entering
/// the noise model as N runs; a sequential mode with a repeated candidate.
fn repeat_mode(tg: &Path) -> FutureMode {
    let status = if help_mentions(tg, &["run"], "--repeat") {
        "`run --repeat` exists; its harness mode is still to be written (repeat_mode in tests/validity.rs)"
    } else {
        "this tokengate's `run` has no `--repeat`"
    };
    FutureMode {
        goal: "sequential with --repeat: A/A false alarms and detection",
        status: status.into(),
    }
}

/// Hook: `tokengate calibrate` (issue 12 item 4), the between-run noise
/// stored with the baseline; a sequential mode whose baseline is calibrated.
fn calibrate_mode(tg: &Path) -> FutureMode {
    let status = if help_mentions(tg, &["calibrate"], "Usage") {
        "`tokengate calibrate` exists; its harness mode is still to be written (calibrate_mode in tests/validity.rs)"
    } else {
        "this tokengate has no `calibrate` command"
    };
    FutureMode {
        goal: "sequential with a calibrated baseline: A/A false alarms and MDE",
        status: status.into(),
    }
}

// ---------------------------------------------------------------------------
// Printing

/// Columns padded to their widest cell.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, &w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        format!("  {}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

fn k_of(k: usize, n: usize) -> String {
    format!("{k}/{n}")
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.digits$}"))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.1} %", v * 100.0))
}

fn pooled_cell(p: Option<(usize, usize)>) -> String {
    match p {
        None => "-".into(),
        Some((lo, hi)) if lo == hi => lo.to_string(),
        Some((lo, hi)) => format!("{lo}–{hi}"),
    }
}

fn coverage_cell(c: &Coverage) -> String {
    format!(
        "{} (w {})",
        k_of(c.covered, c.with_interval),
        opt(c.median_width(), 3)
    )
}

fn verdict_cells(c: &Counts) -> Vec<String> {
    let (other, names) = c.others();
    let other = if names.is_empty() {
        k_of(other, c.verdicts)
    } else {
        format!("{} ({names})", k_of(other, c.verdicts))
    };
    vec![
        k_of(c.verdict("fail"), c.verdicts),
        k_of(c.verdict("inconclusive"), c.verdicts),
        k_of(c.verdict("pass"), c.verdicts),
        other,
    ]
}

fn render(sizes: &Sizes, ctx: &Ctx, manifests: &[Manifest], future: &[FutureMode]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\ntokengate validity harness — {} trial: per condition {} warm-up + {} A/A + {} detection runs of {} requests (tests/validity/workload.yaml), gate {}",
        sizes.name,
        sizes.warmup_runs,
        sizes.aa_pairs,
        sizes.detect_runs,
        sizes.requests,
        ctx.gate.display()
    );
    let _ = writeln!(
        s,
        "simulator per run: ttft {} ms, tpot {} ms, jitter ±{JITTER_PCT} %; under the neighbour also run noise CV {RUN_NOISE_CV} and host stalls {STALL_MS} ms at {STALL_RATE_PER_S}/s (seeds from {}); candidate ttft {} ms, tpot {} ms",
        BASELINE_SERVER.ttft_ms,
        BASELINE_SERVER.tpot_ms,
        ctx.seed,
        CANDIDATE_SERVER.ttft_ms,
        CANDIDATE_SERVER.tpot_ms
    );

    let _ = writeln!(
        s,
        "\nA/A pairs (unchanged server), sequential; pooled = baseline runs compared with; coverage = the 95 % interval of the ratio contains 1.0 (w = median width).\nConsecutive one-run pairs share a run, as CI runs against the last promoted baseline do: the counts are exact, the pairs not independent."
    );
    let mut rows = Vec::new();
    for m in manifests {
        for mode in MODES {
            let c = count(&m.runs, RunKind::Aa, mode);
            let mut row = vec![
                m.condition.name().to_string(),
                mode.label().to_string(),
                pooled_cell(c.pooled),
                k_of(c.verdicts, c.runs),
            ];
            row.extend(verdict_cells(&c));
            row.push(coverage_cell(&c.ttft_p95));
            row.push(coverage_cell(&c.tokens_per_s));
            row.push(
                c.fails_by_rule
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            rows.push(row);
        }
    }
    s.push_str(&table(
        &[
            "condition",
            "baseline",
            "pooled",
            "verdicts",
            "fail",
            "inconclusive",
            "pass",
            "other",
            "ttft.p95 covers 1",
            "tok/s covers 1",
            "rule fails",
        ],
        &rows,
    ));

    let _ = writeln!(
        s,
        "\nDetection runs (+30 % TTFT, −20 % output tok/s), sequential; unsafe = not fail and not inconclusive/invalid with MDE > 30 %:"
    );
    let mut rows = Vec::new();
    for m in manifests {
        for mode in MODES {
            let c = count(&m.runs, RunKind::Detect, mode);
            let mut row = vec![
                m.condition.name().to_string(),
                mode.label().to_string(),
                k_of(c.verdicts, c.runs),
            ];
            row.extend(verdict_cells(&c));
            row.push(k_of(c.unsafe_misses, c.verdicts));
            rows.push(row);
        }
    }
    s.push_str(&table(
        &[
            "condition",
            "baseline",
            "verdicts",
            "fail (caught)",
            "inconclusive",
            "pass",
            "other",
            "unsafe",
        ],
        &rows,
    ));

    let _ = writeln!(
        s,
        "\n`tokengate ab` runs ({} requests per side, both sides in one window; A/A: the baseline's server on both sides; detection: the candidate's on side B):",
        sizes.requests / 2
    );
    let mut rows = Vec::new();
    for m in manifests {
        for kind in [RunKind::Aa, RunKind::Detect] {
            let c = count_ab(&m.ab_runs, kind);
            let invalid = m
                .ab_runs
                .iter()
                .filter(|r| r.kind == kind && !r.invalid.is_empty())
                .count();
            let mut row = vec![
                m.condition.name().to_string(),
                kind.name().to_string(),
                k_of(c.verdicts, c.runs),
            ];
            row.extend(verdict_cells(&c));
            row.push(k_of(invalid, c.runs));
            row.push(coverage_cell(&c.ttft_p95));
            row.push(coverage_cell(&c.tokens_per_s));
            row.push(
                c.fails_by_rule
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            rows.push(row);
        }
    }
    s.push_str(&table(
        &[
            "condition",
            "runs",
            "verdicts",
            "fail",
            "inconclusive",
            "pass",
            "other",
            "a side invalid",
            "ttft.p95 covers 1",
            "tok/s covers 1",
            "rule fails",
        ],
        &rows,
    ));

    let _ = writeln!(
        s,
        "\nRuns of the unchanged server (warm-up + A/A): run-to-run spread, client saturation, host load:"
    );
    let mut rows = Vec::new();
    for m in manifests {
        let same: Vec<&BundleSummary> = m
            .runs
            .iter()
            .filter(|r| r.kind != RunKind::Detect)
            .filter_map(|r| r.summary.as_ref())
            .collect();
        let col = |f: fn(&BundleSummary) -> Option<f64>| -> Vec<f64> {
            same.iter().filter_map(|b| f(b)).collect()
        };
        let p95 = col(|b| b.ttft_p95_ms);
        let range = |v: &[f64]| {
            let lo = v.iter().copied().reduce(f64::min);
            let hi = v.iter().copied().reduce(f64::max);
            format!("{}–{}", opt(lo, 1), opt(hi, 1))
        };
        let all: Vec<&BundleSummary> = m.runs.iter().filter_map(|r| r.summary.as_ref()).collect();
        let saturated = all.iter().filter(|b| b.saturated == Some(true)).count();
        let invalid = all.iter().filter(|b| !b.invalid.is_empty()).count();
        let l = &m.load;
        rows.push(vec![
            m.condition.name().to_string(),
            same.len().to_string(),
            pct(cv(&col(|b| b.ttft_p50_ms))),
            format!("{} ({} ms)", pct(cv(&p95)), range(&p95)),
            pct(cv(&col(|b| b.output_tokens_per_s))),
            k_of(saturated, all.len()),
            k_of(invalid, all.len()),
            format!(
                "{}/{}/{}",
                opt(l.load1_min, 2),
                opt(l.load1_median, 2),
                opt(l.load1_max, 2)
            ),
            format!("{}/{}", opt(l.psi_some_median, 1), opt(l.psi_some_max, 1)),
            if m.hog_threads > 0 {
                format!("{} threads", m.hog_threads)
            } else {
                "off".into()
            },
            format!("{:.0} s", m.elapsed_s),
        ]);
    }
    s.push_str(&table(
        &[
            "condition",
            "runs",
            "CV ttft.p50",
            "CV ttft.p95 (range)",
            "CV tok/s",
            "client saturated",
            "invalid (not promoted)",
            "load1 min/med/max",
            "PSI cpu some % med/max",
            "neighbour",
            "time",
        ],
        &rows,
    ));
    if let Some(m) = manifests.first() {
        let _ = writeln!(
            s,
            "  ({} CPUs; load sampled every {LOAD_SAMPLE_EVERY:?}, {} samples in the first condition)",
            m.load.cpus, m.load.samples
        );
    }

    for m in manifests {
        let errors: Vec<String> = m
            .runs
            .iter()
            .flat_map(|r| {
                let run = r
                    .error
                    .iter()
                    .map(move |e| format!("{} {}: {e}", m.condition.name(), r.id));
                let gates = r.gates.iter().filter_map(move |g| {
                    g.error
                        .as_ref()
                        .map(|e| format!("{} {} {}: {e}", m.condition.name(), r.id, g.mode.label()))
                });
                run.chain(gates).collect::<Vec<_>>()
            })
            .chain(m.ab_runs.iter().filter_map(|r| {
                r.error
                    .as_ref()
                    .map(|e| format!("{} {}: {e}", m.condition.name(), r.id))
            }))
            .collect();
        if let Some(a) = &m.aborted {
            let _ = writeln!(s, "\n{}: {a}", m.condition.name());
        }
        for e in errors {
            let _ = writeln!(s, "  error: {e}");
        }
    }

    let _ = writeln!(s, "\nModes not measured yet:");
    for f in future {
        let _ = writeln!(s, "  {}: {}", f.goal, f.status);
    }
    s
}

fn render_goals(goals: &[Goal]) -> String {
    let rows: Vec<Vec<String>> = goals
        .iter()
        .map(|g| {
            vec![
                g.judgement.label().to_string(),
                g.name.clone(),
                g.observed.clone(),
            ]
        })
        .collect();
    let mut s = format!(
        "\nIssue 12 goals (asserted only with {ASSERT_GOALS_ENV}=1; rates judged at their own size: 40 A/A pairs, 20 detection runs):\n"
    );
    s.push_str(&table(&["goal", "what", "observed"], &rows));
    s
}

// ---------------------------------------------------------------------------
// Trials

/// Where a trial's files go: kept under `TOKENGATE_VALIDITY_DIR`, else a
/// temporary directory removed at the end.
enum OutDir {
    Kept(PathBuf),
    Temp(tempfile::TempDir),
}

impl OutDir {
    fn new(trial: &str) -> anyhow::Result<OutDir> {
        match std::env::var_os(DIR_ENV) {
            Some(root) => {
                let stamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let dir = PathBuf::from(root).join(format!("{trial}-{stamp}"));
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("{DIR_ENV}: cannot create {}", dir.display()))?;
                Ok(OutDir::Kept(
                    std::path::absolute(dir).context("absolute output path")?,
                ))
            }
            None => Ok(OutDir::Temp(
                tempfile::tempdir().context("temporary directory")?,
            )),
        }
    }

    fn path(&self) -> &Path {
        match self {
            OutDir::Kept(p) => p,
            OutDir::Temp(t) => t.path(),
        }
    }
}

/// What holds of the harness itself, goals or not: every planned run ran
/// and wrote a bundle, every candidate got a verdict in both modes, the
/// verdict counts add up, the rolling baseline held the runs the harness
/// promoted, the neighbour ran throughout.
fn check_harness(manifests: &[Manifest]) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    for m in manifests {
        let cond = m.condition.name();
        if let Some(a) = &m.aborted {
            problems.push(format!("{cond}: {a}"));
        }
        if m.runs.len() != m.planned_runs {
            problems.push(format!(
                "{cond}: {} of {} planned runs",
                m.runs.len(),
                m.planned_runs
            ));
        }
        for r in &m.runs {
            if let Some(e) = &r.error {
                problems.push(format!("{cond} {}: {e}", r.id));
            }
            match &r.summary {
                None => problems.push(format!("{cond} {}: no bundle", r.id)),
                Some(b) if b.complete == Some(false) => {
                    problems.push(format!("{cond} {}: the bundle is marked incomplete", r.id))
                }
                Some(_) => {}
            }
            let expected_gates = if r.kind == RunKind::Warmup || r.summary.is_none() {
                0
            } else {
                MODES.len()
            };
            if r.gates.len() != expected_gates {
                problems.push(format!(
                    "{cond} {}: {} comparisons, expected {expected_gates}",
                    r.id,
                    r.gates.len()
                ));
            }
            for g in &r.gates {
                match &g.result {
                    None => problems.push(format!(
                        "{cond} {} {}: no verdict ({})",
                        r.id,
                        g.mode.label(),
                        g.error.as_deref().unwrap_or("no error recorded")
                    )),
                    // A gate that pooled another number of runs than were
                    // promoted would make the mode's label a lie.
                    Some(res) => {
                        if let Some(n) = res.baseline_runs_reported
                            && res.skip_free()
                            && n != g.baseline_runs.len()
                        {
                            problems.push(format!(
                                "{cond} {} {}: the gate pooled {n} baseline runs, {} were promoted",
                                r.id,
                                g.mode.label(),
                                g.baseline_runs.len()
                            ));
                        }
                    }
                }
            }
        }
        if m.ab_runs.len() != m.planned_ab_runs {
            problems.push(format!(
                "{cond}: {} of {} planned ab runs",
                m.ab_runs.len(),
                m.planned_ab_runs
            ));
        }
        for r in &m.ab_runs {
            match (&r.result, &r.error) {
                (_, Some(e)) => problems.push(format!("{cond} {}: {e}", r.id)),
                (None, None) => problems.push(format!("{cond} {}: no verdict", r.id)),
                (Some(_), None) => {}
            }
        }
        for kind in [RunKind::Aa, RunKind::Detect] {
            for mode in MODES {
                let c = count(&m.runs, kind, mode);
                let sum: usize = c.by_verdict.values().sum();
                let (others, _) = c.others();
                if sum != c.verdicts
                    || c.verdict("fail") + c.verdict("inconclusive") + c.verdict("pass") + others
                        != c.verdicts
                    || c.ttft_p95.with_interval > c.verdicts
                    || c.tokens_per_s.with_interval > c.verdicts
                {
                    problems.push(format!(
                        "{cond} {} {}: counts do not add up: {c:?}",
                        kind.name(),
                        mode.label()
                    ));
                }
            }
        }
    }
    ensure!(
        problems.is_empty(),
        "the harness itself went wrong:\n  {}",
        problems.join("\n  ")
    );
    Ok(())
}

/// `regate` must rebuild each comparison faithfully: the last gated A/A run
/// of each condition, re-gated under the same gate from the manifest alone,
/// gets the same verdict and intervals (the gate is seeded: same inputs,
/// same report).
fn check_regate_reproduces(ctx: &Ctx, out: &Path, manifests: &[Manifest]) -> anyhow::Result<()> {
    let scratch = tempfile::tempdir().context("temporary directory")?;
    for m in manifests {
        let cdir = out.join(m.condition.name());
        let bundles: BTreeMap<&str, PathBuf> = m
            .runs
            .iter()
            .map(|r| (r.id.as_str(), cdir.join(&r.bundle)))
            .collect();
        let Some(run) = m
            .runs
            .iter()
            .rev()
            .find(|r| r.kind == RunKind::Aa && !r.gates.is_empty())
        else {
            continue;
        };
        for g in &run.gates {
            let Some(stored) = &g.result else { continue };
            let work = scratch.path().join(format!(
                "{}-{}-{}",
                m.condition.name(),
                run.id,
                g.mode.label()
            ));
            let again = regate_one(ctx, &cdir, &bundles, &run.bundle, g, &work)?;
            ensure!(
                &again == stored,
                "re-gating {} {} {} from the manifest gave another result:\n  stored {stored:?}\n  again  {again:?}",
                m.condition.name(),
                run.id,
                g.mode.label()
            );
        }
    }
    Ok(())
}

fn assert_goals() -> bool {
    std::env::var(ASSERT_GOALS_ENV).is_ok_and(|v| v.trim() == "1")
}

/// One trial: both conditions, the table, the harness checks, the goals.
fn measure(sizes: Sizes) -> anyhow::Result<()> {
    let _turn = turn();
    let sizes = sizes.with_env_overrides()?;
    let ctx = Ctx::from_env()?;
    let out = OutDir::new(sizes.name)?;
    let started = Instant::now();
    let mut manifests = Vec::new();
    for condition in [Condition::Quiet, Condition::Neighbour] {
        manifests.push(run_condition(
            &ctx,
            &sizes,
            condition,
            &out.path().join(condition.name()),
        )?);
    }
    let future = vec![repeat_mode(&ctx.tg), calibrate_mode(&ctx.tg)];
    let goals = judge_goals(&manifests, &future);
    let mut text = render(&sizes, &ctx, &manifests, &future);
    text.push_str(&render_goals(&goals));
    let _ = writeln!(
        text,
        "\n{} trial took {:.0} s",
        sizes.name,
        started.elapsed().as_secs_f64()
    );
    if let OutDir::Kept(dir) = &out {
        let _ = writeln!(
            text,
            "bundles, verdicts and manifests kept in {}",
            dir.display()
        );
        std::fs::write(dir.join("table.txt"), &text)
            .with_context(|| format!("cannot write {}", dir.display()))?;
    }
    println!("{text}");
    check_harness(&manifests)?;
    check_regate_reproduces(&ctx, out.path(), &manifests)?;
    if assert_goals() {
        let missed: Vec<String> = goals
            .iter()
            .filter(|g| g.judgement == Judgement::NotMet)
            .map(|g| format!("{}: {}", g.name, g.observed))
            .collect();
        ensure!(
            missed.is_empty(),
            "goals not met:\n  {}",
            missed.join("\n  ")
        );
    }
    Ok(())
}

/// Manifests under `root`, at most 4 levels down and at most 1,000.
fn find_manifests(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
        for e in entries.flatten() {
            let p = e.path();
            if p.file_name().is_some_and(|n| n == "manifest.json") {
                found.push(p);
            } else if depth < 4
                && p.is_dir()
                && !p
                    .file_name()
                    .is_some_and(|n| n == "runs" || n.to_string_lossy().starts_with("baselines-"))
            {
                stack.push((p, depth + 1));
            }
        }
        ensure!(
            found.len() <= 1000,
            "more than 1000 manifests under {}",
            root.display()
        );
    }
    found.sort();
    Ok(found)
}

/// One stored comparison done again under `ctx.gate`: the same baseline
/// runs promoted in the same order into a fresh directory under `work`, the
/// same candidate bundle gated against it.
fn regate_one(
    ctx: &Ctx,
    cdir: &Path,
    bundles: &BTreeMap<&str, PathBuf>,
    candidate: &str,
    g: &GateRecord,
    work: &Path,
) -> anyhow::Result<GateResult> {
    std::fs::create_dir_all(work).with_context(|| format!("cannot create {}", work.display()))?;
    let base_dir = work.join("baselines");
    for id in &g.baseline_runs {
        let bundle = bundles
            .get(id.as_str())
            .with_context(|| format!("baseline run {id} is not in the manifest"))?;
        promote(
            &ctx.tg,
            bundle,
            &base_dir,
            g.mode.keep(),
            &work.join("promote.log"),
        )?;
    }
    gate_bundle(
        &ctx.tg,
        &ctx.gate,
        &cdir.join(candidate),
        &base_dir,
        &work.join("verdict.json"),
    )
}

/// The kept bundles of `TOKENGATE_VALIDITY_DIR` under the gate of
/// `TOKENGATE_VALIDITY_GATE`: every comparison rebuilt (the same baseline
/// runs promoted in the same order into a fresh directory) and gated again;
/// prints the interval widths and coverage before (the stored verdicts) and
/// after, and the new verdict counts.
fn regate() -> anyhow::Result<()> {
    let _turn = turn();
    let root = std::env::var_os(DIR_ENV)
        .map(PathBuf::from)
        .with_context(|| {
            format!("set {DIR_ENV} to a directory a `full` or `short` run kept its bundles in")
        })?;
    let ctx = Ctx::from_env()?;
    let manifests = find_manifests(&root)?;
    ensure!(
        !manifests.is_empty(),
        "no manifest.json under {}",
        root.display()
    );
    let started = Instant::now();
    let limit = Duration::from_secs(60 * 60);
    let scratch = tempfile::tempdir().context("temporary directory")?;
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (mi, path) in manifests.iter().enumerate() {
        let cdir = path.parent().context("manifest directory")?;
        let m: Manifest = serde_json::from_value(read_json(path)?)
            .with_context(|| format!("reading {}", path.display()))?;
        let bundles: BTreeMap<&str, PathBuf> = m
            .runs
            .iter()
            .map(|r| (r.id.as_str(), cdir.join(&r.bundle)))
            .collect();
        let mut regated = m.clone();
        for (ri, run) in regated.runs.iter_mut().enumerate() {
            for (gi, g) in run.gates.iter_mut().enumerate() {
                ensure!(
                    started.elapsed() < limit,
                    "regate stopped: {limit:?} limit reached"
                );
                let work = scratch.path().join(format!("{mi}-{ri}-{gi}"));
                let result = regate_one(&ctx, cdir, &bundles, &run.bundle, g, &work);
                match result {
                    Ok(r) => g.result = Some(r),
                    Err(e) => {
                        errors.push(format!(
                            "{} {} {}: {e:#}",
                            m.condition.name(),
                            run.id,
                            g.mode.label()
                        ));
                        g.result = None;
                    }
                }
            }
        }
        for kind in [RunKind::Aa, RunKind::Detect] {
            for mode in MODES {
                let before = count(&m.runs, kind, mode);
                let after = count(&regated.runs, kind, mode);
                if before.runs == 0 {
                    continue;
                }
                let rel = cdir
                    .strip_prefix(&root)
                    .unwrap_or(cdir)
                    .display()
                    .to_string();
                let mut row = vec![rel, kind.name().into(), mode.label().into()];
                row.push(format!(
                    "{} → {}",
                    coverage_cell(&before.ttft_p95),
                    coverage_cell(&after.ttft_p95)
                ));
                row.push(format!(
                    "{} → {}",
                    coverage_cell(&before.tokens_per_s),
                    coverage_cell(&after.tokens_per_s)
                ));
                row.push(format!(
                    "{} → {}",
                    verdict_cells(&before).join(" "),
                    verdict_cells(&after).join(" ")
                ));
                rows.push(row);
            }
        }
    }
    let mut s = format!(
        "\nre-gate of {} under {} (before → after; w = median interval width; verdicts fail inconclusive pass other):\n",
        root.display(),
        ctx.gate.display()
    );
    s.push_str(&table(
        &[
            "condition",
            "runs",
            "baseline",
            "ttft.p95 covers 1",
            "tok/s covers 1",
            "verdicts",
        ],
        &rows,
    ));
    for e in &errors {
        let _ = writeln!(s, "  error: {e}");
    }
    println!("{s}");
    ensure!(
        errors.is_empty(),
        "{} comparisons could not be re-gated",
        errors.len()
    );
    Ok(())
}

/// Heavy trials take turns: each loads both cores.
static TURN: Mutex<()> = Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

fn trial(f: impl FnOnce() -> anyhow::Result<()>) -> Result<(), libtest_mimic::Failed> {
    f().map_err(|e| format!("{e:#}").into())
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().collect();
    if raw.get(1).map(String::as_str) == Some(HOG_ARG) {
        return hog_main(&raw[2..]);
    }
    let args = libtest_mimic::Arguments::from_args();
    let trials = vec![
        libtest_mimic::Trial::test("short", || trial(|| measure(SHORT))),
        libtest_mimic::Trial::test("full", || trial(|| measure(FULL))).with_ignored_flag(true),
        libtest_mimic::Trial::test("regate", || trial(regate)).with_ignored_flag(true),
        libtest_mimic::Trial::test(
            "self_check::schedule_spreads_detection_runs_after_warmups",
            || trial(self_check::schedule_spreads_detection_runs_after_warmups),
        ),
        libtest_mimic::Trial::test(
            "self_check::false_alarm_goal_is_one_of_forty_and_two_fails_decide_early",
            || trial(self_check::false_alarm_goal_is_one_of_forty_and_two_fails_decide_early),
        ),
        libtest_mimic::Trial::test(
            "self_check::coverage_goal_is_judged_by_the_exact_binomial_interval",
            || trial(self_check::coverage_goal_is_judged_by_the_exact_binomial_interval),
        ),
        libtest_mimic::Trial::test(
            "self_check::verdicts_with_new_fields_and_strings_are_counted",
            || trial(self_check::verdicts_with_new_fields_and_strings_are_counted),
        ),
        libtest_mimic::Trial::test(
            "self_check::a_missed_detection_is_safe_only_with_a_large_mde",
            || trial(self_check::a_missed_detection_is_safe_only_with_a_large_mde),
        ),
        libtest_mimic::Trial::test(
            "self_check::neighbour_is_killed_when_its_guard_drops",
            || trial(self_check::neighbour_is_killed_when_its_guard_drops),
        ),
        libtest_mimic::Trial::test(
            "self_check::only_the_neighbour_condition_injects_run_noise_and_ab_sides_share_it",
            || {
                trial(
                    self_check::only_the_neighbour_condition_injects_run_noise_and_ab_sides_share_it,
                )
            },
        ),
    ];
    libtest_mimic::run(&args, trials).exit_code()
}

/// Checks of the harness's own logic (fast; no simulator).
mod self_check {
    use super::*;

    pub fn only_the_neighbour_condition_injects_run_noise_and_ab_sides_share_it()
    -> anyhow::Result<()> {
        let quiet = profile_yaml(BASELINE_SERVER, 7, Condition::Quiet);
        ensure!(
            !quiet.contains("run_noise") && !quiet.contains("host_stalls"),
            "{quiet}"
        );
        let noisy = profile_yaml(BASELINE_SERVER, 7, Condition::Neighbour);
        ensure!(
            noisy.contains("run_noise") && noisy.contains("host_stalls"),
            "{noisy}"
        );
        // The two sides of one ab run: own jitter seed, shared noise seeds.
        let a = profile_yaml_seeds(BASELINE_SERVER, 1, 9, Condition::Neighbour);
        let b = profile_yaml_seeds(CANDIDATE_SERVER, 2, 9, Condition::Neighbour);
        let tail = |y: &str| y[y.find("run_noise").unwrap_or(0)..].to_string();
        ensure!(tail(&a) == tail(&b), "{a}\n{b}");
        ensure!(a.contains("seed: 1\n") && b.contains("seed: 2\n"));
        let plan = ab_schedule(10, 20);
        ensure!(plan.iter().filter(|k| **k == RunKind::Aa).count() == 10);
        ensure!(plan.iter().filter(|k| **k == RunKind::Detect).count() == 20);
        ensure!(ab_schedule(0, 3) == vec![RunKind::Detect; 3]);
        Ok(())
    }

    pub fn schedule_spreads_detection_runs_after_warmups() -> anyhow::Result<()> {
        let s = schedule(5, 40, 20);
        ensure!(s.len() == 65, "{} runs", s.len());
        ensure!(
            s[..5].iter().all(|k| *k == RunKind::Warmup),
            "warm-ups first: {s:?}"
        );
        ensure!(
            s[5] == RunKind::Aa,
            "an A/A pair before any detection run: {s:?}"
        );
        ensure!(s.iter().filter(|k| **k == RunKind::Aa).count() == 40);
        ensure!(s.iter().filter(|k| **k == RunKind::Detect).count() == 20);
        ensure!(
            s.windows(2)
                .all(|w| !(w[0] == RunKind::Detect && w[1] == RunKind::Detect)),
            "no two detection runs in a row at 2 A/A per detection: {s:?}"
        );
        let more = schedule(0, 2, 5);
        ensure!(
            more.iter().filter(|k| **k == RunKind::Detect).count() == 5,
            "{more:?}"
        );
        ensure!(schedule(2, 3, 0).len() == 5);
        Ok(())
    }

    pub fn false_alarm_goal_is_one_of_forty_and_two_fails_decide_early() -> anyhow::Result<()> {
        ensure!(judge_at_most(1, 40, 1, 40) == Judgement::Met);
        ensure!(judge_at_most(2, 40, 1, 40) == Judgement::NotMet);
        ensure!(judge_at_most(2, 80, 1, 40) == Judgement::Met);
        ensure!(judge_at_most(1, 10, 1, 40) == Judgement::TooFew);
        ensure!(judge_at_most(2, 10, 1, 40) == Judgement::NotMet);
        ensure!(judge_at_most(0, 0, 1, 40) == Judgement::TooFew);
        // Detection ≥ 95 % = at most 1 miss of 20.
        ensure!(judge_at_most(1, 20, 1, 20) == Judgement::Met);
        ensure!(judge_at_most(2, 20, 1, 20) == Judgement::NotMet);
        Ok(())
    }

    pub fn coverage_goal_is_judged_by_the_exact_binomial_interval() -> anyhow::Result<()> {
        // 0 of n: the upper bound is 1 − (α/2)^(1/n) in closed form.
        let (lo, hi) = clopper_pearson(0, 40, 0.05);
        let expected = 1.0 - 0.025f64.powf(1.0 / 40.0);
        ensure!(
            lo == 0.0 && (hi - expected).abs() < 1e-6,
            "({lo}, {hi}) vs {expected}"
        );
        // Symmetry: k of n mirrors n − k of n.
        let (a, b) = clopper_pearson(7, 20, 0.05);
        let (c, d) = clopper_pearson(13, 20, 0.05);
        ensure!((a - (1.0 - d)).abs() < 1e-6 && (b - (1.0 - c)).abs() < 1e-6);
        ensure!(judge_coverage(38, 40, 0.90, 0.99, 40) == Judgement::Met);
        ensure!(
            judge_coverage(40, 40, 0.90, 0.99, 40) == Judgement::Met,
            "40 of 40 is consistent with 95 %"
        );
        ensure!(
            judge_coverage(26, 100, 0.90, 0.99, 40) == Judgement::NotMet,
            "the issue's 26 %"
        );
        ensure!(
            judge_coverage(3, 10, 0.90, 0.99, 40) == Judgement::NotMet,
            "decided early"
        );
        ensure!(judge_coverage(5, 5, 0.90, 0.99, 40) == Judgement::TooFew);
        ensure!(judge_coverage(0, 0, 0.90, 0.99, 40) == Judgement::TooFew);
        Ok(())
    }

    fn record(kind: RunKind, verdicts: [Value; 2]) -> RunRecord {
        RunRecord {
            id: "000".into(),
            kind,
            seed: 0,
            bundle: "b.json".into(),
            summary: Some(BundleSummary::default()),
            load1_at_start: None,
            error: None,
            gates: MODES
                .iter()
                .zip(verdicts)
                .map(|(&mode, v)| GateRecord {
                    mode,
                    baseline_runs: vec!["x".into()],
                    verdict_file: "v.json".into(),
                    result: Some(summarize_verdict(&v).expect("a verdict")),
                    error: None,
                })
                .collect(),
        }
    }

    fn verdict(v: &str, ttft: (f64, f64), mde: f64) -> Value {
        serde_json::json!({
            "verdict": v,
            "a_field_from_the_future": {"x": 1},
            "baseline": {"run_digests": ["d"]},
            "rules": [
                {"metric": "ttft.p95", "verdict": v, "mde": mde,
                 "estimate": {"kind": "ratio", "point": (ttft.0 + ttft.1) / 2.0, "interval": {"lo": ttft.0, "hi": ttft.1}}},
                {"metric": "output_tokens_per_s", "verdict": "pass",
                 "estimate": {"kind": "ratio", "point": 1.0, "interval": null}},
                {"metric": "stream_error_rate", "verdict": "pass",
                 "estimate": {"kind": "value", "point": 0.0, "interval": {"lo": 0.0, "hi": 0.02}}}
            ]
        })
    }

    pub fn verdicts_with_new_fields_and_strings_are_counted() -> anyhow::Result<()> {
        ensure!(
            summarize_verdict(&serde_json::json!({"rules": []})).is_err(),
            "a verdict needs its verdict"
        );
        let runs = vec![
            record(
                RunKind::Aa,
                [
                    verdict("pass", (0.9, 1.1), 0.1),
                    verdict("invalid", (0.9, 1.1), 0.1),
                ],
            ),
            record(
                RunKind::Aa,
                [
                    verdict("fail", (1.2, 1.5), 0.1),
                    verdict("ungated", (1.01, 1.2), 0.1),
                ],
            ),
            record(
                RunKind::Detect,
                [
                    verdict("fail", (1.2, 1.5), 0.1),
                    verdict("pass", (1.2, 1.5), 0.1),
                ],
            ),
        ];
        let one = count(&runs, RunKind::Aa, Mode::OneRun);
        ensure!(one.runs == 2 && one.verdicts == 2);
        ensure!(
            one.verdict("pass") == 1 && one.verdict("fail") == 1,
            "{one:?}"
        );
        ensure!(one.fails_by_rule.get("ttft.p95") == Some(&1), "{one:?}");
        ensure!(
            one.ttft_p95.covered == 1 && one.ttft_p95.with_interval == 2,
            "{one:?}"
        );
        ensure!(
            one.tokens_per_s.with_interval == 0,
            "a null interval is no interval"
        );
        let rolling = count(&runs, RunKind::Aa, Mode::Rolling);
        ensure!(
            rolling.others() == (2, "invalid 1, ungated 1".to_string()),
            "{:?}",
            rolling.others()
        );
        ensure!(
            rolling.ttft_p95.covered == 1,
            "[1.01, 1.2] does not cover 1"
        );
        ensure!((rolling.ttft_p95.median_width().unwrap_or(0.0) - 0.195).abs() < 1e-9);
        let det = count(&runs, RunKind::Detect, Mode::Rolling);
        ensure!(
            det.verdict("pass") == 1 && det.unsafe_misses == 1,
            "{det:?}"
        );
        check_harness(&[Manifest {
            trial: "t".into(),
            condition: Condition::Quiet,
            requests: 1,
            gate: "g".into(),
            hog_threads: 0,
            planned_runs: 3,
            elapsed_s: 0.0,
            load: LoadSummary::default(),
            aborted: None,
            runs,
            planned_ab_runs: 0,
            ab_runs: Vec::new(),
        }])?;
        Ok(())
    }

    pub fn a_missed_detection_is_safe_only_with_a_large_mde() -> anyhow::Result<()> {
        let r =
            |v: &str, mde: f64| summarize_verdict(&verdict(v, (0.9, 1.6), mde)).expect("verdict");
        ensure!(is_safe_detection(&r("fail", 0.1)));
        ensure!(is_safe_detection(&r("inconclusive", 0.42)));
        ensure!(is_safe_detection(&r("invalid", 0.42)));
        ensure!(
            !is_safe_detection(&r("inconclusive", 0.2)),
            "an MDE below the effect should have caught it"
        );
        ensure!(!is_safe_detection(&r("pass", 0.9)));
        ensure!(!is_safe_detection(&r("ungated", 0.9)));
        Ok(())
    }

    pub fn neighbour_is_killed_when_its_guard_drops() -> anyhow::Result<()> {
        let mut n = start_neighbour(Duration::from_secs(60))?;
        std::thread::sleep(Duration::from_millis(200));
        ensure!(n.guard.is_running(), "the hog runs until its deadline");
        let pid = n.guard.child.id();
        drop(n);
        // Reaped by the guard: the pid no longer names our child (kill(pid, 0)
        // fails with ESRCH, or the pid was reused by an unrelated process,
        // which is not our child: waitpid refuses it).
        // SAFETY: waitpid with WNOHANG on a pid only reads its status.
        let r = unsafe { libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), libc::WNOHANG) };
        ensure!(r == -1, "pid {pid} is still a child of the harness");
        Ok(())
    }
}
