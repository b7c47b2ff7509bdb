//! The page toolkit shared by the sweep and soak reports: the chart
//! palette, [`Chart`], plain-text tables rendered as HTML or Markdown, the
//! page head (inline CSS, a Content-Security-Policy that loads nothing) and
//! foot, the run table, warnings and Markdown links.

use std::fmt::Write as _;

use super::super::chart::{LineChart, xml_escape as h};
use super::super::escape::escape_markdown;
use crate::bundle::Bundle;

/// The knee marker's colour: used by nothing else, so a reader (or a test
/// looking at a screenshot) can find the knee.
pub const KNEE_COLOR: &str = "#d7191c";
/// The safe operating point's marker colour.
pub const SAFE_COLOR: &str = "#1a9641";

// Series colours: blues and purples for latency percentiles, green and teal
// for throughput, orange for errors; red is kept for the knee.
pub(super) const C_P50: &str = "#74add1";
pub(super) const C_P95: &str = "#2c5fa8";
pub(super) const C_P99: &str = "#6a3d9a";
pub(super) const C_E2E: &str = "#8c510a";
pub(super) const C_TOK: &str = "#01665e";
pub(super) const C_REQ: &str = "#5e3c99";
pub(super) const C_QUEUE_P95: &str = "#2c5fa8";
pub(super) const C_QUEUE_MEAN: &str = "#74add1";
pub(super) const C_KV: &str = "#8073ac";
pub(super) const C_ERR: &str = "#e66101";
pub(super) const C_CLIENT_RSS: &str = "#2c5fa8";
pub(super) const C_SERVER_RSS: &str = "#8c510a";
pub(super) const C_RUNNING: &str = "#01665e";
pub(super) const C_WAITING: &str = "#e66101";
/// Trend lines of drifting soak series: one warning colour on every chart.
pub(super) const C_DRIFT: &str = "#b2182b";

/// One chart of a report: its file name (the Markdown embeds it by this
/// relative path), its title (the image's alt text) and the SVG document.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub file_name: &'static str,
    pub title: String,
    pub svg: String,
}

impl Chart {
    pub(super) fn from_model(file_name: &'static str, model: &LineChart) -> Chart {
        Chart {
            file_name,
            title: model.title.clone(),
            svg: model.render(),
        }
    }

    /// The SVG for inlining into HTML5, where the XML namespace is implied
    /// (and the page then names no URL at all).
    pub(super) fn inline_svg(&self) -> String {
        self.svg
            .replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
    }
}

/// A table of plain-text cells; each renderer escapes them for its format.
pub(super) struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Row>,
}

pub(super) struct Row {
    /// CSS class of the row in HTML (`knee`, `past`, `safe`).
    pub class: Option<&'static str>,
    pub cells: Vec<String>,
}

pub(super) fn html_table(o: &mut String, t: &Table) {
    o.push_str("<div class=\"scroll\"><table>\n<thead><tr>");
    // A column is right-aligned when its first cell reads as a number.
    let numeric_col = |i: usize| {
        t.rows
            .first()
            .and_then(|r| r.cells.get(i))
            .is_some_and(|c| is_numeric(c))
    };
    for (i, hd) in t.headers.iter().enumerate() {
        let class = if numeric_col(i) { " class=\"n\"" } else { "" };
        let _ = write!(o, "<th{class}>{}</th>", h(hd));
    }
    o.push_str("</tr></thead>\n<tbody>\n");
    for r in &t.rows {
        match r.class {
            Some(c) => {
                let _ = write!(o, "<tr class=\"{c}\">");
            }
            None => o.push_str("<tr>"),
        }
        for c in &r.cells {
            let class = if is_numeric(c) { " class=\"n\"" } else { "" };
            let _ = write!(o, "<td{class}>{}</td>", h(c));
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</tbody>\n</table></div>\n");
}

/// Whether a cell reads as a number (or a missing one), for alignment.
pub(super) fn is_numeric(cell: &str) -> bool {
    cell.chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || "+−-<∞—".contains(c))
}

pub(super) fn md_table(o: &mut String, t: &Table) {
    if t.rows.is_empty() {
        o.push_str("(none)\n\n");
        return;
    }
    let row = |cells: &mut dyn Iterator<Item = String>| -> String {
        let mut s = String::from("|");
        for c in cells {
            let _ = write!(s, " {} |", c);
        }
        s
    };
    let _ = writeln!(
        o,
        "{}",
        row(&mut t.headers.iter().map(|c| escape_markdown(c)))
    );
    let first = &t.rows[0].cells;
    let _ = writeln!(
        o,
        "{}",
        row(&mut (0..t.headers.len()).map(|i| {
            if first.get(i).is_some_and(|c| is_numeric(c)) {
                "---:".to_owned()
            } else {
                "---".to_owned()
            }
        }))
    );
    for r in &t.rows {
        let _ = writeln!(
            o,
            "{}",
            row(&mut r.cells.iter().map(|c| escape_markdown(c)))
        );
    }
    o.push('\n');
}

pub(super) fn md_warnings(o: &mut String, warnings: &[String]) {
    if warnings.is_empty() {
        return;
    }
    let _ = writeln!(o, "### Warnings\n");
    for w in warnings {
        let _ = writeln!(o, "- {}", escape_markdown(w));
    }
    o.push('\n');
}

/// A relative link target for Markdown: characters that would end or break
/// the destination are percent-encoded.
pub(super) fn md_href(href: &str) -> String {
    let mut out = String::with_capacity(href.len());
    for c in href.chars() {
        match c {
            ' ' => out.push_str("%20"),
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '"' => out.push_str("%22"),
            '\\' => out.push_str("%5C"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// `model · image · hardware` from the bundle key, empty parts left out.
pub(super) fn key_line(bundle: &Bundle) -> String {
    let k = &bundle.key;
    [&k.model_version, &k.serving_image, &k.hardware_profile]
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" · ")
}

/// The run's fields as a two-column table; `extra` rows (a page's own
/// settings) follow the run's times.
pub(super) fn context_table(bundle: &Bundle, extra: Vec<(&'static str, String)>) -> Table {
    let k = &bundle.key;
    let c = &bundle.context;
    let mut rows: Vec<(&str, String)> = vec![
        ("Workload", c.workload_name.clone()),
        ("Model version", k.model_version.clone()),
        ("Serving image", k.serving_image.clone()),
        ("Hardware profile", k.hardware_profile.clone()),
        ("Tokenizer", k.tokenizer.clone()),
        ("Endpoint", c.endpoint.clone()),
        ("Model (requests)", c.model.clone()),
        ("Started at", c.started_at.clone()),
        ("Ended at", c.ended_at.clone()),
    ];
    rows.extend(extra);
    if let Some(g) = &c.git {
        rows.push((
            "Git",
            format!(
                "{}{}{}",
                g.commit,
                g.branch
                    .as_ref()
                    .map_or(String::new(), |b| format!(" ({b})")),
                if g.dirty { ", dirty" } else { "" }
            ),
        ));
    }
    if let Some(u) = &c.ci_run_url {
        rows.push(("CI run", u.clone()));
    }
    rows.push(("tokengate", c.tool_version.clone()));
    Table {
        headers: vec!["Field".into(), "Value".into()],
        rows: rows
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(f, v)| Row {
                class: None,
                cells: vec![f.to_owned(), v],
            })
            .collect(),
    }
}

const CSS: &str = "\
*{box-sizing:border-box}
body{margin:0;background:#f4f5f7;color:#222;font:15px/1.45 'DejaVu Sans','Liberation Sans',Arial,Helvetica,sans-serif}
main{max-width:1000px;margin:0 auto;padding:20px 20px 40px;background:#fff}
h1{font-size:26px;margin:4px 0 2px}
h2{font-size:19px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.sub{color:#555;margin:0 0 14px}
.headline{font-size:18px;font-weight:bold;margin:10px 0 18px;padding:12px 16px;border-left:6px solid #d7191c;background:#fdf1f1}
ul.drift{margin:0 0 16px;padding-left:22px;color:#8a1010}
figure{margin:0 0 18px;padding:0}
figure svg{display:block;width:100%;max-width:960px;height:auto;border:1px solid #e2e2e2}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:13px;margin:4px 0 12px}
th,td{border:1px solid #d6d6d6;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f1f3}
th.n{text-align:right}
td.n{text-align:right;white-space:nowrap}
tr.knee td{background:#fbe3e3;font-weight:bold}
tr.past td{background:#fdf4f4}
tr.safe td{background:#e8f5ec}
ul.warnings{color:#7a4a00}
footer{margin-top:30px;color:#777;font-size:12px}
";

pub(super) fn page_head(title: &str) -> String {
    let mut o = String::with_capacity(64 * 1024);
    o.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n");
    // Nothing on the page may load anything: a report opened from an
    // artifact store must not call out, whatever a bundle string contains.
    o.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"/>\n");
    o.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n");
    let _ = writeln!(o, "<title>{}</title>", h(title));
    let _ = writeln!(o, "<style>\n{CSS}</style>\n</head>\n<body>\n<main>");
    o
}

pub(super) fn page_foot(o: &mut String, bundle: &Bundle) {
    let _ = writeln!(
        o,
        "<footer>Written by tokengate {} from the bundle of the run started {}.</footer>\n</main>\n</body>\n</html>",
        h(&bundle.context.tool_version),
        h(&bundle.context.started_at)
    );
}

pub(super) fn charts_html(o: &mut String, charts: &[Chart]) {
    if charts.is_empty() {
        let _ = writeln!(o, "<p>No data to chart.</p>");
        return;
    }
    for c in charts {
        let _ = writeln!(o, "<figure>\n{}</figure>", c.inline_svg());
    }
}

pub(super) fn warnings_html(o: &mut String, warnings: &[String]) {
    if warnings.is_empty() {
        return;
    }
    let _ = writeln!(o, "<h2>Warnings</h2>\n<ul class=\"warnings\">");
    for w in warnings {
        let _ = writeln!(o, "<li>{}</li>", h(w));
    }
    o.push_str("</ul>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_links_percent_encode_what_would_break_them() {
        assert_eq!(md_href("my report (1).html"), "my%20report%20%281%29.html");
    }
}
