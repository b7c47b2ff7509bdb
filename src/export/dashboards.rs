//! Benchmark-dashboard formats: Bencher Metric Format (BMF) and
//! github-action-benchmark's `customSmallerIsBetter` /
//! `customBiggerIsBetter` JSON.

use serde_json::{Map, Value, json};

use super::measures::{Better, Measure, Unit, summary};
use crate::bundle::Bundle;

/// The benchmark a bundle's measures belong to: its workload (the key
/// fields are what Bencher calls the branch and testbed, and what
/// github-action-benchmark keeps per data file).
fn benchmark_name(bundle: &Bundle) -> String {
    let w = bundle.context.workload_name.trim();
    if w.is_empty() {
        "tokengate".into()
    } else {
        w.to_owned()
    }
}

/// A measure's slug: kebab case with the unit where it is not in the name
/// (`ttft-p95-ms`, `output-tokens-per-s`, `error-rate`). Bencher limits a
/// slug to 64 characters; ours are under 32.
fn slug(m: &Measure) -> String {
    let base = m.id.replace('_', "-");
    match m.unit {
        Unit::Milliseconds => format!("{base}-ms"),
        _ => base,
    }
}

/// Bencher Metric Format: `{benchmark: {measure: {"value": v}}}`
/// (bencher.dev/docs/reference/bencher-metric-format). `lower_value` and
/// `upper_value` are left out: an interval from one run's requests alone
/// would leave out the run-to-run noise the gate models, and look tighter
/// than the truth.
pub fn bmf(bundle: &Bundle) -> Value {
    let mut measures = Map::new();
    for m in summary(bundle) {
        measures.insert(slug(&m), json!({ "value": m.value }));
    }
    let mut root = Map::new();
    root.insert(benchmark_name(bundle), Value::Object(measures));
    Value::Object(root)
}

/// github-action-benchmark's custom tool input: an array of
/// `{name, unit, value, extra}`; one file holds one direction, as the
/// action's `tool: customSmallerIsBetter` / `customBiggerIsBetter` says.
pub fn benchmark_action(bundle: &Bundle, better: Better) -> Value {
    let bench = benchmark_name(bundle);
    let k = &bundle.key;
    let extra = format!(
        "model_version: {}\nserving_image: {}\nhardware_profile: {}\ntokenizer: {}",
        k.model_version, k.serving_image, k.hardware_profile, k.tokenizer
    );
    Value::Array(
        summary(bundle)
            .into_iter()
            .filter(|m| m.better == better)
            .map(|m| {
                json!({
                    "name": format!("{bench} {}", m.id.replace('_', " ")),
                    "unit": m.unit.as_str(),
                    "value": m.value,
                    "extra": extra,
                })
            })
            .collect(),
    )
}
