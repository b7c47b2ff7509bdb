//! The JSON verdict: the serialized [`GateReport`], pretty-printed with a
//! trailing newline, for approval tooling. Its version is
//! [`crate::gate::VERDICT_SCHEMA_VERSION`] (the report's `schema_version`,
//! kept with the type it versions) and its shape is [`verdict_json_schema`].

use super::render::{Renderer, ReportError};
use crate::gate::GateReport;

#[derive(Debug, Clone, Copy, Default)]
pub struct JsonRenderer;

impl Renderer for JsonRenderer {
    fn render(&self, report: &GateReport) -> Result<Vec<u8>, ReportError> {
        let mut out = serde_json::to_vec_pretty(report).map_err(ReportError::Json)?;
        out.push(b'\n');
        Ok(out)
    }
}

/// The JSON Schema of the verdict this renderer writes (draft 2020-12),
/// generated from [`GateReport`]'s types as they serialize (every field is
/// present; `null` where there is no value), so it cannot drift from them;
/// `schemas/verdict.schema.json` is the committed copy.
pub fn verdict_json_schema() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    let schema = generator.into_root_schema_for::<GateReport>();
    serde_json::to_value(&schema).unwrap_or(serde_json::Value::Null)
}
