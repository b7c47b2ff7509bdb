//! From clap types to domain types.

use std::path::PathBuf;
use std::time::SystemTime;

use super::args::{CliGateOptions, CliRunArgs, CliSweepArgs, CliWorkloadArgs};
use crate::commands::GateOptions;
use crate::workload::Overrides;

/// Overrides of the flags every workload command shares (no load).
fn common_overrides(c: &CliWorkloadArgs) -> Overrides {
    Overrides {
        endpoint: c.endpoint.clone(),
        requests: c.requests,
        duration: c.duration,
        concurrency: None,
        rate: None,
        seed: c.seed,
        meta: c.meta.clone(),
    }
}

pub fn overrides_of(a: &CliRunArgs) -> Overrides {
    Overrides {
        concurrency: a.concurrency,
        rate: a.rate,
        ..common_overrides(&a.common)
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

/// The base overrides of every sweep level (the level sets the load).
pub fn sweep_overrides_of(a: &CliSweepArgs) -> Overrides {
    Overrides {
        // Any rate turns a closed-loop workload into an open-loop one; each
        // level then sets its own.
        rate: a.open_loop.then(|| a.start.unwrap_or(1.0)),
        ..common_overrides(&a.common)
    }
}

/// The thresholds of a sweep from its flags.
pub fn sweep_rules_of(a: &CliSweepArgs) -> crate::bundle::SweepRules {
    crate::bundle::SweepRules {
        min_prominence: a.min_prominence,
        min_rise: a.min_rise,
        error_ceiling: a.error_ceiling,
        min_throughput_gain: a.min_gain,
        safe_share: a.safe_share,
        // Set by the sweep from `--resolution` or the load mode's default.
        resolution: a.resolution.unwrap_or(f64::NAN),
        slo_gate: a.slo.as_ref().map(|p| p.display().to_string()),
    }
}
