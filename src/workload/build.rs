//! Building a [`Plan`] from a [`WorkloadFile`], one section at a time. Each
//! builder takes its part of the file (and what it needs from the sections
//! before it), checks it and returns its part of the plan; errors name the
//! file and the field. [`Plan::build`] runs them in a fixed order, so a file
//! with several mistakes always reports the same one first.
//!
//! The defaults are the `DEFAULT_*` constants below; a field the user sets
//! always wins over them, and a command-line override over the file.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::file::{
    Arrival, CancelField, KeyField, LoadField, LoadMode, OutputField, PreflightField, PricingField,
    PromptClassField, PromptItem, PromptsField, RetryField, SamplingField, SloField,
    TelemetryField, TokenizerField, WarmupField, WorkloadFile,
};
use super::plan::{
    CancelPlan, Endpoint, KEY_ENV, LoadPlan, Overrides, Plan, PreflightPlan, Pricing, PromptClass,
    PromptEntry, RetryPolicy, Slo, StopAfter, TelemetryPlan, Warmup,
};
use super::seeded::mix64;
use super::values::DurationValue;
use crate::bundle::BundleKey;
use crate::client::{ApiKind, ErrorKind, Message, Prompt, PromptTokens, Sampling};
use crate::tokenizer::{Tokenizer, TokenizerSpec};
use crate::yaml::ConfigError;

/// Tokenizer of a workload that names none: the newer of the two embedded
/// tiktoken encodings (GPT-4o's), so a workload needs no tokenizer file.
const DEFAULT_TOKENIZER: &str = "o200k_base";

/// `sampling.temperature` range of the OpenAI API (0 to 2).
const TEMPERATURE_RANGE: std::ops::RangeInclusive<f64> = 0.0..=2.0;

/// Mix weight of a fixed prompt without `weight`: all prompts alike.
const DEFAULT_PROMPT_WEIGHT: f64 = 1.0;

/// Requests assumed when sizing the synthetic prompt pools of a duration run,
/// whose request count is not known in advance.
const UNCOUNTED_RUN_REQUESTS: u64 = 256;

/// Distinct prompts per synthetic class: about one per planned request of
/// the class, so that prefix caches on the server do not turn the benchmark
/// into a cache benchmark, within bounds so the plan stays small for long
/// duration runs. A class's share counts as at least `POOL_MIN_SHARE`.
const POOL_MIN: usize = 8;
const POOL_MAX: usize = 512;
const POOL_MIN_SHARE: f64 = 0.05;

/// Closed-loop users at most: a typo guard (each user is a task and a
/// pooled connection).
const MAX_CONCURRENCY: u32 = 100_000;

/// Open-loop rate at most, requests per second: a typo guard.
const MAX_RATE: f64 = 1.0e6;

/// Open-loop requests in flight at most when the file sets no
/// `max_in_flight`: bounds memory under an overloaded server; arrivals
/// beyond it wait and count as schedule lag.
const DEFAULT_MAX_IN_FLIGHT: u32 = 10_000;

/// Open-loop arrivals when the file sets none: independent users, a
/// Poisson process.
const DEFAULT_ARRIVAL: Arrival = Arrival::Poisson;

/// Per-request timeout (connect, headers and the whole stream) of a file
/// that sets none. Generous on purpose: a timed-out request is an error, not
/// a slow sample, so the default should only catch a hung request; a
/// workload with a latency budget sets `timeout` (the quickstart: 30 s).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// Attempts of one request at most (`retry.max_attempts`): with the
/// doubling backoff, ten attempts already wait 200 ms × (2⁹ − 1) ≈ 102 s.
const MAX_ATTEMPTS: u32 = 10;

/// Error kinds retried when `retry.on` is not given: the usually transient
/// ones. A 4xx, a context overflow or a timeout would only fail (or wait)
/// again.
const DEFAULT_RETRY_ON: [ErrorKind; 3] =
    [ErrorKind::Http429, ErrorKind::Http5xx, ErrorKind::Connect];

/// First pause before a retry when the server sent no `Retry-After`; the
/// driver doubles it with each attempt.
const DEFAULT_BACKOFF: Duration = Duration::from_millis(200);

/// Longest `Retry-After` honoured, so a server cannot park a run for
/// minutes.
const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Currency of a pricing block that names none.
const DEFAULT_CURRENCY: &str = "USD";

/// Replicas of a self-hosted pricing block that sets none.
const DEFAULT_REPLICAS: u32 = 1;

/// Seed of a workload that sets none (and no `--seed`): still a fixed seed,
/// so two runs plan the same requests.
const DEFAULT_SEED: u64 = 0;

/// Scrape interval of `/metrics` during the run when the file sets none:
/// once a second.
const DEFAULT_TELEMETRY_INTERVAL: Duration = Duration::from_secs(1);

/// Shortest scrape interval: the scraper must not become load on the server
/// under test.
const MIN_TELEMETRY_INTERVAL: Duration = Duration::from_millis(100);

/// How long preflight waits for a server that is still starting
/// (`preflight.wait`; README, workload fields).
const DEFAULT_PREFLIGHT_WAIT: Duration = Duration::from_secs(10);

/// Key fields on the simulator: it is its own hardware and image.
const SIM_HARDWARE_PROFILE: &str = "simulated";
const SIM_SERVING_IMAGE_PREFIX: &str = "tokengate-sim:";

impl Plan {
    /// Build the plan of a workload file. `path` names the file in errors and
    /// anchors relative paths (prompt files, tokenizer files).
    pub fn build(
        file: WorkloadFile,
        path: &Path,
        overrides: &Overrides,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Plan, ConfigError> {
        let base_dir = path.parent().unwrap_or(Path::new("."));
        if file.name.trim().is_empty() {
            return Err(invalid(path, "name", "expected a non-empty workload name"));
        }
        let endpoint = endpoint(&file.endpoint, overrides, path)?;
        if file.model.trim().is_empty() {
            return Err(invalid(path, "model", "expected a model name"));
        }
        let tokenizer = tokenizer(file.tokenizer.as_ref(), base_dir, path)?;
        let sampling = sampling(&file.output, &file.sampling, path)?;
        let planned = planned_requests(overrides.requests.or(file.requests), file.warmup.as_ref());
        let pool = PromptPool::build(
            &file.prompts,
            &PoolInputs {
                api: file.api,
                tokenizer: &tokenizer,
                sampling: &sampling,
                planned_requests: planned,
                // The file's seed, not `--seed`: the prompts' text stays
                // that of the workload.
                seed: file.seed.unwrap_or(DEFAULT_SEED),
            },
            base_dir,
            path,
        )?;
        let load = load(&file.load, overrides, path)?;
        let stop = stop(file.requests, file.duration, overrides, path)?;
        let warmup = warmup(file.warmup.as_ref(), path)?;
        let timeout = timeout(file.timeout, path)?;
        let retry = retry(file.retry.as_ref(), path)?;
        let cancel = cancel(file.cancel.as_ref(), path)?;
        let slo = slo(file.slo.as_ref());
        let pricing = pricing(file.pricing.as_ref(), path)?;
        let labels = labels(
            &file,
            &KeySources {
                env,
                meta: &overrides.meta,
                tokenizer: tokenizer.name(),
                endpoint: &endpoint,
            },
        );
        let max_tokens = common_max_tokens(&pool.classes);
        let seed = overrides.seed.or(file.seed).unwrap_or(DEFAULT_SEED);
        let telemetry = telemetry(file.telemetry.as_ref(), path)?;
        let preflight = preflight(file.preflight.as_ref());

        let mut classes = pool.classes;
        if file.sampling.send_seed {
            for c in &mut classes {
                let mut s = (*c.sampling).clone();
                s.seed = Some(seed);
                c.sampling = Arc::new(s);
            }
        }
        let plan = Plan {
            name: file.name,
            source: path.to_owned(),
            endpoint,
            api: file.api,
            model: file.model,
            api_key_env: file.api_key_env,
            streaming: file.stream,
            tokenizer,
            prompts: pool.prompts,
            classes,
            round_robin: pool.round_robin,
            load,
            stop,
            warmup,
            timeout,
            retry,
            cancel,
            seed,
            slo,
            pricing,
            key: labels.key,
            engine_flags: labels.engine_flags,
            meta: labels.meta,
            max_tokens,
            telemetry,
            preflight,
            digest: Default::default(),
            shape: Default::default(),
            shard: overrides.shard,
        };
        if let (Some(shard), LoadPlan::Closed { concurrency, .. }) = (plan.shard, &plan.load) {
            shard
                .users_of(*concurrency)
                .map_err(|e| invalid(path, "load.concurrency", e.to_string()))?;
        }
        Ok(plan)
    }
}

fn invalid(path: &Path, field: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::invalid(path, field, message)
}

/// `--endpoint` or the file's `endpoint`.
fn endpoint(text: &str, overrides: &Overrides, path: &Path) -> Result<Endpoint, ConfigError> {
    let text = overrides.endpoint.as_deref().unwrap_or(text);
    Endpoint::parse(text).map_err(|m| invalid(path, "endpoint", m))
}

/// The tokenizer counts tokens when the server reports no usage and builds
/// synthetic prompts of N tokens. A `file:` is relative to the workload.
fn tokenizer(
    field: Option<&TokenizerField>,
    base_dir: &Path,
    path: &Path,
) -> Result<Arc<Tokenizer>, ConfigError> {
    let spec = match field {
        None => TokenizerSpec::Embedded(DEFAULT_TOKENIZER.into()),
        Some(TokenizerField::Name(n)) => TokenizerSpec::Embedded(n.clone()),
        Some(TokenizerField::File { file }) => TokenizerSpec::HfFile(base_dir.join(file)),
    };
    Tokenizer::load(&spec)
        .map(Arc::new)
        .map_err(|e| invalid(path, "tokenizer", crate::error_chain(&e)))
}

/// The `output` and `sampling` sections: the sampling every class starts from.
fn sampling(
    output: &OutputField,
    sampling: &SamplingField,
    path: &Path,
) -> Result<Sampling, ConfigError> {
    if output.max_tokens == Some(0) {
        return Err(invalid(path, "output.max_tokens", "expected at least 1"));
    }
    if let Some(t) = sampling.temperature
        && !TEMPERATURE_RANGE.contains(&t)
    {
        return Err(invalid(
            path,
            "sampling.temperature",
            format!("expected a value between 0 and 2, got {t}"),
        ));
    }
    if let Some(p) = sampling.top_p
        && !(p > 0.0 && p <= 1.0)
    {
        return Err(invalid(
            path,
            "sampling.top_p",
            format!("expected a value in (0, 1], got {p}"),
        ));
    }
    Ok(Sampling {
        max_tokens: output.max_tokens,
        ignore_eos: output.ignore_eos,
        stop: output.stop.clone(),
        temperature: sampling.temperature,
        top_p: sampling.top_p,
        seed: None,
    })
}

/// Requests the run will send, warm-up included, to size the prompt pools.
fn planned_requests(requests: Option<u64>, warmup: Option<&WarmupField>) -> u64 {
    match requests {
        Some(n) => n + warmup.and_then(|w| w.requests).unwrap_or(0),
        None => UNCOUNTED_RUN_REQUESTS,
    }
}

/// What the prompt section needs from the sections before it.
struct PoolInputs<'a> {
    api: ApiKind,
    tokenizer: &'a Tokenizer,
    /// The base sampling of every class.
    sampling: &'a Sampling,
    planned_requests: u64,
    /// Seed of the synthetic prompts' text.
    seed: u64,
}

/// The prompts of a plan and their classes, weights normalized.
#[derive(Debug)]
struct PromptPool {
    prompts: Vec<PromptEntry>,
    classes: Vec<PromptClass>,
    /// Fixed prompts only, none with a weight.
    round_robin: bool,
}

impl PromptPool {
    /// The `prompts` section: fixed prompts (inline, then the JSONL file) as
    /// class `fixed`, then one class per synthetic class.
    fn build(
        section: &PromptsField,
        inputs: &PoolInputs<'_>,
        base_dir: &Path,
        path: &Path,
    ) -> Result<PromptPool, ConfigError> {
        let mut pool = PromptPool {
            prompts: Vec::new(),
            classes: Vec::new(),
            round_robin: false,
        };
        let mut fixed: Vec<(PromptItem, String)> = section
            .inline
            .iter()
            .enumerate()
            .map(|(i, p)| (p.clone(), format!("prompts.inline[{i}]")))
            .collect();
        if let Some(f) = &section.file {
            fixed.extend(super::prompts::read_jsonl(&base_dir.join(f))?);
        }
        let any_weight = pool.add_fixed(&fixed, inputs, path)?;
        for (ci, class) in section.classes.iter().enumerate() {
            pool.add_synthetic(ci, class, inputs, path)?;
        }
        if pool.prompts.is_empty() {
            return Err(invalid(
                path,
                "prompts",
                "expected at least one prompt: `inline`, `file` or `classes`",
            ));
        }
        let total_weight: f64 = pool.classes.iter().map(|c| c.weight).sum();
        for c in &mut pool.classes {
            c.weight /= total_weight;
        }
        pool.round_robin =
            pool.classes.len() == 1 && pool.classes[0].name == "fixed" && !any_weight;
        Ok(pool)
    }

    /// The fixed prompts as class `fixed` (none: no class). True when any
    /// of them has a weight.
    fn add_fixed(
        &mut self,
        items: &[(PromptItem, String)],
        inputs: &PoolInputs<'_>,
        path: &Path,
    ) -> Result<bool, ConfigError> {
        if items.is_empty() {
            return Ok(false);
        }
        let mut any_weight = false;
        let mut entries = Vec::with_capacity(items.len());
        let mut total_weight = 0.0;
        for (item, field) in items {
            let (prompt, quality, weight) =
                super::prompts::to_prompt(item, inputs.api, path, field)?;
            any_weight |= weight.is_some();
            let w = weight.unwrap_or(DEFAULT_PROMPT_WEIGHT);
            if !(w.is_finite() && w > 0.0) {
                return Err(invalid(
                    path,
                    &format!("{field}.weight"),
                    "expected a positive number",
                ));
            }
            total_weight += w;
            entries.push(self.prompts.len());
            self.prompts.push(PromptEntry {
                prompt: Arc::new(prompt),
                // Counted on first need (the digest, after the window, or
                // a response without a prompt count), not here: counting
                // builds the tokenizer.
                tokens: PromptTokens::uncounted(),
                class: 0,
                quality,
            });
        }
        self.classes.push(PromptClass {
            name: "fixed".into(),
            weight: total_weight,
            sampling: Arc::new(inputs.sampling.clone()),
            entries,
            synthetic: false,
        });
        Ok(any_weight)
    }

    /// Synthetic class `ci`: a pool of distinct prompts of exactly
    /// `input_tokens` tokens, seeded by (workload seed, class, prompt).
    fn add_synthetic(
        &mut self,
        ci: usize,
        class: &PromptClassField,
        inputs: &PoolInputs<'_>,
        path: &Path,
    ) -> Result<(), ConfigError> {
        let field = |f: &str| format!("prompts.classes[{ci}].{f}");
        if class.input_tokens == 0 {
            return Err(invalid(path, &field("input_tokens"), "expected at least 1"));
        }
        if !(class.weight.is_finite() && class.weight > 0.0) {
            return Err(invalid(
                path,
                &field("weight"),
                "expected a positive number",
            ));
        }
        if class.max_tokens == Some(0) {
            return Err(invalid(path, &field("max_tokens"), "expected at least 1"));
        }
        let class_idx = self.classes.len() as u16;
        let mut sampling = inputs.sampling.clone();
        if class.max_tokens.is_some() {
            sampling.max_tokens = class.max_tokens;
        }
        let size = (inputs.planned_requests as f64 * class.weight.clamp(POOL_MIN_SHARE, 1.0)).ceil()
            as usize;
        let size = size.clamp(POOL_MIN, POOL_MAX);
        let mut entries = Vec::with_capacity(size);
        for j in 0..size {
            let seed = mix64(inputs.seed ^ mix64(ci as u64 + 1) ^ j as u64);
            let text = inputs.tokenizer.synthesize(class.input_tokens, seed);
            let prompt = match inputs.api {
                ApiKind::Chat => Prompt::Chat(vec![Message {
                    role: "user".into(),
                    content: text,
                }]),
                ApiKind::Completions => Prompt::Text(text),
            };
            entries.push(self.prompts.len());
            self.prompts.push(PromptEntry {
                prompt: Arc::new(prompt),
                tokens: class.input_tokens.into(),
                class: class_idx,
                quality: None,
            });
        }
        self.classes.push(PromptClass {
            name: class.name.clone(),
            weight: class.weight,
            sampling: Arc::new(sampling),
            entries,
            synthetic: true,
        });
        Ok(())
    }
}

/// Closed-loop users: 1 to [`MAX_CONCURRENCY`]. The one check of the field,
/// for the workload file (`field` = `load.concurrency`) and the
/// `--concurrency` flag alike, so a flag can never bypass the file's bound.
pub(crate) fn check_concurrency(
    concurrency: u32,
    field: &str,
    path: &Path,
) -> Result<u32, ConfigError> {
    if concurrency == 0 || concurrency > MAX_CONCURRENCY {
        return Err(invalid(
            path,
            field,
            format!("expected 1 to {MAX_CONCURRENCY}, got {concurrency}"),
        ));
    }
    Ok(concurrency)
}

/// Open-loop rate: finite, above 0 and at most [`MAX_RATE`] per second. The
/// one check of the field, for the file (`load.rate`) and `--rate` alike.
pub(crate) fn check_rate(rate: f64, field: &str, path: &Path) -> Result<f64, ConfigError> {
    if !(rate.is_finite() && rate > 0.0 && rate <= MAX_RATE) {
        return Err(invalid(
            path,
            field,
            format!("expected a rate between 0 and {MAX_RATE} per second, got {rate}"),
        ));
    }
    Ok(rate)
}

/// The `load` section; `--concurrency` or `--rate` alone switch the mode.
/// Flags are checked first and always, whatever the file's mode: a flag
/// that would be ignored or out of range is an error naming the flag.
fn load(section: &LoadField, overrides: &Overrides, path: &Path) -> Result<LoadPlan, ConfigError> {
    let flag_concurrency = overrides
        .concurrency
        .map(|c| check_concurrency(c, "--concurrency", path))
        .transpose()?;
    let flag_rate = overrides
        .rate
        .map(|r| check_rate(r, "--rate", path))
        .transpose()?;
    let from_file = match section.mode {
        LoadMode::Closed => {
            if section.rate.is_some() && flag_rate.is_none() {
                return Err(invalid(path, "load.rate", "`rate` is for `mode: open`"));
            }
            let concurrency = match (flag_concurrency, section.concurrency) {
                (Some(c), _) => c,
                (None, Some(c)) => check_concurrency(c, "load.concurrency", path)?,
                (None, None) if flag_rate.is_some() => 1, // replaced below
                (None, None) => {
                    return Err(invalid(
                        path,
                        "load.concurrency",
                        "closed loop needs `concurrency` (≥ 1)",
                    ));
                }
            };
            LoadPlan::Closed {
                concurrency,
                think_time: section.think_time.map(|d| d.0).unwrap_or_default(),
            }
        }
        LoadMode::Open => {
            let rate = match (flag_rate, section.rate) {
                (Some(r), _) => r,
                (None, Some(r)) => check_rate(r.0, "load.rate", path)?,
                (None, None) if flag_concurrency.is_some() => 1.0, // replaced below
                (None, None) => {
                    return Err(invalid(
                        path,
                        "load.rate",
                        "open loop needs `rate` (requests per second)",
                    ));
                }
            };
            let max_in_flight = section.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT);
            if max_in_flight == 0 {
                return Err(invalid(path, "load.max_in_flight", "expected at least 1"));
            }
            LoadPlan::Open {
                rate,
                arrival: section.arrival.unwrap_or(DEFAULT_ARRIVAL),
                max_in_flight,
            }
        }
    };
    Ok(match (flag_concurrency, flag_rate, from_file) {
        (Some(c), None, LoadPlan::Open { .. }) => LoadPlan::Closed {
            concurrency: c,
            think_time: Duration::ZERO,
        },
        (None, Some(r), LoadPlan::Closed { .. }) => LoadPlan::Open {
            rate: r,
            arrival: DEFAULT_ARRIVAL,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        },
        (_, _, l) => l,
    })
}

/// When the window ends: `--requests` or `--duration`, else exactly one of
/// the file's `requests` and `duration`.
fn stop(
    requests: Option<u64>,
    duration: Option<DurationValue>,
    overrides: &Overrides,
    path: &Path,
) -> Result<StopAfter, ConfigError> {
    let stop = if let Some(n) = overrides.requests {
        StopAfter::Requests(n)
    } else if let Some(d) = overrides.duration {
        StopAfter::Duration(d)
    } else {
        match (requests, duration) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    path,
                    "requests",
                    "give either `requests` or `duration`, not both",
                ));
            }
            (Some(n), None) => StopAfter::Requests(n),
            (None, Some(d)) => StopAfter::Duration(d.0),
            (None, None) => {
                return Err(invalid(
                    path,
                    "requests",
                    "expected `requests: N` or `duration: 30s`",
                ));
            }
        }
    };
    match stop {
        StopAfter::Requests(0) => Err(invalid(path, "requests", "expected at least 1")),
        StopAfter::Duration(d) if d.is_zero() => {
            Err(invalid(path, "duration", "expected a positive duration"))
        }
        _ => Ok(stop),
    }
}

/// The `warmup` section: none, a request count or a duration.
fn warmup(section: Option<&WarmupField>, path: &Path) -> Result<Warmup, ConfigError> {
    let Some(w) = section else {
        return Ok(Warmup::None);
    };
    match (w.requests, w.duration) {
        (Some(n), None) => Ok(Warmup::Requests(n)),
        (None, Some(d)) => Ok(Warmup::Duration(d.0)),
        (None, None) => Ok(Warmup::None),
        (Some(_), Some(_)) => Err(invalid(
            path,
            "warmup",
            "give either `requests` or `duration`, not both",
        )),
    }
}

fn timeout(field: Option<DurationValue>, path: &Path) -> Result<Duration, ConfigError> {
    let timeout = field.map(|t| t.0).unwrap_or(DEFAULT_TIMEOUT);
    if timeout.is_zero() {
        return Err(invalid(path, "timeout", "expected a positive duration"));
    }
    Ok(timeout)
}

/// The `retry` section; one attempt (or none given) is no retry policy.
fn retry(section: Option<&RetryField>, path: &Path) -> Result<Option<RetryPolicy>, ConfigError> {
    let Some(r) = section else {
        return Ok(None);
    };
    match r.max_attempts {
        0 => Err(invalid(path, "retry.max_attempts", "expected at least 1")),
        n if n > MAX_ATTEMPTS => Err(invalid(
            path,
            "retry.max_attempts",
            format!("expected at most {MAX_ATTEMPTS}"),
        )),
        1 => Ok(None),
        n => Ok(Some(RetryPolicy {
            max_attempts: n,
            on: r.on.clone().unwrap_or_else(|| DEFAULT_RETRY_ON.to_vec()),
            backoff: r.backoff.map(|b| b.0).unwrap_or(DEFAULT_BACKOFF),
            max_retry_after: r
                .max_retry_after
                .map(|b| b.0)
                .unwrap_or(DEFAULT_MAX_RETRY_AFTER),
        })),
    }
}

/// The `cancel` section; a probability of 0 plans no cancellations.
fn cancel(section: Option<&CancelField>, path: &Path) -> Result<Option<CancelPlan>, ConfigError> {
    match section {
        None => Ok(None),
        Some(c) if c.after_tokens == 0 => {
            Err(invalid(path, "cancel.after_tokens", "expected at least 1"))
        }
        Some(c) if c.probability.0 == 0.0 => Ok(None),
        Some(c) => Ok(Some(CancelPlan {
            probability: c.probability.0,
            after_events: c.after_tokens,
        })),
    }
}

fn slo(section: Option<&SloField>) -> Slo {
    section
        .map(|s| Slo {
            ttft: s.ttft.map(|d| d.0),
            tpot: s.tpot.map(|d| d.0),
            e2e: s.e2e.map(|d| d.0),
        })
        .unwrap_or_default()
}

/// The `pricing` section: either hourly (self-hosted) or per token (hosted).
fn pricing(section: Option<&PricingField>, path: &Path) -> Result<Option<Pricing>, ConfigError> {
    let Some(p) = section else {
        return Ok(None);
    };
    let currency = p
        .currency
        .clone()
        .unwrap_or_else(|| DEFAULT_CURRENCY.into());
    let price = |field: &str, v: f64| {
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(invalid(
                path,
                field,
                format!("expected a non-negative price, got {v}"),
            ))
        }
    };
    match (p.per_hour, p.input_per_million, p.output_per_million) {
        (Some(h), None, None) => {
            let replicas = p.replicas.unwrap_or(DEFAULT_REPLICAS);
            if replicas == 0 {
                return Err(invalid(path, "pricing.replicas", "expected at least 1"));
            }
            Ok(Some(Pricing::Hourly {
                per_hour: price("pricing.per_hour", h)?,
                replicas,
                currency,
            }))
        }
        (None, i, o) if i.is_some() || o.is_some() => Ok(Some(Pricing::PerToken {
            input_per_million: price("pricing.input_per_million", i.unwrap_or(0.0))?,
            output_per_million: price("pricing.output_per_million", o.unwrap_or(0.0))?,
            currency,
        })),
        _ => Err(invalid(
            path,
            "pricing",
            "expected either `per_hour` (+ `replicas`) or `input_per_million`/`output_per_million`",
        )),
    }
}

/// Where key fields come from besides the file.
struct KeySources<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    /// `--meta KEY=VALUE` pairs.
    meta: &'a [(String, String)],
    /// The loaded tokenizer's name.
    tokenizer: &'a str,
    endpoint: &'a Endpoint,
}

/// The bundle key, engine flags and free metadata.
#[derive(Debug, PartialEq)]
struct Labels {
    key: BundleKey,
    engine_flags: Option<String>,
    meta: BTreeMap<String, String>,
}

/// Key fields, engine flags and metadata: the file, then the environment,
/// then `--meta` (most specific wins); empty key fields then default to the
/// tokenizer, the model, and on the simulator its hardware and image.
fn labels(file: &WorkloadFile, sources: &KeySources<'_>) -> Labels {
    let KeyField {
        model_version,
        serving_image,
        hardware_profile,
        tokenizer,
    } = &file.key;
    let mut key = BundleKey {
        model_version: model_version.clone().unwrap_or_default(),
        serving_image: serving_image.clone().unwrap_or_default(),
        hardware_profile: hardware_profile.clone().unwrap_or_default(),
        tokenizer: tokenizer.clone().unwrap_or_default(),
    };
    let mut meta = file.meta.clone();
    let mut engine_flags = file.engine_flags.clone();
    apply_key_overrides(
        &mut key,
        &mut engine_flags,
        &mut meta,
        sources.env,
        sources.meta,
    );
    if key.tokenizer.is_empty() {
        key.tokenizer = sources.tokenizer.to_string();
    }
    if key.model_version.is_empty() {
        key.model_version = file.model.clone();
    }
    if let Endpoint::Sim(name) = sources.endpoint {
        if key.hardware_profile.is_empty() {
            key.hardware_profile = SIM_HARDWARE_PROFILE.into();
        }
        if key.serving_image.is_empty() {
            key.serving_image = format!("{SIM_SERVING_IMAGE_PREFIX}{name}");
        }
    }
    Labels {
        key,
        engine_flags,
        meta,
    }
}

/// The environment (`TOKENGATE_MODEL_VERSION`, …, `TOKENGATE_ENGINE_FLAGS`)
/// and then `--meta KEY=VALUE` over key fields, engine flags and free
/// metadata, the later winning: what `run` and `import` both apply.
pub(crate) fn apply_key_overrides(
    key: &mut BundleKey,
    engine_flags: &mut Option<String>,
    meta: &mut BTreeMap<String, String>,
    env: &dyn Fn(&str) -> Option<String>,
    cli_meta: &[(String, String)],
) {
    for (field, var) in KEY_ENV {
        if let Some(v) = env(var).filter(|v| !v.is_empty()) {
            set_key_field(key, field, v);
        }
    }
    if let Some(v) = env("TOKENGATE_ENGINE_FLAGS").filter(|v| !v.is_empty()) {
        *engine_flags = Some(v);
    }
    for (k, v) in cli_meta {
        if !set_key_field(key, k, v.clone()) {
            if k == "engine_flags" {
                *engine_flags = Some(v.clone());
            } else {
                meta.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Sets a key field by name; false when `field` is not one.
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

/// `max_tokens` when every class has the same.
fn common_max_tokens(classes: &[PromptClass]) -> Option<u32> {
    let mut it = classes.iter().map(|c| c.sampling.max_tokens);
    let first = it.next().flatten();
    if it.all(|m| m == first) { first } else { None }
}

/// The `telemetry` section: on unless disabled.
fn telemetry(section: Option<&TelemetryField>, path: &Path) -> Result<TelemetryPlan, ConfigError> {
    let interval = section
        .and_then(|t| t.interval)
        .map(|d| d.0)
        .unwrap_or(DEFAULT_TELEMETRY_INTERVAL);
    if interval < MIN_TELEMETRY_INTERVAL {
        return Err(invalid(
            path,
            "telemetry.interval",
            "expected at least 100ms",
        ));
    }
    let metrics_url = match section.and_then(|t| t.metrics_url.as_deref()) {
        None => None,
        Some(text) => Some(
            crate::client::EndpointUrl::parse_exact(text)
                .map_err(|e| invalid(path, "telemetry.metrics_url", e.to_string()))?,
        ),
    };
    Ok(TelemetryPlan {
        enabled: section.and_then(|t| t.enabled).unwrap_or(true),
        metrics_url,
        interval,
    })
}

/// The `preflight` section: wait for the server, check the model is listed.
fn preflight(section: Option<&PreflightField>) -> PreflightPlan {
    let wait = section.and_then(|p| p.wait).map(|d| d.0);
    PreflightPlan {
        wait: wait.unwrap_or(DEFAULT_PREFLIGHT_WAIT),
        check_model: section.and_then(|p| p.check_model).unwrap_or(true),
        retry_refused: wait.is_some(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use serde::de::DeserializeOwned;

    use super::*;

    const PATH: &str = "w.yaml";

    fn path() -> &'static Path {
        Path::new(PATH)
    }

    /// A section (or a whole file) read from YAML, as `Plan::build` gets it.
    fn yaml<T: DeserializeOwned>(text: &str) -> T {
        crate::yaml::parse_yaml(path(), text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn message(e: ConfigError) -> String {
        e.to_string()
    }

    /// The text of `Plan::build`'s error for a file.
    fn build_error(text: &str, overrides: &Overrides) -> String {
        match Plan::build(yaml(text), path(), overrides, &|_| None) {
            Ok(p) => panic!("expected an error, got the plan {}", p.name),
            Err(e) => message(e),
        }
    }

    const MINIMAL: &str = "name: t\nendpoint: sim://default\nmodel: m\nprompts:\n  inline: [\"hi\"]\nload: {mode: closed, concurrency: 2}\nrequests: 5\n";

    static TOKENIZER: LazyLock<Tokenizer> = LazyLock::new(|| {
        Tokenizer::load(&TokenizerSpec::Embedded(DEFAULT_TOKENIZER.into()))
            .expect("embedded tokenizer")
    });

    fn pool(section: &str, planned_requests: u64) -> Result<PromptPool, ConfigError> {
        let sampling = Sampling {
            max_tokens: Some(16),
            ignore_eos: false,
            stop: Vec::new(),
            temperature: None,
            top_p: None,
            seed: None,
        };
        let inputs = PoolInputs {
            api: ApiKind::Chat,
            tokenizer: &TOKENIZER,
            sampling: &sampling,
            planned_requests,
            seed: 3,
        };
        PromptPool::build(&yaml(section), &inputs, Path::new("."), path())
    }

    #[test]
    fn a_minimal_file_gets_every_default() {
        let plan = Plan::build(yaml(MINIMAL), path(), &Overrides::default(), &|_| None)
            .expect("minimal workload");
        assert_eq!(plan.tokenizer.name(), DEFAULT_TOKENIZER);
        assert_eq!(plan.timeout, DEFAULT_TIMEOUT);
        assert_eq!(plan.warmup, Warmup::None);
        assert_eq!(plan.retry, None);
        assert_eq!(plan.cancel, None);
        assert!(plan.slo.is_empty());
        assert_eq!(plan.pricing, None);
        assert_eq!(plan.seed, DEFAULT_SEED);
        assert_eq!(
            plan.telemetry,
            TelemetryPlan {
                enabled: true,
                metrics_url: None,
                interval: DEFAULT_TELEMETRY_INTERVAL,
            }
        );
        assert_eq!(
            plan.preflight,
            PreflightPlan {
                wait: DEFAULT_PREFLIGHT_WAIT,
                check_model: true,
                retry_refused: false,
            }
        );
        assert!(plan.round_robin);
        assert_eq!(plan.key.hardware_profile, SIM_HARDWARE_PROFILE);
        assert_eq!(plan.key.serving_image, "tokengate-sim:default");
        assert_eq!(plan.key.model_version, "m");
        assert_eq!(plan.key.tokenizer, DEFAULT_TOKENIZER);
    }

    /// Start-up (issue 18): a plan of fixed prompts does not count them
    /// (which would build the tokenizer) while planning; the digest, made
    /// after the window, counts each prompt once, and every request of a
    /// prompt shares that count.
    #[test]
    fn fixed_prompts_are_counted_when_the_digest_is_made_not_when_planned() {
        let plan = Plan::build(yaml(MINIMAL), path(), &Overrides::default(), &|_| None)
            .expect("minimal workload");
        // (Whether the encoding is built is process-wide: other tests may
        // have built it; the count is the plan's own.)
        let spec = plan.request(0).spec;
        assert_eq!(spec.prompt_tokens.get(), None);
        let digest = plan.digest().to_owned();
        assert!(plan.tokenizer.is_built());
        assert_eq!(spec.prompt_tokens, TOKENIZER.count("hi\n") as u32);
        assert_eq!(
            plan.prompt_tokens(&plan.prompts[0]),
            TOKENIZER.count("hi\n") as u32
        );
        // The same plan built again has the same digest.
        let again = Plan::build(yaml(MINIMAL), path(), &Overrides::default(), &|_| None)
            .expect("minimal workload");
        assert_eq!(again.digest(), digest);
    }

    #[test]
    fn command_line_overrides_win_over_the_file() {
        let overrides = Overrides {
            endpoint: Some("http://127.0.0.1:9".into()),
            requests: Some(7),
            concurrency: Some(4),
            seed: Some(11),
            ..Default::default()
        };
        let with_seed = MINIMAL.replace(
            "requests: 5\n",
            "requests: 5\nseed: 2\nsampling: {send_seed: true}\n",
        );
        let plan = Plan::build(yaml(&with_seed), path(), &overrides, &|_| None).expect("plan");
        assert_eq!(
            plan.endpoint,
            Endpoint::parse("http://127.0.0.1:9/v1").unwrap()
        );
        assert_eq!(plan.stop, StopAfter::Requests(7));
        assert_eq!(
            plan.load,
            LoadPlan::Closed {
                concurrency: 4,
                think_time: Duration::ZERO
            }
        );
        assert_eq!(plan.seed, 11);
        assert_eq!(
            plan.classes[0].sampling.seed,
            Some(11),
            "send_seed sends the run's seed"
        );
        // Not the simulator: no simulated key fields.
        assert_eq!(plan.key.hardware_profile, "");
    }

    #[test]
    fn name_model_endpoint_and_tokenizer_errors_name_the_field() {
        let none = Overrides::default();
        assert_eq!(
            build_error(&MINIMAL.replace("name: t", "name: \" \""), &none),
            "w.yaml: field `name`: expected a non-empty workload name"
        );
        assert_eq!(
            build_error(&MINIMAL.replace("model: m", "model: \"\""), &none),
            "w.yaml: field `model`: expected a model name"
        );
        assert_eq!(
            build_error(&MINIMAL.replace("sim://default", "ftp://x"), &none),
            "w.yaml: field `endpoint`: expected `http://HOST:PORT/v1`, `https://…` or `sim://NAME`, got `ftp://x/`"
        );
        let err = build_error(&format!("{MINIMAL}tokenizer: p50k_base\n"), &none);
        assert!(
            err.starts_with("w.yaml: field `tokenizer`: unknown embedded tokenizer"),
            "{err}"
        );
    }

    #[test]
    fn sampling_defaults_to_none_and_checks_its_ranges() {
        let s =
            sampling(&OutputField::default(), &SamplingField::default(), path()).expect("defaults");
        assert_eq!(
            (s.max_tokens, s.temperature, s.top_p, s.seed),
            (None, None, None, None)
        );
        let out: OutputField = yaml("{max_tokens: 8, ignore_eos: true, stop: [\"\\n\"]}");
        let s = sampling(&out, &yaml("{temperature: 0.5, top_p: 1}"), path()).expect("set");
        assert_eq!(
            (s.max_tokens, s.ignore_eos, s.temperature, s.top_p),
            (Some(8), true, Some(0.5), Some(1.0))
        );
        assert_eq!(s.stop, ["\n"]);
        let err = |o: &str, s: &str| message(sampling(&yaml(o), &yaml(s), path()).unwrap_err());
        assert_eq!(
            err("{max_tokens: 0}", "{}"),
            "w.yaml: field `output.max_tokens`: expected at least 1"
        );
        assert_eq!(
            err("{}", "{temperature: 2.5}"),
            "w.yaml: field `sampling.temperature`: expected a value between 0 and 2, got 2.5"
        );
        assert_eq!(
            err("{}", "{top_p: 0}"),
            "w.yaml: field `sampling.top_p`: expected a value in (0, 1], got 0"
        );
    }

    #[test]
    fn fixed_prompts_are_one_round_robin_class_unless_weighted() {
        let p = pool("inline: [\"one\", \"two\"]", 10).expect("fixed");
        assert!(p.round_robin);
        assert_eq!(p.classes.len(), 1);
        assert_eq!(p.classes[0].weight, 1.0);
        assert_eq!(p.prompts.len(), 2);
        // Counted on first need (the digest), not while building.
        assert_eq!(p.prompts[0].tokens.get(), None);
        let weighted = pool("inline: [\"one\", {text: \"two\", weight: 3}]", 10).expect("weighted");
        assert!(!weighted.round_robin);
        assert_eq!(
            message(pool("inline: [{text: \"x\", weight: 0}]", 10).unwrap_err()),
            "w.yaml: field `prompts.inline[0].weight`: expected a positive number"
        );
        assert_eq!(
            message(pool("{}", 10).unwrap_err()),
            "w.yaml: field `prompts`: expected at least one prompt: `inline`, `file` or `classes`"
        );
    }

    #[test]
    fn synthetic_pools_follow_the_planned_requests_within_bounds() {
        let p = pool(
            "classes: [{name: a, input_tokens: 4, weight: 0.5}, {name: b, input_tokens: 6, weight: 0.01, max_tokens: 2}]",
            100,
        )
        .expect("classes");
        let sizes: Vec<usize> = p.classes.iter().map(|c| c.entries.len()).collect();
        // 100 × 0.5 = 50; 100 × max(0.01, 5 %) = 5, raised to the minimum.
        assert_eq!(sizes, [50, POOL_MIN]);
        assert!(
            (p.classes[0].weight - 0.5 / 0.51).abs() < 1e-12,
            "normalized"
        );
        assert_eq!(p.classes[1].sampling.max_tokens, Some(2));
        assert_eq!(
            p.classes[0].sampling.max_tokens,
            Some(16),
            "the base sampling"
        );
        assert!(
            p.prompts
                .iter()
                .all(|e| e.tokens == [4, 6][e.class as usize])
        );
        let big = pool("classes: [{name: a, input_tokens: 4, weight: 1}]", 100_000).expect("big");
        assert_eq!(big.classes[0].entries.len(), POOL_MAX);
        assert_eq!(planned_requests(None, None), UNCOUNTED_RUN_REQUESTS);
        assert_eq!(planned_requests(Some(10), Some(&yaml("{requests: 4}"))), 14);
        for (class, field) in [
            (
                "{name: a, input_tokens: 0, weight: 1}",
                "input_tokens: expected at least 1",
            ),
            (
                "{name: a, input_tokens: 4, weight: -1}",
                "weight: expected a positive number",
            ),
            (
                "{name: a, input_tokens: 4, weight: 1, max_tokens: 0}",
                "max_tokens: expected at least 1",
            ),
        ] {
            let field = field.replacen(": ", "`: ", 1);
            assert_eq!(
                message(pool(&format!("classes: [{class}]"), 10).unwrap_err()),
                format!("w.yaml: field `prompts.classes[0].{field}")
            );
        }
    }

    #[test]
    fn load_defaults_and_command_line_mode_switches() {
        let none = Overrides::default();
        let open = load(&yaml("{mode: open, rate: 2}"), &none, path()).expect("open");
        assert_eq!(
            open,
            LoadPlan::Open {
                rate: 2.0,
                arrival: DEFAULT_ARRIVAL,
                max_in_flight: DEFAULT_MAX_IN_FLIGHT
            }
        );
        let closed = load(
            &yaml("{mode: closed, concurrency: 3, think_time: 5ms}"),
            &none,
            path(),
        );
        assert_eq!(
            closed.expect("closed"),
            LoadPlan::Closed {
                concurrency: 3,
                think_time: Duration::from_millis(5)
            }
        );
        let to_closed = Overrides {
            concurrency: Some(6),
            ..Default::default()
        };
        assert_eq!(
            load(
                &yaml("{mode: open, rate: 2, arrival: constant}"),
                &to_closed,
                path()
            )
            .expect("switch"),
            LoadPlan::Closed {
                concurrency: 6,
                think_time: Duration::ZERO
            }
        );
        let to_open = Overrides {
            rate: Some(9.0),
            ..Default::default()
        };
        assert_eq!(
            load(
                &yaml("{mode: closed, concurrency: 3, rate: 1}"),
                &to_open,
                path()
            )
            .expect("switch"),
            LoadPlan::Open {
                rate: 9.0,
                arrival: DEFAULT_ARRIVAL,
                max_in_flight: DEFAULT_MAX_IN_FLIGHT
            }
        );
    }

    #[test]
    fn load_errors_name_the_field() {
        let none = Overrides::default();
        let err =
            |section: &str, o: &Overrides| message(load(&yaml(section), o, path()).unwrap_err());
        assert_eq!(
            err("{mode: closed}", &none),
            "w.yaml: field `load.concurrency`: closed loop needs `concurrency` (≥ 1)"
        );
        assert_eq!(
            err("{mode: closed, concurrency: 100001}", &none),
            "w.yaml: field `load.concurrency`: expected 1 to 100000, got 100001"
        );
        assert_eq!(
            err("{mode: closed, concurrency: 1, rate: 2}", &none),
            "w.yaml: field `load.rate`: `rate` is for `mode: open`"
        );
        assert_eq!(
            err("{mode: open}", &none),
            "w.yaml: field `load.rate`: open loop needs `rate` (requests per second)"
        );
        assert_eq!(
            err("{mode: open, rate: -1}", &none),
            "w.yaml: field `load.rate`: expected a rate between 0 and 1000000 per second, got -1"
        );
        assert_eq!(
            err("{mode: open, rate: 1, max_in_flight: 0}", &none),
            "w.yaml: field `load.max_in_flight`: expected at least 1"
        );
        let zero = Overrides {
            concurrency: Some(0),
            ..Default::default()
        };
        assert_eq!(
            err("{mode: open, rate: 1}", &zero),
            "w.yaml: field `--concurrency`: expected 1 to 100000, got 0"
        );
        // Flags get the file's bounds, in either mode (issue 13, defect 5).
        for mode in ["{mode: open, rate: 1}", "{mode: closed, concurrency: 2}"] {
            let big = Overrides {
                concurrency: Some(5_000_000),
                ..Default::default()
            };
            assert_eq!(
                err(mode, &big),
                "w.yaml: field `--concurrency`: expected 1 to 100000, got 5000000"
            );
            for (rate, shown) in [
                (0.0, "0"),
                (f64::NAN, "NaN"),
                (f64::INFINITY, "inf"),
                (-5.0, "-5"),
                (1e9, "1000000000"),
            ] {
                let o = Overrides {
                    rate: Some(rate),
                    ..Default::default()
                };
                assert_eq!(
                    err(mode, &o),
                    format!(
                        "w.yaml: field `--rate`: expected a rate between 0 and 1000000 per second, got {shown}"
                    ),
                    "{mode} --rate {rate}"
                );
            }
        }
    }

    #[test]
    fn stop_takes_exactly_one_condition_and_the_command_line_first() {
        let none = Overrides::default();
        let secs = |s| Some(DurationValue(Duration::from_secs(s)));
        assert_eq!(
            stop(Some(5), None, &none, path()).expect("count"),
            StopAfter::Requests(5)
        );
        assert_eq!(
            stop(None, secs(3), &none, path()).expect("time"),
            StopAfter::Duration(Duration::from_secs(3))
        );
        let by_time = Overrides {
            duration: Some(Duration::from_secs(9)),
            ..Default::default()
        };
        assert_eq!(
            stop(Some(5), None, &by_time, path()).expect("flag"),
            StopAfter::Duration(Duration::from_secs(9))
        );
        let err = |r, d| message(stop(r, d, &none, path()).unwrap_err());
        assert_eq!(
            err(Some(5), secs(3)),
            "w.yaml: field `requests`: give either `requests` or `duration`, not both"
        );
        assert_eq!(
            err(None, None),
            "w.yaml: field `requests`: expected `requests: N` or `duration: 30s`"
        );
        assert_eq!(
            err(Some(0), None),
            "w.yaml: field `requests`: expected at least 1"
        );
        assert_eq!(
            err(None, secs(0)),
            "w.yaml: field `duration`: expected a positive duration"
        );
    }

    #[test]
    fn warmup_timeout_and_cancel_sections() {
        assert_eq!(warmup(None, path()).expect("none"), Warmup::None);
        assert_eq!(
            warmup(Some(&yaml("{}")), path()).expect("empty"),
            Warmup::None
        );
        assert_eq!(
            warmup(Some(&yaml("{requests: 3}")), path()).expect("n"),
            Warmup::Requests(3)
        );
        assert_eq!(
            warmup(Some(&yaml("{duration: 2s}")), path()).expect("d"),
            Warmup::Duration(Duration::from_secs(2))
        );
        assert_eq!(
            message(warmup(Some(&yaml("{requests: 3, duration: 2s}")), path()).unwrap_err()),
            "w.yaml: field `warmup`: give either `requests` or `duration`, not both"
        );
        assert_eq!(timeout(None, path()).expect("default"), DEFAULT_TIMEOUT);
        assert_eq!(
            timeout(Some(DurationValue(Duration::from_secs(5))), path()).expect("set"),
            Duration::from_secs(5)
        );
        assert_eq!(
            message(timeout(Some(DurationValue(Duration::ZERO)), path()).unwrap_err()),
            "w.yaml: field `timeout`: expected a positive duration"
        );
        assert_eq!(
            cancel(Some(&yaml("{probability: 0%, after_tokens: 4}")), path()).expect("off"),
            None
        );
        assert_eq!(
            cancel(Some(&yaml("{probability: 5%, after_tokens: 4}")), path()).expect("on"),
            Some(CancelPlan {
                probability: 0.05,
                after_events: 4
            })
        );
        assert_eq!(
            message(cancel(Some(&yaml("{probability: 5%, after_tokens: 0}")), path()).unwrap_err()),
            "w.yaml: field `cancel.after_tokens`: expected at least 1"
        );
    }

    #[test]
    fn retry_defaults_apply_from_two_attempts() {
        assert_eq!(retry(None, path()).expect("none"), None);
        assert_eq!(
            retry(Some(&yaml("{max_attempts: 1}")), path()).expect("one"),
            None
        );
        assert_eq!(
            retry(Some(&yaml("{max_attempts: 3}")), path()).expect("defaults"),
            Some(RetryPolicy {
                max_attempts: 3,
                on: DEFAULT_RETRY_ON.to_vec(),
                backoff: DEFAULT_BACKOFF,
                max_retry_after: DEFAULT_MAX_RETRY_AFTER,
            })
        );
        assert_eq!(
            retry(
                Some(&yaml(
                    "{max_attempts: 2, on: [timeout], backoff: 1s, max_retry_after: 2s}"
                )),
                path()
            )
            .expect("set"),
            Some(RetryPolicy {
                max_attempts: 2,
                on: vec![ErrorKind::Timeout],
                backoff: Duration::from_secs(1),
                max_retry_after: Duration::from_secs(2),
            })
        );
        let err = |s: &str| message(retry(Some(&yaml(s)), path()).unwrap_err());
        assert_eq!(
            err("{max_attempts: 0}"),
            "w.yaml: field `retry.max_attempts`: expected at least 1"
        );
        assert_eq!(
            err("{max_attempts: 11}"),
            "w.yaml: field `retry.max_attempts`: expected at most 10"
        );
    }

    #[test]
    fn pricing_is_hourly_or_per_token() {
        assert_eq!(pricing(None, path()).expect("none"), None);
        assert_eq!(
            pricing(Some(&yaml("{per_hour: 2.5}")), path()).expect("hourly"),
            Some(Pricing::Hourly {
                per_hour: 2.5,
                replicas: DEFAULT_REPLICAS,
                currency: DEFAULT_CURRENCY.into()
            })
        );
        assert_eq!(
            pricing(
                Some(&yaml("{currency: EUR, output_per_million: 0.6}")),
                path()
            )
            .expect("per token"),
            Some(Pricing::PerToken {
                input_per_million: 0.0,
                output_per_million: 0.6,
                currency: "EUR".into()
            })
        );
        let err = |s: &str| message(pricing(Some(&yaml(s)), path()).unwrap_err());
        assert_eq!(
            err("{per_hour: 1, replicas: 0}"),
            "w.yaml: field `pricing.replicas`: expected at least 1"
        );
        assert_eq!(
            err("{per_hour: -1}"),
            "w.yaml: field `pricing.per_hour`: expected a non-negative price, got -1"
        );
        assert_eq!(
            err("{input_per_million: .nan}"),
            "w.yaml: field `pricing.input_per_million`: expected a non-negative price, got NaN"
        );
        assert!(
            err("{per_hour: 1, input_per_million: 1}")
                .starts_with("w.yaml: field `pricing`: expected either `per_hour`")
        );
        assert!(err("{currency: USD}").starts_with("w.yaml: field `pricing`: expected either"));
    }

    #[test]
    fn labels_come_from_the_file_then_the_environment_then_meta() {
        let file: WorkloadFile = yaml(&format!(
            "{MINIMAL}key: {{model_version: v-file, tokenizer: tok-file}}\nengine_flags: --file\nmeta: {{team: a}}\n"
        ));
        let env = |var: &str| match var {
            "TOKENGATE_MODEL_VERSION" => Some("v-env".to_string()),
            "TOKENGATE_ENGINE_FLAGS" => Some("--env".to_string()),
            "TOKENGATE_SERVING_IMAGE" => Some(String::new()),
            _ => None,
        };
        let meta = [
            ("model_version".to_string(), "v-meta".to_string()),
            ("engine_flags".to_string(), "--meta".to_string()),
            ("team".to_string(), "b".to_string()),
        ];
        let sim = Endpoint::Sim("quickstart".into());
        let sources = KeySources {
            env: &env,
            meta: &meta,
            tokenizer: "o200k_base",
            endpoint: &sim,
        };
        let l = labels(&file, &sources);
        assert_eq!(l.key.model_version, "v-meta");
        assert_eq!(l.key.tokenizer, "tok-file");
        assert_eq!(
            l.key.serving_image, "tokengate-sim:quickstart",
            "an empty variable is unset"
        );
        assert_eq!(l.key.hardware_profile, SIM_HARDWARE_PROFILE);
        assert_eq!(l.engine_flags.as_deref(), Some("--meta"));
        assert_eq!(l.meta.get("team").map(String::as_str), Some("b"));

        let http = Endpoint::parse("http://h/v1").unwrap();
        let bare: WorkloadFile = yaml(MINIMAL);
        let l = labels(
            &bare,
            &KeySources {
                env: &|_| None,
                meta: &[],
                tokenizer: "cl100k_base",
                endpoint: &http,
            },
        );
        assert_eq!(
            l.key,
            BundleKey {
                model_version: "m".into(),
                serving_image: String::new(),
                hardware_profile: String::new(),
                tokenizer: "cl100k_base".into(),
            }
        );
        assert_eq!(l.engine_flags, None);
    }

    #[test]
    fn telemetry_and_preflight_defaults_and_overrides() {
        assert_eq!(
            telemetry(
                Some(&yaml(
                    "{enabled: false, metrics_url: \"http://m/metrics\", interval: 250ms}"
                )),
                path()
            )
            .expect("set"),
            TelemetryPlan {
                enabled: false,
                metrics_url: Some(
                    crate::client::EndpointUrl::parse_exact("http://m/metrics").unwrap()
                ),
                interval: Duration::from_millis(250),
            }
        );
        assert_eq!(
            message(telemetry(Some(&yaml("{interval: 50ms}")), path()).unwrap_err()),
            "w.yaml: field `telemetry.interval`: expected at least 100ms"
        );
        assert_eq!(
            preflight(Some(&yaml("{wait: 1m, check_model: false}"))),
            PreflightPlan {
                wait: Duration::from_secs(60),
                check_model: false,
                retry_refused: true,
            }
        );
        assert_eq!(preflight(Some(&yaml("{}"))).wait, DEFAULT_PREFLIGHT_WAIT);
    }

    #[test]
    fn one_max_tokens_only_when_every_class_agrees() {
        let p = pool(
            "classes: [{name: a, input_tokens: 4, weight: 1}, {name: b, input_tokens: 4, weight: 1}]",
            10,
        )
        .expect("same");
        assert_eq!(common_max_tokens(&p.classes), Some(16));
        let p = pool(
            "classes: [{name: a, input_tokens: 4, weight: 1}, {name: b, input_tokens: 4, weight: 1, max_tokens: 3}]",
            10,
        )
        .expect("different");
        assert_eq!(common_max_tokens(&p.classes), None);
    }
}
