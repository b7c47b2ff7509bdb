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
    /// With `--git-history`, the first commit (hex) that held it; read at
    /// one ref, that ref's commit; `None` when read from a directory.
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
    /// More first-parent commits than [`MAX_HISTORY_COMMITS`]: the oldest
    /// were not read.
    pub commit_limit_hit: bool,
    /// Commits whose baselines could not be read (skipped), and the first
    /// one with its error.
    pub skipped_commits: usize,
    pub first_skip: Option<String>,
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
    // One more than the bound, to tell a long history from one that ends.
    let mut commits = git::first_parent_commits(dir, reference, MAX_HISTORY_COMMITS + 1)?;
    let commit_limit_hit = commits.len() > MAX_HISTORY_COMMITS;
    commits.truncate(MAX_HISTORY_COMMITS);
    let at = |commit: &String| BaselineSource::GitRef {
        dir: dir.clone(),
        reference: commit.clone(),
    };
    // The set is chosen once, at the newest commit that has a match, and
    // followed by its exact location: `find_set` picks among several
    // matching sets by their newest promotion, which could differ from
    // commit to commit and splice two sets into one series.
    let mut target: Option<(String, BundleKey)> = None;
    for commit in &commits {
        // Unreadable commits are counted in the walk below.
        if let Ok(l) = load(&at(commit))
            && let Some(set) = find_set(&l.sets, query)
        {
            target = Some((without_ref(&set.location, commit), set.key.clone()));
            break;
        }
    }
    let Some((location, key)) = target else {
        return Ok(None);
    };
    let mut skipped = Skipped::default();
    let mut seen = BTreeSet::new();
    let mut runs = Vec::new();
    // Oldest first, so each run is credited to the first commit holding it.
    for commit in commits.iter().rev() {
        let loaded = match load(&at(commit)) {
            Ok(l) => l,
            // Commits from before the baselines directory existed.
            Err(BaselineError::DirAbsentAtRef { .. }) => continue,
            // An old commit with a file this version cannot read (or a
            // corrupt one) costs that commit, not the whole history.
            Err(e) => {
                skipped.note(commit, &e);
                continue;
            }
        };
        let Some(set) = loaded
            .sets
            .iter()
            .find(|s| without_ref(&s.location, commit) == location)
        else {
            continue;
        };
        for r in set.runs.iter().rev() {
            if seen.insert(r.digest.clone()) {
                let mut run = r.clone();
                run.location = without_ref(&run.location, commit);
                // The summary metrics are what a history reads; the
                // per-request columns and histograms would hold megabytes
                // per run for hundreds of runs.
                run.bundle.samples = Default::default();
                run.bundle.histograms = Default::default();
                run.bundle.repeats.clear();
                runs.push(HistoryRun {
                    run,
                    commit: Some(commit.clone()),
                });
            }
        }
    }
    // Promotion order (the sort is stable: runs without a stamp sort first,
    // in the order their commits came).
    runs.sort_by_key(|h| h.run.order_time());
    let mut h = finish(location, key, runs, commits.len());
    h.commit_limit_hit = commit_limit_hit;
    h.skipped_commits = skipped.count;
    h.first_skip = skipped.first;
    Ok(Some(h))
}

/// Commits whose baselines could not be read.
#[derive(Default)]
struct Skipped {
    count: usize,
    first: Option<String>,
}

impl Skipped {
    fn note(&mut self, commit: &str, e: &BaselineError) {
        self.count += 1;
        if self.first.is_none() {
            let short: String = commit.chars().take(12).collect();
            self.first = Some(format!("{short}: {}", crate::error_chain(e)));
        }
    }
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
        commit_limit_hit: false,
        skipped_commits: 0,
        first_skip: None,
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
