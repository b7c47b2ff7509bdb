//! Workload files: the YAML a user writes ([`file`]), validated values
//! ([`values`]), prompts ([`prompts`]) and the resulting [`Plan`] (built
//! section by section in `build.rs`) with its comparability digest.

mod build;
mod digest;
pub mod file;
mod plan;
pub mod prompts;
mod seeded;
pub mod shard;
pub mod values;

use std::path::Path;

pub(crate) use build::apply_key_overrides;
pub use file::{Arrival, LoadMode, WorkloadFile, workload_json_schema};
pub use plan::{
    CancelPlan, Endpoint, KEY_ENV, LoadPlan, Overrides, Plan, PlannedRequest, PreflightPlan,
    Pricing, PromptClass, PromptEntry, RetryPolicy, Slo, StopAfter, TelemetryPlan, Warmup,
};
pub(crate) use seeded::{mix64, unit};
pub use shard::{Shard, ShardError};

use crate::yaml::{ConfigError, read_yaml};

/// Read, validate and plan a workload file. `env` looks up environment
/// variables (a parameter so tests need not touch the process environment).
pub fn load_plan(
    path: &Path,
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Plan, ConfigError> {
    let file: WorkloadFile = read_yaml(path)?;
    Plan::build(file, path, overrides, env)
}
