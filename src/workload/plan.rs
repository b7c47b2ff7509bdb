//! The plan of a run: the endpoint, the prompt mix with token counts, the
//! load shape, stop condition, warm-up, retries, cancellations, SLOs, pricing
//! and the bundle key, validated (built by `build.rs`). Each request of the
//! plan is a pure function of (seed, index), so two runs of the same
//! workload send the same requests in the same order.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::file::Arrival;
use super::seeded::{mix64, unit};
use super::shard::Shard;
use crate::bundle::BundleKey;
use crate::client::{
    ApiKind, EndpointUrl, ErrorKind, Prompt, PromptTokens, QualityCheck, RequestSpec, Sampling,
};
use crate::tokenizer::Tokenizer;

/// Where requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// An OpenAI-compatible base URL ending in `/v1`; prints redacted.
    Http(EndpointUrl),
    /// The built-in simulator with the named profile, started in-process.
    Sim(String),
}

impl Endpoint {
    pub fn parse(text: &str) -> Result<Endpoint, String> {
        if let Some(name) = text.strip_prefix("sim://") {
            let name = if name.is_empty() { "default" } else { name };
            return Ok(Endpoint::Sim(name.to_string()));
        }
        EndpointUrl::parse_base(text)
            .map(Endpoint::Http)
            .map_err(|e| e.to_string())
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Endpoint::Http(_) => "http",
            Endpoint::Sim(_) => "sim",
        }
    }

    /// For bundles and logs: user info and query values masked.
    pub fn display(&self) -> String {
        match self {
            Endpoint::Sim(n) => format!("sim://{n}"),
            Endpoint::Http(url) => url.to_string(),
        }
    }
}

/// Closed or open loop.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadPlan {
    Closed {
        concurrency: u32,
        think_time: Duration,
    },
    Open {
        rate: f64,
        arrival: Arrival,
        max_in_flight: u32,
    },
}

impl LoadPlan {
    /// Connections the client should keep: the most requests in flight.
    pub fn pool_size(&self) -> usize {
        match self {
            LoadPlan::Closed { concurrency, .. } => *concurrency as usize,
            LoadPlan::Open { max_in_flight, .. } => (*max_in_flight as usize).min(1024),
        }
    }
}

/// When the measurement window ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StopAfter {
    Requests(u64),
    Duration(Duration),
}

/// What is excluded from metrics at the start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Warmup {
    None,
    Requests(u64),
    Duration(Duration),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Total attempts including the first.
    pub max_attempts: u32,
    pub on: Vec<ErrorKind>,
    pub backoff: Duration,
    pub max_retry_after: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CancelPlan {
    pub probability: f64,
    pub after_events: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Slo {
    pub ttft: Option<Duration>,
    pub tpot: Option<Duration>,
    pub e2e: Option<Duration>,
}

impl Slo {
    pub fn is_empty(&self) -> bool {
        self.ttft.is_none() && self.tpot.is_none() && self.e2e.is_none()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Pricing {
    /// Self-hosted: replicas × price per hour.
    Hourly {
        per_hour: f64,
        replicas: u32,
        currency: String,
    },
    /// Hosted API: per-token prices (per million tokens).
    PerToken {
        input_per_million: f64,
        output_per_million: f64,
        currency: String,
    },
}

/// Server telemetry settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryPlan {
    pub enabled: bool,
    /// `None`: the endpoint's root + `/metrics`. Prints redacted.
    pub metrics_url: Option<EndpointUrl>,
    pub interval: Duration,
}

/// Checks before the timed window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreflightPlan {
    pub wait: Duration,
    pub check_model: bool,
    /// Whether a refused connection is retried until `wait` has passed:
    /// only when the workload sets `preflight.wait` (a server that may
    /// still be starting). Otherwise nothing listens there, and waiting
    /// would only delay the error.
    pub retry_refused: bool,
}

/// One prompt of the pool with everything a request needs.
#[derive(Debug, Clone)]
pub struct PromptEntry {
    pub prompt: Arc<Prompt>,
    /// Counted on first need for a fixed prompt ([`PromptTokens`]).
    pub tokens: PromptTokens,
    pub class: u16,
    pub quality: Option<Arc<QualityCheck>>,
}

/// A prompt class: fixed prompts (class `fixed`) or a synthetic class.
#[derive(Debug, Clone)]
pub struct PromptClass {
    pub name: String,
    /// Normalized share of the mix.
    pub weight: f64,
    pub sampling: Arc<Sampling>,
    /// Indices into [`Plan::prompts`].
    pub entries: Vec<usize>,
    /// A synthetic class: its pool is sized by the planned requests, and
    /// prompt `j` is a pure function of (seed, class, j), so a smaller pool
    /// is a prefix of a larger one. The digest names the generator (first
    /// prompt, token count), not the pool, so the sample size stays out of it.
    pub synthetic: bool,
}

/// A request as the driver sends it.
#[derive(Debug, Clone)]
pub struct PlannedRequest {
    pub index: u64,
    pub class: u16,
    pub spec: RequestSpec,
}

/// Everything a run needs, validated.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub source: PathBuf,
    pub endpoint: Endpoint,
    pub api: ApiKind,
    pub model: String,
    pub api_key_env: Option<String>,
    pub streaming: bool,
    pub tokenizer: Arc<Tokenizer>,
    pub prompts: Vec<PromptEntry>,
    pub classes: Vec<PromptClass>,
    /// Fixed prompts only, no weights: send them round-robin (lowest variance).
    pub round_robin: bool,
    pub load: LoadPlan,
    pub stop: StopAfter,
    pub warmup: Warmup,
    pub timeout: Duration,
    pub retry: Option<RetryPolicy>,
    pub cancel: Option<CancelPlan>,
    pub seed: u64,
    pub slo: Slo,
    pub pricing: Option<Pricing>,
    pub key: BundleKey,
    pub engine_flags: Option<String>,
    pub meta: BTreeMap<String, String>,
    /// `max_tokens` when the same for every request.
    pub max_tokens: Option<u32>,
    pub telemetry: TelemetryPlan,
    pub preflight: PreflightPlan,
    /// The workload digest, made on first use ([`Plan::digest`]).
    pub(super) digest: OnceLock<String>,
    /// The digest's inputs in words, made on first use ([`Plan::shape`]).
    pub(super) shape: OnceLock<BTreeMap<String, String>>,
    /// The part of the plan this process sends (`--shard I/N`); `None`
    /// sends all of it. Not part of the digest: the shards of a run share
    /// the digest of the whole plan, which is what `merge` checks.
    pub shard: Option<Shard>,
}

/// Overrides from the command line (`--requests`, `--concurrency`, `--rate`,
/// `--endpoint`, `--meta`).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub endpoint: Option<String>,
    pub requests: Option<u64>,
    pub duration: Option<Duration>,
    pub concurrency: Option<u32>,
    pub rate: Option<f64>,
    pub seed: Option<u64>,
    /// `KEY=VALUE` pairs: key fields (`model_version`, …) or free metadata.
    pub meta: Vec<(String, String)>,
    /// `--shard I/N`: send only this shard's part of the plan.
    pub shard: Option<Shard>,
    /// `--start-at`: start the run (after preflight) at this wall-clock
    /// instant, so the shards of a run open their windows together.
    pub start_at: Option<std::time::SystemTime>,
}

/// Environment variables that may set key fields (CI sets them once for all jobs).
pub const KEY_ENV: [(&str, &str); 4] = [
    ("model_version", "TOKENGATE_MODEL_VERSION"),
    ("serving_image", "TOKENGATE_SERVING_IMAGE"),
    ("hardware_profile", "TOKENGATE_HARDWARE_PROFILE"),
    ("tokenizer", "TOKENGATE_TOKENIZER"),
];

impl Plan {
    /// The workload digest (`context.workload_digest`): what must match for
    /// two runs to be comparable. Made on first use — it counts the fixed
    /// prompts' tokens, which builds the tokenizer, so `run` asks for it
    /// when it assembles the bundle, after the window.
    pub fn digest(&self) -> &str {
        self.digest
            .get_or_init(|| super::digest::workload_digest(self))
    }

    /// The digest's inputs in words (`context.workload_shape`), made on
    /// first use like [`Plan::digest`].
    pub fn shape(&self) -> &BTreeMap<String, String> {
        self.shape
            .get_or_init(|| super::digest::workload_shape(self))
    }

    /// Tokens of a plan prompt by the plan's tokenizer (counted once).
    pub fn prompt_tokens(&self, entry: &PromptEntry) -> u32 {
        entry
            .tokens
            .get_or_count(|| saturate(self.tokenizer.count(&entry.prompt.counted_text())))
    }

    /// The request with this index (warm-up included), a pure function of
    /// (seed, index).
    pub fn request(&self, index: u64) -> PlannedRequest {
        let h = mix64(self.seed ^ mix64(index));
        let (class_idx, entry_idx) = if self.round_robin {
            let entries = &self.classes[0].entries;
            (0usize, entries[(index % entries.len() as u64) as usize])
        } else {
            let u = unit(h);
            let mut acc = 0.0;
            let mut chosen = self.classes.len() - 1;
            for (i, c) in self.classes.iter().enumerate() {
                acc += c.weight;
                if u < acc {
                    chosen = i;
                    break;
                }
            }
            let entries = &self.classes[chosen].entries;
            let j = (mix64(h) % entries.len() as u64) as usize;
            (chosen, entries[j])
        };
        let entry = &self.prompts[entry_idx];
        let cancel_after_events = self.cancel.and_then(|c| {
            let u = unit(mix64(h ^ 0xC0FF_EE00));
            (u < c.probability).then_some(c.after_events)
        });
        PlannedRequest {
            index,
            class: class_idx as u16,
            spec: RequestSpec {
                prompt: entry.prompt.clone(),
                prompt_tokens: entry.tokens.clone(),
                sampling: self.classes[class_idx].sampling.clone(),
                cancel_after_events,
                quality: entry.quality.clone(),
            },
        }
    }

    /// Planned request count including warm-up (count mode only), of
    /// this process's shard.
    pub fn total_requests(&self) -> Option<u64> {
        let all = match (self.stop, self.warmup) {
            (StopAfter::Requests(n), Warmup::Requests(w)) => n + w,
            (StopAfter::Requests(n), _) => n,
            _ => return None,
        };
        Some(self.shard.map_or(all, |s| s.share_of(all)))
    }

    /// Measured requests this process plans to send (count mode): its
    /// shard's share of the measured indices. With a warm-up of `w`
    /// requests the measured ones are global indices `w..w+n`, so the share
    /// is that of `w + n` less that of `w` (not the share of `n`: shard
    /// numbering starts at index 0, inside the warm-up).
    pub fn measured_requests(&self) -> Option<u64> {
        let StopAfter::Requests(n) = self.stop else {
            return None;
        };
        let w = match self.warmup {
            Warmup::Requests(w) => w,
            _ => 0,
        };
        Some(
            self.shard
                .map_or(n, |s| s.share_of(w + n).saturating_sub(s.share_of(w))),
        )
    }

    pub fn class_names(&self) -> Vec<String> {
        self.classes.iter().map(|c| c.name.clone()).collect()
    }
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
