//! The history of one baseline set: every run it has held, oldest first.
//! The directory keeps only the last K runs (`promote --keep`); its git
//! history keeps them all, so with `git_history` the first-parent commits of
//! the ref are read one by one (from the object database, as
//! [`super::git`] reads one ref) and each run is taken once, by digest,
//! with the first commit that held it.

use std::collections::BTreeSet;

use super::error::BaselineError;
use super::git;
use super::render::find_set;
use super::store::load;
use super::types::{BaselineSource, StoredRun};
use crate::bundle::BundleKey;

/// Commits read at most (a bound on work and memory, not a guess at a real
/// history: a set promoted once a day for five years has ~1,800).
pub const MAX_HISTORY_COMMITS: usize = 2000;
/// Runs kept at most (the newest); the change-point search is O(n²) per
/// permutation.
pub const MAX_HISTORY_RUNS: usize = 500;

/// One run of a set's history.
#[derive(Debug, Clone)]
pub struct HistoryRun {
    pub run: StoredRun,
    /// The first commit (hex) that held it; `None` when read from a directory.
    pub commit: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SetHistory {
    /// The set's directory (`baselines/…/`), without a ref.
    pub location: String,
    /// The key of the newest run.
    pub key: BundleKey,
    /// Oldest first.
    pub runs: Vec<HistoryRun>,
    /// Commits read (0 for a directory).
    pub commits_read: usize,
    /// The oldest runs left out beyond [`MAX_HISTORY_RUNS`].
    pub left_out: usize,
}

/// The runs of the set `query` names (as `baseline show` finds it) in
/// `source`, or with `git_history` in every first-parent commit of the
/// source's ref (`HEAD` for a directory). `None`: no set matches.
pub fn set_history(
    source: &BaselineSource,
    query: &str,
    git_history: bool,
) -> Result<Option<SetHistory>, BaselineError> {
    if !git_history {
        let loaded = load(source)?;
        let Some(set) = find_set(&loaded.sets, query) else {
            return Ok(None);
        };
        let runs = set
            .runs
            .iter()
            .rev()
            .map(|r| HistoryRun {
                run: r.clone(),
                commit: loaded.commit.clone(),
            })
            .collect();
        let location = match source {
            BaselineSource::Dir(_) => set.location.clone(),
            BaselineSource::GitRef { reference, .. } => without_ref(&set.location, reference),
        };
        return Ok(Some(finish(location, set.key.clone(), runs, 0)));
    }
    let (dir, reference) = match source {
        BaselineSource::Dir(dir) => (dir, "HEAD"),
        BaselineSource::GitRef { dir, reference } => (dir, reference.as_str()),
    };
    let commits = git::first_parent_commits(dir, reference, MAX_HISTORY_COMMITS)?;
    let mut seen = BTreeSet::new();
    let mut runs = Vec::new();
    let mut newest: Option<(String, BundleKey)> = None;
    // Oldest first, so each run is credited to the first commit holding it.
    for commit in commits.iter().rev() {
        let at = BaselineSource::GitRef {
            dir: dir.clone(),
            reference: commit.clone(),
        };
        let loaded = match load(&at) {
            Ok(l) => l,
            // Commits from before the baselines directory existed.
            Err(BaselineError::DirAbsentAtRef { .. }) => continue,
            Err(e) => return Err(e),
        };
        let Some(set) = find_set(&loaded.sets, query) else {
            continue;
        };
        newest = Some((without_ref(&set.location, commit), set.key.clone()));
        for r in set.runs.iter().rev() {
            if seen.insert(r.digest.clone()) {
                let mut run = r.clone();
                run.location = without_ref(&run.location, commit);
                runs.push(HistoryRun {
                    run,
                    commit: Some(commit.clone()),
                });
            }
        }
    }
    let Some((location, key)) = newest else {
        return Ok(None);
    };
    // Promotion order; a run without a stamp keeps its commit order.
    runs.sort_by_key(|h| h.run.order_time());
    Ok(Some(finish(location, key, runs, commits.len())))
}

fn finish(
    location: String,
    key: BundleKey,
    mut runs: Vec<HistoryRun>,
    commits_read: usize,
) -> SetHistory {
    let left_out = runs.len().saturating_sub(MAX_HISTORY_RUNS);
    runs.drain(..left_out);
    SetHistory {
        location,
        key,
        runs,
        commits_read,
        left_out,
    }
}

/// `REF:baselines/x/` → `baselines/x/`.
fn without_ref(location: &str, reference: &str) -> String {
    location
        .strip_prefix(reference)
        .and_then(|l| l.strip_prefix(':'))
        .unwrap_or(location)
        .to_owned()
}
