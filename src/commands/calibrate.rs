//! `tokengate calibrate WORKLOAD --runs N`: N A/A runs of one workload
//! against one unchanged endpoint (a `--repeat N` series), then, per gate
//! metric, the between-run variance τ² of the log run statistic
//! (`stats::between_run_variance` over the per-run statistics of
//! `gate::run_stats`), written as `calibration.json` into the baseline set
//! directory of the runs' key (or `--out`). The gate takes τ² from there
//! when the runs it compares cannot tell it (one baseline run, one
//! candidate run).
//!
//! Nothing is written unless every run was complete and valid: an
//! interrupted or invalid series measures something other than the setup's
//! noise. The file is written atomically (`fsutil::write_atomic`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Context as _, bail};

use super::outcome::{CommandOptions, Outcome, Status};
use super::run::{MAX_REPEAT, RunOptions, measure_workload};
use crate::baseline::{
    CALIBRATION_FILE, CALIBRATION_SCHEMA_VERSION, Calibration, MetricNoise, set_dir_for,
};
use crate::bundle::Bundle;
use crate::driver::StopSignal;
use crate::fsutil::write_atomic;
use crate::gate::{Metric, Policy, run_stats};
use crate::stats::{BootstrapConfig, RunStat, between_run_variance};

/// The gate metrics a calibration measures: every statistic of a
/// per-request distribution a gate file commonly names, and the three
/// throughputs. Rates (error rate, goodput) have exact binomial tests and
/// no run statistic.
pub const CALIBRATED_METRICS: &[&str] = &[
    "ttft.p50",
    "ttft.p90",
    "ttft.p95",
    "ttft.p99",
    "ttft.mean",
    "ttfb.p50",
    "ttfb.p95",
    "ttfb.mean",
    "itl.p50",
    "itl.p95",
    "itl.p99",
    "itl.mean",
    "tpot.p50",
    "tpot.p95",
    "tpot.p99",
    "tpot.mean",
    "e2e.p50",
    "e2e.p95",
    "e2e.p99",
    "e2e.mean",
    "decode_tokens_per_s.p50",
    "decode_tokens_per_s.mean",
    "output_tokens_per_s",
    "input_tokens_per_s",
    "requests_per_s",
];

pub struct CalibrateOptions {
    /// The workload and how to run it; `repeat` is the number of A/A runs.
    pub run: RunOptions,
    /// Baselines directory: the file goes into the runs' set directory.
    pub baseline_dir: PathBuf,
    /// Write the calibration here instead.
    pub out: Option<PathBuf>,
}

impl CommandOptions for CalibrateOptions {
    fn stop_signal(&self) -> Option<Arc<StopSignal>> {
        Some(self.run.stop.clone())
    }
}

/// The number of A/A runs, checked at the edge and again here.
pub fn check_runs(runs: u32) -> anyhow::Result<()> {
    if runs < 2 {
        bail!("--runs {runs}: calibrate needs at least 2 runs to measure run-to-run noise");
    }
    if runs > MAX_REPEAT {
        bail!("--runs {runs}: calibrate measures at most {MAX_REPEAT} runs");
    }
    Ok(())
}

/// `tokengate calibrate`: measure, estimate, write; the table of the noise
/// per metric on stdout. Exit 130 (nothing written) when interrupted.
pub async fn run(opts: CalibrateOptions) -> anyhow::Result<Outcome> {
    check_runs(opts.run.repeat)?;
    let workload = opts.run.workload.clone();
    let measured = measure_workload(opts.run).await?;
    let bundle = &measured.bundle;
    let mut out = Outcome::default();
    if !bundle.context.complete {
        out.notes.push(format!(
            "calibration of {} interrupted ({}); nothing written",
            workload.display(),
            bundle
                .context
                .incomplete_reason
                .as_deref()
                .unwrap_or("no reason recorded")
        ));
        out.status = Status::Interrupted;
        return Ok(out);
    }
    if !bundle.context.validity.is_valid() {
        let problems: Vec<String> = bundle
            .context
            .validity
            .problems
            .iter()
            .map(|p| format!("{} ({}; to fix: {})", p.message, p.kind, p.advice))
            .collect();
        bail!(
            "the A/A runs of {} are invalid, so they do not measure this setup's noise; nothing written: {}",
            workload.display(),
            problems.join("; ")
        );
    }
    let calibration = estimate(bundle, &Policy::default(), SystemTime::now())?;
    let path = match &opts.out {
        Some(p) => p.clone(),
        None => opts
            .baseline_dir
            .join(set_dir_for(bundle))
            .join(CALIBRATION_FILE),
    };
    write_atomic(&path, &calibration.to_bytes())
        .with_context(|| format!("cannot write the calibration {}", path.display()))?;
    out.stdout.push_str(&render_table(&calibration));
    out.line(&format!("calibration: {}", path.display()));
    out.files.push(path);
    Ok(out)
}

/// The calibration of a repeated bundle (≥ 2 runs): per metric of
/// [`CALIBRATED_METRICS`] whose every run has a statistic, τ² with its
/// degrees of freedom. The bootstrap settings are the gate's defaults, so
/// the within-run variances are those the gate computes.
pub fn estimate(bundle: &Bundle, policy: &Policy, now: SystemTime) -> anyhow::Result<Calibration> {
    let runs = crate::gate::run_count(bundle);
    if runs < 2 {
        bail!(
            "calibrate needs at least 2 runs to measure run-to-run noise; the bundle holds {runs}"
        );
    }
    let cfg = BootstrapConfig {
        resamples: policy.bootstrap_resamples,
        level: policy.confidence,
        seed: policy.seed,
    };
    let mut metrics = BTreeMap::new();
    for name in CALIBRATED_METRICS {
        let metric: Metric = name
            .parse()
            .map_err(|e: String| anyhow::anyhow!("calibrated metric `{name}`: {e}"))?;
        let per_run: Option<Vec<RunStat>> = run_stats(bundle, metric, &cfg).into_iter().collect();
        let Some(per_run) = per_run else { continue };
        if let Some(b) = between_run_variance(&[per_run.as_slice()]) {
            metrics.insert(
                (*name).to_owned(),
                MetricNoise {
                    tau2: b.tau2,
                    df: b.df,
                    within: b.within,
                    // CV of a log-normal run effect: √(exp(τ²) − 1)
                    // (Johnson, Kotz & Balakrishnan 1994, *Continuous
                    // Univariate Distributions* vol. 1, §14.3).
                    cv: (b.tau2.exp() - 1.0).max(0.0).sqrt(),
                },
            );
        }
    }
    if metrics.is_empty() {
        bail!(
            "the {runs} A/A runs gave no metric a run statistic (too few successful requests?); nothing written"
        );
    }
    let c = &bundle.context;
    Ok(Calibration {
        schema_version: CALIBRATION_SCHEMA_VERSION,
        key: bundle.key.clone(),
        workload_name: c.workload_name.clone(),
        workload_digest: c.workload_digest.clone(),
        api: c.api.clone(),
        metrics_version: bundle.metrics_version,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        created_at: crate::timefmt::rfc3339(now),
        // `context.endpoint` is already without credentials.
        endpoint: c.endpoint.clone(),
        runs: u32::try_from(runs).unwrap_or(u32::MAX),
        metrics,
    })
}

/// The noise per metric: metric, between-run CV, degrees of freedom.
pub fn render_table(c: &Calibration) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "calibration of {} ({} A/A runs, {})",
        c.workload_name, c.runs, c.key.hardware_profile
    );
    let _ = writeln!(s, "  {:<26} {:>15} {:>4}", "metric", "between-run CV", "df");
    for (name, m) in &c.metrics {
        let _ = writeln!(s, "  {name:<26} {:>13.1} % {:>4}", m.cv * 100.0, m.df);
    }
    s
}
