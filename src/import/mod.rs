//! Importing other benchmark tools' result files (vLLM's `bench serve`,
//! guidellm's `benchmarks.json`, AIPerf's `profile_export.jsonl`, k6's
//! `--summary-export`) as bundles
//! (`tokengate import FORMAT FILE`): one file per format parses the tool's
//! own file into `Imported` (per-request records, or a summary), and
//! `bundle.rs` maps that into a [`crate::bundle::Bundle`] with the recorder
//! that measures native runs, so quantiles, histograms and samples are
//! computed the same way. `docs/import.md` tables each tool's fields.

mod aiperf;
mod bundle;
mod error;
mod format;
mod guidellm;
mod json;
mod k6;
mod vllm;

pub use bundle::{ImportOptions, import_file};
pub use error::ImportError;
pub use format::ImportFormat;
