//! The trend test over each tracked soak series: Mann–Kendall for a
//! monotonic trend, Theil–Sen for its slope and intercept, and the rule
//! that calls a trend drift; each trend carries one sentence for the report.

use super::snapshot::round6;
use crate::bundle::{SoakSnapshot, SoakTrend};
use crate::stats::{mann_kendall, quantile_type7, theil_sen};
use crate::wording::{fixed, p_relation};

/// A trend counts as drift only when the Mann–Kendall p-value is below this.
pub const DRIFT_P_VALUE: f64 = 0.05;
/// …and the Theil–Sen line changes the series by at least this share of its
/// median over the run. A long soak makes tiny trends significant (a
/// 0.5 % rise in memory over two hours can have p < 0.001); those are not
/// worth an alarm.
pub const DRIFT_MIN_CHANGE: f64 = 0.05;
/// Fewer snapshots than this give no trend test (with n = 3 the smallest
/// possible two-sided Mann–Kendall p is above 0.1 anyway).
pub const MIN_TREND_POINTS: usize = 4;

/// Which way a series goes when things get worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bad {
    Rising,
    Falling,
}

struct Series {
    name: &'static str,
    label: &'static str,
    bad: Bad,
    value: fn(&SoakSnapshot) -> Option<f64>,
}

/// The tracked series, in report order.
const SERIES: [Series; 6] = [
    Series {
        name: "ttft_p95_ms",
        label: "p95 TTFT",
        bad: Bad::Rising,
        value: |s| s.ttft_p95_ms,
    },
    Series {
        name: "e2e_p95_ms",
        label: "p95 E2E latency",
        bad: Bad::Rising,
        value: |s| s.e2e_p95_ms,
    },
    Series {
        name: "error_rate",
        label: "error rate",
        bad: Bad::Rising,
        // An interval with nothing but cancellations has no error rate.
        value: |s| (s.requests > 0).then_some(s.error_rate),
    },
    Series {
        name: "output_tokens_per_s",
        label: "output throughput",
        bad: Bad::Falling,
        value: |s| Some(s.output_tokens_per_s),
    },
    Series {
        name: "client_rss_mib",
        label: "client memory",
        bad: Bad::Rising,
        value: |s| s.client_rss_mib,
    },
    Series {
        name: "server_rss_mib",
        label: "server memory",
        bad: Bad::Rising,
        value: |s| s.server_rss_mib,
    },
];

/// A trend per tracked series, in report order.
pub(super) fn trends(snapshots: &[SoakSnapshot]) -> Vec<SoakTrend> {
    SERIES
        .iter()
        .map(|series| trend(series, snapshots))
        .collect()
}

/// Mann–Kendall over the snapshots in time order, Theil–Sen slope against
/// the interval midpoints in hours. Drifting = significant (p < 0.05), in
/// the bad direction, and a change over the run of at least 5 % of the
/// series' median (any change when the median is 0, e.g. errors appearing
/// in a run that had none).
fn trend(series: &Series, snapshots: &[SoakSnapshot]) -> SoakTrend {
    let (x, y): (Vec<f64>, Vec<f64>) = snapshots
        .iter()
        .filter_map(|s| {
            (series.value)(s)
                .filter(|v| v.is_finite())
                .map(|v| ((s.start_s + s.end_s) / 2.0 / 3600.0, v))
        })
        .unzip();
    let points = y.len() as u64;
    let mut out = SoakTrend {
        series: series.name.into(),
        points,
        slope_per_hour: None,
        intercept: None,
        relative_per_hour: None,
        p_value: None,
        drifting: false,
        note: String::new(),
    };
    let label = series.label;
    if y.is_empty() {
        out.note = format!("{label}: not measured");
        return out;
    }
    if y.len() < MIN_TREND_POINTS {
        out.note = format!(
            "{label}: {} snapshot(s), too few for a trend test (need {MIN_TREND_POINTS})",
            y.len()
        );
        return out;
    }
    let (Some(mk), Some(ts)) = (mann_kendall(&y), theil_sen(&x, &y)) else {
        out.note = format!("{label}: no trend test possible");
        return out;
    };
    let mut sorted = y.clone();
    sorted.sort_by(f64::total_cmp);
    let median = quantile_type7(&sorted, 0.5).unwrap_or(0.0);
    let span_h = x[x.len() - 1] - x[0];
    let change = ts.slope * span_h;
    let relative = (median != 0.0).then(|| ts.slope / median.abs());
    let relative_change = (median != 0.0).then(|| change / median.abs());
    out.slope_per_hour = Some(round6(ts.slope));
    out.intercept = Some(round6(ts.intercept));
    out.relative_per_hour = relative.map(round6);
    out.p_value = Some(round6(mk.p_value));

    let significant = mk.p_value < DRIFT_P_VALUE;
    let worse = match series.bad {
        Bad::Rising => ts.slope > 0.0,
        Bad::Falling => ts.slope < 0.0,
    };
    let large = match relative_change {
        Some(r) => r.abs() >= DRIFT_MIN_CHANGE,
        None => change != 0.0,
    };
    out.drifting = significant && worse && large;

    let verb = if ts.slope > 0.0 { "rises" } else { "falls" };
    let rate = match relative {
        Some(r) => format!("{} %/h", fixed(r.abs() * 100.0, 1)),
        None => format!("{}/h from a median of 0", fixed(ts.slope.abs(), 4)),
    };
    let p = format!("p {}", p_relation(mk.p_value, 3));
    out.note = if !significant {
        format!("{label}: no significant trend (Mann–Kendall {p})")
    } else if ts.slope == 0.0 {
        // Possible with many ties: the ranks move, the median slope does not.
        format!("{label}: Mann–Kendall {p} but a Theil–Sen slope of 0: no drift")
    } else if out.drifting {
        format!("{label} {verb} {rate} (Mann–Kendall {p}): drifting")
    } else if !worse {
        format!("{label} {verb} {rate} (Mann–Kendall {p}): improving, not drift")
    } else {
        format!(
            "{label} {verb} {rate} (Mann–Kendall {p}), {} % over the run: below the {} % that counts as drift",
            fixed(relative_change.unwrap_or(0.0).abs() * 100.0, 1),
            fixed(DRIFT_MIN_CHANGE * 100.0, 0)
        )
    };
    out
}
