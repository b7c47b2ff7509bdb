//! Errors of promoting, loading and resolving baselines.

use std::path::PathBuf;

use crate::bundle::BundleError;
use crate::fsutil::AtomicWriteError;

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("cannot read bundle to promote")]
    ReadBundle(#[source] BundleError),
    #[error(
        "refusing to promote {path}: the run is incomplete (context.complete is false: {reason}); re-run it to completion"
    )]
    Incomplete { path: PathBuf, reason: String },
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
