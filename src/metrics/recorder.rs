//! The recorder task's state. One `Recorder` receives every record of a run
//! (over a channel, in completion order), keeps HDR histograms, compact
//! sample columns and counters — constant memory per request (≈45 bytes of
//! samples) — and at the end produces the bundle's metrics.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer as _, V2DeflateSerializer};

use super::latency::{latency_stats_exact, latency_stats_hdr, round3};
use super::steady::{Work, shares, steady_span};
use crate::bundle::{
    ErrorKind, Histograms, Metrics, RequestCounts, SampleOutcome, Samples, ThroughputBasis,
    ThroughputSpan, TokenSource, TokenTotals,
};
use crate::client::{Outcome, Phase, RequestRecord};
use crate::workload::{Pricing, Slo};

/// Everything the recorder produced.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub metrics: Metrics,
    pub histograms: Histograms,
    pub samples: Samples,
    /// Successful requests per token source.
    pub token_sources: BTreeMap<String, u64>,
    /// Measured requests whose server usage was refused as implausible
    /// (their tokens counted by the next source).
    pub usage_refused: u64,
    /// Wall time of the measurement window.
    pub window: Duration,
    /// Offset of the window start from the run epoch.
    pub window_start: Duration,
    /// Largest open-loop lag between schedule and send, and its p99.
    pub lag_max: Duration,
    pub lag_p99: Duration,
    /// Successful requests by prompt class and token source: how many had
    /// each output token count (what the validity rules compare with the
    /// class's `max_tokens`).
    pub output_lengths: OutputLengths,
    /// How the measured requests' starts kept to their schedule.
    pub schedule: ScheduleFacts,
}

/// Output token counts of successful measured requests: for each (prompt
/// class, token source), how many requests had each count. Bounded by the
/// number of distinct counts, not by the number of requests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutputLengths {
    pub counts: BTreeMap<(u16, TokenSource), BTreeMap<u32, u64>>,
}

impl OutputLengths {
    pub fn add(&mut self, class: u16, source: TokenSource, tokens: u32) {
        *self
            .counts
            .entry((class, source))
            .or_default()
            .entry(tokens)
            .or_default() += 1;
    }
}

/// Start times of the measured first attempts against their schedule (a
/// retried request's send time is its last attempt's, so retries are left
/// out). In a closed loop every request is "scheduled" when it is sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScheduleFacts {
    /// Measured first attempts.
    pub requests: u64,
    /// (scheduled, sent) of the earliest- and the latest-scheduled of them,
    /// on the run clock.
    pub first: Option<(Duration, Duration)>,
    pub last: Option<(Duration, Duration)>,
    /// Start lag (sent − scheduled) of these requests: median, p99, max.
    pub lag_p50: Duration,
    pub lag_p99: Duration,
    pub lag_max: Duration,
}

/// The steady span must cover at least this share of the window, or the
/// throughputs fall back to the whole window: a shorter one is mostly edges
/// (the first and last requests in it) and says less than the window does.
pub(super) const MIN_STEADY_SHARE: f64 = 0.25;

/// …and hold at least this many requests' worth of work (request shares),
/// so a rate never rests on a handful of requests.
pub(super) const MIN_STEADY_REQUESTS: f64 = 5.0;

/// Cloned by a `--repeat` series to keep the pooled records of the runs
/// before the current one, should that run be interrupted.
#[derive(Clone)]
pub struct Recorder {
    slo: Slo,
    pricing: Option<Pricing>,
    max_tokens: Option<u32>,
    window_start: Option<Duration>,
    window_end: Duration,
    /// When the last warm-up request ended (run clock): the steady span
    /// opens no earlier.
    warmup_end: Option<Duration>,
    ttft: Histogram<u64>,
    ttfb: Histogram<u64>,
    itl: Histogram<u64>,
    tpot: Histogram<u64>,
    e2e: Histogram<u64>,
    lag: Histogram<u64>,
    samples: Samples,
    /// Send offsets from the epoch; rebased to the window start at the end.
    sent_abs_us: Vec<u64>,
    errors: BTreeMap<ErrorKind, u64>,
    stream_errors: u64,
    counts: RequestCounts,
    output_total: u64,
    input_total: u64,
    token_sources: BTreeMap<TokenSource, u64>,
    usage_refused: u64,
    slo_met: u64,
    quality_checked: u64,
    quality_passed: u64,
    retried_e2e_us: Vec<f64>,
    decode_rates: Vec<f64>,
    multi_token_events: u64,
    output_lengths: OutputLengths,
    schedule: ScheduleFacts,
    /// Start lag of measured first attempts, µs.
    measured_lag: Histogram<u64>,
}

pub(super) fn histogram() -> Histogram<u64> {
    // 3 significant digits, auto-resizing: ≤ 0.1 % relative error at any
    // magnitude, a few tens of KiB each.
    Histogram::new(3).expect("3 significant digits is a valid HDR precision")
}

fn us(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

/// Whole microseconds, saturating at `u32::MAX` (the sample columns' width).
pub(crate) fn us32(d: Duration) -> u32 {
    d.as_micros().min(u32::MAX as u128) as u32
}

impl Recorder {
    pub fn new(
        slo: Slo,
        pricing: Option<Pricing>,
        max_tokens: Option<u32>,
        expected: usize,
    ) -> Self {
        let cap = expected.min(1 << 20);
        let samples = Samples {
            start_us: Vec::with_capacity(cap),
            ttft_us: Vec::with_capacity(cap),
            tpot_us: Vec::with_capacity(cap),
            e2e_us: Vec::with_capacity(cap),
            output_tokens: Vec::with_capacity(cap),
            input_tokens: Vec::with_capacity(cap),
            class: Vec::with_capacity(cap),
            attempts: Vec::with_capacity(cap),
            outcome: Vec::with_capacity(cap),
            run: Vec::new(),
            shard: Vec::new(),
        };
        Recorder {
            slo,
            pricing,
            max_tokens,
            window_start: None,
            window_end: Duration::ZERO,
            warmup_end: None,
            ttft: histogram(),
            ttfb: histogram(),
            itl: histogram(),
            tpot: histogram(),
            e2e: histogram(),
            lag: histogram(),
            samples,
            sent_abs_us: Vec::new(),
            errors: BTreeMap::new(),
            stream_errors: 0,
            counts: RequestCounts::default(),
            output_total: 0,
            input_total: 0,
            token_sources: BTreeMap::new(),
            usage_refused: 0,
            slo_met: 0,
            quality_checked: 0,
            quality_passed: 0,
            retried_e2e_us: Vec::new(),
            decode_rates: Vec::with_capacity(cap),
            multi_token_events: 0,
            output_lengths: OutputLengths::default(),
            schedule: ScheduleFacts::default(),
            measured_lag: histogram(),
        }
    }

    /// Requests recorded so far in the measurement window (not warm-up).
    pub fn measured(&self) -> u64 {
        self.counts.attempted
    }

    pub fn failed(&self) -> u64 {
        self.counts.failed
    }

    /// Add one finished request.
    pub fn record(&mut self, r: &RequestRecord) {
        let lag = r.sent_at.saturating_sub(r.scheduled_at);
        let _ = self.lag.record(us(lag));
        if r.phase == Phase::Warmup {
            self.counts.warmup += 1;
            let end = r.sent_at + r.e2e;
            self.warmup_end = Some(self.warmup_end.map_or(end, |e| e.max(end)));
            return;
        }
        self.window_start = Some(match self.window_start {
            Some(s) => s.min(r.sent_at),
            None => r.sent_at,
        });
        self.window_end = self.window_end.max(r.sent_at + r.e2e);
        self.counts.attempted += 1;
        self.usage_refused += u64::from(r.usage_refused);
        if r.attempts > 1 {
            self.counts.retried += 1;
        }
        let first_attempt = r.attempts <= 1;
        if first_attempt {
            let _ = self.measured_lag.record(us(lag));
            let sc = &mut self.schedule;
            sc.requests += 1;
            let pair = (r.scheduled_at, r.sent_at);
            if sc.first.is_none_or(|(t, _)| r.scheduled_at < t) {
                sc.first = Some(pair);
            }
            if sc.last.is_none_or(|(t, _)| r.scheduled_at >= t) {
                sc.last = Some(pair);
            }
        }
        let mut tpot_us = None;
        match r.outcome {
            Outcome::Success => {
                self.counts.succeeded += 1;
                self.output_lengths
                    .add(r.class, r.token_source, r.output_tokens);
                self.output_total += r.output_tokens as u64;
                self.input_total += r.input_tokens as u64;
                *self.token_sources.entry(r.token_source).or_default() += 1;
                if let Some(q) = r.quality_pass {
                    self.quality_checked += 1;
                    self.quality_passed += q as u64;
                }
                let tpot = r.tpot();
                tpot_us = tpot.map(us32);
                if first_attempt {
                    // Gates use first attempts; retried latency is kept apart.
                    if let Some(t) = r.ttft {
                        let _ = self.ttft.record(us(t));
                    }
                    if let Some(t) = r.ttfb {
                        let _ = self.ttfb.record(us(t));
                    }
                    if let Some(t) = tpot {
                        let _ = self.tpot.record(us(t));
                        if !t.is_zero() {
                            self.decode_rates.push(1.0 / t.as_secs_f64());
                        }
                    }
                    let _ = self.e2e.record(us(r.e2e));
                    let itl = &mut self.itl;
                    let multi = &mut self.multi_token_events;
                    r.for_each_itl(|gap_us, k| {
                        if k > 1 {
                            *multi += 1;
                        }
                        let _ = itl.record_n(gap_us.round() as u64, k as u64);
                    });
                } else {
                    self.retried_e2e_us.push(us(r.e2e) as f64);
                }
                if self.meets_slo(r) {
                    self.slo_met += 1;
                }
            }
            Outcome::Cancelled => self.counts.cancelled += 1,
            Outcome::Failed {
                kind,
                after_first_byte,
            } => {
                self.counts.failed += 1;
                *self.errors.entry(kind).or_insert(0) += 1;
                if after_first_byte {
                    self.stream_errors += 1;
                }
            }
        }
        self.sent_abs_us.push(us(r.sent_at));
        self.samples.ttft_us.push(r.ttft.map(us32));
        self.samples.tpot_us.push(tpot_us);
        self.samples.e2e_us.push(us32(r.e2e));
        self.samples.output_tokens.push(r.output_tokens);
        self.samples.input_tokens.push(r.input_tokens);
        self.samples.class.push(r.class);
        self.samples.attempts.push(r.attempts.max(1));
        self.samples.outcome.push(SampleOutcome::from(r.outcome));
    }

    fn meets_slo(&self, r: &RequestRecord) -> bool {
        let ok = |limit: Option<Duration>, v: Option<Duration>| match (limit, v) {
            (None, _) => true,
            (Some(l), Some(v)) => v <= l,
            (Some(_), None) => false,
        };
        ok(self.slo.ttft, r.ttft.or(Some(r.e2e)))
            && ok(self.slo.tpot, r.tpot().or(Some(Duration::ZERO)))
            && ok(self.slo.e2e, Some(r.e2e))
    }

    /// Produce the metrics. `window_override` replaces the measured window
    /// (used when a run is cut short and the window must end at the cut).
    pub fn finish(mut self) -> Recorded {
        let window_start = self.window_start.unwrap_or_default();
        let window = self.window_end.saturating_sub(window_start);
        let secs = window.as_secs_f64();

        // Rebase send times to the window start.
        let base = us(window_start);
        self.samples.start_us = self
            .sent_abs_us
            .iter()
            .map(|&t| t.saturating_sub(base))
            .collect();

        let ok_first: Vec<usize> = (0..self.samples.len())
            .filter(|&i| self.samples.outcome[i].is_ok() && self.samples.attempts[i] <= 1)
            .collect();
        let mut ttft: Vec<f64> = ok_first
            .iter()
            .filter_map(|&i| self.samples.ttft_us[i].map(f64::from))
            .collect();
        let mut tpot: Vec<f64> = ok_first
            .iter()
            .filter_map(|&i| self.samples.tpot_us[i].map(f64::from))
            .collect();
        let mut e2e: Vec<f64> = ok_first
            .iter()
            .map(|&i| self.samples.e2e_us[i] as f64)
            .collect();
        // Decode rate in tok/s is summarized with the same exact quantiles;
        // latency_stats_exact divides by 1e3, so scale up first.
        let mut decode: Vec<f64> = self.decode_rates.iter().map(|r| r * 1e3).collect();

        let c = &self.counts;
        let denom = c.attempted.saturating_sub(c.cancelled);
        let rate = |k: u64| {
            if denom > 0 {
                k as f64 / denom as f64
            } else {
                0.0
            }
        };
        let mut errors = BTreeMap::new();
        for k in ErrorKind::ALL {
            errors.insert(
                k.as_str().to_string(),
                self.errors.get(&k).copied().unwrap_or(0),
            );
        }
        let throughput = self.throughput(window_start, secs);
        let requests_per_s = round3(throughput.requests_per_s);
        let cost_per_1k = cost_per_1k(
            self.pricing.as_ref(),
            throughput.requests_per_s,
            c.succeeded,
            (self.input_total, self.output_total),
        );
        let goodput = (!self.slo.is_empty() && denom > 0).then(|| round6(rate(self.slo_met)));
        let quality_pass_rate = (self.quality_checked > 0)
            .then(|| round6(self.quality_passed as f64 / self.quality_checked as f64));

        let metrics = Metrics {
            ttft_ms: latency_stats_exact(&mut ttft),
            ttfb_ms: latency_stats_hdr(&self.ttfb),
            itl_ms: latency_stats_hdr(&self.itl),
            tpot_ms: latency_stats_exact(&mut tpot),
            e2e_ms: latency_stats_exact(&mut e2e),
            queue_time_ms: None,
            retried_e2e_ms: latency_stats_exact(&mut self.retried_e2e_us),
            decode_tokens_per_s: latency_stats_exact(&mut decode),
            output_tokens_per_s: round3(throughput.output_tokens_per_s),
            input_tokens_per_s: round3(throughput.input_tokens_per_s),
            requests_per_s,
            steady_window_s: round3(throughput.steady_s),
            throughput_span: throughput.span,
            requests: c.clone(),
            tokens: TokenTotals {
                output_total: self.output_total,
                input_total: self.input_total,
                output_mean: (c.succeeded > 0)
                    .then(|| round3(self.output_total as f64 / c.succeeded as f64)),
                max_tokens: self.max_tokens,
                multi_token_events: self.multi_token_events,
            },
            errors,
            error_rate: round6(rate(c.failed)),
            stream_error_rate: round6(rate(self.stream_errors)),
            cost_per_1k,
            goodput,
            quality_pass_rate,
        };
        let histograms = Histograms {
            ttft_us: encode_histogram(&self.ttft),
            ttfb_us: encode_histogram(&self.ttfb),
            itl_us: encode_histogram(&self.itl),
            tpot_us: encode_histogram(&self.tpot),
            e2e_us: encode_histogram(&self.e2e),
        };
        let token_sources = self
            .token_sources
            .iter()
            .map(|(s, &n)| (s.as_str().to_owned(), n))
            .collect();
        let lag_max = Duration::from_micros(self.lag.max());
        let lag_p99 = Duration::from_micros(self.lag.value_at_quantile(0.99));
        let mut schedule = self.schedule;
        if !self.measured_lag.is_empty() {
            let q = |p: f64| Duration::from_micros(self.measured_lag.value_at_quantile(p));
            schedule.lag_p50 = q(0.5);
            schedule.lag_p99 = q(0.99);
            schedule.lag_max = Duration::from_micros(self.measured_lag.max());
        }
        Recorded {
            metrics,
            histograms,
            samples: self.samples,
            token_sources,
            usage_refused: self.usage_refused,
            window,
            window_start,
            lag_max,
            lag_p99,
            output_lengths: self.output_lengths,
            schedule,
        }
    }
}

/// The three throughputs and the span they were measured over.
struct Throughput {
    output_tokens_per_s: f64,
    input_tokens_per_s: f64,
    requests_per_s: f64,
    /// Length of the steady span, seconds (0 when there is none).
    steady_s: f64,
    span: ThroughputSpan,
}

impl Recorder {
    /// Throughputs over the steady span (`super::steady`), or over the whole
    /// window (`window_s` long, opening at `window_start`) when that span is
    /// too short.
    fn throughput(&self, window_start: Duration, window_s: f64) -> Throughput {
        let s = &self.samples;
        let work: Vec<Work> = (0..s.len())
            .filter(|&i| s.outcome[i].is_ok())
            .map(|i| {
                let sent = self.sent_abs_us[i] as f64;
                let end = sent + f64::from(s.e2e_us[i]);
                Work {
                    sent_us: sent,
                    first_us: s.ttft_us[i].map_or(end, |t| (sent + f64::from(t)).min(end)),
                    end_us: end,
                    output_tokens: s.output_tokens[i],
                    input_tokens: s.input_tokens[i],
                }
            })
            .collect();
        let window_start_us = us(window_start) as f64;
        let last_start_us = self.sent_abs_us.iter().copied().max().unwrap_or(0) as f64;
        let span = steady_span(
            window_start_us,
            self.warmup_end.map(|w| us(w) as f64),
            last_start_us,
        );
        let steady = shares(&work, span);
        let steady_s = steady.seconds();
        let rel = |t_us: f64| round3((t_us - window_start_us) / 1e6);
        let fallback = if steady_s <= 0.0 {
            Some("no steady span: the last warm-up request ended after the last measured request started".to_owned())
        } else if steady_s < MIN_STEADY_SHARE * window_s {
            Some(format!(
                "the steady span ({steady_s:.3} s) is under {:.0} % of the {window_s:.3} s window",
                MIN_STEADY_SHARE * 100.0
            ))
        } else if steady.requests < MIN_STEADY_REQUESTS {
            Some(format!(
                "the steady span holds {:.1} requests' worth of work, under {MIN_STEADY_REQUESTS}",
                steady.requests
            ))
        } else {
            None
        };
        match fallback {
            None => Throughput {
                output_tokens_per_s: steady.output_tokens / steady_s,
                input_tokens_per_s: steady.input_tokens / steady_s,
                requests_per_s: steady.requests / steady_s,
                steady_s,
                span: ThroughputSpan {
                    basis: ThroughputBasis::Steady,
                    start_s: rel(steady.start_us),
                    end_s: rel(steady.end_us),
                    fallback: None,
                },
            },
            Some(why) => {
                let per_s = |v: f64| if window_s > 0.0 { v / window_s } else { 0.0 };
                Throughput {
                    output_tokens_per_s: per_s(self.output_total as f64),
                    input_tokens_per_s: per_s(self.input_total as f64),
                    requests_per_s: per_s(self.counts.succeeded as f64),
                    steady_s,
                    span: ThroughputSpan {
                        basis: ThroughputBasis::Window,
                        start_s: 0.0,
                        end_s: round3(window_s),
                        fallback: Some(why),
                    },
                }
            }
        }
    }
}

/// Cost per 1,000 successful responses: hourly pricing at the measured
/// request rate, token pricing from the token totals. `tokens` is (input,
/// output) of the successful requests.
pub fn cost_per_1k(
    pricing: Option<&Pricing>,
    requests_per_s: f64,
    succeeded: u64,
    tokens: (u64, u64),
) -> Option<f64> {
    pricing.and_then(|p| match p {
        Pricing::Hourly {
            per_hour, replicas, ..
        } => {
            // Responses per hour at the tested load: the same rate as
            // `requests_per_s`.
            let per_hour_responses = requests_per_s * 3600.0;
            (per_hour_responses > 0.0 && succeeded > 0)
                .then(|| round6(per_hour * *replicas as f64 / per_hour_responses * 1000.0))
        }
        Pricing::PerToken {
            input_per_million,
            output_per_million,
            ..
        } => (succeeded > 0).then(|| {
            let total = tokens.0 as f64 * input_per_million / 1e6
                + tokens.1 as f64 * output_per_million / 1e6;
            round6(total / succeeded as f64 * 1000.0)
        }),
    })
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// HDR V2 + deflate, base64 (standard alphabet): the format other HDR
/// implementations read, so bundles can be merged exactly.
pub(super) fn encode_histogram(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    match V2DeflateSerializer::new().serialize(h, &mut buf) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(&buf),
        // Serialization into a Vec cannot fail for a valid histogram; an
        // empty string marks "unavailable" rather than aborting the run.
        Err(_) => String::new(),
    }
}

/// Decode a histogram written by [`encode_histogram`].
pub fn decode_histogram(text: &str) -> Option<Histogram<u64>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A successful request of `tokens` tokens: sent at `sent`, first token
    /// after `ttft`, then one token every `tpot`.
    fn record(
        phase: Phase,
        sent: Duration,
        ttft: Duration,
        tpot: Duration,
        tokens: u32,
    ) -> RequestRecord {
        RequestRecord {
            index: 0,
            class: 0,
            phase,
            attempts: 1,
            scheduled_at: sent,
            sent_at: sent,
            ttfb: Some(ttft / 2),
            ttft: Some(ttft),
            e2e: ttft + tpot * (tokens - 1),
            event_offsets_us: Vec::new(),
            event_bytes: Vec::new(),
            output_tokens: tokens,
            token_source: TokenSource::Usage,
            usage_refused: false,
            input_tokens: 100,
            finish_reason: Some("length".into()),
            quality_pass: None,
            retry_after: None,
            outcome: Outcome::Success,
        }
    }

    /// A closed loop as the driver runs it: 16 users, starting a sixteenth
    /// of a cycle apart, each taking the next request index when its last
    /// request ends; the first 16 indices are the warm-up, the next 64 are
    /// measured (a sweep level's count). Users decode at 9, 10 or 11 ms a
    /// token, so while every user is busy the server emits
    /// Σ 64 / cycle_u tokens a second. The steady span recovers that rate
    /// within 1 %, where the whole window (ramp-up and drain included)
    /// reads well below it.
    #[test]
    fn steady_throughput_recovers_the_emission_rate_of_a_draining_closed_loop() {
        let users = 16u64;
        let tokens = 64u32;
        let (warmup, measured) = (16u64, 64u64);
        let ttft = Duration::from_millis(50);
        let tpot = |u: u64| Duration::from_millis(9 + u % 3);
        let cycle = |u: u64| ttft + tpot(u) * (tokens - 1);
        let expected: f64 = (0..users)
            .map(|u| f64::from(tokens) / cycle(u).as_secs_f64())
            .sum();
        let mut free_at: Vec<Duration> = (0..users)
            .map(|u| Duration::from_micros(680_000 * u / users))
            .collect();
        let mut records = Vec::new();
        for index in 0..warmup + measured {
            // The user that is free first takes the next index.
            let u = (0..users as usize)
                .min_by_key(|&u| free_at[u])
                .expect("users");
            let phase = if index < warmup {
                Phase::Warmup
            } else {
                Phase::Measured
            };
            records.push(record(phase, free_at[u], ttft, tpot(u as u64), tokens));
            free_at[u] += cycle(u as u64);
        }
        let measured_records = || records.iter().filter(|r| r.phase == Phase::Measured);
        let window = measured_records()
            .map(|r| r.sent_at + r.e2e)
            .max()
            .expect("some")
            - measured_records().map(|r| r.sent_at).min().expect("some");
        // The recorder sees records in completion order.
        records.sort_by_key(|r| r.sent_at + r.e2e);
        let mut rec = Recorder::new(Slo::default(), None, Some(tokens), records.len());
        for r in &records {
            rec.record(r);
        }
        let m = rec.finish().metrics;
        eprintln!(
            "expected {expected:.1} tok/s; steady {} tok/s over {} s; whole window {:.1} tok/s over {:.3} s",
            m.output_tokens_per_s,
            m.steady_window_s,
            m.tokens.output_total as f64 / window.as_secs_f64(),
            window.as_secs_f64()
        );
        assert_eq!(m.requests.succeeded, 64);
        assert_eq!(m.throughput_span.basis, ThroughputBasis::Steady);
        let error = m.output_tokens_per_s / expected - 1.0;
        assert!(
            error.abs() < 0.01,
            "steady {} tok/s, expected {expected:.1}",
            m.output_tokens_per_s
        );
        // Requests and prompt tokens follow the same rate.
        let request_rate: f64 = (0..users).map(|u| 1.0 / cycle(u).as_secs_f64()).sum();
        assert!(
            (m.requests_per_s / request_rate - 1.0).abs() < 0.01,
            "{} req/s, expected {request_rate:.2}",
            m.requests_per_s
        );
        assert!(
            (m.input_tokens_per_s / (request_rate * 100.0) - 1.0).abs() < 0.01,
            "{} prompt tok/s",
            m.input_tokens_per_s
        );
        // Over the whole window the same run reads more than 10 % slower.
        let per_window = m.tokens.output_total as f64 / window.as_secs_f64();
        assert!(
            per_window < expected * 0.9,
            "window {per_window:.1} tok/s, expected {expected:.1}"
        );
        assert!(m.steady_window_s > 0.25 * window.as_secs_f64());
        assert!(
            (m.throughput_span.end_s - m.throughput_span.start_s - m.steady_window_s).abs() < 1e-3
        );
    }

    /// A span shorter than a quarter of the window falls back to the window
    /// and says why.
    #[test]
    fn a_short_steady_span_falls_back_to_the_whole_window() {
        let ttft = Duration::from_millis(10);
        let tpot = Duration::from_millis(10);
        // Two users: one long warm-up request ends late, so the measured
        // requests overlap it almost entirely.
        let records = [
            record(Phase::Warmup, Duration::ZERO, ttft, tpot * 10, 100),
            record(Phase::Measured, Duration::from_millis(1), ttft, tpot, 64),
            record(Phase::Measured, Duration::from_millis(700), ttft, tpot, 64),
        ];
        let mut rec = Recorder::new(Slo::default(), None, Some(64), 3);
        for r in &records {
            rec.record(r);
        }
        let recorded = rec.finish();
        let m = &recorded.metrics;
        assert_eq!(m.throughput_span.basis, ThroughputBasis::Window);
        let why = m.throughput_span.fallback.as_deref().unwrap_or_default();
        assert!(why.contains("no steady span"), "{why}");
        let window_s = recorded.window.as_secs_f64();
        assert_eq!(m.throughput_span.end_s, round3(window_s));
        assert_eq!(m.output_tokens_per_s, round3(128.0 / window_s));
    }
}
