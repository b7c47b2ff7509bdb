//! The reports of a load sweep and a soak run, one file per page: SVG
//! charts (see [`super::chart`]), a self-contained HTML page (inline CSS and
//! SVG, no script, no external resource) and a GitHub-flavoured Markdown
//! summary that links to the page and embeds the SVG files by relative path.
//! [`page`] holds what the pages share.
//!
//! Every string that came from the bundle is escaped for its target (XML
//! escaping in HTML and SVG, [`super::escape_markdown`] in Markdown). Output
//! is deterministic: the same bundle gives byte-identical pages and charts.
//!
//! The page is written as well-formed XML as well as HTML5 (void elements
//! self-closed, only XML's predefined entities), so it can be checked by any
//! XML parser.
//!
//! The pages are written in Rust rather than minijinja templates (which
//! the Markdown gate report uses so users can supply their own): these pages
//! are not user-replaceable, their text must be escaped as XML (minijinja's
//! HTML auto-escaping writes `&#x27;` and `&#x2f;`, so a custom formatter
//! would be needed anyway), and a template would add a runtime parse and an
//! error path to functions that otherwise fail only for a missing section.
//! Their structure is already data ([`page::Table`]) rendered by two small
//! writers.

mod page;
mod soak;
mod sweep;

pub use page::{Chart, KNEE_COLOR, SAFE_COLOR};
pub use soak::{soak_charts, soak_html, soak_markdown};
pub use sweep::{sweep_charts, sweep_html, sweep_markdown};
