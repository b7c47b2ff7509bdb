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
//!
//! # The library surface
//!
//! The modules a program that embeds tokengate needs are public and
//! documented: [`workload`] (parse a workload file into a plan),
//! [`commands`] (run a workload, gate a bundle, promote a baseline: what
//! the CLI does, returning an [`commands::Outcome`]), [`bundle`] (the result
//! bundle), [`gate`] (gate files, the verdict), [`baseline`] (the baseline
//! store and its resolution), [`report`] (JUnit, Markdown, JSON, HTML),
//! [`sim`] (the built-in simulated endpoint) and [`exit_code`]. The other
//! modules are the tool's internals: public only so the `tokengate` binary
//! and the integration tests can reach them, hidden from the docs, and free
//! to change between releases.

pub mod baseline;
pub mod bundle;
pub mod commands;
pub mod exit_code;
pub mod gate;
pub mod report;
pub mod sim;
pub mod workload;

#[doc(hidden)]
pub mod ci;
#[doc(hidden)]
pub mod cli;
#[doc(hidden)]
pub mod client;
#[doc(hidden)]
pub mod driver;
#[doc(hidden)]
pub mod export;
#[doc(hidden)]
pub mod fsutil;
#[doc(hidden)]
pub mod history;
#[doc(hidden)]
pub mod import;
#[doc(hidden)]
pub mod metrics;
#[doc(hidden)]
pub mod runinfo;
#[doc(hidden)]
pub mod soak;
#[doc(hidden)]
pub mod stats;
#[doc(hidden)]
pub mod sweep;
#[doc(hidden)]
pub mod telemetry;
#[doc(hidden)]
pub mod tokenizer;
#[doc(hidden)]
pub mod wording;

pub(crate) mod timefmt;
pub(crate) mod units;
pub(crate) mod validity;
pub(crate) mod yaml;

/// An error and its sources, outermost first (what a classifier searches
/// for the io or hyper error underneath a reqwest error).
pub(crate) fn error_sources<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |s| s.source())
}

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

#[cfg(test)]
mod test_support;
