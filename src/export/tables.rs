//! Tabular exports: per-request samples as CSV or JSON Lines, and the
//! summary measures as CSV.

use serde::Serialize;

use super::measures::summary;
use crate::bundle::Bundle;

/// One request of the measurement window, as the `csv` and `jsonl` formats
/// write it. Times in ms (µs precision), `None` where the bundle has none
/// (no first token, fewer than two tokens).
#[derive(Debug, Serialize)]
struct RequestRow<'a> {
    index: usize,
    /// The run of a `--repeat N` bundle (0 for a bundle of one run).
    run: u16,
    start_ms: Option<f64>,
    ttft_ms: Option<f64>,
    tpot_ms: Option<f64>,
    e2e_ms: Option<f64>,
    output_tokens: Option<u32>,
    input_tokens: Option<u32>,
    class: Option<u16>,
    attempts: Option<u32>,
    outcome: &'a str,
}

fn ms<T: Into<f64>>(us: T) -> f64 {
    us.into() / 1e3
}

/// The rows of the bundle's samples. A column shorter than `outcome` (a
/// hand-edited bundle) gives empty cells, not a panic.
fn rows(bundle: &Bundle) -> impl Iterator<Item = RequestRow<'_>> {
    let s = &bundle.samples;
    (0..s.len()).map(move |i| RequestRow {
        index: i,
        run: s.run.get(i).copied().unwrap_or(0),
        start_ms: s.start_us.get(i).map(|&v| v as f64 / 1e3),
        ttft_ms: s.ttft_us.get(i).copied().flatten().map(ms),
        tpot_ms: s.tpot_us.get(i).copied().flatten().map(ms),
        e2e_ms: s.e2e_us.get(i).copied().map(ms),
        output_tokens: s.output_tokens.get(i).copied(),
        input_tokens: s.input_tokens.get(i).copied(),
        class: s.class.get(i).copied(),
        attempts: s.attempts.get(i).copied(),
        outcome: s.outcome.get(i).map_or("", |o| o.as_str()),
    })
}

pub fn requests_csv(bundle: &Bundle) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows(bundle) {
        w.serialize(r)?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

pub fn requests_jsonl(bundle: &Bundle) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::new();
    for r in rows(bundle) {
        serde_json::to_writer(&mut out, &r)?;
        out.push(b'\n');
    }
    Ok(out)
}

#[derive(Debug, Serialize)]
struct SummaryRow<'a> {
    workload: String,
    model_version: String,
    serving_image: String,
    hardware_profile: String,
    tokenizer: String,
    measure: &'a str,
    unit: &'static str,
    better: &'static str,
    value: f64,
}

/// The summary measures, one row each, with the bundle key in every row so
/// files of several bundles concatenate into one table.
pub fn summary_csv(bundle: &Bundle) -> Result<Vec<u8>, csv::Error> {
    let k = &bundle.key;
    let mut w = csv::Writer::from_writer(Vec::new());
    for m in summary(bundle) {
        w.serialize(SummaryRow {
            workload: spreadsheet_safe(&bundle.context.workload_name),
            model_version: spreadsheet_safe(&k.model_version),
            serving_image: spreadsheet_safe(&k.serving_image),
            hardware_profile: spreadsheet_safe(&k.hardware_profile),
            tokenizer: spreadsheet_safe(&k.tokenizer),
            measure: &m.id,
            unit: m.unit.as_str(),
            better: m.better.as_str(),
            value: m.value,
        })?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// A text cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`,
/// tab or carriage return first: OWASP "CSV Injection") gets a leading `'`,
/// which spreadsheets show as text. Key values are user text.
fn spreadsheet_safe(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_like_key_values_are_quoted_for_spreadsheets() {
        assert_eq!(spreadsheet_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(spreadsheet_safe("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(spreadsheet_safe("vllm-0.6"), "vllm-0.6");
    }
}
