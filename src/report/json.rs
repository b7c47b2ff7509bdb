//! The JSON verdict: the serialized [`GateReport`], pretty-printed with a
//! trailing newline, for approval tooling.

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
