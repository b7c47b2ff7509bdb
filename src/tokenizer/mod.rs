//! Token counting and synthetic prompt text: an embedded BPE (tiktoken
//! encodings compiled into the binary, no download) or a local HuggingFace
//! `tokenizer.json` (behind the `hf-tokenizer` feature). Building an
//! embedded encoding is slow (hundreds of milliseconds of CPU), so it is
//! built on first use — synthetic prompts, the fixed prompts' counts of the
//! workload digest, or a response without `usage` — once per run and
//! shared (`Arc`); the client builds it off the async workers
//! (`spawn_blocking`), never inside a request's timed span.

mod counter;
mod synth;

pub use counter::{Tokenizer, TokenizerError, TokenizerSpec};
