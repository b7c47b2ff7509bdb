//! `tokengate history`: a baseline set's promoted runs over time — from the
//! directory, or with `--git-history` from every commit of the ref — as a
//! table with the change points of p50/p95 TTFT, ITL and output tokens/s,
//! SVG charts and `history.json`.

use std::path::PathBuf;

use anyhow::Context as _;

use super::outcome::{CommandOptions, Outcome};
use crate::baseline::{BaselineSource, set_history};
use crate::fsutil::write_atomic;
use crate::history::{analyse, charts, render_text};
use crate::stats::EDivisive;

pub struct HistoryOptions {
    /// The set, as `baseline show` takes it (a path part or key text).
    pub set: String,
    pub source: BaselineSource,
    pub git_history: bool,
    /// Where the charts and `history.json` go.
    pub out_dir: PathBuf,
    /// The largest permutation p-value that accepts a change point.
    pub significance: f64,
}

impl CommandOptions for HistoryOptions {}

pub async fn run(opts: HistoryOptions) -> anyhow::Result<Outcome> {
    let dir = match &opts.source {
        BaselineSource::Dir(d) | BaselineSource::GitRef { dir: d, .. } => d.clone(),
    };
    let Some(h) = set_history(&opts.source, &opts.set, opts.git_history)? else {
        anyhow::bail!(
            "no baseline set matches `{}` in {}{}; `tokengate baseline list` shows them",
            opts.set,
            dir.display(),
            if opts.git_history {
                " or its git history"
            } else {
                ""
            }
        );
    };
    let cfg = EDivisive {
        significance: opts.significance,
        ..EDivisive::default()
    };
    let report = analyse(&h, &cfg);
    let mut out = Outcome::default();
    let mut head = format!("history of {}: {} runs", h.location, h.runs.len());
    if opts.git_history {
        head.push_str(&format!(" from {} commits", h.commits_read));
    }
    if h.left_out > 0 {
        head.push_str(&format!(" (the {} oldest left out)", h.left_out));
    }
    out.line(&head);
    if h.commit_limit_hit {
        out.warnings.push(format!(
            "the history is longer than {} commits; older ones were not read",
            crate::baseline::MAX_HISTORY_COMMITS
        ));
    }
    if let Some(first) = &h.first_skip {
        out.warnings.push(format!(
            "{} commit(s) skipped: their baselines could not be read (first: {first})",
            h.skipped_commits
        ));
    }
    if h.runs.len() < 2 * cfg.min_size {
        out.notes.push(format!(
            "change points need at least {} runs; this set has {}",
            2 * cfg.min_size,
            h.runs.len()
        ));
    }
    out.stdout.push_str(&render_text(&report));
    std::fs::create_dir_all(&opts.out_dir)
        .with_context(|| format!("cannot create directory {}", opts.out_dir.display()))?;
    for (file, chart) in charts(&report) {
        let p = opts.out_dir.join(file);
        write_atomic(&p, chart.render().as_bytes())?;
        out.files.push(p);
    }
    let json = opts.out_dir.join("history.json");
    let mut bytes = serde_json::to_vec_pretty(&report).context("cannot serialize the history")?;
    bytes.push(b'\n');
    write_atomic(&json, &bytes)?;
    out.files.push(json);
    for p in out.files.clone() {
        out.line(&format!("report: {}", p.display()));
    }
    Ok(out)
}
