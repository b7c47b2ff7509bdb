//! `tokengate sweep`: run the workload at one load level after another
//! (each a full `run`: warm-up, fixed count or duration, its own bundle),
//! judge each level against an optional SLO gate, analyse the curve and
//! write one sweep bundle: the headline level's bundle with the `sweep`
//! section (every level's bundle, the curve, the bends, the knee, the safe
//! operating point).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, bail};

use super::outcome::{CommandOptions, Outcome, Status};
use super::run::{RunOptions, run_workload};
use crate::bundle::{Bundle, SweepPoint, SweepRules, SweepSection, hex_sha256, write_bundle};
use crate::gate::{
    BaselineDesc, Comparison, Date, GateFile, Severity, Verdict, evaluate, load_gate_file,
};
use crate::report::{sweep_charts, sweep_html, sweep_markdown};
use crate::sweep::{PlanConfig, Planner, Strategy, analyze, fmt_num, point_of};
use crate::workload::{LoadPlan, load_plan};

/// Called after each level with its point and the load unit (`users` or
/// `req/s`), for progress lines (`main` prints
/// [`super::summary::render_sweep_level`] of it as the sweep goes).
pub type LevelObserver = Arc<dyn Fn(&SweepPoint, &str) + Send + Sync>;

pub struct SweepOptions {
    /// The workload, base overrides (count, duration, seed, meta, endpoint),
    /// where the sweep bundle goes, progress, stop signal, environment.
    pub run: RunOptions,
    /// `None`: automatic doubling from 1 (users or req/s) up to `max_load`.
    pub levels: Option<Vec<f64>>,
    pub start: Option<f64>,
    pub max_load: f64,
    /// Thresholds; a NaN `resolution` means the mode's default (1 user in
    /// closed loop, a quarter of the first level in open loop).
    pub rules: SweepRules,
    /// SLO gate file: a level that fails one of its absolute rules stops
    /// stepping up.
    pub slo_gate: Option<PathBuf>,
    pub confirm_safe: bool,
    pub max_levels: usize,
    /// Do not start another level once this much time has passed.
    pub time_budget: Option<Duration>,
    /// Where each level's own bundle is written.
    pub levels_dir: PathBuf,
    /// Where `sweep.html`, `sweep.md` and the SVG charts are written
    /// (`None`: no reports).
    pub report_dir: Option<PathBuf>,
    pub on_level: Option<LevelObserver>,
}

pub struct SweepOutcome {
    pub bundle: Bundle,
    pub path: PathBuf,
    /// Report files written (HTML, Markdown, charts).
    pub reports: Vec<PathBuf>,
    /// Each measured level's own bundle, in the order measured.
    pub level_bundles: Vec<PathBuf>,
    /// The sweep was interrupted (SIGINT/SIGTERM): exit 130.
    pub interrupted: bool,
}

impl CommandOptions for SweepOptions {
    fn stop_signal(&self) -> Option<Arc<crate::driver::StopSignal>> {
        Some(self.run.stop.clone())
    }
}

/// `tokengate sweep`: the level lines go out through `on_level` as the
/// sweep goes; the outcome has the knee, the safe operating point and the
/// report files. Exit 130 when interrupted (the sweep bundle is written).
pub async fn run(opts: SweepOptions) -> anyhow::Result<Outcome> {
    let sweep = sweep_workload(opts).await?;
    let mut out = Outcome::new(if sweep.interrupted {
        Status::Interrupted
    } else {
        Status::Pass
    });
    out.stdout.push_str(&super::summary::render_sweep_summary(
        &sweep.bundle,
        &sweep.path,
    ));
    // The charts are embedded in both pages; listing them adds noise.
    for p in sweep
        .reports
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e != "svg"))
    {
        out.line(&format!("report: {}", p.display()));
    }
    out.files.extend(sweep.level_bundles);
    out.files.push(sweep.path);
    out.files.extend(sweep.reports);
    Ok(out)
}

/// Run a sweep and write its bundle. Errors are tool/configuration errors
/// (exit 2); request failures are data inside the level bundles.
pub async fn sweep_workload(opts: SweepOptions) -> anyhow::Result<SweepOutcome> {
    let env = opts.run.env.clone();
    let base = load_plan(&opts.run.workload, &opts.run.overrides, &|k| env(k))?;
    let closed_loop = matches!(base.load, LoadPlan::Closed { .. });
    let mut opts = opts;
    if opts.rules.resolution.is_nan() {
        let first = opts
            .levels
            .as_ref()
            .and_then(|l| l.iter().copied().reduce(f64::min))
            .or(opts.start)
            .unwrap_or(1.0);
        opts.rules.resolution = if closed_loop { 1.0 } else { 0.25 * first };
    }
    validate(&opts, closed_loop)?;
    let slo: Option<GateFile> = match &opts.slo_gate {
        Some(p) => Some(load_gate_file(p)?),
        None => None,
    };
    let strategy = match &opts.levels {
        Some(l) => {
            let mut l = l.clone();
            l.sort_by(f64::total_cmp);
            l.dedup();
            Strategy::List(l)
        }
        None => Strategy::Auto {
            start: opts.start.unwrap_or(1.0),
            max: opts.max_load,
        },
    };
    let mut planner = Planner::new(PlanConfig {
        strategy: strategy.clone(),
        closed_loop,
        error_ceiling: opts.rules.error_ceiling,
        min_throughput_gain: opts.rules.min_throughput_gain,
        resolution: opts.rules.resolution,
        confirm_safe: opts.confirm_safe,
        max_levels: opts.max_levels,
    });
    std::fs::create_dir_all(&opts.levels_dir)
        .with_context(|| format!("cannot create {}", opts.levels_dir.display()))?;
    clear_old_levels(&opts.levels_dir)?;

    let started = Instant::now();
    let mut levels: Vec<(f64, Bundle)> = Vec::new();
    let mut points: Vec<SweepPoint> = Vec::new();
    let mut next = Some(planner.first());
    let mut interrupted = false;
    let mut level_error: Option<String> = None;
    let mut level_bundles = Vec::new();
    // Recomputed as each level lands; after the loop it is the final one.
    let mut analysis = analyze(&points, &opts.rules, closed_loop);
    while let Some(load) = next {
        let mut overrides = opts.run.overrides.clone();
        if closed_loop {
            overrides.concurrency = Some(load as u32);
            overrides.rate = None;
        } else {
            overrides.rate = Some(load);
            overrides.concurrency = None;
        }
        let out = opts
            .levels_dir
            .join(format!("level-{}.json", fmt_num(load)));
        let result = run_workload(RunOptions {
            workload: opts.run.workload.clone(),
            overrides,
            out: out.clone(),
            progress: opts.run.progress,
            stop: opts.run.stop.clone(),
            env: env.clone(),
            repeat: 1,
        })
        .await
        .with_context(|| format!("level {} of the sweep", fmt_num(load)));
        let outcome = match result {
            Ok(o) => o,
            // Nothing measured yet: a configuration or endpoint problem.
            Err(e) if levels.is_empty() => return Err(e),
            // Keep what was measured: the sweep bundle is still written and
            // says why it ended.
            Err(e) => {
                planner.abort(&format!("{e:#}"));
                level_error = Some(format!("{e:#}"));
                break;
            }
        };
        level_bundles.push(out);
        let mut point = point_of(&outcome.bundle, load);
        if let Some(gate) = &slo {
            point.slo_broken = slo_broken(gate, &outcome.bundle);
            point.slo_met = Some(point.slo_broken.is_empty());
        }
        levels.push((load, outcome.bundle));
        points.push(point.clone());
        points.sort_by(|a, b| a.load.total_cmp(&b.load));
        analysis = analyze(&points, &opts.rules, closed_loop);
        if let Some(observe) = &opts.on_level {
            observe(&point, if closed_loop { "users" } else { "req/s" });
        }
        if opts.run.stop.is_stopped() {
            interrupted = true;
            planner.abort("interrupted");
            break;
        }
        next = planner.next(&point, &points, &analysis);
        if next.is_some()
            && let Some(budget) = opts.time_budget
            && started.elapsed() >= budget
        {
            planner.abort(&format!(
                "the time budget ({} s) was spent",
                budget.as_secs()
            ));
            next = None;
        }
    }

    levels.sort_by(|a, b| a.0.total_cmp(&b.0));
    let headline_load = analysis
        .safe
        .as_ref()
        .map(|s| s.headline_load)
        .or_else(|| points.first().map(|p| p.load))
        .context("the sweep measured no level")?;
    let mut headline = levels
        .iter()
        .find(|(l, _)| *l == headline_load)
        .map(|(_, b)| b.clone())
        .context("the headline level has no bundle")?;
    headline.context.workload_name = format!("{}-sweep", headline.context.workload_name);
    headline.context.workload_digest = sweep_digest(&levels, &strategy, &opts.rules, closed_loop);
    if interrupted {
        headline.context.complete = false;
        headline.context.incomplete_reason = Some(
            opts.run
                .stop
                .reason()
                .unwrap_or_else(|| "interrupted".to_owned()),
        );
    }
    if let Some(e) = level_error {
        headline
            .context
            .warnings
            .push(format!("the sweep ended early: {e}"));
    }
    let saturated: Vec<String> = points
        .iter()
        .filter(|p| p.client_saturated)
        .map(|p| fmt_num(p.load))
        .collect();
    if !saturated.is_empty() {
        headline.context.warnings.push(format!(
            "the client was saturated at level(s) {}: those points are suspect",
            saturated.join(", ")
        ));
    }
    headline.context.ended_at = crate::timefmt::rfc3339(SystemTime::now());
    if let Some((_, first)) = levels.first() {
        headline.context.started_at = first.context.started_at.clone();
    }
    headline.sweep = Some(Box::new(SweepSection {
        mode: if closed_loop { "closed" } else { "open" }.to_owned(),
        load_unit: if closed_loop { "concurrency" } else { "req/s" }.to_owned(),
        strategy: match strategy {
            Strategy::List(_) => "list",
            Strategy::Auto { .. } => "auto",
        }
        .to_owned(),
        stop_reason: planner.stop_reason(),
        rules: SweepRules {
            slo_gate: opts.slo_gate.as_ref().map(|p| p.display().to_string()),
            ..opts.rules.clone()
        },
        curve: points,
        signals: analysis.signals,
        knee: analysis.knee,
        safe: analysis.safe,
        levels: levels.into_iter().map(|(_, b)| b).collect(),
    }));
    write_bundle(&headline, &opts.run.out)?;
    let reports = match &opts.report_dir {
        Some(dir) => write_reports(&headline, dir)?,
        None => Vec::new(),
    };
    Ok(SweepOutcome {
        bundle: headline,
        path: opts.run.out.clone(),
        reports,
        level_bundles,
        interrupted,
    })
}

/// `sweep.html` (charts inline), the charts as SVG files and `sweep.md`,
/// which links to the HTML and embeds the SVG files by relative path.
fn write_reports(bundle: &Bundle, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let html = sweep_html(bundle).context("cannot render the sweep report")?;
    super::chart_files::write_chart_reports(
        dir,
        "sweep",
        &sweep_charts(bundle),
        &html,
        &sweep_markdown(bundle, "sweep.html"),
    )
}

fn validate(opts: &SweepOptions, closed_loop: bool) -> anyhow::Result<()> {
    let r = &opts.rules;
    let loads: Vec<f64> = opts
        .levels
        .iter()
        .flatten()
        .copied()
        .chain(opts.start)
        .chain(std::iter::once(opts.max_load))
        .collect();
    for l in loads {
        if !(l.is_finite() && l > 0.0) {
            bail!("sweep level {l}: expected a positive number");
        }
        if closed_loop && (l.fract() != 0.0 || l > 100_000.0) {
            bail!(
                "sweep level {l}: the workload is closed-loop, so levels are whole numbers of concurrent users (1 to 100000)"
            );
        }
    }
    if matches!(&opts.levels, Some(l) if l.is_empty()) {
        bail!("--levels: expected at least one level");
    }
    if !(r.safe_share > 0.0 && r.safe_share <= 1.0) {
        bail!(
            "--safe-share {}: expected a share in (0, 1], e.g. 70%",
            r.safe_share
        );
    }
    if !(r.min_prominence.is_finite() && (0.0..1.0).contains(&r.min_prominence)) {
        bail!(
            "--min-prominence {}: expected a number in [0, 1)",
            r.min_prominence
        );
    }
    if !(r.resolution.is_finite() && r.resolution > 0.0) {
        bail!("--resolution {}: expected a positive load", r.resolution);
    }
    if opts.max_levels < 1 {
        bail!("--max-levels: expected at least 1");
    }
    Ok(())
}

/// Names of the SLO gate's fail-severity rules this level's bundle broke.
/// Only absolute rules apply: a level has no baseline.
fn slo_broken(gate: &GateFile, bundle: &Bundle) -> Vec<String> {
    let cmp = Comparison {
        candidate: bundle,
        candidate_digest: String::new(),
        baseline_runs: Vec::new(),
        baseline_desc: BaselineDesc {
            location: String::new(),
            git_ref: None,
            commit: None,
            key: None,
            run_digests: Vec::new(),
        },
        skip_reason: Some("a sweep level is judged by absolute rules only".to_owned()),
        change_under_test: Vec::new(),
        warnings: Vec::new(),
        design: crate::gate::Design::Sequential,
        calibration: None,
    };
    let report = evaluate(gate, &cmp, &[], Date::of(SystemTime::now()));
    report
        .rules
        .iter()
        .filter(|r| r.verdict == Verdict::Fail && r.severity == Severity::Fail)
        .map(|r| r.name.clone())
        .collect()
}

/// What must match for two sweeps to be comparable: the first level's
/// workload digest (prompts, sampling, counts, warm-up, streaming — with
/// that level's load), the level strategy and the rules. Not the levels
/// the planner chose: those are results.
fn sweep_digest(
    levels: &[(f64, Bundle)],
    strategy: &Strategy,
    rules: &SweepRules,
    closed_loop: bool,
) -> String {
    let first = levels
        .first()
        .map(|(_, b)| b.context.workload_digest.as_str())
        .unwrap_or_default();
    let strategy = match strategy {
        Strategy::List(l) => format!("list:{l:?}"),
        Strategy::Auto { start, max } => format!("auto:{start}:{max}"),
    };
    // Every threshold counts, new ones included; the SLO gate's path does
    // not (it names a file, which may live elsewhere on another runner).
    let rules = SweepRules {
        slo_gate: None,
        ..rules.clone()
    };
    let text = serde_json::json!({
        "sweep": 1,
        "first_level": first,
        "strategy": strategy,
        "closed_loop": closed_loop,
        "rules": rules,
    })
    .to_string();
    hex_sha256(text.as_bytes())
}

/// Remove the level bundles of an earlier sweep from `dir` before this one
/// writes its own: an interrupted sweep over an older report directory must
/// not leave old and new `levels/` mixed. Only files this command names
/// (`level-*.json`) are removed; anything else in the directory is kept.
fn clear_old_levels(dir: &Path) -> anyhow::Result<()> {
    let rd = std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for e in rd {
        let e = e.with_context(|| format!("cannot read {}", dir.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let ours = name.starts_with("level-") && name.ends_with(".json");
        if ours && e.file_type().is_ok_and(|t| t.is_file()) {
            std::fs::remove_file(e.path()).with_context(|| {
                format!("cannot remove the old level bundle {}", e.path().display())
            })?;
        }
    }
    crate::fsutil::remove_stale_temps(dir);
    Ok(())
}
