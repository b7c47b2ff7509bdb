//! Errors of promoting, loading and resolving baselines.

use std::path::PathBuf;

use crate::bundle::BundleError;
use crate::fsutil::AtomicWriteError;
use crate::timefmt::TimeError;

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("cannot read bundle to promote")]
    ReadBundle(#[source] BundleError),
    #[error(
        "refusing to promote {path}: the run is incomplete (context.complete is false: {reason}); re-run it to completion"
    )]
    Incomplete { path: PathBuf, reason: String },
    /// The run did not measure what its workload configured
    /// (`context.validity.problems`): a baseline from it would move the bar
    /// for a reason that is not the server.
    #[error("refusing to promote {path}: the run is invalid: {problems}")]
    Invalid {
        path: PathBuf,
        /// Every problem as `kind: message (advice)`, joined by `; `.
        problems: String,
    },
    #[error(
        "refusing to promote {path}: no request succeeded (metrics.requests: attempted {attempted}, failed {failed}); a baseline needs successful requests"
    )]
    NoSuccess {
        path: PathBuf,
        attempted: u64,
        failed: u64,
    },
    #[error("--keep must be at least 1, got 0")]
    KeepZero,
    #[error("cannot write baseline")]
    Write(#[source] AtomicWriteError),
    #[error("cannot remove old baseline run {path}")]
    Remove {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Moving a run of a pre-injective set directory into its own one.
    #[error("cannot move baseline file {from} to {to}")]
    Move {
        from: PathBuf,
        to: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("baseline file {location} is {bytes} bytes, over the cap of {max} bytes")]
    TooLarge {
        location: String,
        bytes: u64,
        max: u64,
    },
    #[error("cannot read baseline directory {path}")]
    ReadDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read baseline file {path}")]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A stored run that cannot be parsed is an error, never skipped: a
    /// silently dropped baseline would change what the gate compares with.
    #[error("cannot use baseline file {location}")]
    Corrupt {
        location: String,
        #[source]
        source: BundleError,
    },
    /// A set's `calibration.json` that cannot be used (too large, not
    /// JSON, an unknown field, a newer schema): an error, not a silently
    /// ignored calibration.
    #[error("cannot use the calibration of a baseline set")]
    Calibration(#[source] super::calibration::CalibrationError),
    /// A time that orders stored runs or dates them names no real instant
    /// (`2026-02-31`, an offset of `+25:00`): an error, never read as a
    /// nearby day. `location` is a stored run or the bundle being promoted.
    #[error("{location}: {field}")]
    BadTime {
        location: String,
        /// Which time: [`BaselineError::STAMP`] or [`BaselineError::STARTED_AT`].
        field: &'static str,
        #[source]
        source: TimeError,
    },
    #[error("no git repository found at or above {path} (needed to read baselines at a git ref)")]
    NoRepository {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error(
        "git refuses to open the repository at {path}: it is owned by another user (common in CI containers); if you trust it, run `git config --global --add safe.directory {path}`"
    )]
    NotOwned {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("the repository at {path} has no working tree; cannot place {dir} inside it")]
    BareRepository { path: PathBuf, dir: PathBuf },
    #[error("baseline directory {dir} is not inside the git working tree {workdir}")]
    OutsideRepository { dir: PathBuf, workdir: PathBuf },
    #[error(
        "git ref `{reference}` not found in {repo}{shallow}; in a shallow CI clone, fetch it first: `git fetch origin {fetch} --depth=50`"
    )]
    RefNotFound {
        reference: String,
        repo: PathBuf,
        /// " (the clone is shallow)" or empty.
        shallow: String,
        /// What to fetch: the branch part of the ref.
        fetch: String,
        #[source]
        source: git2::Error,
    },
    #[error("git ref `{reference}` does not point to a commit")]
    NotACommit {
        reference: String,
        #[source]
        source: git2::Error,
    },
    #[error(
        "baseline directory `{dir}` does not exist at git ref `{reference}` (commit {commit}); promote and commit a baseline there first"
    )]
    DirAbsentAtRef {
        dir: String,
        reference: String,
        commit: String,
    },
    #[error("`{dir}` at git ref `{reference}` is not a directory")]
    NotADirAtRef { dir: String, reference: String },
    #[error("git error while {what}")]
    Git {
        what: String,
        #[source]
        source: git2::Error,
    },
}

impl BaselineError {
    /// The `field` of a [`BaselineError::BadTime`] in a run's file name.
    pub const STAMP: &'static str = "the promotion stamp in its file name";
    /// The `field` of a [`BaselineError::BadTime`] in the bundle.
    pub const STARTED_AT: &'static str = "field `context.started_at`";
}
