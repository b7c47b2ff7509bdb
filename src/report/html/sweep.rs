//! The load sweep's report: one chart per signal against load (the knee
//! marked, the region past it shaded, the safe operating point marked), an
//! HTML page with the headline, the level and signal tables and how the
//! knee was found, and a Markdown summary linking the page and the charts.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::super::chart::{Axis, Band, LineChart, Marker, Series, xml_escape as h};
use super::super::escape::escape_markdown;
use super::super::render::ReportError;
use super::super::text_chart::{Bar, bars};
use super::page::{
    C_ERR, C_KV, C_P50, C_P95, C_P99, C_QUEUE_MEAN, C_QUEUE_P95, C_REQ, C_TOK, Chart, KNEE_COLOR,
    Row, SAFE_COLOR, Table, charts_html, context_table, html_table, key_line, md_href, md_table,
    md_warnings, page_foot, page_head, warnings_html,
};
use crate::bundle::{Bundle, SweepPoint, SweepSection};
use crate::wording::{self, group_thousands};

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
                label: format!("knee: {} {}", wording::load(k.load), sw.load_unit),
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
    html_table(&mut o, &context_table(bundle, sweep_settings(sw)));
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
    // Text charts, not the SVG files: a job summary or a PR comment cannot
    // show an image by relative path (the HTML report has the full charts).
    let curve = sorted_curve(sw);
    let knee = sw.knee.as_ref().map(|k| k.load);
    let note = |p: &SweepPoint| {
        if knee == Some(p.load) {
            "← knee".to_owned()
        } else {
            String::new()
        }
    };
    let ttft: Vec<Bar> = curve
        .iter()
        .map(|p| Bar {
            label: wording::load(p.load),
            value: p.ttft_p95_ms,
            text: p
                .ttft_p95_ms
                .map_or("—".to_owned(), |v| wording::value(v, "ms")),
            note: note(p),
        })
        .collect();
    let tput: Vec<Bar> = curve
        .iter()
        .map(|p| Bar {
            label: wording::load(p.load),
            value: Some(p.output_tokens_per_s),
            text: wording::value(p.output_tokens_per_s, "tok/s"),
            note: note(p),
        })
        .collect();
    for (title, rows) in [
        (format!("TTFT p95 by load ({})", sw.load_unit), ttft),
        (format!("output tokens/s by load ({})", sw.load_unit), tput),
    ] {
        // Inside a code block: the load unit is the tool's own word, and
        // the values are numbers.
        if let Some(chart) = bars(&title.replace('`', "'"), &rows) {
            let _ = writeln!(o, "```text\n{chart}\n```\n");
        }
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
            wording::load(safe.load),
            wording::decimals(safe.share * 100.0, 1),
            wording::load(safe.configured_load),
        );
        let mut expect = Vec::new();
        if let Some(t) = safe.ttft_p95_ms {
            expect.push(format!("p95 TTFT {} ms", wording::millis(t)));
        }
        expect.push(format!(
            "{} output tok/s",
            wording::throughput(safe.output_tokens_per_s)
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
        format!("concurrency {}", wording::load(v))
    } else {
        format!("{} {}", wording::load(v), sw.load_unit)
    }
}

fn safe_label(load: f64, share: f64) -> String {
    format!(
        "safe: {} ({} %)",
        wording::load(load),
        wording::decimals(share * 100.0, 1)
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
        Some(v) if signal == "error_rate" || signal == "kv_cache_peak" => wording::share(v),
        Some(v) => format!("{} ms", wording::millis(v)),
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
            let mut load = wording::load(p.load);
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
                wording::share(p.error_rate),
                opt_ms(p.ttft_p50_ms),
                opt_ms(p.ttft_p95_ms),
                opt_ms(p.ttft_p99_ms),
                opt_ms(p.itl_p95_ms),
                wording::throughput(p.output_tokens_per_s),
                wording::request_rate(p.requests_per_s),
            ];
            if queue {
                cells.push(opt_ms(p.server_queue_p95_ms));
            }
            if kv {
                cells.push(p.kv_cache_peak.map_or("—".into(), wording::share));
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
                        .map_or("—".into(), |p| wording::decimals(p.max(0.0), 2)),
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

fn opt_ms(v: Option<f64>) -> String {
    v.map_or("—".into(), wording::millis)
}

/// The sweep's rows of the run table: mode and levels, and the rules that
/// found the bends, the knee and the safe point.
fn sweep_settings(sw: &SweepSection) -> Vec<(&'static str, String)> {
    let r = &sw.rules;
    let mut rules = format!(
        "bend: knee prominence ≥ {} and rise ≥ {}; stop: error rate > {} or throughput gain < {}; safe point: {} of the knee; bisection resolution {}",
        wording::decimals(r.min_prominence, 2),
        wording::share(r.min_rise),
        wording::share(r.error_ceiling),
        wording::share(r.min_throughput_gain),
        wording::share(r.safe_share),
        wording::decimals(r.resolution, 3)
    );
    if let Some(g) = &r.slo_gate {
        let _ = write!(rules, "; SLO gate {g}");
    }
    vec![
        (
            "Sweep",
            format!(
                "{} loop, levels {} ({})",
                sw.mode, sw.strategy, sw.load_unit
            ),
        ),
        ("Rules", rules),
    ]
}
