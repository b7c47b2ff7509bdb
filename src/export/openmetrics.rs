//! OpenMetrics text exposition of a bundle's summary (the format of
//! `tokengate export --format openmetrics` and of GitLab's `metrics`
//! report): `# TYPE` / `# UNIT` / `# HELP` metadata, base units (seconds,
//! ratios), a `summary` family per latency metric, and the closing `# EOF`
//! the OpenMetrics 1.0 spec requires (§ "Overall Structure").

use std::fmt::Write as _;

use super::measures::{LATENCY_FAMILIES, LATENCY_STATS, Unit, latency_stats, summary};
use crate::bundle::Bundle;

/// Which labels every sample carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Labels {
    /// The workload and the bundle key (`workload`, `model_version`,
    /// `serving_image`, `hardware_profile`): what a Prometheus or Grafana
    /// reader filters by.
    Key,
    /// None but the family's own (`quantile`, `outcome`, `kind`): GitLab's
    /// metrics widget compares a merge request's values with the target
    /// branch's by the whole sample name, and a key that differs between the
    /// two (a new model version is the point of the merge request) would
    /// make every metric look new.
    FamilyOnly,
}

const HELP: [(&str, &str); 5] = [
    ("ttft", "Time to first content event"),
    ("ttfb", "Time to response headers"),
    (
        "itl",
        "Inter-token latency, every gap of every successful request",
    ),
    (
        "tpot",
        "Time per output token after the first, per successful request",
    ),
    ("e2e", "Request start to last byte, successful requests"),
];

/// The bundle as OpenMetrics text. Values the run did not produce are left
/// out (an absent sample is honest, a 0 would be read as a value).
pub fn render(bundle: &Bundle, labels: Labels) -> String {
    let key = match labels {
        Labels::Key => vec![
            ("workload", bundle.context.workload_name.as_str()),
            ("model_version", bundle.key.model_version.as_str()),
            ("serving_image", bundle.key.serving_image.as_str()),
            ("hardware_profile", bundle.key.hardware_profile.as_str()),
        ],
        Labels::FamilyOnly => Vec::new(),
    };
    let mut out = String::new();
    for family in LATENCY_FAMILIES {
        let Some(s) = latency_stats(bundle, family) else {
            continue;
        };
        let quantiles: Vec<(f64, f64)> = LATENCY_STATS
            .iter()
            .filter_map(|&(stat, q)| Some((q?, super::measures::stat_value(s, stat)?)))
            .filter(|(_, v)| v.is_finite())
            .collect();
        if quantiles.is_empty() && s.count == 0 {
            continue;
        }
        let name = format!("tokengate_{family}_seconds");
        let help = HELP.iter().find(|(f, _)| *f == family).map_or("", |h| h.1);
        let _ = writeln!(out, "# TYPE {name} summary");
        let _ = writeln!(out, "# UNIT {name} seconds");
        let _ = writeln!(out, "# HELP {name} {help}.");
        for (q, v) in quantiles {
            let mut l = key.clone();
            let qs = q.to_string();
            l.push(("quantile", &qs));
            sample(&mut out, &name, "", &l, seconds(v));
        }
        sample(&mut out, &name, "_count", &key, s.count as f64);
        if let Some(mean) = s.mean.filter(|m| m.is_finite()) {
            sample(
                &mut out,
                &name,
                "_sum",
                &key,
                seconds(mean * s.count as f64),
            );
        }
    }
    for m in summary(bundle).into_iter().filter(|m| m.stat.is_none()) {
        let (name, unit, value) = match m.unit {
            Unit::TokensPerSecond | Unit::RequestsPerSecond => (
                format!("tokengate_{}", m.family.replace("_per_s", "_per_second")),
                None,
                m.value,
            ),
            Unit::Ratio => (
                format!("tokengate_{}_ratio", m.family.trim_end_matches("_rate")),
                Some("ratio"),
                m.value,
            ),
            Unit::CostPer1k => ("tokengate_cost_per_1k_responses".to_owned(), None, m.value),
            Unit::Milliseconds => continue,
        };
        let _ = writeln!(out, "# TYPE {name} gauge");
        if let Some(u) = unit {
            let _ = writeln!(out, "# UNIT {name} {u}");
        }
        sample(&mut out, &name, "", &key, value);
    }
    let r = &bundle.metrics.requests;
    let _ = writeln!(out, "# TYPE tokengate_requests counter");
    let _ = writeln!(
        out,
        "# HELP tokengate_requests Requests of the measurement window by outcome."
    );
    for (outcome, n) in [
        ("succeeded", r.succeeded),
        ("failed", r.failed),
        ("cancelled", r.cancelled),
    ] {
        let mut l = key.clone();
        l.push(("outcome", outcome));
        sample(&mut out, "tokengate_requests", "_total", &l, n as f64);
    }
    let _ = writeln!(out, "# TYPE tokengate_errors counter");
    let _ = writeln!(
        out,
        "# HELP tokengate_errors Failed requests by error kind."
    );
    // Error kinds are the tool's own names (`http_5xx`); a bundle file may
    // hold anything there, and a `#` or quote in a label would break
    // GitLab's line parser (it drops `#` to the end of the line and splits
    // like a shell), so any other name is counted as `other`.
    let mut other = 0u64;
    for (kind, n) in &bundle.metrics.errors {
        let plain = !kind.is_empty()
            && kind
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !plain {
            other = other.saturating_add(*n);
            continue;
        }
        let mut l = key.clone();
        l.push(("kind", kind.as_str()));
        sample(&mut out, "tokengate_errors", "_total", &l, *n as f64);
    }
    if other > 0 {
        let mut l = key.clone();
        l.push(("kind", "other"));
        sample(&mut out, "tokengate_errors", "_total", &l, other as f64);
    }
    out.push_str("# EOF\n");
    out
}

fn sample(out: &mut String, name: &str, suffix: &str, labels: &[(&str, &str)], v: f64) {
    if !v.is_finite() {
        return;
    }
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, val)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape_label(val));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {}", plain(v));
}

/// Label values escape `\`, `"` and line feeds (OpenMetrics 1.0, ABNF
/// `escaped-string`); other control characters become U+FFFD so a key value
/// cannot end a line or a sample.
fn escape_label(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '\n' => o.push_str("\\n"),
            c if c.is_control() => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

/// Milliseconds to seconds, rounded to the nanosecond (finer than any
/// measurement here, and free of float noise such as `0.30000000000000004`).
fn seconds(ms: f64) -> f64 {
    (ms * 1e6).round() / 1e9
}

/// Plain decimal: `f64`'s `Display` never uses exponent notation; `-0`
/// prints as `0`; values are rounded to 9 decimals.
fn plain(v: f64) -> String {
    let r = (v * 1e9).round() / 1e9;
    if r == 0.0 { "0".into() } else { r.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_cannot_break_a_sample() {
        assert_eq!(escape_label("a\"b\\c\nd\re"), "a\\\"b\\\\c\\nd\u{FFFD}e");
    }

    #[test]
    fn error_kinds_that_are_not_plain_names_are_counted_as_other() {
        let mut b = crate::test_support::committed_quickstart_run();
        b.metrics.errors.clear();
        b.metrics.errors.insert("http_5xx".into(), 2);
        b.metrics.errors.insert("a\"#b".into(), 3);
        b.metrics.errors.insert("Weird Kind".into(), 4);
        let text = render(&b, Labels::FamilyOnly);
        assert!(
            text.contains("tokengate_errors_total{kind=\"http_5xx\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("tokengate_errors_total{kind=\"other\"} 7\n"),
            "{text}"
        );
        assert!(
            !text.contains("a\\\"#b") && !text.contains("Weird"),
            "{text}"
        );
    }

    #[test]
    fn numbers_are_plain_decimals_in_base_units() {
        assert_eq!(plain(seconds(58.3)), "0.0583");
        assert_eq!(plain(seconds(0.0004)), "0.0000004");
        assert_eq!(plain(-1e-12), "0");
        assert_eq!(plain(1.5e12), "1500000000000");
    }
}
