//! The commands: each `<name>.rs` runs one command end to end with `anyhow`
//! context and exposes `pub async fn run(<Name>Options) ->
//! anyhow::Result<Outcome>`; `main` converts the arguments, runs, prints the
//! [`Outcome`] and exits with its status.

pub mod ab;
pub mod baseline;
pub mod calibrate;
mod chart_files;
pub mod check;
pub mod comment;
pub mod export;
pub mod gate;
pub mod history;
pub mod import;
pub mod merge;
pub mod outcome;
mod progress;
pub mod publish;
pub mod release_assets;
mod repeat;
pub mod report;
pub mod run;
pub mod sim;
pub mod soak;
pub mod summary;
pub mod sweep;

pub use ab::AbOptions;
pub use baseline::BaselineOptions;
pub use calibrate::CalibrateOptions;
pub use check::CheckOptions;
pub use comment::{CommentOptions, Platform};
pub use export::ExportOptions;
pub use gate::{GateCommandOptions, GateOptions, GateOutcome, gate_bundle, render_verdict_summary};
pub use history::HistoryOptions;
pub use import::ImportCommandOptions;
pub use merge::MergeOptions;
pub use outcome::{CommandOptions, Outcome, Status};
pub use publish::{CheckRunOptions, PublishFlags, PublishOptions, Published, ReportFiles, publish};
pub use release_assets::ReleaseAssetsOptions;
pub use report::ReportOptions;
pub use run::{EnvLookup, ProgressMode, RunOptions, RunOutcome, run_workload};
pub use sim::{ProfileOverrides, ProfileSource, ReadyHook, SimOptions};
pub use soak::{SoakOptions, SoakOutcome, soak_workload};
pub use summary::{render_summary, render_sweep_level, render_sweep_summary};
pub use sweep::{LevelObserver, SweepOptions, SweepOutcome, sweep_workload};
