//! Load sweeps: which level to measure next ([`levels`]) and what the
//! measured curve says — bends, knee, safe operating point ([`analysis`]).
//! The command that runs the levels is `commands::sweep`.

mod analysis;
mod levels;

/// The sentence number format, under the name `commands::` callers use
/// (see [`crate::wording::number`]).
pub use crate::wording::number as fmt_num;
pub use analysis::{Analysis, KNEE_RULE, analyze, interpolate, point_of, signal_label};
pub use levels::{PlanConfig, Planner, Strategy};
