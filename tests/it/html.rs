//! Sweep and soak reports: the SVG charts are well-formed XML and put the
//! knee where the curve bends; the HTML page is self-contained, escapes
//! hostile bundle text and is byte-identical for the same bundle; the
//! Markdown parses as GFM with links to the page and the charts; and a
//! headless Chromium screenshot of the page shows the knee marker at the
//! knee's x on the first chart.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use quick_xml::events::Event;
use tokengate::bundle::*;
use tokengate::report::chart::{FRAME_COLOR, PLOT_LEFT, PLOT_RIGHT};
use tokengate::report::{
    KNEE_COLOR, ReportError, SAFE_COLOR, soak_charts, soak_html, soak_markdown, sweep_charts,
    sweep_html, sweep_markdown,
};

use super::gate::{Spec, make_bundle};

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

const LEVELS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 10.0, 12.0, 16.0, 24.0, 32.0];
const SLOTS: f64 = 8.0;
const TOKENS: f64 = 128.0;
const PREFILL_MS: f64 = 40.0;

/// One level of a closed loop against a server with 8 batch slots and no
/// think time. Up to 8 users every request is scheduled at once: TTFT is the
/// prefill, ITL grows a little with the batch. Past 8 the server is busy
/// and, by the interactive response-time law R = N/X − Z with Z = 0 (Jain,
/// "The Art of Computer Systems Performance Analysis", 1991, §33.2), each
/// request waits W = S·(N/8 − 1) in the queue: TTFT rises linearly with N
/// while throughput stays flat.
fn queueing_point(c: f64) -> SweepPoint {
    let busy = c.min(SLOTS);
    let itl = 15.0 + 0.6 * busy;
    let service_ms = PREFILL_MS + TOKENS * itl;
    let wait_ms = if c > SLOTS {
        service_ms * (c / SLOTS - 1.0)
    } else {
        0.0
    };
    let ttft_p50 = PREFILL_MS * (1.0 + 0.02 * c) + wait_ms;
    let requests = 200u64;
    let failed = match c as u32 {
        24 => 1,
        32 => 6,
        _ => 0,
    };
    let req_s = busy / (service_ms / 1000.0);
    SweepPoint {
        load: c,
        requests,
        failed,
        error_rate: failed as f64 / requests as f64,
        ttft_p50_ms: Some(ttft_p50),
        ttft_p95_ms: Some(ttft_p50 * 1.25 + wait_ms * 0.1),
        ttft_p99_ms: Some(ttft_p50 * 1.5 + wait_ms * 0.2),
        itl_p50_ms: Some(itl),
        itl_p95_ms: Some(itl * 1.3),
        itl_p99_ms: Some(itl * 1.6),
        e2e_p95_ms: Some((ttft_p50 + TOKENS * itl) * 1.1),
        output_tokens_per_s: req_s * TOKENS,
        requests_per_s: req_s,
        server_queue_p95_ms: Some(0.4 + wait_ms * 1.15),
        server_queue_mean_ms: Some(0.2 + wait_ms),
        kv_cache_peak: Some(0.11 * busy),
        slo_met: Some(ttft_p50 * 1.25 + wait_ms * 0.1 <= 1000.0),
        slo_broken: if ttft_p50 * 1.25 + wait_ms * 0.1 <= 1000.0 {
            vec![]
        } else {
            vec!["ttft_p95_under_1s".into()]
        },
        client_saturated: false,
    }
}

fn lerp(a: &SweepPoint, b: &SweepPoint, x: f64, f: impl Fn(&SweepPoint) -> f64) -> f64 {
    f(a) + (f(b) - f(a)) * (x - a.load) / (b.load - a.load)
}

/// A sweep bundle over the queueing model: knee at 8, safe point 5.6 → 5.
fn sweep_bundle() -> Bundle {
    let curve: Vec<SweepPoint> = LEVELS.iter().map(|&c| queueing_point(c)).collect();
    let (p4, p8) = (&curve[2], &curve[3]);
    let safe_load = 0.7 * 8.0;
    let signals = vec![
        SignalBend {
            signal: "ttft_p95".into(),
            source: "client".into(),
            bend_load: Some(8.0),
            floor: curve[0].ttft_p95_ms,
            at_bend: p8.ttft_p95_ms,
            after_bend: curve[4].ttft_p95_ms,
            prominence: Some(0.46),
            note: "p95 TTFT climbs 412× more steeply after concurrency 8".into(),
        },
        SignalBend {
            signal: "itl_p95".into(),
            source: "client".into(),
            bend_load: None,
            floor: curve[0].itl_p95_ms,
            at_bend: None,
            after_bend: None,
            prominence: None,
            note: "flat once the batch is full: no bend".into(),
        },
        SignalBend {
            signal: "error_rate".into(),
            source: "errors".into(),
            bend_load: Some(16.0),
            floor: Some(0.0),
            at_bend: Some(0.0),
            after_bend: Some(0.005),
            prominence: None,
            note: "errors start after concurrency 16".into(),
        },
        SignalBend {
            signal: "server_queue_p95".into(),
            source: "server".into(),
            bend_load: Some(8.0),
            floor: curve[0].server_queue_p95_ms,
            at_bend: p8.server_queue_p95_ms,
            after_bend: curve[4].server_queue_p95_ms,
            prominence: None,
            note: "queue empty up to 8, then grows linearly".into(),
        },
    ];
    let levels: Vec<Bundle> = LEVELS
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let mut b = make_bundle(&Spec {
                seed: i as u64 + 1,
                requests: 40,
                ..Spec::default()
            });
            if c >= 24.0 {
                b.context
                    .warnings
                    .push("some requests timed out after 30 s".into());
            }
            b
        })
        .collect();
    let section = SweepSection {
        mode: "closed".into(),
        load_unit: "concurrency".into(),
        strategy: "list".into(),
        stop_reason: "last level reached".into(),
        rules: SweepRules {
            min_prominence: 0.1,
            min_rise: 0.2,
            error_ceiling: 0.05,
            min_throughput_gain: 0.1,
            safe_share: 0.7,
            resolution: 1.0,
            slo_gate: Some("slo.yaml".into()),
        },
        knee: Some(Knee {
            load: 8.0,
            first_signal: "ttft_p95".into(),
            signals: vec!["ttft_p95".into(), "server_queue_p95".into()],
            rule: tokengate::sweep::KNEE_RULE.into(),
        }),
        safe: Some(SafePoint {
            share: 0.7,
            load: safe_load,
            configured_load: 5.0,
            ttft_p95_ms: Some(lerp(p4, p8, safe_load, |p| p.ttft_p95_ms.unwrap_or(0.0))),
            itl_p95_ms: Some(lerp(p4, p8, safe_load, |p| p.itl_p95_ms.unwrap_or(0.0))),
            output_tokens_per_s: lerp(p4, p8, safe_load, |p| p.output_tokens_per_s),
            requests_per_s: lerp(p4, p8, safe_load, |p| p.requests_per_s),
            headline_load: 4.0,
        }),
        curve,
        signals,
        levels,
    };
    let mut b = make_bundle(&Spec::default());
    b.sweep = Some(Box::new(section));
    b
}

/// A 2-hour soak at 1-minute intervals: p95 TTFT and server RSS drift up,
/// everything else is flat with seeded noise.
fn soak_bundle() -> Bundle {
    let mut snaps = Vec::new();
    let mut noise = 0x9e37_79b9_7f4a_7c15u64;
    let mut jitter = || {
        // xorshift64 (Marsaglia 2003): deterministic noise in [-1, 1).
        noise ^= noise << 13;
        noise ^= noise >> 7;
        noise ^= noise << 17;
        (noise >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    };
    for i in 0..120 {
        let t_h = (i as f64 + 0.5) / 60.0;
        let failed = if i % 37 == 36 { 1 } else { 0 };
        snaps.push(SoakSnapshot {
            start_s: i as f64 * 60.0,
            end_s: (i + 1) as f64 * 60.0,
            requests: 240,
            failed,
            error_rate: failed as f64 / 240.0,
            ttft_p50_ms: Some(40.0 + 2.0 * jitter()),
            ttft_p95_ms: Some(55.0 + 12.0 * t_h + 3.0 * jitter()),
            tpot_p95_ms: Some(21.0 + 0.5 * jitter()),
            e2e_p95_ms: Some(2900.0 + 40.0 * jitter()),
            output_tokens_per_s: 1800.0 + 30.0 * jitter(),
            client_rss_mib: Some(48.0 + 0.3 * jitter()),
            server_rss_mib: Some(2048.0 + 150.0 * t_h + 5.0 * jitter()),
            server_running: Some(8.0),
            server_waiting: Some((2.0 + jitter()).round()),
            kv_cache_usage: Some(0.62 + 0.02 * jitter()),
        });
    }
    // (series, intercept, slope per hour, drifting, note): the lines the
    // snapshots above were drawn around.
    let trend = |series: &str, intercept: f64, slope: f64, drifting: bool, note: &str| SoakTrend {
        series: series.into(),
        points: 120,
        slope_per_hour: Some(slope),
        intercept: Some(intercept),
        relative_per_hour: Some(slope / 60.0),
        p_value: Some(if drifting { 0.00001 } else { 0.41 }),
        drifting,
        note: note.into(),
    };
    let mut b = make_bundle(&Spec::default());
    b.soak = Some(SoakSection {
        interval_s: 60.0,
        snapshots: snaps,
        trends: vec![
            trend(
                "ttft_p95_ms",
                55.0,
                12.0,
                true,
                "p95 TTFT rises 12 ms per hour (Mann–Kendall p < 0.0001)",
            ),
            trend("error_rate", 0.0, 0.0, false, "no trend in the error rate"),
            trend(
                "output_tokens_per_s",
                1800.0,
                -1.0,
                false,
                "throughput steady",
            ),
            trend("client_rss_mib", 48.0, 0.05, false, "client memory steady"),
            trend(
                "server_rss_mib",
                2048.0,
                150.0,
                true,
                "server RSS grows 150 MiB per hour (Mann–Kendall p < 0.0001)",
            ),
        ],
    });
    b
}

/// The same bundle with hostile text wherever the bundle carries text.
fn hostile(mut b: Bundle) -> Bundle {
    let evil = "<img src=x onerror=alert(1)>";
    b.key.model_version = evil.into();
    b.key.serving_image = "vllm\"><script>alert(2)</script>".into();
    b.context.workload_name = "w | `x` @team [l](https://evil.example/x.png) </title>".into();
    b.context.endpoint = "https://evil.example/v1?q=<b>".into();
    b.context
        .warnings
        .push(format!("{evil} & ![i](http://evil.example/i.png)"));
    if let Some(sw) = b.sweep.as_deref_mut() {
        sw.stop_reason = "<style>body{background:url(http://evil.example/x)}</style>".into();
        if let Some(k) = sw.knee.as_mut() {
            k.rule = "</p><script src=\"https://evil.example/x.js\"></script>".into();
        }
        sw.signals[0].note = "<iframe src=https://evil.example>".into();
    }
    if let Some(sk) = b.soak.as_mut() {
        sk.trends[0].note = format!("{evil} drifting");
        sk.trends.push(SoakTrend {
            series: "<svg onload=alert(3)>".into(),
            points: 3,
            slope_per_hour: Some(1.0),
            intercept: None,
            relative_per_hour: None,
            p_value: None,
            drifting: true,
            note: "unknown series".into(),
        });
    }
    b
}

// ---------------------------------------------------------------------------
// XML helpers
// ---------------------------------------------------------------------------

/// An element of a parsed document: name and attributes (unescaped).
#[derive(Debug)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    /// Names of the enclosing elements, outermost first.
    path: Vec<String>,
}

impl Element {
    fn attr(&self, k: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

struct Doc {
    elements: Vec<Element>,
    /// All character data, unescaped, one string per text node.
    texts: Vec<String>,
}

/// Parses `s` as XML, failing the test on any error, unbalanced or
/// mismatched tag, more than one root, or an entity other than XML's five
/// and numeric character references.
fn parse_xml(what: &str, s: &str) -> Doc {
    let mut reader = quick_xml::Reader::from_str(s);
    let mut stack: Vec<String> = Vec::new();
    let mut roots = 0;
    let mut doc = Doc {
        elements: Vec::new(),
        texts: Vec::new(),
    };
    let mut text = String::new();
    loop {
        let ev = reader.read_event().unwrap_or_else(|e| {
            panic!(
                "{what}: not well-formed XML at {}: {e}",
                reader.buffer_position()
            )
        });
        match ev {
            Event::Start(e) => {
                if stack.is_empty() {
                    roots += 1;
                }
                let el = element(what, &e, &stack);
                stack.push(el.name.clone());
                doc.elements.push(el);
                doc.texts.push(std::mem::take(&mut text));
            }
            Event::Empty(e) => {
                if stack.is_empty() {
                    roots += 1;
                }
                doc.elements.push(element(what, &e, &stack));
            }
            Event::End(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                let open = stack.pop();
                assert_eq!(
                    open.as_deref(),
                    Some(name.as_str()),
                    "{what}: mismatched end tag"
                );
                doc.texts.push(std::mem::take(&mut text));
            }
            Event::Text(t) => text.push_str(&t.decode().expect("utf-8 text")),
            Event::CData(t) => text.push_str(&String::from_utf8_lossy(&t)),
            Event::GeneralRef(r) => {
                if let Some(c) = r.resolve_char_ref().expect("valid character reference") {
                    text.push(c);
                } else {
                    let name = r.decode().expect("utf-8 reference").into_owned();
                    text.push(match name.as_str() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => panic!("{what}: entity &{other}; is not defined in XML"),
                    });
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::DocType(_) | Event::Comment(_) | Event::PI(_) => {}
        }
    }
    assert!(stack.is_empty(), "{what}: unclosed elements {stack:?}");
    assert_eq!(roots, 1, "{what}: expected one root element");
    doc
}

fn element(what: &str, e: &quick_xml::events::BytesStart, stack: &[String]) -> Element {
    let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
    let attrs = e
        .attributes()
        .map(|a| {
            let a = a.unwrap_or_else(|err| panic!("{what}: bad attribute in <{name}>: {err}"));
            (
                String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .unwrap_or_else(|err| panic!("{what}: bad attribute value: {err}"))
                    .into_owned(),
            )
        })
        .collect();
    Element {
        name,
        attrs,
        path: stack.to_vec(),
    }
}

fn num(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

/// The x of the marker line with class `marker {class}`.
fn marker_x(doc: &Doc, class: &str) -> Option<f64> {
    let want = format!("marker {class}");
    doc.elements
        .iter()
        .find(|e| e.name == "line" && e.attr("class") == Some(want.as_str()))
        .map(|e| num(e.attr("x1").expect("x1")))
}

/// Dots' x positions of the first series, in drawing order.
fn first_series_dots(doc: &Doc) -> Vec<f64> {
    let mut series = 0;
    let mut out = Vec::new();
    for e in &doc.elements {
        if e.name == "g" && e.attr("class") == Some("series") {
            series += 1;
            if series > 1 {
                break;
            }
        }
        if series == 1 && e.name == "circle" && e.attr("class") == Some("dot") {
            out.push(num(e.attr("cx").expect("cx")));
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Sweep tests
// ---------------------------------------------------------------------------

#[test]
fn sweep_charts_are_well_formed_and_put_the_knee_between_its_neighbouring_levels() {
    let b = sweep_bundle();
    let charts = sweep_charts(&b);
    let names: Vec<&str> = charts.iter().map(|c| c.file_name).collect();
    assert_eq!(
        names,
        [
            "sweep-ttft.svg",
            "sweep-itl.svg",
            "sweep-throughput.svg",
            "sweep-requests.svg",
            "sweep-server-queue.svg",
            "sweep-kv-cache.svg",
            "sweep-errors.svg"
        ]
    );
    for c in &charts {
        let doc = parse_xml(c.file_name, &c.svg);
        assert_eq!(doc.elements[0].name, "svg");
        assert_eq!(doc.elements[0].attr("viewBox"), Some("0 0 960 430"));
        // Every chart marks the knee (at 8 of 9 levels: the 4th dot) and the
        // safe point (5.6: between the dots of 4 and 8).
        let dots = first_series_dots(&doc);
        assert_eq!(dots.len(), LEVELS.len(), "{}", c.file_name);
        let knee = marker_x(&doc, "knee").expect("knee marker");
        assert!(
            dots[2] < knee && knee < dots[4],
            "{}: knee {knee} vs {dots:?}",
            c.file_name
        );
        assert!(
            (knee - dots[3]).abs() < 0.02,
            "{}: knee {knee} vs dot {}",
            c.file_name,
            dots[3]
        );
        let safe = marker_x(&doc, "safe").expect("safe marker");
        let expected = dots[2] + (dots[3] - dots[2]) * (5.6 - 4.0) / (8.0 - 4.0);
        assert!(
            (safe - expected).abs() < 0.05,
            "{}: safe {safe} vs {expected}",
            c.file_name
        );
        // The shaded band starts at the knee and runs to the plot's right edge.
        let band = doc
            .elements
            .iter()
            .find(|e| e.attr("class") == Some("band"))
            .expect("band past the knee");
        let bx = num(band.attr("x").expect("x"));
        let bw = num(band.attr("width").expect("width"));
        assert!((bx - knee).abs() < 0.02 && (bx + bw - PLOT_RIGHT).abs() < 0.02);
        let labels: Vec<&str> = doc.texts.iter().map(String::as_str).collect();
        assert!(labels.contains(&"knee: 8 concurrency"), "{labels:?}");
        assert!(labels.contains(&"safe: 5.6 (70 %)"), "{labels:?}");
    }
    // The TTFT chart's p95 dots climb after the knee: it is drawn from the
    // curve, not from a template.
    let doc = parse_xml("ttft", &charts[0].svg);
    let ys: Vec<f64> = doc
        .elements
        .iter()
        .filter(|e| e.name == "circle" && e.attr("class") == Some("dot"))
        .skip(LEVELS.len())
        .take(LEVELS.len())
        .map(|e| num(e.attr("cy").expect("cy")))
        .collect();
    assert!(
        ys[3] - ys[8] > 120.0,
        "p95 should climb far up the chart: {ys:?}"
    );
    assert!(
        (ys[0] - ys[3]).abs() < 10.0,
        "p95 should be flat before the knee: {ys:?}"
    );
}

#[test]
fn sweep_charts_leave_out_server_and_error_charts_without_their_data() {
    let mut b = sweep_bundle();
    let sw = b.sweep.as_deref_mut().expect("sweep");
    for p in &mut sw.curve {
        p.server_queue_p95_ms = None;
        p.server_queue_mean_ms = None;
        p.kv_cache_peak = None;
        p.failed = 0;
        p.error_rate = 0.0;
    }
    let names: Vec<&str> = sweep_charts(&b).iter().map(|c| c.file_name).collect();
    assert_eq!(
        names,
        [
            "sweep-ttft.svg",
            "sweep-itl.svg",
            "sweep-throughput.svg",
            "sweep-requests.svg"
        ]
    );
}

#[test]
fn sweep_html_is_self_contained_and_says_where_the_knee_is() {
    let b = sweep_bundle();
    let html = sweep_html(&b).expect("html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    let doc = parse_xml("sweep.html", &html);
    assert_self_contained(&doc);
    assert!(!html.contains("http://") && !html.contains("https://"));
    let text = doc.texts.join(" ");
    let expect_ttft = b
        .sweep
        .as_ref()
        .and_then(|s| s.safe.as_ref())
        .and_then(|s| s.ttft_p95_ms);
    let headline = format!(
        "Knee at concurrency 8 — first signal: p95 TTFT (client). Safe operating point: 5.6 (70 %) → configure 5; expected p95 TTFT {} ms,",
        expect_ttft.map(|v| format!("{v:.0}")).unwrap_or_default()
    );
    assert!(
        text.contains(&headline),
        "headline missing: {headline}\n{text}"
    );
    for needle in [
        "8 (knee)",
        "4 (headline)",
        "broken: ttft_p95_under_1s",
        "0.46",
        "Stop reason:",
        "last level reached",
        "first knee of Kneedle's difference curve",
        "llama-3.1-8b@2024-07",
        "1xH100-80GB",
        "2026-11-27T10:00:00Z",
        "at concurrency 24: some requests timed out after 30 s",
    ] {
        assert!(text.contains(needle), "missing {needle:?}");
    }
    // Seven inline charts.
    assert_eq!(doc.elements.iter().filter(|e| e.name == "svg").count(), 7);
}

/// No script, no event handler, no element that loads anything, no URL in
/// an attribute or a style sheet.
fn assert_self_contained(doc: &Doc) {
    for e in &doc.elements {
        assert!(
            ![
                "script",
                "img",
                "iframe",
                "object",
                "embed",
                "link",
                "image",
                "use",
                "foreignObject"
            ]
            .contains(&e.name.as_str()),
            "element <{}> in the page",
            e.name
        );
        for (k, v) in &e.attrs {
            assert!(!k.starts_with("on"), "event handler {k} on <{}>", e.name);
            assert!(
                !matches!(
                    k.as_str(),
                    "src" | "href" | "xlink:href" | "action" | "srcset"
                ),
                "attribute {k}={v:?} on <{}>",
                e.name
            );
            let lower = v.to_ascii_lowercase();
            assert!(
                !lower.contains("http:") && !lower.contains("https:") && !lower.contains("url("),
                "URL in {k}={v:?} on <{}>",
                e.name
            );
        }
    }
}

#[test]
fn sweep_html_escapes_a_hostile_model_name_and_other_bundle_text() {
    let b = hostile(sweep_bundle());
    let html = sweep_html(&b).expect("html");
    let doc = parse_xml("hostile sweep.html", &html);
    assert_self_contained(&doc);
    assert!(!html.contains("<img"));
    assert!(!html.contains("<script"));
    assert!(!html.contains("<iframe"));
    assert_eq!(
        html.matches("<style>").count(),
        1,
        "only the page's own style sheet"
    );
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    // The hostile strings are shown as text, intact.
    let text = doc.texts.join("\n");
    assert!(text.contains("<img src=x onerror=alert(1)>"));
    assert!(text.contains("https://evil.example/v1?q=<b>"));
    // URLs appear only as text: the style sheet holds none.
    let css_start = html.find("<style>").expect("style");
    let css_end = html.find("</style>").expect("style end");
    assert!(!html[css_start..css_end].contains("url("));
}

#[test]
fn sweep_reports_are_byte_identical_for_the_same_bundle() {
    let a = sweep_bundle();
    let b = sweep_bundle();
    assert_eq!(sweep_html(&a).expect("html"), sweep_html(&b).expect("html"));
    assert_eq!(
        sweep_markdown(&a, "sweep.html"),
        sweep_markdown(&b, "sweep.html")
    );
    assert_eq!(sweep_charts(&a), sweep_charts(&b));
    // Through a JSON round trip too (what the lead's command reads back).
    let json = serde_json::to_string(&a).expect("serialize");
    let back: Bundle = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(
        sweep_html(&a).expect("html"),
        sweep_html(&back).expect("html")
    );
}

/// Links, images, tables and raw HTML of a Markdown text (GFM).
struct Md {
    links: Vec<String>,
    images: Vec<String>,
    tables: usize,
    raw_html: Vec<String>,
}

fn parse_md(md: &str) -> Md {
    use pulldown_cmark::{Options, Parser, Tag};
    let mut out = Md {
        links: vec![],
        images: vec![],
        tables: 0,
        raw_html: vec![],
    };
    let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    for ev in Parser::new_ext(md, opts) {
        match ev {
            pulldown_cmark::Event::Start(Tag::Link { dest_url, .. }) => {
                out.links.push(dest_url.to_string())
            }
            pulldown_cmark::Event::Start(Tag::Image { dest_url, .. }) => {
                out.images.push(dest_url.to_string())
            }
            pulldown_cmark::Event::Start(Tag::Table(_)) => out.tables += 1,
            pulldown_cmark::Event::Html(h) | pulldown_cmark::Event::InlineHtml(h) => {
                out.raw_html.push(h.to_string())
            }
            _ => {}
        }
    }
    out
}

#[test]
fn sweep_markdown_links_the_html_report_and_draws_its_charts_as_text() {
    let b = sweep_bundle();
    let md = sweep_markdown(&b, "sweep.html");
    if let Ok(dir) = std::env::var("TOKENGATE_SCREENSHOT_DIR") {
        std::fs::write(Path::new(&dir).join("sweep.md"), &md).expect("write markdown");
        for c in sweep_charts(&b) {
            std::fs::write(Path::new(&dir).join(c.file_name), &c.svg).expect("write chart");
        }
    }
    let parsed = parse_md(&md);
    assert_eq!(parsed.links, ["sweep.html"]);
    // No image by relative path: a job summary cannot show one. The charts
    // are text in code blocks, one bar per level, the knee marked.
    assert!(parsed.images.is_empty(), "{:?}", parsed.images);
    assert_eq!(parsed.tables, 2, "levels and signals");
    assert!(parsed.raw_html.is_empty(), "{:?}", parsed.raw_html);
    assert!(md.contains("[Charts](sweep.html)"));
    let curve = &b.sweep.as_ref().expect("sweep").curve;
    let ttft_chart = md
        .split("```text\nTTFT p95 by load (")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a TTFT text chart");
    assert_eq!(ttft_chart.lines().count(), 1 + curve.len(), "{ttft_chart}");
    assert_eq!(ttft_chart.matches("← knee").count(), 1, "{ttft_chart}");
    assert!(md.contains("```text\noutput tokens/s by load ("));
    assert!(md.contains("**Knee at concurrency 8 — first signal: p95 TTFT (client)."));

    // Hostile text stays text: the only link and images are ours.
    let hb = hostile(sweep_bundle());
    let md = sweep_markdown(&hb, "my sweep (1).html");
    let parsed = parse_md(&md);
    assert_eq!(parsed.links, ["my%20sweep%20%281%29.html"]);
    assert!(parsed.images.is_empty());
    assert!(parsed.raw_html.is_empty(), "{:?}", parsed.raw_html);
    assert!(md.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(!md.contains("@team"));
}

#[test]
fn without_a_knee_the_report_says_so_and_still_charts_the_curve() {
    let mut b = sweep_bundle();
    let sw = b.sweep.as_deref_mut().expect("sweep");
    sw.knee = None;
    sw.safe = None;
    for s in &mut sw.signals {
        s.bend_load = None;
    }
    let charts = sweep_charts(&b);
    assert!(!charts.is_empty());
    for c in &charts {
        let doc = parse_xml(c.file_name, &c.svg);
        assert_eq!(marker_x(&doc, "knee"), None);
        assert!(!doc.elements.iter().any(|e| e.attr("class") == Some("band")));
        assert_eq!(first_series_dots(&doc).len(), LEVELS.len());
    }
    let html = sweep_html(&b).expect("html");
    assert!(html.contains(
        "No knee found between concurrency 1 and concurrency 32: no signal (p95 TTFT, p95 ITL, error rate, server queue time, KV cache) bent in the measured range."
    ));
    assert!(sweep_markdown(&b, "sweep.html").contains("No knee found"));
}

#[test]
fn an_empty_curve_gives_no_charts_and_a_missing_section_is_an_error() {
    let mut b = sweep_bundle();
    let sw = b.sweep.as_deref_mut().expect("sweep");
    sw.curve.clear();
    sw.levels.clear();
    sw.knee = None;
    sw.safe = None;
    assert!(sweep_charts(&b).is_empty());
    let html = sweep_html(&b).expect("html");
    parse_xml("empty sweep.html", &html);
    assert!(html.contains("The sweep measured no levels."));
    let plain = make_bundle(&Spec::default());
    assert!(sweep_charts(&plain).is_empty());
    assert!(soak_charts(&plain).is_empty());
    let err = sweep_html(&plain).expect_err("no sweep section");
    assert!(matches!(
        err,
        ReportError::MissingSection { section: "sweep" }
    ));
    assert_eq!(
        err.to_string(),
        "the bundle has no `sweep` section (it was not written by `tokengate sweep`)"
    );
    assert!(matches!(
        soak_html(&plain),
        Err(ReportError::MissingSection { section: "soak" })
    ));
}

#[test]
fn open_loop_sweeps_label_the_knee_in_requests_per_second() {
    let mut b = sweep_bundle();
    let sw = b.sweep.as_deref_mut().expect("sweep");
    sw.mode = "open".into();
    sw.load_unit = "req/s".into();
    for p in &mut sw.curve {
        p.load *= 1.5625;
    }
    if let Some(k) = sw.knee.as_mut() {
        k.load = 12.5;
    }
    if let Some(s) = sw.safe.as_mut() {
        s.load = 8.75;
        s.configured_load = 8.75;
        s.headline_load = 6.25;
    }
    let charts = sweep_charts(&b);
    assert!(charts[0].svg.contains(">knee: 12.5 req/s<"));
    let html = sweep_html(&b).expect("html");
    assert!(html.contains(
        "Knee at 12.5 req/s — first signal: p95 TTFT (client). Safe operating point: 8.75 req/s (70 %) → configure 8.75 req/s;"
    ));
}

// ---------------------------------------------------------------------------
// Soak tests
// ---------------------------------------------------------------------------

#[test]
fn soak_charts_draw_trend_lines_only_for_drifting_series() {
    let b = soak_bundle();
    let charts = soak_charts(&b);
    let names: Vec<&str> = charts.iter().map(|c| c.file_name).collect();
    assert_eq!(
        names,
        [
            "soak-ttft.svg",
            "soak-e2e.svg",
            "soak-errors.svg",
            "soak-throughput.svg",
            "soak-client-memory.svg",
            "soak-server-memory.svg",
            "soak-server.svg",
            "soak-kv-cache.svg"
        ]
    );
    let mut trend_charts = Vec::new();
    for c in &charts {
        let doc = parse_xml(c.file_name, &c.svg);
        let trends: Vec<&Element> = doc
            .elements
            .iter()
            .filter(|e| {
                e.name == "g"
                    && e.attr("class") == Some("series")
                    && e.attr("data-name").is_some_and(|n| n.contains(" trend "))
            })
            .collect();
        if !trends.is_empty() {
            trend_charts.push(c.file_name);
        }
        // 120 snapshots: every plain series has 120 dots.
        assert_eq!(first_series_dots(&doc).len(), 120, "{}", c.file_name);
    }
    assert_eq!(trend_charts, ["soak-ttft.svg", "soak-server-memory.svg"]);

    // The TTFT trend line: dashed, no dots, and it rises (y decreases in
    // SVG) by about 12 ms/h × (119/60) h on the chart's own scale.
    let ttft = &charts[0];
    let seg = ttft
        .svg
        .split("data-name=\"p95 TTFT trend (+12 ms/h)\">")
        .nth(1)
        .expect("trend group");
    let path = seg.split("</g>").next().expect("group end");
    assert!(path.contains("stroke-dasharray"));
    assert!(!path.contains("<circle"));
    let d = path
        .split("d=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("path d");
    let coords: Vec<f64> = d
        .split(['M', 'L', ',', ' '])
        .filter(|s| !s.is_empty())
        .map(num)
        .collect();
    assert_eq!(coords.len(), 4, "{d}");
    assert!(coords[1] > coords[3], "the trend line rises: {d}");
}

#[test]
fn the_trend_line_is_drawn_from_the_stored_intercept_and_slope() {
    let path_of = |b: &Bundle| -> Option<String> {
        let ttft = soak_charts(b).into_iter().next().expect("ttft chart");
        let seg = ttft.svg.split("p95 TTFT trend (+12 ms/h)\">").nth(1)?;
        Some(seg.split("</g>").next()?.to_owned())
    };
    let b = soak_bundle();
    let drawn = path_of(&b).expect("a drifting series with a stored line");
    // A higher intercept moves the whole line up (smaller y in SVG).
    let mut higher = soak_bundle();
    higher.soak.as_mut().expect("soak").trends[0].intercept = Some(60.0);
    let moved = path_of(&higher).expect("line");
    let start_y = |p: &str| -> f64 {
        let d = p.split("d=\"M").nth(1).expect("path");
        num(d.split([',', ' ']).nth(1).expect("y"))
    };
    assert!(start_y(&moved) < start_y(&drawn), "{drawn}\n{moved}");
    // A bundle written before the intercept was stored draws no line (the
    // report does not refit the trend), but still names the drift.
    let mut old = soak_bundle();
    old.soak.as_mut().expect("soak").trends[0].intercept = None;
    assert_eq!(path_of(&old), None);
    assert!(soak_html(&old).expect("html").contains("p95 TTFT +12 ms/h"));
}

#[test]
fn soak_html_and_markdown_show_drift_trends_and_snapshots() {
    let b = soak_bundle();
    let html = soak_html(&b).expect("html");
    let doc = parse_xml("soak.html", &html);
    assert_self_contained(&doc);
    let text = doc.texts.join(" ");
    for needle in [
        "Soak at concurrency 4: 120 intervals of 60 s (120 min), 28,800 requests,",
        "Drifting: p95 TTFT +12 ms/h (p < 0.0001); server RSS +150 MiB/h (p < 0.0001).",
        "p95 TTFT rises 12 ms per hour (Mann–Kendall p < 0.0001)",
        "server RSS grows 150 MiB per hour",
        "no trend in the error rate",
        "119–120",
    ] {
        assert!(text.contains(needle), "missing {needle:?}");
    }
    // One table row per snapshot in the page.
    let rows = doc
        .elements
        .iter()
        .filter(|e| e.name == "tr" && e.path.iter().any(|p| p == "tbody"))
        .count();
    assert_eq!(rows, 5 + 120 + 10, "trends + snapshots + run fields");
    assert_eq!(html, soak_html(&soak_bundle()).expect("html"));

    let md = soak_markdown(&b, "soak.html");
    let parsed = parse_md(&md);
    assert_eq!(parsed.links, ["soak.html"]);
    assert_eq!(parsed.images.len(), 8);
    assert_eq!(parsed.tables, 2);
    assert!(md.contains("60 of 120 snapshots, evenly spaced"));
    assert_eq!(md, soak_markdown(&soak_bundle(), "soak.html"));

    let hb = hostile(soak_bundle());
    let html = soak_html(&hb).expect("html");
    assert_self_contained(&parse_xml("hostile soak.html", &html));
    assert!(!html.contains("<img") && !html.contains("<svg onload"));
    let parsed = parse_md(&soak_markdown(&hb, "soak.html"));
    assert!(parsed.raw_html.is_empty(), "{:?}", parsed.raw_html);
    assert_eq!(parsed.links, ["soak.html"]);
}

// ---------------------------------------------------------------------------
// Screenshot
// ---------------------------------------------------------------------------

const CHROMIUM: &str = "/usr/bin/chromium";

/// Why the screenshot tests are `#[ignore]`d in a plain `cargo test`: they
/// need a browser, so they show as ignored (with this reason) in the
/// runner's summary instead of passing without looking; `.ci/run` installs
/// Chromium and runs them with `--ignored chromium`.
const NEEDS_CHROMIUM: &str =
    "needs Chromium at /usr/bin/chromium: cargo test --test it -- --ignored chromium";

/// Renders `html` with headless Chromium. A missing Chromium is a failure:
/// these tests only run when asked for (`--ignored`).
fn screenshot(html: &str, name: &str) -> (u32, u32, Vec<[u8; 3]>) {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is not installed ({NEEDS_CHROMIUM})"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join(format!("{name}.html"));
    std::fs::write(&page, html).expect("write page");
    let shot = dir.path().join("shot.png");
    let profile = dir.path().join("profile");
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--force-color-profile=srgb",
            "--force-device-scale-factor=1",
            "--hide-scrollbars",
            "--window-size=1280,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        match child.try_wait().expect("wait for chromium") {
            Some(_) => break,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish within 90 s");
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    // For a person to look at: TOKENGATE_SCREENSHOT_DIR keeps the page and
    // its screenshot.
    if let Ok(dir) = std::env::var("TOKENGATE_SCREENSHOT_DIR") {
        std::fs::copy(&shot, Path::new(&dir).join(format!("{name}-shot.png")))
            .expect("copy the screenshot");
        std::fs::write(Path::new(&dir).join(format!("{name}.html")), html).expect("copy the page");
    }
    let file = std::fs::File::open(&shot).expect("chromium wrote no screenshot");
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("buffer size")];
    let info = reader.next_frame(&mut buf).expect("png frame");
    let channels = info.color_type.samples();
    assert!(
        channels >= 3,
        "colour screenshot expected, got {:?}",
        info.color_type
    );
    let px = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|c| [c[0], c[1], c[2]])
        .collect();
    (info.width, info.height, px)
}

fn rgb(hex: &str) -> [u8; 3] {
    let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).expect("hex colour");
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

fn near(a: [u8; 3], b: [u8; 3], tol: i32) -> bool {
    a.iter()
        .zip(b)
        .all(|(&x, y)| (i32::from(x) - i32::from(y)).abs() <= tol)
}

/// For each column, the longest vertical run of pixels matching `f`, with
/// its top row, within rows `rows`.
fn column_runs(
    w: u32,
    h: u32,
    px: &[[u8; 3]],
    rows: std::ops::Range<u32>,
    f: impl Fn([u8; 3]) -> bool,
) -> Vec<(u32, u32)> {
    (0..w)
        .map(|x| {
            let (mut best, mut best_top, mut run, mut top) = (0, 0, 0, 0);
            for y in rows.start..rows.end.min(h) {
                if f(px[(y * w + x) as usize]) {
                    if run == 0 {
                        top = y;
                    }
                    run += 1;
                    if run > best {
                        best = run;
                        best_top = top;
                    }
                } else {
                    run = 0;
                }
            }
            (best, best_top)
        })
        .collect()
}

#[test]
#[ignore = "needs Chromium at /usr/bin/chromium: cargo test --test it -- --ignored chromium"]
fn a_chromium_screenshot_shows_the_knee_marker_where_the_knee_is() {
    let b = sweep_bundle();
    let html = sweep_html(&b).expect("html");
    let (w, h, px) = screenshot(&html, "sweep");
    assert_eq!((w, h), (1280, 2400));
    // Not blank: plenty of non-white pixels in many colours.
    let inked = px.iter().filter(|p| !near(**p, [255, 255, 255], 8)).count();
    assert!(
        inked > (w * h / 20) as usize,
        "page looks blank: {inked} inked pixels"
    );

    // The knee line: long vertical runs of the knee colour. The topmost one
    // belongs to the first chart (TTFT).
    let knee_rgb = rgb(KNEE_COLOR);
    let runs = column_runs(w, h, &px, 0..h, |p| near(p, knee_rgb, 24));
    let longest = runs.iter().map(|r| r.0).max().unwrap_or(0);
    assert!(
        longest > 150,
        "no knee line in the screenshot (longest run {longest})"
    );
    let top = runs
        .iter()
        .filter(|r| r.0 > longest * 9 / 10)
        .map(|r| r.1)
        .min()
        .expect("a knee line");
    let knee_cols: Vec<u32> = (0..w)
        .filter(|&x| {
            let r = runs[x as usize];
            r.0 > longest * 9 / 10 && r.1.abs_diff(top) <= 3
        })
        .collect();
    let knee_px = knee_cols.iter().sum::<u32>() as f64 / knee_cols.len() as f64;

    // The first chart's plot frame: the leftmost and rightmost long dark
    // grey vertical runs in the rows of that knee line.
    let frame = rgb(FRAME_COLOR);
    let rows = top..top + longest;
    let fruns = column_runs(w, h, &px, rows, |p| {
        near(p, frame, 60) && p[0].abs_diff(p[2]) < 12
    });
    let frame_cols: Vec<u32> = (0..w)
        .filter(|&x| fruns[x as usize].0 > longest * 9 / 10)
        .collect();
    let (left, right) = (
        *frame_cols.first().expect("plot frame, left edge"),
        *frame_cols.last().expect("plot frame, right edge"),
    );
    assert!(right > left + 400, "frame {left}..{right}");
    let measured = (knee_px - left as f64) / (right - left) as f64;

    // Where the chart itself put the knee, on its own scale.
    let charts = sweep_charts(&b);
    let doc = parse_xml("ttft", &charts[0].svg);
    let knee_svg = marker_x(&doc, "knee").expect("knee marker");
    let expected = (knee_svg - PLOT_LEFT) / (PLOT_RIGHT - PLOT_LEFT);
    assert!(
        (measured - expected).abs() < 0.01,
        "knee at {knee_px} px in a frame {left}..{right}: fraction {measured:.4}, chart says {expected:.4}"
    );
    // And the safe marker's green is on the page.
    let safe_rgb = rgb(SAFE_COLOR);
    let safe = px.iter().filter(|p| near(**p, safe_rgb, 24)).count();
    assert!(
        safe > 200,
        "safe marker colour barely present: {safe} pixels"
    );
}

#[test]
#[ignore = "needs Chromium at /usr/bin/chromium: cargo test --test it -- --ignored chromium"]
fn a_chromium_screenshot_of_the_soak_report_is_not_blank() {
    let b = soak_bundle();
    let html = soak_html(&b).expect("html");
    let (w, h, px) = screenshot(&html, "soak");
    let inked = px.iter().filter(|p| !near(**p, [255, 255, 255], 8)).count();
    assert!(
        inked > (w * h / 20) as usize,
        "page looks blank: {inked} inked pixels"
    );
    let frame = rgb(FRAME_COLOR);
    let runs = column_runs(w, h, &px, 0..h, |p| {
        near(p, frame, 60) && p[0].abs_diff(p[2]) < 12
    });
    let frames = runs.iter().filter(|r| r.0 > 200).count();
    assert!(frames >= 2, "no chart frame in the soak screenshot");
}

// ---------------------------------------------------------------------------
// Odd numbers and text: never a panic, always well-formed output
// ---------------------------------------------------------------------------

mod odd_inputs {
    use proptest::prelude::*;

    use super::*;

    /// Values a hand-edited or corrupted bundle could hold, the awkward
    /// ones over-represented.
    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(0.0),
            Just(-0.0),
            Just(1e300),
            Just(-1e-300),
            Just(5e-310),
            -1e6..1e6f64,
            0.0..100.0f64,
        ]
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("<script>x</script>".to_string()),
            Just("]]>&amp;&#0;\u{0}\u{7}\u{feff}".to_string()),
            Just("a | b\n`c` @d".to_string()),
            "[ -~]{0,16}".prop_map(|s| s),
            any::<String>(),
        ]
    }

    fn point() -> impl Strategy<Value = SweepPoint> {
        (
            value(),
            prop::collection::vec(prop::option::of(value()), 10),
            value(),
            value(),
            any::<u64>(),
            text(),
        )
            .prop_map(|(load, v, tok, err, failed, broken)| SweepPoint {
                load,
                requests: failed.saturating_add(3),
                failed,
                error_rate: err,
                ttft_p50_ms: v[0],
                ttft_p95_ms: v[1],
                ttft_p99_ms: v[2],
                itl_p50_ms: v[3],
                itl_p95_ms: v[4],
                itl_p99_ms: v[5],
                e2e_p95_ms: v[6],
                output_tokens_per_s: tok,
                requests_per_s: tok,
                server_queue_p95_ms: v[7],
                server_queue_mean_ms: v[8],
                kv_cache_peak: v[9],
                slo_met: Some(failed % 2 == 0),
                slo_broken: vec![broken],
                client_saturated: failed % 3 == 0,
            })
    }

    fn snapshot() -> impl Strategy<Value = SoakSnapshot> {
        (
            value(),
            value(),
            prop::collection::vec(prop::option::of(value()), 9),
            value(),
        )
            .prop_map(|(start, len, v, err)| SoakSnapshot {
                start_s: start,
                end_s: start + len,
                requests: 10,
                failed: 1,
                error_rate: err,
                ttft_p50_ms: v[0],
                ttft_p95_ms: v[1],
                tpot_p95_ms: v[2],
                e2e_p95_ms: v[3],
                output_tokens_per_s: len,
                client_rss_mib: v[4],
                server_rss_mib: v[5],
                server_running: v[6],
                server_waiting: v[7],
                kv_cache_usage: v[8],
            })
    }

    /// Well-formed, and every coordinate is a plain decimal number inside
    /// a sane range (no NaN, no infinity, no exponent).
    fn check_svg(what: &str, svg: &str) {
        let doc = parse_xml(what, svg);
        for e in &doc.elements {
            for (k, v) in &e.attrs {
                let coords: Vec<&str> = match k.as_str() {
                    "x" | "y" | "x1" | "y1" | "x2" | "y2" | "cx" | "cy" | "r" | "width"
                    | "height" => vec![v.as_str()],
                    "d" => v
                        .split(['M', 'L', ',', ' '])
                        .filter(|s| !s.is_empty())
                        .collect(),
                    _ => continue,
                };
                for c in coords {
                    let ok = c.parse::<f64>().is_ok_and(|n| n.abs() < 1e7)
                        && c.bytes()
                            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-');
                    assert!(ok, "{what}: {k}={v:?} on <{}>", e.name);
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 64,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn sweep_reports_never_panic_and_stay_well_formed(
            curve in prop::collection::vec(point(), 0..10),
            knee in prop::option::of(value()),
            safe in prop::option::of(value()),
            words in prop::collection::vec(text(), 4),
        ) {
            let mut b = sweep_bundle();
            b.key.model_version = words[0].clone();
            let sw = b.sweep.as_deref_mut().expect("sweep");
            sw.curve = curve;
            sw.levels.clear();
            sw.stop_reason = words[1].clone();
            sw.load_unit = words[2].clone();
            if let Some(k) = sw.knee.as_mut() {
                k.rule = words[3].clone();
            }
            match knee {
                Some(k) => if let Some(kn) = sw.knee.as_mut() { kn.load = k },
                None => sw.knee = None,
            }
            match safe {
                Some(s) => if let Some(sp) = sw.safe.as_mut() { sp.load = s; sp.ttft_p95_ms = Some(s) },
                None => sw.safe = None,
            }
            for c in sweep_charts(&b) {
                check_svg(c.file_name, &c.svg);
            }
            let html = sweep_html(&b).expect("html");
            assert_self_contained(&parse_xml("sweep.html", &html));
            let md = parse_md(&sweep_markdown(&b, "sweep.html"));
            prop_assert_eq!(md.links, vec!["sweep.html".to_string()]);
            prop_assert!(md.raw_html.is_empty(), "{:?}", md.raw_html);
        }

        #[test]
        fn soak_reports_never_panic_and_stay_well_formed(
            snaps in prop::collection::vec(snapshot(), 0..30),
            slope in value(),
            series in text(),
        ) {
            let mut b = soak_bundle();
            let sk = b.soak.as_mut().expect("soak");
            sk.snapshots = snaps;
            for t in &mut sk.trends {
                t.slope_per_hour = Some(slope);
            }
            sk.trends[2].series = series;
            sk.trends[2].drifting = true;
            for c in soak_charts(&b) {
                check_svg(c.file_name, &c.svg);
            }
            let html = soak_html(&b).expect("html");
            assert_self_contained(&parse_xml("soak.html", &html));
            let md = parse_md(&soak_markdown(&b, "soak.html"));
            prop_assert_eq!(md.links, vec!["soak.html".to_string()]);
            prop_assert!(md.raw_html.is_empty(), "{:?}", md.raw_html);
        }
    }
}
