//! Token counting and synthetic prompt text: an embedded BPE (tiktoken
//! encodings, no download) or a local HuggingFace `tokenizer.json`.
//! (Contract; implementation in progress.)
