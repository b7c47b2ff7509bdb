//! `tokengate ab`: a baseline (A) and a candidate (B) endpoint measured in
//! ONE time window, their request slots interleaved at random and balanced
//! in blocks of two (the "duet" design, Bulej et al. 2020; see
//! [`crate::driver::Schedule`]), the same prompt sequence on both sides. A
//! noisy neighbour then hits both sides alike. Writes both bundles
//! (`baseline.json`, `candidate.json`), judges B against A under the gate
//! file as a paired design ([`crate::gate::Design::Paired`]) and writes the
//! reports as `check` does; the exit status is the verdict's.
//!
//! Both endpoints are preflighted (reachable, serving the workload's model)
//! before any request is measured, and the gate file is read before, too:
//! a bad input is an error (exit 2) with nothing written.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use anyhow::{Context as _, bail};
use tokio::sync::mpsc;

use super::gate::{load_waiver_file, render_verdict_summary, write_reports};
use super::outcome::{CommandOptions, Outcome, Status};
use super::progress;
use super::publish::{PublishFlags, publish_into};
use super::run::{
    ProgressMode, RunOptions, RunWindow, Target, connect_with, finish_bundle, record_validity,
};
use super::sim::{ProfileOverrides, ProfileSource, profile_of};
use crate::bundle::{AbPair, AbSide, Bundle, digest_of_file, write_bundle};
use crate::driver::{self, Progress, RunEvents, Side, StopSignal};
use crate::gate::{
    BaselineDesc, Comparison, Date, Design, GateReport, InconclusivePolicy, KeyChange, evaluate,
    load_gate_file,
};
use crate::metrics::Recorder;
use crate::workload::{Endpoint, Overrides, Plan, StopAfter};

pub struct AbOptions {
    pub workload: PathBuf,
    /// Workload overrides shared by both sides (no endpoint).
    pub overrides: Overrides,
    pub baseline_endpoint: String,
    pub candidate_endpoint: String,
    /// The simulator profile of a `sim://` candidate (`--candidate-profile`
    /// or `--candidate-builtin`); `None`: the built-in its name says.
    pub candidate_sim: Option<ProfileSource>,
    /// `--candidate-ttft-ms`/`--candidate-tpot-ms`: applied to a `sim://`
    /// candidate's profile.
    pub candidate_overrides: ProfileOverrides,
    pub gate: PathBuf,
    pub waivers: Option<PathBuf>,
    pub inconclusive: Option<InconclusivePolicy>,
    /// Both bundles and the reports (`report.md`, `junit.xml`,
    /// `verdict.json`) go here.
    pub report_dir: PathBuf,
    pub progress: ProgressMode,
    pub stop: Arc<StopSignal>,
    pub env: super::EnvLookup,
    /// Where to publish the verdict (GitHub Actions, GitLab, a check run),
    /// as `check` does.
    pub publish: PublishFlags,
}

impl CommandOptions for AbOptions {
    fn stop_signal(&self) -> Option<Arc<StopSignal>> {
        Some(self.stop.clone())
    }
}

/// The bundle files of an A/B run in `report_dir`.
pub fn bundle_paths(report_dir: &Path) -> (PathBuf, PathBuf) {
    (
        report_dir.join("baseline.json"),
        report_dir.join("candidate.json"),
    )
}

/// Measure both sides, write the bundles, judge, write the reports.
pub async fn run(opts: AbOptions) -> anyhow::Result<Outcome> {
    let (a_endpoint, b_endpoint) = check_endpoints(&opts)?;
    // The gate file and waivers are read before anything is measured, so a
    // typo in them costs no run.
    let gate_opts = gate_options(&opts);
    let mut gate = load_gate_file(&opts.gate)?;
    if let Some(policy) = opts.inconclusive {
        gate.policy.inconclusive = policy;
    }
    let waivers = load_waiver_file(&gate_opts)?;
    let candidate_profile = candidate_profile(&opts, &a_endpoint, &b_endpoint)?;
    let baseline_profile = match &a_endpoint {
        Endpoint::Sim(name) => Some(
            profile_of(
                &ProfileSource::Builtin(name.clone()),
                &ProfileOverrides::default(),
            )
            .context("--baseline-endpoint: the simulator's built-in profile")?,
        ),
        Endpoint::Http(_) => None,
    };

    let a = connect_with(
        &side_options(&opts, &opts.baseline_endpoint),
        baseline_profile,
    )
    .await
    .with_context(|| format!("baseline endpoint {}", a_endpoint.display()))?;
    // A `sim://` candidate running another built-in is named after it, so
    // its bundle says which profile it measured.
    // Changed timings are named too: `sim://quickstart (ttft_ms 52)`.
    let candidate_endpoint = match (&opts.candidate_sim, &b_endpoint) {
        (Some(ProfileSource::Builtin(name)), Endpoint::Sim(_)) => format!("sim://{name}"),
        _ => opts.candidate_endpoint.clone(),
    };
    let candidate_endpoint = match (&b_endpoint, changed_timings(&opts.candidate_overrides)) {
        (Endpoint::Sim(_), Some(t)) => format!("{candidate_endpoint} ({t})"),
        _ => candidate_endpoint,
    };
    let b = match connect_with(&side_options(&opts, &candidate_endpoint), candidate_profile)
        .await
        .with_context(|| format!("candidate endpoint {}", b_endpoint.display()))
    {
        Ok(b) => b,
        Err(e) => {
            a.shutdown().await;
            return Err(e);
        }
    };
    let measured = measure_pair(&a, &b, &opts).await;
    a.shutdown().await;
    b.shutdown().await;
    let (base, cand) = measured?;

    let (base_path, cand_path) = bundle_paths(&opts.report_dir);
    write_bundle(&base, &base_path)?;
    write_bundle(&cand, &cand_path)?;
    let mut out = Outcome::default();
    out.stdout
        .push_str(&super::summary::render_summary(&base, &base_path));
    out.stdout.push('\n');
    out.stdout
        .push_str(&super::summary::render_summary(&cand, &cand_path));
    out.stdout.push('\n');
    out.files.push(base_path.clone());
    out.files.push(cand_path.clone());

    let report = judge(&gate, &waivers, (&base, &base_path), (&cand, &cand_path))?;
    out.stdout.push_str(&render_verdict_summary(&report));
    let written = write_reports(&report, &gate_opts)?;
    for p in &written {
        out.line(&format!("report: {}", p.display()));
        out.files.push(p.clone());
    }
    let code = report.exit_code();
    // Published as `check` publishes, the candidate as the judged bundle.
    let judged = super::gate::GateOutcome {
        report,
        bundle: cand,
        written,
        notes: Vec::new(),
    };
    publish_into(
        &judged,
        &gate_opts,
        &opts.publish,
        &opts.report_dir,
        &opts.env,
        &mut out,
    )
    .await;
    let cand = judged.bundle;
    out.status = Status::from_code(code)
        .with_context(|| format!("the gate returned the undocumented exit code {code}"))?;
    if !base.context.complete || !cand.context.complete {
        out.notes.push(format!(
            "the A/B run was interrupted; the bundles in {} are marked incomplete",
            opts.report_dir.display()
        ));
        out.status = Status::Interrupted;
    }
    Ok(out)
}

/// Both endpoints parsed; the same HTTP endpoint twice is refused: both
/// sides would share one server's batch, so A and B would each slow the
/// other and the run would compare the server with itself under twice the
/// load, which `calibrate` does properly. Two `sim://` endpoints are two
/// simulators, so the same name twice is an A/A of two simulators.
fn check_endpoints(opts: &AbOptions) -> anyhow::Result<(Endpoint, Endpoint)> {
    if opts.overrides.endpoint.is_some() {
        bail!("--endpoint: `ab` takes --baseline-endpoint and --candidate-endpoint instead");
    }
    let parse =
        |flag: &str, text: &str| Endpoint::parse(text).map_err(|e| anyhow::anyhow!("{flag}: {e}"));
    let a = parse("--baseline-endpoint", &opts.baseline_endpoint)?;
    let b = parse("--candidate-endpoint", &opts.candidate_endpoint)?;
    if let (Endpoint::Http(x), Endpoint::Http(y)) = (&a, &b)
        && x.same_as(y)
    {
        bail!(
            "--baseline-endpoint and --candidate-endpoint are the same endpoint ({}): both sides would share one server, each slowing the other; give two servers, or measure one server's noise with `tokengate calibrate`",
            a.display()
        );
    }
    Ok((a, b))
}

/// The simulator profile of the candidate side, when it is a `sim://`
/// endpoint: from `--candidate-profile`/`--candidate-builtin`, else the
/// built-in its name says. A candidate simulator with a built-in profile
/// draws from another seed than the baseline's, so an A/A of two simulators
/// is two independent servers, not one server's numbers twice.
fn candidate_profile(
    opts: &AbOptions,
    a: &Endpoint,
    b: &Endpoint,
) -> anyhow::Result<Option<crate::sim::SimProfile>> {
    let Endpoint::Sim(name) = b else {
        if opts.candidate_sim.is_some() || changed_timings(&opts.candidate_overrides).is_some() {
            bail!(
                "--candidate-profile/--candidate-builtin/--candidate-ttft-ms/--candidate-tpot-ms: only for a `sim://` candidate endpoint, got {}",
                b.display()
            );
        }
        return Ok(None);
    };
    let source = opts
        .candidate_sim
        .clone()
        .unwrap_or_else(|| ProfileSource::Builtin(name.clone()));
    let mut profile = profile_of(&source, &opts.candidate_overrides)
        .context("--candidate-endpoint: the simulator's profile")?;
    if matches!(source, ProfileSource::Builtin(_)) && matches!(a, Endpoint::Sim(_)) {
        profile.seed = profile.seed.wrapping_add(1);
    }
    Ok(Some(profile))
}

/// The candidate simulator's changed timings in words, if any.
fn changed_timings(o: &ProfileOverrides) -> Option<String> {
    let parts: Vec<String> = [("ttft_ms", o.ttft_ms), ("tpot_ms", o.tpot_ms)]
        .iter()
        .filter_map(|(name, v)| v.map(|v| format!("{name} {v}")))
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The run options of one side: the shared workload and overrides with that
/// side's endpoint.
fn side_options(opts: &AbOptions, endpoint: &str) -> RunOptions {
    RunOptions {
        workload: opts.workload.clone(),
        overrides: Overrides {
            endpoint: Some(endpoint.to_owned()),
            ..opts.overrides.clone()
        },
        out: PathBuf::new(),
        progress: ProgressMode::Off,
        stop: opts.stop.clone(),
        env: opts.env.clone(),
        repeat: 1,
    }
}

fn gate_options(opts: &AbOptions) -> super::GateOptions {
    let (_, cand) = bundle_paths(&opts.report_dir);
    super::GateOptions {
        bundle: cand,
        gate: opts.gate.clone(),
        baseline_dir: opts.report_dir.clone(),
        baseline_ref: None,
        waivers: opts.waivers.clone(),
        junit: Some(opts.report_dir.join("junit.xml")),
        markdown: Some(opts.report_dir.join("report.md")),
        json: Some(opts.report_dir.join("verdict.json")),
        template: None,
        now: SystemTime::now(),
        inconclusive: opts.inconclusive,
        allow_imported: false,
    }
}

/// Why the throughputs of an A/B bundle say nothing about its side: the
/// balanced schedule gives both sides the same number of requests in the
/// same window, whatever each server's speed, so a slower side shows in its
/// latencies, not its throughput.
const SHARED_THROUGHPUT: &str = "interleaved A/B run: both sides completed the same number of requests in one shared window, so this bundle's output tok/s and req/s (per window) are equal to the other side's by design; the A/B gate compares throughput as tokens per second of request time (Σtokens / ΣE2E, Little's law), which does show a slower side";

fn recorder_for(plan: &Plan) -> Recorder {
    let expected = plan.total_requests().unwrap_or(4096) as usize;
    Recorder::new(plan.slo, plan.pricing.clone(), plan.max_tokens, expected)
}

/// One interleaved run against both sides: a recorder per side, one driver
/// schedule, one client probe for the shared window. Server telemetry is not
/// scraped (two servers, one window: not yet).
async fn measure_pair(
    a: &Target,
    b: &Target,
    opts: &AbOptions,
) -> anyhow::Result<(Bundle, Bundle)> {
    let plan = a.plan.clone();
    let (tx_a, rx_a) = mpsc::channel(1024);
    let (tx_b, rx_b) = mpsc::channel(1024);
    let record = |plan: &Plan, mut rx: mpsc::Receiver<crate::client::RequestRecord>| {
        let mut recorder = recorder_for(plan);
        tokio::spawn(async move {
            while let Some(rec) = rx.recv().await {
                recorder.record(&rec);
            }
            recorder
        })
    };
    let (task_a, task_b) = (record(&a.plan, rx_a), record(&b.plan, rx_b));

    let progress_state = Arc::new(Progress::default());
    let host_start = crate::runinfo::host_sample();
    let started_wall = SystemTime::now();
    let cpu_before = crate::runinfo::process_cpu();
    let epoch = Instant::now();
    // The progress counts both sides' requests: twice the plan's count.
    let display = match opts.progress {
        ProgressMode::Auto => {
            let mut shown = (*plan).clone();
            if let StopAfter::Requests(n) = shown.stop {
                shown.stop = StopAfter::Requests(n.saturating_mul(2));
            }
            Some(progress::spawn(
                &shown,
                progress_state.clone(),
                opts.stop.clone(),
            ))
        }
        ProgressMode::Off => None,
    };
    let events = Arc::new(RunEvents::default());
    let probe = crate::runinfo::ClientProbe::spawn({
        let events = events.clone();
        async move { events.measuring.notified().await }
    });
    let summary = driver::run_interleaved(
        plan.clone(),
        [
            Side {
                client: a.client.clone(),
                tx: tx_a,
            },
            Side {
                client: b.client.clone(),
                tx: tx_b,
            },
        ],
        epoch,
        opts.stop.clone(),
        progress_state,
        events,
    )
    .await;
    let probe_reading = probe.finish().await;
    let host_end = crate::runinfo::host_sample();
    let rec_a = task_a
        .await
        .context("the baseline's recorder task failed")?;
    let rec_b = task_b
        .await
        .context("the candidate's recorder task failed")?;
    if let Some(d) = display {
        d.finish().await;
    }
    let cpu_after = crate::runinfo::process_cpu();
    let window = RunWindow {
        started_wall,
        ended_wall: SystemTime::now(),
        cpu: (
            cpu_after.0.saturating_sub(cpu_before.0),
            cpu_after.1.saturating_sub(cpu_before.1),
        ),
        host_start: &host_start,
        host_end: &host_end,
        probe: probe_reading.as_ref(),
        summary: &summary,
    };
    let side = |t: &Target, rec: Recorder, side: AbSide, other: &Target| {
        let (mut bundle, lengths, schedule) =
            finish_bundle(&t.plan, rec.finish(), &window, &*opts.env);
        if let Some(w) = &t.preflight_warning {
            bundle.context.warnings.push(w.clone());
        }
        bundle.context.ab = Some(AbPair {
            side,
            other_endpoint: other.plan.endpoint.display(),
            order_seed: plan.seed,
        });
        bundle.context.warnings.push(SHARED_THROUGHPUT.to_owned());
        record_validity(&t.plan, &mut bundle, &lengths, &schedule);
        bundle
    };
    let base = side(a, rec_a, AbSide::Baseline, b);
    let cand = side(b, rec_b, AbSide::Candidate, a);
    Ok((base, cand))
}

/// The candidate against the baseline of the same window, paired.
fn judge(
    gate: &crate::gate::GateFile,
    waivers: &[crate::gate::Waiver],
    (base, base_path): (&Bundle, &Path),
    (cand, cand_path): (&Bundle, &Path),
) -> anyhow::Result<GateReport> {
    let endpoint_change = (base.context.endpoint != cand.context.endpoint).then(|| KeyChange {
        field: "endpoint".into(),
        baseline: base.context.endpoint.clone(),
        candidate: cand.context.endpoint.clone(),
    });
    let comparison = Comparison {
        candidate: cand,
        candidate_digest: digest_of_file(cand_path)?,
        baseline_runs: vec![base],
        baseline_desc: BaselineDesc {
            location: base_path.display().to_string(),
            git_ref: None,
            commit: None,
            key: Some(base.key.clone()),
            run_digests: vec![digest_of_file(base_path)?],
        },
        skip_reason: None,
        change_under_test: endpoint_change.into_iter().collect(),
        warnings: Vec::new(),
        design: Design::Paired,
        calibration: None,
    };
    Ok(evaluate(
        gate,
        &comparison,
        waivers,
        Date::of(SystemTime::now()),
    ))
}
