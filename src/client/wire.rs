//! OpenAI wire types: the request body (serialized from borrowed data, no
//! copies of the prompt) and the parts of a response chunk or body that
//! tokengate reads (deserialized borrowing from the event's bytes; fields it
//! does not need are skipped without being stored).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
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
///
/// Parsed by [`Chunk::parse`] with hand-written visitors that fill one
/// `Chunk` in place. Derived `Deserialize` on the nested
/// `Option<Choice{Option<Delta>}>` shape returned each level by value, and
/// those ~300-byte moves were a quarter of the JSON time per event in the
/// client benchmark (`benches/client.rs`, perf profile).
#[derive(Debug, Default)]
pub(crate) struct Chunk<'a> {
    /// `choices` was present and not null (it may be empty).
    pub(crate) has_choices: bool,
    /// The first element of `choices` was present (tokengate sends `n = 1`;
    /// further elements are skipped without being stored).
    has_choice: bool,
    choice: Choice<'a>,
    pub(crate) usage: Option<Usage>,
    /// `error` was present and not null.
    pub(crate) has_error: bool,
}

impl<'a> Chunk<'a> {
    /// Parse one event's data (or a whole body), borrowing unescaped text
    /// from `data`. Anything that is not a JSON object of the expected
    /// field types, or has trailing characters, is an error.
    pub(crate) fn parse(data: &'a [u8]) -> Result<Chunk<'a>, serde_json::Error> {
        let mut chunk = Chunk::default();
        let mut de = serde_json::Deserializer::from_slice(data);
        de::DeserializeSeed::deserialize(ChunkSeed(&mut chunk), &mut de)?;
        de.end()?;
        Ok(chunk)
    }

    /// Whether the object has any of the fields an OpenAI chunk must have;
    /// `{}` or an unrelated object is a malformed event.
    pub(crate) fn has_expected_shape(&self) -> bool {
        self.has_choices || self.usage.is_some() || self.has_error
    }

    /// The first choice, when there was one.
    pub(crate) fn choice(&self) -> Option<&Choice<'a>> {
        self.has_choice.then_some(&self.choice)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Choice<'a> {
    /// Streaming chat.
    has_delta: bool,
    delta: Delta<'a>,
    /// Non-streaming chat.
    has_message: bool,
    message: Delta<'a>,
    /// Completions API.
    pub(crate) text: Option<Text<'a>>,
    pub(crate) finish_reason: Option<Text<'a>>,
}

impl<'a> Choice<'a> {
    /// `delta` (streaming) when present and not null, else `message`.
    pub(crate) fn delta(&self) -> Option<&Delta<'a>> {
        if self.has_delta {
            Some(&self.delta)
        } else {
            self.has_message.then_some(&self.message)
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Delta<'a> {
    pub(crate) content: Option<Text<'a>>,
    /// DeepSeek / vLLM reasoning parsers.
    pub(crate) reasoning_content: Option<Text<'a>>,
    /// OpenRouter / newer vLLM.
    pub(crate) reasoning: Option<Text<'a>>,
    pub(crate) tool_calls: Option<ToolCalls<'a>>,
}

/// Field names, matched without allocating; every other name is skipped.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum ChunkField {
    Choices,
    Usage,
    Error,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum ChoiceField {
    Delta,
    Message,
    Text,
    FinishReason,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum DeltaField {
    Content,
    ReasoningContent,
    Reasoning,
    ToolCalls,
    #[serde(other)]
    Other,
}

/// A second occurrence of a field is an error, as with derived
/// `Deserialize`.
fn first_time<E: de::Error>(seen: &mut bool, field: &'static str) -> Result<(), E> {
    if std::mem::replace(seen, true) {
        return Err(E::duplicate_field(field));
    }
    Ok(())
}

struct ChunkSeed<'x, 'a>(&'x mut Chunk<'a>);

impl<'de: 'a, 'a> de::DeserializeSeed<'de> for ChunkSeed<'_, 'a> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for ChunkSeed<'_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a completion chunk object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let c = self.0;
        let (mut seen_choices, mut seen_usage, mut seen_error) = (false, false, false);
        while let Some(key) = map.next_key::<ChunkField>()? {
            match key {
                ChunkField::Choices => {
                    first_time(&mut seen_choices, "choices")?;
                    map.next_value_seed(OptionSeed(ChoicesSeed(c)))?;
                }
                ChunkField::Usage => {
                    first_time(&mut seen_usage, "usage")?;
                    c.usage = map.next_value()?;
                }
                ChunkField::Error => {
                    first_time(&mut seen_error, "error")?;
                    c.has_error = map.next_value::<Option<IgnoredAny>>()?.is_some();
                }
                ChunkField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// `null` leaves the target untouched; any other value goes to the inner seed.
struct OptionSeed<S>(S);

impl<'de, S: de::DeserializeSeed<'de, Value = ()>> de::DeserializeSeed<'de> for OptionSeed<S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, S: de::DeserializeSeed<'de, Value = ()>> Visitor<'de> for OptionSeed<S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.0.deserialize(d)
    }
}

/// The `choices` array: the first element in place, the rest skipped.
struct ChoicesSeed<'x, 'a>(&'x mut Chunk<'a>);

impl<'de: 'a, 'a> de::DeserializeSeed<'de> for ChoicesSeed<'_, 'a> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for ChoicesSeed<'_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of choices")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let c = self.0;
        c.has_choices = true;
        c.has_choice = seq.next_element_seed(ChoiceSeed(&mut c.choice))?.is_some();
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

struct ChoiceSeed<'x, 'a>(&'x mut Choice<'a>);

impl<'de: 'a, 'a> de::DeserializeSeed<'de> for ChoiceSeed<'_, 'a> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for ChoiceSeed<'_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a choice object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let c = self.0;
        let mut seen = [false; 4];
        while let Some(key) = map.next_key::<ChoiceField>()? {
            match key {
                ChoiceField::Delta => {
                    first_time(&mut seen[0], "delta")?;
                    map.next_value_seed(OptionSeed(DeltaSeed(&mut c.delta, &mut c.has_delta)))?;
                }
                ChoiceField::Message => {
                    first_time(&mut seen[1], "message")?;
                    map.next_value_seed(OptionSeed(DeltaSeed(&mut c.message, &mut c.has_message)))?;
                }
                ChoiceField::Text => {
                    first_time(&mut seen[2], "text")?;
                    c.text = map.next_value()?;
                }
                ChoiceField::FinishReason => {
                    first_time(&mut seen[3], "finish_reason")?;
                    c.finish_reason = map.next_value()?;
                }
                ChoiceField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A `delta` or `message` object, filled in place; sets the flag when present.
struct DeltaSeed<'x, 'a>(&'x mut Delta<'a>, &'x mut bool);

impl<'de: 'a, 'a> de::DeserializeSeed<'de> for DeltaSeed<'_, 'a> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for DeltaSeed<'_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a delta or message object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (d, present) = (self.0, self.1);
        *present = true;
        let mut seen = [false; 4];
        while let Some(key) = map.next_key::<DeltaField>()? {
            match key {
                DeltaField::Content => {
                    first_time(&mut seen[0], "content")?;
                    d.content = map.next_value()?;
                }
                DeltaField::ReasoningContent => {
                    first_time(&mut seen[1], "reasoning_content")?;
                    d.reasoning_content = map.next_value()?;
                }
                DeltaField::Reasoning => {
                    first_time(&mut seen[2], "reasoning")?;
                    d.reasoning = map.next_value()?;
                }
                DeltaField::ToolCalls => {
                    first_time(&mut seen[3], "tool_calls")?;
                    d.tool_calls = map.next_value()?;
                }
                DeltaField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
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
    pub(crate) prompt_tokens: Option<Count>,
    #[serde(default)]
    pub(crate) completion_tokens: Option<Count>,
}

/// A token count as a server sent it: a non-negative integer (`8`, or an
/// integral number such as `8.0` — JSON does not tell them apart), or
/// anything else (`-5`, `1e30`, `"8"`, an object), which is not a count.
/// Never a parse error: a bad count must not turn a response whose content
/// streamed into a malformed event; the collector falls back to the next
/// token source instead and the run counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Count {
    Valid(u64),
    Invalid,
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Count, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a token count")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Count, E> {
                Ok(Count::Valid(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Count, E> {
                Ok(u64::try_from(v).map_or(Count::Invalid, Count::Valid))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Count, E> {
                // Integral and exactly representable (≤ 2^53).
                Ok(
                    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_992.0
                    {
                        Count::Valid(v as u64)
                    } else {
                        Count::Invalid
                    },
                )
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Count, E> {
                Ok(Count::Invalid)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Count, E> {
                Ok(Count::Invalid)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Count, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Count::Invalid)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Count, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Count::Invalid)
            }
        }
        d.deserialize_any(V)
    }
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
        let c = Chunk::parse(data).expect("valid");
        let choice = c.choice().expect("one choice");
        let content = choice.delta().and_then(|d| d.content.as_ref());
        assert!(matches!(
            content.expect("content").0,
            Cow::Borrowed("Hello")
        ));
        assert!(choice.finish_reason.is_none());
        assert!(c.usage.is_none());
    }

    #[test]
    fn chunk_with_escapes_tool_calls_and_usage() {
        let data = br#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{\"a\""}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}"#;
        let c = Chunk::parse(data).expect("valid");
        let choice = c.choice().expect("choice");
        let tc = choice.delta().and_then(|d| d.tool_calls.as_ref());
        let tc = tc.expect("tool calls");
        assert_eq!(tc.count, 1);
        assert_eq!(tc.bytes, 1 + 4);
        let args = tc.first_arguments.as_ref().expect("args");
        assert_eq!(args.as_str(), "{\"a\"");
        let finish = choice.finish_reason.as_ref().expect("finish");
        assert_eq!(finish.as_str(), "tool_calls");
        let u = c.usage.as_ref().expect("usage");
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens),
            (Some(Count::Valid(5)), Some(Count::Valid(7)))
        );
    }

    /// A count of another type is not a count, but the chunk still parses
    /// (its content counts); an integral float is the integer.
    #[test]
    fn usage_counts_of_other_types_are_invalid_not_malformed() {
        for (raw, want) in [
            ("8", Count::Valid(8)),
            ("8.0", Count::Valid(8)),
            ("-5", Count::Invalid),
            ("1e30", Count::Invalid),
            ("8.5", Count::Invalid),
            ("\"8\"", Count::Invalid),
            ("true", Count::Invalid),
            ("{\"a\":[1,2]}", Count::Invalid),
            ("[1]", Count::Invalid),
        ] {
            let data = format!(
                r#"{{"choices":[{{"delta":{{"content":"hi"}}}}],"usage":{{"completion_tokens":{raw}}}}}"#
            );
            let c = Chunk::parse(data.as_bytes()).unwrap_or_else(|e| panic!("{raw}: {e}"));
            let u = c.usage.as_ref().expect("usage");
            assert_eq!(u.completion_tokens, Some(want), "{raw}");
            assert!(c.choice().is_some(), "{raw}");
        }
    }

    #[test]
    fn shape_checks() {
        let c = Chunk::parse(b"{}").expect("object");
        assert!(!c.has_expected_shape());
        let c = Chunk::parse(br#"{"choices":[],"usage":{"completion_tokens":3}}"#).expect("valid");
        assert!(c.has_expected_shape());
        assert!(c.choice().is_none());
        assert!(Chunk::parse(br#"{"choices":{"a":1}}"#).is_err());
        assert!(Chunk::parse(b"{\"choices\":[{\"text\":\"\xff\"}]}").is_err());
        assert!(Chunk::parse(br#"{"choices":[{"text":5}]}"#).is_err());
    }

    #[test]
    fn nulls_duplicates_and_trailing_data() {
        // `null` means absent at every level, as with `Option` fields.
        let c = Chunk::parse(br#"{"choices":null,"usage":null,"error":null}"#).expect("valid");
        assert!(!c.has_expected_shape());
        let c = Chunk::parse(
            br#"{"choices":[{"delta":null,"message":{"content":"m"},"text":null,"finish_reason":null}]}"#,
        )
        .expect("valid");
        let d = c.choice().and_then(Choice::delta).expect("message");
        assert_eq!(d.content.as_ref().map(Text::as_str), Some("m"));
        // `delta` wins over `message` when both are present.
        let c = Chunk::parse(br#"{"choices":[{"message":{"content":"m"},"delta":{}}]}"#)
            .expect("valid");
        let d = c.choice().and_then(Choice::delta).expect("delta");
        assert!(d.content.is_none());
        // An error object of any shape counts; null does not.
        let c = Chunk::parse(br#"{"error":"boom"}"#).expect("valid");
        assert!(c.has_error && c.has_expected_shape());
        // Duplicate fields, a non-object and trailing characters are errors.
        assert!(Chunk::parse(br#"{"choices":[],"choices":[]}"#).is_err());
        assert!(Chunk::parse(br#"{"choices":[{"delta":{"content":"a","content":"b"}}]}"#).is_err());
        assert!(Chunk::parse(b"[1,2]").is_err());
        assert!(Chunk::parse(b"null").is_err());
        assert!(Chunk::parse(br#"{"choices":[]} x"#).is_err());
        // Only the first choice is kept; unknown fields anywhere are skipped.
        let c = Chunk::parse(
            br#"{"id":"x","choices":[{"index":0,"logprobs":{"a":[1]},"text":"a"},{"text":"b"}],"x":[{}]}"#,
        )
        .expect("valid");
        let t = c.choice().and_then(|ch| ch.text.as_ref()).map(Text::as_str);
        assert_eq!(t, Some("a"));
    }
}
