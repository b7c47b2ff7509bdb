//! [`Client`]: sends one request over a pooled HTTP/1.1 connection, reads
//! the SSE stream (or JSON body) and returns a [`RequestRecord`]. Every
//! failure becomes a classified [`Outcome`]; `send` never fails or panics.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};

use super::collect::{Collector, Stop};
use super::record::{ErrorKind, Outcome, Phase, RequestRecord};
use super::spec::{ApiKind, ClientConfig, RequestSpec};
use super::sse::SseDecoder;
use super::wire::RequestBody;
use crate::tokenizer::Tokenizer;

/// Bytes of a non-200 body read to classify it (enough for any error JSON).
const MAX_ERROR_BODY: usize = 64 * 1024;
/// How long to wait for an error body before classifying by status alone.
const ERROR_BODY_WAIT: Duration = Duration::from_secs(1);
/// Bytes of a non-streaming body accepted before it counts as malformed.
const MAX_BODY: usize = 64 << 20;
/// How long to wait for the end of the body after `[DONE]`, so the
/// connection can go back to the pool instead of being closed.
const DRAIN_AFTER_DONE: Duration = Duration::from_millis(250);
/// Capacity of the per-event vectors when the request sets no `max_tokens`.
const DEFAULT_EXPECTED_EVENTS: usize = 256;

/// Why a [`Client`] could not be built. No variant ever contains the API key.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the API key contains characters that cannot go in an HTTP header (value not shown)")]
    InvalidApiKey,
    #[error("cannot build the HTTP client")]
    Build(#[source] reqwest::Error),
}

/// An OpenAI-compatible endpoint client, shared by all request tasks of a run.
pub struct Client {
    http: reqwest::Client,
    url: reqwest::Url,
    config: ClientConfig,
    tokenizer: Option<Arc<Tokenizer>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.url.as_str())
            .field("config", &self.config)
            .field("tokenizer", &self.tokenizer.as_ref().map(|t| t.name()))
            .finish_non_exhaustive()
    }
}

/// What happened on the way to the body, kept outside the timed future so
/// it survives a timeout.
#[derive(Debug, Default)]
struct Progress {
    ttfb: Option<Duration>,
    /// A 2xx status and its headers arrived: later failures are stream errors.
    started: bool,
    end: Option<Instant>,
    retry_after: Option<Duration>,
}

impl Client {
    /// Build the client: one connection pool sized for the run's
    /// concurrency, Nagle off, HTTP/1.1, no redirects, no transparent
    /// retries (the driver labels its own), no proxy for loopback hosts.
    pub fn new(
        config: ClientConfig,
        tokenizer: Option<Arc<Tokenizer>>,
    ) -> Result<Client, ClientError> {
        // reqwest is built without a default crypto provider; installing one
        // twice is harmless (the second call returns Err and is ignored).
        let _ = rustls::crypto::ring::default_provider().install_default();

        let path = match config.api {
            ApiKind::Chat => "chat/completions",
            ApiKind::Completions => "completions",
        };
        // User info leaves the URL here and becomes the one Authorization
        // header below, so reqwest never adds a second one.
        let url = config.base_url.join(path).request_url();

        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if config.streaming {
            headers.insert(
                header::ACCEPT,
                HeaderValue::from_static("text/event-stream"),
            );
        }
        // Sensitive: reqwest and hyper print it as "Sensitive" in Debug output.
        if let Some(v) = config
            .base_url
            .authorization(config.api_key.as_deref())
            .map_err(|_| ClientError::InvalidApiKey)?
        {
            headers.insert(header::AUTHORIZATION, v);
        }

        let mut builder = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("tokengate/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(config.pool_size.max(1))
            .tcp_nodelay(true)
            .http1_only()
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never());
        if is_loopback(&url) {
            builder = builder.no_proxy();
        }
        builder = super::tls::roots_for(builder, &url);
        let http = builder.build().map_err(ClientError::Build)?;
        Ok(Client {
            http,
            url,
            config,
            tokenizer,
        })
    }

    /// Send one request and measure it. Never panics, never returns an
    /// error: every failure is a classified outcome in the record. The
    /// driver fills `index`, `class`, `phase`, `attempts` and `scheduled_at`
    /// afterwards (defaults here: 0, 0, measured, 1, `sent_at`).
    pub async fn send(&self, spec: &RequestSpec, epoch: Instant) -> RequestRecord {
        let streaming = self.config.streaming;
        let body = RequestBody::new(
            self.config.api,
            &self.config.model,
            &spec.prompt,
            &spec.sampling,
            streaming,
        );
        let body = serde_json::to_vec(&body)
            .expect("a request body of strings and numbers always serializes");
        let expected = spec
            .sampling
            .max_tokens
            .map_or(DEFAULT_EXPECTED_EVENTS, |n| n as usize);
        let expected = spec
            .cancel_after_events
            .map_or(expected, |n| expected.min(n as usize));
        let keep_text = spec.quality.is_some() || self.tokenizer.is_some();
        let mut collector = Collector::new(
            expected,
            keep_text,
            self.tokenizer.is_some(),
            spec.cancel_after_events,
        );
        let mut progress = Progress::default();
        let request = self.http.post(self.url.clone()).body(body).build();

        let t0 = Instant::now();
        collector.start(t0);
        let sent_at = t0.saturating_duration_since(epoch);
        // A timeout too large to add (e.g. `Duration::MAX` for "none") is
        // a deadline a year away rather than an overflow panic.
        let deadline = t0
            .checked_add(self.config.timeout)
            .unwrap_or(t0 + Duration::from_secs(365 * 86_400));

        let (outcome, finished) = match request {
            // Building only fails for an invalid URL or header, both checked
            // in `new`; classify rather than panic all the same.
            Err(_) => {
                progress.end = Some(Instant::now());
                (failed(ErrorKind::Connect, false), None)
            }
            Ok(request) => {
                let exchange = self.exchange(request, spec, &mut progress, &mut collector);
                match tokio::time::timeout_at(deadline.into(), exchange).await {
                    Ok(r) => r,
                    Err(_) => {
                        progress.end = Some(Instant::now());
                        (failed(ErrorKind::Timeout, progress.started), None)
                    }
                }
            }
        };
        let end = progress.end.unwrap_or_else(Instant::now);
        if let Some(mut response) = finished {
            // After `[DONE]` the server ends the body at once; reading that
            // end lets the connection return to the pool.
            let _ = tokio::time::timeout(DRAIN_AFTER_DONE, async {
                while let Ok(Some(_)) = response.chunk().await {}
            })
            .await;
        }

        let max_tokens = spec.sampling.max_tokens;
        let needs_input_count =
            collector.prompt_tokens.is_none() && spec.prompt_tokens.get().is_none();
        if let Some(t) = &self.tokenizer
            && !t.is_built()
            && (needs_input_count || collector.needs_tokenizer(max_tokens))
        {
            // The first response that needs a count builds the tokenizer
            // (hundreds of ms of CPU) on a blocking thread, after this
            // request's end was timed, so no other request's reads wait on
            // this worker meanwhile. Counting nothing builds it.
            let t = t.clone();
            let _ = tokio::task::spawn_blocking(move || t.count("")).await;
        }
        let (output_tokens, token_source, usage_refused) =
            collector.output_tokens(self.tokenizer.as_deref(), max_tokens);
        let input_tokens = match collector.prompt_tokens {
            Some(n) => u32::try_from(n).unwrap_or(u32::MAX),
            None => match &self.tokenizer {
                Some(t) => spec.prompt_tokens.get_or_count(|| {
                    u32::try_from(t.count(&spec.prompt.counted_text())).unwrap_or(u32::MAX)
                }),
                // No tokenizer and no planned count: nothing to report but zero.
                None => spec.prompt_tokens.get().unwrap_or(0),
            },
        };
        let quality_pass = match outcome {
            Outcome::Success => spec.quality.as_ref().map(|q| q.check(&collector.text)),
            _ => None,
        };
        RequestRecord {
            index: 0,
            class: 0,
            phase: Phase::Measured,
            attempts: 1,
            scheduled_at: sent_at,
            sent_at,
            ttfb: progress.ttfb,
            ttft: collector.ttft,
            e2e: end.saturating_duration_since(t0),
            output_tokens,
            token_source,
            usage_refused,
            input_tokens,
            finish_reason: collector.finish_reason.take(),
            quality_pass,
            retry_after: progress.retry_after,
            outcome,
            event_offsets_us: std::mem::take(&mut collector.offsets_us),
            event_bytes: std::mem::take(&mut collector.bytes),
        }
    }

    /// Send, then read the response. Returns the outcome and, after a
    /// `[DONE]`, the response so its end can be drained for reuse.
    async fn exchange(
        &self,
        request: reqwest::Request,
        spec: &RequestSpec,
        progress: &mut Progress,
        collector: &mut Collector,
    ) -> (Outcome, Option<reqwest::Response>) {
        // Some servers (llama.cpp's, among others) close a keep-alive
        // connection right after a streamed response, and some
        // (llama-cpp-python after a context overflow) close or reset it
        // after an error answer; a request sent on it in that instant sees
        // the connection end before any response byte. It goes again on
        // another connection (as browsers and curl do), at most
        // `RECONNECTS` times.
        let mut request = request;
        let mut reconnects = 0;
        let mut response = loop {
            let again = (reconnects < RECONNECTS)
                .then(|| request.try_clone())
                .flatten();
            match self.http.execute(request).await {
                Ok(r) => break r,
                Err(e) => match again {
                    Some(next) if closed_before_response(&e) => {
                        reconnects += 1;
                        request = next;
                    }
                    _ => {
                        progress.end = Some(Instant::now());
                        return (failed(classify_send_error(&e), false), None);
                    }
                },
            }
        };
        let headers_at = Instant::now();
        progress.ttfb = Some(headers_at.saturating_duration_since(collector.started_at()));
        let status = response.status();
        if !status.is_success() {
            if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE
            {
                progress.retry_after = parse_retry_after(response.headers());
            }
            // The status decides the kind; the body only refines a 4xx. A
            // server that stalls in its error body must not turn an HTTP
            // error into a timeout, so the read is bounded separately.
            let mut body = Vec::new();
            let _ =
                tokio::time::timeout(ERROR_BODY_WAIT, read_error_body(&mut response, &mut body))
                    .await;
            progress.end = Some(Instant::now());
            return (failed(classify_status(status, &body), false), None);
        }
        progress.started = true;
        // The client sends no `Accept-Encoding`: a compressed body is one it
        // cannot read, whatever it holds, so it is not read at all.
        if unrequested_encoding(response.headers()) {
            progress.end = Some(Instant::now());
            return (failed(ErrorKind::UnrequestedEncoding, true), None);
        }
        if self.config.streaming {
            self.read_stream(response, spec, progress, collector).await
        } else {
            (read_body(response, progress, collector).await, None)
        }
    }

    async fn read_stream(
        &self,
        mut response: reqwest::Response,
        spec: &RequestSpec,
        progress: &mut Progress,
        collector: &mut Collector,
    ) -> (Outcome, Option<reqwest::Response>) {
        if spec.cancel_after_events == Some(0) {
            progress.end = Some(Instant::now());
            return (Outcome::Cancelled, None);
        }
        // A JSON document instead of a stream (the server ignored
        // `"stream": true`) decodes to no event at all; its content type or
        // first byte tells it from an empty stream (an empty body stays
        // `empty_response`, whatever its type).
        let json_type = is_json(response.headers());
        let mut looks_like_json = false;
        let mut first_byte_seen = false;
        let mut decoder = SseDecoder::new();
        loop {
            let chunk = match response.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => {
                    progress.end = Some(Instant::now());
                    return (collector.end_of_stream_as(false, looks_like_json), None);
                }
                Err(_) => {
                    progress.end = Some(Instant::now());
                    return (failed(ErrorKind::StreamInterrupted, true), None);
                }
            };
            if !first_byte_seen {
                if let Some(b) = chunk.iter().find(|b| !b.is_ascii_whitespace()) {
                    first_byte_seen = true;
                    looks_like_json = json_type || *b == b'{';
                }
            }
            // One timestamp per read: events that arrived together share it.
            let now = Instant::now();
            let flow = decoder.feed(&chunk, |event| collector.on_event(event, now));
            let stop = match flow {
                Ok(ControlFlow::Continue(())) => continue,
                Ok(ControlFlow::Break(stop)) => stop,
                Err(_) => Stop::Malformed,
            };
            progress.end = Some(now);
            return match stop {
                Stop::Done => (collector.end_of_stream(true), Some(response)),
                // Dropping the response closes the connection mid-stream,
                // which is what tells the server to stop generating.
                Stop::Cancel => (Outcome::Cancelled, None),
                Stop::Malformed => (failed(ErrorKind::MalformedEvent, true), None),
                Stop::ErrorEvent => (failed(ErrorKind::StreamErrorEvent, true), None),
            };
        }
    }
}

async fn read_body(
    mut response: reqwest::Response,
    progress: &mut Progress,
    collector: &mut Collector,
) -> Outcome {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(c)) => {
                if body.len() + c.len() > MAX_BODY {
                    progress.end = Some(Instant::now());
                    return failed(ErrorKind::MalformedEvent, true);
                }
                body.extend_from_slice(&c);
            }
            Ok(None) => break,
            Err(_) => {
                progress.end = Some(Instant::now());
                return failed(ErrorKind::StreamInterrupted, true);
            }
        }
    }
    progress.end = Some(Instant::now());
    collector.on_body(&body)
}

/// Up to [`MAX_ERROR_BODY`] bytes of an error response; read errors just
/// end the body (the status already says what happened).
async fn read_error_body(response: &mut reqwest::Response, body: &mut Vec<u8>) {
    while let Ok(Some(c)) = response.chunk().await {
        let room = MAX_ERROR_BODY - body.len();
        body.extend_from_slice(&c[..c.len().min(room)]);
        if body.len() >= MAX_ERROR_BODY {
            break;
        }
    }
}

fn failed(kind: ErrorKind, after_first_byte: bool) -> Outcome {
    Outcome::Failed {
        kind,
        after_first_byte,
    }
}

/// Resends of a request whose pooled connection closed before answering.
const RECONNECTS: u32 = 2;

/// Did the connection end before the server sent anything back: closed
/// (hyper's incomplete message: EOF before a response byte), reset, or
/// broken on write? A `send` error has no response by definition; a failure
/// while connecting is not this (it is `connect`, and nothing was sent).
fn closed_before_response(e: &reqwest::Error) -> bool {
    use std::io::ErrorKind as Io;
    if e.is_connect() || e.is_timeout() {
        return false;
    }
    crate::error_sources(e).any(|s| {
        s.downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_incomplete_message)
            || s.downcast_ref::<std::io::Error>().is_some_and(|io| {
                matches!(
                    io.kind(),
                    Io::ConnectionReset
                        | Io::BrokenPipe
                        | Io::ConnectionAborted
                        | Io::UnexpectedEof
                )
            })
    })
}

/// Response headers larger than hyper accepts (its buffer or its header
/// count): the server answered, but not with a head the client can read.
fn headers_too_large(e: &reqwest::Error) -> bool {
    crate::error_sources(e)
        .find_map(|s| s.downcast_ref::<hyper::Error>())
        .is_some_and(hyper::Error::is_parse_too_large)
}

/// A failure before any response header. Refused/unreachable/TLS → connect;
/// a head too large to read → `response_headers_too_large`; a connection
/// that was accepted and then closed or reset before the response began
/// (after the resends) → `stream_interrupted` (not after the first byte).
fn classify_send_error(e: &reqwest::Error) -> ErrorKind {
    if e.is_connect() {
        ErrorKind::Connect
    } else if e.is_timeout() {
        ErrorKind::Timeout
    } else if headers_too_large(e) {
        ErrorKind::ResponseHeadersTooLarge
    } else {
        ErrorKind::StreamInterrupted
    }
}

/// A `Content-Encoding` other than `identity`: the client asks for none.
fn unrequested_encoding(headers: &HeaderMap) -> bool {
    headers.get_all(header::CONTENT_ENCODING).iter().any(|v| {
        v.to_str().map_or(true, |v| {
            v.split(',')
                .any(|c| !c.trim().is_empty() && !c.trim().eq_ignore_ascii_case("identity"))
        })
    })
}

/// A JSON content type (`application/json`, `…+json`).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase())
        .is_some_and(|t| t == "application/json" || t.ends_with("+json"))
}

/// Phrases servers use when prompt plus `max_tokens` exceed the context
/// (OpenAI `context_length_exceeded`, vLLM "maximum context length",
/// others "context window", "too many tokens", "prompt is too long").
const CONTEXT_PHRASES: [&str; 5] = [
    "context length",
    "context_length",
    "context window",
    "too many tokens",
    "prompt is too long",
];

/// A non-2xx status. 3xx → `http_3xx` (redirects are not followed); 429 →
/// `http_429`; 5xx → `http_5xx`; a 4xx whose body talks about the context
/// length → `context_overflow`; any other status (4xx, and a 1xx that
/// hyper passes on) → `http_4xx`.
fn classify_status(status: StatusCode, body: &[u8]) -> ErrorKind {
    let kind = ErrorKind::of_status(status.as_u16()).unwrap_or(ErrorKind::Http4xx);
    if kind == ErrorKind::Http4xx {
        let text = String::from_utf8_lossy(body).to_lowercase();
        if CONTEXT_PHRASES.iter().any(|p| text.contains(p)) {
            return ErrorKind::ContextOverflow;
        }
    }
    kind
}

/// `Retry-After` in delay-seconds (integer or decimal). The HTTP-date form
/// is not used by inference servers and is ignored.
fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    let secs: f64 = v.parse().ok()?;
    // Cap at a day so a hostile value cannot overflow a Duration.
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classification() {
        assert_eq!(
            classify_status(StatusCode::TOO_MANY_REQUESTS, b""),
            ErrorKind::Http429
        );
        assert_eq!(
            classify_status(StatusCode::BAD_GATEWAY, b""),
            ErrorKind::Http5xx
        );
        assert_eq!(
            classify_status(StatusCode::NOT_FOUND, b""),
            ErrorKind::Http4xx
        );
        assert_eq!(
            classify_status(StatusCode::MOVED_PERMANENTLY, b""),
            ErrorKind::Http3xx
        );
        assert_eq!(
            classify_status(StatusCode::TEMPORARY_REDIRECT, b"context length"),
            ErrorKind::Http3xx
        );
        let vllm = br#"{"object":"error","message":"This model's maximum context length is 2048 tokens. However, you requested 4000 tokens","type":"BadRequestError","code":400}"#;
        assert_eq!(
            classify_status(StatusCode::BAD_REQUEST, vllm),
            ErrorKind::ContextOverflow
        );
        let openai = br#"{"error":{"code":"context_length_exceeded"}}"#;
        assert_eq!(
            classify_status(StatusCode::BAD_REQUEST, openai),
            ErrorKind::ContextOverflow
        );
        assert_eq!(
            classify_status(StatusCode::BAD_REQUEST, b"bad temperature"),
            ErrorKind::Http4xx
        );
    }

    #[test]
    fn retry_after_seconds() {
        let mut h = HeaderMap::new();
        assert_eq!(parse_retry_after(&h), None);
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(header::RETRY_AFTER, HeaderValue::from_static(" 0.5 "));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_millis(500)));
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("-1"));
        assert_eq!(parse_retry_after(&h), None);
        h.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(parse_retry_after(&h), None);
    }

    #[test]
    fn encodings_and_json_content_types() {
        let with = |name, v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(name, HeaderValue::from_static(v));
            h
        };
        assert!(!unrequested_encoding(&HeaderMap::new()));
        assert!(!unrequested_encoding(&with(
            header::CONTENT_ENCODING,
            "identity"
        )));
        for v in ["gzip", "br", "deflate", "identity, gzip", "zstd"] {
            assert!(
                unrequested_encoding(&with(header::CONTENT_ENCODING, v)),
                "{v}"
            );
        }
        assert!(is_json(&with(header::CONTENT_TYPE, "application/json")));
        assert!(is_json(&with(
            header::CONTENT_TYPE,
            "Application/JSON; charset=utf-8"
        )));
        assert!(is_json(&with(
            header::CONTENT_TYPE,
            "application/problem+json"
        )));
        assert!(!is_json(&with(header::CONTENT_TYPE, "text/event-stream")));
        assert!(!is_json(&HeaderMap::new()));
    }

    #[test]
    fn loopback_hosts() {
        let u = |s: &str| reqwest::Url::parse(s).expect("url");
        assert!(is_loopback(&u("http://127.0.0.1:8000/v1")));
        assert!(is_loopback(&u("http://localhost/v1")));
        assert!(is_loopback(&u("http://[::1]:80/v1")));
        assert!(!is_loopback(&u("https://api.openai.com/v1")));
        assert!(!is_loopback(&u("http://10.0.0.1/v1")));
    }
}
