//! What each metric's statistics are computed from: per-request values taken
//! from a bundle's `samples` columns (µs → ms), HDR histograms where the
//! samples do not carry a metric, and request counts for rates.
//!
//! Choices, documented once here:
//! - Latency distributions use successful first attempts only (DESIGN.md §3:
//!   retried requests are reported apart; gates use first attempts).
//! - TTFB is not a sample column: it comes from the bundle's TTFB histogram,
//!   which holds one value per request (3 significant digits), expanded back
//!   into values.
//! - ITL is per gap, not per request, and the bundle keeps no per-request gap
//!   lists. Resampling gaps as independent values would understate the
//!   uncertainty, because gaps of one request share its batch conditions. For
//!   ITL quantiles the gate expands the ITL histogram into as many
//!   quantile-spaced values as there were requests with gaps: an effective
//!   sample size equal to the number of requests, the conservative extreme of
//!   Kish's design effect (Kish 1965, *Survey Sampling* §5.4: deff = 1 + (m − 1)ρ
//!   with intra-request correlation ρ = 1). `itl.mean` is exact per request:
//!   the mean gap is Σ(E2E − TTFT) / Σ(tokens − 1), a ratio of sums over
//!   requests, resampled by request.
//! - Throughput is a ratio of sums per request (tokens or successes over
//!   request time), because at equal closed-loop concurrency the throughput
//!   ratio equals Σtokens/Σtime ratio (Little's law, Little 1961). Failed
//!   requests count with their time and no tokens; planned cancellations are
//!   excluded.

use std::io::Cursor;

use base64::Engine as _;

use super::file::LatencyKind;
use crate::bundle::{Bundle, SampleOutcome};

/// Whether sample `i` is a successful first attempt.
fn ok_first(b: &Bundle, i: usize) -> bool {
    let s = &b.samples;
    s.outcome.get(i).is_some_and(|o| o.is_ok()) && s.attempts.get(i).copied().unwrap_or(1) <= 1
}

/// Indices of successful first-attempt requests.
fn ok_first_attempts(b: &Bundle) -> impl Iterator<Item = usize> + '_ {
    (0..b.samples.len()).filter(move |&i| ok_first(b, i))
}

/// Every sample index, in stored (completion) order.
fn all(b: &Bundle) -> Vec<usize> {
    (0..b.samples.len()).collect()
}

/// Per-request values of a latency metric in milliseconds (for ITL: see the
/// module docs). Unsorted.
pub fn latency_values_ms(b: &Bundle, kind: LatencyKind) -> Vec<f64> {
    let s = &b.samples;
    match kind {
        LatencyKind::Ttfb => histogram_values_ms(&b.histograms.ttfb_us, None),
        LatencyKind::Itl => {
            let requests_with_gaps = ok_first_attempts(b)
                .filter(|&i| s.tpot_us.get(i).copied().flatten().is_some())
                .count() as u64;
            histogram_values_ms(&b.histograms.itl_us, Some(requests_with_gaps))
        }
        _ => latency_values_in(b, kind, &all(b)),
    }
}

/// The per-request values of TTFT, TPOT or E2E (ms) of the samples `idx`,
/// in that order (successful first attempts only). TTFB and ITL have no
/// per-request column: empty.
pub fn latency_values_in(b: &Bundle, kind: LatencyKind, idx: &[usize]) -> Vec<f64> {
    let s = &b.samples;
    let column = |i: usize| match kind {
        LatencyKind::Ttft => s.ttft_us.get(i).copied().flatten(),
        LatencyKind::Tpot => s.tpot_us.get(i).copied().flatten(),
        LatencyKind::E2e => s.e2e_us.get(i).copied(),
        LatencyKind::Ttfb | LatencyKind::Itl => None,
    };
    idx.iter()
        .filter(|&&i| ok_first(b, i))
        .filter_map(|&i| column(i))
        .map(|us| f64::from(us) / 1000.0)
        .collect()
}

/// Per-request decode rates, tokens/s: 1 / TPOT.
pub fn decode_rates(b: &Bundle) -> Vec<f64> {
    decode_rates_in(b, &all(b))
}

/// Decode rates of the samples `idx`, in that order.
pub fn decode_rates_in(b: &Bundle, idx: &[usize]) -> Vec<f64> {
    let s = &b.samples;
    idx.iter()
        .filter(|&&i| ok_first(b, i))
        .filter_map(|&i| s.tpot_us.get(i).copied().flatten())
        .filter(|&us| us > 0)
        .map(|us| 1e6 / f64::from(us))
        .collect()
}

/// (num, den) pairs whose ratio of sums is the metric's mean: `(x, 1)` per
/// value, except ITL whose mean gap is Σ(E2E − TTFT) / Σ(tokens − 1).
pub fn mean_pairs(b: &Bundle, values: &[f64], kind: Option<LatencyKind>) -> Vec<(f64, f64)> {
    if kind == Some(LatencyKind::Itl) {
        return itl_pairs_in(b, &all(b));
    }
    values.iter().map(|&v| (v, 1.0)).collect()
}

/// The mean's (num, den) pairs of the samples `idx`, in that order; `kind`
/// `None` is the decode rate.
pub fn mean_pairs_in(b: &Bundle, kind: Option<LatencyKind>, idx: &[usize]) -> Vec<(f64, f64)> {
    let values = match kind {
        Some(LatencyKind::Itl) => return itl_pairs_in(b, idx),
        Some(k) => latency_values_in(b, k, idx),
        None => decode_rates_in(b, idx),
    };
    values.iter().map(|&v| (v, 1.0)).collect()
}

/// (gap time ms, gaps) per successful first attempt with ≥ 2 tokens.
fn itl_pairs_in(b: &Bundle, idx: &[usize]) -> Vec<(f64, f64)> {
    let s = &b.samples;
    idx.iter()
        .filter(|&&i| ok_first(b, i))
        .filter_map(|&i| {
            let tpot = s.tpot_us.get(i).copied().flatten()?;
            let gaps = s.output_tokens.get(i).copied()?.checked_sub(1)?;
            (gaps > 0).then(|| (f64::from(tpot) / 1000.0 * f64::from(gaps), f64::from(gaps)))
        })
        .collect()
}

/// Which numerator a throughput ratio of sums uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThroughputKind {
    OutputTokens,
    InputTokens,
    Requests,
}

/// (numerator, request seconds) per non-cancelled request.
pub fn throughput_pairs(b: &Bundle, kind: ThroughputKind) -> Vec<(f64, f64)> {
    throughput_pairs_in(b, kind, &all(b))
}

/// Throughput pairs of the samples `idx`, in that order.
pub fn throughput_pairs_in(b: &Bundle, kind: ThroughputKind, idx: &[usize]) -> Vec<(f64, f64)> {
    let s = &b.samples;
    idx.iter()
        .copied()
        .filter(|&i| {
            s.outcome
                .get(i)
                .is_some_and(|o| *o != SampleOutcome::Cancelled)
        })
        .filter_map(|i| {
            let secs = f64::from(*s.e2e_us.get(i)?) / 1e6;
            let ok = s.outcome[i].is_ok();
            let num = match (kind, ok) {
                (_, false) => 0.0,
                (ThroughputKind::OutputTokens, true) => f64::from(*s.output_tokens.get(i)?),
                (ThroughputKind::InputTokens, true) => f64::from(*s.input_tokens.get(i)?),
                (ThroughputKind::Requests, true) => 1.0,
            };
            Some((num, secs))
        })
        .collect()
}

/// The bundle's measured throughput for a kind (per window wall time).
pub fn measured_throughput(b: &Bundle, kind: ThroughputKind) -> f64 {
    match kind {
        ThroughputKind::OutputTokens => b.metrics.output_tokens_per_s,
        ThroughputKind::InputTokens => b.metrics.input_tokens_per_s,
        ThroughputKind::Requests => b.metrics.requests_per_s,
    }
}

/// Requests that count for rates: attempted minus planned cancellations.
pub fn rate_denominator(b: &Bundle) -> u64 {
    let r = &b.metrics.requests;
    r.attempted.saturating_sub(r.cancelled)
}

/// (failures, denominator) of an error rate. Stream errors are recovered
/// from the bundle's rate, which is exactly k/n by construction.
pub fn error_counts(b: &Bundle, stream: bool) -> (u64, u64) {
    let n = rate_denominator(b);
    let k = if stream {
        (b.metrics.stream_error_rate * n as f64).round() as u64
    } else {
        b.metrics.requests.failed
    };
    (k.min(n), n)
}

/// Values of a base64 V2(+deflate) HDR histogram of microseconds, in ms.
/// `cap`: expand into at most this many quantile-spaced values (see the
/// module docs); `None` expands every recorded value. Empty or unreadable
/// histograms give no values.
fn histogram_values_ms(encoded: &str, cap: Option<u64>) -> Vec<f64> {
    let Some(h) = decode_histogram(encoded) else {
        return Vec::new();
    };
    let total = h.len();
    let m = cap.map_or(total, |c| c.min(total));
    if m == 0 {
        return Vec::new();
    }
    if m == total {
        let mut out = Vec::with_capacity(total as usize);
        for v in h.iter_recorded() {
            // The bucket's median-equivalent value represents it.
            let value = h.median_equivalent(v.value_iterated_to()) as f64 / 1000.0;
            out.extend(std::iter::repeat_n(value, v.count_at_value() as usize));
        }
        return out;
    }
    (0..m)
        .map(|i| {
            let q = (i as f64 + 0.5) / m as f64;
            h.median_equivalent(h.value_at_quantile(q)) as f64 / 1000.0
        })
        .collect()
}

fn decode_histogram(encoded: &str) -> Option<hdrhistogram::Histogram<u64>> {
    if encoded.is_empty() {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut Cursor::new(bytes))
        .ok()
}

/// A server-reported latency statistic (ms) from the bundle's `server`
/// section; `None` when the server did not expose it.
pub fn server_value(
    b: &Bundle,
    kind: super::file::ServerLatency,
    stat: super::file::Stat,
) -> Option<f64> {
    use super::file::{ServerLatency as K, Stat};
    let server = b.server.as_ref()?;
    let stats = match kind {
        K::Ttft => server.ttft_ms.as_ref(),
        K::QueueTime => server.queue_time_ms.as_ref(),
        K::Itl => server.itl_ms.as_ref(),
        K::E2e => server.e2e_ms.as_ref(),
        K::Prefill => server.prefill_ms.as_ref(),
        K::Decode => server.decode_ms.as_ref(),
    }?;
    match stat {
        Stat::Mean => stats.mean,
        Stat::Percentile(50.0) => stats.p50,
        Stat::Percentile(90.0) => stats.p90,
        Stat::Percentile(95.0) => stats.p95,
        Stat::Percentile(99.0) => stats.p99,
        Stat::Percentile(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::{Serializer as _, V2DeflateSerializer};

    fn encode(values: &[u64]) -> String {
        let mut h = hdrhistogram::Histogram::<u64>::new(3).expect("sigfig 3");
        for &v in values {
            h.record(v).expect("in range");
        }
        let mut buf = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&h, &mut buf)
            .expect("serialize");
        base64::engine::general_purpose::STANDARD.encode(buf)
    }

    #[test]
    fn expands_a_histogram_fully_or_to_quantile_spaced_values() {
        let values: Vec<u64> = (1..=1000).map(|i| i * 100).collect();
        let enc = encode(&values);
        let all = histogram_values_ms(&enc, None);
        assert_eq!(all.len(), 1000);
        let ten = histogram_values_ms(&enc, Some(10));
        assert_eq!(ten.len(), 10);
        // Quantile-spaced: the 10 values sit near the 5th, 15th, … percentiles.
        assert!((ten[0] - 5.0).abs() < 0.2, "{ten:?}");
        assert!((ten[9] - 95.0).abs() < 0.2, "{ten:?}");
        assert!(histogram_values_ms("", None).is_empty());
        assert!(histogram_values_ms("not base64!", None).is_empty());
    }
}
