//! `tokengate soak`: one long run at one load level (the workload's), with
//! the client's own memory sampled every interval while it runs; afterwards
//! the bundle gets its soak section (per-interval snapshots and trends, see
//! [`crate::soak`]) and it is written once.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::sync::oneshot;

use super::outcome::{CommandOptions, Outcome, Status};
use super::run::{RunOptions, measure_workload};
use crate::bundle::{Bundle, write_bundle};
use crate::wording;
use crate::workload::WorkloadFile;

/// Shortest snapshot interval.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Most snapshots a soak may have: bounds the bundle (a snapshot is about
/// 400 bytes of JSON) and the O(n²) trend test.
pub const MAX_SNAPSHOTS: u64 = 10_000;

pub struct SoakOptions {
    /// The run. Its overrides decide the duration (`--duration`); without
    /// one, the workload must be in duration mode.
    pub run: RunOptions,
    /// Length of one snapshot.
    pub interval: Duration,
    /// Where `soak.html`, `soak.md` and the SVG charts are written (`None`:
    /// no reports).
    pub report_dir: Option<PathBuf>,
}

/// A soak's bundle (with its soak section) and the files written.
pub struct SoakOutcome {
    pub bundle: Bundle,
    /// Where the bundle was written.
    pub path: PathBuf,
    /// Report files written (charts, then `soak.html`, `soak.md`).
    pub reports: Vec<PathBuf>,
}

impl CommandOptions for SoakOptions {
    fn stop_signal(&self) -> Option<Arc<crate::driver::StopSignal>> {
        Some(self.run.stop.clone())
    }
}

/// `tokengate soak`: the run summary, the per-interval table and the trend
/// notes; exit 0 (drift is reported, not gated), 130 when interrupted (the
/// bundle is written, marked incomplete).
pub async fn run(opts: SoakOptions) -> anyhow::Result<Outcome> {
    let soak = soak_workload(opts).await?;
    let mut out = Outcome::default();
    out.stdout
        .push_str(&super::summary::render_summary(&soak.bundle, &soak.path));
    if let Some(section) = &soak.bundle.soak {
        out.stdout.push_str(&crate::soak::render_soak_text(section));
    }
    for p in soak
        .reports
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e != "svg"))
    {
        out.line(&format!("report: {}", p.display()));
    }
    out.files.push(soak.path.clone());
    out.files.extend(soak.reports);
    if !soak.bundle.context.complete {
        out.notes.push(format!(
            "the soak was interrupted; the bundle {} is marked incomplete",
            soak.path.display()
        ));
        out.status = Status::Interrupted;
    }
    Ok(out)
}

/// Run a soak: validate the interval against the duration, run the workload
/// while sampling the client's resident memory every interval, then add the
/// soak section to the bundle and write it once (atomically). Errors are
/// tool/configuration errors (exit 2).
pub async fn soak_workload(opts: SoakOptions) -> anyhow::Result<SoakOutcome> {
    let SoakOptions {
        mut run,
        interval,
        report_dir,
    } = opts;
    if interval < MIN_INTERVAL {
        bail!(
            "--interval {}: a soak interval must be at least {}",
            wording::duration(interval),
            wording::duration(MIN_INTERVAL)
        );
    }
    let duration = soak_duration(&run)?;
    if interval > duration {
        bail!(
            "--interval {} is longer than the soak's duration {}: choose an interval of at most the duration",
            wording::duration(interval),
            wording::duration(duration)
        );
    }
    let snapshots = (duration.as_secs_f64() / interval.as_secs_f64()).floor() as u64;
    if snapshots > MAX_SNAPSHOTS {
        bail!(
            "--interval {} over a {} soak gives {snapshots} snapshots, more than {MAX_SNAPSHOTS}: choose a longer --interval",
            wording::duration(interval),
            wording::duration(duration)
        );
    }
    run.overrides.duration = Some(duration);

    // The client's memory, every interval, while the run lasts. Bounded: the
    // task ends when told (right after the run, success or not), and the
    // run itself is bounded by its duration.
    let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
    let sampler = tokio::spawn(async move {
        let mut samples: Vec<(Instant, f64)> = Vec::new();
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Some(mib) = client_rss_mib() {
                        samples.push((Instant::now(), mib));
                    }
                }
                _ = &mut stop_rx => break,
            }
        }
        samples
    });
    let result = measure_workload(run).await;
    let returned = Instant::now();
    let _ = stop_tx.send(());
    let mut samples = sampler.await.unwrap_or_default();
    let mut outcome = result?;
    if let Some(mib) = client_rss_mib() {
        samples.push((returned, mib));
    }

    // Sample times relative to the opening of the measurement window. The
    // window's instant is not visible from here, so it is placed by its end:
    // `measure_workload` returns just after the last request finished (a closing
    // scrape and the bundle write later), so the window opened about
    // `window_s` before that. The error — that tail, milliseconds to a
    // fraction of a second — is well under the half interval within which a
    // snapshot looks for its memory sample.
    let window = Duration::from_secs_f64(outcome.bundle.context.window_s.max(0.0));
    let client_rss: Vec<(f64, f64)> = samples
        .iter()
        .map(|&(at, mib)| {
            let to_end = returned.saturating_duration_since(at).as_secs_f64();
            (window.as_secs_f64() - to_end, mib)
        })
        .collect();

    outcome.bundle.soak = Some(crate::soak::soak_section(
        &outcome.bundle,
        interval,
        &client_rss,
    ));
    write_bundle(&outcome.bundle, &outcome.path)
        .with_context(|| format!("cannot write the soak bundle {}", outcome.path.display()))?;
    let reports = match report_dir {
        Some(dir) => {
            let b = &outcome.bundle;
            let html = crate::report::soak_html(b).context("cannot render the soak report")?;
            super::chart_files::write_chart_reports(
                &dir,
                "soak",
                &crate::report::soak_charts(b),
                &html,
                &crate::report::soak_markdown(b, "soak.html"),
            )?
        }
        None => Vec::new(),
    };
    Ok(SoakOutcome {
        bundle: outcome.bundle,
        path: outcome.path,
        reports,
    })
}

/// The soak's duration: `--duration`, else the workload's `duration:`.
/// Count mode (`--requests`, `requests:`) is refused: a soak is about time.
fn soak_duration(run: &RunOptions) -> anyhow::Result<Duration> {
    if run.overrides.requests.is_some() {
        bail!(
            "--requests runs a fixed number of requests, but a soak runs for a time: give --duration (e.g. --duration 2h) instead"
        );
    }
    if let Some(d) = run.overrides.duration {
        return Ok(d);
    }
    let file: WorkloadFile = crate::yaml::read_yaml(&run.workload)?;
    match (file.duration, file.requests) {
        (Some(d), None) if !d.0.is_zero() => Ok(d.0),
        (_, Some(_)) => bail!(
            "{}: the workload stops after `requests` (count mode), but a soak runs for a time: give --duration (e.g. --duration 2h) or set `duration:` in the workload",
            display(&run.workload)
        ),
        _ => bail!(
            "{}: the workload sets no `duration`: give --duration (e.g. --duration 2h)",
            display(&run.workload)
        ),
    }
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

/// This process's resident memory, MiB; `None` off Linux.
fn client_rss_mib() -> Option<f64> {
    crate::runinfo::resident_memory_bytes().map(|b| b as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn the_client_reads_its_own_memory() {
        let mib = client_rss_mib().expect("VmRSS on Linux");
        assert!(mib > 1.0, "{mib}");
    }
}
