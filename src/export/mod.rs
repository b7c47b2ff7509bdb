//! A bundle in other tools' formats (`tokengate export`): benchmark
//! dashboards (Bencher, github-action-benchmark), tables (CSV, JSON Lines)
//! and OpenMetrics. Every format reads its values from one table of
//! summary measures ([`measures`]), so they agree with each other and with
//! the bundle.

mod dashboards;
pub mod measures;
pub mod openmetrics;
mod tables;

use crate::bundle::Bundle;

/// An export format, by the name `--format` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// Bencher Metric Format JSON.
    Bmf,
    /// github-action-benchmark `customSmallerIsBetter` JSON.
    BenchmarkActionSmaller,
    /// github-action-benchmark `customBiggerIsBetter` JSON.
    BenchmarkActionBigger,
    /// Per-request samples, CSV with a header row.
    Csv,
    /// The summary measures, CSV with a header row.
    CsvSummary,
    /// Per-request samples, one JSON object per line.
    Jsonl,
    /// OpenMetrics text with the bundle key as labels.
    OpenMetrics,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 7] = [
        ExportFormat::Bmf,
        ExportFormat::BenchmarkActionSmaller,
        ExportFormat::BenchmarkActionBigger,
        ExportFormat::Csv,
        ExportFormat::CsvSummary,
        ExportFormat::Jsonl,
        ExportFormat::OpenMetrics,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Bmf => "bmf",
            ExportFormat::BenchmarkActionSmaller => "benchmark-action-smaller",
            ExportFormat::BenchmarkActionBigger => "benchmark-action-bigger",
            ExportFormat::Csv => "csv",
            ExportFormat::CsvSummary => "csv-summary",
            ExportFormat::Jsonl => "jsonl",
            ExportFormat::OpenMetrics => "openmetrics",
        }
    }

    pub fn from_name(name: &str) -> Option<ExportFormat> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// Every name, for error messages and `--help`.
    pub fn names() -> String {
        Self::ALL.map(|f| f.as_str()).join(", ")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write CSV")]
    Csv(#[from] csv::Error),
    #[error("cannot write JSON")]
    Json(#[from] serde_json::Error),
}

/// The bundle in `format`, as the bytes of the file.
pub fn render(bundle: &Bundle, format: ExportFormat) -> Result<Vec<u8>, ExportError> {
    let json = |v: serde_json::Value| -> Result<Vec<u8>, ExportError> {
        let mut b = serde_json::to_vec_pretty(&v)?;
        b.push(b'\n');
        Ok(b)
    };
    match format {
        ExportFormat::Bmf => json(dashboards::bmf(bundle)),
        ExportFormat::BenchmarkActionSmaller => json(dashboards::benchmark_action(
            bundle,
            measures::Better::Smaller,
        )),
        ExportFormat::BenchmarkActionBigger => json(dashboards::benchmark_action(
            bundle,
            measures::Better::Bigger,
        )),
        ExportFormat::Csv => Ok(tables::requests_csv(bundle)?),
        ExportFormat::CsvSummary => Ok(tables::summary_csv(bundle)?),
        ExportFormat::Jsonl => Ok(tables::requests_jsonl(bundle)?),
        ExportFormat::OpenMetrics => {
            Ok(openmetrics::render(bundle, openmetrics::Labels::Key).into_bytes())
        }
    }
}
