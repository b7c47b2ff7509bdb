//! Reports: one renderer per format behind the [`Renderer`] trait. Each turns
//! a [`crate::gate::GateReport`] into bytes; the caller decides where the
//! bytes go. Same report ⇒ byte-identical output (no clock, no randomness).

mod escape;
mod format;
mod json;
mod junit;
mod markdown;
mod render;

pub use escape::{escape_markdown, escape_markdown_code};
pub use json::JsonRenderer;
pub use junit::JunitRenderer;
pub use markdown::{GITHUB_COMMENT_LIMIT, MARKER, MarkdownRenderer};
pub use render::{Renderer, ReportError};
