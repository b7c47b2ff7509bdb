//! Soak sections cut from synthetic bundles: snapshots partition the
//! requests, trends find drift, the terminal text lists both.

use std::time::Duration;

use super::*;
use crate::bundle::{SampleOutcome, ServerScrape};

const MIB: f64 = 1024.0 * 1024.0;

/// A bundle from the committed CI fixture with synthetic samples: one
/// request every 100 ms for `secs` seconds; `ttft_ms(t)` by start time;
/// every `fail_every`-th request fails.
fn bundle(secs: f64, ttft_ms: impl Fn(f64) -> f64, fail_every: Option<usize>) -> Bundle {
    let mut b: Bundle = serde_json::from_str(include_str!("../../tests/fixtures/ci/bundle.json"))
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
    // Second k holds TTFTs 40 + 5k + 0.5j ms (j = 0..9); their type-7 p95
    // is 44.275 + 5k at the interval's midpoint x = (k + 0.5)/3600 h, so the
    // line is 41.775 + 18,000·x: the intercept is the value at x = 0 (to the
    // microsecond the samples are stored in).
    let intercept = t.intercept.expect("intercept");
    assert!((intercept - 41.775).abs() < 0.01, "{intercept}");
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
