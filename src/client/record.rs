//! `RequestRecord`: everything measured about one request, built by the
//! client and consumed by the recorder. Times are offsets on one monotonic
//! clock (the run's epoch), so records from many tasks line up exactly.

use std::time::Duration;

use crate::bundle::SampleOutcome;
// The persisted enums are the bundle's; the client's modules name them here.
pub(crate) use crate::bundle::{ErrorKind, TokenSource};

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Complete response with a finish reason (and `[DONE]` when streaming).
    Success,
    /// Cancelled on purpose by the workload's cancellation plan; excluded
    /// from the error rate.
    Cancelled,
    /// Failed. `after_first_byte` is true when the response had started
    /// (status 200 and at least the headers) — those count as stream errors.
    Failed {
        kind: ErrorKind,
        after_first_byte: bool,
    },
}

impl From<Outcome> for SampleOutcome {
    /// The bundle's sample column keeps the kind, not whether the response
    /// had started (that is counted in `metrics.stream_error_rate`).
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Success => SampleOutcome::Ok,
            Outcome::Cancelled => SampleOutcome::Cancelled,
            Outcome::Failed { kind, .. } => SampleOutcome::Failed(kind),
        }
    }
}

/// Whether a record belongs to the warm-up (excluded from metrics) or the
/// measurement window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Warmup,
    Measured,
}

/// One request, measured. Offsets are from the run epoch (`sent_at`) or from
/// the moment the request was handed to the connection (all others).
#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// Index in the plan (0-based, warm-up included).
    pub index: u64,
    /// Prompt class index in the plan (0 for fixed prompts without classes).
    pub class: u16,
    pub phase: Phase,
    /// 1 for a first attempt; >1 when the retry policy re-sent it. The
    /// record describes the last attempt.
    pub attempts: u32,
    /// When the schedule wanted the request to start (open loop), offset from the epoch.
    pub scheduled_at: Duration,
    /// When the request was handed to the connection, offset from the epoch.
    pub sent_at: Duration,
    /// Response headers received, since `sent_at`.
    pub ttfb: Option<Duration>,
    /// First content-bearing event, since `sent_at` (streaming only).
    pub ttft: Option<Duration>,
    /// Last byte of the stream/body (or the failure), since `sent_at`.
    pub e2e: Duration,
    /// Arrival of each content-bearing event, microseconds since `sent_at`.
    pub event_offsets_us: Vec<u32>,
    /// Bytes of generated text in each content-bearing event (same length
    /// as `event_offsets_us`); used to spread multi-token events.
    pub event_bytes: Vec<u32>,
    /// Output tokens, from `token_source`.
    pub output_tokens: u32,
    pub token_source: TokenSource,
    /// The server's `usage.completion_tokens` was refused as implausible
    /// (not a count, above `max_tokens`, …) and `token_source` counted
    /// instead.
    pub usage_refused: bool,
    /// Prompt tokens: server usage, else the plan's own count.
    pub input_tokens: u32,
    pub finish_reason: Option<String>,
    /// Whether the quality expectation of the prompt held (`None` when the
    /// prompt has none or the request failed).
    pub quality_pass: Option<bool>,
    /// `Retry-After` of a 429 or 503 answer, for the driver's retry policy.
    pub retry_after: Option<Duration>,
    pub outcome: Outcome,
}

impl RequestRecord {
    /// Inter-token latencies in microseconds (DESIGN.md §3): gaps between
    /// successive content events; an event that carried k>1 tokens has its
    /// gap divided evenly over k. Tokens per event are apportioned from
    /// `output_tokens` in proportion to each event's text bytes (largest
    /// remainder), because servers do not say how many tokens an event
    /// carried. Calls `f(gap_us, k)` once per event after the first.
    pub fn for_each_itl(&self, mut f: impl FnMut(f64, u32)) {
        let n = self.event_offsets_us.len();
        if n < 2 {
            return;
        }
        let total_tokens = self.output_tokens as u64;
        let events = n as u64;
        // Common case: one token per event.
        if total_tokens <= events {
            for w in self.event_offsets_us.windows(2) {
                f(w[1].saturating_sub(w[0]) as f64, 1);
            }
            return;
        }
        let total_bytes: u64 = self.event_bytes.iter().map(|&b| b as u64).sum();
        for i in 1..n {
            let gap = self.event_offsets_us[i].saturating_sub(self.event_offsets_us[i - 1]) as f64;
            // Without byte counts, spread the tokens evenly over the events.
            let k = (total_tokens * self.event_bytes[i] as u64)
                .checked_div(total_bytes)
                .unwrap_or(total_tokens / events)
                .max(1);
            let k = k.min(u32::MAX as u64) as u32;
            f(gap / k as f64, k);
        }
    }

    /// Time per output token after the first: (E2E − TTFT) / (tokens − 1).
    pub fn tpot(&self) -> Option<Duration> {
        let ttft = self.ttft?;
        if self.output_tokens < 2 || !matches!(self.outcome, Outcome::Success) {
            return None;
        }
        Some(self.e2e.saturating_sub(ttft) / (self.output_tokens - 1))
    }
}
