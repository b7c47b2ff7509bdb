//! What the driver asks the client to send: the endpoint configuration
//! (fixed for a run) and one request's specification (from the plan).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

// The API's name is persisted (`context.api`), so the bundle owns the enum.
pub use crate::bundle::ApiKind;

/// Fixed for a run. `Debug` is written by hand so the API key never
/// reaches a log or an error message.
#[derive(Clone)]
pub struct ClientConfig {
    /// Base URL including the `/v1` prefix, e.g. `http://127.0.0.1:8000/v1`;
    /// prints redacted.
    pub base_url: super::EndpointUrl,
    pub api: ApiKind,
    /// `model` field of every request.
    pub model: String,
    /// Bearer token, read from the environment variable the workload names.
    /// Never logged or written anywhere.
    pub api_key: Option<String>,
    pub streaming: bool,
    /// Per-request timeout covering connect, headers and the whole stream.
    pub timeout: Duration,
    /// Idle connections kept per host: the concurrency of the run.
    pub pool_size: usize,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("api", &self.api)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("streaming", &self.streaming)
            .field("timeout", &self.timeout)
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub role: String,
    pub content: String,
}

/// The prompt of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// For the chat API.
    Chat(Vec<Message>),
    /// For the completions API.
    Text(String),
}

/// An expectation on the generated text (DESIGN.md §3, quality checks).
#[derive(Debug, Clone)]
pub enum QualityCheck {
    /// The text contains this substring.
    Contains(String),
    /// The text matches this regular expression.
    Regex(regex::Regex),
    /// The text (trimmed, code fences removed) parses as JSON.
    Json,
}

impl QualityCheck {
    pub fn check(&self, text: &str) -> bool {
        match self {
            QualityCheck::Contains(s) => text.contains(s.as_str()),
            QualityCheck::Regex(r) => r.is_match(text),
            QualityCheck::Json => {
                let t = text.trim();
                let t = t
                    .strip_prefix("```json")
                    .or_else(|| t.strip_prefix("```"))
                    .and_then(|r| r.strip_suffix("```"))
                    .unwrap_or(t);
                serde_json::from_str::<serde::de::IgnoredAny>(t.trim()).is_ok()
            }
        }
    }
}

/// Sampling and output controls of one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sampling {
    pub max_tokens: Option<u32>,
    /// vLLM/SGLang extension: keep generating past EOS up to `max_tokens`.
    pub ignore_eos: bool,
    pub stop: Vec<String>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    /// Per-request seed sent to the server (when the workload asks for one).
    pub seed: Option<u64>,
}

/// One request as planned.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    pub prompt: Arc<Prompt>,
    /// Prompt tokens as counted by the plan's tokenizer (used when the
    /// server reports no usage).
    pub prompt_tokens: PromptTokens,
    pub sampling: Arc<Sampling>,
    /// Planned cancellation: drop the stream after this many content events.
    pub cancel_after_events: Option<u32>,
    pub quality: Option<Arc<QualityCheck>>,
}

/// A prompt's token count by the plan's tokenizer: known when the plan is
/// built (a synthetic prompt has the length it was made to), or counted
/// the first time it is needed (a fixed prompt: for the workload digest,
/// after the window, or for a response whose usage has no prompt count) —
/// once per prompt, shared by every request that sends it, so a run whose
/// server reports usage never builds the tokenizer for it.
#[derive(Debug, Clone, Default)]
pub struct PromptTokens(Arc<OnceLock<u32>>);

impl PromptTokens {
    /// A count not made yet.
    pub fn uncounted() -> PromptTokens {
        PromptTokens::default()
    }

    /// The count, if made.
    pub fn get(&self) -> Option<u32> {
        self.0.get().copied()
    }

    /// The count, made with `count` the first time.
    pub fn get_or_count(&self, count: impl FnOnce() -> u32) -> u32 {
        *self.0.get_or_init(count)
    }
}

impl From<u32> for PromptTokens {
    fn from(n: u32) -> PromptTokens {
        PromptTokens(Arc::new(OnceLock::from(n)))
    }
}

impl PartialEq<u32> for PromptTokens {
    fn eq(&self, other: &u32) -> bool {
        self.get() == Some(*other)
    }
}

impl Prompt {
    /// All the prompt's text, as its tokens are counted: the text, or each
    /// message's content followed by a newline.
    pub(crate) fn counted_text(&self) -> String {
        match self {
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
}
