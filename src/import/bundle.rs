//! The common half of every import: read the file (bounded), let the
//! format's parser turn it into [`Imported`], and map that into a bundle.
//! Per-request records go through the same [`Recorder`] as a native run, so
//! quantiles (Hyndman & Fan definition 7 over exact samples; HDR for ITL),
//! histograms, samples and throughputs are computed exactly as for a run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::ImportError;
use super::format::ImportFormat;
use super::json::Doc;
use crate::bundle::{
    Bundle, BundleKey, ClientInfo, Context, ImportInfo, LoadInfo, METRICS_VERSION, SCHEMA_VERSION,
    Validity, hex_sha256,
};
use crate::client::{Outcome, Phase, RequestRecord, TokenSource};
use crate::fsutil::{MAX_DATA_BYTES, read_bounded};
use crate::metrics::Recorder;
use crate::workload::Slo;
use crate::workload::apply_key_overrides;

/// Reads an environment variable (the process's, or a test's).
pub type EnvLookup = std::sync::Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What `tokengate import` was asked to do.
pub struct ImportOptions {
    pub format: ImportFormat,
    pub file: PathBuf,
    /// `--meta KEY=VALUE`: key fields (`model_version`, `serving_image`,
    /// `hardware_profile`, `tokenizer`), `engine_flags`, or free metadata.
    pub meta: Vec<(String, String)>,
    /// `--workload`: the workload name to store the bundle under.
    pub workload: Option<String>,
    /// `--tool-version`: the measuring tool's version when its file does
    /// not record it.
    pub tool_version: Option<String>,
    /// The environment (`TOKENGATE_MODEL_VERSION`, …), as for `run`.
    pub env: EnvLookup,
}

/// What a format's parser read from the tool's file.
pub(super) struct Imported {
    /// The tool's version, when the file records it.
    pub version: Option<String>,
    /// `chat` or `completions`; empty when the file does not say.
    pub api: &'static str,
    /// Model name the tool sent.
    pub model: String,
    /// The tool's tokenizer, the key's default `tokenizer`.
    pub tokenizer: String,
    pub streaming: bool,
    /// The digest's inputs in words (`context.workload_shape`).
    pub shape: BTreeMap<String, String>,
    pub load: LoadInfo,
    /// One record per request, in completion order.
    pub records: Vec<RequestRecord>,
    /// What the bundle needs and the file lacks (`context.imported.absent`).
    pub absent: Vec<String>,
    pub warnings: Vec<String>,
    /// When the tool's measurement started and ended, when the file says
    /// in a known clock (epoch seconds).
    pub started_at: Option<std::time::SystemTime>,
    pub ended_at: Option<std::time::SystemTime>,
    /// A summary-only file (k6): its metrics as they are, no records.
    pub summary: Option<Summary>,
}

/// The metrics of a summary-only file, mapped directly.
pub(super) struct Summary {
    pub metrics: crate::bundle::Metrics,
    pub window_s: f64,
}

/// Read `opts.file` as `opts.format` and build its bundle.
pub fn import_file(opts: &ImportOptions) -> Result<Bundle, ImportError> {
    let path = opts.file.as_path();
    let bytes = read_bounded(path, MAX_DATA_BYTES).map_err(|source| ImportError::Read {
        path: path.to_owned(),
        source,
    })?;
    let doc = Doc { path };
    let json = || -> Result<serde_json::Value, ImportError> {
        serde_json::from_slice(&bytes).map_err(|e| ImportError::NotJson {
            path: path.to_owned(),
            detail: e.to_string(),
            expected: opts.format.expected_file(),
        })
    };
    let imported = match opts.format {
        ImportFormat::Vllm => super::vllm::parse(&doc, &json()?)?,
        ImportFormat::Guidellm => super::guidellm::parse(&doc, &json()?)?,
        ImportFormat::Aiperf => super::aiperf::parse(&doc, &bytes)?,
        ImportFormat::K6 => super::k6::parse(&doc, &json()?)?,
    };
    Ok(assemble(opts, path, &bytes, imported))
}

/// A request of another tool's file as the recorder takes it: one attempt,
/// sent when scheduled, no TTFB, no finish reason or quality check, one
/// byte per recorded event; the caller fills in what the file measured
/// (`ttft`, `event_offsets_us`, tokens) with struct update syntax.
pub(super) fn imported_record(
    index: u64,
    phase: Phase,
    sent_at: Duration,
    e2e: Duration,
    outcome: Outcome,
) -> RequestRecord {
    RequestRecord {
        index,
        class: 0,
        phase,
        attempts: 1,
        scheduled_at: sent_at,
        sent_at,
        ttfb: None,
        ttft: None,
        e2e,
        event_offsets_us: Vec::new(),
        event_bytes: Vec::new(),
        output_tokens: 0,
        token_source: TokenSource::Usage,
        usage_refused: false,
        input_tokens: 0,
        finish_reason: None,
        quality_pass: None,
        retry_after: None,
        outcome,
    }
}

fn assemble(opts: &ImportOptions, path: &Path, bytes: &[u8], mut imp: Imported) -> Bundle {
    // The recorder sees requests in completion order, as in a native run.
    imp.records.sort_by_key(|r| (r.sent_at + r.e2e, r.index));
    let mut rec = Recorder::new(Slo::default(), None, None, imp.records.len());
    for r in &imp.records {
        rec.record(r);
    }
    let mut recorded = rec.finish();
    let per_request = imp.summary.is_none();
    if let Some(s) = imp.summary.take() {
        recorded.metrics = s.metrics;
        recorded.window = std::time::Duration::try_from_secs_f64(s.window_s).unwrap_or_default();
        recorded.histograms = Default::default();
    }
    let (key, engine_flags, meta) = labels(opts, &imp);
    let digest = {
        let mut text = String::from("tokengate import digest v1\n");
        for (k, v) in &imp.shape {
            text.push_str(&format!("{k}={v}\n"));
        }
        hex_sha256(text.as_bytes())
    };
    let token_sources = recorded.token_sources.clone();
    let token_source = match token_sources.len() {
        0 if !per_request => "none".to_owned(),
        0 => "usage".to_owned(),
        1 => token_sources.keys().next().cloned().unwrap_or_default(),
        _ => "mixed".to_owned(),
    };
    let version = imp.version.clone().or_else(|| opts.tool_version.clone());
    let mut warnings = imp.warnings;
    warnings.push(format!(
        "imported from {} {}: numbers measured by that tool, mapped as docs/import.md says",
        opts.format.tool(),
        version.as_deref().unwrap_or("(version unknown)")
    ));
    let context = Context {
        workload_name: opts
            .workload
            .clone()
            .unwrap_or_else(|| opts.format.default_workload().to_owned()),
        workload_digest: digest,
        workload_shape: imp.shape,
        endpoint_kind: "http".into(),
        endpoint: String::new(),
        api: imp.api.into(),
        model: imp.model,
        streaming: imp.streaming,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        git: None,
        ci_run_url: None,
        runner_host: String::new(),
        started_at: imp
            .started_at
            .map(crate::timefmt::rfc3339)
            .unwrap_or_default(),
        ended_at: imp
            .ended_at
            .map(crate::timefmt::rfc3339)
            .unwrap_or_default(),
        window_s: (recorded.window.as_secs_f64() * 1e3).round() / 1e3,
        complete: true,
        incomplete_reason: None,
        token_source,
        token_sources,
        load: imp.load,
        seed: 0,
        engine_flags,
        meta,
        client: ClientInfo::default(),
        warnings,
        validity: Validity {
            checked: vec![format!(
                "imported from {}: tokengate's validity checks need its own measurement and were not run",
                opts.format.tool()
            )],
            ..Validity::default()
        },
        ab: None,
        shard: None,
        merged: None,
        imported: Some(ImportInfo {
            tool: opts.format.tool().into(),
            version,
            file: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            file_digest: hex_sha256(bytes),
            per_request,
            absent: imp.absent,
        }),
    };
    Bundle {
        schema_version: SCHEMA_VERSION,
        metrics_version: METRICS_VERSION,
        key,
        context,
        metrics: recorded.metrics,
        histograms: recorded.histograms,
        samples: recorded.samples,
        server: None,
        sweep: None,
        soak: None,
        repeats: Vec::new(),
    }
}

/// Key fields, engine flags and free metadata as `run` takes them: the
/// environment (`TOKENGATE_*`), then `--meta` (the later wins); an empty
/// model version or tokenizer then defaults to the tool's own.
fn labels(
    opts: &ImportOptions,
    imp: &Imported,
) -> (BundleKey, Option<String>, BTreeMap<String, String>) {
    let mut key = BundleKey::default();
    let mut engine_flags = None;
    let mut meta = BTreeMap::new();
    apply_key_overrides(
        &mut key,
        &mut engine_flags,
        &mut meta,
        &*opts.env,
        &opts.meta,
    );
    if key.model_version.is_empty() {
        key.model_version = imp.model.clone();
    }
    if key.tokenizer.is_empty() {
        key.tokenizer = imp.tokenizer.clone();
    }
    (key, engine_flags, meta)
}
