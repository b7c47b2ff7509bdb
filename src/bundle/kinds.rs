//! The enums whose names are persisted: written into bundle files (sample
//! outcomes, `metrics.errors`, `context.token_sources`, `context.api`) and
//! read from workload files (`retry.on`, `api`). The bundle owns them because
//! a name, once written, is part of the file format; the client and the
//! workload use them, never the other way round.

use serde::{Deserialize, Serialize};

/// Why a request failed. Every failure has exactly one kind (DESIGN.md §3).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// TCP connect refused / DNS / TLS failure before a response.
    Connect,
    /// The per-request timeout elapsed (before or during the stream).
    Timeout,
    /// The response headers exceeded what the client accepts (hyper's
    /// limits: about 400 KiB or 100 headers) before any status was read.
    ResponseHeadersTooLarge,
    /// HTTP 3xx: a redirect, never followed. An OpenAI-compatible endpoint
    /// answers at its own URL; one that redirects is misconfigured (or the
    /// endpoint URL is the wrong one).
    #[serde(rename = "http_3xx")]
    Http3xx,
    /// HTTP 4xx other than 429 and context overflow (and a 1xx status).
    #[serde(rename = "http_4xx")]
    Http4xx,
    /// HTTP 429 Too Many Requests.
    #[serde(rename = "http_429")]
    Http429,
    /// HTTP 5xx.
    #[serde(rename = "http_5xx")]
    Http5xx,
    /// HTTP 400 because the prompt plus `max_tokens` exceeds the context.
    ContextOverflow,
    /// The stream ended (or the connection broke) without `finish_reason`
    /// or `[DONE]`.
    StreamInterrupted,
    /// The server reported an error inside a 200 response: an SSE event of
    /// type `error` (whatever its data), or an `{"error": …}` chunk or body.
    StreamErrorEvent,
    /// An SSE event or body that is not the JSON it should be.
    MalformedEvent,
    /// HTTP 200 with no content at all.
    EmptyResponse,
    /// A streaming request answered with one JSON body instead of an SSE
    /// stream: the server ignored `"stream": true`.
    NotStreamed,
    /// A body compressed with a `Content-Encoding` the client never asked
    /// for (it sends no `Accept-Encoding`), so it cannot be read.
    UnrequestedEncoding,
}

impl ErrorKind {
    /// All kinds, in the order reports list them.
    pub const ALL: [ErrorKind; 14] = [
        ErrorKind::Connect,
        ErrorKind::Timeout,
        ErrorKind::ResponseHeadersTooLarge,
        ErrorKind::Http3xx,
        ErrorKind::Http4xx,
        ErrorKind::Http429,
        ErrorKind::Http5xx,
        ErrorKind::ContextOverflow,
        ErrorKind::StreamInterrupted,
        ErrorKind::StreamErrorEvent,
        ErrorKind::MalformedEvent,
        ErrorKind::EmptyResponse,
        ErrorKind::NotStreamed,
        ErrorKind::UnrequestedEncoding,
    ];

    /// The stable name used in bundles and reports (`metrics.errors.KIND`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::ResponseHeadersTooLarge => "response_headers_too_large",
            ErrorKind::Http3xx => "http_3xx",
            ErrorKind::Http4xx => "http_4xx",
            ErrorKind::Http429 => "http_429",
            ErrorKind::Http5xx => "http_5xx",
            ErrorKind::ContextOverflow => "context_overflow",
            ErrorKind::StreamInterrupted => "stream_interrupted",
            ErrorKind::StreamErrorEvent => "stream_error_event",
            ErrorKind::MalformedEvent => "malformed_event",
            ErrorKind::EmptyResponse => "empty_response",
            ErrorKind::NotStreamed => "not_streamed",
            ErrorKind::UnrequestedEncoding => "unrequested_encoding",
        }
    }

    /// The kind of a stable name, if it is one.
    pub fn from_name(name: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The kind of an HTTP error status: 3xx, 429, other 4xx, 5xx; `None`
    /// for anything else (1xx, 2xx, out of range). One mapping for the
    /// client and for importers that read other tools' status codes.
    pub fn of_status(code: u16) -> Option<ErrorKind> {
        Some(match code {
            429 => ErrorKind::Http429,
            300..=399 => ErrorKind::Http3xx,
            400..=499 => ErrorKind::Http4xx,
            500..=599 => ErrorKind::Http5xx,
            _ => return None,
        })
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the output token count came from (DESIGN.md §3, in order of
/// preference); the names are the keys of `context.token_sources`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenSource {
    /// `usage.completion_tokens` reported by the server.
    Usage,
    /// Counted from the generated text with the configured tokenizer.
    Tokenizer,
    /// The number of content-bearing events (one token per event assumed).
    Events,
}

impl TokenSource {
    /// All sources, in order of preference.
    pub const ALL: [TokenSource; 3] = [
        TokenSource::Usage,
        TokenSource::Tokenizer,
        TokenSource::Events,
    ];

    /// The stable name used in bundles (`context.token_sources.NAME`).
    pub fn as_str(self) -> &'static str {
        match self {
            TokenSource::Usage => "usage",
            TokenSource::Tokenizer => "tokenizer",
            TokenSource::Events => "events",
        }
    }
}

/// Which OpenAI-compatible API to call; the name is `context.api` and part
/// of the workload digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiKind {
    /// `POST {base}/chat/completions` with `messages`.
    Chat,
    /// `POST {base}/completions` with `prompt`.
    Completions,
}

impl ApiKind {
    /// All APIs.
    pub const ALL: [ApiKind; 2] = [ApiKind::Chat, ApiKind::Completions];

    /// The stable name used in bundles and workload files.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiKind::Chat => "chat",
            ApiKind::Completions => "completions",
        }
    }
}

/// What the throughputs of a bundle (`metrics.output_tokens_per_s`,
/// `input_tokens_per_s`, `requests_per_s`) were measured over; the name is
/// `metrics.throughput_span.basis`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ThroughputBasis {
    /// The steady span: from the end of the last warm-up request (or the
    /// window start, if later) to the start of the last measured request.
    Steady,
    /// The whole measurement window: the steady span was too short, or the
    /// bundle predates it (then every throughput is per window).
    #[default]
    Window,
}

impl ThroughputBasis {
    pub const ALL: [ThroughputBasis; 2] = [ThroughputBasis::Steady, ThroughputBasis::Window];

    /// The stable name used in bundles.
    pub fn as_str(self) -> &'static str {
        match self {
            ThroughputBasis::Steady => "steady",
            ThroughputBasis::Window => "window",
        }
    }
}

/// Why a run is invalid: it did not measure what its workload configured
/// (`context.validity.problems[].kind`). An invalid run is never a pass and
/// never a fail.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The measurement window was cut short (interrupted, incomplete).
    WindowCut,
    /// With `ignore_eos` and a fixed `max_tokens`, output token counts
    /// differ from `max_tokens`: shorter (the server stopped early) or
    /// longer (the counting tokenizer is not the model's).
    OutputLength,
    /// Open loop: requests did not start at the scheduled rate.
    RateMissed,
    /// The client itself limited the measurement (`context.client.saturated`).
    ClientLimited,
}

impl ProblemKind {
    pub const ALL: [ProblemKind; 4] = [
        ProblemKind::WindowCut,
        ProblemKind::OutputLength,
        ProblemKind::RateMissed,
        ProblemKind::ClientLimited,
    ];

    /// The stable name used in bundles.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::WindowCut => "window_cut",
            ProblemKind::OutputLength => "output_length",
            ProblemKind::RateMissed => "rate_missed",
            ProblemKind::ClientLimited => "client_limited",
        }
    }
}

impl std::fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A metric computed from token counts (`context.validity.untrusted_metrics`):
/// the names are the gate's metric names (or their base before `.pNN` /
/// `.mean`), so a gate can tell which of its rules a wrong count touches.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TokenMetric {
    OutputTokensPerS,
    InputTokensPerS,
    /// `tpot.*`: (E2E − TTFT) / (tokens − 1).
    Tpot,
    /// `itl.*`: multi-token events are divided by the token count.
    Itl,
    DecodeTokensPerS,
    /// Per-token pricing only; hourly cost per response does not count tokens.
    #[serde(rename = "cost_per_1k")]
    CostPer1k,
}

impl TokenMetric {
    pub const ALL: [TokenMetric; 6] = [
        TokenMetric::OutputTokensPerS,
        TokenMetric::InputTokensPerS,
        TokenMetric::Tpot,
        TokenMetric::Itl,
        TokenMetric::DecodeTokensPerS,
        TokenMetric::CostPer1k,
    ];

    /// The gate's name of the metric (`tpot` stands for `tpot.p50`, `tpot.mean`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            TokenMetric::OutputTokensPerS => "output_tokens_per_s",
            TokenMetric::InputTokensPerS => "input_tokens_per_s",
            TokenMetric::Tpot => "tpot",
            TokenMetric::Itl => "itl",
            TokenMetric::DecodeTokensPerS => "decode_tokens_per_s",
            TokenMetric::CostPer1k => "cost_per_1k",
        }
    }

    /// Whether a gate metric (`tpot.p95`, `output_tokens_per_s`) is this
    /// one. Server metrics (`server.itl.p95`) are the server's own counts,
    /// never this.
    pub fn covers(self, metric: &str) -> bool {
        let name = self.as_str();
        metric == name
            || metric
                .strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('.'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `as_str` is what reports and `metrics.errors` write, serde is what
    /// workload files read: they must be the same names.
    fn serde_name<T: Serialize>(v: T) -> String {
        match serde_json::to_value(v) {
            Ok(serde_json::Value::String(s)) => s,
            other => panic!("expected a string, got {other:?}"),
        }
    }

    #[test]
    fn error_kind_names_are_the_serde_names_and_round_trip() {
        for k in ErrorKind::ALL {
            assert_eq!(serde_name(k), k.as_str());
            assert_eq!(ErrorKind::from_name(k.as_str()), Some(k));
            let back: ErrorKind =
                serde_json::from_value(serde_json::Value::String(k.as_str().into()))
                    .expect("its own name");
            assert_eq!(back, k);
        }
        assert_eq!(ErrorKind::from_name("http_5XX"), None);
    }

    #[test]
    fn token_source_and_api_names_are_the_serde_names() {
        for s in TokenSource::ALL {
            assert_eq!(serde_name(s), s.as_str());
        }
        for a in ApiKind::ALL {
            assert_eq!(serde_name(a), a.as_str());
        }
        for b in ThroughputBasis::ALL {
            assert_eq!(serde_name(b), b.as_str());
        }
        for k in ProblemKind::ALL {
            assert_eq!(serde_name(k), k.as_str());
        }
        for m in TokenMetric::ALL {
            assert_eq!(serde_name(m), m.as_str());
        }
    }

    #[test]
    fn persisted_names_never_change() {
        // These strings are in committed bundles and workload files.
        let errors: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            errors,
            [
                "connect",
                "timeout",
                "response_headers_too_large",
                "http_3xx",
                "http_4xx",
                "http_429",
                "http_5xx",
                "context_overflow",
                "stream_interrupted",
                "stream_error_event",
                "malformed_event",
                "empty_response",
                "not_streamed",
                "unrequested_encoding"
            ]
        );
        let sources: Vec<&str> = TokenSource::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(sources, ["usage", "tokenizer", "events"]);
        let apis: Vec<&str> = ApiKind::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(apis, ["chat", "completions"]);
        let bases: Vec<&str> = ThroughputBasis::ALL.iter().map(|b| b.as_str()).collect();
        assert_eq!(bases, ["steady", "window"]);
        let problems: Vec<&str> = ProblemKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            problems,
            [
                "window_cut",
                "output_length",
                "rate_missed",
                "client_limited"
            ]
        );
        let metrics: Vec<&str> = TokenMetric::ALL.iter().map(|m| m.as_str()).collect();
        assert_eq!(
            metrics,
            [
                "output_tokens_per_s",
                "input_tokens_per_s",
                "tpot",
                "itl",
                "decode_tokens_per_s",
                "cost_per_1k"
            ]
        );
    }

    #[test]
    fn token_metrics_cover_their_gate_metric_names_only() {
        assert!(TokenMetric::Tpot.covers("tpot.p95"));
        assert!(TokenMetric::Tpot.covers("tpot"));
        assert!(!TokenMetric::Tpot.covers("tpotx.p95"));
        assert!(!TokenMetric::Itl.covers("server.itl.p95"));
        assert!(TokenMetric::OutputTokensPerS.covers("output_tokens_per_s"));
        assert!(!TokenMetric::OutputTokensPerS.covers("ttft.p95"));
    }
}
