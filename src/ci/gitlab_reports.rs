//! GitLab report files made from a bundle: the k6-legacy-shaped
//! `load_performance` report (GitLab's MR load-performance widget) and the
//! plain-text `metrics` report (the MR metrics widget).

use serde_json::{Map, Value, json};

use crate::bundle::{Bundle, LatencyStats};

/// The k6 legacy summary (`k6 run --summary-export`) subset GitLab's
/// load-performance widget reads:
///
/// * `metrics.http_reqs.{count,rate}` — attempted requests (planned
///   cancellations excluded, as k6 counts requests sent) and their rate over
///   the measurement window;
/// * `metrics.http_req_waiting.{avg,min,med,max,"p(90)","p(95)"}` — TTFT in
///   ms (k6's "waiting" is time to first byte; TTFT is what users feel);
/// * `metrics.checks.{passes,fails,value}` — succeeded, failed and the
///   success ratio.
///
/// `metrics.http_req_duration` (E2E, ms) is added for readers of the file.
/// Statistics the bundle does not have (no successful requests) are left
/// out rather than written as 0, which would read as "instant".
pub fn load_performance_json(bundle: &Bundle) -> Value {
    let m = &bundle.metrics;
    let sent = m.requests.attempted.saturating_sub(m.requests.cancelled);
    let rate = if bundle.context.window_s > 0.0 {
        sent as f64 / bundle.context.window_s
    } else {
        0.0
    };
    let judged = m.requests.succeeded + m.requests.failed;
    let value = if judged > 0 {
        m.requests.succeeded as f64 / judged as f64
    } else {
        0.0
    };
    json!({
        "metrics": {
            "http_reqs": { "count": sent, "rate": round6(rate) },
            "http_req_waiting": k6_trend(&m.ttft_ms),
            "http_req_duration": k6_trend(&m.e2e_ms),
            "checks": {
                "passes": m.requests.succeeded,
                "fails": m.requests.failed,
                "value": round6(value),
            },
        }
    })
}

/// A k6 "trend" object from latency stats; absent statistics are omitted.
fn k6_trend(s: &LatencyStats) -> Value {
    let mut o = Map::new();
    for (k, v) in [
        ("avg", s.mean),
        ("min", s.min),
        ("med", s.p50),
        ("max", s.max),
        ("p(90)", s.p90),
        ("p(95)", s.p95),
    ] {
        if let Some(v) = v.filter(|v| v.is_finite()) {
            o.insert(k.to_owned(), json!(round6(v)));
        }
    }
    Value::Object(o)
}

/// The `artifacts:reports:metrics` file: one `name value` line per metric,
/// names `tokengate_[a-z0-9_]+` (units in the name), values in plain decimal.
/// Metrics the run did not produce (no samples, no pricing block, no SLOs)
/// are left out, so GitLab shows them as absent rather than as 0.
pub fn openmetrics_text(bundle: &Bundle) -> String {
    let m = &bundle.metrics;
    let mut lines: Vec<(String, f64)> = Vec::new();
    let latencies = [
        ("ttft", &m.ttft_ms),
        ("ttfb", &m.ttfb_ms),
        ("itl", &m.itl_ms),
        ("tpot", &m.tpot_ms),
        ("e2e", &m.e2e_ms),
    ];
    for (name, s) in latencies {
        for (stat, v) in [
            ("mean", s.mean),
            ("p50", s.p50),
            ("p90", s.p90),
            ("p95", s.p95),
            ("p99", s.p99),
        ] {
            if let Some(v) = v {
                lines.push((format!("tokengate_{name}_{stat}_ms"), v));
            }
        }
    }
    lines.push((
        "tokengate_output_tokens_per_s".into(),
        m.output_tokens_per_s,
    ));
    lines.push(("tokengate_input_tokens_per_s".into(), m.input_tokens_per_s));
    lines.push(("tokengate_requests_per_s".into(), m.requests_per_s));
    let r = &m.requests;
    for (name, v) in [
        ("attempted", r.attempted),
        ("succeeded", r.succeeded),
        ("failed", r.failed),
        ("cancelled", r.cancelled),
    ] {
        lines.push((format!("tokengate_requests_{name}"), v as f64));
    }
    lines.push(("tokengate_error_rate".into(), m.error_rate));
    lines.push(("tokengate_stream_error_rate".into(), m.stream_error_rate));
    for (kind, n) in &m.errors {
        lines.push((
            format!("tokengate_errors_{}", metric_name_part(kind)),
            *n as f64,
        ));
    }
    for (name, v) in [
        ("cost_per_1k", m.cost_per_1k),
        ("goodput", m.goodput),
        ("quality_pass_rate", m.quality_pass_rate),
    ] {
        if let Some(v) = v {
            lines.push((format!("tokengate_{name}"), v));
        }
    }
    let mut out = String::new();
    for (name, v) in lines {
        // NaN or infinity would break GitLab's parser; a missing line is honest.
        if v.is_finite() {
            out.push_str(&name);
            out.push(' ');
            out.push_str(&round6(v).to_string());
            out.push('\n');
        }
    }
    out
}

/// Lower-case ASCII letters, digits and `_`; anything else becomes `_`.
fn metric_name_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Six decimals are finer than any of our measurements (µs in ms, rates)
/// and keep float noise (`0.30000000000000004`) out of report files. `f64`'s
/// `Display` never uses exponent notation, so the result is plain decimal.
fn round6(v: f64) -> f64 {
    let r = (v * 1e6).round() / 1e6;
    // `-0` prints as "-0".
    if r == 0.0 { 0.0 } else { r }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_are_sanitized() {
        assert_eq!(metric_name_part("http_5xx"), "http_5xx");
        assert_eq!(metric_name_part("Weird-Kind.x"), "weird_kind_x");
    }

    #[test]
    fn round6_prints_plain_decimals() {
        assert_eq!(round6(0.1 + 0.2).to_string(), "0.3");
        assert_eq!(round6(1e-9).to_string(), "0");
        assert_eq!(round6(-1e-9).to_string(), "0");
        assert_eq!(round6(123.4).to_string(), "123.4");
        assert_eq!(round6(1.5e12).to_string(), "1500000000000");
    }
}
