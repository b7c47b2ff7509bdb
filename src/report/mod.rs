//! Reports: one renderer per format behind the [`Renderer`] trait. Each turns
//! a [`crate::gate::GateReport`] into bytes; the caller decides where the
//! bytes go. The sweep and soak reports (HTML page, SVG charts, Markdown
//! summary) are built from the bundle's `sweep` / `soak` section. Same input
//! ⇒ byte-identical output (no clock, no randomness).

pub mod chart;
mod escape;
mod format;
mod html;
mod json;
mod junit;
mod markdown;
mod render;
pub(crate) mod text_chart;

pub use escape::{escape_markdown, escape_markdown_code};
pub use html::{
    Chart, KNEE_COLOR, SAFE_COLOR, soak_charts, soak_html, soak_markdown, sweep_charts, sweep_html,
    sweep_markdown,
};
pub use json::{JsonRenderer, verdict_json_schema};
pub use junit::JunitRenderer;
pub use markdown::{GITHUB_COMMENT_LIMIT, MARKER, MarkdownRenderer};
pub use render::{Renderer, ReportError};
