//! `tokengate check`: `run` then `gate` in one step (what CI calls): the
//! run's summary, a blank line, the verdict and the report files, then
//! publishing. The exit status is the verdict's, or 130 when the run was
//! interrupted (the bundle is still judged and written).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use super::gate::{GateOptions, Publish, judge_and_show};
use super::outcome::{CommandOptions, Outcome};
use super::publish::PublishFlags;
use super::run::{RunOptions, run_workload, summarize};
use crate::driver::StopSignal;

pub struct CheckOptions {
    pub run: RunOptions,
    /// The gate; its `bundle` is replaced by the bundle the run wrote.
    pub gate: GateOptions,
    pub publish: PublishFlags,
    /// Where the default report files go; GitLab reports default into
    /// `DIR/gitlab`.
    pub report_dir: PathBuf,
}

impl CommandOptions for CheckOptions {
    fn stop_signal(&self) -> Option<Arc<StopSignal>> {
        Some(self.run.stop.clone())
    }
}

/// Run, then judge what was measured. A gate error after the run keeps the
/// run's summary in the outcome (exit 2).
pub async fn run(opts: CheckOptions) -> anyhow::Result<Outcome> {
    let CheckOptions {
        run,
        mut gate,
        publish,
        report_dir,
    } = opts;
    let env = run.env.clone();
    // Read before measuring (a bad input costs seconds, not a benchmark)
    // and judged as read: the baselines are loaded once.
    let inputs = super::gate::load_gate_inputs(&gate)?;
    let measured = run_workload(run).await?;
    let mut out = Outcome::default();
    summarize(&measured, &mut out);
    out.stdout.push('\n');
    gate.bundle = measured.path.clone();
    // Waiver expiry and baseline ages are judged when the run ended.
    gate.now = SystemTime::now();
    let publish = Publish {
        flags: &publish,
        report_dir: &report_dir,
        env: &env,
    };
    match judge_and_show(&gate, Some(inputs), Some(publish), &mut out).await {
        // An interrupted run keeps its status (130) whatever the verdict.
        Ok(verdict) if measured.bundle.context.complete => out.status = verdict,
        Ok(_) => {}
        Err(e) => return Ok(out.failed(&e)),
    }
    Ok(out)
}
