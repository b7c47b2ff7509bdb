//! Markdown report (minijinja): verdict table first, then the change under
//! test, then per-rule detail and warnings, under a hidden marker line so a
//! comment bot can find and update its own comment. The built-in template is
//! `templates/report.md.j2`; a user template gets the same context (`view`:
//! pre-formatted, escaped strings; `report`: the raw [`GateReport`], whose
//! strings are *not* escaped — pass them through the `md` filter, or `code`
//! for a code span).
//!
//! Size: GitHub comments and check-run texts hold 65,536 characters. The
//! renderer degrades in steps until the text fits — drop per-rule detail,
//! then cap warnings, then shorten table cells, and only as a last resort
//! (hundreds of rules) omit table rows, failing rows last — never the verdict.

use std::path::Path;

use minijinja::Environment;
use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Serde, Value};
use serde::Serialize;

use super::escape::{escape_markdown, escape_markdown_code};
use super::format;
use super::render::{Renderer, ReportError};
use super::text_chart::{self, Comparison};
use crate::gate::{Decision, EstimateKind, GateReport, Outcome, RuleResult};

/// Hidden first line that identifies tokengate's comment.
pub const MARKER: &str = "<!-- tokengate:report -->";
/// Maximum size of a GitHub comment body / check-run text, in characters.
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;

const BUILTIN: &str = include_str!("templates/report.md.j2");
const BUILTIN_NAME: &str = "report.md.j2";
const VERDICT_TABLE: &str = include_str!("templates/verdict.md.j2");
const VERDICT_TABLE_NAME: &str = "verdict.md.j2";

/// Renders the Markdown report with the built-in or a user template.
#[derive(Debug, Clone)]
pub struct MarkdownRenderer {
    name: String,
    source: String,
    builtin: bool,
    limit: usize,
}

impl Default for MarkdownRenderer {
    fn default() -> Self {
        Self::new()
    }
}

impl MarkdownRenderer {
    /// The built-in template, limited to [`GITHUB_COMMENT_LIMIT`] characters.
    pub fn new() -> Self {
        MarkdownRenderer {
            name: BUILTIN_NAME.into(),
            source: BUILTIN.into(),
            builtin: true,
            limit: GITHUB_COMMENT_LIMIT,
        }
    }

    /// The verdict table alone, built from the report: the head of the
    /// built-in report (title, rule table, candidate, baseline, skip
    /// reason) without the marker or the sections after it. A GitHub check
    /// run's summary; it does not depend on a user template.
    pub fn verdict_table() -> Self {
        MarkdownRenderer {
            name: VERDICT_TABLE_NAME.into(),
            source: VERDICT_TABLE.into(),
            builtin: true,
            limit: GITHUB_COMMENT_LIMIT,
        }
    }

    /// A user template read from `path` (same context as the built-in one).
    pub fn from_template_file(path: &Path) -> Result<Self, ReportError> {
        let source = crate::fsutil::read_bounded_string(path, crate::fsutil::MAX_CONFIG_BYTES)
            .map_err(|source| ReportError::TemplateRead {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(MarkdownRenderer {
            name: path.display().to_string(),
            source,
            builtin: false,
            limit: GITHUB_COMMENT_LIMIT,
        })
    }

    /// Another size limit in characters (e.g. 1 MiB for a GitHub step summary).
    pub fn with_limit(mut self, chars: usize) -> Self {
        self.limit = chars;
        self
    }

    fn render_view(&self, report: &GateReport, view: &View) -> Result<String, ReportError> {
        let mut env = Environment::new();
        let syntax = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|e| self.template_error(e))?;
        env.set_syntax(syntax);
        env.add_filter("md", |s: String| escape_markdown(&s));
        env.add_filter("code", |s: String| escape_markdown_code(&s));
        env.add_template_owned(self.name.clone(), self.source.clone())
            .map_err(|e| self.template_error(e))?;
        let tmpl = env
            .get_template(&self.name)
            .map_err(|e| self.template_error(e))?;
        let ctx = Ctx { report, view };
        let mut out = tmpl
            .render(Value::from(Serde(&ctx)))
            .map_err(|e| self.template_error(e))?;
        if !out.ends_with('\n') {
            out.push('\n');
        }
        Ok(out)
    }

    fn template_error(&self, e: minijinja::Error) -> ReportError {
        ReportError::Template {
            name: self.name.clone(),
            source: Box::new(e),
        }
    }
}

impl Renderer for MarkdownRenderer {
    fn render(&self, report: &GateReport) -> Result<Vec<u8>, ReportError> {
        let mut last_len = 0;
        for level in Degrade::ALL {
            let Some(view) = View::build(report, level) else {
                continue;
            };
            let text = self.render_view(report, &view)?;
            last_len = text.chars().count();
            if last_len <= self.limit {
                return Ok(text.into_bytes());
            }
        }
        if self.builtin {
            // Last resort: keep as many table rows as fit (failing rows first).
            let mut keep = report.rules.len();
            while keep > 0 {
                keep /= 2;
                let view = View::truncated(report, keep);
                let text = self.render_view(report, &view)?;
                if text.chars().count() <= self.limit {
                    // Grow back towards the largest count that fits.
                    let mut best = text;
                    let mut lo = keep;
                    let mut hi = (keep * 2).min(report.rules.len());
                    while lo + 1 < hi {
                        let mid = (lo + hi) / 2;
                        let t = self.render_view(report, &View::truncated(report, mid))?;
                        if t.chars().count() <= self.limit {
                            lo = mid;
                            best = t;
                        } else {
                            hi = mid;
                        }
                    }
                    return Ok(best.into_bytes());
                }
            }
        }
        Err(ReportError::TooLarge {
            name: self.name.clone(),
            chars: last_len,
            limit: self.limit,
        })
    }
}

#[derive(Serialize)]
struct Ctx<'a> {
    report: &'a GateReport,
    view: &'a View,
}

/// How much to drop to fit the size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Degrade {
    Full,
    NoDetail,
    FewWarnings,
    ShortCells,
}

impl Degrade {
    const ALL: [Degrade; 4] = [
        Degrade::Full,
        Degrade::NoDetail,
        Degrade::FewWarnings,
        Degrade::ShortCells,
    ];
}

#[derive(Serialize)]
struct Row {
    emoji: &'static str,
    outcome: &'static str,
    rule: String,
    baseline: String,
    candidate: String,
    change: String,
    limit: String,
}

#[derive(Serialize)]
struct ChangeRow {
    field: String,
    baseline: String,
    candidate: String,
}

#[derive(Serialize)]
struct Detail {
    emoji: &'static str,
    outcome: &'static str,
    rule: String,
    explanation: String,
    estimate: String,
    p_value: String,
    p_adjusted: String,
    mde: String,
    settle: String,
    waiver: Option<String>,
}

#[derive(Serialize)]
struct View {
    marker: &'static str,
    gate: String,
    verdict: &'static str,
    verdict_emoji: &'static str,
    rows: Vec<Row>,
    omitted_rows: usize,
    candidate: String,
    baseline: String,
    skip_reason: Option<String>,
    changes: Vec<ChangeRow>,
    /// Detail of the rules that need a look (fail, inconclusive, warn,
    /// waived, invalid).
    details: Vec<Detail>,
    /// Detail of the passing and skipped rules, folded away.
    passed_details: Vec<Detail>,
    detail_omitted: bool,
    /// The dot-and-whisker text chart of the ratio rules.
    chart: Option<String>,
    /// `[CI run](URL)`, when the run's URL is a plain http(s) URL.
    ci_run: Option<String>,
    warnings: Vec<String>,
    warnings_omitted: usize,
    client_server: Vec<SideRow>,
    footer: String,
}

#[derive(Serialize)]
struct SideRow {
    metric: String,
    baseline_client: String,
    baseline_server: String,
    candidate_client: String,
    candidate_server: String,
}

fn side_rows(report: &GateReport) -> Vec<SideRow> {
    report
        .client_server
        .iter()
        .map(|r| SideRow {
            metric: escape_markdown(&r.metric),
            baseline_client: nbsp_units(&format::value(r.baseline_client, &r.unit)),
            baseline_server: nbsp_units(&server_cell(
                r.baseline_server,
                r.baseline_server_bucket,
                &r.unit,
            )),
            candidate_client: nbsp_units(&format::value(r.candidate_client, &r.unit)),
            candidate_server: nbsp_units(&server_cell(
                r.candidate_server,
                r.candidate_server_bucket,
                &r.unit,
            )),
        })
        .collect()
}

/// A server value: its bucket's resolution when it was read from a coarse
/// histogram, else the value.
fn server_cell(v: Option<f64>, bucket: Option<(f64, Option<f64>)>, unit: &str) -> String {
    match (v, bucket) {
        (Some(_), Some((lower, upper))) => {
            escape_markdown(&crate::wording::bucketed_ms(lower, upper))
        }
        _ => format::value(v, unit),
    }
}

/// Escape, and shorten to `max` characters when given.
fn cell(s: &str, max: Option<usize>) -> String {
    match max {
        Some(m) if s.chars().count() > m => {
            let cut: String = s.chars().take(m).collect();
            format!("{}…", escape_markdown(&cut))
        }
        _ => escape_markdown(s),
    }
}

/// Units a number may be followed by in a report cell.
const UNITS: [&str; 8] = ["tokens/s", "tok/s", "req/s", "ms", "µs", "pp", "s", "%"];

/// A no-break space between a number and its unit (`158.4 ms`, `+32 %`), so
/// a narrow table column never wraps a value over two lines.
fn nbsp_units(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_digit = false;
    for (i, ch) in s.char_indices() {
        if ch == ' ' && prev_digit {
            let rest = &s[i + 1..];
            let unit_follows = UNITS.iter().any(|u| {
                rest.strip_prefix(u)
                    .is_some_and(|after| !after.starts_with(|c: char| c.is_alphanumeric()))
            });
            if unit_follows {
                out.push('\u{a0}');
                prev_digit = false;
                continue;
            }
        }
        out.push(ch);
        prev_digit = ch.is_ascii_digit();
    }
    out
}

/// The rule's name without the limit when the name ends with it (the
/// default names are `METRIC LIMIT`): the limit has its own column.
fn rule_label(r: &RuleResult) -> &str {
    r.name
        .strip_suffix(r.limit.as_str())
        .map(str::trim_end)
        .filter(|n| !n.is_empty())
        .unwrap_or(&r.name)
}

/// The ratio rules as chart rows: the candidate's interval and the limit
/// on the baseline's scale.
fn chart_rows(report: &GateReport) -> Vec<Comparison> {
    report
        .rules
        .iter()
        .filter_map(|r| {
            let Decision::Relative(d) = &r.decision else {
                return None;
            };
            if r.estimate.as_ref()?.kind != EstimateKind::Ratio {
                return None;
            }
            let base = r.baseline_value?;
            Some(Comparison {
                label: r.metric.clone(),
                unit: r.unit.clone(),
                baseline: base,
                candidate: r.candidate_value?,
                lo: base * d.interval.lo,
                hi: base * d.interval.hi,
                limit: Some(base * d.limit),
                level: d.level,
            })
        })
        .take(8)
        .collect()
}

/// `[CI run](URL)` for a plain http(s) URL; anything that could leave the
/// link (spaces, brackets, quotes, angle brackets) gives no link.
fn ci_run_link(url: Option<&str>) -> Option<String> {
    let u = url?;
    let plain = (u.starts_with("https://") || u.starts_with("http://"))
        && u.len() <= 2048
        && !u
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "()[]<>\"'`\\".contains(c));
    plain.then(|| format!("[CI run and artifacts]({u})"))
}

fn short_digest(d: &str) -> String {
    let d = d.strip_prefix("sha256:").unwrap_or(d);
    d.chars().take(12).collect()
}

impl View {
    /// The view at a degrade level; `None` when the level changes nothing
    /// (e.g. there were no warnings to cap).
    fn build(report: &GateReport, level: Degrade) -> Option<View> {
        let cell_max = (level == Degrade::ShortCells).then_some(80);
        let warn_cap = match level {
            Degrade::Full | Degrade::NoDetail => usize::MAX,
            _ => 10,
        };
        if level == Degrade::FewWarnings && report.warnings.len() <= warn_cap {
            let longest = report.warnings.iter().map(|w| w.chars().count()).max();
            if longest.is_none_or(|l| l <= 500) {
                return None;
            }
        }
        let warn_max = (warn_cap != usize::MAX).then_some(500);
        let c = &report.candidate;
        // Empty key fields are left out, not shown as empty separators.
        let key_text = |k: &crate::bundle::BundleKey| {
            [
                &k.model_version,
                &k.serving_image,
                &k.hardware_profile,
                &k.tokenizer,
            ]
            .into_iter()
            .filter(|v| !v.trim().is_empty())
            .map(|v| cell(v, cell_max))
            .collect::<Vec<_>>()
            .join(" · ")
        };
        let mut candidate = format!(
            "{} (bundle {}, workload {}, {} requests",
            key_text(&c.key),
            escape_markdown_code(&short_digest(&c.digest)),
            cell(&c.workload, cell_max),
            c.requests_attempted
        );
        if !c.complete {
            candidate.push_str(", **incomplete run**");
        }
        candidate.push(')');
        let b = &report.baseline;
        let baseline = if b.run_digests.is_empty() && b.location.is_empty() {
            "none".to_owned()
        } else {
            let mut s = String::new();
            if let Some(k) = &b.key {
                s.push_str(&key_text(k));
                s.push(' ');
            }
            s.push_str(&format!(
                "({} run(s) from {}",
                b.run_digests.len(),
                cell(&b.location, cell_max)
            ));
            if let Some(r) = &b.git_ref {
                s.push_str(&format!(" at {}", cell(r, cell_max)));
            }
            if let Some(commit) = &b.commit {
                s.push_str(&format!(
                    " {}",
                    escape_markdown_code(&commit.chars().take(12).collect::<String>())
                ));
            }
            s.push(')');
            s
        };
        let rows = report
            .rules
            .iter()
            .map(|r| Row {
                emoji: format::outcome_emoji(r.outcome),
                outcome: r.outcome.as_str(),
                rule: cell(rule_label(r), cell_max),
                baseline: nbsp_units(&format::value(r.baseline_value, &r.unit)),
                candidate: nbsp_units(&format::value(r.candidate_value, &r.unit)),
                change: nbsp_units(&format::change(r)),
                limit: nbsp_units(&cell(&r.limit, cell_max)),
            })
            .collect();
        let (passed_details, details): (Vec<Detail>, Vec<Detail>) = if level == Degrade::Full {
            report
                .rules
                .iter()
                .map(|r| Detail {
                    emoji: format::outcome_emoji(r.outcome),
                    outcome: r.outcome.as_str(),
                    rule: cell(&r.name, None),
                    explanation: nbsp_units(&cell(&r.explanation, None)),
                    estimate: nbsp_units(&format::estimate(r)),
                    p_value: format::p_value(r.p_value),
                    p_adjusted: format::p_value(r.p_adjusted),
                    mde: nbsp_units(&format::mde(r)),
                    settle: r
                        .requests_to_settle
                        .map_or_else(|| "—".to_owned(), |n| n.to_string()),
                    waiver: r.waiver.as_ref().map(|w| {
                        format!(
                            "approved by {} until {}: {}",
                            cell(&w.approver, None),
                            w.expires,
                            cell(&w.reason, None)
                        )
                    }),
                })
                .partition(|d| matches!(d.outcome, "pass" | "skipped"))
        } else {
            (Vec::new(), Vec::new())
        };
        let warnings: Vec<String> = report
            .warnings
            .iter()
            .take(warn_cap)
            .map(|w| cell(w, warn_max))
            .collect();
        Some(View {
            marker: MARKER,
            gate: cell(&report.gate, cell_max),
            verdict: report.verdict.as_str(),
            verdict_emoji: format::verdict_emoji(report.verdict),
            rows,
            omitted_rows: 0,
            candidate,
            baseline,
            skip_reason: report
                .skip_reason
                .as_deref()
                .map(|s| cell(s, cell_max.map(|_| 500))),
            changes: report
                .change_under_test
                .iter()
                .map(|k| ChangeRow {
                    field: cell(&k.field, cell_max),
                    baseline: cell(&k.baseline, cell_max),
                    candidate: cell(&k.candidate, cell_max),
                })
                .collect(),
            details,
            passed_details,
            detail_omitted: level != Degrade::Full && !report.rules.is_empty(),
            chart: (level == Degrade::Full)
                .then(|| {
                    text_chart::render(&chart_rows(report), &|v, u| crate::wording::value(v, u))
                })
                .flatten(),
            ci_run: ci_run_link(report.candidate.ci_run_url.as_deref()),
            warnings_omitted: report.warnings.len().saturating_sub(warn_cap),
            client_server: side_rows(report),
            warnings,
            footer: format!(
                "tokengate {} · gate {} · exit code {}",
                escape_markdown(&report.tool_version),
                cell(&report.gate, Some(80)),
                report.exit_code
            ),
        })
    }

    /// The shortest view with only `keep` table rows: failing rows first,
    /// then inconclusive, warned, waived, skipped, passing — in gate order
    /// within each group.
    fn truncated(report: &GateReport, keep: usize) -> View {
        let mut view = View::build(report, Degrade::ShortCells)
            .expect("the ShortCells level always yields a view");
        let rank = |o: Outcome| match o {
            Outcome::Fail | Outcome::Invalid => 0,
            Outcome::Inconclusive => 1,
            Outcome::Warn => 2,
            Outcome::Waived => 3,
            Outcome::Skipped => 4,
            Outcome::Pass => 5,
        };
        let mut order: Vec<usize> = (0..report.rules.len()).collect();
        order.sort_by_key(|&i| (rank(report.rules[i].outcome), i));
        let mut chosen: Vec<usize> = order.into_iter().take(keep).collect();
        chosen.sort_unstable();
        let mut rows: Vec<Option<Row>> = view.rows.into_iter().map(Some).collect();
        view.rows = chosen.iter().filter_map(|&i| rows[i].take()).collect();
        view.omitted_rows = report.rules.len() - view.rows.len();
        view.warnings.truncate(3);
        view.warnings_omitted = report.warnings.len().saturating_sub(view.warnings.len());
        view
    }
}
