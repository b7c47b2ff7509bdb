//! Orchestration of the commands: each file runs one command end to end
//! with `anyhow` context; `main` maps the result to an exit code.

mod chart_files;
pub mod comment;
pub mod gate;
mod progress;
pub mod publish;
pub mod run;
pub mod soak;
pub mod summary;
pub mod sweep;

pub use comment::{CommentOptions, Platform, post_comment};
pub use gate::{GateOptions, GateOutcome, gate_bundle, render_verdict_summary};
pub use publish::{CheckRunOptions, PublishFlags, PublishOptions, Published, ReportFiles, publish};
pub use run::{ProgressMode, RunOptions, RunOutcome, run_workload};
pub use soak::{SoakOptions, soak_workload};
pub use summary::{render_summary, render_sweep_level, render_sweep_summary};
pub use sweep::{LevelObserver, SweepOptions, SweepOutcome, sweep_workload};
