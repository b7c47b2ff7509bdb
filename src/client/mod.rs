//! The HTTP client: OpenAI wire types, SSE decoding, and one request →
//! [`RequestRecord`]. `record` and `spec` are the contract with the driver
//! and the recorder; `http` sends and times a request, `sse` decodes the
//! event stream, `wire` holds the JSON shapes, `collect` turns events into
//! measurements.

mod collect;
mod endpoint;
mod http;
mod preflight;
mod record;
mod spec;
mod sse;
pub(crate) mod tls;
mod wire;

pub use endpoint::{EndpointUrl, EndpointUrlError};
pub use http::{Client, ClientError};
pub use preflight::{Preflight, PreflightError, preflight};
// The persisted enums are the bundle's; re-exported so `client::ErrorKind`
// and friends keep naming them.
pub use crate::bundle::{ApiKind, ErrorKind, TokenSource};
pub use record::{Outcome, Phase, RequestRecord};
pub use spec::{ClientConfig, Message, Prompt, PromptTokens, QualityCheck, RequestSpec, Sampling};
pub use sse::{DEFAULT_MAX_EVENT_BYTES, SseDecoder, SseError, SseEvent};
