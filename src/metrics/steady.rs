//! Throughput over the steady part of the measurement window: the span in
//! which the load was as configured. It opens when the last warm-up request
//! has ended (every user is on measured requests; the window start if that
//! is later) and closes when the last measured request starts (after it,
//! users go idle one by one: the drain of a count-based closed loop, or the
//! tail of an open-loop schedule). Over the whole window, the drain and the
//! warm-up's overlap with the first measured requests dilute the rate, so a
//! fixed-capacity server past its knee seems to get slower.
//!
//! Each successful request's work is spread evenly over the time it was
//! done, and the share inside the span is counted:
//! - output tokens over [first token, end] (the decode phase; a response
//!   without a first-token time — not streamed — over its last byte);
//! - prompt tokens over [send, first token] (they are consumed before the
//!   first token);
//! - the request itself over [send, end].
//!
//! In a stationary regime the expected share of a span of length T is
//! rate × T whatever the distribution of request lengths (the
//! renewal-reward theorem; Ross, *Stochastic Processes*, 2nd ed., §3.6), and
//! spreading rather than counting completions avoids the ±1 request of
//! granularity at each end of the span.

/// Where one successful measured request did its work, µs on the run clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Work {
    pub sent_us: f64,
    /// First content event; equal to `end_us` when none was timed.
    pub first_us: f64,
    pub end_us: f64,
    pub output_tokens: u32,
    pub input_tokens: u32,
}

/// The steady span's shares of work, and its bounds (µs on the run clock).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Shares {
    pub start_us: f64,
    pub end_us: f64,
    pub output_tokens: f64,
    pub input_tokens: f64,
    pub requests: f64,
}

impl Shares {
    pub fn seconds(&self) -> f64 {
        ((self.end_us - self.start_us) / 1e6).max(0.0)
    }
}

/// The steady span: from the later of the window start and the end of the
/// last warm-up request to the start of the last measured request.
pub(crate) fn steady_span(
    window_start_us: f64,
    last_warmup_end_us: Option<f64>,
    last_start_us: f64,
) -> (f64, f64) {
    let start = last_warmup_end_us.map_or(window_start_us, |w| w.max(window_start_us));
    (start, last_start_us)
}

/// The shares of `work` inside `[start, end)`.
pub(crate) fn shares(work: &[Work], (start, end): (f64, f64)) -> Shares {
    let mut s = Shares {
        start_us: start,
        end_us: end,
        ..Shares::default()
    };
    if end <= start {
        return s;
    }
    for w in work {
        s.output_tokens += spread(f64::from(w.output_tokens), w.first_us, w.end_us, start, end);
        s.input_tokens += spread(f64::from(w.input_tokens), w.sent_us, w.first_us, start, end);
        s.requests += spread(1.0, w.sent_us, w.end_us, start, end);
    }
    s
}

/// The part of `amount`, spread evenly over `[from, to]`, that falls inside
/// `[start, end)`; work done at one instant counts whole if that instant is
/// inside.
fn spread(amount: f64, from: f64, to: f64, start: f64, end: f64) -> f64 {
    if to <= from {
        return if (start..end).contains(&from) {
            amount
        } else {
            0.0
        };
    }
    let overlap = (to.min(end) - from.max(start)).max(0.0);
    amount * overlap / (to - from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_span_opens_after_the_warmup_and_closes_at_the_last_start() {
        assert_eq!(steady_span(100.0, Some(250.0), 900.0), (250.0, 900.0));
        assert_eq!(steady_span(100.0, Some(50.0), 900.0), (100.0, 900.0));
        assert_eq!(steady_span(100.0, None, 900.0), (100.0, 900.0));
    }

    #[test]
    fn work_is_counted_by_the_share_inside_the_span() {
        // Decode over [200, 600]: half of it lies in [400, 1000).
        let w = Work {
            sent_us: 0.0,
            first_us: 200.0,
            end_us: 600.0,
            output_tokens: 64,
            input_tokens: 10,
        };
        let s = shares(&[w], (400.0, 1000.0));
        assert_eq!(s.output_tokens, 32.0);
        // The prompt was consumed in [0, 200], before the span.
        assert_eq!(s.input_tokens, 0.0);
        // A third of the request's life [0, 600] is inside.
        assert!((s.requests - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.seconds(), 600.0 / 1e6);

        // Not streamed: every token at the last byte.
        let at_end = Work {
            first_us: 600.0,
            ..w
        };
        assert_eq!(shares(&[at_end], (400.0, 1000.0)).output_tokens, 64.0);
        assert_eq!(shares(&[at_end], (0.0, 600.0)).output_tokens, 0.0);
        // An empty span counts nothing.
        assert_eq!(shares(&[w], (500.0, 500.0)).requests, 0.0);
    }
}
