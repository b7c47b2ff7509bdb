//! Writing a chart report (sweep, soak) as files: each SVG chart, the HTML
//! page with the charts inline, and the Markdown that links to the HTML and
//! embeds the SVG files by relative path.

use std::path::{Path, PathBuf};

use crate::fsutil::write_atomic;
use crate::report::Chart;

/// Writes `<stem>.html`, `<stem>.md` and the charts into `dir`; returns the
/// paths written (charts first).
pub(crate) fn write_chart_reports(
    dir: &Path,
    stem: &str,
    charts: &[Chart],
    html: &str,
    markdown: &str,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for chart in charts {
        let p = dir.join(chart.file_name);
        write_atomic(&p, chart.svg.as_bytes())?;
        written.push(p);
    }
    for (ext, text) in [("html", html), ("md", markdown)] {
        let p = dir.join(format!("{stem}.{ext}"));
        write_atomic(&p, text.as_bytes())?;
        written.push(p);
    }
    Ok(written)
}
