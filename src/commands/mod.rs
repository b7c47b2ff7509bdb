//! Orchestration of the commands: each file runs one command end to end
//! with `anyhow` context; `main` maps the result to an exit code.

mod progress;
pub mod run;
pub mod summary;

pub use run::{ProgressMode, RunOptions, RunOutcome, run_workload};
pub use summary::render_summary;
