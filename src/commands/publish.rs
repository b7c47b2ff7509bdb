//! Publishing a gate result to the CI it runs in, after `check`/`gate`:
//! GitHub Actions runner files (job summary, step outputs, ranked
//! annotations), GitLab report files (load performance, metrics), and an
//! optional GitHub check run for pre-release approval. Publishing never
//! changes the exit code — the verdict does — so every problem here is a
//! warning, not an error.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::gate::{GateOptions, GateOutcome};
// The rule outcome (`gate::Outcome`) is the one this file mostly means.
use super::outcome::Outcome as CommandOutcome;
use super::run::EnvLookup;
use crate::bundle::Bundle;
use crate::ci::{
    AnnotationLevel, CHECK_RUN_TEXT_LIMIT, CheckConclusion, CheckRun, CheckRunOutcome, GitHubApi,
    MARKER, STEP_SUMMARY_LIMIT, annotation, append_step_summary, create_check_run,
    github_token_from_env, load_performance_json, openmetrics_text, ranked_annotations,
    set_outputs, step_summary,
};
use crate::exit_code;
use crate::fsutil::write_atomic;
use crate::gate::{GateReport, Outcome, Verdict};
use crate::report::Renderer;

/// Default directory for GitLab report files when `GITLAB_CI=true` and no
/// `--gitlab-reports` was given (relative to the report directory).
pub const GITLAB_REPORTS_SUBDIR: &str = "gitlab";
/// File names GitLab's `artifacts:reports` entries point at.
pub const LOAD_PERFORMANCE_FILE: &str = "load_performance.json";
pub const METRICS_FILE: &str = "metrics.txt";
/// Default check run name (what a branch protection rule requires).
pub const DEFAULT_CHECK_RUN_NAME: &str = "tokengate";

/// Where to publish; built from flags and the CI environment by
/// [`PublishOptions::resolve`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishOptions {
    /// Write GitHub Actions runner files and annotations.
    pub github_actions: bool,
    /// Write GitLab report files into this directory.
    pub gitlab_reports: Option<PathBuf>,
    /// Create a GitHub check run.
    pub check_run: Option<CheckRunOptions>,
    /// Markdown template of the report (the same one the gate used).
    pub template: Option<PathBuf>,
}

/// A check run to create on a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRunOptions {
    /// Name in the checks list; branch protection requires it by name.
    pub name: String,
    /// Commit to attach to; default `GITHUB_SHA`. On `pull_request` events
    /// `GITHUB_SHA` is the merge commit, so pass the PR head SHA instead.
    pub head_sha: Option<String>,
}

/// Flags of `check`/`gate` that [`PublishOptions::resolve`] combines with
/// the environment.
#[derive(Debug, Clone, Default)]
pub struct PublishFlags {
    pub github_actions: bool,
    pub gitlab_reports: Option<PathBuf>,
    pub check_run: bool,
    pub check_run_name: Option<String>,
    pub head_sha: Option<String>,
    pub template: Option<PathBuf>,
}

impl PublishOptions {
    /// GitHub Actions outputs when `--github-actions` or
    /// `GITHUB_ACTIONS=true`; GitLab reports into `--gitlab-reports DIR`, or
    /// `REPORT_DIR/gitlab` when `GITLAB_CI=true`.
    pub fn resolve(
        flags: &PublishFlags,
        report_dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> PublishOptions {
        let is_true = |k: &str| env(k).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let gitlab_reports = flags
            .gitlab_reports
            .clone()
            .or_else(|| is_true("GITLAB_CI").then(|| report_dir.join(GITLAB_REPORTS_SUBDIR)));
        PublishOptions {
            github_actions: flags.github_actions || is_true("GITHUB_ACTIONS"),
            gitlab_reports,
            check_run: flags.check_run.then(|| CheckRunOptions {
                name: flags
                    .check_run_name
                    .clone()
                    .unwrap_or_else(|| DEFAULT_CHECK_RUN_NAME.to_owned()),
                head_sha: flags.head_sha.clone(),
            }),
            template: flags.template.clone(),
        }
    }
}

/// The files a gate run produced.
#[derive(Debug, Clone, Default)]
pub struct ReportFiles {
    pub bundle: PathBuf,
    pub markdown: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    pub json: Option<PathBuf>,
}

impl ReportFiles {
    /// The bundle and report paths of a gate run.
    pub fn of(opts: &GateOptions) -> ReportFiles {
        ReportFiles {
            bundle: opts.bundle.clone(),
            markdown: opts.markdown.clone(),
            junit: opts.junit.clone(),
            json: opts.json.clone(),
        }
    }
}

/// What publishing did: workflow commands for stdout, notes and warnings
/// for stderr (the caller prints them; tests read them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    /// `::error`/`::warning`/`::notice` lines (GitHub Actions only).
    pub commands: Vec<String>,
    /// What was written or created, one line each.
    pub notes: Vec<String>,
    /// What could not be done; never changes the exit code.
    pub warnings: Vec<String>,
    /// Report files written (GitLab's), in the order written.
    pub files: Vec<PathBuf>,
}

/// Publish a judged bundle the way `gate` and `check` do, and add what
/// happened to `out`: workflow commands for stdout; notes and warnings for
/// stderr — except under GitHub Actions, where a warning becomes a
/// `::warning` annotation (on stdout) so it shows on the run's page.
pub(crate) async fn publish_into(
    judged: &GateOutcome,
    gate: &GateOptions,
    flags: &PublishFlags,
    report_dir: &Path,
    env: &EnvLookup,
    out: &mut CommandOutcome,
) {
    let popts = PublishOptions::resolve(flags, report_dir, &**env);
    let published = publish(judged, &ReportFiles::of(gate), &popts, &**env).await;
    out.workflow_commands.extend(published.commands);
    out.notes.extend(published.notes);
    out.files.extend(published.files);
    for w in published.warnings {
        if popts.github_actions {
            out.workflow_commands
                .push(annotation(AnnotationLevel::Warning, "tokengate", &w));
        } else {
            out.warnings.push(w);
        }
    }
}

/// Publish a judged bundle everywhere `opts` says. Never fails: problems
/// are returned as warnings.
pub async fn publish(
    judged: &GateOutcome,
    files: &ReportFiles,
    opts: &PublishOptions,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Published {
    let report = &judged.report;
    let mut out = Published::default();
    if opts.github_actions {
        github_actions(report, files, opts, env, &mut out);
    }
    if let Some(dir) = &opts.gitlab_reports {
        match gitlab_reports(&judged.bundle, dir) {
            Err(e) => out
                .warnings
                .push(format!("GitLab reports not written: {e:#}")),
            Ok(written) => {
                out.notes.push(format!(
                    "GitLab reports: {}, {}",
                    dir.join(LOAD_PERFORMANCE_FILE).display(),
                    dir.join(METRICS_FILE).display()
                ));
                out.files.extend(written);
            }
        }
    }
    if let Some(cr) = &opts.check_run {
        check_run(report, cr, opts.template.as_deref(), env, &mut out).await;
    }
    out
}

fn github_actions(
    report: &GateReport,
    files: &ReportFiles,
    opts: &PublishOptions,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut Published,
) {
    out.commands = annotations(report);
    let var = |k: &str| env(k).filter(|v| !v.trim().is_empty()).map(PathBuf::from);
    match var("GITHUB_STEP_SUMMARY") {
        Some(path) => {
            let written = markdown_for(report, opts.template.as_deref(), STEP_SUMMARY_LIMIT)
                .and_then(|md| {
                    append_step_summary(&path, &step_summary(&md)).map_err(anyhow::Error::new)
                });
            match written {
                Ok(()) => out.notes.push(format!("job summary: {}", path.display())),
                Err(e) => out.warnings.push(format!("job summary not written: {e:#}")),
            }
        }
        None => out
            .warnings
            .push("GITHUB_STEP_SUMMARY is not set; no job summary written".into()),
    }
    match var("GITHUB_OUTPUT") {
        Some(path) => {
            let shown = |p: &Option<PathBuf>| {
                p.as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            };
            let exit = report.exit_code.to_string();
            let (md, junit, json) = (
                shown(&files.markdown),
                shown(&files.junit),
                shown(&files.json),
            );
            let bundle = files.bundle.display().to_string();
            let outputs = [
                ("verdict", report.verdict.as_str()),
                ("exit-code", exit.as_str()),
                ("markdown", md.as_str()),
                ("junit", junit.as_str()),
                ("json", json.as_str()),
                ("bundle", bundle.as_str()),
            ];
            match set_outputs(&path, &outputs) {
                Ok(()) => out.notes.push(format!("step outputs: {}", path.display())),
                Err(e) => out.warnings.push(format!(
                    "step outputs not written: {}",
                    crate::error_chain(&e)
                )),
            }
        }
        None => out
            .warnings
            .push("GITHUB_OUTPUT is not set; no step outputs written".into()),
    }
}

/// Ranked annotations: failing rules as errors; rules that only warned and
/// inconclusive rules as warnings (errors when the policy makes an
/// inconclusive result block); a missing baseline and waived failures as
/// notices. At most [`crate::ci::MAX_ANNOTATIONS`].
pub fn annotations(report: &GateReport) -> Vec<String> {
    let blocks = report.exit_code == exit_code::INCONCLUSIVE;
    let mut items = Vec::new();
    // An invalid run or an ungated comparison comes first: no rule's
    // verdict means anything until it is fixed.
    if let Some(headline) = crate::wording::verdict_headline(report.verdict) {
        let level = if report.verdict == Verdict::Invalid || blocks {
            AnnotationLevel::Error
        } else {
            AnnotationLevel::Warning
        };
        let why = match report.verdict {
            Verdict::Invalid => report
                .warnings
                .iter()
                .filter(|w| w.starts_with("the run is invalid"))
                .cloned()
                .collect::<Vec<_>>()
                .join("\n"),
            _ => report.skip_reason.clone().unwrap_or_default(),
        };
        items.push((
            level,
            format!("tokengate {}", report.verdict.as_str()),
            format!("{headline}. {why}"),
        ));
    }
    // Rank within a level: failures, then warn-severity failures, then
    // inconclusive rules, each in gate-file order.
    for wanted in [
        Outcome::Fail,
        Outcome::Warn,
        Outcome::Inconclusive,
        Outcome::Waived,
    ] {
        for r in report.rules.iter().filter(|r| r.outcome == wanted) {
            let level = match r.outcome {
                Outcome::Fail => AnnotationLevel::Error,
                Outcome::Inconclusive if blocks => AnnotationLevel::Error,
                Outcome::Warn | Outcome::Inconclusive => AnnotationLevel::Warning,
                _ => AnnotationLevel::Notice,
            };
            let title = format!("tokengate {}: {}", r.outcome.as_str(), r.name);
            items.push((level, title, r.explanation.clone()));
        }
    }
    if let Some(reason) = &report.skip_reason {
        let level = if blocks {
            AnnotationLevel::Error
        } else {
            AnnotationLevel::Notice
        };
        items.push((
            level,
            "tokengate: no baseline comparison".to_owned(),
            reason.clone(),
        ));
    }
    ranked_annotations(items, crate::ci::MAX_ANNOTATIONS)
}

/// The report as Markdown within `limit` characters, without the comment
/// marker (it only matters in PR/MR comments).
fn markdown_for(
    report: &GateReport,
    template: Option<&Path>,
    limit: usize,
) -> anyhow::Result<String> {
    let bytes = super::gate::markdown_renderer(template)?
        .with_limit(limit)
        .render(report)
        .context("cannot render the Markdown report")?;
    let text = String::from_utf8(bytes).context("the Markdown report is not UTF-8")?;
    Ok(strip_marker(&text))
}

fn strip_marker(text: &str) -> String {
    match text.strip_prefix(MARKER) {
        Some(rest) => rest.trim_start_matches(['\r', '\n']).to_owned(),
        None => text.to_owned(),
    }
}

/// Check run conclusion for a report. Invalid is `failure` (exit 4: the
/// measurement must be redone). Inconclusive, skipped and ungated are
/// `neutral` — except when the gate's policy blocks on them (exit 3): then
/// `failure`, because branch protection accepts `neutral` as passing and a
/// required check must hold the release exactly when the exit code does.
pub fn conclusion(report: &GateReport) -> CheckConclusion {
    match report.verdict {
        Verdict::Pass => CheckConclusion::Success,
        Verdict::Fail | Verdict::Invalid => CheckConclusion::Failure,
        Verdict::Inconclusive | Verdict::Skipped | Verdict::Ungated => {
            if report.exit_code == exit_code::INCONCLUSIVE {
                CheckConclusion::Failure
            } else {
                CheckConclusion::Neutral
            }
        }
    }
}

/// One-line title: verdict and rule counts.
pub fn check_run_title(report: &GateReport) -> String {
    let count = |o: Outcome| report.rules.iter().filter(|r| r.outcome == o).count();
    let mut parts = Vec::new();
    for (o, word) in [
        (Outcome::Invalid, "not judged"),
        (Outcome::Fail, "failed"),
        (Outcome::Inconclusive, "inconclusive"),
        (Outcome::Warn, "warned"),
        (Outcome::Waived, "waived"),
        (Outcome::Skipped, "skipped"),
        (Outcome::Pass, "passed"),
    ] {
        let n = count(o);
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    format!(
        "{}: {} ({} of {} rules)",
        report.gate,
        report.verdict.as_str().to_uppercase(),
        if parts.is_empty() {
            "no rules".to_owned()
        } else {
            parts.join(", ")
        },
        report.rules.len()
    )
}

async fn check_run(
    report: &GateReport,
    cr: &CheckRunOptions,
    template: Option<&Path>,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    out: &mut Published,
) {
    let skip = |out: &mut Published, why: String| {
        out.warnings.push(format!(
            "no check run created: {why}; the gate verdict is unchanged"
        ));
    };
    let head_sha = cr
        .head_sha
        .clone()
        .or_else(|| env("GITHUB_SHA"))
        .filter(|s| !s.trim().is_empty());
    let Some(head_sha) = head_sha else {
        return skip(
            out,
            "no commit SHA (pass --head-sha or set GITHUB_SHA)".into(),
        );
    };
    let Some(token) = github_token_from_env(env) else {
        return skip(out, "GITHUB_TOKEN is not set".into());
    };
    let api = match GitHubApi::from_env(env) {
        Ok(api) => api,
        Err(e) => return skip(out, crate::error_chain(&e)),
    };
    let text = match markdown_for(report, template, CHECK_RUN_TEXT_LIMIT) {
        Ok(t) => t,
        Err(e) => return skip(out, format!("{e:#}")),
    };
    let summary = match check_run_summary(report) {
        Ok(t) => t,
        Err(e) => return skip(out, format!("{e:#}")),
    };
    let title = check_run_title(report);
    let run = CheckRun {
        head_sha: head_sha.trim(),
        name: &cr.name,
        conclusion: conclusion(report),
        title: &title,
        summary: &summary,
        text: &text,
    };
    match create_check_run(&api, &token, &run).await {
        Ok(CheckRunOutcome::Created { id }) => out.notes.push(format!(
            "check run {id} `{}` on {}: {}",
            cr.name,
            run.head_sha,
            run.conclusion.as_str()
        )),
        Ok(CheckRunOutcome::Skipped { warning }) => out.warnings.push(warning),
        Err(e) => skip(out, token.redact(&crate::error_chain(&e))),
    }
}

/// The check run's summary: the verdict table of the built-in report, made
/// from the report itself, whatever `--template` renders the text with.
fn check_run_summary(report: &GateReport) -> anyhow::Result<String> {
    let bytes = crate::report::MarkdownRenderer::verdict_table()
        .with_limit(CHECK_RUN_TEXT_LIMIT)
        .render(report)
        .context("cannot render the verdict table")?;
    String::from_utf8(bytes).context("the verdict table is not UTF-8")
}

/// Writes GitLab's two report files into `dir`; returns their paths.
fn gitlab_reports(b: &Bundle, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    let mut lp = serde_json::to_vec_pretty(&load_performance_json(b))
        .context("cannot serialize the load performance report")?;
    lp.push(b'\n');
    let (lp_path, metrics_path) = (dir.join(LOAD_PERFORMANCE_FILE), dir.join(METRICS_FILE));
    write_atomic(&lp_path, &lp)?;
    write_atomic(&metrics_path, openmetrics_text(b).as_bytes())?;
    Ok(vec![lp_path, metrics_path])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn ci_environment_turns_publishing_on_and_flags_win() {
        let none =
            PublishOptions::resolve(&PublishFlags::default(), Path::new("out"), &env_of(&[]));
        assert_eq!(none, PublishOptions::default());

        let env = env_of(&[("GITHUB_ACTIONS", "true"), ("GITLAB_CI", "TRUE")]);
        let on = PublishOptions::resolve(&PublishFlags::default(), Path::new("out"), &env);
        assert!(on.github_actions);
        assert_eq!(on.gitlab_reports, Some(PathBuf::from("out/gitlab")));
        assert_eq!(on.check_run, None);

        let flags = PublishFlags {
            gitlab_reports: Some("reports".into()),
            check_run: true,
            head_sha: Some("abc".into()),
            ..PublishFlags::default()
        };
        let env = env_of(&[("GITHUB_ACTIONS", "false"), ("GITLAB_CI", "true")]);
        let o = PublishOptions::resolve(&flags, Path::new("out"), &env);
        assert!(!o.github_actions);
        assert_eq!(o.gitlab_reports, Some(PathBuf::from("reports")));
        assert_eq!(
            o.check_run,
            Some(CheckRunOptions {
                name: DEFAULT_CHECK_RUN_NAME.into(),
                head_sha: Some("abc".into())
            })
        );
    }

    #[test]
    fn the_comment_marker_is_left_out_of_summaries() {
        assert_eq!(strip_marker(&format!("{MARKER}\n## t\n")), "## t\n");
        assert_eq!(strip_marker("## t\n"), "## t\n");
    }
}
