//! `tokengate run`: plan → (simulator) → client → driver → recorder →
//! bundle. This is the library's entry point for a whole benchmark run.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, bail};
use tokio::sync::mpsc;

use super::outcome::{CommandOptions, Outcome, Status};
use super::progress;
use crate::bundle::{
    Bundle, ClientInfo, Context, LoadInfo, METRICS_VERSION, SCHEMA_VERSION, write_bundle,
};
use crate::client::{Client, ClientConfig, ErrorKind};
use crate::driver::{self, Progress, RunEvents, StopSignal};
use crate::metrics::{Recorded, Recorder};
use crate::workload::{Endpoint, LoadPlan, Overrides, Plan, StopAfter, load_plan};

/// How to show progress while running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar on a terminal, a periodic status line otherwise.
    Auto,
    /// Nothing (tests, `--quiet`).
    Off,
}

/// Looks up an environment variable (a parameter so tests control it).
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

pub struct RunOptions {
    pub workload: PathBuf,
    pub overrides: Overrides,
    pub out: PathBuf,
    pub progress: ProgressMode,
    /// Set by signal handlers (or a test) to stop the run early.
    pub stop: Arc<StopSignal>,
    /// Environment lookup (API key, key fields, CI facts).
    pub env: EnvLookup,
    /// Runs of the workload into the one bundle (`--repeat N`, 1 to
    /// [`MAX_REPEAT`]); 1 is a plain run.
    pub repeat: u32,
}

pub struct RunOutcome {
    pub bundle: Bundle,
    pub path: PathBuf,
    pub plan: Arc<Plan>,
    /// When the measurement window closed (a plain run; `None` for a
    /// `--repeat` series), to time what follows it.
    pub window_closed: Option<Instant>,
    /// How long the way out took, once the bundle is written.
    pub finish: Option<FinishTimes>,
}

/// The wall time after the window (issue 18: slow exits on a busy disk),
/// shown in the summary: not a bundle field, since the bundle is written
/// by then.
#[derive(Debug, Clone, Copy)]
pub struct FinishTimes {
    /// Writing the bundle: serialize, one write and one fsync, rename.
    pub write: Duration,
    /// From the window's close to the bundle on disk: the recorder's
    /// metrics, the last telemetry scrape, the bundle's assembly and write.
    pub after_window: Option<Duration>,
}

/// The simulator started for a `sim://` endpoint; shut down after the
/// run (after every run of a `--repeat` series).
struct LocalSim(crate::sim::SimServer);

impl CommandOptions for RunOptions {
    fn stop_signal(&self) -> Option<Arc<StopSignal>> {
        Some(self.stop.clone())
    }
}

/// `tokengate run`: the run's summary on stdout; exit 130 when it was
/// interrupted (the bundle is still written, marked incomplete).
pub async fn run(opts: RunOptions) -> anyhow::Result<Outcome> {
    let outcome = run_workload(opts).await?;
    let mut out = Outcome::default();
    summarize(&outcome, &mut out);
    if let Some(f) = &outcome.finish {
        out.line(&finish_line(f));
    }
    Ok(out)
}

/// `bundle written in 1.2 ms (one write and fsync), 40 ms after the window
/// closed`: the summary's last line, for a slow way out to show.
pub fn finish_line(f: &FinishTimes) -> String {
    let after = f
        .after_window
        .map(|d| format!(", {:.0} ms after the window closed", d.as_secs_f64() * 1e3))
        .unwrap_or_default();
    format!(
        "bundle written in {:.1} ms (one write and fsync){after}",
        f.write.as_secs_f64() * 1e3
    )
}

/// The summary of a finished run (shared with `check`): the text, the
/// bundle file and, when interrupted, the note and exit status saying so.
pub fn summarize(run: &RunOutcome, out: &mut Outcome) {
    out.stdout
        .push_str(&super::summary::render_summary(&run.bundle, &run.path));
    let repeats = &run.bundle.repeats;
    if !repeats.is_empty() {
        let rates: Vec<String> = repeats
            .iter()
            .map(|r| format!("{:.1}", r.output_tokens_per_s))
            .collect();
        out.line(&format!(
            "runs: {} back to back (--repeat), pooled above; output tok/s per run: {}",
            repeats.len(),
            rates.join(", ")
        ));
    }
    out.files.push(run.path.clone());
    if !run.bundle.context.complete {
        out.notes.push(format!(
            "the run was interrupted; the bundle {} is marked incomplete",
            run.path.display()
        ));
        out.status = Status::Interrupted;
    }
}

/// Run a workload and write its bundle. Errors are tool/configuration
/// errors (exit 2); request failures are data inside the bundle.
pub async fn run_workload(opts: RunOptions) -> anyhow::Result<RunOutcome> {
    let mut outcome = measure_workload(opts).await?;
    let start = Instant::now();
    write_bundle(&outcome.bundle, &outcome.path)?;
    let written = Instant::now();
    outcome.finish = Some(FinishTimes {
        write: written - start,
        after_window: outcome
            .window_closed
            .map(|c| written.saturating_duration_since(c)),
    });
    Ok(outcome)
}

/// Most runs one `--repeat` may ask for: each is a whole run with its own
/// warm-up, and twenty already give the between-run variance 19 degrees of
/// freedom.
pub const MAX_REPEAT: u32 = 20;

/// No further run of a `--repeat` series starts once the series has taken
/// this long; the bundle keeps the runs measured so far and is marked
/// incomplete (each run is bounded by its own plan and request timeout).
pub const REPEAT_TIME_BUDGET: Duration = Duration::from_secs(2 * 3600);

/// Run a workload and return its bundle without writing it, for callers
/// that add to the bundle first (`soak`) and write it once. With
/// `opts.repeat` = N ≥ 2 the workload runs N times back to back, each run
/// with its own warm-up, into one bundle (`super::repeat`).
pub async fn measure_workload(opts: RunOptions) -> anyhow::Result<RunOutcome> {
    if !(1..=MAX_REPEAT).contains(&opts.repeat) {
        bail!(
            "--repeat {}: expected a number of runs from 1 to {MAX_REPEAT}",
            opts.repeat
        );
    }
    let target = connect(&opts).await?;
    let late_ms = match opts.overrides.start_at {
        Some(at) => wait_until(at, &opts.stop).await?,
        None => None,
    };
    let result = if opts.repeat == 1 {
        measure_run(&target, &opts, None)
            .await
            .map(|(run, _)| (run.bundle, Some(run.window_closed)))
    } else {
        super::repeat::measure_series(&target, &opts)
            .await
            .map(|b| (b, None))
    };
    let plan = target.plan.clone();
    target.shutdown().await;
    let (mut bundle, window_closed) = result?;
    if let (Some(at), Some(shard)) = (opts.overrides.start_at, bundle.context.shard.as_mut()) {
        shard.start_at = Some(crate::timefmt::rfc3339_ms(at));
        shard.start_late_ms = late_ms;
    }
    Ok(RunOutcome {
        bundle,
        path: opts.out,
        plan,
        window_closed,
        finish: None,
    })
}

/// The furthest ahead `--start-at` may be: a shard that would idle longer
/// than this holds a CI runner for nothing, and is more likely a typo.
pub const MAX_START_AHEAD: Duration = Duration::from_secs(3600);

/// How long ago `--start-at` may have passed: a shard whose preflight took
/// a moment longer than its peers' still starts (late by that much, which
/// its bundle records); one later than this would open its window after
/// the others' and fail `merge`'s overlap check anyway.
pub const MAX_START_LATE: Duration = Duration::from_secs(5);

/// Check a `--start-at` instant against `now`: at most [`MAX_START_AHEAD`]
/// ahead and at most [`MAX_START_LATE`] past.
pub fn check_start_at(at: SystemTime, now: SystemTime) -> anyhow::Result<()> {
    let text = crate::timefmt::rfc3339_ms(at);
    match at.duration_since(now) {
        Ok(ahead) if ahead > MAX_START_AHEAD => bail!(
            "--start-at {text} is {:.0} min away; expected at most {} min ahead (is the time zone right?)",
            ahead.as_secs_f64() / 60.0,
            MAX_START_AHEAD.as_secs() / 60
        ),
        Ok(_) => Ok(()),
        Err(past) if past.duration() > MAX_START_LATE => bail!(
            "--start-at {text} passed {:.1} s ago; expected a time in the future (at most {} s past, for a shard whose preflight ran late)",
            past.duration().as_secs_f64(),
            MAX_START_LATE.as_secs()
        ),
        Err(_) => Ok(()),
    }
}

/// Wait until `at` (checked again here: preflight may have taken long);
/// a stop signal ends the wait, and the run then stops at once. Returns how
/// late the wait ended after `at`, ms.
async fn wait_until(at: SystemTime, stop: &StopSignal) -> anyhow::Result<Option<f64>> {
    check_start_at(at, SystemTime::now())?;
    if let Ok(ahead) = at.duration_since(SystemTime::now()) {
        tokio::select! {
            _ = tokio::time::sleep(ahead.min(MAX_START_AHEAD)) => {}
            _ = stop.wait() => return Ok(None),
        }
    }
    let late = SystemTime::now()
        .duration_since(at)
        .map_or(0.0, |d| d.as_secs_f64() * 1e3);
    Ok(Some(round3(late)))
}

/// What every run of a series shares: the plan, the endpoint's client (and
/// the simulator behind a `sim://` endpoint), what preflight found.
pub(super) struct Target {
    pub plan: Arc<Plan>,
    pub client: Arc<Client>,
    metrics_url: Option<crate::client::EndpointUrl>,
    pub preflight_warning: Option<String>,
    local_sim: Option<LocalSim>,
}

impl Target {
    /// Stop the simulator of a `sim://` endpoint, if one was started.
    /// Bounded: an interrupted run must still write its bundle promptly.
    pub(super) async fn shutdown(self) {
        if let Some(LocalSim(server)) = self.local_sim {
            let _ = tokio::time::timeout(Duration::from_millis(500), server.shutdown()).await;
        }
    }
}

/// Load the plan, start the simulator of a `sim://` endpoint, check the
/// endpoint serves the model, build the client.
async fn connect(opts: &RunOptions) -> anyhow::Result<Target> {
    connect_with(opts, None).await
}

/// [`connect`], with the simulator of a `sim://` endpoint started from
/// `sim_profile` instead of the built-in profile the endpoint names (`ab`'s
/// `--candidate-profile`/`--candidate-builtin`).
pub(super) async fn connect_with(
    opts: &RunOptions,
    sim_profile: Option<crate::sim::SimProfile>,
) -> anyhow::Result<Target> {
    let env = opts.env.clone();
    let plan = load_plan(&opts.workload, &opts.overrides, &|k| env(k))?;
    let plan = Arc::new(plan);

    let mut local_sim = None;
    let base_url = match &plan.endpoint {
        Endpoint::Http(url) => url.clone(),
        Endpoint::Sim(name) => {
            let profile = match sim_profile {
                Some(p) => p,
                None => crate::sim::SimProfile::builtin(name)
                    .with_context(|| format!("{}: field `endpoint`", opts.workload.display()))?,
            };
            let server = crate::sim::SimServer::start(profile, "127.0.0.1:0".parse()?)
                .await
                .context("cannot start the built-in simulator")?;
            let url = crate::client::EndpointUrl::parse_base(&server.base_url())
                .context("the built-in simulator's URL")?;
            local_sim = Some(LocalSim(server));
            url
        }
    };
    let api_key = match &plan.api_key_env {
        None => None,
        Some(var) => match env(var) {
            Some(v) if !v.is_empty() => Some(v),
            _ => bail!(
                "{}: field `api_key_env` names the environment variable `{var}`, which is not set",
                opts.workload.display()
            ),
        },
    };
    // Fail in seconds, not after hundreds of failed requests, when the
    // endpoint is down or does not serve the model.
    let mut preflight_warning = base_url.auth_conflict(api_key.is_some());
    if plan.preflight.check_model {
        let pf = crate::client::preflight(
            &base_url,
            api_key.as_deref(),
            &plan.model,
            plan.preflight.wait,
            plan.preflight.retry_refused,
        )
        .await
        .with_context(|| format!("preflight of {}", opts.workload.display()))?;
        preflight_warning = match (preflight_warning, pf.warning) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        };
    }
    let metrics_url = plan.telemetry.enabled.then(|| {
        plan.telemetry
            .metrics_url
            .clone()
            .unwrap_or_else(|| base_url.metrics())
    });
    let config = ClientConfig {
        base_url,
        api: plan.api,
        model: plan.model.clone(),
        api_key,
        streaming: plan.streaming,
        timeout: plan.timeout,
        pool_size: plan.load.pool_size(),
    };
    let client = Arc::new(
        Client::new(config, Some(plan.tokenizer.clone()))
            .context("cannot create the HTTP client")?,
    );
    Ok(Target {
        plan,
        client,
        metrics_url,
        preflight_warning,
        local_sim,
    })
}

/// One measured run: its bundle and what a series needs to pool runs.
pub(super) struct MeasuredRun {
    pub bundle: Bundle,
    /// Wall time of the run, warm-up included.
    pub elapsed: Duration,
    /// When the driver finished: the window's close.
    pub window_closed: Instant,
    pub host_start: crate::runinfo::HostSample,
    pub host_end: crate::runinfo::HostSample,
}

/// Run the plan once (warm-up, then the measurement window) into a bundle
/// of one run. `pooled`, when given, also receives every record (a
/// `--repeat` series pools its runs' records in it) and is handed back.
pub(super) async fn measure_run(
    target: &Target,
    opts: &RunOptions,
    pooled: Option<Recorder>,
) -> anyhow::Result<(MeasuredRun, Option<Recorder>)> {
    let env = opts.env.clone();
    let plan = target.plan.clone();
    let expected = plan.total_requests().unwrap_or(4096) as usize;
    let mut recorder = Recorder::new(plan.slo, plan.pricing.clone(), plan.max_tokens, expected);
    let mut pooled = pooled;
    let (tx, mut rx) = mpsc::channel(1024);
    let recorder_task = tokio::spawn(async move {
        while let Some(rec) = rx.recv().await {
            recorder.record(&rec);
            if let Some(p) = pooled.as_mut() {
                p.record(&rec);
            }
        }
        (recorder, pooled)
    });

    let progress_state = Arc::new(Progress::default());
    let events = Arc::new(RunEvents::default());
    let scraper = match &target.metrics_url {
        Some(url) => crate::telemetry::Scraper::connect(url.clone())
            .await
            .map(|s| {
                let warmup = !matches!(plan.warmup, crate::workload::Warmup::None);
                tokio::spawn(s.run(plan.telemetry.interval, events.clone(), warmup))
            }),
        None => None,
    };
    let host_start = crate::runinfo::host_sample();
    let started_wall = SystemTime::now();
    let cpu_before = crate::runinfo::process_cpu();
    let epoch = Instant::now();
    let display = match opts.progress {
        ProgressMode::Auto => Some(progress::spawn(
            &plan,
            progress_state.clone(),
            opts.stop.clone(),
        )),
        ProgressMode::Off => None,
    };
    // The client probe measures the window. The driver announces the
    // window once (`notify_one`) and the scraper waits for it on `events`,
    // so the driver gets events of its own and the probe relays the
    // announcement to the scraper as it starts.
    let driver_events = Arc::new(RunEvents::default());
    let probe = crate::runinfo::ClientProbe::spawn({
        let (driver_events, events) = (driver_events.clone(), events.clone());
        async move {
            driver_events.measuring.notified().await;
            events.measuring.notify_one();
        }
    });
    let summary = driver::run(
        plan.clone(),
        target.client.clone(),
        epoch,
        tx,
        opts.stop.clone(),
        progress_state.clone(),
        driver_events,
    )
    .await;
    let window_closed = Instant::now();
    let probe_reading = probe.finish().await;
    events.done.notify_one();
    let host_end = crate::runinfo::host_sample();
    let server = match scraper {
        // Bounded: a scrape has its own 2 s timeout; never hold the bundle.
        Some(task) => tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .ok()
            .and_then(|r| r.ok())
            .flatten(),
        None => None,
    };
    let (recorder, pooled) = recorder_task.await.context("the recorder task failed")?;
    if let Some(d) = display {
        d.finish().await;
    }
    let cpu_after = crate::runinfo::process_cpu();
    let ended_wall = SystemTime::now();
    let window = RunWindow {
        started_wall,
        ended_wall,
        cpu: (
            cpu_after.0.saturating_sub(cpu_before.0),
            cpu_after.1.saturating_sub(cpu_before.1),
        ),
        host_start: &host_start,
        host_end: &host_end,
        probe: probe_reading.as_ref(),
        summary: &summary,
    };
    let (mut bundle, lengths, schedule) = finish_bundle(&plan, recorder.finish(), &window, &*env);
    if let Some(w) = &target.preflight_warning {
        bundle.context.warnings.push(w.clone());
    }
    if let Some(server) = &server {
        bundle.metrics.queue_time_ms = server.queue_time_ms.clone();
    }
    bundle.server = server;
    // Last: validity reads the client's final saturation verdict.
    record_validity(&plan, &mut bundle, &lengths, &schedule);
    let run = MeasuredRun {
        bundle,
        elapsed: summary.elapsed,
        window_closed,
        host_start,
        host_end,
    };
    Ok((run, pooled))
}

/// What a measurement window shares between the bundles measured in it
/// (one for `run`, one per side for `ab`): wall times, the client's CPU use,
/// host samples, the client probe's reading and the driver's summary.
pub(super) struct RunWindow<'a> {
    pub started_wall: SystemTime,
    pub ended_wall: SystemTime,
    /// The client process's user and system CPU time over the run.
    pub cpu: (Duration, Duration),
    pub host_start: &'a crate::runinfo::HostSample,
    pub host_end: &'a crate::runinfo::HostSample,
    pub probe: Option<&'a crate::runinfo::probe::ProbeReading>,
    pub summary: &'a driver::DriverSummary,
}

/// The bundle of one endpoint's records in `window`, with the client's
/// verdict on itself; also the facts validity needs (output lengths, the
/// schedule), for the caller to assess once the bundle is complete.
pub(super) fn finish_bundle(
    plan: &Plan,
    recorded: Recorded,
    window: &RunWindow,
    env: &dyn Fn(&str) -> Option<String>,
) -> (
    Bundle,
    crate::metrics::OutputLengths,
    crate::metrics::ScheduleFacts,
) {
    let (lengths, schedule) = (recorded.output_lengths.clone(), recorded.schedule.clone());
    let summary = window.summary;
    let mut bundle = assemble(
        plan,
        recorded,
        window.started_wall,
        window.ended_wall,
        summary.elapsed,
        window.cpu,
        summary.interrupted.clone(),
        summary.abandoned,
        env,
    );
    bundle.context.client.host = crate::runinfo::host_signals(window.host_start, window.host_end);
    // Saturated means the client limited the measurement (the probe's
    // verdict), not that the host was busy: high host CPU pressure or a
    // busy client process are reported as information only.
    let latency_p50 = bundle.metrics.ttft_ms.p50.or(bundle.metrics.e2e_ms.p50);
    let health = window
        .probe
        .map(|r| crate::runinfo::assess(r, latency_p50, &crate::runinfo::Thresholds::default()));
    let client = &mut bundle.context.client;
    let mut busy = Vec::new();
    if client.cpu_utilization > 0.8 {
        busy.push(format!(
            "the client used {:.0} % of a CPU core",
            client.cpu_utilization * 100.0
        ));
    }
    if let Some(p) = client.host.cpu_pressure_some
        && p >= 0.3
    {
        busy.push(format!(
            "the client host was busy (some task waited for a CPU {:.0} % of the run, PSI)",
            p * 100.0
        ));
    }
    match &health {
        Some(h) if h.limited => {
            client.saturated = true;
            client.warnings.push(h.reason.clone());
            bundle.context.warnings.push(h.reason.clone());
        }
        Some(h) if !busy.is_empty() => bundle.context.warnings.push(format!(
            "{}; for information only: {}",
            busy.join(" and "),
            h.reason
        )),
        _ => {}
    }
    bundle.context.client.health = health;
    (bundle, lengths, schedule)
}

/// `context.validity` from the plan and the recorded facts; each problem
/// other than the client's own (already among the warnings) is also a
/// warning, so the summary and reports show it.
pub(super) fn record_validity(
    plan: &Plan,
    bundle: &mut Bundle,
    lengths: &crate::metrics::OutputLengths,
    schedule: &crate::metrics::ScheduleFacts,
) {
    let c = &bundle.context;
    let facts = crate::validity::Facts {
        complete: c.complete,
        incomplete_reason: c.incomplete_reason.as_deref(),
        measured: bundle.metrics.requests.attempted,
        client_saturated: c.client.saturated,
        client_warnings: &c.client.warnings,
        lengths,
        schedule,
    };
    let validity = crate::validity::assess(&crate::validity::Expectations::of(plan), &facts);
    for p in &validity.problems {
        if p.kind != crate::bundle::ProblemKind::ClientLimited {
            bundle.context.warnings.push(format!(
                "invalid run ({}): {}; {}",
                p.kind, p.message, p.advice
            ));
        }
    }
    bundle.context.validity = validity;
}

/// Failure kinds that say the endpoint is not an OpenAI-compatible stream
/// as configured, rather than that it is slow or overloaded: each one seen
/// gets a warning saying what to fix.
fn misconfiguration_warnings(errors: &BTreeMap<String, u64>) -> Vec<String> {
    let hints = [
        (
            ErrorKind::Http3xx,
            "answered with a redirect (HTTP 3xx), which is not followed: an OpenAI-compatible endpoint answers at its own URL, so `endpoint` is not the server's final URL or the server is misconfigured",
        ),
        (
            ErrorKind::NotStreamed,
            "answered a streaming request with one JSON body: the server ignores `\"stream\": true` (set `stream: false` in the workload to measure it without streaming)",
        ),
        (
            ErrorKind::UnrequestedEncoding,
            "answered with a compressed body (Content-Encoding) that was not asked for: a proxy in front of the server compresses responses; turn that off for this endpoint",
        ),
    ];
    hints
        .into_iter()
        .filter_map(|(kind, hint)| {
            let n = errors.get(kind.as_str()).copied().unwrap_or(0);
            (n > 0).then(|| format!("{n} request(s) failed as `{kind}`: the endpoint {hint}"))
        })
        .collect()
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site, all facts of a run"
)]
fn assemble(
    plan: &Plan,
    recorded: Recorded,
    started: SystemTime,
    ended: SystemTime,
    elapsed: Duration,
    cpu: (Duration, Duration),
    interrupted: Option<String>,
    abandoned: u64,
    env: &dyn Fn(&str) -> Option<String>,
) -> Bundle {
    let m = &recorded.metrics;
    let mut warnings = Vec::new();

    // The client's own CPU use; whether the client limited the measurement
    // is the client probe's verdict, set by the caller.
    let cpu_total = (cpu.0 + cpu.1).as_secs_f64();
    let wall = elapsed.as_secs_f64().max(1e-9);
    let utilization = cpu_total / wall;
    let total_requests = (m.requests.attempted + m.requests.warmup).max(1);
    let lag_p99_ms = recorded.lag_p99.as_secs_f64() * 1e3;
    let lag_max_ms = recorded.lag_max.as_secs_f64() * 1e3;
    if matches!(plan.load, LoadPlan::Open { .. }) && lag_p99_ms > 10.0 {
        warnings.push(format!(
            "the open-loop schedule fell behind: p99 start lag {lag_p99_ms:.1} ms, max {lag_max_ms:.1} ms; the achieved rate is below the target"
        ));
    }

    if recorded.usage_refused > 0 {
        warnings.push(format!(
            "{} response(s) reported a usage.completion_tokens that cannot be the server's count (not a non-negative integer, above max_tokens, or 0 although content streamed); their output tokens were counted from the response instead (tokenizer, else content events; see context.token_sources)",
            recorded.usage_refused
        ));
    }
    let token_source = token_source_of(&recorded.token_sources);
    if token_source == "tokenizer" || token_source == "mixed" {
        warnings.push(format!(
            "the server reported no usage for some responses: output tokens were counted with the {} tokenizer",
            plan.tokenizer.name()
        ));
    }
    if token_source == "events" {
        warnings
            .push("output tokens were counted as content events (no usage, no tokenizer)".into());
    }
    let connect_failures = m
        .errors
        .get(ErrorKind::Connect.as_str())
        .copied()
        .unwrap_or(0);
    if m.requests.attempted > 0 && connect_failures == m.requests.attempted {
        warnings.push("every request failed to connect: is the endpoint up?".into());
    }
    warnings.extend(misconfiguration_warnings(&m.errors));
    if abandoned > 0 {
        warnings.push(format!(
            "{abandoned} request(s) in flight were abandoned when the run stopped"
        ));
    }

    let load = match &plan.load {
        LoadPlan::Closed { concurrency, .. } => LoadInfo {
            mode: "closed".into(),
            concurrency: Some(*concurrency),
            rate: None,
            arrival: None,
            requests: None,
            duration_s: None,
            warmup_requests: m.requests.warmup,
        },
        LoadPlan::Open { rate, arrival, .. } => LoadInfo {
            mode: "open".into(),
            concurrency: None,
            rate: Some(*rate),
            arrival: Some(format!("{arrival:?}").to_lowercase()),
            requests: None,
            duration_s: None,
            warmup_requests: m.requests.warmup,
        },
    };
    let load = match plan.stop {
        StopAfter::Requests(n) => LoadInfo {
            requests: Some(n),
            ..load
        },
        StopAfter::Duration(d) => LoadInfo {
            duration_s: Some(d.as_secs_f64()),
            ..load
        },
    };

    let complete = interrupted.is_none();
    let context = Context {
        workload_name: plan.name.clone(),
        workload_digest: plan.digest().to_owned(),
        workload_shape: plan.shape().clone(),
        endpoint_kind: plan.endpoint.kind().into(),
        endpoint: plan.endpoint.display(),
        api: plan.api.as_str().into(),
        model: plan.model.clone(),
        streaming: plan.streaming,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        git: std::env::current_dir()
            .ok()
            .and_then(|d| crate::runinfo::git_info(&d)),
        ci_run_url: crate::runinfo::ci_run_url(env),
        runner_host: crate::runinfo::host_name(),
        started_at: crate::timefmt::rfc3339(started),
        ended_at: crate::timefmt::rfc3339(ended),
        window_s: (recorded.window.as_secs_f64() * 1e3).round() / 1e3,
        complete,
        incomplete_reason: interrupted,
        token_source,
        token_sources: recorded.token_sources.clone(),
        load,
        seed: plan.seed,
        engine_flags: plan.engine_flags.clone(),
        meta: plan.meta.clone(),
        client: ClientInfo {
            cpu_user_s: round3(cpu.0.as_secs_f64()),
            cpu_system_s: round3(cpu.1.as_secs_f64()),
            cpu_utilization: round3(utilization),
            cpu_per_request_us: round3(cpu_total * 1e6 / total_requests as f64),
            schedule_lag_p99_ms: round3(lag_p99_ms),
            schedule_lag_max_ms: round3(lag_max_ms),
            saturated: false,
            warnings: Vec::new(),
            host: Default::default(),
            health: None,
        },
        warnings,
        validity: Default::default(),
        ab: None,
        shard: plan
            .shard
            .map(|s| shard_info(plan, s, started + recorded.window_start, recorded.window)),
        merged: None,
        imported: None,
    };
    Bundle {
        schema_version: SCHEMA_VERSION,
        metrics_version: METRICS_VERSION,
        key: plan.key.clone(),
        context,
        metrics: recorded.metrics,
        histograms: recorded.histograms,
        samples: recorded.samples,
        server: None,
        sweep: None,
        soak: None,
        repeats: Vec::new(),
    }
}

/// `context.shard` of a shard's bundle: its part of the load and its
/// measurement window on this host's wall clock.
fn shard_info(
    plan: &Plan,
    shard: crate::workload::Shard,
    window_started: SystemTime,
    window: Duration,
) -> crate::bundle::ShardInfo {
    let (concurrency, rate) = match &plan.load {
        LoadPlan::Closed { concurrency, .. } => (shard.users_of(*concurrency).ok(), None),
        LoadPlan::Open { rate, .. } => (None, Some(rate / f64::from(shard.total()))),
    };
    crate::bundle::ShardInfo {
        index: shard.index(),
        total: shard.total(),
        split: format!(
            "request i goes to shard (i mod {}) + 1; this shard sent i mod {} = {}",
            shard.total(),
            shard.total(),
            shard.index() - 1
        ),
        concurrency,
        rate,
        requests: plan.measured_requests(),
        window_started_at: crate::timefmt::rfc3339_ms(window_started),
        window_ended_at: crate::timefmt::rfc3339_ms(window_started + window),
        start_at: None,
        start_late_ms: None,
    }
}

/// `context.token_source` from the successful requests per token source:
/// the one source, `mixed`, or `none`.
pub(super) fn token_source_of(sources: &std::collections::BTreeMap<String, u64>) -> String {
    match sources.len() {
        0 => "none".to_string(),
        1 => sources.keys().next().cloned().unwrap_or_default(),
        _ => "mixed".to_string(),
    }
}

pub(super) fn round3(v: f64) -> f64 {
    (v * 1e3).round() / 1e3
}
