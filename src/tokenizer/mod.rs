//! Token counting and synthetic prompt text: an embedded BPE (tiktoken
//! encodings compiled into the binary, no download) or a local HuggingFace
//! `tokenizer.json` (behind the `hf-tokenizer` feature). Building an
//! embedded encoding is slow (~100 ms of CPU optimized), so it is built on
//! first use — synthetic prompts, the fixed prompts' counts of the workload
//! digest, or a response without `usage` — once per process, into a static
//! slot shared by every [`Tokenizer`] of that encoding and never freed; the
//! client builds it off the async workers (`spawn_blocking`), never inside
//! a request's timed span.

mod counter;
mod synth;

pub use counter::{Tokenizer, TokenizerError, TokenizerSpec};
