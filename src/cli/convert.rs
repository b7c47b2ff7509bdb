//! From clap types to domain types.

use std::path::PathBuf;
use std::time::SystemTime;

use super::args::{CliGateOptions, CliRunArgs};
use crate::commands::GateOptions;
use crate::workload::Overrides;

pub fn overrides_of(a: &CliRunArgs) -> Overrides {
    Overrides {
        endpoint: a.endpoint.clone(),
        requests: a.requests,
        duration: a.duration,
        concurrency: a.concurrency,
        rate: a.rate,
        seed: a.seed,
        meta: a.meta.clone(),
    }
}

/// Gate options for `bundle`; `default_dir` supplies report paths not given
/// explicitly (`check` writes all three by default).
pub fn gate_options_of(
    bundle: PathBuf,
    g: &CliGateOptions,
    default_dir: Option<&std::path::Path>,
) -> GateOptions {
    let or_default =
        |p: &Option<PathBuf>, name: &str| p.clone().or_else(|| default_dir.map(|d| d.join(name)));
    GateOptions {
        bundle,
        gate: g.gate.clone(),
        baseline_dir: g.baselines.baseline_dir.clone(),
        baseline_ref: g.baselines.baseline_ref.clone(),
        waivers: g.waivers.clone(),
        junit: or_default(&g.junit, "junit.xml"),
        markdown: or_default(&g.markdown, "report.md"),
        json: or_default(&g.json, "verdict.json"),
        template: g.template.clone(),
        now: SystemTime::now(),
        inconclusive: g.inconclusive,
    }
}
