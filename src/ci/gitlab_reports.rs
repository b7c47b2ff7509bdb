//! GitLab report files made from a bundle: the k6-legacy-shaped
//! `load_performance` report (GitLab's MR load-performance widget) and the
//! OpenMetrics `metrics` report (the MR metrics widget).

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

/// The `artifacts:reports:metrics` file: the OpenMetrics text of
/// `tokengate export --format openmetrics` (one writer for both), with no
/// key labels: GitLab's widget matches a merge request's metrics to the
/// target branch's by the whole sample text, so a model version in every
/// label would make every metric look new. GitLab's parser drops `#` to the
/// end of the line (the metadata lines) and splits the rest like a shell
/// (`Gitlab::Ci::Parsers::Metrics::Generic`), so
/// `tokengate_ttft_seconds{quantile="0.95"} 0.045` is the metric
/// `tokengate_ttft_seconds{quantile=0.95}` with the value `0.045`.
pub fn openmetrics_text(bundle: &Bundle) -> String {
    crate::export::openmetrics::render(bundle, crate::export::openmetrics::Labels::FamilyOnly)
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
    fn round6_prints_plain_decimals() {
        assert_eq!(round6(0.1 + 0.2).to_string(), "0.3");
        assert_eq!(round6(1e-9).to_string(), "0");
        assert_eq!(round6(-1e-9).to_string(), "0");
        assert_eq!(round6(123.4).to_string(), "123.4");
        assert_eq!(round6(1.5e12).to_string(), "1500000000000");
    }
}
