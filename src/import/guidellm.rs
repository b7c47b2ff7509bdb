//! guidellm's `benchmarks.json` (`guidellm run --output kind=json,path=…`,
//! report `metadata.version` 2, guidellm 0.8): one benchmark of
//! `benchmarks[]` with its requests under `requests.successful`,
//! `requests.errored` and `requests.incomplete`, each with
//! `request_start_time`, `request_latency`, `time_to_first_token_ms`,
//! `prompt_tokens`, `output_tokens` (epoch seconds, seconds, ms, counts).
//! Written by `guidellm/benchmark/schemas/benchmark.py` (the benchmark) and
//! `guidellm/schemas/base/request_stats.py` (`GenerativeRequestStats`);
//! `docs/import.md` maps every field.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

use super::bundle::{Imported, imported_record};
use super::error::ImportError;
use super::json::Doc;
use crate::bundle::{LoadInfo, hex_sha256};
use crate::client::{ErrorKind, Outcome, Phase, RequestRecord};
use crate::metrics::us32;
use crate::wording::foreign::cut;

const BENCHMARK: &str = "benchmarks[0]";

pub(super) fn parse(doc: &Doc<'_>, root: &Value) -> Result<Imported, ImportError> {
    let top = doc.root(root, "a JSON object")?;
    let benchmarks = doc.array(
        doc.get(top, "benchmarks", "guidellm's list of benchmarks")?,
        "benchmarks",
        "an array of benchmarks",
    )?;
    if benchmarks.len() != 1 {
        return Err(doc.error(
            "benchmarks",
            format!("holds {} benchmarks", benchmarks.len()),
            "exactly one (one profile and rate per file: a sweep's levels are separate runs to tokengate)",
        ));
    }
    let bench: &Map<String, Value> = benchmarks[0]
        .as_object()
        .ok_or_else(|| doc.error(BENCHMARK, "is not an object", "a benchmark object"))?;
    let version = top
        .get("metadata")
        .and_then(|m| m.get("guidellm_version"))
        .and_then(Value::as_str)
        .map(|v| cut(v, 64));
    let spec = top
        .get("config")
        .and_then(|c| c.get("spec"))
        .ok_or_else(|| doc.error("config.spec", "is missing", "the run's configuration"))?;
    let backend = spec.get("backend").ok_or_else(|| {
        doc.error(
            "config.spec.backend",
            "is missing",
            "the backend's configuration",
        )
    })?;
    let format = backend
        .get("request_format")
        .and_then(Value::as_str)
        .unwrap_or("");
    let api = match format {
        "/v1/chat/completions" | "chat_completions" => "chat",
        "/v1/completions" | "text_completions" => "completions",
        other => {
            return Err(doc.error(
                "config.spec.backend.request_format",
                format!("is `{}`", cut(other, 64)),
                "`/v1/chat/completions` or `/v1/completions`",
            ));
        }
    };
    let streaming = backend
        .get("stream")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_owned();

    let requests = bench.get("requests").ok_or_else(|| {
        doc.error(
            &format!("{BENCHMARK}.requests"),
            "is missing",
            "the benchmark's per-request statistics",
        )
    })?;
    let mut records = Vec::new();
    let mut first_start = f64::INFINITY;
    let mut raw = Vec::new();
    for (group, state) in [
        ("successful", Group::Ok),
        ("errored", Group::Errored),
        ("incomplete", Group::Incomplete),
    ] {
        let field = format!("{BENCHMARK}.requests.{group}");
        let list = match requests.get(group) {
            None | Some(Value::Null) => continue,
            Some(v) => doc.array(v, &field, "an array of per-request statistics")?,
        };
        for (i, r) in list.iter().enumerate() {
            let at = |f: &str| format!("{field}[{i}].{f}");
            let start = doc.number(
                r.get("request_start_time").unwrap_or(&Value::Null),
                &at("request_start_time"),
                "a start time in epoch seconds",
            )?;
            first_start = first_start.min(start);
            raw.push((state, start, r, at("")));
        }
    }
    if raw.is_empty() {
        return Err(doc.error(
            &format!("{BENCHMARK}.requests.successful"),
            "is empty",
            "at least one request",
        ));
    }
    let mut counts = [0u64; 3];
    for (index, (state, start, r, base)) in raw.into_iter().enumerate() {
        let at = |f: &str| format!("{base}{f}");
        let null = Value::Null;
        let get = |f: &str| r.get(f).unwrap_or(&null);
        let sent_at = doc.seconds(&Value::from(start - first_start), &at("request_start_time"))?;
        let e2e = match get("request_latency") {
            Value::Null => Duration::ZERO,
            v => doc.seconds(v, &at("request_latency"))?,
        };
        let ttft = match get("time_to_first_token_ms") {
            Value::Null => None,
            v => Some(doc.seconds(
                &Value::from(doc.number(v, &at("time_to_first_token_ms"), "a time in ms")? / 1e3),
                &at("time_to_first_token_ms"),
            )?),
        };
        let tokens = |f: &str| -> Result<u32, ImportError> {
            match get(f) {
                Value::Null => Ok(0),
                v => doc.count(v, &at(f), "a token count"),
            }
        };
        let (input_tokens, output_tokens) = (tokens("prompt_tokens")?, tokens("output_tokens")?);
        let outcome = match state {
            Group::Ok => {
                counts[0] += 1;
                if ttft.is_none() && streaming {
                    return Err(doc.error(
                        &at("time_to_first_token_ms"),
                        "is null in a successful streamed request",
                        "a time in ms",
                    ));
                }
                Outcome::Success
            }
            Group::Incomplete => {
                counts[2] += 1;
                Outcome::Cancelled
            }
            Group::Errored => {
                counts[1] += 1;
                let error = r
                    .get("info")
                    .and_then(|i| i.get("error"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let kind = classify(error).ok_or_else(|| {
                    doc.error(
                        &at("info.error"),
                        format!("is `{}`", cut(error.trim(), 120)),
                        "an error guidellm writes (an httpx error with an HTTP status, a connect, timeout or protocol error)",
                    )
                })?;
                Outcome::Failed {
                    kind,
                    after_first_byte: ttft.is_some(),
                }
            }
        };
        let ok = outcome == Outcome::Success;
        // guidellm keeps no per-token times: one event, no ITL gaps.
        let offsets: Vec<u32> = ttft
            .filter(|_| ok)
            .map(|t| vec![us32(t)])
            .unwrap_or_default();
        records.push(RequestRecord {
            ttft: if ok { ttft } else { None },
            event_bytes: vec![1; offsets.len()],
            event_offsets_us: offsets,
            output_tokens: if ok { output_tokens } else { 0 },
            input_tokens,
            ..imported_record(index as u64, Phase::Measured, sent_at, e2e, outcome)
        });
    }

    let strategy = bench
        .get("config")
        .and_then(|c| c.get("strategy"))
        .cloned()
        .unwrap_or(Value::Null);
    let (load, load_words) = load(doc, &strategy, records.len() as u64)?;
    let data = spec.get("data").cloned().unwrap_or(Value::Null);
    let data_text = data.to_string();
    let data_kinds: Vec<String> = data
        .as_array()
        .map(|a| a.iter().map(|d| cut(&text(d.get("kind")), 32)).collect())
        .unwrap_or_default();
    let mut shape = BTreeMap::new();
    shape.insert("source".to_owned(), "guidellm".to_owned());
    shape.insert("api".to_owned(), api.to_owned());
    shape.insert("streaming".to_owned(), streaming.to_string());
    shape.insert("load".to_owned(), load_words);
    shape.insert(
        "data".to_owned(),
        format!(
            "{}, sha256 {}",
            data_kinds.join(", "),
            &hex_sha256(data_text.as_bytes())[..12]
        ),
    );
    let epoch = |field: &str| {
        bench
            .get(field)
            .and_then(Value::as_f64)
            .filter(|t| t.is_finite() && *t > 0.0 && *t < 1e11)
            .map(|t| SystemTime::UNIX_EPOCH + Duration::from_secs_f64(t))
    };
    let mut warnings = Vec::new();
    if counts[2] > 0 {
        warnings.push(format!(
            "{} request(s) were still running when guidellm stopped (`requests.incomplete`): counted as cancelled",
            counts[2]
        ));
    }
    if let Some(n) = spec
        .get("metrics")
        .and_then(|m| m.get("sample_size"))
        .and_then(Value::as_u64)
    {
        warnings.push(format!(
            "guidellm kept a sample of {n} requests per status (`metrics.sample_size`): the bundle holds that sample, not every request"
        ));
    }
    let absent = vec![
        "ttfb: guidellm does not time response headers".to_owned(),
        "itl: guidellm keeps each request's mean inter-token latency, not the gaps; metrics.itl_ms is empty".to_owned(),
        "warm-up and cool-down: requests guidellm excluded are not in the file".to_owned(),
        "client: guidellm's CPU use and scheduling delay are not recorded in a bundle form; tokengate's validity checks were not run".to_owned(),
        "token source: guidellm takes the server's usage, else counts the text, and does not say which; recorded as `usage`".to_owned(),
    ];
    Ok(Imported {
        version,
        api,
        model: text(backend.get("model")),
        tokenizer: text(spec.get("tokenizer").and_then(|t| t.get("model"))),
        streaming,
        shape,
        load,
        records,
        absent,
        warnings,
        started_at: epoch("start_time"),
        ended_at: epoch("end_time"),
        summary: None,
    })
}

#[derive(Debug, Clone, Copy)]
enum Group {
    Ok,
    Errored,
    Incomplete,
}

/// The load shape from the benchmark's `config.strategy`.
fn load(doc: &Doc<'_>, s: &Value, requests: u64) -> Result<(LoadInfo, String), ImportError> {
    let field = format!("{BENCHMARK}.config.strategy");
    let kind = s.get("type_").and_then(Value::as_str).unwrap_or("");
    let num = |k: &str| s.get(k).and_then(Value::as_f64);
    let info =
        |mode: &str, concurrency: Option<u32>, rate: Option<f64>, arrival: Option<&str>| LoadInfo {
            mode: mode.into(),
            concurrency,
            rate,
            arrival: arrival.map(str::to_owned),
            requests: Some(requests),
            duration_s: None,
            warmup_requests: 0,
        };
    let as_u32 = |v: Option<f64>| {
        v.filter(|v| *v >= 1.0 && *v <= u32::MAX as f64)
            .map(|v| v as u32)
    };
    Ok(match kind {
        "synchronous" => (
            info("closed", Some(1), None, None),
            "closed, concurrency 1".into(),
        ),
        "concurrent" => {
            let c = as_u32(num("streams")).ok_or_else(|| {
                doc.error(
                    &format!("{field}.streams"),
                    "is not a positive count",
                    "the number of streams",
                )
            })?;
            (
                info("closed", Some(c), None, None),
                format!("closed, concurrency {c}"),
            )
        }
        "throughput" => {
            let c = as_u32(num("max_concurrency"));
            let words = c.map_or("every request at once (throughput)".to_owned(), |c| {
                format!("every request at once, max concurrency {c} (throughput)")
            });
            (info("closed", c, None, None), words)
        }
        "constant" | "poisson" => {
            let r = num("rate").filter(|r| *r > 0.0).ok_or_else(|| {
                doc.error(
                    &format!("{field}.rate"),
                    "is not a positive rate",
                    "requests per second",
                )
            })?;
            let arrival = if kind == "poisson" {
                "poisson"
            } else {
                "constant"
            };
            (
                info("open", None, Some(r), Some(arrival)),
                format!("open, rate {r} req/s, {arrival}"),
            )
        }
        other => {
            return Err(doc.error(
                &format!("{field}.type_"),
                format!("is `{}`", cut(other, 64)),
                "`synchronous`, `concurrent`, `throughput`, `constant` or `poisson`",
            ));
        }
    })
}

/// The kind of a guidellm error text: httpx's `HTTPStatusError` names the
/// status (`Server error '500 Internal Server Error' for url …`); other
/// errors are named by their exception.
fn classify(error: &str) -> Option<ErrorKind> {
    let status = error
        .split('\'')
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse::<u16>().ok());
    if let Some(code) = status {
        return ErrorKind::of_status(code);
    }
    let has = |names: &[&str]| names.iter().any(|n| error.contains(n));
    if has(&["ConnectError", "ConnectTimeout", "Connection refused"]) {
        Some(ErrorKind::Connect)
    } else if has(&[
        "ReadTimeout",
        "WriteTimeout",
        "PoolTimeout",
        "TimeoutException",
        "TimeoutError",
    ]) {
        Some(ErrorKind::Timeout)
    } else if has(&[
        "RemoteProtocolError",
        "ReadError",
        "StreamError",
        "incomplete chunked read",
    ]) {
        Some(ErrorKind::StreamInterrupted)
    } else if has(&["JSONDecodeError"]) {
        Some(ErrorKind::MalformedEvent)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_httpx_status_and_transport_errors() {
        assert_eq!(
            classify(
                "Server error '500 Internal Server Error' for url 'http://x/v1/chat/completions'"
            ),
            Some(ErrorKind::Http5xx)
        );
        assert_eq!(
            classify("Client error '429 Too Many Requests' for url 'http://x'"),
            Some(ErrorKind::Http429)
        );
        assert_eq!(
            classify("ConnectError: [Errno 111] Connection refused"),
            Some(ErrorKind::Connect)
        );
        assert_eq!(classify("ReadTimeout"), Some(ErrorKind::Timeout));
        assert_eq!(classify("something else"), None);
    }
}
