//! A baseline set's history as series — p50/p95 TTFT and ITL and output
//! tokens/s per promoted run — with their change points (E-divisive means,
//! [`crate::stats::e_divisive`]), so a slow drift that no single pull
//! request crossed shows up; and its report: a text table, SVG charts with
//! the change points marked, and `history.json`.

use std::fmt::Write as _;

use serde::Serialize;

use crate::baseline::SetHistory;
use crate::export::measures::summary;
use crate::report::chart::{Axis, LineChart, Marker, Series};
use crate::stats::{EDivisive, e_divisive};

/// The measures a history follows: (measure id of
/// [`crate::export::measures`], label, unit).
pub const HISTORY_MEASURES: [(&str, &str, &str); 5] = [
    ("ttft_p50", "TTFT p50", "ms"),
    ("ttft_p95", "TTFT p95", "ms"),
    ("itl_p50", "ITL p50", "ms"),
    ("itl_p95", "ITL p95", "ms"),
    ("output_tokens_per_s", "output tok/s", "tokens/s"),
];

/// One run's row.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryRow {
    /// 1-based, oldest first.
    pub run: usize,
    pub promoted: Option<String>,
    pub commit: Option<String>,
    pub location: String,
    /// Per measure of [`HISTORY_MEASURES`], in that order.
    pub values: Vec<Option<f64>>,
}

/// A shift found in one measure.
#[derive(Debug, Clone, Serialize)]
pub struct Shift {
    pub measure: &'static str,
    /// The first run (1-based) after the shift.
    pub run: usize,
    /// Mean of the measure from the previous change point (or the start) to
    /// this one, and from this one to the next (or the end).
    pub mean_before: f64,
    pub mean_after: f64,
    /// mean_after / mean_before − 1; `None` when the mean before is 0.
    pub change: Option<f64>,
    pub p_value: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryReport {
    pub set: String,
    pub rows: Vec<HistoryRow>,
    pub shifts: Vec<Shift>,
    pub settings: Settings,
}

/// The change-point settings, written with the result so it can be redone.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub method: &'static str,
    pub alpha: f64,
    pub significance: f64,
    pub permutations: u32,
    pub min_size: usize,
    pub seed: u64,
}

/// The rows and change points of a set's history.
pub fn analyse(h: &SetHistory, cfg: &EDivisive) -> HistoryReport {
    let rows: Vec<HistoryRow> = h
        .runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let measures = summary(&r.run.bundle);
            HistoryRow {
                run: i + 1,
                promoted: r.run.order_time().map(crate::timefmt::format_rfc3339),
                commit: r.commit.clone(),
                location: r.run.location.clone(),
                values: HISTORY_MEASURES
                    .iter()
                    .map(|(id, _, _)| measures.iter().find(|m| m.id == *id).map(|m| m.value))
                    .collect(),
            }
        })
        .collect();
    let mut shifts = Vec::new();
    for (k, (id, _, _)) in HISTORY_MEASURES.iter().enumerate() {
        // Runs without the measure are left out of its series, not imputed.
        let (runs, values): (Vec<usize>, Vec<f64>) = rows
            .iter()
            .filter_map(|r| r.values[k].map(|v| (r.run, v)))
            .unzip();
        let cps = e_divisive(&values, cfg);
        let mut edges: Vec<usize> = vec![0];
        edges.extend(cps.iter().map(|c| c.index));
        edges.push(values.len());
        let mean = |a: usize, b: usize| values[a..b].iter().sum::<f64>() / (b - a) as f64;
        for (j, c) in cps.iter().enumerate() {
            let (before, after) = (
                mean(edges[j], edges[j + 1]),
                mean(edges[j + 1], edges[j + 2]),
            );
            shifts.push(Shift {
                measure: id,
                run: runs[c.index],
                mean_before: before,
                mean_after: after,
                change: (before != 0.0).then(|| after / before - 1.0),
                p_value: c.p_value,
            });
        }
    }
    HistoryReport {
        set: h.location.clone(),
        rows,
        shifts,
        settings: Settings {
            method: "e-divisive means (Matteson & James 2014)",
            alpha: cfg.alpha,
            significance: cfg.significance,
            permutations: cfg.permutations,
            min_size: cfg.min_size,
            seed: cfg.seed,
        },
    }
}

fn label_of(measure: &str) -> &'static str {
    HISTORY_MEASURES
        .iter()
        .find(|(id, _, _)| *id == measure)
        .map_or("", |m| m.1)
}

fn unit_of(measure: &str) -> &'static str {
    HISTORY_MEASURES
        .iter()
        .find(|(id, _, _)| *id == measure)
        .map_or("", |m| m.2)
}

/// The table and the change points as text (foreign parts — locations,
/// commits — are printed through the Outcome's neutraliser by the caller).
pub fn render_text(r: &HistoryReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>4}  {:<20}  {:<8}  {:>9}  {:>9}  {:>8}  {:>8}  {:>12}",
        "run", "promoted", "commit", "TTFT p50", "TTFT p95", "ITL p50", "ITL p95", "output tok/s"
    );
    let cell = |v: Option<f64>, d: usize| v.map_or("—".to_owned(), |v| format!("{v:.d$}"));
    for row in &r.rows {
        let promoted = row
            .promoted
            .as_deref()
            .map_or("—".to_owned(), |p| p.chars().take(20).collect());
        let commit = row
            .commit
            .as_deref()
            .map_or("—".to_owned(), |c| c.chars().take(8).collect());
        let v = &row.values;
        let _ = writeln!(
            out,
            "{:>4}  {:<20}  {:<8}  {:>9}  {:>9}  {:>8}  {:>8}  {:>12}",
            row.run,
            promoted,
            commit,
            cell(v[0], 1),
            cell(v[1], 1),
            cell(v[2], 2),
            cell(v[3], 2),
            cell(v[4], 1)
        );
    }
    if r.shifts.is_empty() {
        let _ = writeln!(
            out,
            "change points: none (e-divisive means, p ≤ {})",
            r.settings.significance
        );
    } else {
        let _ = writeln!(out, "change points (e-divisive means):");
        for s in &r.shifts {
            let change = s
                .change
                .map_or(String::new(), |c| format!(" ({:+.1} %)", c * 100.0));
            let _ = writeln!(
                out,
                "  {} from run {}: {:.2} → {:.2} {}{change}, p = {:.3}",
                label_of(s.measure),
                s.run,
                s.mean_before,
                s.mean_after,
                unit_of(s.measure),
                s.p_value
            );
        }
    }
    out
}

/// The charts: TTFT, ITL (p50 and p95 each) and throughput over the runs,
/// each change point a dashed marker. `(file name, chart)`.
pub fn charts(r: &HistoryReport) -> Vec<(&'static str, LineChart)> {
    let series = |k: usize| -> Vec<(f64, Option<f64>)> {
        r.rows
            .iter()
            .map(|row| (row.run as f64, row.values[k]))
            .collect()
    };
    let groups: [(&'static str, &str, &str, &[usize]); 3] = [
        ("history-ttft.svg", "TTFT by promoted run", "ms", &[0, 1]),
        ("history-itl.svg", "ITL by promoted run", "ms", &[2, 3]),
        (
            "history-throughput.svg",
            "Output tokens/s by promoted run",
            "tokens/s",
            &[4],
        ),
    ];
    let colors = ["#2c7bb6", "#d7191c"];
    groups
        .into_iter()
        .map(|(file, title, unit, ks)| {
            let mut c = LineChart::new(
                title,
                Axis::new("Run", "oldest first"),
                Axis::new(title.split(' ').next().unwrap_or(title), unit),
            );
            for (j, &k) in ks.iter().enumerate() {
                c.series
                    .push(Series::new(HISTORY_MEASURES[k].1, colors[j % 2], series(k)));
            }
            for s in r
                .shifts
                .iter()
                .filter(|s| ks.iter().any(|&k| HISTORY_MEASURES[k].0 == s.measure))
            {
                c.markers.push(Marker {
                    // Between the last run before the shift and the first after.
                    x: s.run as f64 - 0.5,
                    label: match s.change {
                        Some(c) => format!("{} {:+.1} %", label_of(s.measure), c * 100.0),
                        None => label_of(s.measure).to_owned(),
                    },
                    color: "#555555".into(),
                    dashed: true,
                    class: "change",
                });
            }
            (file, c)
        })
        .filter(|(_, c)| c.has_data())
        .collect()
}
