//! `tokengate baseline promote|list|show|explain`: store a bundle as a
//! baseline, list and show the stored sets, and explain which baseline a
//! bundle would be compared with.

use std::path::PathBuf;
use std::time::SystemTime;

use super::outcome::{CommandOptions, Outcome};
use crate::baseline::{
    BaselineSource, ComparePolicy, find_set, load_sets, promote, render_explain, render_list,
    render_show, resolve_with_policy,
};

pub enum BaselineOptions {
    /// Store a complete bundle in `baseline_dir`, keeping the last `keep`
    /// runs of its set.
    Promote {
        bundle: PathBuf,
        baseline_dir: PathBuf,
        keep: usize,
    },
    List {
        source: BaselineSource,
    },
    /// One set, by path prefix or key text.
    Show {
        key: String,
        source: BaselineSource,
    },
    /// Which baseline `bundle` would be compared with at `now`, and why
    /// every other one was refused.
    Explain {
        bundle: PathBuf,
        source: BaselineSource,
        now: SystemTime,
        /// `--allow-imported` (see `ComparePolicy`).
        allow_imported: bool,
    },
}

impl CommandOptions for BaselineOptions {}

pub async fn run(opts: BaselineOptions) -> anyhow::Result<Outcome> {
    let mut out = Outcome::default();
    match opts {
        BaselineOptions::Promote {
            bundle,
            baseline_dir,
            keep,
        } => {
            let path = promote(&bundle, &baseline_dir, keep)?;
            out.line(&format!(
                "promoted {} to {}",
                bundle.display(),
                path.display()
            ));
            out.files.push(path);
        }
        BaselineOptions::List { source } => {
            out.stdout = render_list(&load_sets(&source)?);
        }
        BaselineOptions::Show { key, source } => {
            let sets = load_sets(&source)?;
            match find_set(&sets, &key) {
                Some(set) => out.stdout = render_show(set),
                None => anyhow::bail!(
                    "no baseline set matches `{key}` in {}; `tokengate baseline list` shows them",
                    dir_of(&source).display()
                ),
            }
        }
        BaselineOptions::Explain {
            bundle,
            source,
            now,
            allow_imported,
        } => {
            let candidate = crate::bundle::read_bundle(&bundle)?;
            let policy = ComparePolicy { allow_imported };
            out.stdout = render_explain(&resolve_with_policy(&candidate, &source, now, policy)?);
        }
    }
    Ok(out)
}

/// The baselines directory as the user named it.
fn dir_of(source: &BaselineSource) -> &std::path::Path {
    match source {
        BaselineSource::Dir(dir) | BaselineSource::GitRef { dir, .. } => dir,
    }
}
