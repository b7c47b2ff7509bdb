//! JUnit XML (quick-junit): one testsuite per comparison, one testcase per
//! rule. GitLab shows a failure's *text* and ignores its `message`, so the
//! explanation goes in the text. Mapping of outcomes:
//! - fail → `<failure>` with the explanation and the numbers;
//! - pass, warn (a `severity: warn` failure) and waived → a passing testcase
//!   whose system-out says what happened (warnings and waivers must not turn
//!   a CI test report red when the gate itself passes);
//! - skipped → `<skipped>` with the reason;
//! - inconclusive → `<skipped>` with a message starting `inconclusive:`, so
//!   CI test views show it as "not judged" rather than as passed.
//!
//! Timestamps come from the candidate bundle (`started_at`), never the clock.

use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::format;
use super::render::{Renderer, ReportError};
use crate::gate::{GateReport, Outcome, RuleResult};

#[derive(Debug, Clone, Copy, Default)]
pub struct JunitRenderer;

impl Renderer for JunitRenderer {
    fn render(&self, report: &GateReport) -> Result<Vec<u8>, ReportError> {
        self.render_all(std::slice::from_ref(report))
    }
}

impl JunitRenderer {
    /// Several comparisons (e.g. one per workload) in one file: one
    /// testsuite each, in the given order. The report's timestamp is the
    /// first comparison's start.
    pub fn render_all(&self, reports: &[GateReport]) -> Result<Vec<u8>, ReportError> {
        let mut rep = Report::new("tokengate");
        if let Some(ts) = reports
            .first()
            .and_then(|r| timestamp(&r.candidate.started_at))
        {
            rep.set_timestamp(ts);
        }
        let total: f64 = reports
            .iter()
            .map(|r| r.candidate.window_s)
            .filter(|w| w.is_finite() && *w >= 0.0)
            .sum();
        rep.set_time(Duration::from_secs_f64(total));
        rep.add_test_suites(reports.iter().map(suite));
        let mut out = Vec::new();
        rep.serialize(&mut out).map_err(ReportError::Junit)?;
        Ok(xml_chars(out))
    }
}

/// U+FFFE and U+FFFF are not XML characters (quick-junit already drops C0
/// controls): a key value holding one would make the file ill-formed, so
/// each becomes U+FFFD. Their UTF-8 forms (EF BF BE, EF BF BF) cannot occur
/// inside another character, so a byte scan is exact.
fn xml_chars(out: Vec<u8>) -> Vec<u8> {
    let mut fixed = Vec::with_capacity(out.len());
    let mut i = 0;
    while i < out.len() {
        if out[i] == 0xEF
            && out.get(i + 1) == Some(&0xBF)
            && matches!(out.get(i + 2), Some(0xBE | 0xBF))
        {
            fixed.extend_from_slice("\u{FFFD}".as_bytes());
            i += 3;
        } else {
            fixed.push(out[i]);
            i += 1;
        }
    }
    fixed
}

fn timestamp(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok()
}

fn detail(r: &RuleResult) -> String {
    format!(
        "{}\nmetric: {}\nlimit: {}\nseverity: {}\nbaseline: {}\ncandidate: {}\nchange: {}\nestimate: {}\np-value: {} (adjusted {})\nminimum detectable effect: {}\nrequests to settle: {}",
        r.explanation,
        r.metric,
        r.limit,
        match r.severity {
            crate::gate::Severity::Fail => "fail",
            crate::gate::Severity::Warn => "warn",
        },
        format::value(r.baseline_value, &r.unit),
        format::value(r.candidate_value, &r.unit),
        format::change(r),
        format::estimate(r),
        format::p_value(r.p_value),
        format::p_value(r.p_adjusted),
        format::mde(r),
        r.requests_to_settle
            .map_or_else(|| "—".to_owned(), |n| n.to_string()),
    )
}

fn suite(report: &GateReport) -> TestSuite {
    let c = &report.candidate;
    // Gate, workload and endpoint: the suites of several jobs (one per
    // endpoint or workload) stay apart when a CI merges their reports.
    let suite_name = format!("tokengate {} · {} · {}", report.gate, c.workload, c.label);
    let mut suite = TestSuite::new(suite_name.as_str());
    let ts = timestamp(&c.started_at);
    if let Some(ts) = ts {
        suite.set_timestamp(ts);
    }
    if c.window_s.is_finite() && c.window_s >= 0.0 {
        suite.set_time(Duration::from_secs_f64(c.window_s));
    }
    let classname = format!("tokengate.{}", report.gate);
    let props = [
        ("verdict", report.verdict.as_str().to_owned()),
        ("exit_code", report.exit_code.to_string()),
        ("tool_version", report.tool_version.clone()),
        ("candidate.digest", c.digest.clone()),
        ("candidate.model_version", c.key.model_version.clone()),
        ("candidate.serving_image", c.key.serving_image.clone()),
        ("candidate.hardware_profile", c.key.hardware_profile.clone()),
        ("candidate.tokenizer", c.key.tokenizer.clone()),
        ("candidate.complete", c.complete.to_string()),
        ("baseline.location", report.baseline.location.clone()),
        (
            "baseline.ref",
            report.baseline.git_ref.clone().unwrap_or_default(),
        ),
        (
            "baseline.commit",
            report.baseline.commit.clone().unwrap_or_default(),
        ),
        ("baseline.runs", report.baseline.run_digests.join(",")),
    ];
    for (k, v) in props {
        let v = crate::wording::foreign::cut(&v, crate::wording::foreign::MAX_FOREIGN_CHARS);
        suite.add_property(Property::new(k, v));
    }
    // An invalid run or an ungated comparison is the suite's first test
    // case, so a JUnit viewer shows it before any rule.
    if let Some(headline) = crate::wording::verdict_headline(report.verdict) {
        let mut status = if report.verdict == crate::gate::Verdict::Invalid {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_type("invalid");
            s
        } else {
            TestCaseStatus::skipped()
        };
        status.set_message(headline);
        status.set_description(report.warnings.join("\n"));
        let mut tc = TestCase::new(format!("verdict: {}", report.verdict.as_str()), status);
        tc.set_classname(classname.as_str());
        suite.add_test_case(tc);
    }
    for r in &report.rules {
        let status = match r.outcome {
            Outcome::Fail => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(format!("{}: {}", r.name, format::change(r)));
                s.set_type("regression");
                s.set_description(detail(r));
                s
            }
            Outcome::Skipped => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(r.explanation.clone());
                s
            }
            Outcome::Invalid => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(format!("invalid run: {}", r.explanation));
                s
            }
            Outcome::Inconclusive => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(format!("inconclusive: {}", r.explanation));
                s.set_description(detail(r));
                s
            }
            Outcome::Pass | Outcome::Warn | Outcome::Waived => TestCaseStatus::success(),
        };
        let mut tc = TestCase::new(r.name.as_str(), status);
        tc.set_classname(classname.as_str());
        tc.set_time(Duration::ZERO);
        match r.outcome {
            Outcome::Pass => {
                tc.set_system_out(detail(r));
            }
            Outcome::Warn => {
                tc.set_system_out(format!(
                    "warning (severity warn, does not fail the gate): {}",
                    detail(r)
                ));
            }
            Outcome::Waived => {
                let w = r
                    .waiver
                    .as_ref()
                    .map(|w| format!("waived by {} until {}: {}", w.approver, w.expires, w.reason))
                    .unwrap_or_else(|| "waived".into());
                tc.set_system_out(format!("{w}\n{}", detail(r)));
            }
            _ => {}
        }
        suite.add_test_case(tc);
    }
    if !report.warnings.is_empty() {
        suite.set_system_err(report.warnings.join("\n"));
    }
    suite
}
