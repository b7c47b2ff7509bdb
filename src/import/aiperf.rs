//! AIPerf's `profile_export.jsonl` (`aiperf profile`, in
//! `--output-artifact-dir`): one JSON object a line per request, with
//! `metadata` (`request_start_ns`, `request_end_ns`, `benchmark_phase`,
//! `was_cancelled`), `metrics` (each `{value, unit}`: `time_to_first_token`,
//! `request_latency`, `inter_chunk_latency`, token counts) and, for a failed
//! request, `error` (`code`, `type`, `message`). Written by AIPerf's record
//! export (`aiperf/…/record_export_jsonl_writer.py`); `docs/import.md` maps
//! every field.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::bundle::{Imported, imported_record};
use super::error::ImportError;
use super::json::Doc;
use crate::bundle::LoadInfo;
use crate::client::{ErrorKind, Outcome, Phase, RequestRecord, TokenSource};
use crate::metrics::us32;
use crate::wording::foreign::cut;

/// One line, read.
struct Line<'v> {
    at: String,
    start_ns: u64,
    end_ns: u64,
    warmup: bool,
    cancelled: bool,
    v: &'v Value,
}

pub(super) fn parse(doc: &Doc<'_>, bytes: &[u8]) -> Result<Imported, ImportError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ImportError::NotJson {
        path: doc.path.to_owned(),
        detail: format!("not UTF-8 text ({e})"),
        expected: "AIPerf's profile_export.jsonl",
    })?;
    let mut values = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line).map_err(|e| ImportError::NotJson {
            path: doc.path.to_owned(),
            detail: format!("line {}: {e}", i + 1),
            expected: "AIPerf's profile_export.jsonl: one JSON object a line",
        })?;
        values.push((i + 1, v));
    }
    if values.is_empty() {
        return Err(doc.error(
            "(line 1)",
            "is missing: the file is empty",
            "one record a line",
        ));
    }
    let mut lines = Vec::with_capacity(values.len());
    for (n, v) in &values {
        let at = format!("line {n}");
        let meta = v.get("metadata").ok_or_else(|| {
            doc.error(
                &format!("{at}: metadata"),
                "is missing",
                "AIPerf's per-request record (`metadata`, `metrics`)",
            )
        })?;
        let ns = |f: &str| -> Result<u64, ImportError> {
            meta.get(f).and_then(Value::as_u64).ok_or_else(|| {
                doc.error(
                    &format!("{at}: metadata.{f}"),
                    "is missing or not a whole number",
                    "a time in epoch nanoseconds",
                )
            })
        };
        let (start_ns, end_ns) = (ns("request_start_ns")?, ns("request_end_ns")?);
        let phase = meta
            .get("benchmark_phase")
            .and_then(Value::as_str)
            .unwrap_or("profiling");
        lines.push(Line {
            at,
            start_ns,
            end_ns: end_ns.max(start_ns),
            warmup: phase == "warmup",
            cancelled: meta
                .get("was_cancelled")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            v,
        });
    }
    let first = lines.iter().map(|l| l.start_ns).min().unwrap_or(0);
    let last = lines.iter().map(|l| l.end_ns).max().unwrap_or(0);
    let mut records = Vec::with_capacity(lines.len());
    let mut server_counts = 0u64;
    for (index, l) in lines.iter().enumerate() {
        let metric = |name: &str| {
            l.v.get("metrics")
                .and_then(|m| m.get(name))
                .and_then(|m| m.get("value"))
        };
        let ms = |name: &str| -> Result<Option<Duration>, ImportError> {
            match metric(name) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => {
                    let field = format!("{}: metrics.{name}.value", l.at);
                    let x = doc.number(v, &field, "a time in ms")?;
                    Ok(Some(doc.seconds(&Value::from(x / 1e3), &field)?))
                }
            }
        };
        let count = |name: &str| -> Result<Option<u32>, ImportError> {
            match metric(name) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => Some(doc.count(
                    v,
                    &format!("{}: metrics.{name}.value", l.at),
                    "a token count",
                ))
                .transpose(),
            }
        };
        let sent_at = Duration::from_nanos(l.start_ns - first);
        let e2e = ms("request_latency")?.unwrap_or(Duration::from_nanos(l.end_ns - l.start_ns));
        let ttft = ms("time_to_first_token")?;
        let usage_out = count("usage_completion_tokens")?;
        let (output_tokens, token_source) = match usage_out {
            Some(n) => (n, TokenSource::Usage),
            None => (
                count("output_token_count")?.unwrap_or(0),
                TokenSource::Tokenizer,
            ),
        };
        if usage_out.is_some() {
            server_counts += 1;
        }
        let input_tokens = match count("usage_prompt_tokens")? {
            Some(n) => n,
            None => count("input_sequence_length")?
                .or(count("error_isl")?)
                .unwrap_or(0),
        };
        let outcome = if let Some(err) = l.v.get("error").filter(|e| !e.is_null()) {
            let code = err.get("code").and_then(Value::as_u64);
            let kind_name = err.get("type").and_then(Value::as_str).unwrap_or("");
            let kind = classify(code, kind_name).ok_or_else(|| {
                doc.error(
                    &format!("{}: error", l.at),
                    format!(
                        "has code {} and type `{}`",
                        code.map_or("null".to_owned(), |c| c.to_string()),
                        cut(kind_name, 64)
                    ),
                    "an HTTP status code, or a connect, timeout or stream error type",
                )
            })?;
            Outcome::Failed {
                kind,
                after_first_byte: ttft.is_some(),
            }
        } else if l.cancelled {
            Outcome::Cancelled
        } else {
            if ttft.is_none() {
                return Err(doc.error(
                    &format!("{}: metrics.time_to_first_token", l.at),
                    "is missing in a successful request",
                    "a time in ms (run `aiperf profile` with `--streaming`)",
                ));
            }
            Outcome::Success
        };
        let ok = outcome == Outcome::Success;
        let mut offsets = Vec::new();
        if let (true, Some(t)) = (ok, ttft) {
            let mut t = t;
            offsets.push(us32(t));
            if let Some(gaps) = metric("inter_chunk_latency") {
                let field = format!("{}: metrics.inter_chunk_latency.value", l.at);
                for (j, g) in doc
                    .array(gaps, &field, "an array of gaps in ms")?
                    .iter()
                    .enumerate()
                {
                    let g = doc.number(g, &format!("{field}[{j}]"), "a gap in ms")?;
                    t += doc.seconds(&Value::from(g / 1e3), &format!("{field}[{j}]"))?;
                    offsets.push(us32(t));
                }
            }
        }
        let phase = if l.warmup {
            Phase::Warmup
        } else {
            Phase::Measured
        };
        records.push(RequestRecord {
            ttft: if ok { ttft } else { None },
            event_bytes: vec![1; offsets.len()],
            event_offsets_us: offsets,
            output_tokens: if ok { output_tokens } else { 0 },
            token_source,
            input_tokens,
            ..imported_record(index as u64, phase, sent_at, e2e, outcome)
        });
    }
    let measured = records
        .iter()
        .filter(|r| r.phase == Phase::Measured)
        .count();
    if measured == 0 {
        return Err(doc.error(
            "metadata.benchmark_phase",
            "is `warmup` on every line",
            "at least one `profiling` record",
        ));
    }
    let mut shape = BTreeMap::new();
    shape.insert("source".to_owned(), "aiperf".to_owned());
    shape.insert("streaming".to_owned(), "true".to_owned());
    let load = LoadInfo {
        mode: "closed".into(),
        concurrency: None,
        rate: None,
        arrival: None,
        requests: Some(measured as u64),
        duration_s: None,
        warmup_requests: (records.len() - measured) as u64,
    };
    let mut warnings = Vec::new();
    if server_counts > 0 && (server_counts as usize) < records.len() {
        warnings.push(format!(
            "{server_counts} of {} records carry the server's token counts; the others AIPerf's tokenizer count",
            records.len()
        ));
    }
    let absent = vec![
        "ttfb: AIPerf's `http_req_waiting` starts when the request was sent, not when it was handed to the connection; not mapped".to_owned(),
        "api, model, tokenizer, load: profile_export.jsonl does not record the endpoint type, model, concurrency or rate (they are in AIPerf's profile_export_aiperf.json); the workload digest covers the source only, and the load's mode is recorded as closed without a concurrency".to_owned(),
        "client: AIPerf's CPU use is not in the file; tokengate's validity checks were not run".to_owned(),
    ];
    Ok(Imported {
        version: None,
        api: "",
        model: String::new(),
        tokenizer: String::new(),
        streaming: true,
        shape,
        load,
        records,
        absent,
        warnings,
        started_at: Some(SystemTime::UNIX_EPOCH + Duration::from_nanos(first)),
        ended_at: Some(SystemTime::UNIX_EPOCH + Duration::from_nanos(last)),
        summary: None,
    })
}

/// The kind of an AIPerf error: by HTTP status, else by its type name.
fn classify(code: Option<u64>, kind: &str) -> Option<ErrorKind> {
    if let Some(kind) = code
        .and_then(|c| u16::try_from(c).ok())
        .and_then(ErrorKind::of_status)
    {
        return Some(kind);
    }
    let has = |names: &[&str]| names.iter().any(|n| kind.contains(n));
    if has(&["Connect", "ConnectionRefused"]) {
        Some(ErrorKind::Connect)
    } else if has(&["Timeout"]) {
        Some(ErrorKind::Timeout)
    } else if has(&[
        "ServerDisconnected",
        "Payload",
        "ConnectionReset",
        "IncompleteRead",
    ]) {
        Some(ErrorKind::StreamInterrupted)
    } else if has(&["JSONDecode", "SSE"]) {
        Some(ErrorKind::MalformedEvent)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_status_codes_then_type_names() {
        assert_eq!(
            classify(Some(500), "Internal Server Error"),
            Some(ErrorKind::Http5xx)
        );
        assert_eq!(classify(Some(429), ""), Some(ErrorKind::Http429));
        assert_eq!(
            classify(None, "ClientConnectorError"),
            Some(ErrorKind::Connect)
        );
        assert_eq!(classify(None, "TimeoutError"), Some(ErrorKind::Timeout));
        assert_eq!(classify(None, "Mystery"), None);
    }
}
