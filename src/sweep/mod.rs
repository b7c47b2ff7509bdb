//! Load sweeps: which level to measure next ([`levels`]) and what the
//! measured curve says — bends, knee, safe operating point ([`analysis`]).
//! The command that runs the levels is `commands::sweep`.

mod analysis;
mod levels;

pub use analysis::{Analysis, KNEE_RULE, analyze, fmt_num, interpolate, point_of, signal_label};
pub use levels::{PlanConfig, Planner, Strategy};
