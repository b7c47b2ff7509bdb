//! Cutting a soak's measurement window into intervals and measuring each:
//! request and failure counts, latency quantiles, throughput, and the
//! client's and server's memory and gauges nearest the interval's end.

use crate::bundle::{Bundle, SampleOutcome, ServerScrape, SoakSnapshot};
use crate::stats::quantile_type7;

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

/// One snapshot per interval of `interval_s` seconds of the measurement
/// window. `client_rss` holds the client's resident memory samples (seconds
/// since the window opened, MiB); each snapshot takes the sample nearest its
/// end, within half an interval. Server memory and gauges come from
/// `bundle.server.timeline`, from the scrape nearest each snapshot's end,
/// within half an interval.
pub(super) fn snapshots(
    bundle: &Bundle,
    interval_s: f64,
    client_rss: &[(f64, f64)],
) -> Vec<SoakSnapshot> {
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
    cuts.iter()
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
        .collect()
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

pub(super) fn round3(v: f64) -> f64 {
    (v * 1e3).round() / 1e3
}

pub(super) fn round6(v: f64) -> f64 {
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
}
