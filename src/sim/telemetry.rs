//! What the simulator counts about itself: request and fault counters
//! (`SimCounters`), latency histograms, and their Prometheus text
//! exposition on `/metrics` with the same families vLLM exposes (prefix
//! `tokengate_sim:` instead of `vllm:`).

use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use super::model::{FaultKind, SchedSnapshot};

/// A snapshot of the simulator's counters.
///
/// `requests_completed` counts responses delivered complete and well formed
/// (finish_reason, and `[DONE]` when streaming) — what a correct client
/// counts as successes. Requests with a `stall` or `slow_headers` fault are
/// included (they are only slow); every other fault makes a request fail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimCounters {
    /// POSTs to `/v1/chat/completions` and `/v1/completions` (all of them).
    pub requests_received: u64,
    /// Complete, well-formed responses delivered.
    pub requests_completed: u64,
    /// Rejected by validation: bad JSON, unknown model (404), context
    /// overflow or bad parameters (400). Not faults.
    pub requests_rejected: u64,
    /// Streams abandoned because the client went away.
    pub requests_abandoned: u64,
    /// Prompt tokens of admitted requests (the simulator's word count).
    pub prompt_tokens: u64,
    /// Output tokens sent.
    pub generation_tokens: u64,
    /// Injected faults, indexed by `FaultKind::index()`; see `injected`.
    pub faults: [u64; FaultKind::ALL.len()],
}

impl SimCounters {
    /// How many faults of this kind were injected.
    pub fn injected(&self, kind: FaultKind) -> u64 {
        self.faults[kind.index()]
    }

    /// All injected faults.
    pub fn injected_total(&self) -> u64 {
        self.faults.iter().sum()
    }
}

/// What the host noise of one start looks like now (`run_noise`,
/// `host_stalls`), for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseGauges {
    /// The run-to-run slowdown factor (1 without `run_noise`).
    pub run_slowdown: f64,
    /// Its seed; None without `run_noise`.
    pub run_noise_seed: Option<u64>,
    /// Host stalls begun since start.
    pub host_stalls: u64,
    /// Time the engine stood still in them.
    pub host_stalled: Duration,
    /// The seed of the random stall times; None without `host_stalls`.
    pub host_stalls_seed: Option<u64>,
}

impl Default for NoiseGauges {
    fn default() -> Self {
        NoiseGauges {
            run_slowdown: 1.0,
            run_noise_seed: None,
            host_stalls: 0,
            host_stalled: Duration::ZERO,
            host_stalls_seed: None,
        }
    }
}

/// Bucket upper bounds (seconds), roughly those vLLM uses for its TTFT and
/// latency histograms (vllm/engine/metrics.py).
const BUCKETS_S: [f64; 20] = [
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
    10.0, 20.0, 40.0, 80.0,
];

#[derive(Debug, Clone, Default)]
struct Histogram {
    /// Non-cumulative counts per bucket; the last is +Inf.
    counts: [u64; BUCKETS_S.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, d: Duration) {
        let s = d.as_secs_f64();
        let i = BUCKETS_S
            .iter()
            .position(|&b| s <= b)
            .unwrap_or(BUCKETS_S.len());
        self.counts[i] += 1;
        self.sum += s;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, b) in BUCKETS_S.iter().enumerate() {
            cumulative += self.counts[i];
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cumulative}");
        }
        cumulative += self.counts[BUCKETS_S.len()];
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let _ = writeln!(out, "{name}_sum {}", self.sum);
        let _ = writeln!(out, "{name}_count {}", self.count);
    }
}

#[derive(Debug, Default)]
struct Inner {
    counters: SimCounters,
    ttft: Histogram,
    queue: Histogram,
    e2e: Histogram,
    itl: Histogram,
}

/// The simulator's live counters and histograms.
#[derive(Debug, Default)]
pub struct Telemetry {
    inner: Mutex<Inner>,
}

impl Telemetry {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        // Updates are single increments; a poisoned lock holds sane data.
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut g)
    }

    pub fn received(&self) {
        self.with(|i| i.counters.requests_received += 1);
    }
    pub fn rejected(&self) {
        self.with(|i| i.counters.requests_rejected += 1);
    }
    pub fn abandoned(&self) {
        self.with(|i| i.counters.requests_abandoned += 1);
    }
    pub fn fault(&self, kind: FaultKind) {
        self.with(|i| i.counters.faults[kind.index()] += 1);
    }
    /// Admission to a slot after `queued` in the queue.
    pub fn admitted(&self, queued: Duration, prompt_tokens: u32) {
        self.with(|i| {
            i.queue.observe(queued);
            i.counters.prompt_tokens += u64::from(prompt_tokens);
        });
    }
    /// The first output token, `ttft` after arrival.
    pub fn first_token(&self, ttft: Duration) {
        self.with(|i| {
            i.ttft.observe(ttft);
            i.counters.generation_tokens += 1;
        });
    }
    /// A later output token, `gap` after the previous one.
    pub fn next_token(&self, gap: Duration) {
        self.with(|i| {
            i.itl.observe(gap);
            i.counters.generation_tokens += 1;
        });
    }
    /// A complete, well-formed response, `e2e` after arrival.
    pub fn completed(&self, e2e: Duration) {
        self.with(|i| {
            i.e2e.observe(e2e);
            i.counters.requests_completed += 1;
        });
    }

    pub fn counters(&self) -> SimCounters {
        self.with(|i| i.counters.clone())
    }

    /// Prometheus text exposition format 0.0.4.
    pub fn render(&self, sched: SchedSnapshot, kv_capacity: u64, noise: &NoiseGauges) -> String {
        let mut out = String::with_capacity(8 * 1024);
        let gauge = |out: &mut String, name: &str, help: &str, v: f64| {
            let _ = writeln!(out, "# HELP tokengate_sim:{name} {help}");
            let _ = writeln!(out, "# TYPE tokengate_sim:{name} gauge");
            let _ = writeln!(out, "tokengate_sim:{name} {v}");
        };
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP tokengate_sim:{name} {help}");
            let _ = writeln!(out, "# TYPE tokengate_sim:{name} counter");
            let _ = writeln!(out, "tokengate_sim:{name} {v}");
        };
        gauge(
            &mut out,
            "num_requests_running",
            "Requests holding a batch slot.",
            f64::from(sched.running),
        );
        gauge(
            &mut out,
            "num_requests_waiting",
            "Requests waiting for a batch slot.",
            f64::from(sched.waiting),
        );
        let usage = if kv_capacity == 0 {
            0.0
        } else {
            sched.kv_used as f64 / kv_capacity as f64
        };
        gauge(
            &mut out,
            "kv_cache_usage_perc",
            "KV-cache usage as a fraction (1 means full).",
            usage,
        );
        gauge(
            &mut out,
            "run_slowdown",
            "Factor on prefill and decode times drawn at start (run_noise; 1 without).",
            noise.run_slowdown,
        );
        counter(
            &mut out,
            "host_stalls_total",
            "Host stalls begun since start (host_stalls); each pauses every request.",
            noise.host_stalls,
        );
        let name = "tokengate_sim:host_stall_seconds_total";
        let _ = writeln!(
            out,
            "# HELP {name} Time the engine stood still in host stalls."
        );
        let _ = writeln!(out, "# TYPE {name} counter");
        let _ = writeln!(out, "{name} {}", noise.host_stalled.as_secs_f64());
        // Seeds as labels (a u64 does not fit a float sample exactly), so a
        // run with fresh seeds can be reproduced by writing them into the
        // profile.
        let seeds = [
            ("run_noise", noise.run_noise_seed),
            ("host_stalls", noise.host_stalls_seed),
        ];
        if seeds.iter().any(|(_, s)| s.is_some()) {
            let name = "tokengate_sim:noise_seed_info";
            let _ = writeln!(
                out,
                "# HELP {name} Seeds this start's run noise and host stalls were drawn with."
            );
            let _ = writeln!(out, "# TYPE {name} gauge");
            for (process, seed) in seeds {
                if let Some(seed) = seed {
                    let _ = writeln!(out, "{name}{{process=\"{process}\",seed=\"{seed}\"}} 1");
                }
            }
        }
        // The standard process collector's name (no prefix), as vLLM's
        // Python client exposes it, so soak runs can watch server memory.
        if let Some(rss) = crate::runinfo::resident_memory_bytes() {
            let name = "process_resident_memory_bytes";
            let _ = writeln!(out, "# HELP {name} Resident memory size in bytes.");
            let _ = writeln!(out, "# TYPE {name} gauge");
            let _ = writeln!(out, "{name} {rss}");
        }
        self.with(|i| {
            let c = &i.counters;
            counter(
                &mut out,
                "request_success_total",
                "Complete, well-formed responses.",
                c.requests_completed,
            );
            counter(
                &mut out,
                "prompt_tokens_total",
                "Prompt tokens admitted (whitespace word count).",
                c.prompt_tokens,
            );
            counter(
                &mut out,
                "generation_tokens_total",
                "Output tokens sent.",
                c.generation_tokens,
            );
            let name = "tokengate_sim:injected_faults_total";
            let _ = writeln!(out, "# HELP {name} Injected faults by kind.");
            let _ = writeln!(out, "# TYPE {name} counter");
            for kind in FaultKind::ALL {
                let _ = writeln!(
                    out,
                    "{name}{{kind=\"{}\"}} {}",
                    kind.as_str(),
                    c.injected(kind)
                );
            }
            i.ttft.render(
                &mut out,
                "tokengate_sim:time_to_first_token_seconds",
                "Arrival to first output token.",
            );
            i.queue.render(
                &mut out,
                "tokengate_sim:request_queue_time_seconds",
                "Arrival to admission to a batch slot.",
            );
            i.e2e.render(
                &mut out,
                "tokengate_sim:e2e_request_latency_seconds",
                "Arrival to the end of a complete response.",
            );
            i.itl.render(
                &mut out,
                "tokengate_sim:inter_token_latency_seconds",
                "Time between successive output tokens.",
            );
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn metrics_expose_the_resident_memory_on_linux() {
        let t = Telemetry::default();
        let text = t.render(
            SchedSnapshot {
                running: 0,
                waiting: 0,
                kv_used: 0,
            },
            1,
            &NoiseGauges::default(),
        );
        let e = crate::telemetry::parse_exposition(&text).expect("parses");
        let rss = e.sum("process_resident_memory_bytes").expect("present");
        assert!(rss > 1e6, "{rss}");
    }
}
