//! The comparability contract (DESIGN.md §5) between a candidate bundle and
//! stored runs, and resolution: which stored set the gate compares with.

use std::collections::BTreeSet;
use std::time::SystemTime;

use super::error::BaselineError;
use super::store::{DEFAULT_KEEP, Loaded, load};
use super::types::{
    BaselineSet, BaselineSource, Comparability, FieldDiff, IMPORTED_FIELD, Refusal, Resolution,
    StoredRun, WORKLOAD_SHAPE_FIELD,
};
use crate::bundle::Bundle;
use crate::timefmt::{Timestamp, format_rfc3339, timestamp};

/// A baseline older than this many days gets a warning.
pub const DATE_WARN_DAYS: i64 = 30;

/// The compatibility-relevant part of a tool version: the major version, or
/// `0.MINOR` while the major is 0 (Cargo's semver rule: in 0.y.z a minor
/// bump is the breaking one). Pre-release/build suffixes and a leading `v`
/// are ignored; text that is not a version is kept whole.
pub fn tool_major(version: &str) -> String {
    let v = version.trim();
    let v = v.strip_prefix('v').unwrap_or(v);
    let core = v.split(['-', '+']).next().unwrap_or("");
    let mut parts = core.split('.');
    let major = parts.next().unwrap_or("");
    if major.is_empty() || !major.bytes().all(|b| b.is_ascii_digit()) {
        return if version.trim().is_empty() {
            "unknown".into()
        } else {
            version.trim().to_owned()
        };
    }
    if major.trim_start_matches('0').is_empty() {
        match parts.next() {
            Some(minor) if !minor.is_empty() => format!("0.{minor}"),
            _ => "0".into(),
        }
    } else {
        major.trim_start_matches('0').to_owned()
    }
}

fn show(s: &str) -> String {
    if s.is_empty() {
        "(empty)".into()
    } else {
        s.to_owned()
    }
}

fn show_opt(s: Option<&str>) -> String {
    s.map(show).unwrap_or_else(|| "(none)".into())
}

/// Compared in full; stored cut (the cut said), because the values are
/// foreign (`--meta`, `TOKENGATE_*`) and every report copies a difference.
fn diff(out: &mut Vec<FieldDiff>, field: &str, baseline: String, candidate: String) {
    use crate::wording::foreign::{MAX_FOREIGN_CHARS, cut};
    if baseline != candidate {
        out.push(FieldDiff {
            field: cut(field, MAX_FOREIGN_CHARS),
            baseline: cut(&baseline, MAX_FOREIGN_CHARS),
            candidate: cut(&candidate, MAX_FOREIGN_CHARS),
        });
    }
}

/// The workload part of the contract: nothing when the digests match;
/// otherwise every field of the workload shape that differs, in words. An
/// older bundle without a shape (or a digest that differs in no recorded
/// field, such as a sweep's own digest) falls back to the two digests.
fn workload_diffs(out: &mut Vec<FieldDiff>, b: &Bundle, c: &Bundle) {
    let (bd, cd) = (&b.context.workload_digest, &c.context.workload_digest);
    if bd == cd {
        return;
    }
    let (bs, cs) = (&b.context.workload_shape, &c.context.workload_shape);
    if !bs.is_empty() && !cs.is_empty() {
        let before = out.len();
        let names: BTreeSet<&String> = bs.keys().chain(cs.keys()).collect();
        for name in names {
            let get = |s: &std::collections::BTreeMap<String, String>| {
                s.get(name).cloned().unwrap_or_else(|| "(absent)".into())
            };
            diff(
                out,
                &format!("{WORKLOAD_SHAPE_FIELD}{name}"),
                get(bs),
                get(cs),
            );
        }
        if out.len() > before {
            return;
        }
    }
    let unrecorded = |digest: &str, shape_missing: bool| {
        if shape_missing {
            format!("{} (no workload shape recorded)", show(digest))
        } else {
            show(digest)
        }
    };
    // Say which side lacks the words only when the other has them.
    let one_missing = bs.is_empty() != cs.is_empty();
    out.push(FieldDiff {
        field: "context.workload_digest".into(),
        baseline: unrecorded(bd, one_missing && bs.is_empty()),
        candidate: unrecorded(cd, one_missing && cs.is_empty()),
    });
}

/// What the user allowed beyond the contract's defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ComparePolicy {
    /// `--allow-imported`: compare an imported bundle with a native one,
    /// and bundles imported from different tools; the difference then only
    /// warns.
    pub allow_imported: bool,
}

/// Where a bundle's numbers came from, in words: `tokengate (native)` or
/// `vllm 0.32.0 (imported)`.
fn source_of(b: &Bundle) -> String {
    match &b.context.imported {
        None => "tokengate (native)".into(),
        Some(i) => format!(
            "{} {}(imported)",
            i.tool,
            i.version
                .as_deref()
                .map(|v| format!("{v} "))
                .unwrap_or_default()
        ),
    }
}

/// The measuring tool: native bundles and each importing tool measure
/// TTFT, E2E and ITL from different clocks and events (`docs/import.md`),
/// so by default only bundles of the same tool are comparable; versions of
/// one tool only warn, as driver versions do.
fn source_diffs(
    m: &mut Vec<FieldDiff>,
    w: &mut Vec<FieldDiff>,
    b: &Bundle,
    c: &Bundle,
    policy: ComparePolicy,
) {
    let tool = |x: &Bundle| x.context.imported.as_ref().map(|i| i.tool.clone());
    if tool(b) != tool(c) {
        let out = if policy.allow_imported { w } else { m };
        diff(out, IMPORTED_FIELD, source_of(b), source_of(c));
    } else if let (Some(bi), Some(ci)) = (&b.context.imported, &c.context.imported) {
        diff(
            w,
            "context.imported.version",
            show_opt(bi.version.as_deref()),
            show_opt(ci.version.as_deref()),
        );
    }
}

/// Classify every field the contract names. Dates are left to [`resolve`],
/// which knows "now".
pub fn comparability(baseline: &Bundle, candidate: &Bundle) -> Comparability {
    comparability_with(baseline, candidate, ComparePolicy::default())
}

/// [`comparability`] under `policy`.
pub fn comparability_with(
    baseline: &Bundle,
    candidate: &Bundle,
    policy: ComparePolicy,
) -> Comparability {
    let (b, c) = (baseline, candidate);
    let mut m = Vec::new();
    let mut warnings = Vec::new();
    source_diffs(&mut m, &mut warnings, b, c, policy);
    diff(
        &mut m,
        "key.hardware_profile",
        show(&b.key.hardware_profile),
        show(&c.key.hardware_profile),
    );
    workload_diffs(&mut m, b, c);
    diff(
        &mut m,
        "key.tokenizer",
        show(&b.key.tokenizer),
        show(&c.key.tokenizer),
    );
    diff(
        &mut m,
        "context.api",
        show(&b.context.api),
        show(&c.context.api),
    );
    diff(
        &mut m,
        "metrics_version",
        b.metrics_version.to_string(),
        c.metrics_version.to_string(),
    );
    let (bm, cm) = (
        tool_major(&b.context.tool_version),
        tool_major(&c.context.tool_version),
    );
    if bm != cm {
        m.push(FieldDiff {
            field: "context.tool_version".into(),
            baseline: format!("{} (major {bm})", show(&b.context.tool_version)),
            candidate: format!("{} (major {cm})", show(&c.context.tool_version)),
        });
    }
    diff(
        &mut m,
        "context.streaming",
        b.context.streaming.to_string(),
        c.context.streaming.to_string(),
    );

    let mut changes = Vec::new();
    diff(
        &mut changes,
        "key.serving_image",
        show(&b.key.serving_image),
        show(&c.key.serving_image),
    );
    diff(
        &mut changes,
        "key.model_version",
        show(&b.key.model_version),
        show(&c.key.model_version),
    );
    diff(
        &mut changes,
        "context.engine_flags",
        show_opt(b.context.engine_flags.as_deref()),
        show_opt(c.context.engine_flags.as_deref()),
    );

    diff(
        &mut warnings,
        "context.runner_host",
        show(&b.context.runner_host),
        show(&c.context.runner_host),
    );
    diff(
        &mut warnings,
        "context.endpoint_kind",
        show(&b.context.endpoint_kind),
        show(&c.context.endpoint_kind),
    );
    let keys: BTreeSet<&String> = b.context.meta.keys().chain(c.context.meta.keys()).collect();
    for k in keys {
        let get = |x: &Bundle| {
            x.context
                .meta
                .get(k)
                .map(|v| show(v))
                .unwrap_or_else(|| "(absent)".into())
        };
        diff(&mut warnings, &format!("context.meta.{k}"), get(b), get(c));
    }

    let unusable = if !b.context.complete {
        Some(format!(
            "incomplete run (context.complete is false: {})",
            b.context
                .incomplete_reason
                .as_deref()
                .unwrap_or("no reason recorded")
        ))
    } else if !b.context.validity.is_valid() {
        let kinds: Vec<&str> = b
            .context
            .validity
            .problems
            .iter()
            .map(|p| p.kind.as_str())
            .collect();
        Some(format!(
            "invalid run ({}: context.validity.problems)",
            kinds.join(", ")
        ))
    } else if b.metrics.requests.succeeded == 0 {
        Some(format!(
            "no successful requests (attempted {}, failed {})",
            b.metrics.requests.attempted, b.metrics.requests.failed
        ))
    } else {
        None
    };
    Comparability {
        mismatches: m,
        changes,
        warnings,
        unusable,
    }
}

/// Resolve with the default number of pooled runs ([`DEFAULT_KEEP`]).
pub fn resolve(
    candidate: &Bundle,
    source: &BaselineSource,
    now: SystemTime,
) -> Result<Resolution, BaselineError> {
    resolve_with_keep(candidate, source, now, DEFAULT_KEEP)
}

/// [`resolve`] under `policy` (`--allow-imported`).
pub fn resolve_with_policy(
    candidate: &Bundle,
    source: &BaselineSource,
    now: SystemTime,
    policy: ComparePolicy,
) -> Result<Resolution, BaselineError> {
    resolve_loaded(candidate, load(source)?, now, DEFAULT_KEEP, policy)
}

struct Candidate {
    set: BaselineSet,
    comps: Vec<Comparability>,
    /// When its newest comparable run entered the set (`None`: unknown).
    newest: Option<Timestamp>,
}

fn push_unique(out: &mut Vec<FieldDiff>, d: FieldDiff) {
    if !out
        .iter()
        .any(|e| e.field == d.field && e.baseline == d.baseline)
    {
        out.push(d);
    }
}

/// Find the stored set `candidate` is compared with: among comparable sets,
/// the one with the candidate's full key if present, else the most recently
/// promoted one; its comparable runs, newest first, at most `keep`. Every
/// other set is listed in `refused` with the reason.
pub fn resolve_with_keep(
    candidate: &Bundle,
    source: &BaselineSource,
    now: SystemTime,
    keep: usize,
) -> Result<Resolution, BaselineError> {
    resolve_loaded(
        candidate,
        load(source)?,
        now,
        keep,
        ComparePolicy::default(),
    )
}

/// [`resolve_with_keep`] over baselines already read, so a command that
/// reads them before it measures (`check`) reads them once.
pub(crate) fn resolve_loaded(
    candidate: &Bundle,
    loaded: Loaded,
    now: SystemTime,
    keep: usize,
    policy: ComparePolicy,
) -> Result<Resolution, BaselineError> {
    let mut refused = Vec::new();
    let mut comparable: Vec<Candidate> = Vec::new();

    for set in loaded.sets {
        let comps: Vec<Comparability> = set
            .runs
            .iter()
            .map(|r| comparability_with(&r.bundle, candidate, policy))
            .collect();
        if comps.iter().any(Comparability::is_comparable) {
            let mut runs = Vec::new();
            let mut kept = Vec::new();
            let mut run_refusals = Vec::new();
            for (run, comp) in set.runs.iter().zip(comps) {
                if comp.is_comparable() {
                    runs.push(run.clone());
                    kept.push(comp);
                } else {
                    run_refusals.push(Refusal {
                        location: run.location.clone(),
                        workload: run.bundle.context.workload_name.clone(),
                        reasons: comp.mismatches,
                        note: Some(match comp.unusable {
                            Some(u) => format!("run left out of its set: {u}"),
                            None => "run left out of its set".into(),
                        }),
                    });
                }
            }
            let newest = runs.first().and_then(StoredRun::order_time);
            let key = runs
                .first()
                .map(|r| r.bundle.key.clone())
                .unwrap_or_else(|| set.key.clone());
            refused.extend(run_refusals);
            comparable.push(Candidate {
                set: BaselineSet {
                    location: set.location,
                    key,
                    runs,
                    calibration: set.calibration,
                },
                comps: kept,
                newest,
            });
        } else {
            let mut reasons = Vec::new();
            let mut notes = BTreeSet::new();
            for c in comps {
                for d in c.mismatches {
                    if !reasons.contains(&d) {
                        reasons.push(d);
                    }
                }
                if let Some(u) = c.unusable {
                    notes.insert(u);
                }
            }
            refused.push(Refusal {
                location: set.location,
                workload: set
                    .runs
                    .first()
                    .map(|r| r.bundle.context.workload_name.clone())
                    .unwrap_or_default(),
                reasons,
                note: (!notes.is_empty()).then(|| notes.into_iter().collect::<Vec<_>>().join("; ")),
            });
        }
    }

    // Prefer the candidate's own key; then the most recent promotion; the
    // location breaks ties so the choice never depends on load order.
    let best = comparable
        .iter()
        .enumerate()
        .max_by(|(_, a), (_, b)| {
            (a.set.key == candidate.key, a.newest)
                .cmp(&(b.set.key == candidate.key, b.newest))
                .then_with(|| b.set.location.cmp(&a.set.location))
        })
        .map(|(i, _)| i);

    let mut chosen = None;
    let mut change_under_test = Vec::new();
    let mut warnings = Vec::new();
    if let Some(i) = best {
        let Candidate {
            mut set,
            comps,
            newest,
        } = comparable.swap_remove(i);
        set.runs.truncate(keep.max(1));
        for c in comps.into_iter().take(set.runs.len()) {
            for d in c.changes {
                push_unique(&mut change_under_test, d);
            }
            for d in c.warnings {
                push_unique(&mut warnings, d);
            }
        }
        if let Some(w) = date_warning(&set.runs, now) {
            warnings.push(w);
        }
        let own_key = set.key == candidate.key;
        for other in comparable {
            let why = if own_key && other.set.key != candidate.key {
                "different key; the set with the candidate's own key is preferred".to_owned()
            } else {
                format!(
                    "older: newest run promoted {}, the chosen set's {}",
                    show_time(other.newest),
                    show_time(newest)
                )
            };
            refused.push(Refusal {
                location: other.set.location,
                workload: other
                    .set
                    .runs
                    .first()
                    .map(|r| r.bundle.context.workload_name.clone())
                    .unwrap_or_default(),
                reasons: Vec::new(),
                note: Some(format!("comparable but not chosen: {why}")),
            });
        }
        chosen = Some(set);
    }
    let calibration_refused = chosen
        .as_mut()
        .and_then(|set| refuse_calibration(set, candidate));
    Ok(Resolution {
        source: loaded.label,
        git_commit: loaded.commit,
        candidate_workload: candidate.context.workload_name.clone(),
        chosen,
        change_under_test,
        warnings,
        refused,
        calibration_refused,
    })
}

/// Drop the chosen set's calibration when it describes another setup than
/// the candidate's (other hardware, tokenizer, workload, API, metrics or
/// tool major version): noise measured elsewhere says nothing about this
/// run. Returns the warning saying why.
fn refuse_calibration(set: &mut BaselineSet, candidate: &Bundle) -> Option<String> {
    let diffs = set.calibration.as_ref()?.mismatches(candidate);
    if diffs.is_empty() {
        return None;
    }
    set.calibration = None;
    let why: Vec<String> = diffs
        .iter()
        .map(|d| {
            format!(
                "{}: calibrated {}, this run {}",
                d.field,
                show(&d.baseline),
                show(&d.candidate)
            )
        })
        .collect();
    Some(format!(
        "calibration {}{} not used: it was measured on another setup ({}); run `tokengate calibrate` on this one",
        set.location,
        super::calibration::CALIBRATION_FILE,
        why.join("; ")
    ))
}

fn show_time(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "at an unknown time".into(), format_rfc3339)
}

/// Warn when the oldest pooled run started more than [`DATE_WARN_DAYS`]
/// before `now` (endpoints and drivers drift; an old bar may be stale).
fn date_warning(runs: &[StoredRun], now: SystemTime) -> Option<FieldDiff> {
    let now = timestamp(now);
    // A run whose start is not an RFC 3339 time counts as the oldest.
    let oldest = runs.iter().min_by_key(|r| r.started_at)?;
    let started = &oldest.bundle.context.started_at;
    match oldest.started_at {
        Some(t) => {
            // Whole days elapsed (the age of a run started in the future is
            // negative and never warns).
            let days = (now - t).num_days();
            (days > DATE_WARN_DAYS).then(|| FieldDiff {
                field: "date".into(),
                baseline: format!("{started} ({days} days old, over {DATE_WARN_DAYS})"),
                candidate: format_rfc3339(now),
            })
        }
        None => Some(FieldDiff {
            field: "context.started_at".into(),
            baseline: format!("{} (not an RFC 3339 time; age unknown)", show(started)),
            candidate: format_rfc3339(now),
        }),
    }
}

impl Resolution {
    /// Why there is no baseline to compare with (`None` when one was chosen).
    pub fn skip_reason(&self) -> Option<String> {
        if self.chosen.is_some() {
            return None;
        }
        let w = &self.candidate_workload;
        let relevant: Vec<&Refusal> = self.refused.iter().filter(|r| &r.workload == w).collect();
        if relevant.is_empty() {
            let others = if self.refused.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} stored sets are for other workloads)",
                    self.refused.len()
                )
            };
            return Some(format!(
                "no baseline stored for workload `{w}` in {}{others}",
                self.source
            ));
        }
        // Group sets refused for the same reasons, so ten sets on other
        // hardware read as one sentence, not ten.
        let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
        for r in &relevant {
            let mut parts: Vec<String> = r.reasons.iter().map(FieldDiff::describe).collect();
            if let Some(n) = &r.note {
                parts.push(n.clone());
            }
            let text = parts.join("; ");
            match groups.iter_mut().find(|(t, _)| *t == text) {
                Some((_, locs)) => locs.push(&r.location),
                None => groups.push((text, vec![&r.location])),
            }
        }
        let per_set: Vec<String> = if groups.len() == 1 {
            groups.into_iter().map(|(t, _)| t).collect()
        } else {
            groups
                .into_iter()
                .map(|(t, locs)| match locs.len() {
                    1 => format!("{}: {t}", locs[0]),
                    n => format!("{} and {} more: {t}", locs[0], n - 1),
                })
                .collect()
        };
        Some(format!("no comparable baseline: {}", per_set.join(" | ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_major_follows_cargo_semver() {
        assert_eq!(tool_major("1.4.2"), "1");
        assert_eq!(tool_major("v2.0.0-rc.1"), "2");
        assert_eq!(tool_major("0.1.9"), "0.1");
        assert_eq!(tool_major("0.2.0+build"), "0.2");
        assert_eq!(tool_major(""), "unknown");
        assert_eq!(tool_major("dev"), "dev");
        assert_ne!(tool_major("0.1.0"), tool_major("0.2.0"));
        assert_eq!(tool_major("1.0.0"), tool_major("1.9.3"));
    }

    fn imported(tool: &str, version: &str) -> Bundle {
        let mut b = crate::test_support::committed_quickstart_run();
        b.context.imported = Some(crate::bundle::ImportInfo {
            tool: tool.into(),
            version: Some(version.into()),
            file: "result.json".into(),
            file_digest: "0".repeat(64),
            per_request: true,
            absent: Vec::new(),
        });
        b
    }

    fn fields(d: &[FieldDiff]) -> Vec<&str> {
        d.iter().map(|d| d.field.as_str()).collect()
    }

    #[test]
    fn imported_and_native_bundles_are_incomparable_unless_allowed() {
        let native = crate::test_support::committed_quickstart_run();
        let vllm = imported("vllm", "0.32.0");
        let c = comparability(&native, &vllm);
        assert_eq!(fields(&c.mismatches), [IMPORTED_FIELD]);
        assert_eq!(c.mismatches[0].baseline, "tokengate (native)");
        assert_eq!(c.mismatches[0].candidate, "vllm 0.32.0 (imported)");
        // Other tools are kept apart too, in both directions.
        let other = imported("guidellm", "0.8.1");
        assert_eq!(
            fields(&comparability(&other, &vllm).mismatches),
            [IMPORTED_FIELD]
        );
        assert_eq!(
            fields(&comparability(&vllm, &native).mismatches),
            [IMPORTED_FIELD]
        );

        let allow = ComparePolicy {
            allow_imported: true,
        };
        let c = comparability_with(&native, &vllm, allow);
        assert!(c.is_comparable(), "{c:?}");
        assert!(fields(&c.warnings).contains(&IMPORTED_FIELD));
    }

    #[test]
    fn two_versions_of_one_importing_tool_only_warn() {
        let c = comparability(&imported("vllm", "0.31.0"), &imported("vllm", "0.32.0"));
        assert!(c.is_comparable(), "{c:?}");
        assert_eq!(fields(&c.warnings), ["context.imported.version"]);
        let same = comparability(&imported("vllm", "0.32.0"), &imported("vllm", "0.32.0"));
        assert!(same.warnings.is_empty());
    }
}
