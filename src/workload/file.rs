//! The workload file as written by users (YAML wire types). Every struct
//! rejects unknown fields so a typo is an error naming the line, not a
//! silently ignored setting. Validation into a [`super::Plan`] happens in
//! `plan.rs`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::values::{DurationValue, RequestRate, Share};
use crate::client::ApiKind;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "tokengate workload file",
    description = "A benchmark workload: endpoint, prompts, load shape, stop condition, SLOs and pricing (docs/workload.md)."
)]
pub struct WorkloadFile {
    /// Workload name: part of baseline paths and reports.
    pub name: String,
    /// `http://HOST:PORT/v1` or `sim://NAME`.
    pub endpoint: String,
    #[serde(default = "default_api")]
    pub api: ApiKind,
    pub model: String,
    /// Name of the environment variable that holds the API key.
    #[serde(default)]
    pub api_key_env: Option<String>,
    #[serde(default = "default_true")]
    pub stream: bool,
    /// `o200k_base` / `cl100k_base` (embedded), or `file: path/to/tokenizer.json`.
    #[serde(default)]
    pub tokenizer: Option<TokenizerField>,
    pub prompts: PromptsField,
    #[serde(default)]
    pub output: OutputField,
    #[serde(default)]
    pub sampling: SamplingField,
    pub load: LoadField,
    /// Measured requests (excludes warm-up). One of `requests` or `duration`.
    #[serde(default)]
    pub requests: Option<u64>,
    /// Measurement duration. One of `requests` or `duration`.
    #[serde(default)]
    pub duration: Option<DurationValue>,
    #[serde(default)]
    pub warmup: Option<WarmupField>,
    /// Per-request timeout (connect, headers and the whole stream).
    #[serde(default)]
    pub timeout: Option<DurationValue>,
    #[serde(default)]
    pub retry: Option<RetryField>,
    #[serde(default)]
    pub cancel: Option<CancelField>,
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub slo: Option<SloField>,
    #[serde(default)]
    pub pricing: Option<PricingField>,
    /// Bundle key fields; `--meta` and `TOKENGATE_*` variables override.
    #[serde(default)]
    pub key: KeyField,
    /// Engine flags of the server under test (reported as part of the change).
    #[serde(default)]
    pub engine_flags: Option<String>,
    /// Extra metadata recorded in the bundle.
    #[serde(default)]
    pub meta: BTreeMap<String, String>,
    /// Server telemetry (Prometheus `/metrics`).
    #[serde(default)]
    pub telemetry: Option<TelemetryField>,
    /// Checks before the timed window.
    #[serde(default)]
    pub preflight: Option<PreflightField>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TelemetryField {
    /// Scrape `/metrics` (default true; a server without it is fine).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Metrics URL (default: the endpoint's root + `/metrics`).
    #[serde(default)]
    pub metrics_url: Option<String>,
    /// Scrape interval during the run (default 1s).
    #[serde(default)]
    pub interval: Option<DurationValue>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreflightField {
    /// How long to wait for a server that is still starting (default 10s).
    #[serde(default)]
    pub wait: Option<DurationValue>,
    /// Check the model is listed by `GET /v1/models` (default true).
    #[serde(default)]
    pub check_model: Option<bool>,
}

fn default_api() -> ApiKind {
    ApiKind::Chat
}
fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(untagged)]
pub enum TokenizerField {
    Name(String),
    File {
        #[serde(rename = "file")]
        file: PathBuf,
    },
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptsField {
    /// Fixed prompts written in the workload.
    #[serde(default)]
    pub inline: Vec<PromptItem>,
    /// A JSONL file of prompts (one JSON object per line: `{"prompt": ".."}`
    /// or `{"messages": [..]}`, optional `"expect"`), relative to the workload file.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Synthetic prompt classes with input-token targets and mix weights.
    #[serde(default)]
    pub classes: Vec<PromptClassField>,
}

/// One fixed prompt: a string, or an object with `text`/`messages` and an
/// optional quality expectation.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(untagged)]
pub enum PromptItem {
    Text(String),
    Full(FullPrompt),
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = prompt_alias)]
pub struct FullPrompt {
    #[serde(default, alias = "prompt")]
    pub text: Option<String>,
    #[serde(default)]
    pub messages: Option<Vec<MessageField>>,
    #[serde(default)]
    pub expect: Option<ExpectField>,
    /// Relative weight in the mix (default 1).
    #[serde(default)]
    pub weight: Option<f64>,
}

/// schemars ignores serde aliases; `prompt` is one of `text`, so the schema
/// lists it too (with `additionalProperties: false` it would be refused).
fn prompt_alias(schema: &mut schemars::Schema) {
    let text = schema
        .get("properties")
        .and_then(|p| p.get("text"))
        .cloned();
    if let (Some(text), Some(props)) = (
        text,
        schema.get_mut("properties").and_then(|p| p.as_object_mut()),
    ) {
        props.insert("prompt".into(), text);
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageField {
    pub role: String,
    pub content: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectField {
    #[serde(default)]
    pub contains: Option<String>,
    #[serde(default)]
    pub regex: Option<String>,
    #[serde(default)]
    pub json: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptClassField {
    pub name: String,
    /// Target prompt length in tokens of the configured tokenizer.
    pub input_tokens: u32,
    /// Relative weight in the mix (`50` or `0.5`; normalized).
    pub weight: f64,
    /// Per-class output length (overrides `output.max_tokens`).
    #[serde(default)]
    pub max_tokens: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputField {
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub ignore_eos: bool,
    #[serde(default)]
    pub stop: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SamplingField {
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    /// Send a per-request seed derived from the workload seed.
    #[serde(default)]
    pub send_seed: bool,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoadMode {
    Closed,
    Open,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Arrival {
    Constant,
    Poisson,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadField {
    pub mode: LoadMode,
    /// Closed loop: concurrent users.
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// Closed loop: pause between a user's requests.
    #[serde(default)]
    pub think_time: Option<DurationValue>,
    /// Open loop: requests per second (`8` or `8 req/s`).
    #[serde(default)]
    pub rate: Option<RequestRate>,
    /// Open loop: `constant` or `poisson` (default).
    #[serde(default)]
    pub arrival: Option<Arrival>,
    /// Open loop: most requests in flight at once (memory bound); arrivals
    /// beyond it wait and count as schedule lag.
    #[serde(default)]
    pub max_in_flight: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WarmupField {
    #[serde(default)]
    pub requests: Option<u64>,
    #[serde(default)]
    pub duration: Option<DurationValue>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryField {
    /// Total attempts including the first (1 = no retries).
    pub max_attempts: u32,
    /// Error kinds that are retried (default: http_429, http_5xx, connect).
    #[serde(default)]
    pub on: Option<Vec<crate::client::ErrorKind>>,
    /// Pause before a retry when the server gave no Retry-After.
    #[serde(default)]
    pub backoff: Option<DurationValue>,
    /// Longest Retry-After honoured.
    #[serde(default)]
    pub max_retry_after: Option<DurationValue>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelField {
    /// Share of requests cancelled on purpose (`5%` or `0.05`).
    pub probability: Share,
    /// Cancel after this many content events.
    pub after_tokens: u32,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SloField {
    #[serde(default)]
    pub ttft: Option<DurationValue>,
    #[serde(default)]
    pub tpot: Option<DurationValue>,
    #[serde(default)]
    pub e2e: Option<DurationValue>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PricingField {
    #[serde(default)]
    pub currency: Option<String>,
    /// Self-hosted: price of one replica per hour.
    #[serde(default)]
    pub per_hour: Option<f64>,
    #[serde(default)]
    pub replicas: Option<u32>,
    /// Hosted API: price per million prompt tokens.
    #[serde(default)]
    pub input_per_million: Option<f64>,
    /// Hosted API: price per million output tokens.
    #[serde(default)]
    pub output_per_million: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyField {
    #[serde(default)]
    pub model_version: Option<String>,
    #[serde(default)]
    pub serving_image: Option<String>,
    #[serde(default)]
    pub hardware_profile: Option<String>,
    #[serde(default)]
    pub tokenizer: Option<String>,
}

/// The JSON Schema of a workload file (draft 2020-12), generated from these
/// wire types so it cannot drift from them; `schemas/workload.schema.json`
/// is the committed copy editors validate against.
pub fn workload_json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(WorkloadFile)).unwrap_or(serde_json::Value::Null)
}
