//! `tokengate merge SHARD.json… --out BUNDLE.json`: the shard bundles of a
//! run split with `--shard I/N` joined into one bundle that gates, promotes
//! and reports like any other.
//!
//! Refused, naming the file and the field, with nothing written: a file that
//! is no shard bundle; shards of another run (key, workload name or digest,
//! load, tool, schema or metrics version, shard count); a shard index given
//! twice; a missing index (unless `--allow-incomplete`, which marks the
//! result incomplete); windows that overlap by less than `--min-overlap` of
//! the shortest one (a clock off, or a shard started late).
//!
//! The merged bundle: metrics recomputed from the pooled samples and the
//! added histograms (`crate::metrics::pool`), samples concatenated with
//! their shard in `samples.shard`, the context of the lowest shard with the
//! union window, every shard's warnings and validity findings naming their
//! shards, the client saturated if any shard's was, and the lowest shard's
//! server telemetry (every shard scraped the one server over about the same
//! window; `context.merged.telemetry_from` says which).

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::outcome::{CommandOptions, Outcome};
use super::repeat::{Parts, grouped, pooled_validity};
use super::run::{round3, token_source_of};
use crate::bundle::{Bundle, MergeInfo, MergedShard, ShardInfo, digest_of_file, read_bundle};
use crate::metrics::pool::{Part, pool};

/// The default least overlap of the shards' windows, as a share of the
/// shortest: a shard whose window lies a tenth outside the others' measured
/// a different load for that tenth.
pub const DEFAULT_MIN_OVERLAP: f64 = 0.9;

/// Most shard files one merge reads (as many as shards can exist).
pub const MAX_MERGE_FILES: usize = crate::workload::shard::MAX_SHARDS as usize;

pub struct MergeOptions {
    pub shards: Vec<PathBuf>,
    pub out: PathBuf,
    pub allow_incomplete: bool,
    pub min_overlap: f64,
}

impl CommandOptions for MergeOptions {}

/// Why shards could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error(
        "{path}: field `context.shard` is missing: not a shard bundle (write shards with `tokengate run --shard I/N`)"
    )]
    NotAShard { path: PathBuf },
    #[error("{path}: field `{field}` is set: a {what} bundle cannot be merged as a shard")]
    Unsupported {
        path: PathBuf,
        field: &'static str,
        what: &'static str,
    },
    #[error(
        "{path}: field `{field}` is {found}, but {first} has {expected}: not a shard of the same run"
    )]
    Foreign {
        path: PathBuf,
        field: String,
        found: String,
        first: PathBuf,
        expected: String,
    },
    #[error(
        "{path}: field `context.shard.index` is {index}, which {other} has too: shard {index} was given twice"
    )]
    Duplicate {
        path: PathBuf,
        index: u32,
        other: PathBuf,
    },
    #[error(
        "shard(s) {missing} of {total} missing (given: {given}); pass every shard, or --allow-incomplete to merge them marked incomplete"
    )]
    Missing {
        missing: String,
        total: u32,
        given: String,
    },
    #[error(
        "{path}: field `context.shard.index`/`total` is {index}/{total}, expected 1 ≤ index ≤ total ≤ {max}"
    )]
    BadNumbers {
        path: PathBuf,
        index: u32,
        total: u32,
        max: u32,
    },
    #[error("{path}: field `context.shard.{field}` is `{found}`, expected an RFC 3339 time")]
    BadTime {
        path: PathBuf,
        field: &'static str,
        found: String,
    },
    #[error(
        "{path}: field `context.shard.window_started_at`/`window_ended_at`: its window {start} – {end} overlaps the other shards' by {overlap:.1} % of the shortest window, less than --min-overlap {min:.1} % (are the hosts' clocks synchronized? start the shards with --start-at)"
    )]
    Skewed {
        path: PathBuf,
        start: String,
        end: String,
        overlap: f64,
        min: f64,
    },
    #[error("--min-overlap {0}: expected a share from 0 to 1 (e.g. `0.9` or `90%`)")]
    MinOverlap(f64),
    #[error("{given} shard files given, expected 1 to {MAX_MERGE_FILES}")]
    Count { given: usize },
}

/// A shard bundle as read, with its file.
struct ShardFile {
    path: PathBuf,
    sha256: String,
    bundle: Bundle,
    shard: ShardInfo,
    /// Window start and end, µs since the Unix epoch.
    window_us: (i64, i64),
}

pub async fn run(opts: MergeOptions) -> anyhow::Result<Outcome> {
    let bundle = merge_files(&opts)?;
    crate::bundle::write_bundle(&bundle, &opts.out)
        .with_context(|| format!("cannot write the merged bundle {}", opts.out.display()))?;
    let mut out = Outcome::default();
    out.stdout
        .push_str(&super::summary::render_summary(&bundle, &opts.out));
    if let Some(m) = &bundle.context.merged {
        out.line(&format!(
            "merged {} of {} shards, windows overlapping {:.1} %",
            m.shards.len(),
            m.total,
            m.overlap * 100.0
        ));
        if !m.missing.is_empty() {
            out.notes.push(format!(
                "shard(s) {} missing: {} is marked incomplete",
                join(&m.missing),
                opts.out.display()
            ));
        }
    }
    out.files.push(opts.out.clone());
    Ok(out)
}

/// Read, check and merge the shard files; nothing is written.
pub fn merge_files(opts: &MergeOptions) -> Result<Bundle, anyhow::Error> {
    if !(0.0..=1.0).contains(&opts.min_overlap) {
        return Err(MergeError::MinOverlap(opts.min_overlap).into());
    }
    if opts.shards.is_empty() || opts.shards.len() > MAX_MERGE_FILES {
        return Err(MergeError::Count {
            given: opts.shards.len(),
        }
        .into());
    }
    let mut files = Vec::with_capacity(opts.shards.len());
    for path in &opts.shards {
        files.push(read_shard(path)?);
    }
    check_same_run(&files)?;
    files.sort_by_key(|f| f.shard.index);
    for pair in files.windows(2) {
        if pair[0].shard.index == pair[1].shard.index {
            return Err(MergeError::Duplicate {
                path: pair[1].path.clone(),
                index: pair[1].shard.index,
                other: pair[0].path.clone(),
            }
            .into());
        }
    }
    let total = files[0].shard.total;
    let given: Vec<u32> = files.iter().map(|f| f.shard.index).collect();
    let missing: Vec<u32> = (1..=total).filter(|i| !given.contains(i)).collect();
    if !missing.is_empty() && !opts.allow_incomplete {
        return Err(MergeError::Missing {
            missing: join(&missing),
            total,
            given: join(&given),
        }
        .into());
    }
    let overlap = check_overlap(&files, opts.min_overlap)?;
    merged_bundle(&files, total, missing, overlap, opts.min_overlap)
}

fn join(v: &[u32]) -> String {
    v.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn read_shard(path: &Path) -> anyhow::Result<ShardFile> {
    let bundle = read_bundle(path)?;
    let sha256 = digest_of_file(path)?;
    let unsupported = |field, what| MergeError::Unsupported {
        path: path.to_owned(),
        field,
        what,
    };
    if bundle.context.merged.is_some() {
        return Err(unsupported("context.merged", "merged").into());
    }
    if bundle.sweep.is_some() {
        return Err(unsupported("sweep", "sweep").into());
    }
    if bundle.soak.is_some() {
        return Err(unsupported("soak", "soak").into());
    }
    if !bundle.repeats.is_empty() {
        return Err(unsupported("repeats", "--repeat").into());
    }
    let shard = bundle
        .context
        .shard
        .clone()
        .ok_or_else(|| MergeError::NotAShard {
            path: path.to_owned(),
        })?;
    // The numbers come from a file: checked before they size anything.
    let max = crate::workload::shard::MAX_SHARDS;
    if !(1 <= shard.index && shard.index <= shard.total && shard.total <= max) {
        return Err(MergeError::BadNumbers {
            path: path.to_owned(),
            index: shard.index,
            total: shard.total,
            max,
        }
        .into());
    }
    let time = |field: &'static str, text: &str| {
        crate::timefmt::parse_rfc3339(text)
            .map(|t| t.timestamp_micros())
            .map_err(|_| MergeError::BadTime {
                path: path.to_owned(),
                field,
                found: text.chars().take(40).collect(),
            })
    };
    let start = time("window_started_at", &shard.window_started_at)?;
    let end = time("window_ended_at", &shard.window_ended_at)?;
    Ok(ShardFile {
        path: path.to_owned(),
        sha256,
        bundle,
        shard,
        window_us: (start, end.max(start)),
    })
}

/// Every file against the first: the same run, split the same way.
fn check_same_run(files: &[ShardFile]) -> Result<(), MergeError> {
    let first = &files[0];
    let fields = |f: &ShardFile| -> Vec<(String, String)> {
        let (b, c) = (&f.bundle, &f.bundle.context);
        let k = &b.key;
        vec![
            ("schema_version".into(), b.schema_version.to_string()),
            ("metrics_version".into(), b.metrics_version.to_string()),
            ("context.tool_version".into(), c.tool_version.clone()),
            ("key.model_version".into(), k.model_version.clone()),
            ("key.serving_image".into(), k.serving_image.clone()),
            ("key.hardware_profile".into(), k.hardware_profile.clone()),
            ("key.tokenizer".into(), k.tokenizer.clone()),
            ("context.workload_name".into(), c.workload_name.clone()),
            ("context.workload_digest".into(), c.workload_digest.clone()),
            (
                "context.load".into(),
                format!("{:?}", load_without_warmup(b)),
            ),
            ("context.seed".into(), c.seed.to_string()),
            ("context.shard.total".into(), f.shard.total.to_string()),
        ]
    };
    let expected = fields(first);
    for f in &files[1..] {
        for ((field, found), (_, want)) in fields(f).into_iter().zip(&expected) {
            if &found != want {
                return Err(MergeError::Foreign {
                    path: f.path.clone(),
                    field,
                    found: quote(&found),
                    first: first.path.clone(),
                    expected: quote(want),
                });
            }
        }
    }
    Ok(())
}

/// The load shape without the warm-up count, which each shard measures
/// for its own part.
fn load_without_warmup(b: &Bundle) -> crate::bundle::LoadInfo {
    crate::bundle::LoadInfo {
        warmup_requests: 0,
        ..b.context.load.clone()
    }
}

/// Foreign text (key values come from the environment) shortened and
/// quoted; the outcome's printer neutralises control characters.
fn quote(s: &str) -> String {
    let short: String = s.chars().take(80).collect();
    if short.len() < s.len() {
        format!("`{short}…`")
    } else {
        format!("`{short}`")
    }
}

/// The windows' intersection over the shortest window; refused below
/// `min`, naming the shard whose window lies farthest from the others'
/// (the latest start or the earliest end that bounds the intersection).
fn check_overlap(files: &[ShardFile], min: f64) -> Result<f64, MergeError> {
    let latest_start = files.iter().max_by_key(|f| f.window_us.0);
    let earliest_end = files.iter().min_by_key(|f| f.window_us.1);
    let (Some(ls), Some(ee)) = (latest_start, earliest_end) else {
        return Ok(1.0);
    };
    let shortest = files
        .iter()
        .map(|f| f.window_us.1 - f.window_us.0)
        .min()
        .unwrap_or(0);
    let common = (ee.window_us.1 - ls.window_us.0).max(0);
    let overlap = if shortest > 0 {
        (common as f64 / shortest as f64).min(1.0)
    } else {
        1.0
    };
    if overlap + 1e-12 < min {
        // The outlier: the shard whose edge is farther from the median edge.
        let mut starts: Vec<i64> = files.iter().map(|f| f.window_us.0).collect();
        let mut ends: Vec<i64> = files.iter().map(|f| f.window_us.1).collect();
        starts.sort_unstable();
        ends.sort_unstable();
        let (mid_start, mid_end) = (starts[starts.len() / 2], ends[ends.len() / 2]);
        let off = if (ls.window_us.0 - mid_start).abs() >= (mid_end - ee.window_us.1).abs() {
            ls
        } else {
            ee
        };
        return Err(MergeError::Skewed {
            path: off.path.clone(),
            start: off.shard.window_started_at.clone(),
            end: off.shard.window_ended_at.clone(),
            overlap: overlap * 100.0,
            min: min * 100.0,
        });
    }
    Ok(round3(overlap))
}

fn merged_bundle(
    files: &[ShardFile],
    total: u32,
    missing: Vec<u32>,
    overlap: f64,
    min_overlap: f64,
) -> anyhow::Result<Bundle> {
    let union_start = files.iter().map(|f| f.window_us.0).min().unwrap_or(0);
    let union_end = files.iter().map(|f| f.window_us.1).max().unwrap_or(0);
    let union_s = (union_end - union_start).max(0) as f64 / 1e6;
    let parts: Vec<Part> = files
        .iter()
        .map(|f| Part {
            bundle: &f.bundle,
            number: u16::try_from(f.shard.index).unwrap_or(u16::MAX),
            offset_us: u64::try_from(f.window_us.0 - union_start).unwrap_or(0),
        })
        .collect();
    let (mut metrics, histograms, samples) = pool(&parts, union_s)?;
    let bundles: Vec<&Bundle> = files.iter().map(|f| &f.bundle).collect();
    let numbers: Vec<usize> = files.iter().map(|f| f.shard.index as usize).collect();
    let shard_parts = Parts {
        noun: "shard",
        numbers: &numbers,
        total: total as usize,
    };
    let telemetry = files.iter().find(|f| f.bundle.server.is_some());
    metrics.queue_time_ms = telemetry.and_then(|f| f.bundle.metrics.queue_time_ms.clone());

    let mut bundle = files[0].bundle.clone();
    bundle.metrics = metrics;
    bundle.histograms = histograms;
    bundle.samples = samples;
    bundle.server = telemetry.and_then(|f| f.bundle.server.clone());
    let c = &mut bundle.context;
    c.started_at = bundles
        .iter()
        .map(|b| b.context.started_at.clone())
        .min()
        .unwrap_or_default();
    c.ended_at = bundles
        .iter()
        .map(|b| b.context.ended_at.clone())
        .max()
        .unwrap_or_default();
    c.window_s = round3(union_s);
    let mut hosts: Vec<String> = bundles
        .iter()
        .map(|b| b.context.runner_host.clone())
        .collect();
    hosts.sort();
    hosts.dedup();
    c.runner_host = hosts.join(",");
    let cut: Vec<String> = files
        .iter()
        .filter(|f| !f.bundle.context.complete)
        .map(|f| {
            format!(
                "shard {}: {}",
                f.shard.index,
                f.bundle
                    .context
                    .incomplete_reason
                    .as_deref()
                    .unwrap_or("incomplete")
            )
        })
        .collect();
    let mut reasons = cut;
    if !missing.is_empty() {
        reasons.push(format!(
            "shard(s) {} of {total} missing (merged with --allow-incomplete)",
            join(&missing)
        ));
    }
    c.complete = reasons.is_empty();
    c.incomplete_reason = (!reasons.is_empty()).then(|| reasons.join("; "));
    let mut sources = std::collections::BTreeMap::new();
    for b in &bundles {
        for (k, v) in &b.context.token_sources {
            *sources.entry(k.clone()).or_insert(0u64) += v;
        }
    }
    c.token_source = token_source_of(&sources);
    c.token_sources = sources;
    c.load.warmup_requests = bundle.metrics.requests.warmup;
    c.warnings = grouped(
        &bundles,
        shard_parts,
        |b| &b.context.warnings,
        |s| s.clone(),
        |label, w| format!("{label}: {w}"),
    );
    c.validity = pooled_validity(&bundles, shard_parts);
    let client = &mut c.client;
    let sum = |f: fn(&Bundle) -> f64| round3(bundles.iter().map(|b| f(b)).sum());
    let max = |f: fn(&Bundle) -> f64| bundles.iter().map(|b| f(b)).fold(0.0, f64::max);
    client.cpu_user_s = sum(|b| b.context.client.cpu_user_s);
    client.cpu_system_s = sum(|b| b.context.client.cpu_system_s);
    // Utilization and lag per load generator: the worst shard's, since
    // each ran on its own client.
    client.cpu_utilization = max(|b| b.context.client.cpu_utilization);
    client.cpu_per_request_us = max(|b| b.context.client.cpu_per_request_us);
    client.schedule_lag_p99_ms = max(|b| b.context.client.schedule_lag_p99_ms);
    client.schedule_lag_max_ms = max(|b| b.context.client.schedule_lag_max_ms);
    client.saturated = bundles.iter().any(|b| b.context.client.saturated);
    client.warnings = grouped(
        &bundles,
        shard_parts,
        |b| &b.context.client.warnings,
        |s| s.clone(),
        |label, w| format!("{label}: {w}"),
    );
    client.health = bundles
        .iter()
        .find(|b| b.context.client.saturated)
        .unwrap_or(&bundles[0])
        .context
        .client
        .health
        .clone();
    c.shard = None;
    c.merged = Some(MergeInfo {
        total,
        shards: files
            .iter()
            .map(|f| MergedShard {
                index: f.shard.index,
                file: f.path.display().to_string(),
                sha256: f.sha256.clone(),
                runner_host: f.bundle.context.runner_host.clone(),
                window_started_at: f.shard.window_started_at.clone(),
                window_ended_at: f.shard.window_ended_at.clone(),
                requests: f.bundle.metrics.requests.attempted,
                client_saturated: f.bundle.context.client.saturated,
            })
            .collect(),
        missing,
        overlap,
        min_overlap,
        telemetry_from: telemetry.map(|f| f.shard.index),
    });
    Ok(bundle)
}
