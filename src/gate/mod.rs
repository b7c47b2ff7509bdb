//! The gate engine: gate files (policy and rules, validated at parse time),
//! waivers, and the evaluation of a candidate bundle against its baseline
//! runs into a [`GateReport`] with a verdict per rule and overall. Each
//! rule's evaluation ends in a structured [`Decision`]; its sentence is
//! written by [`crate::wording::explain`].

mod data;
mod decision;
mod eval;
#[cfg(test)]
mod eval_tests;
mod file;
mod report;
mod runs;
mod sweep;
mod waiver;

pub use decision::{
    Absolute, Binomial, Bound, Caveat, Counted, Decision, Finding, GridValue, NoEstimate,
    NoiseSource, PointValue, Relative, RunNoise, SkipReason, SweepChange, SweepMinimum, Test,
    TooFew, Unmeasured,
};
pub use eval::{Comparison, Design, evaluate};
pub use file::{
    GateFile, GateFileError, InconclusivePolicy, LatencyKind, Limit, Metric, Millis, Policy, Rate,
    RelativeChange, Rule, ServerLatency, Severity, Stat, SweepValue, Threshold, UnitFamily,
    gate_json_schema, load_gate_file, parse_gate_file,
};
pub use report::{
    BaselineDesc, CandidateDesc, Estimate, EstimateKind, GateReport, KeyChange, Outcome,
    RuleResult, SideBySide, VERDICT_SCHEMA_VERSION, Verdict, WaiverNote, WaiverSummary,
};
pub use runs::{run_count, run_indices, run_stats};
pub use waiver::{
    Date, Waiver, WaiverError, WaiverKey, load_waivers, parse_waivers, waivers_json_schema,
};
