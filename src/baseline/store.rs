//! Promoting bundles into the baselines directory and loading stored sets
//! from a directory or (through [`super::git`]) from a git ref.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use chrono::TimeDelta;

use super::calibration::{CALIBRATION_MAX_BYTES, Calibration, CalibrationError};
use super::error::BaselineError;
use super::git;
use super::layout::{
    hex_sha256, is_calibration_file, is_run_file, legacy_set_dir_for, promoted_at_of,
    run_file_name, set_dir_for, short_digest_of,
};
use super::types::{BaselineSet, BaselineSource, RawFile, StoredRun};
use crate::bundle::{Bundle, BundleError};
use crate::fsutil::{MAX_DATA_BYTES, read_bounded, write_atomic};
use crate::timefmt::{TimeError, Timestamp, parse_rfc3339, timestamp_ms};

/// Runs kept per set unless told otherwise.
pub const DEFAULT_KEEP: usize = 5;

fn parse_bytes(bytes: &[u8], path: &Path) -> Result<Bundle, BundleError> {
    crate::bundle::parse_bundle(bytes, path)
}

/// Everything one source holds, with the labels resolution reports.
pub(crate) struct Loaded {
    /// `baselines/` or `REF:baselines/`.
    pub label: String,
    pub commit: Option<String>,
    pub sets: Vec<BaselineSet>,
}

/// A run's promotion stamp, or an error naming the file.
fn promoted_at(name: &str, location: &str) -> Result<Option<Timestamp>, BaselineError> {
    promoted_at_of(name).map_err(|source| bad_time(location, BaselineError::STAMP, source))
}

/// A bundle's `context.started_at`: `None` when it is not an RFC 3339 time
/// (such runs order oldest and their age is unknown, as before); an error
/// naming the file when it is one that cannot exist.
fn started_at(bundle: &Bundle, location: &str) -> Result<Option<Timestamp>, BaselineError> {
    match parse_rfc3339(&bundle.context.started_at) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.is_impossible() => Err(bad_time(location, BaselineError::STARTED_AT, e)),
        Err(_) => Ok(None),
    }
}

fn bad_time(location: &str, field: &'static str, source: TimeError) -> BaselineError {
    BaselineError::BadTime {
        location: location.to_owned(),
        field,
        source,
    }
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
    let mut calibrations: BTreeMap<String, Calibration> = BTreeMap::new();
    for f in files {
        let rel = if f.set_rel.is_empty() {
            f.name.clone()
        } else {
            format!("{}/{}", f.set_rel, f.name)
        };
        let location = format!("{label}{rel}");
        if is_calibration_file(&f.name) {
            let c = Calibration::parse(&f.bytes, &location).map_err(BaselineError::Calibration)?;
            calibrations.insert(set_location_of(&label, &f.set_rel), c);
            continue;
        }
        let bundle = parse_bytes(&f.bytes, Path::new(&location)).map_err(|source| {
            BaselineError::Corrupt {
                location: location.clone(),
                source,
            }
        })?;
        let set_location = set_location_of(&label, &f.set_rel);
        let promoted_at = promoted_at(&f.name, &location)?;
        let started_at = started_at(&bundle, &location)?;
        groups.entry(set_location).or_default().push(StoredRun {
            location,
            digest: hex_sha256(&f.bytes),
            promoted_at,
            started_at,
            bundle,
        });
    }
    let sets = groups
        .into_iter()
        .filter_map(|(location, mut runs)| {
            // Newest first; the location breaks ties deterministically.
            runs.sort_by(|a, b| (b.order_time(), &b.location).cmp(&(a.order_time(), &a.location)));
            let key = runs.first()?.bundle.key.clone();
            Some(BaselineSet {
                calibration: calibrations.remove(&location),
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

/// The location of the set a file of directory `set_rel` belongs to.
fn set_location_of(label: &str, set_rel: &str) -> String {
    if set_rel.is_empty() {
        label.to_owned()
    } else {
        format!("{label}{set_rel}/")
    }
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
        } else if is_calibration_file(&name) && path.is_file() {
            // Bounded: the size is checked before the file is read.
            let location = path.display().to_string();
            let len = std::fs::metadata(&path)
                .map_err(|source| BaselineError::ReadFile {
                    path: path.clone(),
                    source,
                })?
                .len();
            if len > CALIBRATION_MAX_BYTES {
                return Err(BaselineError::Calibration(CalibrationError::TooLarge {
                    path: location,
                    bytes: len,
                    max: CALIBRATION_MAX_BYTES,
                }));
            }
            let bytes = read_bounded(&path, CALIBRATION_MAX_BYTES)
                .map_err(|source| BaselineError::ReadFile { path, source })?;
            out.push(RawFile {
                set_rel: rel.to_owned(),
                name,
                bytes,
            });
        } else if is_run_file(&name) {
            // Not `path.is_file()`: a FIFO or device named `*.json` is an
            // error naming it, not silently skipped.
            let bytes = read_bounded(&path, MAX_DATA_BYTES)
                .map_err(|source| BaselineError::ReadFile { path, source })?;
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
    let bytes = read_bounded(bundle_path, MAX_DATA_BYTES).map_err(|source| {
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
    let validity = &bundle.context.validity;
    if !validity.is_valid() {
        return Err(BaselineError::Invalid {
            path: bundle_path.to_owned(),
            problems: validity
                .problems
                .iter()
                .map(|p| format!("{}: {} (to fix: {})", p.kind, p.message, p.advice))
                .collect::<Vec<_>>()
                .join("; "),
        });
    }
    // Stored, an impossible start time would make the set unreadable.
    started_at(&bundle, &bundle_path.display().to_string())?;
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
    // A promote killed before its rename leaves a hidden temporary file
    // that `git add baselines` would commit; the next promote removes it.
    crate::fsutil::remove_stale_temps(&set_dir);
    migrate_legacy_set(baseline_dir, &set_dir, &bundle)?;
    let existing = list_set(&set_dir)?;

    let mut stored = None;
    for entry in &existing {
        if short_digest_of(&entry.name) == digest.get(..12) {
            let p = set_dir.join(&entry.name);
            let same = read_bounded(&p, MAX_DATA_BYTES)
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
            let newest = existing.iter().filter_map(|e| e.promoted_at).max();
            let mut at = timestamp_ms(now);
            if let Some(n) = newest {
                let after = n
                    .checked_add_signed(TimeDelta::milliseconds(1))
                    .unwrap_or(n);
                at = at.max(after);
            }
            let p = set_dir.join(run_file_name(at, &digest));
            write_atomic(&p, &bytes).map_err(BaselineError::Write)?;
            p
        }
    };
    prune(&set_dir, &bundle, keep)?;
    Ok(path)
}

/// Whether a stored run belongs to the set of `bundle`: the same exact key
/// and workload name, read from inside the file (the directory name alone
/// is never trusted to decide what may be moved or deleted).
fn same_set(stored: &Bundle, bundle: &Bundle) -> bool {
    stored.key == bundle.key && stored.context.workload_name == bundle.context.workload_name
}

/// A stored run file parsed, or `None` when it cannot be read or parsed.
fn read_run(path: &Path) -> Option<Bundle> {
    let bytes = read_bounded(path, MAX_DATA_BYTES).ok()?;
    parse_bytes(&bytes, path).ok()
}

/// Stores written before set directories were injective used lossy names
/// (`gpu/A` and `gpu_A` shared one directory). Migrate on promote: the runs
/// of the legacy directory whose key and workload inside the file equal
/// this bundle's move into the injective directory; runs of other keys stay
/// where they are (the loader reads every directory, so they remain usable
/// and are moved when their own key is next promoted). The set's
/// `calibration.json` moves along once no run is left behind.
fn migrate_legacy_set(
    baseline_dir: &Path,
    set_dir: &Path,
    bundle: &Bundle,
) -> Result<(), BaselineError> {
    let legacy = baseline_dir.join(legacy_set_dir_for(bundle));
    if legacy == set_dir {
        return Ok(());
    }
    let entries = list_set(&legacy)?;
    if entries.is_empty() {
        return Ok(());
    }
    let mut left = 0usize;
    for e in entries {
        let from = legacy.join(&e.name);
        if !read_run(&from).is_some_and(|b| same_set(&b, bundle)) {
            left += 1;
            continue;
        }
        std::fs::create_dir_all(set_dir).map_err(|source| BaselineError::ReadDir {
            path: set_dir.to_owned(),
            source,
        })?;
        let to = set_dir.join(&e.name);
        std::fs::rename(&from, &to).map_err(|source| BaselineError::Move {
            from: from.clone(),
            to,
            source,
        })?;
    }
    let cal = legacy.join(super::calibration::CALIBRATION_FILE);
    let cal_to = set_dir.join(super::calibration::CALIBRATION_FILE);
    if left == 0 && cal.is_file() && !cal_to.exists() {
        std::fs::create_dir_all(set_dir).map_err(|source| BaselineError::ReadDir {
            path: set_dir.to_owned(),
            source,
        })?;
        std::fs::rename(&cal, &cal_to).map_err(|source| BaselineError::Move {
            from: cal.clone(),
            to: cal_to.clone(),
            source,
        })?;
    }
    if left == 0 {
        // Only removes an empty directory; anything else left is kept.
        let _ = std::fs::remove_dir(&legacy);
    }
    Ok(())
}

/// A run file of one set directory, as promotion sees it.
struct SetEntry {
    name: String,
    /// The stamp of its file name.
    promoted_at: Option<Timestamp>,
    /// Promotion, else the start time of a hand-placed file that parses;
    /// `None` orders it oldest.
    order: Option<Timestamp>,
}

/// Run files of one set directory with their times. An impossible time is
/// an error here, before anything is written or removed.
fn list_set(set_dir: &Path) -> Result<Vec<SetEntry>, BaselineError> {
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
        if !is_run_file(&name) || !e.path().is_file() {
            continue;
        }
        let location = e.path().display().to_string();
        let promoted_at = promoted_at(&name, &location)?;
        let order = match promoted_at {
            Some(t) => Some(t),
            // A hand-placed file has no stamp: order it by its start time if
            // it parses, else treat it as the oldest.
            None => match read_run(&e.path()) {
                Some(bundle) => started_at(&bundle, &location)?,
                None => None,
            },
        };
        out.push(SetEntry {
            name,
            promoted_at,
            order,
        });
    }
    Ok(out)
}

/// Remove all but the newest `keep` runs of `bundle`'s set. Only files whose
/// key and workload inside equal the bundle's count and may be removed: a
/// hand-placed file of another key, or one that does not parse, is never
/// deleted by another key's promotion.
fn prune(set_dir: &Path, bundle: &Bundle, keep: usize) -> Result<(), BaselineError> {
    let mut runs: Vec<(Option<Timestamp>, String)> = list_set(set_dir)?
        .into_iter()
        .filter(|e| read_run(&set_dir.join(&e.name)).is_some_and(|b| same_set(&b, bundle)))
        .map(|e| (e.order, e.name))
        .collect();
    runs.sort_by(|a, b| b.cmp(a));
    for (_, name) in runs.into_iter().skip(keep) {
        let path = set_dir.join(name);
        std::fs::remove_file(&path).map_err(|source| BaselineError::Remove { path, source })?;
    }
    Ok(())
}
