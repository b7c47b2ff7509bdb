//! `vllm bench serve --save-result --save-detailed`: one JSON object whose
//! per-request columns (`ttfts`, `itls`, `latencies`, `start_times`,
//! `input_lens`, `output_lens`, `errors`; seconds and token counts) become
//! one record each. Written by `vllm/benchmarks/serve.py` (the columns) and
//! `vllm/benchmarks/lib/endpoint_request_func.py` (what each one times);
//! `docs/import.md` maps every field.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::bundle::{Imported, imported_record};
use super::error::ImportError;
use super::json::{Doc, describe};
use crate::bundle::LoadInfo;
use crate::client::{ErrorKind, Outcome, Phase, RequestRecord};
use crate::metrics::us32;
use crate::wording::foreign::cut;

const SAVE_DETAILED: &str = "(run `vllm bench serve` with `--save-result --save-detailed`)";

/// The per-request columns, all of one length.
const COLUMNS: [&str; 7] = [
    "ttfts",
    "itls",
    "latencies",
    "start_times",
    "input_lens",
    "output_lens",
    "errors",
];

pub(super) fn parse(doc: &Doc<'_>, root: &Value) -> Result<Imported, ImportError> {
    let top = doc.root(root, "a JSON object")?;
    let backend = doc.string(
        doc.get(top, "backend", "the benchmark backend, e.g. `openai-chat`")?,
        "backend",
        "a backend name",
    )?;
    let api = match backend {
        "openai-chat" => "chat",
        "openai" | "vllm" => "completions",
        other => {
            return Err(doc.error(
                "backend",
                format!("is `{}`", cut(other, 64)),
                "`openai-chat`, `openai` or `vllm` (a streaming chat or completions backend)",
            ));
        }
    };
    let columns = columns(doc, top)?;
    let n = columns[0].len();
    for (name, col) in COLUMNS.iter().zip(&columns) {
        if col.len() != n {
            return Err(doc.error(
                name,
                format!("has {} entries, `ttfts` has {n}", col.len()),
                "one entry per request in every per-request column",
            ));
        }
    }
    if n == 0 {
        return Err(doc.error("ttfts", "is empty", "at least one request"));
    }
    let [
        ttfts,
        itls,
        latencies,
        starts,
        input_lens,
        output_lens,
        errors,
    ] = columns[..]
    else {
        return Err(doc.error("ttfts", "is missing", "every per-request column"));
    };

    // `start_times` are `time.perf_counter()` readings: only their
    // differences mean something.
    let mut start_s = Vec::with_capacity(n);
    for (i, v) in starts.iter().enumerate() {
        start_s.push(doc.number(
            v,
            &format!("start_times[{i}]"),
            "a perf_counter reading in seconds",
        )?);
    }
    let first = start_s.iter().copied().fold(f64::INFINITY, f64::min);

    let mut records = Vec::with_capacity(n);
    for i in 0..n {
        let at = |c: &str| format!("{c}[{i}]");
        let sent_at = doc.seconds(&Value::from(start_s[i] - first), &at("start_times"))?;
        let ttft = doc.seconds(&ttfts[i], &at("ttfts"))?;
        let latency = doc.seconds(&latencies[i], &at("latencies"))?;
        let input_tokens = doc.count(&input_lens[i], &at("input_lens"), "a prompt token count")?;
        let output_tokens =
            doc.count(&output_lens[i], &at("output_lens"), "an output token count")?;
        let error = match &errors[i] {
            Value::Null => "",
            v => doc.string(v, &at("errors"), "an error message (`\"\"` for a success)")?,
        };
        let gaps = doc.array(
            &itls[i],
            &at("itls"),
            "an array of inter-token gaps in seconds",
        )?;
        let failed = !error.is_empty() || (ttft.is_zero() && latency.is_zero());
        let outcome = if failed {
            let (kind, after_first_byte) = classify(error, !ttft.is_zero()).ok_or_else(|| {
                doc.error(
                    &at("errors"),
                    format!("is `{}`", cut(error.trim(), 120)),
                    "an error vLLM's benchmark writes (an HTTP reason phrase, an aiohttp or asyncio exception, or its own \"Never received …\" message)",
                )
            })?;
            Outcome::Failed {
                kind,
                after_first_byte,
            }
        } else {
            Outcome::Success
        };
        let mut offsets = Vec::new();
        if !failed {
            let mut t = ttft;
            offsets.push(us32(t));
            for (j, g) in gaps.iter().enumerate() {
                t += doc.seconds(g, &format!("itls[{i}][{j}]"))?;
                offsets.push(us32(t));
            }
        }
        records.push(RequestRecord {
            ttft: (!failed).then_some(ttft),
            event_bytes: vec![1; offsets.len()],
            event_offsets_us: offsets,
            output_tokens: if failed { 0 } else { output_tokens },
            input_tokens,
            ..imported_record(i as u64, Phase::Measured, sent_at, latency, outcome)
        });
    }

    let mut warnings = Vec::new();
    let succeeded = records
        .iter()
        .filter(|r| r.outcome == Outcome::Success)
        .count() as u64;
    if let Some(completed) = top.get("completed").and_then(Value::as_u64)
        && completed != succeeded
    {
        warnings.push(format!(
            "the file's `completed` is {completed}, but {succeeded} of its {n} requests have no error"
        ));
    }

    let (load, load_words) = load(doc, top, n as u64)?;
    let text = |field: &str| {
        top.get(field)
            .and_then(Value::as_str)
            .map(|s| s.to_owned())
            .unwrap_or_default()
    };
    let mut shape = BTreeMap::new();
    shape.insert("source".to_owned(), "vllm bench serve".to_owned());
    shape.insert("backend".to_owned(), backend.to_owned());
    shape.insert("api".to_owned(), api.to_owned());
    shape.insert("streaming".to_owned(), "true".to_owned());
    shape.insert("load".to_owned(), load_words);

    let date = text("date");
    let mut absent = vec![
        "ttfb: vllm bench serve does not time response headers".to_owned(),
        "warm-up: vllm bench serve's warm-up requests (`--num-warmups`) are not in the file".to_owned(),
        "workload: the dataset, prompt lengths, max_tokens, sampling and seed are not in the file; the workload digest covers the backend, the API and the load only".to_owned(),
        "endpoint: the base URL is not in the file".to_owned(),
        "client: vllm bench serve's CPU use and scheduling delay are not in the file; tokengate's validity checks (client probe, rate, output lengths) were not run".to_owned(),
        "token source: vllm counts output tokens from the server's usage, else with its tokenizer, and does not say which; recorded as `usage`".to_owned(),
    ];
    absent.push(if date.is_empty() {
        "started_at, ended_at: the file has no start time".to_owned()
    } else {
        format!(
            "started_at, ended_at: the file's `date` ({}) is local time in an unknown zone",
            cut(&date, 32)
        )
    });

    Ok(Imported {
        version: None,
        api,
        model: text("model_id"),
        tokenizer: text("tokenizer_id"),
        streaming: true,
        shape,
        load,
        records,
        absent,
        warnings,
        started_at: None,
        ended_at: None,
        summary: None,
    })
}

/// The per-request columns in [`COLUMNS`] order; a missing one is named with
/// the flag that writes it.
fn columns<'v>(
    doc: &Doc<'_>,
    top: &'v Map<String, Value>,
) -> Result<Vec<&'v [Value]>, ImportError> {
    COLUMNS
        .iter()
        .map(|&name| {
            let v = top.get(name).ok_or_else(|| {
                doc.error(
                    name,
                    "is missing",
                    format!("a per-request array {SAVE_DETAILED}"),
                )
            })?;
            doc.array(v, name, &format!("a per-request array {SAVE_DETAILED}"))
        })
        .collect()
}

/// The load shape from `request_rate`, `burstiness` and `max_concurrency`.
fn load(
    doc: &Doc<'_>,
    top: &Map<String, Value>,
    requests: u64,
) -> Result<(LoadInfo, String), ImportError> {
    let rate = match top.get("request_rate") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s == "inf" => None,
        Some(v) => {
            let r = doc.number(
                v,
                "request_rate",
                "a rate in requests per second or `\"inf\"`",
            )?;
            if r <= 0.0 {
                return Err(doc.error(
                    "request_rate",
                    format!("is {}", describe(v)),
                    "a positive rate in requests per second or `\"inf\"`",
                ));
            }
            Some(r)
        }
    };
    let concurrency = match top.get("max_concurrency") {
        None | Some(Value::Null) => None,
        Some(v) => Some(doc.count(
            v,
            "max_concurrency",
            "a number of concurrent requests or null",
        )?),
    };
    let burstiness = match top.get("burstiness") {
        None | Some(Value::Null) => 1.0,
        Some(v) => doc.number(v, "burstiness", "a positive number")?,
    };
    let info = |mode: &str, arrival: Option<String>| LoadInfo {
        mode: mode.into(),
        concurrency,
        rate,
        arrival,
        requests: Some(requests),
        duration_s: None,
        warmup_requests: 0,
    };
    Ok(match (rate, concurrency) {
        (None, Some(c)) => (info("closed", None), format!("closed, concurrency {c}")),
        (None, None) => (
            info("closed", None),
            "every request at once (request rate inf, no max concurrency)".to_owned(),
        ),
        (Some(r), c) => {
            // vLLM draws gaps from a gamma distribution of shape
            // `burstiness`; shape 1 is the exponential (Poisson arrivals).
            let arrival = if burstiness == 1.0 {
                "poisson".to_owned()
            } else {
                format!("gamma, burstiness {burstiness}")
            };
            let cap = c
                .map(|c| format!(", max concurrency {c}"))
                .unwrap_or_default();
            (
                info("open", Some(arrival.clone())),
                format!("open, rate {r} req/s, {arrival}{cap}"),
            )
        }
    })
}

/// The error kind of one of vLLM's error texts, and whether the response
/// had started; `None` for a text it does not write. `errors[i]` is an
/// HTTP reason phrase (`response.reason`), a formatted Python traceback,
/// the JSON of an error event, or one of its own messages.
fn classify(error: &str, got_token: bool) -> Option<(ErrorKind, bool)> {
    let e = error.trim();
    if e.starts_with("Never received") {
        return Some((ErrorKind::EmptyResponse, true));
    }
    if e.starts_with("Stream ended without") {
        return Some((ErrorKind::StreamInterrupted, true));
    }
    if e.starts_with('{') {
        return Some((ErrorKind::StreamErrorEvent, true));
    }
    if let Some(kind) = reason_phrase(e) {
        return Some((kind, false));
    }
    // A traceback: its last line is `module.ExceptionType: message`.
    let last = e.lines().rev().find(|l| !l.trim().is_empty())?.trim();
    let exception = last.split(':').next().unwrap_or(last);
    let name = exception.rsplit('.').next().unwrap_or(exception);
    let kind = match name {
        "ClientConnectorError"
        | "ClientConnectorDNSError"
        | "ClientConnectorSSLError"
        | "ClientConnectorCertificateError"
        | "ConnectionRefusedError"
        | "InvalidURL"
        | "InvalidUrlClientError" => ErrorKind::Connect,
        "TimeoutError"
        | "ServerTimeoutError"
        | "ConnectionTimeoutError"
        | "SocketTimeoutError"
        | "CancelledError" => ErrorKind::Timeout,
        "ServerDisconnectedError"
        | "ClientPayloadError"
        | "ClientOSError"
        | "ConnectionResetError"
        | "TransferEncodingError"
        | "ContentLengthError" => {
            if got_token {
                ErrorKind::StreamInterrupted
            } else {
                ErrorKind::Connect
            }
        }
        "JSONDecodeError" | "KeyError" | "IndexError" | "UnicodeDecodeError" | "LineTooLong" => {
            ErrorKind::MalformedEvent
        }
        _ => return None,
    };
    Some((kind, got_token))
}

/// The kind of an HTTP reason phrase (RFC 9110 §15 and RFC 6585).
fn reason_phrase(e: &str) -> Option<ErrorKind> {
    Some(match e {
        "Too Many Requests" => ErrorKind::Http429,
        "Internal Server Error"
        | "Not Implemented"
        | "Bad Gateway"
        | "Service Unavailable"
        | "Gateway Timeout"
        | "HTTP Version Not Supported"
        | "Insufficient Storage" => ErrorKind::Http5xx,
        "Bad Request"
        | "Unauthorized"
        | "Payment Required"
        | "Forbidden"
        | "Not Found"
        | "Method Not Allowed"
        | "Not Acceptable"
        | "Proxy Authentication Required"
        | "Request Timeout"
        | "Conflict"
        | "Gone"
        | "Length Required"
        | "Precondition Failed"
        | "Payload Too Large"
        | "Content Too Large"
        | "URI Too Long"
        | "Unsupported Media Type"
        | "Unprocessable Entity"
        | "Unprocessable Content"
        | "Request Header Fields Too Large" => ErrorKind::Http4xx,
        "Moved Permanently" | "Found" | "See Other" | "Temporary Redirect"
        | "Permanent Redirect" => ErrorKind::Http3xx,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_reason_phrases_tracebacks_and_own_messages() {
        assert_eq!(
            classify("Internal Server Error", false),
            Some((ErrorKind::Http5xx, false))
        );
        assert_eq!(
            classify("Too Many Requests", false),
            Some((ErrorKind::Http429, false))
        );
        let tb = "Traceback (most recent call last):\n  File \"x.py\", line 1\naiohttp.client_exceptions.ClientConnectorError: Cannot connect to host 127.0.0.1:1\n";
        assert_eq!(classify(tb, false), Some((ErrorKind::Connect, false)));
        let cut_stream = "Traceback (most recent call last):\naiohttp.client_exceptions.ClientPayloadError: Response payload is not completed\n";
        assert_eq!(
            classify(cut_stream, true),
            Some((ErrorKind::StreamInterrupted, true))
        );
        assert_eq!(
            classify(
                "Never received a valid chunk to calculate TTFT.This response will be marked as failed!",
                false
            ),
            Some((ErrorKind::EmptyResponse, true))
        );
        assert_eq!(classify("something else entirely", false), None);
    }
}
