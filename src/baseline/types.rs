//! The public data types of baseline resolution: where baselines come from,
//! stored runs and sets, and the outcome of a resolution.

use std::path::PathBuf;

use crate::bundle::{Bundle, BundleKey};

/// Where stored baselines are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaselineSource {
    /// A directory on disk (the working tree). A missing directory means
    /// "no baselines".
    Dir(PathBuf),
    /// The directory `dir` as committed at git ref `reference` (e.g.
    /// `origin/main`), read from the object database without a checkout, so
    /// a pull request cannot lower its own bar by editing its working tree.
    GitRef { dir: PathBuf, reference: String },
}

/// One promoted run.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRun {
    /// `baselines/…/x.json`, or `REF:baselines/…/x.json` when read at a ref.
    pub location: String,
    /// sha256 (hex) of the file's bytes.
    pub digest: String,
    /// The parsed bundle.
    pub bundle: Bundle,
    /// Promotion time from the file name, Unix milliseconds; `None` for a
    /// file not named by `promote` (then `started_at` orders it).
    pub promoted_at_ms: Option<i64>,
}

/// The runs stored for one key and workload (one directory).
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineSet {
    /// The set's directory, ending in `/` (`baselines/…/` or `REF:baselines/…/`).
    pub location: String,
    /// Key of the newest run.
    pub key: BundleKey,
    /// Newest first.
    pub runs: Vec<StoredRun>,
}

impl BaselineSet {
    /// Workload name of the newest run.
    pub fn workload_name(&self) -> &str {
        self.runs
            .first()
            .map(|r| r.bundle.context.workload_name.as_str())
            .unwrap_or("")
    }
}

/// One field that differs between a baseline and the candidate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct FieldDiff {
    /// Dotted bundle path, e.g. `key.hardware_profile`.
    pub field: String,
    pub baseline: String,
    pub candidate: String,
}

/// A set (or a single run of a set) that was not chosen, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Refusal {
    /// Set location (`…/`), or a run's file when only that run was refused.
    pub location: String,
    /// Workload name of the refused set's newest run (to tell "nothing
    /// stored for this workload" from "stored but incomparable").
    pub workload: String,
    /// Must-match fields that differ; empty when the set was comparable but
    /// not chosen, or was refused for a reason given in `note`.
    pub reasons: Vec<FieldDiff>,
    pub note: Option<String>,
}

/// How one stored run relates to a candidate under the comparability
/// contract (DESIGN.md §5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparability {
    /// Must-match fields that differ: any entry makes the run incomparable.
    pub mismatches: Vec<FieldDiff>,
    /// Allowed to differ: the change under test.
    pub changes: Vec<FieldDiff>,
    /// Recorded; a difference only warns.
    pub warnings: Vec<FieldDiff>,
    /// Why the run itself is unusable (incomplete, no successful requests).
    pub unusable: Option<String>,
}

impl Comparability {
    pub fn is_comparable(&self) -> bool {
        self.mismatches.is_empty() && self.unusable.is_none()
    }
}

/// The outcome of resolving a candidate against stored baselines.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    /// `baselines/`, or `origin/main:baselines/` when read at a ref.
    pub source: String,
    /// Commit id the ref resolved to.
    pub git_commit: Option<String>,
    /// Workload name of the candidate (for messages).
    pub candidate_workload: String,
    /// The set the gate compares with; its runs are the comparable runs,
    /// newest first, at most k.
    pub chosen: Option<BaselineSet>,
    /// Allowed differences (serving image, model version, engine flags).
    pub change_under_test: Vec<FieldDiff>,
    /// Recorded differences that only warn (runner host, meta, date).
    pub warnings: Vec<FieldDiff>,
    /// Every set (or run) not used, with the reason.
    pub refused: Vec<Refusal>,
}
