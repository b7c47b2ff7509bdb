//! Soak analysis: a long measurement window cut into fixed intervals by
//! request start time, one snapshot per interval (request and failure
//! counts, latency quantiles, throughput, client and server memory, server
//! gauges), and a trend test over each tracked series so drift, memory
//! growth or error creep over hours shows up as a sentence in the report.
//! Pure function of the bundle and the client's memory samples; the run
//! itself is `commands::soak`.

use std::time::Duration;

use crate::bundle::{Bundle, SampleOutcome, ServerScrape, SoakSection, SoakSnapshot, SoakTrend};
use crate::stats::{mann_kendall, quantile_type7, theil_sen};

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

const MIB: f64 = 1024.0 * 1024.0;

/// Cut `[0, horizon_s]` into intervals of `interval_s`. A last partial
/// interval shorter than half an interval is merged into the one before it
/// (so no snapshot rests on a sliver of time); one at least half as long
/// stays its own snapshot. A horizon shorter than one interval is one
/// snapshot. Empty for a non-positive horizon.
pub fn cut_intervals(horizon_s: f64, interval_s: f64) -> Vec<(f64, f64)> {
    if !(horizon_s > 0.0 && horizon_s.is_finite()) {
        return Vec::new();
    }
    if !(interval_s > 0.0 && interval_s.is_finite()) || interval_s >= horizon_s {
        return vec![(0.0, horizon_s)];
    }
    // A horizon a rounding error short of a whole number of intervals must
    // not leave a zero-length remainder: snap to the nearest multiple.
    let exact = horizon_s / interval_s;
    let full = if (exact - exact.round()).abs() < 1e-9 {
        exact.round()
    } else {
        exact.floor()
    } as usize;
    let mut cuts: Vec<(f64, f64)> = (0..full)
        .map(|k| (k as f64 * interval_s, (k + 1) as f64 * interval_s))
        .collect();
    let covered = full as f64 * interval_s;
    let rest = horizon_s - covered;
    if rest > 1e-9 * interval_s {
        if rest >= interval_s / 2.0 {
            cuts.push((covered, horizon_s));
        } else if let Some(last) = cuts.last_mut() {
            last.1 = horizon_s;
        }
    } else if let Some(last) = cuts.last_mut() {
        last.1 = horizon_s;
    }
    cuts
}

/// The soak section of `bundle`: snapshots every `interval` of the
/// measurement window and a trend per series. `client_rss` holds the
/// client's resident memory samples (seconds since the window opened, MiB);
/// each snapshot takes the sample nearest its end, within half an interval.
/// Server memory and gauges come from `bundle.server.timeline`, from the
/// scrape nearest each snapshot's end, within half an interval.
pub fn soak_section(bundle: &Bundle, interval: Duration, client_rss: &[(f64, f64)]) -> SoakSection {
    let interval_s = interval.as_secs_f64();
    let s = &bundle.samples;
    let start_s: Vec<f64> = s.start_us.iter().map(|&us| us as f64 / 1e6).collect();
    let last_start = start_s.iter().copied().fold(0.0, f64::max);
    // Requests start until the planned duration (or an interruption); the
    // window runs on while the last ones finish, so cut at the planned
    // duration when there is one, and never before the last start.
    let window = bundle.context.window_s;
    let horizon = match bundle.context.load.duration_s {
        Some(d) => d.min(window),
        None => window,
    }
    .max(last_start);
    let cuts = cut_intervals(horizon, interval_s);

    let mut members: Vec<Vec<usize>> = vec![Vec::new(); cuts.len()];
    if !cuts.is_empty() {
        for (i, &t) in start_s.iter().enumerate() {
            let k = if interval_s > 0.0 {
                (t / interval_s).floor() as usize
            } else {
                0
            };
            members[k.min(cuts.len() - 1)].push(i);
        }
    }

    let timeline: &[ServerScrape] = bundle
        .server
        .as_ref()
        .map(|t| t.timeline.as_slice())
        .unwrap_or(&[]);
    let snapshots: Vec<SoakSnapshot> = cuts
        .iter()
        .zip(&members)
        .map(|(&(a, b), idx)| {
            let mut snap = snapshot(bundle, a, b, idx);
            snap.client_rss_mib = nearest(client_rss, b, interval_s.min(b - a) / 2.0);
            // The scrape at the end of the interval: the nearest to its end
            // within half an interval. Scrapes run on the same clock as the
            // intervals, so "the last one inside" would often be the one a
            // millisecond past the boundary, i.e. the next interval's first.
            let tol = interval_s.min(b - a) / 2.0;
            if let Some(p) = timeline
                .iter()
                .filter(|p| (p.t_s - b).abs() <= tol)
                .min_by(|x, y| (x.t_s - b).abs().total_cmp(&(y.t_s - b).abs()))
            {
                snap.server_rss_mib = p.rss_bytes.map(|v| round3(v / MIB));
                snap.server_running = p.running;
                snap.server_waiting = p.waiting;
                snap.kv_cache_usage = p.kv_cache_usage;
            }
            snap
        })
        .collect();

    let trends = SERIES
        .iter()
        .map(|series| trend(series, &snapshots))
        .collect();
    SoakSection {
        interval_s,
        snapshots,
        trends,
    }
}

/// The sample nearest `t` within `tolerance`.
fn nearest(samples: &[(f64, f64)], t: f64, tolerance: f64) -> Option<f64> {
    samples
        .iter()
        .filter(|(ts, v)| (ts - t).abs() <= tolerance && v.is_finite())
        .min_by(|x, y| (x.0 - t).abs().total_cmp(&(y.0 - t).abs()))
        .map(|&(_, v)| round3(v))
}

/// Counts, quantiles and throughput of the requests `idx` started in
/// `[a, b)`, with the bundle's own definitions: latency quantiles over
/// successful first attempts (as `metrics`), output tokens of successful
/// requests, error rate = failed / (requests − cancelled).
fn snapshot(bundle: &Bundle, a: f64, b: f64, idx: &[usize]) -> SoakSnapshot {
    let s = &bundle.samples;
    let mut failed = 0u64;
    let mut cancelled = 0u64;
    let mut tokens = 0u64;
    let (mut ttft, mut tpot, mut e2e) = (Vec::new(), Vec::new(), Vec::new());
    for &i in idx {
        match s.outcome[i] {
            SampleOutcome::Failed(_) => failed += 1,
            SampleOutcome::Cancelled => cancelled += 1,
            SampleOutcome::Ok => {
                tokens += u64::from(s.output_tokens.get(i).copied().unwrap_or(0));
                if s.attempts.get(i).copied().unwrap_or(1) <= 1 {
                    if let Some(Some(v)) = s.ttft_us.get(i) {
                        ttft.push(f64::from(*v) / 1e3);
                    }
                    if let Some(Some(v)) = s.tpot_us.get(i) {
                        tpot.push(f64::from(*v) / 1e3);
                    }
                    if let Some(v) = s.e2e_us.get(i) {
                        e2e.push(f64::from(*v) / 1e3);
                    }
                }
            }
        }
    }
    let q = |v: &mut Vec<f64>, p: f64| {
        v.sort_by(f64::total_cmp);
        quantile_type7(v, p).map(round3)
    };
    let requests = idx.len() as u64;
    let denom = requests - cancelled;
    let len = b - a;
    SoakSnapshot {
        start_s: round3(a),
        end_s: round3(b),
        requests,
        failed,
        error_rate: if denom > 0 {
            round6(failed as f64 / denom as f64)
        } else {
            0.0
        },
        ttft_p50_ms: q(&mut ttft, 0.50),
        ttft_p95_ms: q(&mut ttft, 0.95),
        tpot_p95_ms: q(&mut tpot, 0.95),
        e2e_p95_ms: q(&mut e2e, 0.95),
        output_tokens_per_s: if len > 0.0 {
            round3(tokens as f64 / len)
        } else {
            0.0
        },
        ..Default::default()
    }
}

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

fn fmt_p(p: f64) -> String {
    if p < 0.001 {
        "p < 0.001".into()
    } else {
        format!("p = {p:.3}")
    }
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
        Some(r) => format!("{:.1} %/h", r.abs() * 100.0),
        None => format!("{:.4}/h from a median of 0", ts.slope.abs()),
    };
    let p = fmt_p(mk.p_value);
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
            "{label} {verb} {rate} (Mann–Kendall {p}), {:.1} % over the run: below the {:.0} % that counts as drift",
            relative_change.unwrap_or(0.0).abs() * 100.0,
            DRIFT_MIN_CHANGE * 100.0
        )
    };
    out
}

/// Most rows of the per-interval table on stdout; longer soaks show every
/// k-th interval (and the last). The bundle keeps them all.
const MAX_TABLE_ROWS: usize = 30;

/// `h:mm:ss` of seconds since the window opened.
fn clock(s: f64) -> String {
    let t = s.max(0.0).round() as u64;
    format!("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
}

/// A short per-interval table and the trend notes, for the terminal.
pub fn render_soak_text(section: &SoakSection) -> String {
    use std::fmt::Write as _;
    let opt = |v: Option<f64>, digits: usize| match v {
        Some(v) => format!("{v:.digits$}"),
        None => "-".into(),
    };
    let snaps = &section.snapshots;
    let mut out = String::new();
    let step = snaps.len().div_ceil(MAX_TABLE_ROWS).max(1);
    let _ = writeln!(
        out,
        "\nsoak: {} interval(s) of {}s{}",
        snaps.len(),
        section.interval_s,
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
            "{:>8}  {:>6} {:>6} {:>7.2}  {:>9} {:>9} {:>9} {:>9.1}  {:>10} {:>10}",
            clock(s.end_s),
            s.requests,
            s.failed,
            s.error_rate * 100.0,
            opt(s.ttft_p50_ms, 1),
            opt(s.ttft_p95_ms, 1),
            opt(s.e2e_p95_ms, 1),
            s.output_tokens_per_s,
            opt(s.client_rss_mib, 1),
            opt(s.server_rss_mib, 1),
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

fn round3(v: f64) -> f64 {
    (v * 1e3).round() / 1e3
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_intervals_are_cut_exactly() {
        assert_eq!(
            cut_intervals(3.0, 1.0),
            vec![(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]
        );
        // A rounding error short of a whole number: no sliver, no merge.
        let c = cut_intervals(3.0 - 1e-12, 1.0);
        assert_eq!(c.len(), 3);
        assert_eq!(c[2], (2.0, 3.0 - 1e-12));
    }

    #[test]
    fn a_short_last_interval_is_merged_into_the_previous_one() {
        // 0.4 of an interval left over: merged.
        assert_eq!(
            cut_intervals(120.0 + 24.0, 60.0),
            vec![(0.0, 60.0), (60.0, 144.0)]
        );
        // 0.5 or more: its own snapshot.
        assert_eq!(
            cut_intervals(150.0, 60.0),
            vec![(0.0, 60.0), (60.0, 120.0), (120.0, 150.0)]
        );
    }

    #[test]
    fn a_window_shorter_than_one_interval_is_one_snapshot() {
        assert_eq!(cut_intervals(20.0, 60.0), vec![(0.0, 20.0)]);
        assert_eq!(cut_intervals(0.2, 1.0), vec![(0.0, 0.2)]);
        assert!(cut_intervals(0.0, 1.0).is_empty());
        assert!(cut_intervals(f64::NAN, 1.0).is_empty());
    }

    /// A bundle from the committed CI fixture with synthetic samples: one
    /// request every 100 ms for `secs` seconds; `ttft_ms(t)` by start time;
    /// every `fail_every`-th request fails.
    fn bundle(secs: f64, ttft_ms: impl Fn(f64) -> f64, fail_every: Option<usize>) -> Bundle {
        let mut b: Bundle = serde_json::from_str(include_str!("../tests/fixtures/ci/bundle.json"))
            .expect("fixture bundle");
        let n = (secs * 10.0).round() as usize;
        let mut s = crate::bundle::Samples::default();
        for i in 0..n {
            let t = i as f64 * 0.1;
            let fail = fail_every.is_some_and(|k| i % k == k - 1);
            let ttft = ttft_ms(t);
            s.start_us.push((t * 1e6).round() as u64);
            s.ttft_us.push(Some((ttft * 1e3) as u32));
            s.tpot_us.push(Some(8_000));
            s.e2e_us.push(((ttft + 80.0) * 1e3) as u32);
            s.output_tokens.push(10);
            s.input_tokens.push(20);
            s.class.push(0);
            s.attempts.push(1);
            s.outcome.push(if fail {
                SampleOutcome::Failed(crate::client::ErrorKind::Http5xx)
            } else {
                SampleOutcome::Ok
            });
        }
        b.samples = s;
        b.context.load.duration_s = Some(secs);
        b.context.load.requests = None;
        b.context.window_s = secs + 0.12;
        b
    }

    #[test]
    fn snapshots_partition_the_requests_and_read_quantiles_per_interval() {
        let b = bundle(10.0, |t| 40.0 + (t * 10.0).round() % 10.0, Some(5));
        let rss: Vec<(f64, f64)> = (0..=10).map(|k| (k as f64 + 0.05, 30.0)).collect();
        let sec = soak_section(&b, Duration::from_secs(1), &rss);
        assert_eq!(sec.interval_s, 1.0);
        assert_eq!(sec.snapshots.len(), 10);
        let total: u64 = sec.snapshots.iter().map(|s| s.requests).sum();
        let failed: u64 = sec.snapshots.iter().map(|s| s.failed).sum();
        assert_eq!((total, failed), (100, 20));
        let s0 = &sec.snapshots[0];
        assert_eq!(
            (s0.start_s, s0.end_s, s0.requests, s0.failed),
            (0.0, 1.0, 10, 2)
        );
        assert_eq!(s0.error_rate, 0.2);
        // Successful TTFTs in the first second: 40..=49 without 44 and 49
        // (failures). Type 7: p50 of [40,41,42,43,45,46,47,48] = 44,
        // p95 at h = 6.65 → 47 + 0.65 = 47.65.
        assert_eq!(s0.ttft_p50_ms, Some(44.0));
        assert_eq!(s0.ttft_p95_ms, Some(47.65));
        // 8 successes × 10 tokens in 1 s.
        assert_eq!(s0.output_tokens_per_s, 80.0);
        assert_eq!(s0.client_rss_mib, Some(30.0));
        // Stable series: nothing drifts, every series but the server's has
        // a test.
        for t in &sec.trends {
            assert!(!t.drifting, "{t:?}");
        }
        let server = sec.trends.iter().find(|t| t.series == "server_rss_mib");
        assert_eq!(server.map(|t| t.points), Some(0));
    }

    #[test]
    fn rising_ttft_is_drift_with_a_positive_slope() {
        // +5 ms per second: 40 → 90 ms over 10 s.
        let b = bundle(10.0, |t| 40.0 + 5.0 * t, None);
        let sec = soak_section(&b, Duration::from_secs(1), &[]);
        let t = sec
            .trends
            .iter()
            .find(|t| t.series == "ttft_p95_ms")
            .expect("ttft trend");
        assert!(t.drifting, "{t:?}");
        assert_eq!(t.points, 10);
        assert!(t.p_value.expect("p") < 0.001, "{t:?}");
        // Theil–Sen: 5 ms/s = 18,000 ms/h.
        let slope = t.slope_per_hour.expect("slope");
        assert!((slope - 18_000.0).abs() < 1.0, "{slope}");
        assert!(
            t.note.contains("p95 TTFT rises") && t.note.ends_with("drifting"),
            "{}",
            t.note
        );
        let client = sec.trends.iter().find(|t| t.series == "client_rss_mib");
        assert_eq!(
            client.map(|t| t.note.as_str()),
            Some("client memory: not measured")
        );
    }

    #[test]
    fn a_short_tail_joins_the_last_snapshot() {
        let b = bundle(10.3, |_| 40.0, None);
        let sec = soak_section(&b, Duration::from_secs(1), &[]);
        assert_eq!(sec.snapshots.len(), 10);
        let last = &sec.snapshots[9];
        assert_eq!((last.start_s, last.end_s, last.requests), (9.0, 10.3, 13));
        // Tokens over the merged 1.3 s.
        assert_eq!(last.output_tokens_per_s, 100.0);
        let total: u64 = sec.snapshots.iter().map(|s| s.requests).sum();
        assert_eq!(total, 103);
    }

    #[test]
    fn server_gauges_come_from_the_scrape_nearest_each_interval_end() {
        let mut b = bundle(4.0, |_| 40.0, None);
        let scrape = |t: f64, running: f64, rss_mib: f64| ServerScrape {
            t_s: t,
            running: Some(running),
            waiting: Some(0.0),
            kv_cache_usage: Some(0.1),
            rss_bytes: Some(rss_mib * MIB),
        };
        b.server = Some(crate::bundle::ServerTelemetry {
            timeline: vec![
                scrape(-0.001, 0.0, 10.0),
                scrape(0.4, 3.0, 11.0),
                scrape(1.001, 4.0, 12.0),
                // Nearer to 3.0 than to 2.0.
                scrape(2.6, 5.0, 13.0),
                scrape(4.1, 0.0, 14.0),
            ],
            ..Default::default()
        });
        let sec = soak_section(&b, Duration::from_secs(1), &[]);
        let running: Vec<Option<f64>> = sec.snapshots.iter().map(|s| s.server_running).collect();
        assert_eq!(running, vec![Some(4.0), None, Some(5.0), Some(0.0)]);
        assert_eq!(sec.snapshots[0].server_rss_mib, Some(12.0));
        let t = sec.trends.iter().find(|t| t.series == "server_rss_mib");
        assert_eq!(t.map(|t| t.points), Some(3));
    }

    #[test]
    fn errors_appearing_late_are_drift_even_from_a_median_of_zero() {
        let mut b = bundle(10.0, |_| 40.0, None);
        for (i, o) in b.samples.outcome.iter_mut().enumerate() {
            // From second 7 on, a growing share fails: 0.1, 0.2, 0.3.
            let sec = i / 10;
            if sec >= 7 && i % 10 < sec - 6 {
                *o = SampleOutcome::Failed(crate::client::ErrorKind::Http5xx);
            }
        }
        let sec = soak_section(&b, Duration::from_secs(1), &[]);
        let t = sec
            .trends
            .iter()
            .find(|t| t.series == "error_rate")
            .expect("trend");
        // Seven zeros then 0.1, 0.2, 0.3: S = 24, Var(S) with a tie group
        // of 7 = (10·9·25 − 7·6·19)/18 = 80.67, Z = 23/√80.67 = 2.5608,
        // p = erfc(Z/√2) = 0.010442 (Python math.erfc).
        assert!(t.drifting, "{t:?}");
        assert_eq!(t.p_value, Some(0.010442));
        assert_eq!(t.relative_per_hour, None);
        assert!(t.note.contains("from a median of 0"), "{}", t.note);
    }

    #[test]
    fn the_terminal_table_lists_intervals_and_trend_notes() {
        let b = bundle(10.0, |t| 40.0 + 5.0 * t, None);
        let text = render_soak_text(&soak_section(&b, Duration::from_secs(1), &[]));
        assert!(text.contains("soak: 10 interval(s) of 1s"), "{text}");
        assert!(text.contains("0:00:10"), "{text}");
        assert!(text.contains("p95 TTFT rises"), "{text}");
        assert!(text.contains("drifting: ttft_p95_ms, e2e_p95_ms"), "{text}");
        // A long soak is thinned to at most 30 rows plus the last.
        let long = bundle(100.0, |_| 40.0, None);
        let text = render_soak_text(&soak_section(&long, Duration::from_secs(1), &[]));
        let rows = text.lines().filter(|l| l.contains(":0")).count();
        assert!(rows <= 31, "{rows}\n{text}");
        assert!(
            text.contains("one row in 4 shown") && text.contains("0:01:40"),
            "{text}"
        );
    }
}
