//! The data types of baseline resolution: where baselines come from, the
//! run files a source holds, stored runs and sets, and the outcome of a
//! resolution. Both readers (the directory walk in `store`, the git reader in
//! `git`) produce [`RawFile`]s, so neither depends on the other's module.

use std::path::PathBuf;

use crate::bundle::{Bundle, BundleKey};
use crate::timefmt::Timestamp;

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

/// A run file read from a source (directory or git ref), before parsing.
pub(crate) struct RawFile {
    /// Directory of the file relative to the baselines root, `/`-separated,
    /// empty at the root.
    pub set_rel: String,
    pub name: String,
    pub bytes: Vec<u8>,
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
    /// Promotion time from the file name; `None` for a file not named by
    /// `promote` (then `started_at` orders it).
    pub promoted_at: Option<Timestamp>,
    /// The bundle's `context.started_at`; `None` when it is not an RFC 3339
    /// time (an impossible one is an error when loading).
    pub started_at: Option<Timestamp>,
}

impl StoredRun {
    /// When the run entered the set: its promotion, else its start; `None`
    /// (ordered oldest) when neither is known.
    pub fn order_time(&self) -> Option<Timestamp> {
        self.promoted_at.or(self.started_at)
    }
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
    /// The set's `calibration.json` (measured run-to-run noise), when it has
    /// one.
    pub calibration: Option<super::calibration::Calibration>,
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
    /// Dotted bundle path, e.g. `key.hardware_profile`, or
    /// `context.workload_shape.FIELD` for one field of the workload's shape.
    pub field: String,
    pub baseline: String,
    pub candidate: String,
}

/// The [`FieldDiff::field`] of bundles measured by different tools.
pub const IMPORTED_FIELD: &str = "context.imported";

/// Prefix of the [`FieldDiff::field`] of a workload shape field.
pub const WORKLOAD_SHAPE_FIELD: &str = "context.workload_shape.";

impl FieldDiff {
    /// The difference in words: `load: closed, concurrency 16 → closed,
    /// concurrency 8` for a workload field (the name a user wrote in the
    /// workload file), `FIELD differs (baseline A, candidate B)` otherwise.
    pub fn describe(&self) -> String {
        if self.field == IMPORTED_FIELD {
            return format!(
                "measured by different tools (baseline {}, candidate {}): their TTFT, ITL and E2E start and stop at different events; `--allow-imported` compares them anyway",
                self.baseline, self.candidate
            );
        }
        match self.field.strip_prefix(WORKLOAD_SHAPE_FIELD) {
            Some(name) => format!("{name}: {} → {}", self.baseline, self.candidate),
            None => format!(
                "{} differs (baseline {}, candidate {})",
                self.field, self.baseline, self.candidate
            ),
        }
    }
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
    /// Why the chosen set's `calibration.json` was not used (it describes
    /// another setup: hardware, tokenizer, workload, …); `None` when it was
    /// used or there is none.
    pub calibration_refused: Option<String>,
}
