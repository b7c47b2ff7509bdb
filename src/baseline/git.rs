//! Reading the baselines directory as committed at a git ref, from the object
//! database (git2), without a checkout: `revparse_single(REF)` → commit →
//! tree → the subtree at the directory's path relative to the repository
//! root → blobs.

use std::path::{Component, Path, PathBuf};

use git2::{ErrorCode, ObjectType, Repository, TreeWalkMode, TreeWalkResult};

use super::calibration::{CALIBRATION_MAX_BYTES, CalibrationError};
use super::error::BaselineError;
use super::layout::{is_calibration_file, is_run_file};
use super::types::RawFile;
use crate::fsutil::MAX_DATA_BYTES;

pub(crate) struct AtRef {
    /// The directory relative to the repository root, `/`-separated, ending
    /// in `/` (empty at the root), so `REF:{dir_label}` is git's own syntax.
    pub dir_label: String,
    pub commit: String,
    pub files: Vec<RawFile>,
}

/// Make `dir` absolute and resolve symlinks in its longest existing prefix,
/// so it can be compared with the (canonical) working tree path. The
/// directory itself need not exist in the working tree: a ref may hold
/// baselines the checkout does not.
fn absolute(dir: &Path) -> (PathBuf, PathBuf) {
    let abs = if dir.is_absolute() {
        dir.to_owned()
    } else {
        std::env::current_dir()
            .map(|c| c.join(dir))
            .unwrap_or_else(|_| dir.to_owned())
    };
    // Lexical normalisation of `.` and `..` first.
    let mut norm = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                norm.pop();
            }
            other => norm.push(other),
        }
    }
    let mut existing = norm.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (
            existing.file_name().map(|n| n.to_owned()),
            existing.parent(),
        ) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_owned();
            }
            _ => break,
        }
    }
    let base = existing.canonicalize().unwrap_or(existing);
    let mut full = base.clone();
    for name in rest.into_iter().rev() {
        full.push(name);
    }
    (full, base)
}

/// The nearest ancestor holding `.git`: the path `safe.directory` needs.
fn repo_root_guess(start: &Path) -> PathBuf {
    start
        .ancestors()
        .find(|a| a.join(".git").exists())
        .unwrap_or(start)
        .to_owned()
}

fn open_repo(start: &Path) -> Result<Repository, BaselineError> {
    Repository::discover(start).map_err(|source| {
        if source.code() == ErrorCode::Owner {
            BaselineError::NotOwned {
                path: repo_root_guess(start),
                source,
            }
        } else {
            BaselineError::NoRepository {
                path: start.to_owned(),
                source,
            }
        }
    })
}

/// What to tell a shallow clone to fetch for `reference`.
fn fetch_hint(reference: &str) -> String {
    let r = reference
        .strip_prefix("refs/remotes/")
        .or_else(|| reference.strip_prefix("remotes/"))
        .unwrap_or(reference);
    let r = r.strip_prefix("origin/").unwrap_or(r);
    r.strip_prefix("refs/heads/").unwrap_or(r).to_owned()
}

/// The commit `reference` names, or an error saying what to fetch.
fn peel_commit<'r>(
    repo: &'r Repository,
    workdir: &Path,
    reference: &str,
) -> Result<git2::Commit<'r>, BaselineError> {
    let object = repo
        .revparse_single(reference)
        .map_err(|source| BaselineError::RefNotFound {
            reference: reference.to_owned(),
            repo: workdir.to_owned(),
            shallow: if repo.is_shallow() {
                " (this clone is shallow)".into()
            } else {
                String::new()
            },
            fetch: fetch_hint(reference),
            source,
        })?;
    object
        .peel_to_commit()
        .map_err(|source| BaselineError::NotACommit {
            reference: reference.to_owned(),
            source,
        })
}

/// The first-parent history of `reference` (newest first, at most `max`
/// commits), as full hex ids: the commits a branch's baselines went through,
/// one per promotion on a branch that promotes by commit.
pub(crate) fn first_parent_commits(
    dir: &Path,
    reference: &str,
    max: usize,
) -> Result<Vec<String>, BaselineError> {
    let (_, existing) = absolute(dir);
    let repo = open_repo(&existing)?;
    let workdir = repo
        .workdir()
        .map(Path::to_owned)
        .unwrap_or_else(|| repo.path().to_owned());
    let mut commit = peel_commit(&repo, &workdir, reference)?;
    let mut out = vec![commit.id().to_string()];
    while out.len() < max {
        match commit.parent(0) {
            Ok(parent) => {
                out.push(parent.id().to_string());
                commit = parent;
            }
            // The root commit, or a shallow clone's boundary.
            Err(_) => break,
        }
    }
    Ok(out)
}

pub(crate) fn read_at_ref(dir: &Path, reference: &str) -> Result<AtRef, BaselineError> {
    let (abs_dir, existing) = absolute(dir);
    let repo = open_repo(&existing)?;
    let workdir = repo
        .workdir()
        .ok_or_else(|| BaselineError::BareRepository {
            path: repo.path().to_owned(),
            dir: dir.to_owned(),
        })?;
    let workdir = workdir
        .canonicalize()
        .unwrap_or_else(|_| workdir.to_owned());
    let rel = abs_dir
        .strip_prefix(&workdir)
        .map_err(|_| BaselineError::OutsideRepository {
            dir: abs_dir.clone(),
            workdir: workdir.clone(),
        })?
        .to_owned();
    let rel_str = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/");

    let commit = peel_commit(&repo, &workdir, reference)?;
    let commit_id = commit.id().to_string();
    let git_err = |what: &str| {
        let what = format!("{what} at `{reference}`");
        move |source| BaselineError::Git { what, source }
    };
    let root = commit.tree().map_err(git_err("reading the commit tree"))?;
    let tree = if rel_str.is_empty() {
        root
    } else {
        let entry = root.get_path(&rel).map_err(|e| {
            if e.code() == ErrorCode::NotFound {
                BaselineError::DirAbsentAtRef {
                    dir: rel_str.clone(),
                    reference: reference.to_owned(),
                    commit: commit_id.clone(),
                }
            } else {
                BaselineError::Git {
                    what: format!("looking up `{rel_str}` at `{reference}`"),
                    source: e,
                }
            }
        })?;
        if entry.kind() != Some(ObjectType::Tree) {
            return Err(BaselineError::NotADirAtRef {
                dir: rel_str,
                reference: reference.to_owned(),
            });
        }
        entry
            .to_object(&repo)
            .and_then(|o| o.peel_to_tree())
            .map_err(git_err("reading the baseline directory"))?
    };

    // Collect blob ids first, then read them (the walk callback cannot fail
    // with our error type).
    let mut found: Vec<(String, String, git2::Oid)> = Vec::new();
    tree.walk(TreeWalkMode::PreOrder, |parent, entry| {
        let name = String::from_utf8_lossy(entry.name_bytes()).into_owned();
        match entry.kind() {
            // Hidden directories are not baselines (same rule as on disk).
            Some(ObjectType::Tree) if name.starts_with('.') => TreeWalkResult::Skip,
            // Regular files only: 0o120000 is a symlink, whose blob is a path.
            Some(ObjectType::Blob)
                if (is_run_file(&name) || is_calibration_file(&name))
                    && entry.filemode() & 0o170000 == 0o100000 =>
            {
                found.push((parent.trim_end_matches('/').to_owned(), name, entry.id()));
                TreeWalkResult::Ok
            }
            _ => TreeWalkResult::Ok,
        }
    })
    .map_err(git_err("walking the baseline directory"))?;

    let odb = repo.odb().map_err(git_err("opening the object database"))?;
    let mut files = Vec::with_capacity(found.len());
    for (set_rel, name, id) in found {
        // Bounded: the size comes from the object header, before the blob
        // is loaded, so a huge committed file is refused, not read.
        let (size, _) = odb
            .read_header(id)
            .map_err(git_err(&format!("reading {rel_str}/{set_rel}/{name}")))?;
        if !is_calibration_file(&name) && size as u64 > MAX_DATA_BYTES {
            return Err(BaselineError::TooLarge {
                location: format!("{reference}:{rel_str}/{set_rel}/{name}"),
                bytes: size as u64,
                max: MAX_DATA_BYTES,
            });
        }
        if is_calibration_file(&name) && size as u64 > CALIBRATION_MAX_BYTES {
            return Err(BaselineError::Calibration(CalibrationError::TooLarge {
                path: format!("{reference}:{rel_str}/{set_rel}/{name}"),
                bytes: size as u64,
                max: CALIBRATION_MAX_BYTES,
            }));
        }
        let blob = repo
            .find_blob(id)
            .map_err(git_err(&format!("reading {rel_str}/{set_rel}/{name}")))?;
        files.push(RawFile {
            set_rel,
            name,
            bytes: blob.content().to_vec(),
        });
    }
    Ok(AtRef {
        dir_label: if rel_str.is_empty() {
            String::new()
        } else {
            format!("{rel_str}/")
        },
        commit: commit_id,
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_hint_names_the_branch() {
        assert_eq!(fetch_hint("origin/main"), "main");
        assert_eq!(fetch_hint("refs/remotes/origin/release/1.2"), "release/1.2");
        assert_eq!(fetch_hint("main"), "main");
        assert_eq!(fetch_hint("refs/heads/dev"), "dev");
    }

    #[test]
    fn owner_error_gets_the_safe_directory_message() {
        let dir = std::env::temp_dir();
        let e = BaselineError::NotOwned {
            path: dir.clone(),
            source: git2::Error::new(ErrorCode::Owner, git2::ErrorClass::Config, "not owned"),
        };
        let msg = e.to_string();
        assert!(msg.contains("safe.directory"), "{msg}");
        assert!(msg.contains(&dir.display().to_string()), "{msg}");
    }
}
