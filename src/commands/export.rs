//! `tokengate export`: write a bundle in another tool's format (Bencher,
//! github-action-benchmark, CSV, JSON Lines, OpenMetrics) to a file.
//! Files only, never stdout: an export carries key values and server
//! telemetry, foreign text that must not reach a CI log raw.

use std::path::PathBuf;

use anyhow::Context as _;

use super::outcome::{CommandOptions, Outcome};
use crate::bundle::read_bundle;
use crate::export::{ExportFormat, render};
use crate::fsutil::write_atomic;

pub struct ExportOptions {
    pub bundle: PathBuf,
    pub format: ExportFormat,
    pub out: PathBuf,
}

impl CommandOptions for ExportOptions {}

pub async fn run(opts: ExportOptions) -> anyhow::Result<Outcome> {
    let bundle = read_bundle(&opts.bundle)?;
    let bytes = render(&bundle, opts.format).with_context(|| {
        format!(
            "cannot export {} as {}",
            opts.bundle.display(),
            opts.format.as_str()
        )
    })?;
    if let Some(dir) = opts.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create directory {}", dir.display()))?;
    }
    write_atomic(&opts.out, &bytes)?;
    let mut out = Outcome::default();
    out.line(&format!(
        "export: {} ({}, {} bytes)",
        opts.out.display(),
        opts.format.as_str(),
        bytes.len()
    ));
    out.files.push(opts.out);
    Ok(out)
}
