//! `tokengate report`: render the reports again from a bundle (and its
//! baseline) and show the verdict, without publishing; exit 0 whatever the
//! verdict.

use super::gate::{GateOptions, judge_and_show};
use super::outcome::{CommandOptions, Outcome};

pub struct ReportOptions {
    pub gate: GateOptions,
}

impl CommandOptions for ReportOptions {}

pub async fn run(opts: ReportOptions) -> anyhow::Result<Outcome> {
    let mut out = Outcome::default();
    if let Err(e) = judge_and_show(&opts.gate, None, None, &mut out).await {
        return Ok(out.failed(&e));
    }
    Ok(out)
}
