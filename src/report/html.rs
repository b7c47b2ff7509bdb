//! The reports of a load sweep and a soak run: SVG charts (see
//! [`super::chart`]), a self-contained HTML page (inline CSS and SVG, no
//! script, no external resource) and a GitHub-flavoured Markdown summary
//! that links to the page and embeds the SVG files by relative path.
//!
//! Every string that came from the bundle is escaped for its target (XML
//! escaping in HTML and SVG, [`escape_markdown`] in Markdown). Output is
//! deterministic: the same bundle gives byte-identical pages and charts.
//!
//! The page is written as well-formed XML as well as HTML5 (void elements
//! self-closed, only XML's predefined entities), so it can be checked by any
//! XML parser.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::chart::{Axis, Band, LineChart, Marker, Series, group_thousands, xml_escape as h};
use super::escape::escape_markdown;
use super::format::{p_value, trim_num};
use super::render::ReportError;
use crate::bundle::{Bundle, SoakSection, SoakSnapshot, SoakTrend, SweepPoint, SweepSection};

/// The knee marker's colour: used by nothing else, so a reader (or a test
/// looking at a screenshot) can find the knee.
pub const KNEE_COLOR: &str = "#d7191c";
/// The safe operating point's marker colour.
pub const SAFE_COLOR: &str = "#1a9641";

// Series colours: blues and purples for latency percentiles, green and teal
// for throughput, orange for errors; red is kept for the knee.
const C_P50: &str = "#74add1";
const C_P95: &str = "#2c5fa8";
const C_P99: &str = "#6a3d9a";
const C_E2E: &str = "#8c510a";
const C_TOK: &str = "#01665e";
const C_REQ: &str = "#5e3c99";
const C_QUEUE_P95: &str = "#2c5fa8";
const C_QUEUE_MEAN: &str = "#74add1";
const C_KV: &str = "#8073ac";
const C_ERR: &str = "#e66101";
const C_CLIENT_RSS: &str = "#2c5fa8";
const C_SERVER_RSS: &str = "#8c510a";
const C_RUNNING: &str = "#01665e";
const C_WAITING: &str = "#e66101";
/// Trend lines of drifting soak series: one warning colour on every chart.
const C_DRIFT: &str = "#b2182b";

/// One chart of a report: its file name (the Markdown embeds it by this
/// relative path), its title (the image's alt text) and the SVG document.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub file_name: &'static str,
    pub title: String,
    pub svg: String,
}

impl Chart {
    fn from_model(file_name: &'static str, model: &LineChart) -> Chart {
        Chart {
            file_name,
            title: model.title.clone(),
            svg: model.render(),
        }
    }

    /// The SVG for inlining into HTML5, where the XML namespace is implied
    /// (and the page then names no URL at all).
    fn inline_svg(&self) -> String {
        self.svg
            .replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
    }
}

// ---------------------------------------------------------------------------
// Sweep
// ---------------------------------------------------------------------------

/// The charts of a sweep: TTFT, ITL, output tokens/s and requests/s against
/// load; server queue time, KV-cache peak and error rate when the curve has
/// them. Each marks the knee and the safe operating point and shades the
/// region past the knee. No sweep section or an empty curve: no charts.
pub fn sweep_charts(bundle: &Bundle) -> Vec<Chart> {
    let Some(sw) = bundle.sweep.as_deref() else {
        return Vec::new();
    };
    sweep_models(sw)
        .iter()
        .map(|(name, m)| Chart::from_model(name, m))
        .collect()
}

fn sorted_curve(sw: &SweepSection) -> Vec<SweepPoint> {
    let mut c: Vec<SweepPoint> = sw
        .curve
        .iter()
        .filter(|p| p.load.is_finite())
        .cloned()
        .collect();
    c.sort_by(|a, b| a.load.total_cmp(&b.load));
    c
}

fn sweep_models(sw: &SweepSection) -> Vec<(&'static str, LineChart)> {
    let curve = sorted_curve(sw);
    if curve.is_empty() {
        return Vec::new();
    }
    let x_axis = || Axis::new("Load", sw.load_unit.clone());
    let pts = |f: &dyn Fn(&SweepPoint) -> Option<f64>| -> Vec<(f64, Option<f64>)> {
        curve.iter().map(|p| (p.load, f(p))).collect()
    };
    let any = |f: &dyn Fn(&SweepPoint) -> Option<f64>| curve.iter().any(|p| f(p).is_some());
    let decorate = |mut c: LineChart| -> LineChart {
        if let Some(k) = &sw.knee {
            c.band = Some(Band {
                from: k.load,
                to: None,
                label: "past the knee".into(),
                color: KNEE_COLOR.into(),
            });
        }
        // The knee first: its label takes the top row.
        if let Some(k) = &sw.knee {
            c.markers.push(Marker {
                x: k.load,
                label: format!("knee: {} {}", fmt_load(k.load), sw.load_unit),
                color: KNEE_COLOR.into(),
                dashed: false,
                class: "knee",
            });
        }
        if let Some(s) = &sw.safe {
            c.markers.push(Marker {
                x: s.load,
                label: safe_label(s.load, s.share),
                color: SAFE_COLOR.into(),
                dashed: true,
                class: "safe",
            });
        }
        c
    };
    let mut out = Vec::new();

    let mut c = LineChart::new(
        "Time to first token vs load",
        x_axis(),
        Axis::new("TTFT", "ms"),
    );
    c.series
        .push(Series::new("p50", C_P50, pts(&|p| p.ttft_p50_ms)));
    c.series
        .push(Series::new("p95", C_P95, pts(&|p| p.ttft_p95_ms)));
    c.series
        .push(Series::new("p99", C_P99, pts(&|p| p.ttft_p99_ms)).dashed());
    out.push(("sweep-ttft.svg", decorate(c)));

    if any(&|p| p.itl_p50_ms.or(p.itl_p95_ms).or(p.itl_p99_ms)) {
        let mut c = LineChart::new(
            "Inter-token latency vs load",
            x_axis(),
            Axis::new("ITL", "ms"),
        );
        c.series
            .push(Series::new("p50", C_P50, pts(&|p| p.itl_p50_ms)));
        c.series
            .push(Series::new("p95", C_P95, pts(&|p| p.itl_p95_ms)));
        c.series
            .push(Series::new("p99", C_P99, pts(&|p| p.itl_p99_ms)).dashed());
        out.push(("sweep-itl.svg", decorate(c)));
    }

    let mut c = LineChart::new(
        "Output throughput vs load",
        x_axis(),
        Axis::new("Output tokens", "tok/s"),
    );
    c.series.push(Series::new(
        "output tok/s",
        C_TOK,
        pts(&|p| Some(p.output_tokens_per_s)),
    ));
    out.push(("sweep-throughput.svg", decorate(c)));

    let mut c = LineChart::new(
        "Completed requests vs load",
        x_axis(),
        Axis::new("Requests", "req/s"),
    );
    c.series.push(Series::new(
        "req/s",
        C_REQ,
        pts(&|p| Some(p.requests_per_s)),
    ));
    out.push(("sweep-requests.svg", decorate(c)));

    if any(&|p| p.server_queue_p95_ms.or(p.server_queue_mean_ms)) {
        let mut c = LineChart::new(
            "Server queue time vs load",
            x_axis(),
            Axis::new("Queue time", "ms"),
        );
        c.series.push(Series::new(
            "p95 (server)",
            C_QUEUE_P95,
            pts(&|p| p.server_queue_p95_ms),
        ));
        c.series.push(
            Series::new(
                "mean (server)",
                C_QUEUE_MEAN,
                pts(&|p| p.server_queue_mean_ms),
            )
            .dashed(),
        );
        out.push(("sweep-server-queue.svg", decorate(c)));
    }

    if any(&|p| p.kv_cache_peak) {
        let mut c = LineChart::new(
            "KV-cache peak vs load",
            x_axis(),
            Axis::new("KV-cache usage", "%"),
        );
        c.series.push(Series::new(
            "peak (server)",
            C_KV,
            pts(&|p| p.kv_cache_peak.map(|v| v * 100.0)),
        ));
        out.push(("sweep-kv-cache.svg", decorate(c)));
    }

    if curve.iter().any(|p| p.failed > 0 || p.error_rate > 0.0) {
        let mut c = LineChart::new(
            "Error rate vs load",
            x_axis(),
            Axis::new("Failed requests", "%"),
        );
        c.series.push(Series::new(
            "error rate",
            C_ERR,
            pts(&|p| Some(p.error_rate * 100.0)),
        ));
        out.push(("sweep-errors.svg", decorate(c)));
    }
    out
}

/// The sweep's HTML report. Errors when the bundle has no sweep section.
pub fn sweep_html(bundle: &Bundle) -> Result<String, ReportError> {
    let sw = bundle
        .sweep
        .as_deref()
        .ok_or(ReportError::MissingSection { section: "sweep" })?;
    let charts = sweep_charts(bundle);
    let title = format!("Load sweep: {}", bundle.context.workload_name);
    let mut o = page_head(&title);
    let _ = writeln!(o, "<h1>{}</h1>", h(&title));
    let _ = writeln!(o, "<p class=\"sub\">{}</p>", h(&key_line(bundle)));
    let _ = writeln!(o, "<p class=\"headline\">{}</p>", h(&sweep_headline(sw)));
    charts_html(&mut o, &charts);
    let _ = writeln!(o, "<h2>Levels</h2>");
    html_table(&mut o, &levels_table(sw));
    let _ = writeln!(o, "<h2>Signals</h2>");
    html_table(&mut o, &signals_table(sw));
    let _ = writeln!(o, "<h2>How the knee was found</h2>");
    match &sw.knee {
        Some(k) => {
            let _ = writeln!(o, "<p>{}</p>", h(&k.rule));
        }
        None => {
            let _ = writeln!(
                o,
                "<p>No signal (p95 TTFT, p95 ITL, error rate, server queue time, KV cache) bent in the measured range, so the sweep found no knee.</p>"
            );
        }
    }
    let _ = writeln!(
        o,
        "<p><strong>Stop reason:</strong> {}</p>",
        h(&sw.stop_reason)
    );
    let _ = writeln!(o, "<h2>Run</h2>");
    html_table(&mut o, &context_table(bundle, Some(sw)));
    warnings_html(&mut o, &sweep_warnings(bundle, sw));
    page_foot(&mut o, bundle);
    Ok(o)
}

/// The sweep's Markdown summary: headline, a link to the HTML report at
/// `html_href`, the charts (by relative path), the level and signal tables.
pub fn sweep_markdown(bundle: &Bundle, html_href: &str) -> String {
    let mut o = String::new();
    let Some(sw) = bundle.sweep.as_deref() else {
        let _ = writeln!(o, "The bundle has no sweep section.");
        return o;
    };
    let _ = writeln!(
        o,
        "## Load sweep: {}\n",
        escape_markdown(&bundle.context.workload_name)
    );
    let _ = writeln!(o, "{}\n", escape_markdown(&key_line(bundle)));
    let _ = writeln!(o, "**{}**\n", escape_markdown(&sweep_headline(sw)));
    let _ = writeln!(
        o,
        "[Charts]({}) — the full report with every chart and table.\n",
        md_href(html_href)
    );
    for c in sweep_charts(bundle) {
        let _ = writeln!(
            o,
            "![{}]({})\n",
            escape_markdown(&c.title),
            md_href(c.file_name)
        );
    }
    let _ = writeln!(o, "### Levels\n");
    md_table(&mut o, &levels_table(sw));
    let _ = writeln!(o, "### Signals\n");
    md_table(&mut o, &signals_table(sw));
    if let Some(k) = &sw.knee {
        let _ = writeln!(o, "**Knee rule:** {}\n", escape_markdown(&k.rule));
    }
    let _ = writeln!(o, "**Stop reason:** {}\n", escape_markdown(&sw.stop_reason));
    md_warnings(&mut o, &sweep_warnings(bundle, sw));
    o
}

/// The one sentence a reader needs: where the knee is, what bent first,
/// what to configure and what to expect there.
fn sweep_headline(sw: &SweepSection) -> String {
    let curve = sorted_curve(sw);
    let (Some(first), Some(last)) = (curve.first(), curve.last()) else {
        return "The sweep measured no levels.".into();
    };
    let Some(k) = &sw.knee else {
        return format!(
            "No knee found between {} and {}: no signal (p95 TTFT, p95 ITL, error rate, server queue time, KV cache) bent in the measured range. Stop reason: {}.",
            load_phrase(sw, first.load),
            load_phrase(sw, last.load),
            sw.stop_reason.trim_end_matches('.')
        );
    };
    let source = sw
        .signals
        .iter()
        .find(|s| s.signal == k.first_signal)
        .map(|s| s.source.as_str())
        .unwrap_or("");
    let mut s = format!(
        "Knee at {} — first signal: {}",
        load_phrase(sw, k.load),
        signal_name(&k.first_signal)
    );
    if !source.is_empty() {
        let _ = write!(s, " ({source})");
    }
    s.push('.');
    if let Some(safe) = &sw.safe {
        let unit = if is_closed(sw) {
            String::new()
        } else {
            format!(" {}", sw.load_unit)
        };
        let _ = write!(
            s,
            " Safe operating point: {}{unit} ({} %) → configure {}{unit}",
            fmt_load(safe.load),
            trim_num(safe.share * 100.0, 1),
            fmt_load(safe.configured_load),
        );
        let mut expect = Vec::new();
        if let Some(t) = safe.ttft_p95_ms {
            expect.push(format!("p95 TTFT {} ms", fmt_ms(t)));
        }
        expect.push(format!(
            "{} output tok/s",
            fmt_rate(safe.output_tokens_per_s)
        ));
        let _ = write!(s, "; expected {}.", expect.join(", "));
    }
    s
}

fn is_closed(sw: &SweepSection) -> bool {
    sw.load_unit == "concurrency" || (sw.load_unit.is_empty() && sw.mode == "closed")
}

/// `concurrency 8` in closed loop, `12.5 req/s` in open loop.
fn load_phrase(sw: &SweepSection, v: f64) -> String {
    if is_closed(sw) {
        format!("concurrency {}", fmt_load(v))
    } else {
        format!("{} {}", fmt_load(v), sw.load_unit)
    }
}

fn safe_label(load: f64, share: f64) -> String {
    format!(
        "safe: {} ({} %)",
        fmt_load(load),
        trim_num(share * 100.0, 1)
    )
}

/// Readable names of the sweep's signals (the bundle stores identifiers);
/// an identifier this version does not know is shown as it is.
fn signal_name(s: &str) -> String {
    match crate::sweep::signal_label(s) {
        "signal" => s.to_owned(),
        label => label.to_owned(),
    }
}

/// A signal's value in its unit: fractions as percentages, times in ms.
fn signal_value(signal: &str, v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(v) if signal == "error_rate" || signal == "kv_cache_peak" => fmt_pct(v),
        Some(v) => format!("{} ms", fmt_ms(v)),
    }
}

fn levels_table(sw: &SweepSection) -> Table {
    let curve = sorted_curve(sw);
    let queue = curve.iter().any(|p| p.server_queue_p95_ms.is_some());
    let kv = curve.iter().any(|p| p.kv_cache_peak.is_some());
    let slo = curve.iter().any(|p| p.slo_met.is_some());
    let mut headers = vec![
        format!("Load ({})", sw.load_unit),
        "Requests".into(),
        "Error rate".into(),
        "TTFT p50 (ms)".into(),
        "TTFT p95 (ms)".into(),
        "TTFT p99 (ms)".into(),
        "ITL p95 (ms)".into(),
        "Output tok/s".into(),
        "Req/s".into(),
    ];
    if queue {
        headers.push("Server queue p95 (ms)".into());
    }
    if kv {
        headers.push("KV peak".into());
    }
    if slo {
        headers.push("SLO".into());
    }
    let knee = sw.knee.as_ref().map(|k| k.load);
    let headline = sw.safe.as_ref().map(|s| s.headline_load);
    let rows = curve
        .iter()
        .map(|p| {
            let mut load = fmt_load(p.load);
            let mut class = None;
            if knee == Some(p.load) {
                load.push_str(" (knee)");
                class = Some("knee");
            } else if knee.is_some_and(|k| p.load > k) {
                class = Some("past");
            }
            if headline == Some(p.load) {
                load.push_str(" (headline)");
                class = class.or(Some("safe"));
            }
            if p.client_saturated {
                load.push_str(" (client saturated)");
            }
            let mut cells = vec![
                load,
                group_thousands(&p.requests.to_string()),
                fmt_pct(p.error_rate),
                opt_ms(p.ttft_p50_ms),
                opt_ms(p.ttft_p95_ms),
                opt_ms(p.ttft_p99_ms),
                opt_ms(p.itl_p95_ms),
                fmt_rate(p.output_tokens_per_s),
                fmt_small(p.requests_per_s),
            ];
            if queue {
                cells.push(opt_ms(p.server_queue_p95_ms));
            }
            if kv {
                cells.push(p.kv_cache_peak.map_or("—".into(), fmt_pct));
            }
            if slo {
                cells.push(match p.slo_met {
                    None => "—".into(),
                    Some(true) => "met".into(),
                    Some(false) if p.slo_broken.is_empty() => "broken".into(),
                    Some(false) => format!("broken: {}", p.slo_broken.join(", ")),
                });
            }
            Row { class, cells }
        })
        .collect();
    Table { headers, rows }
}

fn signals_table(sw: &SweepSection) -> Table {
    let headers = [
        "Signal",
        "Source",
        "Bend at",
        "Floor",
        "At bend",
        "After bend",
        "Knee prominence",
        "Note",
    ]
    .map(String::from)
    .to_vec();
    let first = sw.knee.as_ref().map(|k| k.first_signal.as_str());
    let rows = sw
        .signals
        .iter()
        .map(|s| {
            let mut name = signal_name(&s.signal);
            let class = if first == Some(s.signal.as_str()) {
                name.push_str(" (first)");
                Some("knee")
            } else {
                None
            };
            Row {
                class,
                cells: vec![
                    name,
                    s.source.clone(),
                    s.bend_load.map_or("—".into(), |v| load_phrase(sw, v)),
                    signal_value(&s.signal, s.floor),
                    signal_value(&s.signal, s.at_bend),
                    signal_value(&s.signal, s.after_bend),
                    s.prominence
                        .filter(|p| p.is_finite())
                        .map_or("—".into(), |p| trim_num(p.max(0.0), 2)),
                    s.note.clone(),
                ],
            }
        })
        .collect();
    Table { headers, rows }
}

fn sweep_warnings(bundle: &Bundle, sw: &SweepSection) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for w in &bundle.context.warnings {
        if seen.insert(w.clone()) {
            out.push(w.clone());
        }
    }
    for (p, level) in sw.curve.iter().zip(&sw.levels) {
        for w in &level.context.warnings {
            let text = format!("at {}: {w}", load_phrase(sw, p.load));
            if seen.insert(text.clone()) {
                out.push(text);
            }
        }
    }
    for p in sorted_curve(sw).iter().filter(|p| p.client_saturated) {
        out.push(format!(
            "at {}: the client was the bottleneck; numbers at this level are suspect",
            load_phrase(sw, p.load)
        ));
    }
    out
}

// ---------------------------------------------------------------------------
// Soak
// ---------------------------------------------------------------------------

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

/// The Theil–Sen line of a drifting series over the chart's x range:
/// slope from the trend (per hour, converted to per minute and to the
/// chart's unit), intercept median(yᵢ − b·xᵢ) (Sen 1968, "Estimates of the
/// regression coefficient based on Kendall's tau", JASA 63(324), §5).
fn trend_line(
    points: &[(f64, Option<f64>)],
    t: &SoakTrend,
    f: &SoakField,
) -> Option<Vec<(f64, Option<f64>)>> {
    let slope = t.slope_per_hour.filter(|s| s.is_finite())? * f.scale / 60.0;
    let vals: Vec<(f64, f64)> = points
        .iter()
        .filter_map(|&(x, y)| y.filter(|y| y.is_finite()).map(|y| (x, y)))
        .collect();
    let intercept = theil_sen_intercept(&vals, slope)?;
    let x0 = vals.first()?.0;
    let x1 = vals.last()?.0;
    Some(vec![
        (x0, Some(intercept + slope * x0)),
        (x1, Some(intercept + slope * x1)),
    ])
}

/// median(yᵢ − slope·xᵢ); `None` without points.
fn theil_sen_intercept(points: &[(f64, f64)], slope: f64) -> Option<f64> {
    let mut r: Vec<f64> = points.iter().map(|&(x, y)| y - slope * x).collect();
    if r.is_empty() {
        return None;
    }
    r.sort_by(f64::total_cmp);
    let n = r.len();
    Some(if n % 2 == 1 {
        r[n / 2]
    } else {
        (r[n / 2 - 1] + r[n / 2]) / 2.0
    })
}

/// `+12.5 ms/h` in the series' shown unit.
fn slope_text(t: &SoakTrend, f: &SoakField) -> String {
    match t.slope_per_hour {
        None => "—".into(),
        Some(s) => {
            let v = s * f.scale;
            let sign = if v < 0.0 { "−" } else { "+" };
            let unit = if f.unit == "%" { "pp" } else { f.unit };
            format!("{sign}{} {unit}/h", fmt_signif(v.abs()))
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
    html_table(&mut o, &context_table(bundle, None));
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
        (_, Some(r)) => format!(" at {} req/s", fmt_load(r)),
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
        trim_num(sk.interval_s, 1),
        trim_num(span_min, 1),
        group_thousands(&requests.to_string()),
        fmt_pct(rate)
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
                        .map_or("—".into(), |v| format!("{}/h", fmt_signif(v))),
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

fn p_phrase(p: Option<f64>) -> String {
    match p {
        Some(p) if p < 0.0001 => "< 0.0001".into(),
        Some(_) => format!("= {}", p_value(p)),
        None => "n/a".into(),
    }
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
                    t.slope_per_hour.map_or("—".into(), fmt_signif),
                ),
            };
            Row {
                class: t.drifting.then_some("knee"),
                cells: vec![
                    label,
                    t.points.to_string(),
                    slope,
                    t.relative_per_hour.map_or("—".into(), |r| {
                        let sign = if r < 0.0 { "−" } else { "+" };
                        format!("{sign}{} %", trim_num(r.abs() * 100.0, 2))
                    }),
                    p_value(t.p_value),
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
                    trim_num(x.start_s / 60.0, 1),
                    trim_num(x.end_s / 60.0, 1)
                ),
                group_thousands(&x.requests.to_string()),
                group_thousands(&x.failed.to_string()),
                fmt_pct(x.error_rate),
            ];
            for (_, get, pct) in &cols {
                cells.push(match get(x) {
                    None => "—".into(),
                    Some(v) if *pct => fmt_pct(v),
                    Some(v) => fmt_ms(v),
                });
            }
            cells.push(fmt_rate(x.output_tokens_per_s));
            Row {
                class: (x.failed > 0).then_some("past"),
                cells,
            }
        })
        .collect();
    Table { headers, rows }
}

// ---------------------------------------------------------------------------
// Shared page parts
// ---------------------------------------------------------------------------

/// A table of plain-text cells; each renderer escapes them for its format.
struct Table {
    headers: Vec<String>,
    rows: Vec<Row>,
}

struct Row {
    /// CSS class of the row in HTML (`knee`, `past`, `safe`).
    class: Option<&'static str>,
    cells: Vec<String>,
}

fn html_table(o: &mut String, t: &Table) {
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
fn is_numeric(cell: &str) -> bool {
    cell.chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || "+−-<∞—".contains(c))
}

fn md_table(o: &mut String, t: &Table) {
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

fn md_warnings(o: &mut String, warnings: &[String]) {
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
fn md_href(href: &str) -> String {
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
fn key_line(bundle: &Bundle) -> String {
    let k = &bundle.key;
    [&k.model_version, &k.serving_image, &k.hardware_profile]
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" · ")
}

fn context_table(bundle: &Bundle, sw: Option<&SweepSection>) -> Table {
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
    if let Some(sw) = sw {
        rows.push((
            "Sweep",
            format!(
                "{} loop, levels {} ({})",
                sw.mode, sw.strategy, sw.load_unit
            ),
        ));
        let r = &sw.rules;
        let mut rules = format!(
            "bend: knee prominence ≥ {} and rise ≥ {}; stop: error rate > {} or throughput gain < {}; safe point: {} of the knee; bisection resolution {}",
            trim_num(r.min_prominence, 2),
            fmt_pct(r.min_rise),
            fmt_pct(r.error_ceiling),
            fmt_pct(r.min_throughput_gain),
            fmt_pct(r.safe_share),
            trim_num(r.resolution, 3)
        );
        if let Some(g) = &r.slo_gate {
            let _ = write!(rules, "; SLO gate {g}");
        }
        rows.push(("Rules", rules));
    }
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

fn page_head(title: &str) -> String {
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

fn page_foot(o: &mut String, bundle: &Bundle) {
    let _ = writeln!(
        o,
        "<footer>Written by tokengate {} from the bundle of the run started {}.</footer>\n</main>\n</body>\n</html>",
        h(&bundle.context.tool_version),
        h(&bundle.context.started_at)
    );
}

fn charts_html(o: &mut String, charts: &[Chart]) {
    if charts.is_empty() {
        let _ = writeln!(o, "<p>No data to chart.</p>");
        return;
    }
    for c in charts {
        let _ = writeln!(o, "<figure>\n{}</figure>", c.inline_svg());
    }
}

fn warnings_html(o: &mut String, warnings: &[String]) {
    if warnings.is_empty() {
        return;
    }
    let _ = writeln!(o, "<h2>Warnings</h2>\n<ul class=\"warnings\">");
    for w in warnings {
        let _ = writeln!(o, "<li>{}</li>", h(w));
    }
    o.push_str("</ul>\n");
}

// ---------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------

/// A load: up to two decimals, thousands grouped (`5.6`, `12.5`, `1,024`).
fn fmt_load(v: f64) -> String {
    group_thousands(&trim_num(v, 2))
}

/// Milliseconds with precision by size: `0.42`, `4.2`, `41`, `1,234`.
fn fmt_ms(v: f64) -> String {
    let a = v.abs();
    let s = if a >= 10.0 {
        trim_num(v, 0)
    } else if a >= 1.0 {
        trim_num(v, 1)
    } else {
        trim_num(v, 2)
    };
    group_thousands(&s)
}

fn opt_ms(v: Option<f64>) -> String {
    v.map_or("—".into(), fmt_ms)
}

/// A fraction as a percentage: `0 %`, `0.25 %`, `12.5 %`.
fn fmt_pct(f: f64) -> String {
    let p = f * 100.0;
    if p == 0.0 {
        "0 %".into()
    } else if p.abs() < 1.0 {
        format!("{} %", trim_num(p, 2))
    } else {
        format!("{} %", trim_num(p, 1))
    }
}

/// A throughput: whole numbers from 100 up (`1,800`), else one decimal.
fn fmt_rate(v: f64) -> String {
    if v.abs() >= 100.0 {
        group_thousands(&trim_num(v, 0))
    } else {
        trim_num(v, 1)
    }
}

/// A small rate such as req/s: two decimals below 10.
fn fmt_small(v: f64) -> String {
    if v.abs() >= 10.0 {
        fmt_rate(v)
    } else {
        trim_num(v, 2)
    }
}

/// Three significant digits (`0.0123`, `4.56`, `1,230`).
fn fmt_signif(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return trim_num(v, 0);
    }
    let mag = v.abs().log10().floor() as i32;
    let decimals = (2 - mag).clamp(0, 8) as usize;
    group_thousands(&trim_num(v, decimals))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn theil_sen_intercept_is_the_median_residual() {
        // y = 100 + 6x, one outlier: the median ignores it.
        let pts = [
            (0.0, 100.0),
            (1.0, 106.0),
            (2.0, 112.0),
            (3.0, 500.0),
            (4.0, 124.0),
        ];
        assert_eq!(theil_sen_intercept(&pts, 6.0), Some(100.0));
        assert_eq!(
            theil_sen_intercept(&[(0.0, 1.0), (1.0, 4.0)], 1.0),
            Some(2.0)
        );
        assert_eq!(theil_sen_intercept(&[], 1.0), None);
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(fmt_ms(41.3), "41");
        assert_eq!(fmt_ms(4.26), "4.3");
        assert_eq!(fmt_ms(1234.4), "1,234");
        assert_eq!(fmt_rate(1800.2), "1,800");
        assert_eq!(fmt_pct(0.0025), "0.25 %");
        assert_eq!(fmt_pct(0.7), "70 %");
        assert_eq!(fmt_load(5.6000000001), "5.6");
        assert_eq!(fmt_signif(0.012345), "0.0123");
        assert_eq!(fmt_signif(12345.0), "12,345");
        assert_eq!(md_href("my report (1).html"), "my%20report%20%281%29.html");
    }
}
