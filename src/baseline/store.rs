//! Promoting bundles into the baselines directory and loading stored sets
//! from a directory or (through [`super::git`]) from a git ref.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::error::BaselineError;
use super::git;
use super::layout::{
    hex_sha256, is_run_file, promoted_ms_of, run_file_name, set_dir_for, short_digest_of,
};
use super::types::{BaselineSet, BaselineSource, StoredRun};
use crate::bundle::{Bundle, BundleError};
use crate::fsutil::write_atomic;
use crate::timefmt::{parse_rfc3339, unix_ms};

/// Runs kept per set unless told otherwise.
pub const DEFAULT_KEEP: usize = 5;

fn parse_bytes(bytes: &[u8], path: &Path) -> Result<Bundle, BundleError> {
    crate::bundle::parse_bundle(bytes, path)
}

/// A run file read from a source, before parsing.
pub(crate) struct RawFile {
    /// Directory of the file relative to the baselines root, `/`-separated,
    /// empty at the root.
    pub set_rel: String,
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Everything one source holds, with the labels resolution reports.
pub(crate) struct Loaded {
    /// `baselines/` or `REF:baselines/`.
    pub label: String,
    pub commit: Option<String>,
    pub sets: Vec<BaselineSet>,
}

/// Newest-first ordering key of a run: promotion stamp, else the run's start
/// time, else oldest; the location breaks ties deterministically.
fn order_key(promoted_ms: Option<i64>, bundle: Option<&Bundle>) -> i64 {
    promoted_ms
        .or_else(|| bundle.and_then(|b| parse_rfc3339(&b.context.started_at)))
        .unwrap_or(i64::MIN)
}

pub(crate) fn load(source: &BaselineSource) -> Result<Loaded, BaselineError> {
    let (label, commit, files) = match source {
        BaselineSource::Dir(dir) => {
            let label = dir_label(dir);
            (label, None, read_dir_files(dir)?)
        }
        BaselineSource::GitRef { dir, reference } => {
            let at = git::read_at_ref(dir, reference)?;
            (
                format!("{reference}:{}", at.dir_label),
                Some(at.commit),
                at.files,
            )
        }
    };
    let mut groups: BTreeMap<String, Vec<StoredRun>> = BTreeMap::new();
    for f in files {
        let rel = if f.set_rel.is_empty() {
            f.name.clone()
        } else {
            format!("{}/{}", f.set_rel, f.name)
        };
        let location = format!("{label}{rel}");
        let bundle = parse_bytes(&f.bytes, Path::new(&location)).map_err(|source| {
            BaselineError::Corrupt {
                location: location.clone(),
                source,
            }
        })?;
        let set_location = if f.set_rel.is_empty() {
            label.clone()
        } else {
            format!("{label}{}/", f.set_rel)
        };
        groups.entry(set_location).or_default().push(StoredRun {
            location,
            digest: hex_sha256(&f.bytes),
            promoted_at_ms: promoted_ms_of(&f.name),
            bundle,
        });
    }
    let sets = groups
        .into_iter()
        .filter_map(|(location, mut runs)| {
            runs.sort_by(|a, b| {
                let ka = order_key(a.promoted_at_ms, Some(&a.bundle));
                let kb = order_key(b.promoted_at_ms, Some(&b.bundle));
                kb.cmp(&ka).then_with(|| b.location.cmp(&a.location))
            });
            let key = runs.first()?.bundle.key.clone();
            Some(BaselineSet {
                location,
                key,
                runs,
            })
        })
        .collect();
    Ok(Loaded {
        label,
        commit,
        sets,
    })
}

/// All stored sets of a source, sorted by location; runs newest first. A
/// missing directory yields no sets; a missing ref is an error; a file that
/// cannot be parsed is an error naming it.
pub fn load_sets(source: &BaselineSource) -> Result<Vec<BaselineSet>, BaselineError> {
    Ok(load(source)?.sets)
}

/// `baselines/` from the directory as the user gave it.
fn dir_label(dir: &Path) -> String {
    let s = dir.to_string_lossy();
    let s = s.trim_end_matches('/');
    if s.is_empty() {
        "/".into()
    } else {
        format!("{s}/")
    }
}

fn read_dir_files(root: &Path) -> Result<Vec<RawFile>, BaselineError> {
    match std::fs::metadata(root) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(BaselineError::ReadDir {
                path: root.to_owned(),
                source,
            });
        }
        Ok(m) if !m.is_dir() => {
            return Err(BaselineError::ReadDir {
                path: root.to_owned(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotADirectory,
                    "expected a directory of baselines",
                ),
            });
        }
        Ok(_) => {}
    }
    let mut out = Vec::new();
    walk(root, "", &mut out)?;
    Ok(out)
}

fn walk(dir: &Path, rel: &str, out: &mut Vec<RawFile>) -> Result<(), BaselineError> {
    let read_err = |source| BaselineError::ReadDir {
        path: dir.to_owned(),
        source,
    };
    let mut entries = Vec::new();
    for e in std::fs::read_dir(dir).map_err(read_err)? {
        entries.push(e.map_err(read_err)?);
    }
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = e.path();
        let ft = e.file_type().map_err(read_err)?;
        // Symlinked directories are not followed (no loops); a symlinked
        // file is read like a file.
        if ft.is_dir() {
            let sub = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            walk(&path, &sub, out)?;
        } else if is_run_file(&name) && path.is_file() {
            let bytes =
                std::fs::read(&path).map_err(|source| BaselineError::ReadFile { path, source })?;
            out.push(RawFile {
                set_rel: rel.to_owned(),
                name,
                bytes,
            });
        }
    }
    Ok(())
}

/// Store `bundle_path` as the newest run of its set under `baseline_dir`,
/// keeping the newest `keep` runs of that set. Returns the stored file.
pub fn promote(
    bundle_path: &Path,
    baseline_dir: &Path,
    keep: usize,
) -> Result<PathBuf, BaselineError> {
    promote_at(bundle_path, baseline_dir, keep, SystemTime::now())
}

/// [`promote`] with an explicit promotion time (for tests and replays).
///
/// The file is the bundle's bytes unchanged, so the stored run's digest is
/// the bundle's digest. Promoting a bundle already in the set stores nothing
/// new (pooling the same run twice would double its weight).
pub fn promote_at(
    bundle_path: &Path,
    baseline_dir: &Path,
    keep: usize,
    now: SystemTime,
) -> Result<PathBuf, BaselineError> {
    if keep == 0 {
        return Err(BaselineError::KeepZero);
    }
    let bytes = std::fs::read(bundle_path).map_err(|source| {
        BaselineError::ReadBundle(BundleError::Read {
            path: bundle_path.to_owned(),
            source,
        })
    })?;
    let bundle = parse_bytes(&bytes, bundle_path).map_err(BaselineError::ReadBundle)?;
    if !bundle.context.complete {
        return Err(BaselineError::Incomplete {
            path: bundle_path.to_owned(),
            reason: bundle
                .context
                .incomplete_reason
                .clone()
                .unwrap_or_else(|| "no reason recorded".into()),
        });
    }
    let req = &bundle.metrics.requests;
    if req.succeeded == 0 {
        return Err(BaselineError::NoSuccess {
            path: bundle_path.to_owned(),
            attempted: req.attempted,
            failed: req.failed,
        });
    }
    let digest = hex_sha256(&bytes);
    let set_dir = baseline_dir.join(set_dir_for(&bundle));
    let existing = list_set(&set_dir)?;

    let mut stored = None;
    for (name, _) in &existing {
        if short_digest_of(name) == digest.get(..12) {
            let p = set_dir.join(name);
            let same = std::fs::read(&p)
                .map(|b| hex_sha256(&b) == digest)
                .unwrap_or(false);
            if same {
                stored = Some(p);
                break;
            }
        }
    }
    let path = match stored {
        Some(p) => p,
        None => {
            // Keep stamps strictly increasing within a set so promotion order
            // survives clock skew and several promotions within a millisecond.
            let newest = existing.iter().filter_map(|(_, ms)| *ms).max();
            let mut ms = unix_ms(now);
            if let Some(n) = newest {
                ms = ms.max(n.saturating_add(1));
            }
            let p = set_dir.join(run_file_name(ms, &digest));
            write_atomic(&p, &bytes).map_err(BaselineError::Write)?;
            p
        }
    };
    prune(&set_dir, keep)?;
    Ok(path)
}

/// Run files of one set directory with their promotion stamps.
fn list_set(set_dir: &Path) -> Result<Vec<(String, Option<i64>)>, BaselineError> {
    let rd = match std::fs::read_dir(set_dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(BaselineError::ReadDir {
                path: set_dir.to_owned(),
                source,
            });
        }
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(|source| BaselineError::ReadDir {
            path: set_dir.to_owned(),
            source,
        })?;
        let name = e.file_name().to_string_lossy().into_owned();
        if is_run_file(&name) && e.path().is_file() {
            let ms = promoted_ms_of(&name);
            out.push((name, ms));
        }
    }
    Ok(out)
}

/// Remove all but the newest `keep` runs of a set.
fn prune(set_dir: &Path, keep: usize) -> Result<(), BaselineError> {
    let mut runs: Vec<(i64, String)> = list_set(set_dir)?
        .into_iter()
        .map(|(name, ms)| {
            // A hand-placed file has no stamp: order it by its start time if
            // it parses, else treat it as the oldest.
            let bundle = ms.is_none().then(|| {
                std::fs::read(set_dir.join(&name))
                    .ok()
                    .and_then(|b| parse_bytes(&b, Path::new(&name)).ok())
            });
            (order_key(ms, bundle.flatten().as_ref()), name)
        })
        .collect();
    runs.sort_by(|a, b| b.cmp(a));
    for (_, name) in runs.into_iter().skip(keep) {
        let path = set_dir.join(name);
        std::fs::remove_file(&path).map_err(|source| BaselineError::Remove { path, source })?;
    }
    Ok(())
}
