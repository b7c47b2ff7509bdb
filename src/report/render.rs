//! The renderer trait shared by every report format, and its error type.

use std::path::PathBuf;

use crate::gate::GateReport;

/// Turns a gate report into the bytes of one format.
pub trait Renderer {
    fn render(&self, report: &GateReport) -> Result<Vec<u8>, ReportError>;
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot read markdown template {path}")]
    TemplateRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("markdown template {name} cannot be rendered")]
    Template {
        name: String,
        #[source]
        source: Box<minijinja::Error>,
    },
    #[error(
        "markdown template {name} renders {chars} characters even with detail dropped; the limit is {limit}"
    )]
    TooLarge {
        name: String,
        chars: usize,
        limit: usize,
    },
    #[error("cannot serialize the JUnit report")]
    Junit(#[source] quick_junit::SerializeError),
    #[error("cannot serialize the JSON verdict")]
    Json(#[source] serde_json::Error),
    #[error("the bundle has no `{section}` section (it was not written by `tokengate {section}`)")]
    MissingSection { section: &'static str },
}
