//! `tokengate import FORMAT FILE --out BUNDLE.json`: another tool's result
//! file as a bundle (`crate::import` parses and maps it), written
//! atomically, so it can be promoted and gated.

use anyhow::Context as _;

use super::outcome::{CommandOptions, Outcome};
use crate::bundle::write_bundle;
use crate::import::{ImportOptions, import_file};

/// `import`'s options: what to read and where the bundle goes.
pub struct ImportCommandOptions {
    pub import: ImportOptions,
    pub out: std::path::PathBuf,
}

impl CommandOptions for ImportCommandOptions {}

pub async fn run(opts: ImportCommandOptions) -> anyhow::Result<Outcome> {
    let bundle = import_file(&opts.import)?;
    if let Some(dir) = opts.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create directory {}", dir.display()))?;
    }
    write_bundle(&bundle, &opts.out)?;
    let m = &bundle.metrics;
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2} ms"));
    let mut out = Outcome::default();
    out.line(&format!(
        "import: {} ({} {}, {} requests: {} succeeded, {} failed; TTFT p50 {}, p95 {})",
        opts.out.display(),
        opts.import.format.as_str(),
        opts.import.file.display(),
        m.requests.attempted,
        m.requests.succeeded,
        m.requests.failed,
        ms(m.ttft_ms.p50),
        ms(m.ttft_ms.p95),
    ));
    out.files.push(opts.out);
    Ok(out)
}
