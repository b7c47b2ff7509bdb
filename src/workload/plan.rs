//! Turning a validated [`WorkloadFile`] into a [`Plan`]: the endpoint, the
//! prompt mix with token counts, the load shape, stop condition, warm-up,
//! retries, cancellations, SLOs, pricing and the bundle key. Each request of
//! the plan is a pure function of (seed, index), so two runs of the same
//! workload send the same requests in the same order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::file::{Arrival, ExpectField, LoadMode, PromptItem, TokenizerField, WorkloadFile};
use crate::bundle::BundleKey;
use crate::client::{ApiKind, ErrorKind, Message, Prompt, QualityCheck, RequestSpec, Sampling};
use crate::tokenizer::{Tokenizer, TokenizerSpec};
use crate::yaml::ConfigError;

/// Where requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// An OpenAI-compatible base URL ending in `/v1`.
    Http(String),
    /// The built-in simulator with the named profile, started in-process.
    Sim(String),
}

impl Endpoint {
    pub fn parse(text: &str) -> Result<Endpoint, String> {
        if let Some(name) = text.strip_prefix("sim://") {
            let name = if name.is_empty() { "default" } else { name };
            return Ok(Endpoint::Sim(name.to_string()));
        }
        if text.starts_with("http://") || text.starts_with("https://") {
            let trimmed = text.trim_end_matches('/');
            let base = if trimmed.ends_with("/v1") {
                trimmed.to_string()
            } else {
                format!("{trimmed}/v1")
            };
            return Ok(Endpoint::Http(base));
        }
        Err(format!(
            "expected `http://HOST:PORT/v1`, `https://…` or `sim://NAME`, got `{text}`"
        ))
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Endpoint::Http(_) => "http",
            Endpoint::Sim(_) => "sim",
        }
    }

    /// For bundles and logs: no user info, no query string.
    pub fn display(&self) -> String {
        match self {
            Endpoint::Sim(n) => format!("sim://{n}"),
            Endpoint::Http(url) => redact_url(url),
        }
    }
}

/// Drop `user:password@` and anything after `?` from a URL.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (s, r),
        None => return url.split('?').next().unwrap_or("").to_string(),
    };
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let host = host.rsplit('@').next().unwrap_or(host);
    format!("{scheme}://{host}{path}")
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
    /// `None`: the endpoint's root + `/metrics`.
    pub metrics_url: Option<String>,
    pub interval: Duration,
}

/// Checks before the timed window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreflightPlan {
    pub wait: Duration,
    pub check_model: bool,
}

/// One prompt of the pool with everything a request needs.
#[derive(Debug, Clone)]
pub struct PromptEntry {
    pub prompt: Arc<Prompt>,
    pub tokens: u32,
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
    pub digest: String,
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
}

/// Environment variables that may set key fields (CI sets them once for all jobs).
pub const KEY_ENV: [(&str, &str); 4] = [
    ("model_version", "TOKENGATE_MODEL_VERSION"),
    ("serving_image", "TOKENGATE_SERVING_IMAGE"),
    ("hardware_profile", "TOKENGATE_HARDWARE_PROFILE"),
    ("tokenizer", "TOKENGATE_TOKENIZER"),
];

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny, well-mixed hash of
/// (seed, index) so per-request choices need no shared RNG state.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Uniform in [0, 1) from a hash.
pub(crate) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

impl Plan {
    /// Build the plan of a workload file. `path` names the file in errors and
    /// anchors relative paths (prompt files, tokenizer files).
    pub fn build(
        file: WorkloadFile,
        path: &Path,
        overrides: &Overrides,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Plan, ConfigError> {
        let invalid = |field: &str, msg: String| ConfigError::invalid(path, field, msg);
        let base_dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();

        if file.name.trim().is_empty() {
            return Err(invalid("name", "expected a non-empty workload name".into()));
        }
        let endpoint_text = overrides.endpoint.clone().unwrap_or(file.endpoint.clone());
        let endpoint = Endpoint::parse(&endpoint_text).map_err(|m| invalid("endpoint", m))?;
        if file.model.trim().is_empty() {
            return Err(invalid("model", "expected a model name".into()));
        }

        // Tokenizer: counts tokens when the server reports no usage and
        // builds synthetic prompts of N tokens.
        let tokenizer_spec = match &file.tokenizer {
            None => TokenizerSpec::Embedded("o200k_base".into()),
            Some(TokenizerField::Name(n)) => TokenizerSpec::Embedded(n.clone()),
            Some(TokenizerField::File { file }) => TokenizerSpec::HfFile(base_dir.join(file)),
        };
        let tokenizer = Tokenizer::load(&tokenizer_spec)
            .map_err(|e| invalid("tokenizer", crate::error_chain(&e)))?;
        let tokenizer = Arc::new(tokenizer);

        // Output and sampling.
        if file.output.max_tokens == Some(0) {
            return Err(invalid("output.max_tokens", "expected at least 1".into()));
        }
        if let Some(t) = file.sampling.temperature
            && !(0.0..=2.0).contains(&t)
        {
            return Err(invalid(
                "sampling.temperature",
                format!("expected a value between 0 and 2, got {t}"),
            ));
        }
        if let Some(p) = file.sampling.top_p
            && !(p > 0.0 && p <= 1.0)
        {
            return Err(invalid(
                "sampling.top_p",
                format!("expected a value in (0, 1], got {p}"),
            ));
        }
        let base_sampling = Sampling {
            max_tokens: file.output.max_tokens,
            ignore_eos: file.output.ignore_eos,
            stop: file.output.stop.clone(),
            temperature: file.sampling.temperature,
            top_p: file.sampling.top_p,
            seed: None,
        };

        // Prompts.
        let mut prompts = Vec::new();
        let mut classes = Vec::new();
        let mut fixed_items: Vec<(PromptItem, String)> = file
            .prompts
            .inline
            .iter()
            .enumerate()
            .map(|(i, p)| (p.clone(), format!("prompts.inline[{i}]")))
            .collect();
        if let Some(f) = &file.prompts.file {
            let full = base_dir.join(f);
            fixed_items.extend(super::prompts::read_jsonl(&full)?);
        }
        let mut any_weight = false;
        if !fixed_items.is_empty() {
            let mut entries = Vec::new();
            let mut total_w = 0.0;
            for (item, field) in &fixed_items {
                let (prompt, quality, weight) =
                    super::prompts::to_prompt(item, file.api, path, field)?;
                any_weight |= weight.is_some();
                let w = weight.unwrap_or(1.0);
                if !(w.is_finite() && w > 0.0) {
                    return Err(invalid(
                        &format!("{field}.weight"),
                        "expected a positive number".into(),
                    ));
                }
                total_w += w;
                let tokens = tokenizer.count(prompt_text(&prompt).as_str()) as u32;
                entries.push(prompts.len());
                prompts.push(PromptEntry {
                    prompt: Arc::new(prompt),
                    tokens,
                    class: 0,
                    quality,
                });
            }
            classes.push(PromptClass {
                name: "fixed".into(),
                weight: total_w,
                sampling: Arc::new(base_sampling.clone()),
                entries,
            });
        }
        let planned_total = match (overrides.requests.or(file.requests), file.warmup.as_ref()) {
            (Some(n), w) => n + w.and_then(|w| w.requests).unwrap_or(0),
            (None, _) => 256,
        };
        for (ci, class) in file.prompts.classes.iter().enumerate() {
            let field = format!("prompts.classes[{ci}]");
            if class.input_tokens == 0 {
                return Err(invalid(
                    &format!("{field}.input_tokens"),
                    "expected at least 1".into(),
                ));
            }
            if !(class.weight.is_finite() && class.weight > 0.0) {
                return Err(invalid(
                    &format!("{field}.weight"),
                    "expected a positive number".into(),
                ));
            }
            if class.max_tokens == Some(0) {
                return Err(invalid(
                    &format!("{field}.max_tokens"),
                    "expected at least 1".into(),
                ));
            }
            let class_idx = classes.len() as u16;
            let mut sampling = base_sampling.clone();
            if class.max_tokens.is_some() {
                sampling.max_tokens = class.max_tokens;
            }
            // Distinct prompts per class so that prefix caches on the server
            // do not turn the benchmark into a cache benchmark; bounded so the
            // plan stays small for long duration runs.
            let pool = (planned_total as f64 * class.weight.clamp(0.05, 1.0)).ceil() as usize;
            let pool = pool.clamp(8, 512);
            let mut entries = Vec::with_capacity(pool);
            for j in 0..pool {
                let seed = mix64(file.seed.unwrap_or(0) ^ mix64(ci as u64 + 1) ^ j as u64);
                let text = tokenizer.synthesize(class.input_tokens, seed);
                let prompt = match file.api {
                    ApiKind::Chat => Prompt::Chat(vec![Message {
                        role: "user".into(),
                        content: text,
                    }]),
                    ApiKind::Completions => Prompt::Text(text),
                };
                entries.push(prompts.len());
                prompts.push(PromptEntry {
                    prompt: Arc::new(prompt),
                    tokens: class.input_tokens,
                    class: class_idx,
                    quality: None,
                });
            }
            classes.push(PromptClass {
                name: class.name.clone(),
                weight: class.weight,
                sampling: Arc::new(sampling),
                entries,
            });
        }
        if prompts.is_empty() {
            return Err(invalid(
                "prompts",
                "expected at least one prompt: `inline`, `file` or `classes`".into(),
            ));
        }
        let total_weight: f64 = classes.iter().map(|c| c.weight).sum();
        for c in &mut classes {
            c.weight /= total_weight;
        }
        let round_robin = classes.len() == 1 && classes[0].name == "fixed" && !any_weight;

        // Load shape.
        let load = match file.load.mode {
            LoadMode::Closed => {
                let concurrency =
                    overrides
                        .concurrency
                        .or(file.load.concurrency)
                        .ok_or_else(|| {
                            invalid(
                                "load.concurrency",
                                "closed loop needs `concurrency` (≥ 1)".into(),
                            )
                        })?;
                if concurrency == 0 || concurrency > 100_000 {
                    return Err(invalid(
                        "load.concurrency",
                        format!("expected 1 to 100000, got {concurrency}"),
                    ));
                }
                if file.load.rate.is_some() && overrides.rate.is_none() {
                    return Err(invalid("load.rate", "`rate` is for `mode: open`".into()));
                }
                LoadPlan::Closed {
                    concurrency,
                    think_time: file.load.think_time.map(|d| d.0).unwrap_or_default(),
                }
            }
            LoadMode::Open => {
                let rate = overrides.rate.or(file.load.rate).ok_or_else(|| {
                    invalid(
                        "load.rate",
                        "open loop needs `rate` (requests per second)".into(),
                    )
                })?;
                if !(rate.is_finite() && rate > 0.0 && rate <= 1.0e6) {
                    return Err(invalid(
                        "load.rate",
                        format!("expected a rate between 0 and 1000000 per second, got {rate}"),
                    ));
                }
                let max_in_flight = file.load.max_in_flight.unwrap_or(10_000);
                if max_in_flight == 0 {
                    return Err(invalid("load.max_in_flight", "expected at least 1".into()));
                }
                LoadPlan::Open {
                    rate,
                    arrival: file.load.arrival.unwrap_or(Arrival::Poisson),
                    max_in_flight,
                }
            }
        };
        // `--concurrency` or `--rate` on the command line switch the mode.
        let load = match (overrides.concurrency, overrides.rate, load) {
            (Some(c), None, LoadPlan::Open { .. }) if c > 0 => LoadPlan::Closed {
                concurrency: c,
                think_time: Duration::ZERO,
            },
            (None, Some(r), LoadPlan::Closed { .. }) if r > 0.0 && r.is_finite() => {
                LoadPlan::Open {
                    rate: r,
                    arrival: Arrival::Poisson,
                    max_in_flight: 10_000,
                }
            }
            (Some(0), _, _) => {
                return Err(invalid("--concurrency", "expected at least 1".into()));
            }
            (_, _, l) => l,
        };

        // Stop condition.
        // Command-line overrides win; in the file, exactly one of the two.
        let stop = if let Some(n) = overrides.requests {
            StopAfter::Requests(n)
        } else if let Some(d) = overrides.duration {
            StopAfter::Duration(d)
        } else {
            match (file.requests, file.duration) {
                (Some(_), Some(_)) => {
                    return Err(invalid(
                        "requests",
                        "give either `requests` or `duration`, not both".into(),
                    ));
                }
                (Some(n), None) => StopAfter::Requests(n),
                (None, Some(d)) => StopAfter::Duration(d.0),
                (None, None) => {
                    return Err(invalid(
                        "requests",
                        "expected `requests: N` or `duration: 30s`".into(),
                    ));
                }
            }
        };
        match stop {
            StopAfter::Requests(0) => {
                return Err(invalid("requests", "expected at least 1".into()));
            }
            StopAfter::Duration(d) if d.is_zero() => {
                return Err(invalid("duration", "expected a positive duration".into()));
            }
            _ => {}
        }
        let warmup = match &file.warmup {
            None => Warmup::None,
            Some(w) => match (w.requests, w.duration) {
                (Some(n), None) => Warmup::Requests(n),
                (None, Some(d)) => Warmup::Duration(d.0),
                (None, None) => Warmup::None,
                (Some(_), Some(_)) => {
                    return Err(invalid(
                        "warmup",
                        "give either `requests` or `duration`, not both".into(),
                    ));
                }
            },
        };
        let timeout = file
            .timeout
            .map(|t| t.0)
            .unwrap_or(Duration::from_secs(120));
        if timeout.is_zero() {
            return Err(invalid("timeout", "expected a positive duration".into()));
        }
        let retry = match &file.retry {
            None => None,
            Some(r) if r.max_attempts == 0 => {
                return Err(invalid("retry.max_attempts", "expected at least 1".into()));
            }
            Some(r) if r.max_attempts > 10 => {
                return Err(invalid("retry.max_attempts", "expected at most 10".into()));
            }
            Some(r) if r.max_attempts == 1 => None,
            Some(r) => Some(RetryPolicy {
                max_attempts: r.max_attempts,
                on: r.on.clone().unwrap_or(vec![
                    ErrorKind::Http429,
                    ErrorKind::Http5xx,
                    ErrorKind::Connect,
                ]),
                backoff: r.backoff.map(|b| b.0).unwrap_or(Duration::from_millis(200)),
                max_retry_after: r
                    .max_retry_after
                    .map(|b| b.0)
                    .unwrap_or(Duration::from_secs(30)),
            }),
        };
        let cancel = match &file.cancel {
            None => None,
            Some(c) if c.after_tokens == 0 => {
                return Err(invalid("cancel.after_tokens", "expected at least 1".into()));
            }
            Some(c) if c.probability.0 == 0.0 => None,
            Some(c) => Some(CancelPlan {
                probability: c.probability.0,
                after_events: c.after_tokens,
            }),
        };
        let slo = file
            .slo
            .as_ref()
            .map(|s| Slo {
                ttft: s.ttft.map(|d| d.0),
                tpot: s.tpot.map(|d| d.0),
                e2e: s.e2e.map(|d| d.0),
            })
            .unwrap_or_default();
        let pricing = match &file.pricing {
            None => None,
            Some(p) => {
                let currency = p.currency.clone().unwrap_or_else(|| "USD".into());
                let nonneg = |field: &str, v: f64| {
                    if v.is_finite() && v >= 0.0 {
                        Ok(v)
                    } else {
                        Err(invalid(
                            field,
                            format!("expected a non-negative price, got {v}"),
                        ))
                    }
                };
                match (p.per_hour, p.input_per_million, p.output_per_million) {
                    (Some(h), None, None) => {
                        let replicas = p.replicas.unwrap_or(1);
                        if replicas == 0 {
                            return Err(invalid("pricing.replicas", "expected at least 1".into()));
                        }
                        Some(Pricing::Hourly {
                            per_hour: nonneg("pricing.per_hour", h)?,
                            replicas,
                            currency,
                        })
                    }
                    (None, i, o) if i.is_some() || o.is_some() => Some(Pricing::PerToken {
                        input_per_million: nonneg("pricing.input_per_million", i.unwrap_or(0.0))?,
                        output_per_million: nonneg("pricing.output_per_million", o.unwrap_or(0.0))?,
                        currency,
                    }),
                    _ => {
                        return Err(invalid(
                            "pricing",
                            "expected either `per_hour` (+ `replicas`) or `input_per_million`/`output_per_million`".into(),
                        ));
                    }
                }
            }
        };

        // Bundle key: file, then environment, then --meta (most specific wins).
        let mut key = BundleKey {
            model_version: file.key.model_version.clone().unwrap_or_default(),
            serving_image: file.key.serving_image.clone().unwrap_or_default(),
            hardware_profile: file.key.hardware_profile.clone().unwrap_or_default(),
            tokenizer: file.key.tokenizer.clone().unwrap_or_default(),
        };
        let mut meta = file.meta.clone();
        let mut engine_flags = file.engine_flags.clone();
        for (field, var) in KEY_ENV {
            if let Some(v) = env(var).filter(|v| !v.is_empty()) {
                set_key_field(&mut key, field, v);
            }
        }
        if let Some(v) = env("TOKENGATE_ENGINE_FLAGS").filter(|v| !v.is_empty()) {
            engine_flags = Some(v);
        }
        for (k, v) in &overrides.meta {
            if !set_key_field(&mut key, k, v.clone()) {
                if k == "engine_flags" {
                    engine_flags = Some(v.clone());
                } else {
                    meta.insert(k.clone(), v.clone());
                }
            }
        }
        if key.tokenizer.is_empty() {
            key.tokenizer = tokenizer.name().to_string();
        }
        if key.model_version.is_empty() {
            key.model_version = file.model.clone();
        }
        if key.hardware_profile.is_empty() && matches!(endpoint, Endpoint::Sim(_)) {
            key.hardware_profile = "simulated".into();
        }
        if key.serving_image.is_empty()
            && let Endpoint::Sim(name) = &endpoint
        {
            key.serving_image = format!("tokengate-sim:{name}");
        }

        let max_tokens = {
            let mut it = classes.iter().map(|c| c.sampling.max_tokens);
            let first = it.next().flatten();
            if it.all(|m| m == first) { first } else { None }
        };
        let seed = overrides.seed.or(file.seed).unwrap_or(0);
        let telemetry = {
            let t = file.telemetry.as_ref();
            let interval = t
                .and_then(|t| t.interval)
                .map(|d| d.0)
                .unwrap_or(Duration::from_secs(1));
            if interval < Duration::from_millis(100) {
                return Err(invalid(
                    "telemetry.interval",
                    "expected at least 100ms".into(),
                ));
            }
            TelemetryPlan {
                enabled: t.and_then(|t| t.enabled).unwrap_or(true),
                metrics_url: t.and_then(|t| t.metrics_url.clone()),
                interval,
            }
        };
        let preflight = PreflightPlan {
            wait: file
                .preflight
                .as_ref()
                .and_then(|p| p.wait)
                .map(|d| d.0)
                .unwrap_or(Duration::from_secs(10)),
            check_model: file
                .preflight
                .as_ref()
                .and_then(|p| p.check_model)
                .unwrap_or(true),
        };

        let mut plan = Plan {
            name: file.name.clone(),
            source: path.to_owned(),
            endpoint,
            api: file.api,
            model: file.model.clone(),
            api_key_env: file.api_key_env.clone(),
            streaming: file.stream,
            tokenizer,
            prompts,
            classes,
            round_robin,
            load,
            stop,
            warmup,
            timeout,
            retry,
            cancel,
            seed,
            slo,
            pricing,
            key,
            engine_flags,
            meta,
            max_tokens,
            telemetry,
            preflight,
            digest: String::new(),
        };
        if file.sampling.send_seed {
            for c in &mut plan.classes {
                let mut s = (*c.sampling).clone();
                s.seed = Some(seed);
                c.sampling = Arc::new(s);
            }
        }
        plan.digest = super::digest::workload_digest(&plan);
        Ok(plan)
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
                prompt_tokens: entry.tokens,
                sampling: self.classes[class_idx].sampling.clone(),
                cancel_after_events,
                quality: entry.quality.clone(),
            },
        }
    }

    /// Planned request count including warm-up (count mode only).
    pub fn total_requests(&self) -> Option<u64> {
        match (self.stop, self.warmup) {
            (StopAfter::Requests(n), Warmup::Requests(w)) => Some(n + w),
            (StopAfter::Requests(n), _) => Some(n),
            _ => None,
        }
    }

    pub fn class_names(&self) -> Vec<String> {
        self.classes.iter().map(|c| c.name.clone()).collect()
    }
}

fn set_key_field(key: &mut BundleKey, field: &str, value: String) -> bool {
    match field {
        "model_version" => key.model_version = value,
        "serving_image" => key.serving_image = value,
        "hardware_profile" => key.hardware_profile = value,
        "tokenizer" => key.tokenizer = value,
        _ => return false,
    }
    true
}

/// All prompt text, for counting tokens.
pub(crate) fn prompt_text(p: &Prompt) -> String {
    match p {
        Prompt::Text(t) => t.clone(),
        Prompt::Chat(msgs) => {
            let mut s = String::new();
            for m in msgs {
                s.push_str(&m.content);
                s.push('\n');
            }
            s
        }
    }
}

/// Build the quality check of a prompt's `expect` block.
pub(crate) fn quality_of(
    expect: &ExpectField,
    path: &Path,
    field: &str,
) -> Result<Option<Arc<QualityCheck>>, ConfigError> {
    let set = [
        expect.contains.is_some(),
        expect.regex.is_some(),
        expect.json == Some(true),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if set > 1 {
        return Err(ConfigError::invalid(
            path,
            format!("{field}.expect"),
            "expected exactly one of `contains`, `regex`, `json: true`",
        ));
    }
    if let Some(c) = &expect.contains {
        return Ok(Some(Arc::new(QualityCheck::Contains(c.clone()))));
    }
    if let Some(r) = &expect.regex {
        let re = regex::Regex::new(r).map_err(|e| {
            ConfigError::invalid(
                path,
                format!("{field}.expect.regex"),
                format!("invalid regular expression: {e}"),
            )
        })?;
        return Ok(Some(Arc::new(QualityCheck::Regex(re))));
    }
    if expect.json == Some(true) {
        return Ok(Some(Arc::new(QualityCheck::Json)));
    }
    Ok(None)
}
