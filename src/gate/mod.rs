//! The gate engine: gate files (policy and rules, validated at parse time),
//! waivers, and the evaluation of a candidate bundle against its baseline
//! runs into a [`GateReport`] with a verdict per rule and overall.

mod data;
mod eval;
mod file;
mod report;
mod sweep;
mod waiver;

pub use eval::{Comparison, evaluate};
pub use file::{
    GateFile, GateFileError, InconclusivePolicy, LatencyKind, Limit, Metric, Millis, Policy, Rate,
    RelativeChange, Rule, ServerLatency, Severity, Stat, SweepValue, Threshold, UnitFamily,
    load_gate_file, parse_gate_file,
};
pub use report::{
    BaselineDesc, CandidateDesc, Estimate, EstimateKind, GateReport, KeyChange, Outcome,
    RuleResult, SideBySide, Verdict, WaiverNote, WaiverSummary,
};
pub use waiver::{Date, Waiver, WaiverError, WaiverKey, load_waivers, parse_waivers};
