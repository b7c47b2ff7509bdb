//! Turning the events (or the body) of one successful HTTP response into
//! measurements: first-token time, per-event offsets and sizes, generated
//! text, finish reason, usage, and how the response ended.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use super::record::{ErrorKind, Outcome, TokenSource};
use super::sse::SseEvent;
use super::wire::{Choice, Chunk, Count};
use crate::tokenizer::Tokenizer;

/// Why the collector asked to stop reading the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// `data: [DONE]`.
    Done,
    /// The planned number of content events has arrived.
    Cancel,
    /// Data that is not a JSON chunk of the expected shape (or not UTF-8).
    Malformed,
    /// The server reported an error in the stream: an `event: error` SSE
    /// event (whatever its data) or an `{"error": ...}` chunk after a 200.
    ErrorEvent,
}

/// Everything measured from one response body.
#[derive(Debug)]
pub(crate) struct Collector {
    t0: Instant,
    pub(crate) ttft: Option<Duration>,
    pub(crate) offsets_us: Vec<u32>,
    pub(crate) bytes: Vec<u32>,
    /// Content-bearing events (streaming) or 1 for a non-streaming body
    /// with content.
    pub(crate) content_events: u32,
    /// Data events other than `[DONE]` (content or not).
    data_events: u32,
    /// The answer text (`content` / `text`), kept only when a quality check
    /// or a tokenizer count may need it.
    pub(crate) text: String,
    /// Reasoning text and tool-call arguments, kept only for a tokenizer
    /// count (a quality check looks at the answer alone).
    extra: String,
    keep_text: bool,
    keep_extra: bool,
    pub(crate) finish_reason: Option<String>,
    pub(crate) prompt_tokens: Option<u64>,
    completion_tokens: Option<Count>,
    cancel_after: Option<u32>,
}

/// Output tokens of one response beyond any model's reach: a larger
/// `usage.completion_tokens` is not the server's own count.
const MAX_PLAUSIBLE_OUTPUT_TOKENS: u64 = 1 << 24;

fn non_empty<T: AsRef<str>>(t: &Option<T>) -> Option<&str> {
    t.as_ref().map(AsRef::as_ref).filter(|s| !s.is_empty())
}

impl<'a> AsRef<str> for super::wire::Text<'a> {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Collector {
    /// `expected_tokens` sizes the per-event vectors so they never grow
    /// while the stream is read.
    pub(crate) fn new(
        expected_tokens: usize,
        keep_text: bool,
        keep_extra: bool,
        cancel_after: Option<u32>,
    ) -> Self {
        // Bounded so a huge `max_tokens` cannot reserve megabytes per request;
        // beyond it the vectors grow (amortized) like any Vec.
        let cap = expected_tokens.min(4096);
        Collector {
            t0: Instant::now(),
            ttft: None,
            offsets_us: Vec::with_capacity(cap),
            bytes: Vec::with_capacity(cap),
            content_events: 0,
            data_events: 0,
            text: if keep_text {
                String::with_capacity(cap * 4)
            } else {
                String::new()
            },
            extra: String::new(),
            keep_text,
            keep_extra,
            finish_reason: None,
            prompt_tokens: None,
            completion_tokens: None,
            cancel_after,
        }
    }

    /// Set the moment the request was handed to the connection; all
    /// offsets are measured from it.
    pub(crate) fn start(&mut self, t0: Instant) {
        self.t0 = t0;
    }

    pub(crate) fn started_at(&self) -> Instant {
        self.t0
    }

    /// Handle one SSE event that arrived at `now`.
    pub(crate) fn on_event(&mut self, event: SseEvent<'_>, now: Instant) -> ControlFlow<Stop> {
        // An error event is the server's failure report, never content,
        // even when its data looks like a chunk.
        if event.error {
            self.data_events += 1;
            return ControlFlow::Break(Stop::ErrorEvent);
        }
        let data = event.data.trim_ascii();
        // `data:` with nothing after it carries nothing; some proxies send
        // it as a keep-alive.
        if data.is_empty() {
            return ControlFlow::Continue(());
        }
        if data == b"[DONE]" {
            return ControlFlow::Break(Stop::Done);
        }
        self.data_events += 1;
        let chunk = match Chunk::parse(data) {
            Ok(c) => c,
            Err(_) => return ControlFlow::Break(Stop::Malformed),
        };
        if !chunk.has_expected_shape() {
            return ControlFlow::Break(Stop::Malformed);
        }
        if chunk.has_error {
            return ControlFlow::Break(Stop::ErrorEvent);
        }
        self.absorb_usage(&chunk);
        let Some(choice) = chunk.choice() else {
            return ControlFlow::Continue(());
        };
        let Some(bytes) = self.absorb_choice(choice) else {
            return ControlFlow::Continue(());
        };
        let offset = now.saturating_duration_since(self.t0);
        if self.ttft.is_none() {
            self.ttft = Some(offset);
        }
        self.offsets_us
            .push(u32::try_from(offset.as_micros()).unwrap_or(u32::MAX));
        self.bytes.push(u32::try_from(bytes).unwrap_or(u32::MAX));
        self.content_events += 1;
        match self.cancel_after {
            Some(n) if self.content_events >= n => ControlFlow::Break(Stop::Cancel),
            _ => ControlFlow::Continue(()),
        }
    }

    /// Handle a whole non-streaming body. Returns how the request ended.
    pub(crate) fn on_body(&mut self, body: &[u8]) -> Outcome {
        let failed = |kind| Outcome::Failed {
            kind,
            after_first_byte: true,
        };
        if body.trim_ascii().is_empty() {
            return failed(ErrorKind::EmptyResponse);
        }
        let chunk = match Chunk::parse(body) {
            Ok(c) if c.has_expected_shape() => c,
            _ => return failed(ErrorKind::MalformedEvent),
        };
        if chunk.has_error {
            return failed(ErrorKind::StreamErrorEvent);
        }
        self.data_events = 1;
        self.absorb_usage(&chunk);
        if let Some(choice) = chunk.choice() {
            if self.absorb_choice(choice).is_some() {
                self.content_events = 1;
            }
        }
        if self.content_events > 0 {
            Outcome::Success
        } else {
            failed(ErrorKind::EmptyResponse)
        }
    }

    /// How a stream ended, once it has ended cleanly: with `[DONE]`
    /// (`saw_done`) or with the end of the body.
    ///
    /// The rule: a response is complete when `[DONE]` or a `finish_reason`
    /// arrived. Complete with at least one content event → success;
    /// complete without any content, or a body with no data event at all →
    /// `empty_response`; incomplete after some data → `stream_interrupted`.
    pub(crate) fn end_of_stream(&self, saw_done: bool) -> Outcome {
        self.end_of_stream_as(saw_done, false)
    }

    /// [`Collector::end_of_stream`] for a body that may be one JSON
    /// document (`looks_like_json`: a JSON content type or a body starting
    /// with `{`): without any SSE event, it is `not_streamed` rather than
    /// `empty_response` — the server ignored `"stream": true`.
    pub(crate) fn end_of_stream_as(&self, saw_done: bool, looks_like_json: bool) -> Outcome {
        if looks_like_json && self.data_events == 0 && !saw_done {
            return Outcome::Failed {
                kind: ErrorKind::NotStreamed,
                after_first_byte: true,
            };
        }
        let complete = saw_done || self.finish_reason.is_some();
        let kind = if self.content_events > 0 {
            if complete {
                return Outcome::Success;
            }
            ErrorKind::StreamInterrupted
        } else if complete || self.data_events == 0 {
            ErrorKind::EmptyResponse
        } else {
            ErrorKind::StreamInterrupted
        };
        Outcome::Failed {
            kind,
            after_first_byte: true,
        }
    }

    /// Output tokens, where the count came from (DESIGN.md §3) and whether
    /// the server's usage was refused: server usage when it is a plausible
    /// count, else the tokenizer over the generated text, else the number
    /// of content events. Usage is refused when it is not a count (`-5`,
    /// `"8"`), exceeds the request's `max_tokens` (a server cannot generate
    /// more than it was allowed: a larger count would inflate throughput),
    /// exceeds any model's reach, or is 0 although content streamed.
    pub(crate) fn output_tokens(
        &self,
        tokenizer: Option<&Tokenizer>,
        max_tokens: Option<u32>,
    ) -> (u32, TokenSource, bool) {
        let refused = match self.usage_output_tokens(max_tokens) {
            Ok(n) => return (n, TokenSource::Usage, false),
            Err(refused) => refused,
        };
        if let Some(t) = tokenizer {
            let n = t.count(&self.text) + t.count(&self.extra);
            return (saturate(n as u64), TokenSource::Tokenizer, refused);
        }
        (self.content_events, TokenSource::Events, refused)
    }

    /// Whether [`Collector::output_tokens`] counts with the tokenizer (the
    /// server's usage is missing or refused), so the caller can build a
    /// tokenizer not built yet off the async workers first.
    pub(crate) fn needs_tokenizer(&self, max_tokens: Option<u32>) -> bool {
        self.usage_output_tokens(max_tokens).is_err()
    }

    /// The server's output count when it is plausible; else whether there
    /// was one (refused) or none.
    fn usage_output_tokens(&self, max_tokens: Option<u32>) -> Result<u32, bool> {
        match self.completion_tokens {
            None => Err(false),
            Some(Count::Valid(n))
                if n <= MAX_PLAUSIBLE_OUTPUT_TOKENS
                    && max_tokens.is_none_or(|m| n <= u64::from(m))
                    && !(n == 0 && self.content_events > 0) =>
            {
                Ok(saturate(n))
            }
            Some(_) => Err(true),
        }
    }

    fn absorb_usage(&mut self, chunk: &Chunk<'_>) {
        // Servers with continuous usage stats send it in every chunk: the
        // last one wins.
        if let Some(u) = &chunk.usage {
            // A prompt count that is not a count keeps the plan's own.
            if let Some(Count::Valid(n)) = u.prompt_tokens {
                self.prompt_tokens = Some(n);
            }
            if u.completion_tokens.is_some() {
                self.completion_tokens = u.completion_tokens;
            }
        }
    }

    /// Take what is needed from one choice; `Some(bytes of generated text)`
    /// when it carried content (answer text, reasoning text or a tool-call
    /// delta), `None` for a role-only or empty chunk.
    fn absorb_choice(&mut self, choice: &Choice<'_>) -> Option<u64> {
        let mut bytes = 0u64;
        let mut content = false;
        if let Some(d) = choice.delta() {
            if let Some(t) = non_empty(&d.content) {
                content = true;
                bytes += t.len() as u64;
                if self.keep_text {
                    self.text.push_str(t);
                }
            }
            // Some servers send the same text under both names: take one.
            if let Some(t) = non_empty(&d.reasoning_content).or(non_empty(&d.reasoning)) {
                content = true;
                bytes += t.len() as u64;
                if self.keep_extra {
                    self.extra.push_str(t);
                }
            }
            if let Some(tc) = d.tool_calls.as_ref().filter(|tc| tc.count > 0) {
                content = true;
                bytes += tc.bytes;
                if let (true, Some(args)) = (self.keep_extra, non_empty(&tc.first_arguments)) {
                    self.extra.push_str(args);
                }
            }
        }
        if let Some(t) = non_empty(&choice.text) {
            content = true;
            bytes += t.len() as u64;
            if self.keep_text {
                self.text.push_str(t);
            }
        }
        if let Some(fr) = &choice.finish_reason {
            if self.finish_reason.is_none() {
                self.finish_reason = Some(fr.as_str().to_owned());
            }
        }
        content.then_some(bytes)
    }
}

fn saturate(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(c: &mut Collector, events: &[&str]) -> Option<Stop> {
        let now = Instant::now();
        for e in events {
            let event = SseEvent {
                data: e.as_bytes(),
                error: false,
            };
            if let ControlFlow::Break(s) = c.on_event(event, now) {
                return Some(s);
            }
        }
        None
    }

    #[test]
    fn role_only_and_empty_chunks_are_not_tokens() {
        let mut c = Collector::new(8, true, true, None);
        let stop = feed(
            &mut c,
            &[
                r#"{"choices":[{"delta":{"role":"assistant"}}]}"#,
                r#"{"choices":[{"delta":{"content":""}}]}"#,
                r#"{"choices":[{"delta":{"content":null,"tool_calls":[]}}]}"#,
            ],
        );
        assert_eq!(stop, None);
        assert_eq!(c.content_events, 0);
        assert!(c.ttft.is_none());
        // Data arrived but nothing finished it.
        assert_eq!(
            c.end_of_stream(false),
            Outcome::Failed {
                kind: ErrorKind::StreamInterrupted,
                after_first_byte: true
            }
        );
        assert_eq!(
            c.end_of_stream(true),
            Outcome::Failed {
                kind: ErrorKind::EmptyResponse,
                after_first_byte: true
            }
        );
    }

    #[test]
    fn reasoning_tool_calls_and_completions_text_are_content() {
        let mut c = Collector::new(8, true, true, None);
        feed(
            &mut c,
            &[
                r#"{"choices":[{"delta":{"reasoning_content":"hmm","reasoning":"hmm"}}]}"#,
                r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}"#,
                r#"{"choices":[{"text":"abc","finish_reason":"length"}]}"#,
            ],
        );
        assert_eq!(c.content_events, 3);
        assert_eq!(c.bytes, [3, 2, 3]);
        assert_eq!(c.text, "abc");
        assert_eq!(c.extra, "hmm{}");
        assert_eq!(c.finish_reason.as_deref(), Some("length"));
        assert_eq!(c.end_of_stream(false), Outcome::Success);
        assert_eq!(c.output_tokens(None, None), (3, TokenSource::Events, false));
    }

    #[test]
    fn usage_in_a_choiceless_chunk_wins() {
        let mut c = Collector::new(8, false, false, None);
        let stop = feed(
            &mut c,
            &[
                r#"{"choices":[{"delta":{"content":"a b c"},"finish_reason":"stop"}]}"#,
                r#"{"choices":[],"usage":{"prompt_tokens":11,"completion_tokens":3}}"#,
                " [DONE] ",
            ],
        );
        assert_eq!(stop, Some(Stop::Done));
        assert_eq!(c.output_tokens(None, None), (3, TokenSource::Usage, false));
        assert_eq!(c.prompt_tokens, Some(11));
        // Text is not kept when nothing needs it.
        assert!(c.text.is_empty());
    }

    /// A usage count the server cannot have meant (above `max_tokens`,
    /// beyond any model, 0 with content, not a count) is refused: the
    /// response's content events count instead, and the refusal is said.
    #[test]
    fn implausible_usage_falls_back_to_the_next_source() {
        for usage in ["1000000000000", "65", "0", "-5", "\"8\"", "8.5"] {
            let mut c = Collector::new(8, false, false, None);
            feed(
                &mut c,
                &[
                    r#"{"choices":[{"delta":{"content":"a"}}]}"#,
                    r#"{"choices":[{"delta":{"content":"b"}}]}"#,
                    &format!(r#"{{"choices":[],"usage":{{"completion_tokens":{usage}}}}}"#),
                    "[DONE]",
                ],
            );
            assert_eq!(c.end_of_stream(true), Outcome::Success, "{usage}");
            assert_eq!(
                c.output_tokens(None, Some(64)),
                (2, TokenSource::Events, true),
                "{usage}"
            );
        }
        // At max_tokens exactly, and without a max_tokens, usage stands.
        let mut c = Collector::new(8, false, false, None);
        feed(
            &mut c,
            &[
                r#"{"choices":[{"delta":{"content":"a"}}]}"#,
                r#"{"choices":[],"usage":{"completion_tokens":64}}"#,
                "[DONE]",
            ],
        );
        assert_eq!(
            c.output_tokens(None, Some(64)),
            (64, TokenSource::Usage, false)
        );
        assert_eq!(c.output_tokens(None, None), (64, TokenSource::Usage, false));
    }

    #[test]
    fn malformed_and_error_chunks_stop() {
        let mut c = Collector::new(8, false, false, None);
        assert_eq!(feed(&mut c, &["{not json"]), Some(Stop::Malformed));
        assert_eq!(feed(&mut c, &["[1,2]"]), Some(Stop::Malformed));
        assert_eq!(feed(&mut c, &[r#"{"id":"x"}"#]), Some(Stop::Malformed));
        assert_eq!(
            feed(&mut c, &["{\"choices\":[{\"text\":\"\\ud800\"}]}"]),
            Some(Stop::Malformed)
        );
        assert_eq!(
            feed(&mut c, &[r#"{"error":{"message":"boom","code":500}}"#]),
            Some(Stop::ErrorEvent)
        );
        // An `event: error` is the server's error whatever its data: a
        // valid content chunk is not content, a message is not malformed.
        for data in [
            r#"{"choices":[{"delta":{"content":"x"}}]}"#,
            "model crashed",
        ] {
            let mut c = Collector::new(8, false, false, None);
            let event = SseEvent {
                data: data.as_bytes(),
                error: true,
            };
            assert_eq!(
                c.on_event(event, Instant::now()),
                ControlFlow::Break(Stop::ErrorEvent)
            );
            assert_eq!(c.content_events, 0);
            assert!(c.ttft.is_none());
        }
    }

    #[test]
    fn cancels_after_n_content_events() {
        let mut c = Collector::new(8, false, false, Some(2));
        let ev = r#"{"choices":[{"delta":{"content":"x"}}]}"#;
        assert_eq!(feed(&mut c, &[ev, ev, ev]), Some(Stop::Cancel));
        assert_eq!(c.content_events, 2);
    }

    /// Counts allocations made by the current thread, so the test below can
    /// prove the per-event path allocates nothing.
    struct CountingAlloc;

    thread_local! {
        static ALLOCS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    // SAFETY: forwards every call to the system allocator unchanged; the
    // counter is a const-initialized thread-local that never allocates.
    unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
        unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
            ALLOCS.with(|a| a.set(a.get() + 1));
            // SAFETY: same contract as the caller's.
            unsafe { std::alloc::System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
            // SAFETY: same contract as the caller's.
            unsafe { std::alloc::System.dealloc(ptr, layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
            ALLOCS.with(|a| a.set(a.get() + 1));
            // SAFETY: same contract as the caller's.
            unsafe { std::alloc::System.realloc(ptr, layout, new) }
        }
    }

    #[global_allocator]
    static GLOBAL: CountingAlloc = CountingAlloc;

    fn allocs() -> usize {
        ALLOCS.with(|a| a.get())
    }

    #[test]
    fn streaming_64_tokens_allocates_nothing_per_event() {
        use crate::client::SseDecoder;
        // A vLLM-shaped stream: role chunk, 64 one-token chunks of 4 bytes
        // (the English average; the text buffer is sized for that and
        // grows amortized beyond it) arriving 3 per read, finish, usage,
        // [DONE].
        let mut stream = Vec::new();
        stream.extend_from_slice(b"data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
        let mut reads = vec![stream.clone()];
        for i in 0..64 {
            let ev = format!(
                "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\" w{i:02}\"}},\"logprobs\":null,\"finish_reason\":null}}]}}\n\n"
            );
            if i % 3 == 0 {
                reads.push(Vec::new());
            }
            reads
                .last_mut()
                .expect("pushed")
                .extend_from_slice(ev.as_bytes());
        }
        let tail = b"data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":64}}\n\ndata: [DONE]\n\n";

        let mut decoder = SseDecoder::new();
        let mut c = Collector::new(64, true, true, None);
        let now = Instant::now();
        // The first read grows the decoder's buffers to the event size.
        let _ = decoder
            .feed(&reads[0], |e| c.on_event(e, now))
            .expect("small");
        let before = allocs();
        let started = Instant::now();
        for r in &reads[1..] {
            let flow = decoder.feed(r, |e| c.on_event(e, now)).expect("small");
            assert!(flow.is_continue());
        }
        let elapsed = started.elapsed();
        let during = allocs() - before;
        assert_eq!(during, 0, "allocations while decoding 64 token events");
        assert_eq!(c.content_events, 64);
        // The finish reason is stored once per request.
        let flow = decoder.feed(tail, |e| c.on_event(e, now)).expect("small");
        assert_eq!(flow, ControlFlow::Break(Stop::Done));
        assert_eq!(
            c.output_tokens(None, Some(64)),
            (64, TokenSource::Usage, false)
        );
        assert_eq!(c.text.len(), 64 * 4);
        // Informational: decode + parse time of the 64 events (debug build).
        eprintln!("64 events decoded and parsed in {elapsed:?}");
    }

    #[test]
    fn body_outcomes() {
        let mut c = Collector::new(8, true, false, None);
        let body = br#"{"choices":[{"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":2,"completion_tokens":1}}"#;
        assert_eq!(c.on_body(body), Outcome::Success);
        assert_eq!(c.text, "hi");
        assert_eq!(c.output_tokens(None, None), (1, TokenSource::Usage, false));
        let mut c = Collector::new(8, true, false, None);
        assert_eq!(
            c.on_body(b"  "),
            Outcome::Failed {
                kind: ErrorKind::EmptyResponse,
                after_first_byte: true
            }
        );
        assert_eq!(
            c.on_body(b"<html>"),
            Outcome::Failed {
                kind: ErrorKind::MalformedEvent,
                after_first_byte: true
            }
        );
        assert_eq!(
            c.on_body(br#"{"choices":[{"message":{"content":""}}]}"#),
            Outcome::Failed {
                kind: ErrorKind::EmptyResponse,
                after_first_byte: true
            }
        );
    }
}
