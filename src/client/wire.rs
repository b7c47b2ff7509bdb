//! OpenAI wire types: the request body (serialized from borrowed data, no
//! copies of the prompt) and the parts of a response chunk or body that
//! tokengate reads (deserialized borrowing from the event's bytes; fields it
//! does not need are skipped without being stored).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use super::spec::{ApiKind, Message, Prompt, Sampling};

/// The JSON body of `POST /chat/completions` or `POST /completions`.
#[derive(Serialize)]
pub(crate) struct RequestBody<'a> {
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    messages: Option<Messages<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    /// vLLM/SGLang extension; sent only when true so servers that reject
    /// unknown fields still accept ordinary requests.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ignore_eos: bool,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

/// Chat messages, borrowed: either the plan's list or one user message made
/// from a text prompt.
enum Messages<'a> {
    List(&'a [Message]),
    User(&'a str),
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'a str,
    content: &'a str,
}

impl Serialize for Messages<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Messages::List(list) => {
                let mut seq = s.serialize_seq(Some(list.len()))?;
                for m in *list {
                    seq.serialize_element(&WireMessage {
                        role: &m.role,
                        content: &m.content,
                    })?;
                }
                seq.end()
            }
            Messages::User(text) => {
                let mut seq = s.serialize_seq(Some(1))?;
                seq.serialize_element(&WireMessage {
                    role: "user",
                    content: text,
                })?;
                seq.end()
            }
        }
    }
}

impl<'a> RequestBody<'a> {
    /// The body for one request. A prompt of the other API's shape is
    /// adapted rather than refused: a text prompt becomes one user message,
    /// chat messages become their contents joined by newlines.
    pub(crate) fn new(
        api: ApiKind,
        model: &'a str,
        prompt: &'a Prompt,
        sampling: &'a Sampling,
        stream: bool,
    ) -> Self {
        let (messages, prompt) = match (api, prompt) {
            (ApiKind::Chat, Prompt::Chat(list)) => (Some(Messages::List(list)), None),
            (ApiKind::Chat, Prompt::Text(text)) => (Some(Messages::User(text)), None),
            (ApiKind::Completions, Prompt::Text(text)) => {
                (None, Some(Cow::Borrowed(text.as_str())))
            }
            (ApiKind::Completions, Prompt::Chat(list)) => {
                let joined: Vec<&str> = list.iter().map(|m| m.content.as_str()).collect();
                (None, Some(Cow::Owned(joined.join("\n"))))
            }
        };
        RequestBody {
            model,
            messages,
            prompt,
            max_tokens: sampling.max_tokens,
            temperature: sampling.temperature,
            top_p: sampling.top_p,
            stop: &sampling.stop,
            seed: sampling.seed,
            ignore_eos: sampling.ignore_eos,
            stream,
            stream_options: stream.then_some(StreamOptions {
                include_usage: true,
            }),
        }
    }
}

/// A string borrowed from the input when it has no JSON escapes, owned
/// otherwise. (serde's `#[serde(borrow)]` only borrows a bare `Cow<str>`,
/// not one inside an `Option`, hence this type.) Plain text — most tokens —
/// allocates nothing; a text with an escape (`\n`, `\"`, `\uXXXX`) costs
/// serde_json's scratch buffer plus this copy. Avoiding that would need
/// serde_json's `raw_value` feature and an unescaper of our own.
#[derive(Debug)]
pub(crate) struct Text<'a>(pub(crate) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(PhantomData))
    }
}

impl Text<'_> {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// One SSE chunk (`chat.completion.chunk` / `text_completion`) or a whole
/// non-streaming response: both have `choices`, `usage` and, on failure,
/// `error`.
#[derive(Debug, Deserialize)]
pub(crate) struct Chunk<'a> {
    #[serde(borrow, default)]
    pub(crate) choices: Option<FirstChoice<'a>>,
    #[serde(default)]
    pub(crate) usage: Option<Usage>,
    #[serde(default)]
    pub(crate) error: Option<IgnoredAny>,
}

impl Chunk<'_> {
    /// Whether the object has any of the fields an OpenAI chunk must have;
    /// `{}` or an unrelated object is a malformed event.
    pub(crate) fn has_expected_shape(&self) -> bool {
        self.choices.is_some() || self.usage.is_some() || self.error.is_some()
    }
}

/// The first element of `choices` (tokengate sends `n = 1`); further
/// elements are skipped without being stored, so no `Vec` is allocated.
#[derive(Debug)]
pub(crate) struct FirstChoice<'a>(pub(crate) Option<Choice<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for FirstChoice<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = FirstChoice<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of choices")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FirstChoice<'a>, A::Error> {
                let first = seq.next_element::<Choice<'a>>()?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(FirstChoice(first))
            }
        }
        d.deserialize_seq(V(PhantomData))
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Choice<'a> {
    /// Streaming chat.
    #[serde(borrow, default)]
    pub(crate) delta: Option<Delta<'a>>,
    /// Non-streaming chat.
    #[serde(borrow, default)]
    pub(crate) message: Option<Delta<'a>>,
    /// Completions API.
    #[serde(borrow, default)]
    pub(crate) text: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub(crate) finish_reason: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Delta<'a> {
    #[serde(borrow, default)]
    pub(crate) content: Option<Text<'a>>,
    /// DeepSeek / vLLM reasoning parsers.
    #[serde(borrow, default)]
    pub(crate) reasoning_content: Option<Text<'a>>,
    /// OpenRouter / newer vLLM.
    #[serde(borrow, default)]
    pub(crate) reasoning: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub(crate) tool_calls: Option<ToolCalls<'a>>,
}

/// A `tool_calls` delta array, summarized without a `Vec`: how many entries,
/// the total bytes of their function names and argument fragments, and the
/// first entry's argument fragment (streams send one tool-call delta per
/// chunk in practice; the text only feeds a tokenizer count).
#[derive(Debug, Default)]
pub(crate) struct ToolCalls<'a> {
    pub(crate) count: u32,
    pub(crate) bytes: u64,
    pub(crate) first_arguments: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct ToolCall<'a> {
    #[serde(borrow, default)]
    function: Option<FunctionDelta<'a>>,
}

#[derive(Deserialize)]
struct FunctionDelta<'a> {
    #[serde(borrow, default)]
    name: Option<Text<'a>>,
    #[serde(borrow, default)]
    arguments: Option<Text<'a>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for ToolCalls<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = ToolCalls<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of tool calls")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ToolCalls<'a>, A::Error> {
                let mut out = ToolCalls::default();
                while let Some(call) = seq.next_element::<ToolCall<'a>>()? {
                    out.count += 1;
                    if let Some(f) = call.function {
                        out.bytes += f.name.as_ref().map_or(0, |t| t.0.len()) as u64;
                        out.bytes += f.arguments.as_ref().map_or(0, |t| t.0.len()) as u64;
                        if out.first_arguments.is_none() {
                            out.first_arguments = f.arguments;
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_seq(V(PhantomData))
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Usage {
    #[serde(default)]
    pub(crate) prompt_tokens: Option<u64>,
    #[serde(default)]
    pub(crate) completion_tokens: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_body_has_stream_options_and_omits_defaults() {
        let prompt = Prompt::Chat(vec![Message {
            role: "user".into(),
            content: "Say \"hi\"".into(),
        }]);
        let sampling = Sampling {
            max_tokens: Some(64),
            temperature: Some(0.0),
            seed: Some(9),
            ..Sampling::default()
        };
        let body = RequestBody::new(ApiKind::Chat, "m", &prompt, &sampling, true);
        let v: serde_json::Value = serde_json::to_value(&body).expect("serialize");
        assert_eq!(
            v,
            serde_json::json!({
                "model": "m",
                "messages": [{"role": "user", "content": "Say \"hi\""}],
                "max_tokens": 64,
                "temperature": 0.0,
                "seed": 9,
                "stream": true,
                "stream_options": {"include_usage": true}
            })
        );
    }

    #[test]
    fn completions_body_sends_ignore_eos_and_stop_only_when_set() {
        let prompt = Prompt::Text("Once upon".into());
        let sampling = Sampling {
            ignore_eos: true,
            stop: vec!["\n".into()],
            top_p: Some(0.9),
            ..Sampling::default()
        };
        let body = RequestBody::new(ApiKind::Completions, "m", &prompt, &sampling, false);
        let v: serde_json::Value = serde_json::to_value(&body).expect("serialize");
        assert_eq!(
            v,
            serde_json::json!({
                "model": "m", "prompt": "Once upon", "top_p": 0.9, "stop": ["\n"],
                "ignore_eos": true, "stream": false
            })
        );
    }

    #[test]
    fn mismatched_prompt_shapes_are_adapted() {
        let s = Sampling::default();
        let text = Prompt::Text("t".into());
        let v = serde_json::to_value(RequestBody::new(ApiKind::Chat, "m", &text, &s, false))
            .expect("serialize");
        assert_eq!(
            v["messages"],
            serde_json::json!([{"role": "user", "content": "t"}])
        );
        let chat = Prompt::Chat(vec![
            Message {
                role: "system".into(),
                content: "a".into(),
            },
            Message {
                role: "user".into(),
                content: "b".into(),
            },
        ]);
        let v = serde_json::to_value(RequestBody::new(
            ApiKind::Completions,
            "m",
            &chat,
            &s,
            false,
        ))
        .expect("serialize");
        assert_eq!(v["prompt"], "a\nb");
    }

    #[test]
    fn chunk_borrows_unescaped_text_and_reads_first_choice_only() {
        let data = br#"{"id":"x","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null},{"index":1,"delta":{"content":"zz"}}],"usage":null}"#;
        let c: Chunk<'_> = serde_json::from_slice(data).expect("valid");
        let choice = c.choices.and_then(|f| f.0).expect("one choice");
        let content = choice.delta.and_then(|d| d.content).expect("content");
        assert!(matches!(content.0, Cow::Borrowed("Hello")));
        assert!(choice.finish_reason.is_none());
        assert!(c.usage.is_none());
    }

    #[test]
    fn chunk_with_escapes_tool_calls_and_usage() {
        let data = br#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{\"a\""}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}"#;
        let c: Chunk<'_> = serde_json::from_slice(data).expect("valid");
        let choice = c.choices.and_then(|f| f.0).expect("choice");
        let tc = choice.delta.and_then(|d| d.tool_calls).expect("tool calls");
        assert_eq!(tc.count, 1);
        assert_eq!(tc.bytes, 1 + 4);
        assert_eq!(tc.first_arguments.expect("args").as_str(), "{\"a\"");
        assert_eq!(choice.finish_reason.expect("finish").as_str(), "tool_calls");
        let u = c.usage.expect("usage");
        assert_eq!((u.prompt_tokens, u.completion_tokens), (Some(5), Some(7)));
    }

    #[test]
    fn shape_checks() {
        let c: Chunk<'_> = serde_json::from_slice(b"{}").expect("object");
        assert!(!c.has_expected_shape());
        let c: Chunk<'_> =
            serde_json::from_slice(br#"{"choices":[],"usage":{"completion_tokens":3}}"#)
                .expect("valid");
        assert!(c.has_expected_shape());
        assert!(serde_json::from_slice::<Chunk<'_>>(br#"{"choices":{"a":1}}"#).is_err());
        assert!(
            serde_json::from_slice::<Chunk<'_>>(b"{\"choices\":[{\"text\":\"\xff\"}]}").is_err()
        );
        assert!(serde_json::from_slice::<Chunk<'_>>(br#"{"choices":[{"text":5}]}"#).is_err());
    }
}
