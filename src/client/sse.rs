//! Server-sent events decoding (WHATWG HTML, "9.2 Server-sent events",
//! section "Parsing an event stream" and "Interpreting an event stream").
//!
//! The decoder is fed the body chunks as they arrive and calls back once per
//! dispatched event with an [`SseEvent`]: its `data` (lines joined with
//! `\n`) and whether its type is `error`. It
//! keeps two buffers for its whole life — the unfinished line and the data
//! of the event being built — and reuses them, so decoding allocates nothing
//! per event once the buffers have grown to the size of the largest event.
//!
//! What the spec says and this follows: lines end with LF, CRLF or CR (a CR
//! at the end of one chunk and an LF at the start of the next are one line
//! end); a UTF-8 byte order mark at the start of the stream is skipped; a
//! line starting with `:` is a comment (keep-alive); `field:value` with one
//! optional space after the colon, a line without a colon is a field with an
//! empty value; `data` lines append to the event's data; `event` sets the
//! event type (the last one wins, reset at every dispatch); `id`, `retry`
//! and unknown fields are parsed and ignored (one OpenAI-compatible request
//! is one stream: reconnection does not apply); a blank line dispatches the
//! event when at least one `data` line was seen; an event still unfinished
//! when the stream ends is not dispatched.
//!
//! Of the event type only one value matters here: `error`, which servers
//! (and proxies in front of them) use to report a failure inside a stream,
//! whatever the data says. Other names are not kept, so the type costs no
//! buffer.
//!
//! What the spec leaves open and this adds: a cap on the bytes buffered for
//! one event (its data plus the current line), so a server sending a huge
//! line without a line end cannot exhaust memory.

use std::ops::ControlFlow;

/// Default cap on one event's buffered bytes (8 MiB): far above any real
/// completion chunk, small enough to bound memory per request.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 8 << 20;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Why the stream cannot be decoded further.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("server-sent event exceeds the limit of {limit} bytes (data plus current line)")]
    EventTooLarge { limit: usize },
}

/// One dispatched event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseEvent<'a> {
    /// The event's data, `data` lines joined with `\n`.
    pub data: &'a [u8],
    /// The event's type is `error` (`event: error`): the server reports a
    /// failure, whatever the data holds.
    pub error: bool,
}

/// Incremental SSE decoder; see the module docs for the rules it follows.
#[derive(Debug)]
pub struct SseDecoder {
    /// The unfinished line carried over from earlier chunks.
    line: Vec<u8>,
    /// The data of the event being built.
    data: Vec<u8>,
    /// A `data` field was seen for the current event (its data may be empty).
    has_data: bool,
    /// The current event's type is `error`.
    error_type: bool,
    /// The previous chunk ended with CR: an LF starting the next chunk
    /// belongs to that line end.
    skip_lf: bool,
    /// No line has been processed yet, so the next one may start with a BOM.
    at_start: bool,
    max_event: usize,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SseDecoder {
    /// A decoder with the [`DEFAULT_MAX_EVENT_BYTES`] cap.
    pub fn new() -> Self {
        Self::with_limit(DEFAULT_MAX_EVENT_BYTES)
    }

    /// A decoder that fails once an event's data plus the current line
    /// exceed `max_event_bytes`.
    pub fn with_limit(max_event_bytes: usize) -> Self {
        SseDecoder {
            line: Vec::new(),
            data: Vec::new(),
            has_data: false,
            error_type: false,
            skip_lf: false,
            at_start: true,
            max_event: max_event_bytes,
        }
    }

    /// Feed the next chunk of the body. `on_event` is called with each
    /// dispatched event, in order; when it returns `Break`, decoding
    /// stops at once (the rest of the chunk is dropped) and the break value
    /// is returned. After an error the decoder must not be fed again.
    pub fn feed<B>(
        &mut self,
        chunk: &[u8],
        mut on_event: impl FnMut(SseEvent<'_>) -> ControlFlow<B>,
    ) -> Result<ControlFlow<B>, SseError> {
        let mut rest = chunk;
        if self.skip_lf && !rest.is_empty() {
            self.skip_lf = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }
        while let Some(i) = memchr::memchr2(b'\n', b'\r', rest) {
            let mut next = i + 1;
            if rest[i] == b'\r' {
                match rest.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            let flow = if self.line.is_empty() {
                self.process_line(&rest[..i], &mut on_event)?
            } else {
                self.check_size(rest[..i].len())?;
                // Take the buffer out so `process_line` may borrow `self`;
                // putting it back keeps its capacity for the next line.
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&rest[..i]);
                let flow = self.process_line(&line, &mut on_event);
                line.clear();
                self.line = line;
                flow?
            };
            if flow.is_break() {
                return Ok(flow);
            }
            rest = &rest[next..];
        }
        if !rest.is_empty() {
            self.check_size(rest.len())?;
            self.line.extend_from_slice(rest);
        }
        Ok(ControlFlow::Continue(()))
    }

    /// Bytes of data buffered for the event being built (for tests and
    /// memory accounting).
    pub fn buffered(&self) -> usize {
        self.data.len() + self.line.len()
    }

    fn check_size(&self, more: usize) -> Result<(), SseError> {
        if self.data.len() + self.line.len() + more > self.max_event {
            return Err(SseError::EventTooLarge {
                limit: self.max_event,
            });
        }
        Ok(())
    }

    fn process_line<B>(
        &mut self,
        mut line: &[u8],
        on_event: &mut impl FnMut(SseEvent<'_>) -> ControlFlow<B>,
    ) -> Result<ControlFlow<B>, SseError> {
        if self.at_start {
            self.at_start = false;
            line = line.strip_prefix(BOM).unwrap_or(line);
        }
        if line.is_empty() {
            // Dispatch resets the type too, even when there is no data
            // (the spec's "set the event type buffer to the empty string").
            let error = std::mem::take(&mut self.error_type);
            if !self.has_data {
                return Ok(ControlFlow::Continue(()));
            }
            self.has_data = false;
            let flow = on_event(SseEvent {
                data: &self.data,
                error,
            });
            self.data.clear();
            return Ok(flow);
        }
        if line[0] == b':' {
            return Ok(ControlFlow::Continue(()));
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &line[line.len()..]),
        };
        // `id` and `retry` only matter to a reconnecting EventSource;
        // unknown fields are ignored by the spec.
        if field == b"event" {
            self.error_type = value == b"error";
        } else if field == b"data" {
            let sep = usize::from(self.has_data);
            if self.data.len() + sep + value.len() > self.max_event {
                return Err(SseError::EventTooLarge {
                    limit: self.max_event,
                });
            }
            if self.has_data {
                self.data.push(b'\n');
            }
            self.data.extend_from_slice(value);
            self.has_data = true;
        }
        Ok(ControlFlow::Continue(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_chunks(chunks: &[&[u8]]) -> Result<Vec<Vec<u8>>, SseError> {
        let mut d = SseDecoder::new();
        let mut events = Vec::new();
        for c in chunks {
            let _: ControlFlow<()> = d.feed(c, |e| {
                events.push(e.data.to_vec());
                ControlFlow::Continue(())
            })?;
        }
        Ok(events)
    }

    fn decode(stream: &[u8]) -> Vec<Vec<u8>> {
        decode_chunks(&[stream]).expect("small stream")
    }

    fn strs(events: &[Vec<u8>]) -> Vec<&str> {
        events
            .iter()
            .map(|e| std::str::from_utf8(e).expect("utf-8"))
            .collect()
    }

    #[test]
    fn joins_multi_line_data_with_lf() {
        let ev = decode(b"data: a\ndata:b\ndata:  c\n\n");
        assert_eq!(strs(&ev), ["a\nb\n c"]);
    }

    /// `event: error` marks its own event only: the type is reset at every
    /// dispatch (and at a blank line without data), the last `event` wins.
    #[test]
    fn error_event_type_marks_its_own_event_only() {
        let mut d = SseDecoder::new();
        let mut seen = Vec::new();
        let stream = b"event: error\ndata: {\"choices\":[]}\n\ndata: a\n\nevent: error\n\ndata: b\n\nevent: error\nevent: message\ndata: c\n\ndata: d\nevent:error\n\nevent: errors\ndata: e\n\n";
        let _: ControlFlow<()> = d
            .feed(stream, |e| {
                seen.push((String::from_utf8_lossy(e.data).into_owned(), e.error));
                ControlFlow::Continue(())
            })
            .expect("small");
        let want = [
            ("{\"choices\":[]}", true),
            ("a", false),
            ("b", false),
            ("c", false),
            ("d", true),
            ("e", false),
        ];
        let want: Vec<(String, bool)> = want.iter().map(|(s, e)| (s.to_string(), *e)).collect();
        assert_eq!(seen, want);
    }

    #[test]
    fn ignores_comments_and_other_fields() {
        let ev = decode(
            b": keep-alive\n\nevent: message\nid: 7\nretry: 100\nfoo: bar\ndata: x\n\n:\n\n",
        );
        assert_eq!(strs(&ev), ["x"]);
    }

    #[test]
    fn accepts_crlf_and_cr_line_ends() {
        assert_eq!(strs(&decode(b"data: a\r\n\r\ndata: b\r\n\r\n")), ["a", "b"]);
        assert_eq!(strs(&decode(b"data: a\r\rdata: b\r\r")), ["a", "b"]);
        assert_eq!(strs(&decode(b"data: a\rdata: b\n\r\n")), ["a\nb"]);
    }

    #[test]
    fn cr_at_chunk_end_then_lf_is_one_line_end() {
        let ev = decode_chunks(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]).expect("ok");
        assert_eq!(strs(&ev), ["a\nb"]);
    }

    #[test]
    fn field_without_colon_and_empty_data() {
        // `data` alone is a data field with an empty value: the event's data
        // is "" and it is still dispatched.
        assert_eq!(strs(&decode(b"data\n\n")), [""]);
        assert_eq!(strs(&decode(b"data:\ndata:\n\n")), ["\n"]);
        // A blank line without data dispatches nothing.
        assert!(decode(b"\n\n\nevent: x\n\n").is_empty());
    }

    #[test]
    fn many_events_in_one_read_and_done() {
        let mut s = Vec::new();
        for i in 0..50 {
            s.extend_from_slice(format!("data: {{\"i\":{i}}}\n\n").as_bytes());
        }
        s.extend_from_slice(b"data: [DONE]\n\n");
        let ev = decode(&s);
        assert_eq!(ev.len(), 51);
        assert_eq!(ev[7], b"{\"i\":7}");
        assert_eq!(ev[50], b"[DONE]");
    }

    #[test]
    fn skips_a_bom_only_at_stream_start() {
        assert_eq!(strs(&decode(b"\xEF\xBB\xBFdata: a\n\n")), ["a"]);
        // Split BOM.
        let ev = decode_chunks(&[b"\xEF", b"\xBB", b"\xBFdata: a\n\n"]).expect("ok");
        assert_eq!(strs(&ev), ["a"]);
        // A BOM later is part of the line (here: an unknown field name).
        assert_eq!(strs(&decode(b"data: a\n\n\xEF\xBB\xBFdata: b\n\n")), ["a"]);
    }

    #[test]
    fn unfinished_event_at_end_is_not_dispatched() {
        assert_eq!(strs(&decode(b"data: a\n\ndata: b\n")), ["a"]);
        assert_eq!(strs(&decode(b"data: a\n\ndata: b")), ["a"]);
    }

    #[test]
    fn break_stops_decoding_at_once() {
        let mut d = SseDecoder::new();
        let mut seen = 0;
        let flow = d
            .feed(b"data: 1\n\ndata: 2\n\ndata: 3\n\n", |_| {
                seen += 1;
                if seen == 2 {
                    ControlFlow::Break("stop")
                } else {
                    ControlFlow::Continue(())
                }
            })
            .expect("small");
        assert_eq!(flow, ControlFlow::Break("stop"));
        assert_eq!(seen, 2);
    }

    #[test]
    fn oversized_line_without_newline_fails_with_bounded_memory() {
        let mut d = SseDecoder::with_limit(1 << 20);
        let piece = vec![b'x'; 64 * 1024];
        let mut fed = 0usize;
        let err = loop {
            match d.feed(&piece, |_| ControlFlow::<()>::Continue(())) {
                Ok(_) => fed += piece.len(),
                Err(e) => break e,
            }
            assert!(
                fed <= 10 << 20,
                "a 10 MB line must fail before it is all read"
            );
        };
        assert_eq!(err, SseError::EventTooLarge { limit: 1 << 20 });
        assert!(d.buffered() <= 1 << 20);
    }

    #[test]
    fn oversized_multi_line_event_fails() {
        let mut d = SseDecoder::with_limit(100);
        let line = format!("data: {}\n", "y".repeat(40));
        let r = d.feed(line.repeat(3).as_bytes(), |_| {
            ControlFlow::<()>::Continue(())
        });
        assert!(r.is_err());
        // Within the limit is fine.
        let mut d = SseDecoder::with_limit(100);
        let r = d.feed(format!("{}\n", line.repeat(2)).as_bytes(), |e| {
            assert_eq!(e.data.len(), 81);
            ControlFlow::<()>::Continue(())
        });
        assert!(r.is_ok());
    }

    #[test]
    fn every_two_way_split_gives_the_same_events() {
        let stream: &[u8] = b"\xEF\xBB\xBF: hi\r\ndata: {\"a\": 1}\r\n\r\nevent: x\rdata:b\rdata: c\r\rdata: [DONE]\n\n";
        let whole = decode(stream);
        assert_eq!(strs(&whole), ["{\"a\": 1}", "b\nc", "[DONE]"]);
        for i in 0..=stream.len() {
            let (a, b) = stream.split_at(i);
            assert_eq!(decode_chunks(&[a, b]).expect("ok"), whole, "split at {i}");
        }
    }

    /// A straightforward reference decoder over the whole stream, written
    /// from the spec independently of the incremental one.
    fn reference(stream: &[u8]) -> Vec<Vec<u8>> {
        let s = stream.strip_prefix(BOM).unwrap_or(stream);
        let mut lines: Vec<&[u8]> = Vec::new();
        let mut start = 0;
        let mut i = 0;
        while i < s.len() {
            match s[i] {
                b'\n' => {
                    lines.push(&s[start..i]);
                    start = i + 1;
                }
                b'\r' => {
                    lines.push(&s[start..i]);
                    if s.get(i + 1) == Some(&b'\n') {
                        i += 1;
                    }
                    start = i + 1;
                }
                _ => {}
            }
            i += 1;
        }
        let mut events = Vec::new();
        let mut data: Option<Vec<u8>> = None;
        for l in lines {
            if l.is_empty() {
                if let Some(d) = data.take() {
                    events.push(d);
                }
            } else if l[0] != b':' {
                let (f, v) = match l.iter().position(|&c| c == b':') {
                    Some(p) => {
                        let v = &l[p + 1..];
                        (&l[..p], if v.first() == Some(&b' ') { &v[1..] } else { v })
                    }
                    None => (l, &[][..]),
                };
                if f == b"data" {
                    match data.as_mut() {
                        Some(d) => {
                            d.push(b'\n');
                            d.extend_from_slice(v);
                        }
                        None => data = Some(v.to_vec()),
                    }
                }
            }
        }
        events
    }

    fn line_strategy() -> impl Strategy<Value = Vec<u8>> {
        let text = proptest::collection::vec(
            prop_oneof![
                Just(b'a'),
                Just(b' '),
                Just(b':'),
                Just(b'{'),
                Just(b'"'),
                Just(0xC3u8),
                Just(0xA9u8)
            ],
            0..12,
        );
        let field = prop_oneof![
            Just(&b"data:"[..]),
            Just(&b"data: "[..]),
            Just(&b"data"[..]),
            Just(&b": "[..]),
            Just(&b"event: "[..]),
            Just(&b"id:"[..]),
            Just(&b""[..]),
        ];
        let end = prop_oneof![Just(&b"\n"[..]), Just(&b"\r\n"[..]), Just(&b"\r"[..])];
        (field, text, end).prop_map(|(f, t, e)| {
            let mut l = f.to_vec();
            if !f.is_empty() {
                l.extend_from_slice(&t);
            }
            l.extend_from_slice(e);
            l
        })
    }

    proptest! {
        #[test]
        fn any_chunking_yields_the_same_events(
            bom in any::<bool>(),
            lines in proptest::collection::vec(line_strategy(), 0..40),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
        ) {
            let mut stream = Vec::new();
            if bom {
                stream.extend_from_slice(BOM);
            }
            for l in &lines {
                stream.extend_from_slice(l);
            }
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
            points.sort_unstable();
            let mut chunks: Vec<&[u8]> = Vec::new();
            let mut prev = 0;
            for p in points {
                chunks.push(&stream[prev..p]);
                prev = p;
            }
            chunks.push(&stream[prev..]);
            let whole = decode(&stream);
            prop_assert_eq!(&decode_chunks(&chunks).expect("small"), &whole);
            prop_assert_eq!(&reference(&stream), &whole);
        }
    }
}
