//! The soak run's report: per-interval charts against time since the
//! window opened (a drifting series with its Theil–Sen trend line, from the
//! trend the bundle stores), an HTML page with the headline, drift notes,
//! the trend and snapshot tables, and a Markdown summary linking the page.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::super::chart::{Axis, LineChart, Series, xml_escape as h};
use super::super::escape::escape_markdown;
use super::super::render::ReportError;
use super::page::{
    C_CLIENT_RSS, C_DRIFT, C_E2E, C_ERR, C_KV, C_P50, C_P95, C_RUNNING, C_SERVER_RSS, C_TOK,
    C_WAITING, Chart, Row, Table, charts_html, context_table, html_table, key_line, md_href,
    md_table, md_warnings, page_foot, page_head, warnings_html,
};
use crate::bundle::{Bundle, SoakSection, SoakSnapshot, SoakTrend};
use crate::wording::{self, group_thousands};

/// How a soak series is read from a snapshot and shown: the trend's series
/// name, its label, the chart unit and the factor from stored to shown units.
struct SoakField {
    series: &'static str,
    label: &'static str,
    unit: &'static str,
    scale: f64,
    get: fn(&SoakSnapshot) -> Option<f64>,
}

const SOAK_FIELDS: &[SoakField] = &[
    SoakField {
        series: "ttft_p50_ms",
        label: "p50 TTFT",
        unit: "ms",
        scale: 1.0,
        get: |s| s.ttft_p50_ms,
    },
    SoakField {
        series: "ttft_p95_ms",
        label: "p95 TTFT",
        unit: "ms",
        scale: 1.0,
        get: |s| s.ttft_p95_ms,
    },
    SoakField {
        series: "tpot_p95_ms",
        label: "p95 TPOT",
        unit: "ms",
        scale: 1.0,
        get: |s| s.tpot_p95_ms,
    },
    SoakField {
        series: "e2e_p95_ms",
        label: "p95 E2E",
        unit: "ms",
        scale: 1.0,
        get: |s| s.e2e_p95_ms,
    },
    SoakField {
        series: "error_rate",
        label: "error rate",
        unit: "%",
        scale: 100.0,
        get: |s| Some(s.error_rate),
    },
    SoakField {
        series: "output_tokens_per_s",
        label: "output tok/s",
        unit: "tok/s",
        scale: 1.0,
        get: |s| Some(s.output_tokens_per_s),
    },
    SoakField {
        series: "client_rss_mib",
        label: "client RSS",
        unit: "MiB",
        scale: 1.0,
        get: |s| s.client_rss_mib,
    },
    SoakField {
        series: "server_rss_mib",
        label: "server RSS",
        unit: "MiB",
        scale: 1.0,
        get: |s| s.server_rss_mib,
    },
    SoakField {
        series: "server_running",
        label: "running",
        unit: "requests",
        scale: 1.0,
        get: |s| s.server_running,
    },
    SoakField {
        series: "server_waiting",
        label: "waiting",
        unit: "requests",
        scale: 1.0,
        get: |s| s.server_waiting,
    },
    SoakField {
        series: "kv_cache_usage",
        label: "KV-cache usage",
        unit: "%",
        scale: 100.0,
        get: |s| s.kv_cache_usage,
    },
];

fn soak_field(series: &str) -> Option<&'static SoakField> {
    SOAK_FIELDS.iter().find(|f| f.series == series)
}

/// x of a snapshot: minutes from the window's opening to the interval's
/// middle.
fn snapshot_minutes(s: &SoakSnapshot) -> f64 {
    (s.start_s + s.end_s) / 2.0 / 60.0
}

/// The charts of a soak run, x = minutes since the measurement window
/// opened: TTFT, E2E, error rate, output tok/s, RSS and server gauges (the
/// last two when present). A drifting series gets its Theil–Sen trend line,
/// dashed. No soak section or no snapshots: no charts.
pub fn soak_charts(bundle: &Bundle) -> Vec<Chart> {
    let Some(sk) = bundle.soak.as_ref() else {
        return Vec::new();
    };
    soak_models(sk)
        .iter()
        .map(|(name, m)| Chart::from_model(name, m))
        .collect()
}

/// A soak chart: file name, title, y-axis title and its series (trend
/// series name, colour, dashed).
type SoakChartLayout = (
    &'static str,
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str, bool)>,
);

fn soak_models(sk: &SoakSection) -> Vec<(&'static str, LineChart)> {
    let snaps: Vec<&SoakSnapshot> = sk
        .snapshots
        .iter()
        .filter(|s| s.start_s.is_finite() && s.end_s.is_finite())
        .collect();
    if snaps.is_empty() {
        return Vec::new();
    }
    let x_axis = || Axis::new("Time since the window opened", "min");
    // (series name, colour, dashed) of each chart; a chart is drawn when
    // any of its series has a value.
    let layout: [SoakChartLayout; 8] = [
        (
            "soak-ttft.svg",
            "Time to first token per interval",
            "TTFT (ms)",
            vec![("ttft_p50_ms", C_P50, false), ("ttft_p95_ms", C_P95, false)],
        ),
        (
            "soak-e2e.svg",
            "End-to-end latency per interval",
            "E2E (ms)",
            vec![("e2e_p95_ms", C_E2E, false)],
        ),
        (
            "soak-errors.svg",
            "Error rate per interval",
            "Failed requests (%)",
            vec![("error_rate", C_ERR, false)],
        ),
        (
            "soak-throughput.svg",
            "Output throughput per interval",
            "Output tokens (tok/s)",
            vec![("output_tokens_per_s", C_TOK, false)],
        ),
        (
            "soak-client-memory.svg",
            "Client resident memory",
            "RSS (MiB)",
            vec![("client_rss_mib", C_CLIENT_RSS, false)],
        ),
        (
            "soak-server-memory.svg",
            "Server resident memory",
            "RSS (MiB)",
            vec![("server_rss_mib", C_SERVER_RSS, false)],
        ),
        (
            "soak-server.svg",
            "Server requests running and waiting",
            "Requests",
            vec![
                ("server_running", C_RUNNING, false),
                ("server_waiting", C_WAITING, true),
            ],
        ),
        (
            "soak-kv-cache.svg",
            "Server KV-cache usage",
            "KV-cache usage (%)",
            vec![("kv_cache_usage", C_KV, false)],
        ),
    ];
    let mut out = Vec::new();
    for (file, title, y_title, series) in layout {
        let mut c = LineChart::new(title, x_axis(), Axis::new(y_title, ""));
        let mut trends = Vec::new();
        for (name, color, dashed) in series {
            let Some(f) = soak_field(name) else { continue };
            let points: Vec<(f64, Option<f64>)> = snaps
                .iter()
                .map(|s| (snapshot_minutes(s), (f.get)(s).map(|v| v * f.scale)))
                .collect();
            if !points.iter().any(|p| p.1.is_some()) {
                continue;
            }
            let mut s = Series::new(f.label, color, points.clone());
            if dashed {
                s = s.dashed();
            }
            c.series.push(s);
            let drift = sk
                .trends
                .iter()
                .find(|t| t.series == name && t.drifting)
                .and_then(|t| trend_line(&points, t, f).map(|line| (t, line)));
            if let Some((t, line)) = drift {
                trends.push(
                    Series::new(
                        format!("{} trend ({})", f.label, slope_text(t, f)),
                        C_DRIFT,
                        line,
                    )
                    .dashed()
                    .with_width(3.0)
                    .without_dots(),
                );
            }
        }
        if c.series.is_empty() {
            continue;
        }
        if !trends.is_empty() {
            c.title.push_str(" — drifting");
        }
        c.series.extend(trends);
        out.push((file, c));
    }
    out
}

/// The Theil–Sen line of a drifting series over the chart's x range, from
/// the trend's slope and intercept (per hour from the window's opening,
/// converted to minutes and to the chart's unit). `None` when the trend has
/// no line (too few points, or a bundle written before the intercept was
/// stored).
fn trend_line(
    points: &[(f64, Option<f64>)],
    t: &SoakTrend,
    f: &SoakField,
) -> Option<Vec<(f64, Option<f64>)>> {
    let slope = t.slope_per_hour.filter(|s| s.is_finite())? * f.scale / 60.0;
    let intercept = t.intercept.filter(|i| i.is_finite())? * f.scale;
    let has_value = |p: &&(f64, Option<f64>)| p.1.is_some_and(f64::is_finite);
    let x0 = points.iter().find(has_value)?.0;
    let x1 = points.iter().rfind(has_value)?.0;
    Some(vec![
        (x0, Some(intercept + slope * x0)),
        (x1, Some(intercept + slope * x1)),
    ])
}

/// `+12.5 ms/h` in the series' shown unit.
fn slope_text(t: &SoakTrend, f: &SoakField) -> String {
    match t.slope_per_hour {
        None => "—".into(),
        Some(s) => {
            let unit = if f.unit == "%" { "pp" } else { f.unit };
            wording::signed_with(s * f.scale, wording::significant, &format!("{unit}/h"))
        }
    }
}

/// The soak run's HTML report. Errors when the bundle has no soak section.
pub fn soak_html(bundle: &Bundle) -> Result<String, ReportError> {
    let sk = bundle
        .soak
        .as_ref()
        .ok_or(ReportError::MissingSection { section: "soak" })?;
    let charts = soak_charts(bundle);
    let title = format!("Soak run: {}", bundle.context.workload_name);
    let mut o = page_head(&title);
    let _ = writeln!(o, "<h1>{}</h1>", h(&title));
    let _ = writeln!(o, "<p class=\"sub\">{}</p>", h(&key_line(bundle)));
    let _ = writeln!(
        o,
        "<p class=\"headline\">{}</p>",
        h(&soak_headline(bundle, sk))
    );
    let notes: Vec<&SoakTrend> = sk.trends.iter().filter(|t| t.drifting).collect();
    if !notes.is_empty() {
        o.push_str("<ul class=\"drift\">\n");
        for t in notes {
            let _ = writeln!(o, "<li>{}</li>", h(&t.note));
        }
        o.push_str("</ul>\n");
    }
    charts_html(&mut o, &charts);
    let _ = writeln!(o, "<h2>Trends</h2>");
    html_table(&mut o, &trends_table(sk));
    let _ = writeln!(o, "<h2>Snapshots</h2>");
    html_table(&mut o, &snapshots_table(sk, usize::MAX));
    let _ = writeln!(o, "<h2>Run</h2>");
    html_table(&mut o, &context_table(bundle, Vec::new()));
    warnings_html(&mut o, &bundle.context.warnings);
    page_foot(&mut o, bundle);
    Ok(o)
}

/// The soak run's Markdown summary: headline, drift notes, a link to the
/// HTML report, the charts, the trend table and (up to 60 rows of) the
/// snapshot table.
pub fn soak_markdown(bundle: &Bundle, html_href: &str) -> String {
    let mut o = String::new();
    let Some(sk) = bundle.soak.as_ref() else {
        let _ = writeln!(o, "The bundle has no soak section.");
        return o;
    };
    let _ = writeln!(
        o,
        "## Soak run: {}\n",
        escape_markdown(&bundle.context.workload_name)
    );
    let _ = writeln!(o, "{}\n", escape_markdown(&key_line(bundle)));
    let _ = writeln!(o, "**{}**\n", escape_markdown(&soak_headline(bundle, sk)));
    for t in sk.trends.iter().filter(|t| t.drifting) {
        let _ = writeln!(o, "- {}", escape_markdown(&t.note));
    }
    if sk.trends.iter().any(|t| t.drifting) {
        o.push('\n');
    }
    let _ = writeln!(
        o,
        "[Charts]({}) — the full report with every chart and table.\n",
        md_href(html_href)
    );
    for c in soak_charts(bundle) {
        let _ = writeln!(
            o,
            "![{}]({})\n",
            escape_markdown(&c.title),
            md_href(c.file_name)
        );
    }
    let _ = writeln!(o, "### Trends\n");
    md_table(&mut o, &trends_table(sk));
    let _ = writeln!(o, "### Snapshots\n");
    let table = snapshots_table(sk, 60);
    if table.rows.len() < sk.snapshots.len() {
        let _ = writeln!(
            o,
            "{} of {} snapshots, evenly spaced; the HTML report lists all.\n",
            table.rows.len(),
            sk.snapshots.len()
        );
    }
    md_table(&mut o, &table);
    md_warnings(&mut o, &bundle.context.warnings);
    o
}

fn soak_headline(bundle: &Bundle, sk: &SoakSection) -> String {
    let n = sk.snapshots.len();
    if n == 0 {
        return "The soak run recorded no intervals.".into();
    }
    let requests: u64 = sk.snapshots.iter().map(|s| s.requests).sum();
    let failed: u64 = sk.snapshots.iter().map(|s| s.failed).sum();
    let span_min = sk.snapshots.iter().map(|s| s.end_s).fold(0.0f64, f64::max) / 60.0;
    let load = &bundle.context.load;
    let at = match (load.concurrency, load.rate) {
        (Some(c), _) if load.mode == "closed" => format!(" at concurrency {c}"),
        (_, Some(r)) => format!(" at {} req/s", wording::load(r)),
        _ => String::new(),
    };
    let rate = if requests == 0 {
        0.0
    } else {
        failed as f64 / requests as f64
    };
    let mut s = format!(
        "Soak{at}: {} intervals of {} s ({} min), {} requests, {} failed.",
        n,
        wording::decimals(sk.interval_s, 1),
        wording::decimals(span_min, 1),
        group_thousands(&requests.to_string()),
        wording::share(rate)
    );
    let drifting: Vec<String> = sk
        .trends
        .iter()
        .filter(|t| t.drifting)
        .map(|t| {
            let (label, slope) = match soak_field(&t.series) {
                Some(f) => (f.label.to_owned(), slope_text(t, f)),
                None => (
                    t.series.clone(),
                    t.slope_per_hour
                        .map_or("—".into(), |v| format!("{}/h", wording::significant(v))),
                ),
            };
            format!("{label} {slope} (p {})", p_phrase(t.p_value))
        })
        .collect();
    if drifting.is_empty() {
        let _ = write!(
            s,
            " No drift: none of the {} tracked series has a significant trend in the bad direction.",
            sk.trends.len()
        );
    } else {
        let _ = write!(s, " Drifting: {}.", drifting.join("; "));
    }
    s
}

/// `= 0.0123`, `< 0.0001` or `n/a`, after a `p`.
fn p_phrase(p: Option<f64>) -> String {
    p.map_or_else(|| "n/a".into(), |p| wording::p_relation(p, 4))
}

fn trends_table(sk: &SoakSection) -> Table {
    let headers = [
        "Series",
        "Points",
        "Slope / h",
        "Relative / h",
        "p",
        "Drifting",
        "Note",
    ]
    .map(String::from)
    .to_vec();
    let rows = sk
        .trends
        .iter()
        .map(|t| {
            let (label, slope) = match soak_field(&t.series) {
                Some(f) => (f.label.to_owned(), slope_text(t, f)),
                None => (
                    t.series.clone(),
                    t.slope_per_hour.map_or("—".into(), wording::significant),
                ),
            };
            Row {
                class: t.drifting.then_some("knee"),
                cells: vec![
                    label,
                    t.points.to_string(),
                    slope,
                    t.relative_per_hour
                        .map_or("—".into(), |r| wording::signed(r * 100.0, 2, "%")),
                    t.p_value.map_or("—".into(), wording::p_value),
                    if t.drifting { "yes" } else { "no" }.into(),
                    t.note.clone(),
                ],
            }
        })
        .collect();
    Table { headers, rows }
}

/// An optional snapshot column: header, getter, shown as a percentage.
type SnapshotColumn = (&'static str, fn(&SoakSnapshot) -> Option<f64>, bool);

/// The snapshot table with at most `max_rows` rows, evenly spaced, the last
/// snapshot always included.
fn snapshots_table(sk: &SoakSection, max_rows: usize) -> Table {
    let s = &sk.snapshots;
    let has = |f: fn(&SoakSnapshot) -> Option<f64>| s.iter().any(|x| f(x).is_some());
    let cols: Vec<SnapshotColumn> = vec![
        ("TTFT p50 (ms)", |x| x.ttft_p50_ms, false),
        ("TTFT p95 (ms)", |x| x.ttft_p95_ms, false),
        ("TPOT p95 (ms)", |x| x.tpot_p95_ms, false),
        ("E2E p95 (ms)", |x| x.e2e_p95_ms, false),
        ("Client RSS (MiB)", |x| x.client_rss_mib, false),
        ("Server RSS (MiB)", |x| x.server_rss_mib, false),
        ("Running", |x| x.server_running, false),
        ("Waiting", |x| x.server_waiting, false),
        ("KV cache", |x| x.kv_cache_usage, true),
    ];
    let cols: Vec<_> = cols.into_iter().filter(|c| has(c.1)).collect();
    let mut headers: Vec<String> = ["#", "Minutes", "Requests", "Failed", "Error rate"]
        .map(String::from)
        .to_vec();
    headers.extend(cols.iter().map(|c| c.0.to_owned()));
    headers.push("Output tok/s".into());
    // Evenly spaced indices, first and last included.
    let keep: BTreeSet<usize> = if s.len() <= max_rows || max_rows < 2 {
        (0..s.len()).collect()
    } else {
        (0..max_rows)
            .map(|i| ((i * (s.len() - 1)) as f64 / (max_rows - 1) as f64).round() as usize)
            .collect()
    };
    let rows = s
        .iter()
        .enumerate()
        .filter(|(i, _)| keep.contains(i))
        .map(|(i, x)| {
            let mut cells = vec![
                (i + 1).to_string(),
                format!(
                    "{}–{}",
                    wording::decimals(x.start_s / 60.0, 1),
                    wording::decimals(x.end_s / 60.0, 1)
                ),
                group_thousands(&x.requests.to_string()),
                group_thousands(&x.failed.to_string()),
                wording::share(x.error_rate),
            ];
            for (_, get, pct) in &cols {
                cells.push(match get(x) {
                    None => "—".into(),
                    Some(v) if *pct => wording::share(v),
                    Some(v) => wording::millis(v),
                });
            }
            cells.push(wording::throughput(x.output_tokens_per_s));
            Row {
                class: (x.failed > 0).then_some("past"),
                cells,
            }
        })
        .collect();
    Table { headers, rows }
}
