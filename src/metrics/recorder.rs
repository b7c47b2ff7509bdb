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
use crate::bundle::{Histograms, Metrics, RequestCounts, SampleOutcome, Samples, TokenTotals};
use crate::client::{ErrorKind, Outcome, Phase, RequestRecord, TokenSource};
use crate::workload::{Pricing, Slo};

/// Everything the recorder produced.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub metrics: Metrics,
    pub histograms: Histograms,
    pub samples: Samples,
    /// Successful requests per token source.
    pub token_sources: BTreeMap<String, u64>,
    /// Wall time of the measurement window.
    pub window: Duration,
    /// Offset of the window start from the run epoch.
    pub window_start: Duration,
    /// Largest open-loop lag between schedule and send, and its p99.
    pub lag_max: Duration,
    pub lag_p99: Duration,
}

pub struct Recorder {
    slo: Slo,
    pricing: Option<Pricing>,
    max_tokens: Option<u32>,
    window_start: Option<Duration>,
    window_end: Duration,
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
    token_sources: [u64; 3],
    slo_met: u64,
    quality_checked: u64,
    quality_passed: u64,
    retried_e2e_us: Vec<f64>,
    decode_rates: Vec<f64>,
    multi_token_events: u64,
}

fn histogram() -> Histogram<u64> {
    // 3 significant digits, auto-resizing: ≤ 0.1 % relative error at any
    // magnitude, a few tens of KiB each.
    Histogram::new(3).expect("3 significant digits is a valid HDR precision")
}

fn us(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

fn us32(d: Duration) -> u32 {
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
        };
        Recorder {
            slo,
            pricing,
            max_tokens,
            window_start: None,
            window_end: Duration::ZERO,
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
            token_sources: [0; 3],
            slo_met: 0,
            quality_checked: 0,
            quality_passed: 0,
            retried_e2e_us: Vec::new(),
            decode_rates: Vec::with_capacity(cap),
            multi_token_events: 0,
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
            return;
        }
        self.window_start = Some(match self.window_start {
            Some(s) => s.min(r.sent_at),
            None => r.sent_at,
        });
        self.window_end = self.window_end.max(r.sent_at + r.e2e);
        self.counts.attempted += 1;
        if r.attempts > 1 {
            self.counts.retried += 1;
        }
        let first_attempt = r.attempts <= 1;
        let mut tpot_us = None;
        match r.outcome {
            Outcome::Success => {
                self.counts.succeeded += 1;
                self.output_total += r.output_tokens as u64;
                self.input_total += r.input_tokens as u64;
                self.token_sources[match r.token_source {
                    TokenSource::Usage => 0,
                    TokenSource::Tokenizer => 1,
                    TokenSource::Events => 2,
                }] += 1;
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
        let per_s = |v: f64| if secs > 0.0 { round3(v / secs) } else { 0.0 };

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
        let requests_per_s = per_s(c.succeeded as f64);
        let cost_per_1k = self.pricing.as_ref().and_then(|p| match p {
            Pricing::Hourly {
                per_hour, replicas, ..
            } => {
                let per_hour_responses = c.succeeded as f64 / secs * 3600.0;
                (secs > 0.0 && c.succeeded > 0)
                    .then(|| round6(per_hour * *replicas as f64 / per_hour_responses * 1000.0))
            }
            Pricing::PerToken {
                input_per_million,
                output_per_million,
                ..
            } => (c.succeeded > 0).then(|| {
                let total = self.input_total as f64 * input_per_million / 1e6
                    + self.output_total as f64 * output_per_million / 1e6;
                round6(total / c.succeeded as f64 * 1000.0)
            }),
        });
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
            output_tokens_per_s: per_s(self.output_total as f64),
            input_tokens_per_s: per_s(self.input_total as f64),
            requests_per_s,
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
            ttft_us: encode(&self.ttft),
            ttfb_us: encode(&self.ttfb),
            itl_us: encode(&self.itl),
            tpot_us: encode(&self.tpot),
            e2e_us: encode(&self.e2e),
        };
        let mut token_sources = BTreeMap::new();
        for (i, name) in ["usage", "tokenizer", "events"].iter().enumerate() {
            if self.token_sources[i] > 0 {
                token_sources.insert(name.to_string(), self.token_sources[i]);
            }
        }
        let lag_max = Duration::from_micros(self.lag.max());
        let lag_p99 = Duration::from_micros(self.lag.value_at_quantile(0.99));
        Recorded {
            metrics,
            histograms,
            samples: self.samples,
            token_sources,
            window,
            window_start,
            lag_max,
            lag_p99,
        }
    }
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// HDR V2 + deflate, base64 (standard alphabet): the format other HDR
/// implementations read, so bundles can be merged exactly.
fn encode(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    match V2DeflateSerializer::new().serialize(h, &mut buf) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(&buf),
        // Serialization into a Vec cannot fail for a valid histogram; an
        // empty string marks "unavailable" rather than aborting the run.
        Err(_) => String::new(),
    }
}

/// Decode a histogram written by [`encode`].
pub fn decode_histogram(text: &str) -> Option<Histogram<u64>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .ok()
}
