//! tokengate: a CI performance gate and regression checker for LLM inference
//! endpoints.
//!
//! A short, fixed-prompt benchmark against an OpenAI-compatible endpoint
//! (streaming SSE) produces a result [`bundle::Bundle`]; a gate compares it
//! statistically with stored baselines and writes JUnit XML, Markdown and a
//! JSON verdict.

pub mod baseline;
pub mod bundle;
pub mod ci;
pub mod cli;
pub mod client;
pub mod driver;
pub mod exit_code;
pub mod fsutil;
pub mod gate;
pub mod metrics;
pub mod report;
pub mod sim;
pub mod stats;
pub mod tokenizer;
pub mod workload;
