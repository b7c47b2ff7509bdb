//! `tokengate gate`: bundle + baseline resolution + gate file →
//! `GateReport` → JUnit, Markdown and JSON files, the verdict on stdout,
//! publishing to the CI platform, and the verdict as the exit status.
//! `report` and `check` judge through the same [`judge_and_show`].

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context as _;

use super::outcome::{CommandOptions, Outcome, Status};
use super::publish::{PublishFlags, publish_into};
use super::run::EnvLookup;
use crate::baseline::{
    BaselineError, BaselineSource, ComparePolicy, DEFAULT_KEEP, FieldDiff, Loaded, Resolution,
    resolve_loaded,
};
use crate::bundle::{Bundle, digest_of_file, read_bundle};
use crate::fsutil::write_atomic;
use crate::gate::{
    BaselineDesc, Comparison, Date, GateFile, GateReport, InconclusivePolicy, KeyChange, Waiver,
    evaluate, load_gate_file, load_waivers,
};
use crate::report::{JsonRenderer, JunitRenderer, MarkdownRenderer, Renderer};

/// Where the baselines are and which gate applies.
#[derive(Debug, Clone)]
pub struct GateOptions {
    pub bundle: PathBuf,
    pub gate: PathBuf,
    pub baseline_dir: PathBuf,
    /// Read the baselines directory at this git ref (e.g. `origin/main`)
    /// instead of the working tree, so a change cannot lower its own bar.
    pub baseline_ref: Option<String>,
    /// Waivers file; `None` uses `gates/waivers.yaml` beside the gate file
    /// when it exists.
    pub waivers: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    pub markdown: Option<PathBuf>,
    pub json: Option<PathBuf>,
    /// A user Markdown template (minijinja) instead of the built-in one.
    pub template: Option<PathBuf>,
    /// "Today" for waiver expiry and "now" for baseline ages.
    pub now: SystemTime,
    /// Overrides the gate file's `policy.inconclusive` (`--inconclusive`).
    pub inconclusive: Option<InconclusivePolicy>,
    /// `--allow-imported`: compare imported bundles with native ones and
    /// with bundles of other tools (the difference only warns).
    pub allow_imported: bool,
}

/// The gate's result, the bundle it judged and the files written.
pub struct GateOutcome {
    pub report: GateReport,
    /// The candidate bundle as read for the judgement (publishing reuses it).
    pub bundle: Bundle,
    pub written: Vec<PathBuf>,
    /// What the user should know that is not in the report (e.g. that the
    /// target ref has no baselines directory yet).
    pub notes: Vec<String>,
}

/// Where `gate` puts GitLab reports when `GITLAB_CI=true` and no
/// `--gitlab-reports` was given (`check` uses its `--report-dir`).
pub const GATE_REPORT_DIR: &str = "tokengate-out";

/// `tokengate gate`: the gating options plus where and how to publish.
pub struct GateCommandOptions {
    pub gate: GateOptions,
    pub publish: PublishFlags,
    /// The directory GitLab reports default into (`DIR/gitlab`).
    pub report_dir: PathBuf,
    /// Environment lookup (CI facts and tokens for publishing).
    pub env: EnvLookup,
}

impl CommandOptions for GateCommandOptions {}

/// `tokengate gate`: judge, show the verdict, publish; the exit status is
/// the verdict's. Publishing problems are warnings and never change it.
pub async fn run(opts: GateCommandOptions) -> anyhow::Result<Outcome> {
    let mut out = Outcome::default();
    let publish = Publish {
        flags: &opts.publish,
        report_dir: &opts.report_dir,
        env: &opts.env,
    };
    match judge_and_show(&opts.gate, None, Some(publish), &mut out).await {
        Ok(verdict) => out.status = verdict,
        Err(e) => return Ok(out.failed(&e)),
    }
    Ok(out)
}

/// How `gate` and `check` publish a judged bundle.
pub(crate) struct Publish<'a> {
    pub flags: &'a PublishFlags,
    pub report_dir: &'a Path,
    pub env: &'a EnvLookup,
}

/// Judge the bundle, add the verdict and the report files to `out`, and
/// publish when asked; returns the verdict's status. `inputs` are the gate
/// file, waivers and baselines when the caller read them already (`check`,
/// before it measured); `None` reads them. Notes made before a failure stay
/// in `out`.
pub(crate) async fn judge_and_show(
    opts: &GateOptions,
    inputs: Option<GateInputs>,
    publish: Option<Publish<'_>>,
    out: &mut Outcome,
) -> anyhow::Result<Status> {
    let judged = judge(opts, inputs, &mut out.notes)?;
    out.stdout.push_str(&render_verdict_summary(&judged.report));
    for p in &judged.written {
        out.line(&format!("report: {}", p.display()));
        out.files.push(p.clone());
    }
    if let Some(p) = publish {
        publish_into(&judged, opts, p.flags, p.report_dir, p.env, out).await;
    }
    let code = judged.report.exit_code();
    Status::from_code(code)
        .with_context(|| format!("the gate returned the undocumented exit code {code}"))
}

/// Compare a bundle with its baseline under a gate file and write reports.
pub fn gate_bundle(opts: &GateOptions) -> anyhow::Result<GateOutcome> {
    let mut notes = Vec::new();
    let mut judged = judge(opts, None, &mut notes)?;
    judged.notes = notes;
    Ok(judged)
}

/// [`gate_bundle`], with its notes pushed to `notes` as they are made (so a
/// later error does not lose them); the outcome's own `notes` stay empty.
fn judge(
    opts: &GateOptions,
    inputs: Option<GateInputs>,
    notes: &mut Vec<String>,
) -> anyhow::Result<GateOutcome> {
    let bundle = read_bundle(&opts.bundle)?;
    let digest = digest_of_file(&opts.bundle)?;
    let GateInputs {
        gate,
        waivers,
        baselines,
    } = match inputs {
        Some(i) => i,
        None => load_gate_inputs(opts)?,
    };
    let resolution = match baselines {
        Ok(loaded) => Some(
            resolve_loaded(
                &bundle,
                loaded,
                opts.now,
                DEFAULT_KEEP,
                ComparePolicy {
                    allow_imported: opts.allow_imported,
                },
            )
            .context("cannot resolve the baseline")?,
        ),
        // The target branch has no baselines yet (the first change that adds
        // them): every comparison is skipped with that reason, not an error.
        Err(absent) => {
            notes.push(crate::error_chain(&absent));
            None
        }
    };
    let comparison = comparison(&bundle, digest, resolution.as_ref(), opts);
    let report = evaluate(&gate, &comparison, &waivers, Date::of(opts.now));
    let written = write_reports(&report, opts)?;
    Ok(GateOutcome {
        report,
        bundle,
        written,
        notes: Vec::new(),
    })
}

fn baseline_source(opts: &GateOptions) -> BaselineSource {
    match &opts.baseline_ref {
        Some(r) => BaselineSource::GitRef {
            dir: opts.baseline_dir.clone(),
            reference: r.clone(),
        },
        None => BaselineSource::Dir(opts.baseline_dir.clone()),
    }
}

/// What the gate reads besides the bundle, read once.
pub(crate) struct GateInputs {
    /// The gate file, with `--inconclusive` applied.
    gate: GateFile,
    waivers: Vec<Waiver>,
    /// The baselines at their directory or ref; `Err` holds only
    /// [`BaselineError::DirAbsentAtRef`] (no baselines at the target ref
    /// yet: a skip with that note, not an error).
    baselines: Result<Loaded, BaselineError>,
}

/// Read everything the gate will need besides the bundle (the gate file,
/// the waivers, the baselines at their directory or ref) and fail on the
/// first problem. `check` calls it before it sends a request, so a typo in
/// `--baseline-ref` or the gate file costs seconds, not a whole benchmark,
/// and hands the result to [`judge_and_show`] so nothing is read twice.
pub(crate) fn load_gate_inputs(opts: &GateOptions) -> anyhow::Result<GateInputs> {
    let mut gate = load_gate_file(&opts.gate)?;
    if let Some(policy) = opts.inconclusive {
        gate.policy.inconclusive = policy;
    }
    let waivers = load_waiver_file(opts)?;
    let baselines = match crate::baseline::load(&baseline_source(opts)) {
        Ok(l) => Ok(l),
        Err(e @ BaselineError::DirAbsentAtRef { .. }) => Err(e),
        Err(e) => return Err(anyhow::Error::new(e).context("cannot resolve the baseline")),
    };
    Ok(GateInputs {
        gate,
        waivers,
        baselines,
    })
}

pub(super) fn load_waiver_file(opts: &GateOptions) -> anyhow::Result<Vec<Waiver>> {
    let path = match &opts.waivers {
        Some(p) => p.clone(),
        None => {
            let beside = opts
                .gate
                .parent()
                .unwrap_or(Path::new("."))
                .join("waivers.yaml");
            if !beside.exists() {
                return Ok(Vec::new());
            }
            beside
        }
    };
    Ok(load_waivers(&path)?)
}

/// What the gate compares: the candidate, the chosen baseline runs and the
/// set's calibration when it applies (`None` without a resolution: no
/// baselines directory at the ref).
pub fn comparison<'a>(
    bundle: &'a Bundle,
    digest: String,
    res: Option<&'a Resolution>,
    opts: &GateOptions,
) -> Comparison<'a> {
    let change = |d: &FieldDiff| KeyChange {
        field: d
            .field
            .trim_start_matches("key.")
            .trim_start_matches("context.")
            .to_string(),
        baseline: d.baseline.clone(),
        candidate: d.candidate.clone(),
    };
    let Some(res) = res else {
        return Comparison {
            candidate: bundle,
            candidate_digest: digest,
            baseline_runs: Vec::new(),
            baseline_desc: BaselineDesc {
                location: opts.baseline_dir.display().to_string(),
                git_ref: opts.baseline_ref.clone(),
                commit: None,
                key: None,
                run_digests: Vec::new(),
            },
            skip_reason: Some(format!(
                "no baselines directory `{}` at {}",
                opts.baseline_dir.display(),
                opts.baseline_ref.as_deref().unwrap_or("the working tree")
            )),
            change_under_test: Vec::new(),
            warnings: Vec::new(),
            design: crate::gate::Design::Sequential,
            calibration: None,
        };
    };
    let (runs, desc) = match &res.chosen {
        Some(set) => (
            set.runs.iter().map(|r| &r.bundle).collect(),
            BaselineDesc {
                location: set.location.clone(),
                git_ref: opts.baseline_ref.clone(),
                commit: res.git_commit.clone(),
                key: Some(set.key.clone()),
                // Oldest first, as the report documents.
                run_digests: set.runs.iter().rev().map(|r| r.digest.clone()).collect(),
            },
        ),
        None => (
            Vec::new(),
            BaselineDesc {
                location: res.source.clone(),
                git_ref: opts.baseline_ref.clone(),
                commit: res.git_commit.clone(),
                key: None,
                run_digests: Vec::new(),
            },
        ),
    };
    Comparison {
        candidate: bundle,
        candidate_digest: digest,
        baseline_runs: runs,
        baseline_desc: desc,
        skip_reason: res.skip_reason(),
        change_under_test: res.change_under_test.iter().map(change).collect(),
        warnings: res
            .warnings
            .iter()
            .map(|d| {
                format!(
                    "{} differs: baseline {}, candidate {}",
                    d.field, d.baseline, d.candidate
                )
            })
            .chain(res.calibration_refused.clone())
            .collect(),
        design: crate::gate::Design::Sequential,
        // Resolution keeps a set's calibration only when it describes the
        // candidate's setup.
        calibration: res.chosen.as_ref().and_then(|s| s.calibration.as_ref()),
    }
}

pub(super) fn write_reports(
    report: &GateReport,
    opts: &GateOptions,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let markdown = markdown_renderer(opts.template.as_deref())?;
    let outputs: [(&Option<PathBuf>, &dyn Renderer); 3] = [
        (&opts.junit, &JunitRenderer),
        (&opts.markdown, &markdown),
        (&opts.json, &JsonRenderer),
    ];
    for (path, renderer) in outputs {
        if let Some(path) = path {
            let bytes = renderer
                .render(report)
                .with_context(|| format!("cannot render {}", path.display()))?;
            write_atomic(path, &bytes)?;
            written.push(path.clone());
        }
    }
    Ok(written)
}

/// The built-in Markdown renderer, or one from a user template.
pub fn markdown_renderer(template: Option<&Path>) -> anyhow::Result<MarkdownRenderer> {
    Ok(match template {
        Some(t) => MarkdownRenderer::from_template_file(t)
            .with_context(|| format!("cannot load the Markdown template {}", t.display()))?,
        None => MarkdownRenderer::new(),
    })
}

/// One line per rule for the terminal.
pub fn render_verdict_summary(report: &GateReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "gate {}: {} ({} rules)",
        report.gate,
        report.verdict.as_str().to_uppercase(),
        report.rules.len()
    );
    if let Some(headline) = crate::wording::verdict_headline(report.verdict) {
        let _ = writeln!(s, "  {headline}");
    }
    if let Some(reason) = &report.skip_reason {
        let _ = writeln!(s, "  baseline: none — {reason}");
    } else {
        let _ = writeln!(
            s,
            "  baseline: {} ({} run(s))",
            report.baseline.location,
            report.baseline.run_digests.len()
        );
    }
    for c in &report.change_under_test {
        let _ = writeln!(
            s,
            "  change under test: {}: {} → {}",
            c.field, c.baseline, c.candidate
        );
    }
    for r in &report.rules {
        let _ = writeln!(
            s,
            "  {:<12} {}: {}",
            r.outcome.as_str(),
            r.name,
            r.explanation
        );
    }
    for w in &report.warnings {
        let _ = writeln!(s, "  warning: {w}");
    }
    s
}
