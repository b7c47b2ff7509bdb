//! The wording layer: how tokengate writes numbers (percentages, signed
//! changes, percentage points, p-values, loads, latencies, throughputs,
//! durations — NaN, ±∞ and −0 safe) for the gate explanations, the sweep
//! and soak text, the HTML pages and the Markdown reports, and the
//! sentences that explain a gate rule's [`crate::gate::Decision`].
//!
//! Numbers are formatted here and nowhere else, so a table cell and the
//! sentence beside it say the same thing the same way.

mod decision;
pub mod foreign;
mod number;

pub use decision::{explain, invalid_run_problem, metric_words, undetectable, verdict_headline};
pub use number::{
    bucketed_ms, change, clock, decimals, duration, exact, fixed, group_thousands, grouped, load,
    millis, number, p_relation, p_value, percent, points, request_rate, share, signed, signed_with,
    significant, throughput, value,
};
