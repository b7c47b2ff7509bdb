//! The soak's terminal text: a short per-interval table and the trend notes.

use std::fmt::Write as _;

use crate::bundle::SoakSection;
use crate::wording::{clock, exact, fixed};

/// Most rows of the per-interval table on stdout; longer soaks show every
/// k-th interval (and the last). The bundle keeps them all.
const MAX_TABLE_ROWS: usize = 30;

/// A short per-interval table and the trend notes, for the terminal.
pub fn render_soak_text(section: &SoakSection) -> String {
    let opt = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| fixed(v, 1));
    let snaps = &section.snapshots;
    let mut out = String::new();
    let step = snaps.len().div_ceil(MAX_TABLE_ROWS).max(1);
    let _ = writeln!(
        out,
        "\nsoak: {} interval(s) of {}s{}",
        snaps.len(),
        exact(section.interval_s),
        if step > 1 {
            format!(" (one row in {step} shown; all are in the bundle)")
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        out,
        "{:>8}  {:>6} {:>6} {:>7}  {:>9} {:>9} {:>9} {:>9}  {:>10} {:>10}",
        "end",
        "reqs",
        "failed",
        "err %",
        "ttft p50",
        "ttft p95",
        "e2e p95",
        "tok/s",
        "client MiB",
        "server MiB"
    );
    for (i, s) in snaps.iter().enumerate() {
        if i % step != 0 && i + 1 != snaps.len() {
            continue;
        }
        let _ = writeln!(
            out,
            "{:>8}  {:>6} {:>6} {:>7}  {:>9} {:>9} {:>9} {:>9}  {:>10} {:>10}",
            clock(s.end_s),
            s.requests,
            s.failed,
            fixed(s.error_rate * 100.0, 2),
            opt(s.ttft_p50_ms),
            opt(s.ttft_p95_ms),
            opt(s.e2e_p95_ms),
            fixed(s.output_tokens_per_s, 1),
            opt(s.client_rss_mib),
            opt(s.server_rss_mib),
        );
    }
    let _ = writeln!(out, "\ntrends:");
    for t in &section.trends {
        let _ = writeln!(out, "  {}", t.note);
    }
    let drifting: Vec<&str> = section
        .trends
        .iter()
        .filter(|t| t.drifting)
        .map(|t| t.series.as_str())
        .collect();
    let _ = if drifting.is_empty() {
        writeln!(out, "no series is drifting")
    } else {
        writeln!(out, "drifting: {}", drifting.join(", "))
    };
    out
}
