//! The metrics of several bundles measured at the same time against one
//! server (the shards of a run, `tokengate merge`), recomputed from what
//! the bundles store rather than averaged from their summaries:
//!
//! * TTFT, TPOT, E2E, retried E2E and decode-rate quantiles are exact, from
//!   the concatenated per-request samples, as the recorder computes them;
//! * TTFB and ITL quantiles come from the HDR histograms added together,
//!   which is exact for HDR histograms of the same precision (Tene,
//!   HdrHistogram: "histograms can be added … without loss of accuracy");
//! * counts, token totals and error kinds are sums; rates are recomputed
//!   from the sums (a count stored only as a rate, such as the stream
//!   errors, is recovered as rate × denominator, rounded);
//! * throughputs are measured over the span where every part was steady:
//!   the intersection of the parts' steady spans on a common clock, with
//!   each request's work spread over it as `super::steady` does; when that
//!   span is too short, total work over the union of the windows.

use hdrhistogram::Histogram;

use super::latency::{latency_stats_exact, latency_stats_hdr, round3};
use super::recorder::{MIN_STEADY_REQUESTS, MIN_STEADY_SHARE, encode_histogram};
use super::steady::{Work, shares};
use crate::bundle::{
    Bundle, Histograms, Metrics, RequestCounts, Samples, ThroughputBasis, ThroughputSpan,
    TokenTotals,
};

/// One bundle of the pool and where its window lies on the common clock.
#[derive(Debug, Clone, Copy)]
pub struct Part<'a> {
    pub bundle: &'a Bundle,
    /// Its number in `samples.shard`.
    pub number: u16,
    /// Its window's start after the earliest part's, µs.
    pub offset_us: u64,
}

/// A stored histogram that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "field `histograms.{field}` of shard {number} is not a serialized HDR histogram of microseconds at 3 significant digits"
)]
pub struct PoolError {
    pub field: &'static str,
    pub number: u16,
}

/// The pooled metrics, histograms and samples of `parts` (at least one),
/// whose windows together span `union_s` seconds. Samples are concatenated
/// in the order of `parts`, with `samples.shard` set and `start_us` moved to
/// the common clock.
pub fn pool(parts: &[Part<'_>], union_s: f64) -> Result<(Metrics, Histograms, Samples), PoolError> {
    let samples = concat(parts);
    let histograms = add_histograms(parts)?;
    let first = parts.first().map(|p| &p.bundle.metrics);

    let ok_first: Vec<usize> = (0..samples.len())
        .filter(|&i| samples.outcome[i].is_ok() && samples.attempts[i] <= 1)
        .collect();
    let column = |f: &dyn Fn(usize) -> Option<f64>| -> Vec<f64> {
        ok_first.iter().filter_map(|&i| f(i)).collect()
    };
    let mut ttft = column(&|i| samples.ttft_us[i].map(f64::from));
    let mut tpot = column(&|i| samples.tpot_us[i].map(f64::from));
    let mut e2e = column(&|i| Some(f64::from(samples.e2e_us[i])));
    // The recorder's decode rate is 1 / TPOT; latency_stats_exact divides
    // by 1e3, so tok/s are scaled up first (as the recorder does).
    let mut decode = column(&|i| {
        samples.tpot_us[i]
            .filter(|&t| t > 0)
            .map(|t| 1e6 / f64::from(t) * 1e3)
    });
    let mut retried: Vec<f64> = (0..samples.len())
        .filter(|&i| samples.outcome[i].is_ok() && samples.attempts[i] > 1)
        .map(|i| f64::from(samples.e2e_us[i]))
        .collect();

    let mut counts = RequestCounts::default();
    let mut tokens = TokenTotals {
        max_tokens: first.and_then(|m| m.tokens.max_tokens),
        ..TokenTotals::default()
    };
    let mut errors = first.map(|m| m.errors.clone()).unwrap_or_default();
    errors.values_mut().for_each(|v| *v = 0);
    let (mut stream_errors, mut slo_met, mut slo_parts) = (0u64, 0u64, 0usize);
    let (mut quality, mut quality_weight) = (0.0f64, 0u64);
    let (mut cost, mut cost_weight) = (0.0f64, 0u64);
    for p in parts {
        let m = &p.bundle.metrics;
        let c = &m.requests;
        counts.attempted += c.attempted;
        counts.succeeded += c.succeeded;
        counts.failed += c.failed;
        counts.cancelled += c.cancelled;
        counts.retried += c.retried;
        counts.warmup += c.warmup;
        tokens.output_total += m.tokens.output_total;
        tokens.input_total += m.tokens.input_total;
        tokens.multi_token_events += m.tokens.multi_token_events;
        for (kind, n) in &m.errors {
            *errors.entry(kind.clone()).or_default() += n;
        }
        let denom = c.attempted.saturating_sub(c.cancelled) as f64;
        stream_errors += (m.stream_error_rate * denom).round() as u64;
        if let Some(g) = m.goodput {
            slo_met += (g * denom).round() as u64;
            slo_parts += 1;
        }
        // Checked responses are not counted apart; the successful ones
        // weigh each part's pass rate (equal when every response is checked).
        if let Some(q) = m.quality_pass_rate {
            quality += q * c.succeeded as f64;
            quality_weight += c.succeeded;
        }
        // Per-token pricing makes the cost per response a mean over
        // responses, so it pools weighted by responses.
        if let Some(v) = m.cost_per_1k {
            cost += v * c.succeeded as f64;
            cost_weight += c.succeeded;
        }
    }
    tokens.output_mean = (counts.succeeded > 0)
        .then(|| round3(tokens.output_total as f64 / counts.succeeded as f64));
    let denom = counts.attempted.saturating_sub(counts.cancelled);
    let rate = |k: u64| {
        if denom > 0 {
            round6(k as f64 / denom as f64)
        } else {
            0.0
        }
    };
    let weighted = |sum: f64, w: u64| (w > 0).then(|| round6(sum / w as f64));
    let throughput = throughput(parts, &samples, union_s, &counts, &tokens);
    let metrics = Metrics {
        ttft_ms: latency_stats_exact(&mut ttft),
        ttfb_ms: latency_stats_hdr(&histograms.1.ttfb),
        itl_ms: latency_stats_hdr(&histograms.1.itl),
        tpot_ms: latency_stats_exact(&mut tpot),
        e2e_ms: latency_stats_exact(&mut e2e),
        queue_time_ms: None,
        retried_e2e_ms: latency_stats_exact(&mut retried),
        decode_tokens_per_s: latency_stats_exact(&mut decode),
        output_tokens_per_s: throughput.0,
        input_tokens_per_s: throughput.1,
        requests_per_s: throughput.2,
        steady_window_s: throughput.3,
        throughput_span: throughput.4,
        requests: counts,
        tokens,
        errors,
        error_rate: 0.0,
        stream_error_rate: rate(stream_errors),
        cost_per_1k: weighted(cost, cost_weight),
        goodput: (slo_parts == parts.len() && slo_parts > 0 && denom > 0).then(|| rate(slo_met)),
        quality_pass_rate: weighted(quality, quality_weight),
    };
    let metrics = Metrics {
        error_rate: rate(metrics.requests.failed),
        ..metrics
    };
    Ok((metrics, histograms.0, samples))
}

/// Every part's samples in order, `shard` set, send times on the common clock.
fn concat(parts: &[Part<'_>]) -> Samples {
    let mut out = Samples::default();
    for p in parts {
        let s = &p.bundle.samples;
        out.append(s, p.offset_us);
        out.shard.extend(std::iter::repeat_n(p.number, s.len()));
    }
    out
}

/// The decoded sums, kept for the HDR-based summaries.
struct Added {
    ttfb: Histogram<u64>,
    itl: Histogram<u64>,
}

/// Reads one histogram field of a bundle.
type Field = fn(&Histograms) -> &String;

fn add_histograms(parts: &[Part<'_>]) -> Result<(Histograms, Added), PoolError> {
    let fields: [(&'static str, Field); 5] = [
        ("ttft_us", |h| &h.ttft_us),
        ("ttfb_us", |h| &h.ttfb_us),
        ("itl_us", |h| &h.itl_us),
        ("tpot_us", |h| &h.tpot_us),
        ("e2e_us", |h| &h.e2e_us),
    ];
    let mut sums = Vec::with_capacity(5);
    for (field, get) in fields {
        // The recorder's auto-resizing histogram: a decoded one keeps the
        // range of its own values and refuses larger ones.
        let mut sum = super::recorder::histogram();
        for p in parts {
            let err = PoolError {
                field,
                number: p.number,
            };
            let h = super::decode_histogram(get(&p.bundle.histograms)).ok_or(err.clone())?;
            sum.add(&h).map_err(|_| err)?;
        }
        sums.push(sum);
    }
    let [ttft, ttfb, itl, tpot, e2e]: [Histogram<u64>; 5] =
        sums.try_into().map_err(|_| PoolError {
            field: "ttft_us",
            number: 0,
        })?;
    let encoded = Histograms {
        ttft_us: encode_histogram(&ttft),
        ttfb_us: encode_histogram(&ttfb),
        itl_us: encode_histogram(&itl),
        tpot_us: encode_histogram(&tpot),
        e2e_us: encode_histogram(&e2e),
    };
    Ok((encoded, Added { ttfb, itl }))
}

/// (output tok/s, input tok/s, req/s, steady span s, span) of the pool.
fn throughput(
    parts: &[Part<'_>],
    samples: &Samples,
    union_s: f64,
    counts: &RequestCounts,
    tokens: &TokenTotals,
) -> (f64, f64, f64, f64, ThroughputSpan) {
    // Every part steady: the intersection of their steady spans.
    let mut span = (f64::MIN, f64::MAX);
    let mut not_steady = Vec::new();
    for p in parts {
        let t = &p.bundle.metrics.throughput_span;
        if t.basis != ThroughputBasis::Steady {
            not_steady.push(p.number.to_string());
        }
        let off = p.offset_us as f64;
        span.0 = span.0.max(off + t.start_s * 1e6);
        span.1 = span.1.min(off + t.end_s * 1e6);
    }
    let work: Vec<Work> = (0..samples.len())
        .filter(|&i| samples.outcome[i].is_ok())
        .map(|i| {
            let sent = samples.start_us[i] as f64;
            let end = sent + f64::from(samples.e2e_us[i]);
            Work {
                sent_us: sent,
                first_us: samples.ttft_us[i].map_or(end, |t| (sent + f64::from(t)).min(end)),
                end_us: end,
                output_tokens: samples.output_tokens[i],
                input_tokens: samples.input_tokens[i],
            }
        })
        .collect();
    let steady = shares(&work, span);
    let steady_s = steady.seconds();
    let fallback = if !not_steady.is_empty() {
        Some(format!(
            "shard(s) {} measured over their whole window",
            not_steady.join(", ")
        ))
    } else if steady_s < MIN_STEADY_SHARE * union_s {
        Some(format!(
            "the span where every shard was steady ({steady_s:.3} s) is under {:.0} % of the {union_s:.3} s union window",
            MIN_STEADY_SHARE * 100.0
        ))
    } else if steady.requests < MIN_STEADY_REQUESTS {
        Some(format!(
            "the common steady span holds {:.1} requests' worth of work, under {MIN_STEADY_REQUESTS}",
            steady.requests
        ))
    } else {
        None
    };
    match fallback {
        None => (
            round3(steady.output_tokens / steady_s),
            round3(steady.input_tokens / steady_s),
            round3(steady.requests / steady_s),
            round3(steady_s),
            ThroughputSpan {
                basis: ThroughputBasis::Steady,
                start_s: round3(steady.start_us / 1e6),
                end_s: round3(steady.end_us / 1e6),
                fallback: None,
            },
        ),
        Some(why) => {
            let per_s = |v: f64| {
                if union_s > 0.0 {
                    round3(v / union_s)
                } else {
                    0.0
                }
            };
            (
                per_s(tokens.output_total as f64),
                per_s(tokens.input_total as f64),
                per_s(counts.succeeded as f64),
                round3(steady_s),
                ThroughputSpan {
                    basis: ThroughputBasis::Window,
                    start_s: 0.0,
                    end_s: round3(union_s),
                    fallback: Some(why),
                },
            )
        }
    }
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}
