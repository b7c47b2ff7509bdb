//! The HTTP client: OpenAI wire types, SSE decoding, and one request →
//! [`RequestRecord`].

mod record;

pub use record::{ErrorKind, Outcome, Phase, RequestRecord, TokenSource};
mod spec;

pub use spec::{ApiKind, ClientConfig, Message, Prompt, QualityCheck, RequestSpec, Sampling};
mod sse;

pub use sse::{DEFAULT_MAX_EVENT_BYTES, SseDecoder, SseError};
