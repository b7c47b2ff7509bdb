//! k6's end-of-test summary (`k6 run --summary-export FILE`): one JSON
//! object whose `metrics` hold aggregates only (`http_reqs` count and rate,
//! `http_req_failed` passes, trends such as `http_req_duration` with `avg`,
//! `min`, `med`, `max`, `p(90)`, `p(95)`, and `p(99)` when
//! `--summary-trend-stats` asks for it). No per-request values: the bundle
//! has no samples, and the gate says so on every rule that needs them.
//! `docs/import.md` maps every field.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::bundle::{Imported, Summary};
use super::error::ImportError;
use super::json::Doc;
use crate::bundle::{
    ErrorKind, LatencyStats, LoadInfo, Metrics, RequestCounts, ThroughputBasis, ThroughputSpan,
};

const NEEDED: &str = "k6's end-of-test summary (`k6 run --summary-export FILE`)";

pub(super) fn parse(doc: &Doc<'_>, root: &Value) -> Result<Imported, ImportError> {
    let top = doc.root(root, "a JSON object")?;
    let metrics = doc.get(top, "metrics", NEEDED)?;
    let metrics = metrics
        .as_object()
        .ok_or_else(|| doc.error("metrics", "is not an object", NEEDED))?;
    let metric = |name: &str| -> Result<&Map<String, Value>, ImportError> {
        metrics.get(name).and_then(Value::as_object).ok_or_else(|| {
            doc.error(
                &format!("metrics.{name}"),
                "is missing",
                format!("the `{name}` metric of an HTTP test in {NEEDED}"),
            )
        })
    };
    let number = |name: &str, m: &Map<String, Value>, key: &str| -> Result<f64, ImportError> {
        let field = format!("metrics.{name}.{key}");
        let v = m
            .get(key)
            .ok_or_else(|| doc.error(&field, "is missing", "a number"))?;
        let x = doc.number(v, &field, "a non-negative number")?;
        if x < 0.0 {
            return Err(doc.error(&field, format!("is {x}"), "a non-negative number"));
        }
        Ok(x)
    };
    let reqs = metric("http_reqs")?;
    let attempted = number("http_reqs", reqs, "count")?;
    let rate = number("http_reqs", reqs, "rate")?;
    let failed_m = metric("http_req_failed")?;
    let failed = number("http_req_failed", failed_m, "passes")?;
    if attempted < 1.0 || attempted.fract() != 0.0 || failed.fract() != 0.0 || failed > attempted {
        return Err(doc.error(
            "metrics.http_reqs.count",
            format!("is {attempted} with {failed} failed (`http_req_failed.passes`)"),
            "a whole number of requests, at least 1 and at least the failed ones",
        ));
    }
    let (attempted, failed) = (attempted as u64, failed as u64);
    let succeeded = attempted - failed;
    // E2E of the successful requests where k6 split them out (it does when
    // the script has thresholds or `expected_response` tags), else all.
    let (e2e_name, e2e_n) = if metrics.contains_key("http_req_duration{expected_response:true}") {
        ("http_req_duration{expected_response:true}", succeeded)
    } else {
        ("http_req_duration", attempted)
    };
    let trend = |name: &str, count: u64| -> Result<LatencyStats, ImportError> {
        let m = metric(name)?;
        let opt = |key: &str| -> Result<Option<f64>, ImportError> {
            match m.get(key) {
                None => Ok(None),
                Some(_) => number(name, m, key).map(|x| Some((x * 1e3).round() / 1e3)),
            }
        };
        Ok(LatencyStats {
            count,
            mean: opt("avg")?,
            p50: opt("med")?,
            p90: opt("p(90)")?,
            p95: opt("p(95)")?,
            p99: opt("p(99)")?,
            min: opt("min")?,
            max: opt("max")?,
            buckets_ms: BTreeMap::new(),
        })
    };
    let e2e = trend(e2e_name, e2e_n)?;
    let ttfb = trend("http_req_waiting", attempted)?;
    // count / rate is the test's duration as k6 divided by it.
    let window_s = if rate > 0.0 {
        attempted as f64 / rate
    } else {
        0.0
    };
    let per_s = |n: u64| {
        if window_s > 0.0 {
            n as f64 / window_s
        } else {
            0.0
        }
    };
    let mut errors = BTreeMap::new();
    for k in ErrorKind::ALL {
        errors.insert(k.as_str().to_owned(), 0);
    }
    let round6 = |v: f64| (v * 1e6).round() / 1e6;
    let m = Metrics {
        ttft_ms: LatencyStats::default(),
        ttfb_ms: ttfb,
        itl_ms: LatencyStats::default(),
        tpot_ms: LatencyStats::default(),
        e2e_ms: e2e,
        queue_time_ms: None,
        retried_e2e_ms: LatencyStats::default(),
        decode_tokens_per_s: LatencyStats::default(),
        output_tokens_per_s: 0.0,
        input_tokens_per_s: 0.0,
        requests_per_s: (per_s(succeeded) * 1e3).round() / 1e3,
        steady_window_s: 0.0,
        throughput_span: ThroughputSpan {
            basis: ThroughputBasis::Window,
            start_s: 0.0,
            end_s: (window_s * 1e3).round() / 1e3,
            fallback: Some("imported from a k6 summary: no per-request times".into()),
        },
        requests: RequestCounts {
            attempted,
            succeeded,
            failed,
            ..RequestCounts::default()
        },
        tokens: Default::default(),
        errors,
        error_rate: round6(failed as f64 / attempted as f64),
        stream_error_rate: 0.0,
        cost_per_1k: None,
        goodput: None,
        quality_pass_rate: None,
    };
    let vus = metrics
        .get("vus_max")
        .and_then(|v| v.get("value").or_else(|| v.get("max")))
        .and_then(Value::as_u64)
        .and_then(|v| u32::try_from(v).ok());
    let mut shape = BTreeMap::new();
    shape.insert("source".to_owned(), "k6".to_owned());
    shape.insert(
        "load".to_owned(),
        vus.map_or("virtual users (number not recorded)".to_owned(), |v| {
            format!("up to {v} virtual users")
        }),
    );
    let absent = vec![
        "samples, histograms: a k6 summary has no per-request values; rules that resample them are inconclusive".to_owned(),
        "ttft, itl, tpot: k6 reads the whole response and times no SSE event".to_owned(),
        "tokens, output and input tokens/s: k6 counts no tokens (recorded 0)".to_owned(),
        "error kinds: `http_req_failed` counts failures without their kind; metrics.errors lists none".to_owned(),
        "api, model, tokenizer, streaming, start time: not in the summary (give the key fields with --meta)".to_owned(),
    ];
    Ok(Imported {
        version: None,
        api: "",
        model: String::new(),
        tokenizer: String::new(),
        streaming: false,
        shape,
        load: LoadInfo {
            mode: "closed".into(),
            concurrency: vus,
            rate: None,
            arrival: None,
            requests: Some(attempted),
            duration_s: None,
            warmup_requests: 0,
        },
        records: Vec::new(),
        absent,
        warnings: Vec::new(),
        started_at: None,
        ended_at: None,
        summary: Some(Summary {
            metrics: m,
            window_s,
        }),
    })
}
