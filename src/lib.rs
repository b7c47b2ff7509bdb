//! tokengate: a CI performance gate and regression checker for LLM inference
//! endpoints.
//!
//! A short, fixed-prompt benchmark against an OpenAI-compatible endpoint
//! (streaming SSE) produces a result [`bundle::Bundle`]; a gate compares it
//! statistically with stored baselines and writes JUnit XML, Markdown and a
//! JSON verdict.
//!
//! Gate files are validated once, at the edge, into typed rules:
//!
//! ```
//! let gate = tokengate::gate::parse_gate_file(
//!     "name: release\nrules:\n  - metric: ttft.p95\n    max_increase: 15%\n",
//!     "inline.yaml",
//! )
//! .expect("a valid gate file");
//! assert_eq!(gate.rules.len(), 1);
//! assert_eq!(gate.rules[0].name, "ttft.p95 max_increase 15%");
//! ```

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
pub mod soak;
pub mod stats;
pub mod sweep;
pub mod tokenizer;
pub mod workload;
pub mod yaml;

/// An error and its causes on one line: `outer: inner: root`.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = c.source();
    }
    s
}
pub mod commands;
pub mod runinfo;
pub mod telemetry;
pub mod timefmt;
