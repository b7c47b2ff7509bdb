//! Token counting and synthetic prompt text: an embedded BPE (tiktoken
//! encodings compiled into the binary, no download) or a local HuggingFace
//! `tokenizer.json` (behind the `hf-tokenizer` feature). Loading is slow
//! (hundreds of milliseconds), so a [`Tokenizer`] is loaded once per run and
//! shared (`Arc`) — never on the timed request path.

mod counter;
mod synth;

pub use counter::{Tokenizer, TokenizerError, TokenizerSpec};
