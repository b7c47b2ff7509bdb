//! What a server's own metrics say about a measurement window: histogram
//! deltas (TTFT, queue time, ITL, E2E, prefill, decode), counter deltas and
//! gauge peaks, for vLLM (`vllm:`), the simulator (`tokengate_sim:`, the same
//! families) and llama.cpp's server (`llamacpp:`). Unknown servers keep only
//! the scrape count.

use super::prometheus::{Exposition, HistogramSnapshot};
use crate::bundle::{LatencyStats, ServerScrape, ServerTelemetry};

/// Which family names a server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    Vllm,
    Sim,
    LlamaCpp,
    Unknown,
}

impl ServerKind {
    pub fn detect(e: &Exposition) -> ServerKind {
        let has = |prefix: &str| e.samples.iter().any(|s| s.name.starts_with(prefix));
        if has("vllm:") {
            ServerKind::Vllm
        } else if has("tokengate_sim:") {
            ServerKind::Sim
        } else if has("llamacpp:") {
            ServerKind::LlamaCpp
        } else {
            ServerKind::Unknown
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ServerKind::Vllm => "vllm",
            ServerKind::Sim => "tokengate_sim",
            ServerKind::LlamaCpp => "llamacpp",
            ServerKind::Unknown => "unknown",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            ServerKind::Vllm => "vllm:",
            ServerKind::Sim => "tokengate_sim:",
            ServerKind::LlamaCpp => "llamacpp:",
            ServerKind::Unknown => "",
        }
    }
}

/// Gauges whose peak over the run is worth keeping, per kind:
/// (bundle name, family names to try in order).
fn gauges(kind: ServerKind) -> Vec<(&'static str, Vec<String>)> {
    let p = kind.prefix();
    match kind {
        ServerKind::Vllm | ServerKind::Sim => vec![
            ("running", vec![format!("{p}num_requests_running")]),
            ("waiting", vec![format!("{p}num_requests_waiting")]),
            (
                "kv_cache_usage",
                // vLLM renamed the GPU cache gauge; accept both.
                vec![
                    format!("{p}kv_cache_usage_perc"),
                    format!("{p}gpu_cache_usage_perc"),
                ],
            ),
        ],
        ServerKind::LlamaCpp => vec![
            ("running", vec![format!("{p}requests_processing")]),
            ("waiting", vec![format!("{p}requests_deferred")]),
            ("kv_cache_usage", vec![format!("{p}kv_cache_usage_ratio")]),
        ],
        ServerKind::Unknown => Vec::new(),
    }
}

/// Running maxima of the interesting gauges across scrapes.
#[derive(Debug, Clone, Default)]
pub struct GaugePeaks {
    pub running: Option<f64>,
    pub waiting: Option<f64>,
    pub kv_cache_usage: Option<f64>,
}

impl GaugePeaks {
    pub fn observe(&mut self, kind: ServerKind, e: &Exposition) {
        let now = read_gauges(kind, e);
        for (slot, v) in [
            (&mut self.running, now.running),
            (&mut self.waiting, now.waiting),
            (&mut self.kv_cache_usage, now.kv_cache_usage),
        ] {
            if let Some(v) = v {
                *slot = Some(slot.map_or(v, |old: f64| old.max(v)));
            }
        }
    }
}

/// The interesting gauges of one scrape, as scraped.
fn read_gauges(kind: ServerKind, e: &Exposition) -> GaugePeaks {
    let mut g = GaugePeaks::default();
    for (name, families) in gauges(kind) {
        let v = families.iter().find_map(|f| e.sum(f));
        match name {
            "running" => g.running = v,
            "waiting" => g.waiting = v,
            _ => g.kv_cache_usage = v,
        }
    }
    g
}

/// One point of the server timeline: the gauges the peaks use, and the
/// process's resident memory (`process_resident_memory_bytes`, the
/// Prometheus client libraries' standard process metric) when exposed.
/// `t_s` is the caller's.
pub fn scrape_point(kind: ServerKind, e: &Exposition, t_s: f64) -> ServerScrape {
    let g = read_gauges(kind, e);
    ServerScrape {
        t_s,
        running: g.running,
        waiting: g.waiting,
        kv_cache_usage: g.kv_cache_usage,
        rss_bytes: e.sum("process_resident_memory_bytes"),
    }
}

/// Summary (ms) of a histogram's observations between two scrapes: count,
/// mean (sum/count, exact), quantiles interpolated inside buckets.
fn window_stats(
    before: Option<&HistogramSnapshot>,
    after: &HistogramSnapshot,
) -> Option<LatencyStats> {
    let d = match before {
        Some(b) => after.delta(b),
        None => after.clone(),
    };
    if d.count <= 0.0 {
        return None;
    }
    let mean = d.sum / d.count;
    // Interpolating inside a coarse bucket can put a quantile far above
    // every observation (vLLM's queue-time buckets start at 0.3 s, so
    // microsecond waits would read as 150 ms). For non-negative values
    // Markov's inequality, P(X ≥ a) ≤ E[X]/a, bounds the p-quantile by
    // mean / (1 − p); take the smaller of the two.
    let q = |p: f64| d.quantile(p).map(|v| round3(v.min(mean / (1.0 - p)) * 1e3));
    // The bucket each quantile came from, so a reader sees the resolution
    // (a p95 of 58.3 ms "from the 40–60 ms bucket") instead of a false
    // precision.
    let buckets_ms = [("p50", 0.50), ("p90", 0.90), ("p95", 0.95), ("p99", 0.99)]
        .into_iter()
        .filter_map(|(name, p)| {
            let b = d.quantile_in_bucket(p)?;
            Some((
                name.to_owned(),
                (round3(b.lower * 1e3), b.upper.map(|u| round3(u * 1e3))),
            ))
        })
        .collect();
    Some(LatencyStats {
        count: d.count.round() as u64,
        mean: Some(round3(mean * 1e3)),
        p50: q(0.50),
        p90: q(0.90),
        p95: q(0.95),
        p99: q(0.99),
        min: None,
        max: None,
        buckets_ms,
    })
}

fn round3(v: f64) -> f64 {
    (v * 1e3).round() / 1e3
}

/// Interpret the scrapes at the start and end of the window.
pub fn summarize(
    url: &str,
    scrapes: u64,
    start: &Exposition,
    end: &Exposition,
    peaks: &GaugePeaks,
) -> ServerTelemetry {
    let kind = ServerKind::detect(end);
    let p = kind.prefix();
    let hist = |names: &[&str]| -> Option<LatencyStats> {
        names.iter().find_map(|n| {
            let family = format!("{p}{n}");
            let after = end.histogram(&family)?;
            window_stats(start.histogram(&family).as_ref(), &after)
        })
    };
    let counter = |names: &[&str]| -> Option<f64> {
        names.iter().find_map(|n| {
            let family = format!("{p}{n}");
            let after = end.sum(&family)?;
            Some((after - start.sum(&family).unwrap_or(0.0)).max(0.0))
        })
    };
    let known = kind != ServerKind::Unknown;
    ServerTelemetry {
        kind: kind.as_str().into(),
        metrics_url: url.into(),
        scrapes,
        ttft_ms: known
            .then(|| hist(&["time_to_first_token_seconds"]))
            .flatten(),
        queue_time_ms: known
            .then(|| hist(&["request_queue_time_seconds"]))
            .flatten(),
        itl_ms: known
            .then(|| {
                hist(&[
                    "inter_token_latency_seconds",
                    "time_per_output_token_seconds",
                ])
            })
            .flatten(),
        e2e_ms: known
            .then(|| hist(&["e2e_request_latency_seconds"]))
            .flatten(),
        prefill_ms: known
            .then(|| hist(&["request_prefill_time_seconds"]))
            .flatten(),
        decode_ms: known
            .then(|| hist(&["request_decode_time_seconds"]))
            .flatten(),
        requests_completed: match kind {
            ServerKind::Vllm | ServerKind::Sim => counter(&["request_success_total"]),
            _ => None,
        },
        prompt_tokens: counter(&["prompt_tokens_total"]),
        generation_tokens: counter(&["generation_tokens_total", "tokens_predicted_total"]),
        preemptions: match kind {
            ServerKind::Vllm => counter(&["num_preemptions_total"]),
            _ => None,
        },
        timeline: Vec::new(),
        peak_running: peaks.running,
        peak_waiting: peaks.waiting,
        peak_kv_cache_usage: peaks.kv_cache_usage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::parse_exposition;

    /// Tiny waits in a histogram whose first bucket is 0.3 s wide must not
    /// read as 150 ms: the Markov bound caps p50 at twice the mean.
    #[test]
    fn coarse_first_bucket_quantiles_are_bounded_by_the_mean() {
        let before = parse_exposition(
            "vllm:request_queue_time_seconds_bucket{le=\"0.3\"} 0\nvllm:request_queue_time_seconds_bucket{le=\"+Inf\"} 0\nvllm:request_queue_time_seconds_sum 0\nvllm:request_queue_time_seconds_count 0\n",
        )
        .unwrap();
        let after = parse_exposition(
            "vllm:request_queue_time_seconds_bucket{le=\"0.3\"} 64\nvllm:request_queue_time_seconds_bucket{le=\"+Inf\"} 64\nvllm:request_queue_time_seconds_sum 0.00128\nvllm:request_queue_time_seconds_count 64\n",
        )
        .unwrap();
        let t = summarize("u", 2, &before, &after, &GaugePeaks::default());
        let q = t.queue_time_ms.unwrap();
        assert_eq!(q.count, 64);
        assert_eq!(q.mean, Some(0.02));
        assert_eq!(q.p50, Some(0.04));
        assert!(q.p99.unwrap() <= 2.0);
        // The bucket says how coarse that is.
        assert_eq!(q.buckets_ms["p50"], (0.0, Some(300.0)));
        assert_eq!(q.bucket_text("p50").as_deref(), Some("0–300 ms"));
    }

    /// A server TTFT p95 interpolated to 58 ms inside the 40–60 ms bucket
    /// records that bucket, and the quantiles of the `+Inf` bucket have no
    /// upper bound.
    #[test]
    fn server_quantiles_record_the_bucket_they_came_from() {
        let text = |c: [u32; 4], sum: f64| {
            format!(
                "vllm:time_to_first_token_seconds_bucket{{le=\"0.04\"}} {}\nvllm:time_to_first_token_seconds_bucket{{le=\"0.06\"}} {}\nvllm:time_to_first_token_seconds_bucket{{le=\"0.08\"}} {}\nvllm:time_to_first_token_seconds_bucket{{le=\"+Inf\"}} {}\nvllm:time_to_first_token_seconds_sum {sum}\nvllm:time_to_first_token_seconds_count {}\n",
                c[0], c[1], c[2], c[3], c[3]
            )
        };
        let before = parse_exposition(&text([0, 0, 0, 0], 0.0)).unwrap();
        // 100 requests: 10 up to 40 ms, 86 in 40–60 ms, 2 in 60–80 ms, 2 above.
        let after = parse_exposition(&text([10, 96, 98, 100], 5.0)).unwrap();
        let t = summarize("u", 2, &before, &after, &GaugePeaks::default());
        let ttft = t.ttft_ms.unwrap();
        assert_eq!(ttft.p95, Some(59.767));
        assert_eq!(ttft.buckets_ms["p50"], (40.0, Some(60.0)));
        assert_eq!(ttft.buckets_ms["p95"], (40.0, Some(60.0)));
        assert_eq!(ttft.buckets_ms["p99"], (80.0, None));
        assert_eq!(ttft.bucket_text("p95").as_deref(), Some("40–60 ms"));
        assert_eq!(ttft.bucket_text("p99").as_deref(), Some("≥ 80 ms"));
        assert_eq!(ttft.bucket_text("mean"), None);
    }
}
