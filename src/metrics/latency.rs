//! Latency summaries in milliseconds from exact samples or an HDR histogram.

use hdrhistogram::Histogram;

use crate::bundle::LatencyStats;

/// Summary of microsecond values, exact: quantiles by linear interpolation
/// between order statistics (Hyndman & Fan 1996, definition 7), so no
/// bucketing error enters the headline percentiles. Sorts `us` in place.
pub fn latency_stats_exact(us: &mut [f64]) -> LatencyStats {
    if us.is_empty() {
        return LatencyStats::default();
    }
    us.sort_by(f64::total_cmp);
    let q = |p: f64| crate::stats::quantile_type7(us, p).map(|v| round3(v / 1e3));
    let sum: f64 = us.iter().sum();
    LatencyStats {
        count: us.len() as u64,
        mean: Some(round3(sum / us.len() as f64 / 1e3)),
        p50: q(0.50),
        p90: q(0.90),
        p95: q(0.95),
        p99: q(0.99),
        min: Some(round3(us[0] / 1e3)),
        max: Some(round3(us[us.len() - 1] / 1e3)),
        buckets_ms: Default::default(),
    }
}

/// Summary from an HDR histogram of microsecond values (3 significant
/// digits: at most 0.1 % quantization error). Used where keeping every value
/// would cost too much memory (ITL: one value per token).
pub fn latency_stats_hdr(h: &Histogram<u64>) -> LatencyStats {
    if h.is_empty() {
        return LatencyStats::default();
    }
    let q = |p: f64| Some(round3(h.value_at_quantile(p) as f64 / 1e3));
    LatencyStats {
        count: h.len(),
        mean: Some(round3(h.mean() / 1e3)),
        p50: q(0.50),
        p90: q(0.90),
        p95: q(0.95),
        p99: q(0.99),
        min: Some(round3(h.min() as f64 / 1e3)),
        max: Some(round3(h.max() as f64 / 1e3)),
        buckets_ms: Default::default(),
    }
}

/// Microsecond precision in millisecond fields keeps bundles readable.
pub(crate) fn round3(v: f64) -> f64 {
    (v * 1e3).round() / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_stats_interpolate_between_order_statistics() {
        let mut v: Vec<f64> = (1..=10).map(|x| x as f64 * 1000.0).collect();
        let s = latency_stats_exact(&mut v);
        assert_eq!(s.count, 10);
        assert_eq!(s.p50, Some(5.5));
        // type 7: h = (n-1)p = 8.55 → 9 + 0.55 × (10 − 9)
        assert_eq!(s.p95, Some(9.55));
        assert_eq!(s.min, Some(1.0));
        assert_eq!(s.max, Some(10.0));
        assert_eq!(s.mean, Some(5.5));
    }

    #[test]
    fn empty_input_has_no_values() {
        let s = latency_stats_exact(&mut []);
        assert_eq!(s.count, 0);
        assert_eq!(s.p95, None);
    }
}
