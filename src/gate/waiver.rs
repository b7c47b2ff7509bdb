//! Waivers: a committed YAML file that accepts a named rule's failure for a
//! named key, with an approver, a reason and the last day it applies. That
//! day is a [`Date`], the crate's one calendar day type (from
//! [`crate::timefmt`], on chrono); the gate never reads the clock itself:
//! the caller passes "today" in, so reports are reproducible.
//!
//! ```yaml
//! # waivers.yaml: a list; `key` needs at least one field, every given field
//! # must equal the candidate's; `expires` is the last day it applies.
//! - rule: ttft.p95 max_increase 15%      # the rule's name in the gate file
//!   key: {serving_image: "vllm/vllm-openai:v0.6.4"}
//!   approver: alice
//!   reason: chunked prefill costs TTFT; accepted for the throughput gain
//!   expires: 2026-12-31
//! ```
//!
//! A matching unexpired waiver turns a `fail` into `waived`; an expired one
//! is ignored and named in the report's warnings.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::bundle::BundleKey;
pub use crate::timefmt::Date;

/// The key fields a waiver applies to; every given field must equal the
/// candidate's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1))]
pub struct WaiverKey {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving_image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware_profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<String>,
}

impl WaiverKey {
    pub fn matches(&self, key: &BundleKey) -> bool {
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        eq(&self.model_version, &key.model_version)
            && eq(&self.serving_image, &key.serving_image)
            && eq(&self.hardware_profile, &key.hardware_profile)
            && eq(&self.tokenizer, &key.tokenizer)
    }

    fn is_empty(&self) -> bool {
        self.model_version.is_none()
            && self.serving_image.is_none()
            && self.hardware_profile.is_none()
            && self.tokenizer.is_none()
    }
}

/// One accepted failure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Waiver {
    /// Rule name as in the gate file (given or derived, e.g. `ttft.p95 max_increase 15%`).
    pub rule: String,
    pub key: WaiverKey,
    pub approver: String,
    pub reason: String,
    /// Last day the waiver applies (inclusive).
    pub expires: Date,
}

impl Waiver {
    /// True on or before the expiry day.
    pub fn is_active(&self, today: Date) -> bool {
        today <= self.expires
    }
}

/// Errors reading or validating a waivers file: the gate's YAML file error.
pub type WaiverError = super::file::GateFileError;

/// One waiver as written (the YAML wire type).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Waiver")]
struct RawWaiver {
    /// The rule's name in the gate file, e.g. `ttft.p95 max_increase 15%`.
    #[schemars(with = "String", regex(pattern = r"\S"))]
    rule: Spanned<String>,
    /// Key fields the waiver applies to (at least one); each must equal the
    /// candidate's.
    #[schemars(with = "WaiverKey")]
    key: Spanned<WaiverKey>,
    /// Who accepted the failure.
    #[schemars(with = "String", regex(pattern = r"\S"))]
    approver: Spanned<String>,
    /// Why it is accepted.
    #[schemars(with = "String", regex(pattern = r"\S"))]
    reason: Spanned<String>,
    /// Last day the waiver applies, `YYYY-MM-DD`.
    #[schemars(
        with = "String",
        regex(pattern = r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}\s*$")
    )]
    expires: Spanned<String>,
}

/// Schema of a waivers file: a list of waivers.
#[derive(JsonSchema)]
#[schemars(
    title = "tokengate waivers file",
    description = "Accepted failures: each names a gate rule, a key, an approver, a reason and the last day it applies (src/gate/waiver.rs)."
)]
#[expect(
    dead_code,
    reason = "only its schema is used; the loader reads Vec<RawWaiver>"
)]
struct WaiversFile(Vec<RawWaiver>);

/// The JSON Schema of a waivers file (draft 2020-12), generated from the
/// wire types so it cannot drift from them; `schemas/waivers.schema.json` is
/// the committed copy editors validate against.
pub fn waivers_json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(WaiversFile)).unwrap_or(serde_json::Value::Null)
}

/// Read and validate a waivers file.
pub fn load_waivers(path: &Path) -> Result<Vec<Waiver>, WaiverError> {
    let text = WaiverError::read("waivers", path)?;
    parse_waivers(&text, &path.display().to_string())
}

/// Validate waivers text (a YAML list); `origin` names it in errors. An empty
/// document is an empty list.
pub fn parse_waivers(text: &str, origin: &str) -> Result<Vec<Waiver>, WaiverError> {
    if text.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with('#')
    }) {
        return Ok(Vec::new());
    }
    let raw: Vec<RawWaiver> =
        serde_saphyr::from_str(text).map_err(|e| WaiverError::yaml(origin, &e))?;
    let invalid = |loc: &serde_saphyr::Location, field: String, message: String| {
        WaiverError::invalid(origin, loc, field, message)
    };
    raw.into_iter()
        .enumerate()
        .map(|(i, r)| {
            for (name, v) in [
                ("rule", &r.rule),
                ("approver", &r.approver),
                ("reason", &r.reason),
            ] {
                if v.value.trim().is_empty() {
                    return Err(invalid(
                        &v.referenced,
                        format!("[{i}].{name}"),
                        "expected a non-empty string".into(),
                    ));
                }
            }
            if r.key.value.is_empty() {
                return Err(invalid(
                    &r.key.referenced,
                    format!("[{i}].key"),
                    "expected at least one of model_version, serving_image, hardware_profile, tokenizer (a waiver accepts a rule for a named key)".into(),
                ));
            }
            let expires: Date = r
                .expires
                .value
                .trim()
                .parse()
                .map_err(|e: crate::timefmt::TimeError| {
                    invalid(&r.expires.referenced, format!("[{i}].expires"), e.to_string())
                })?;
            Ok(Waiver {
                rule: r.rule.value.trim().to_owned(),
                key: r.key.value,
                approver: r.approver.value.trim().to_owned(),
                reason: r.reason.value.trim().to_owned(),
                expires,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_waivers_and_matches_keys() {
        let w = parse_waivers(
            "- rule: ttft.p95 max_increase 15%\n  key: {serving_image: 'vllm:0.6.4'}\n  approver: alice\n  reason: known, fixed in 0.6.5\n  expires: 2026-12-31\n",
            "waivers.yaml",
        )
        .expect("valid");
        assert_eq!(w.len(), 1);
        let mut key = BundleKey {
            serving_image: "vllm:0.6.4".into(),
            model_version: "m".into(),
            ..Default::default()
        };
        assert!(w[0].key.matches(&key));
        key.serving_image = "vllm:0.6.5".into();
        assert!(!w[0].key.matches(&key));
        assert!(w[0].is_active("2026-12-31".parse().expect("valid")));
        assert!(!w[0].is_active("2027-01-01".parse().expect("valid")));
        assert!(
            parse_waivers("# none yet\n", "w")
                .expect("empty")
                .is_empty()
        );
    }

    fn expiring(expires: &str) -> String {
        let text = format!(
            "- rule: r\n  key: {{tokenizer: t}}\n  approver: a\n  reason: r\n  expires: {expires}\n"
        );
        match parse_waivers(&text, "waivers.yaml") {
            Ok(w) => format!("accepted: {}", w[0].expires),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn impossible_expiry_days_are_errors_naming_file_and_field() {
        assert_eq!(
            expiring("2026-02-31"),
            "waivers.yaml: line 5 column 12: field `[0].expires`: `2026-02-31` is an impossible date: February 2026 has 28 days"
        );
        assert_eq!(
            expiring("2026-02-29"),
            "waivers.yaml: line 5 column 12: field `[0].expires`: `2026-02-29` is an impossible date: February 2026 has 28 days"
        );
        assert_eq!(
            expiring("2026-13-01"),
            "waivers.yaml: line 5 column 12: field `[0].expires`: `2026-13-01` is an impossible date: month 13 is not 01 to 12"
        );
        assert_eq!(expiring("2028-02-29"), "accepted: 2028-02-29");
        // `expires` is a day: a time with an offset, possible or not, is refused.
        for with_offset in ["2026-12-31T00:00:00+25:00", "2026-12-31T00:00:00+01:00"] {
            assert_eq!(
                expiring(with_offset),
                format!(
                    "waivers.yaml: line 5 column 12: field `[0].expires`: expected a date YYYY-MM-DD, found `{with_offset}`"
                )
            );
        }
    }

    #[test]
    fn rejects_bad_waivers_naming_line_and_field() {
        let e = parse_waivers(
            "- rule: r\n  key: {tokenizer: t}\n  approver: a\n  reason: r\n  expires: 31.12.2026\n",
            "waivers.yaml",
        )
        .expect_err("bad date");
        assert_eq!(
            e.to_string(),
            "waivers.yaml: line 5 column 12: field `[0].expires`: expected a date YYYY-MM-DD, found `31.12.2026`"
        );
        let e = parse_waivers(
            "- rule: r\n  key: {}\n  approver: a\n  reason: r\n  expires: 2026-12-31\n",
            "waivers.yaml",
        )
        .expect_err("empty key");
        assert!(
            e.to_string().starts_with(
                "waivers.yaml: line 2 column 8: field `[0].key`: expected at least one of"
            ),
            "{e}"
        );
        let e = parse_waivers(
            "- rule: r\n  key: {gpu: h100}\n  approver: a\n  reason: r\n  expires: 2026-12-31\n",
            "waivers.yaml",
        )
        .expect_err("unknown key field");
        assert!(e.to_string().contains("unknown field `gpu`"), "{e}");
    }
}
