//! OpenAI wire types of the simulator: what it accepts (chat and
//! completions requests, lenient about fields it ignores) and the JSON it
//! writes (chunks, bodies, errors, the model list).

use serde::Deserialize;
use serde_json::{Value, json};

use super::model::count_words;

/// `stream_options` of a request.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

/// A chat or completions request. Unknown fields (temperature, top_p, …)
/// are accepted and ignored, as servers do.
#[derive(Debug, Clone, Deserialize)]
pub struct GenerateRequest {
    pub model: String,
    /// Chat API.
    #[serde(default)]
    pub messages: Option<Vec<Value>>,
    /// Completions API: a string, an array of strings or of token ids.
    #[serde(default)]
    pub prompt: Option<Value>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Newer OpenAI name of `max_tokens` (chat).
    #[serde(default)]
    pub max_completion_tokens: Option<u32>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// vLLM/SGLang extension.
    #[serde(default)]
    pub ignore_eos: Option<bool>,
}

/// Words in a message `content` (string, or an array of parts with `text`).
fn content_words(content: &Value) -> u32 {
    match content {
        Value::String(s) => count_words(s),
        Value::Array(parts) => parts
            .iter()
            .map(|p| match p {
                Value::String(s) => count_words(s),
                Value::Object(o) => o.get("text").and_then(Value::as_str).map_or(0, count_words),
                _ => 0,
            })
            .fold(0u32, u32::saturating_add),
        _ => 0,
    }
}

impl GenerateRequest {
    /// Prompt tokens by the simulator's own count: whitespace-separated
    /// words of all message contents (chat) or of the prompt; token-id
    /// arrays count one per id.
    pub fn prompt_tokens(&self) -> u32 {
        let from_messages = self.messages.as_ref().map_or(0, |ms| {
            ms.iter()
                .map(|m| m.get("content").map_or(0, content_words))
                .fold(0u32, u32::saturating_add)
        });
        let from_prompt = match &self.prompt {
            None => 0,
            Some(Value::String(s)) => count_words(s),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => count_words(s),
                    Value::Number(_) => 1,
                    Value::Array(ids) => u32::try_from(ids.len()).unwrap_or(u32::MAX),
                    _ => 0,
                })
                .fold(0u32, u32::saturating_add),
            Some(_) => 0,
        };
        from_messages.saturating_add(from_prompt)
    }
}

/// An OpenAI-style error body: `{"error": {message, type, param, code}}`.
pub fn error_body(message: &str, kind: &str, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

/// `GET /v1/models`.
pub fn models_body(models: &[String], created: u64) -> Value {
    let data: Vec<Value> = models
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": created, "owned_by": "tokengate-sim"}))
        .collect();
    json!({"object": "list", "data": data})
}

/// Which API a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Chat,
    Completions,
}

/// The fixed parts of every chunk of one response, pre-rendered once so each
/// event costs one `format!`.
#[derive(Debug, Clone)]
pub struct ChunkWriter {
    api: Api,
    /// `"id":"...","object":"...","created":N,"model":"..."`
    head: String,
}

impl ChunkWriter {
    pub fn new(api: Api, index: u64, created: u64, model: &str) -> ChunkWriter {
        let (id, object) = match api {
            Api::Chat => (format!("chatcmpl-sim-{index}"), "chat.completion.chunk"),
            Api::Completions => (format!("cmpl-sim-{index}"), "text_completion"),
        };
        let model = Value::String(model.to_string()).to_string();
        ChunkWriter {
            api,
            head: format!(r#""id":"{id}","object":"{object}","created":{created},"model":{model}"#),
        }
    }

    /// `data: {...}\n\n` for a role-only first chunk (chat).
    pub fn role_event(&self) -> String {
        format!(
            "data: {{{},\"choices\":[{{\"index\":0,\"delta\":{{\"role\":\"assistant\",\"content\":\"\"}},\"logprobs\":null,\"finish_reason\":null}}]}}\n\n",
            self.head
        )
    }

    /// `data: {...}\n\n` carrying `text` (already JSON-safe: plain ASCII
    /// words) and, on the last event, the finish reason.
    pub fn content_event(&self, text: &str, finish: Option<&str>) -> String {
        let finish = match finish {
            Some(f) => format!("\"{f}\""),
            None => "null".to_string(),
        };
        match self.api {
            Api::Chat => format!(
                "data: {{{},\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}},\"logprobs\":null,\"finish_reason\":{finish}}}]}}\n\n",
                self.head
            ),
            Api::Completions => format!(
                "data: {{{},\"choices\":[{{\"index\":0,\"text\":\"{text}\",\"logprobs\":null,\"finish_reason\":{finish}}}]}}\n\n",
                self.head
            ),
        }
    }

    /// The final usage chunk (`stream_options.include_usage`).
    pub fn usage_event(&self, prompt: u32, completion: u32) -> String {
        format!(
            "data: {{{},\"choices\":[],\"usage\":{}}}\n\n",
            self.head,
            usage(prompt, completion)
        )
    }

    /// A non-streaming response body.
    pub fn full_body(&self, text: &str, finish: &str, prompt: u32, completion: u32) -> String {
        let text = Value::String(text.to_string()).to_string();
        let head = match self.api {
            Api::Chat => self
                .head
                .replace("chat.completion.chunk", "chat.completion"),
            Api::Completions => self.head.clone(),
        };
        let choice = match self.api {
            Api::Chat => format!(
                "{{\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":{text}}},\"logprobs\":null,\"finish_reason\":\"{finish}\"}}"
            ),
            Api::Completions => format!(
                "{{\"index\":0,\"text\":{text},\"logprobs\":null,\"finish_reason\":\"{finish}\"}}"
            ),
        };
        format!(
            "{{{head},\"choices\":[{choice}],\"usage\":{}}}",
            usage(prompt, completion)
        )
    }
}

fn usage(prompt: u32, completion: u32) -> String {
    format!(
        "{{\"prompt_tokens\":{prompt},\"completion_tokens\":{completion},\"total_tokens\":{}}}",
        u64::from(prompt) + u64::from(completion)
    )
}

/// The end-of-stream marker.
pub const DONE_EVENT: &str = "data: [DONE]\n\n";
