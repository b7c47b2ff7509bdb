//! The client probe: did the client itself limit the measurement?
//!
//! A busy host is not a limited client. What distorts a measured TTFT is
//! the delay between a first-token event reaching the client's socket and
//! the client's runtime getting to read it; that happens when the runtime's
//! workers are busy (a CPU-bound client) or runnable but not running (the
//! host starves the client's threads). The probe measures that delay
//! directly over the measurement window:
//!
//! - a **ticker** task on the client's own tokio runtime sleeps to absolute
//!   deadlines every [`TICK_PERIOD`] and records how late it woke (an HDR
//!   histogram, bounded in memory whatever the window's length). A timer
//!   wake-up and a socket wake-up go through the same runtime driver and
//!   the same workers, so a socket read is late by about as much;
//! - the process's **run-queue wait** from `/proc/self/task/*/schedstat`
//!   (kernel Documentation/scheduler/sched-stats.rst: CPU time, run-queue
//!   wait, dispatches), read when the window opens and when it ends, to say
//!   *why* the runtime was late: starved by the host, or busy itself;
//! - the process's CPU time per wall second (`getrusage`).
//!
//! [`assess`] turns a [`ProbeReading`] into the bundle's
//! [`ClientHealth`]: limited when the tick-lag p95 is beyond
//! [`Thresholds`] (a floor, or a share of the measured latency). The
//! thresholds come from the calibration in `tests/tools/client_probe.sh`
//! (simulator in its own process with a known TTFT, client quiet, on a busy
//! host, and starved); its table is in the doc comment of [`Thresholds`].
//!
//! Everything is per process: with `sim://` the simulator runs in the same
//! process and on the same runtime, so its delays count as the client's —
//! which they are, for the measured TTFT.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::oneshot;

use crate::bundle::ClientHealth;

/// How often the ticker wakes. Short enough to see a stall of a few ms,
/// long enough to cost nothing (200 wake-ups per second).
pub const TICK_PERIOD: Duration = Duration::from_millis(5);

/// The ticker's largest recordable lag, µs (a minute; larger lags clamp).
const MAX_LAG_US: u64 = 60_000_000;

/// One `/proc/<pid>/task/<tid>/schedstat` line: nanoseconds on a CPU,
/// nanoseconds waiting on a run queue, and the number of times the thread
/// was put on a CPU (sched-stats.rst, `/proc/<pid>/schedstat`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedStat {
    pub run_ns: u64,
    pub wait_ns: u64,
    pub dispatches: u64,
}

/// Parses a schedstat line (`"123 456 7\n"`); `None` for anything else.
pub fn parse_schedstat(text: &str) -> Option<SchedStat> {
    let mut fields = text.split_ascii_whitespace();
    let mut next = || fields.next()?.parse::<u64>().ok();
    let stat = SchedStat {
        run_ns: next()?,
        wait_ns: next()?,
        dispatches: next()?,
    };
    // Exactly three fields: a longer line is not the format we know.
    fields.next().is_none().then_some(stat)
}

/// schedstat of every thread of this process, by thread id; `None` where
/// `/proc/self/task` cannot be read (not Linux).
fn read_thread_stats() -> Option<BTreeMap<u32, SchedStat>> {
    let dir = std::fs::read_dir("/proc/self/task").ok()?;
    let mut stats = BTreeMap::new();
    for entry in dir.flatten() {
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        // A thread may exit between the listing and the read: skip it.
        if let Some(stat) = std::fs::read_to_string(entry.path().join("schedstat"))
            .ok()
            .and_then(|t| parse_schedstat(&t))
        {
            stats.insert(tid, stat);
        }
    }
    Some(stats)
}

/// The run-queue wait of the process's threads over the window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SchedDelta {
    pub run_ns: u64,
    pub wait_ns: u64,
    pub dispatches: u64,
    /// Threads alive at the end of the window.
    pub threads: u32,
}

impl SchedDelta {
    /// Sum over the threads alive at `end` of their growth since `start`; a
    /// thread born in the window counts from zero. A thread that exited in
    /// the window is lost (its file is gone) — tokio's blocking-pool threads
    /// can; the runtime workers that read sockets live as long as the run.
    pub fn between(start: &BTreeMap<u32, SchedStat>, end: &BTreeMap<u32, SchedStat>) -> Self {
        let mut d = SchedDelta::default();
        for (tid, e) in end {
            let s = start.get(tid).copied().unwrap_or_default();
            d.run_ns += e.run_ns.saturating_sub(s.run_ns);
            d.wait_ns += e.wait_ns.saturating_sub(s.wait_ns);
            d.dispatches += e.dispatches.saturating_sub(s.dispatches);
            d.threads += 1;
        }
        d
    }

    /// Σ wait / Σ (wait + run): of the time the threads wanted a CPU, the
    /// share they spent waiting for one. Idle (parked) threads neither run
    /// nor wait, so they do not dilute it as a wall-time denominator would.
    /// `None` when the threads were never runnable (or schedstat reads 0,
    /// as on kernels without scheduler statistics).
    pub fn wait_share(&self) -> Option<f64> {
        let runnable = self.run_ns.saturating_add(self.wait_ns);
        (runnable > 0).then(|| self.wait_ns as f64 / runnable as f64)
    }

    /// Mean run-queue wait per dispatch, µs.
    pub fn wait_per_dispatch_us(&self) -> Option<f64> {
        (self.dispatches > 0).then(|| self.wait_ns as f64 / self.dispatches as f64 / 1e3)
    }
}

/// What the probe measured over the window, before any verdict.
#[derive(Debug, Clone)]
pub struct ProbeReading {
    pub window: Duration,
    pub tick_period: Duration,
    /// Tick lag, µs, one value per deadline.
    pub lag_us: Histogram<u64>,
    pub sched: Option<SchedDelta>,
    /// Process CPU time (user + system) over the window.
    pub cpu: Duration,
}

impl ProbeReading {
    fn lag_ms(&self, q: f64) -> f64 {
        if self.lag_us.is_empty() {
            return 0.0;
        }
        self.lag_us.value_at_quantile(q) as f64 / 1e3
    }
}

/// A running probe; [`ClientProbe::finish`] stops it.
pub struct ClientProbe {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Option<ProbeReading>>,
}

impl ClientProbe {
    /// Spawns the probe on the current tokio runtime. It starts measuring
    /// when `window_opens` resolves (the driver's "measuring" event) and
    /// measures until [`ClientProbe::finish`].
    pub fn spawn<F>(window_opens: F) -> ClientProbe
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            tokio::select! {
                // An opening seen together with the stop still gives a
                // (short) reading rather than none.
                biased;
                _ = window_opens => {}
                _ = &mut stopped => return None,
            }
            Some(measure(TICK_PERIOD, stopped).await)
        });
        ClientProbe { stop, task }
    }

    /// Stops the probe; `None` when the window never opened.
    pub async fn finish(self) -> Option<ProbeReading> {
        // The task may already have ended (the runtime is shutting down).
        let _ = self.stop.send(());
        self.task.await.ok().flatten()
    }
}

async fn measure(period: Duration, mut stopped: oneshot::Receiver<()>) -> ProbeReading {
    let started = Instant::now();
    let cpu_start = super::process_cpu();
    let sched_start = read_thread_stats();
    // 2 significant digits (values within 1 %) over 1 µs … 60 s: about
    // 20 kB, fixed.
    let mut lag_us = Histogram::<u64>::new_with_bounds(1, MAX_LAG_US, 2)
        .expect("constant histogram bounds are valid");
    let period_us = (period.as_micros() as u64).max(1);
    let mut deadline = started + period;
    loop {
        tokio::select! {
            biased;
            _ = &mut stopped => break,
            _ = tokio::time::sleep_until(deadline.into()) => {
                let now = Instant::now();
                let lag = now.saturating_duration_since(deadline);
                let lag = (lag.as_micros() as u64).min(MAX_LAG_US);
                // A wake-up L late stands for every deadline it passed,
                // each late by L − k·period: the histogram then samples
                // the lag over *time*, not over the ticks that happened to
                // run (HdrHistogram `record_correct`, the coordinated
                // omission correction; Tene, "How NOT to measure latency").
                let _ = lag_us.record_correct(lag, period_us);
                let passed = lag / period_us;
                deadline += period * (passed as u32).saturating_add(1);
            }
        }
    }
    let window = started.elapsed();
    let cpu_end = super::process_cpu();
    let cpu = (cpu_end.0 + cpu_end.1).saturating_sub(cpu_start.0 + cpu_start.1);
    let sched = match (sched_start, read_thread_stats()) {
        (Some(s), Some(e)) => Some(SchedDelta::between(&s, &e)),
        _ => None,
    };
    ProbeReading {
        window,
        tick_period: period,
        lag_us,
        sched,
        cpu,
    }
}

/// When the client counts as limiting the measurement: tick-lag p95 above
/// `max(floor_ms, latency_share × (latency p50 − tick-lag p50))`.
///
/// Why the p95: every measured TTFT is the true one plus the delay the
/// client's runtime had when the first token arrived, and the ticker samples
/// that delay over time, so the TTFT p95 moves by about the tick-lag p95
/// (and the p50 by about the tick-lag p50).
///
/// Calibration (`tests/tools/client_probe.sh`): a debug build on a shared
/// 2-CPU machine at load 6–14 (host PSI "some" 38–100 % in every run), the
/// simulator in its own process at nice −10 with a TTFT of exactly 50 ms
/// (zero in `client-bound`), concurrency 16, 200 requests. 99 runs: two
/// rounds of 9 conditions (6 and 5 repetitions, interleaved), the second
/// with these values in the binary. "Distorted": the client's TTFT p95 more
/// than max(4 ms, 15 % of the truth) above the truth — a shift that alone
/// could fail the default gate's 15 % ttft.p95 rule. Medians per condition:
///
/// | condition | runs | TTFT p50 / p95 − truth, ms | tick p95 ms | distorted | old flag | limited |
/// |---|---|---|---|---|---|---|
/// | quiet | 11 | 0.8 / 3.6 | 2.5 | 1 of 11 | 11 of 11 | 1 of 11 |
/// | protected (client nice −10) | 11 | 0.8 / 5.2 | 2.5 | 2 of 11 | 11 of 11 | 1 of 11 |
/// | protected + 4 hogs | 11 | 3.0 / 17.4 | 8.4 | 11 of 11 | 11 of 11 | 8 of 11 |
/// | hogs on the other CPU | 11 | 0.7 / 5.2 | 1.9 | 4 of 11 | 11 of 11 | 3 of 11 |
/// | 4 hogs at nice 19 | 11 | 3.0 / 19.2 | 24.4 | 10 of 11 | 11 of 11 | 10 of 11 |
/// | pinned with 1 hog | 11 | 4.7 / 15.0 | 20.2 | 10 of 11 | 11 of 11 | 10 of 11 |
/// | pinned with 3 hogs | 11 | 4.6 / 17.4 | 18.9 | 10 of 11 | 11 of 11 | 11 of 11 |
/// | pinned at nice 10, 2 hogs | 11 | 84.6 / 208.4 | 198.7 | 11 of 11 | 11 of 11 | 11 of 11 |
/// | client-bound (zero-latency sim, 512 users) | 11 | 138 / 672 | 111 | 11 of 11 | 11 of 11 | 10 of 11 |
///
/// The verdict matched "distorted" in 92 of 99 runs (64 fired when
/// distorted, 28 stayed quiet when not); it fired once at 4.8 ms of
/// distortion and stayed quiet 6 times: 5 runs at 7.7–14 ms whose client
/// runtime was on time (tick p95 1.7–4.5 ms), most likely the simulator's own
/// lateness, and one client-bound run whose 600 ms TTFT was the CPU-bound
/// simulator's (the client's tick p95 13 ms). The old flag (client CPU > 0.8
/// core or host PSI ≥ 30 %) fired in 99 of 99. Any share from 8 % to 15 %
/// matched in 92 of 99; the tick-lag p99 instead of the p95 matched in only
/// 77 (21 false alarms). The floor: the tick-lag p95 of the quiet and
/// protected runs was at most 3.9 ms in 19 of 22 (tokio's 1 ms timer
/// granularity included); below 4 ms this machine cannot tell a client
/// delay from its noise.
///
/// The floor was raised from those 4 ms to 12 ms when the default gate
/// moved its blocking latency statistic from p95 to p50 TTFT (issue 12):
/// what invalidates a run is now a client delay that could move the
/// median, and in the table above the tick-lag p50 — which moves TTFT
/// p50 — stayed at 3 ms or less (TTFT p50 shift ≤ 3.0 ms, 6 % of 50 ms,
/// under the 15 % limit) in every condition whose tick-lag p95 was below
/// 12 ms, while the starved conditions read 18.9–198.7 ms and still fire.
/// A debug-build client with the simulator on the same two cores, on an
/// otherwise idle host, reads 4–10 ms at 1,600–4,000 SSE events/s: with
/// the 4 ms floor every such run was invalid, though its median moved by
/// about 1 ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub floor_ms: f64,
    pub latency_share: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            floor_ms: 12.0,
            latency_share: 0.1,
        }
    }
}

impl Thresholds {
    /// The tick-lag p95 limit for a run whose latency p50 is `latency_p50_ms`.
    pub fn limit_ms(&self, latency_p50_ms: Option<f64>) -> f64 {
        let scaled = latency_p50_ms
            .filter(|v| v.is_finite() && *v > 0.0)
            .map_or(0.0, |p50| self.latency_share * p50);
        self.floor_ms.max(scaled)
    }
}

/// Why a limited client was late, for the remedy in its reason: it used at
/// least this much CPU per wall second (busy itself) …
const BUSY_CPU_CORES: f64 = 0.8;
/// … or its threads waited for a CPU at least this share of the time they
/// were runnable (the host kept them waiting). In the calibration the runs
/// limited by neighbours read 0.68–0.99 (median 0.90), the runs not limited
/// 0.28–0.75 (median 0.51).
const STARVED_WAIT_SHARE: f64 = 0.5;

/// The verdict on a reading. `latency_p50_ms` is the run's measured TTFT
/// p50 (E2E p50 for a run without streaming); less the tick-lag p50, it is
/// the scale a client delay is compared with.
pub fn assess(
    reading: &ProbeReading,
    latency_p50_ms: Option<f64>,
    thresholds: &Thresholds,
) -> ClientHealth {
    let window_s = reading.window.as_secs_f64();
    let p50 = reading.lag_ms(0.5);
    let p95 = reading.lag_ms(0.95);
    let p99 = reading.lag_ms(0.99);
    let (mean, max) = if reading.lag_us.is_empty() {
        (0.0, 0.0)
    } else {
        (
            reading.lag_us.mean() / 1e3,
            reading.lag_us.max() as f64 / 1e3,
        )
    };
    // The latency without the client's own delay: measured TTFT ≈ true
    // TTFT + tick lag, so a client that inflates the TTFT does not raise
    // its own limit.
    let true_p50 = latency_p50_ms.map(|v| (v - p50).max(0.0));
    let limit = thresholds.limit_ms(true_p50);
    let cpu_cores = reading.cpu.as_secs_f64() / window_s.max(1e-9);
    let wait_share = reading.sched.and_then(|s| s.wait_share());
    let wait_per_dispatch = reading.sched.and_then(|s| s.wait_per_dispatch_us());
    // Ticks are the evidence: a window too short for a few of them says
    // nothing either way.
    let enough = reading.lag_us.len() >= 10;
    let limited = enough && p95 > limit;

    let scale = match true_p50 {
        Some(v) if thresholds.latency_share * v > thresholds.floor_ms => format!(
            "{:.0} % of the latency p50 less the client's own delay, {v:.1} ms",
            thresholds.latency_share * 100.0
        ),
        _ => format!("the {:.1} ms floor", thresholds.floor_ms),
    };
    let cause = match (wait_share, wait_per_dispatch) {
        (Some(w), Some(d)) => format!(
            "it used {cpu_cores:.2} CPU cores and its threads waited for a CPU {:.0} % of the time they were runnable ({d:.0} µs per dispatch)",
            w * 100.0
        ),
        _ => format!("it used {cpu_cores:.2} CPU cores"),
    };
    let lags = format!("p95 {p95:.1} ms (p50 {p50:.1}, p99 {p99:.1}, max {max:.1})");
    let reason = if !enough {
        format!(
            "the window ({:.0} ms, {} ticks) was too short for the client probe to judge",
            window_s * 1e3,
            reading.lag_us.len()
        )
    } else if limited {
        let busy = cpu_cores >= BUSY_CPU_CORES;
        let starved = wait_share.is_some_and(|w| w >= STARVED_WAIT_SHARE);
        let remedy = match (busy, starved) {
            (true, false) => {
                "the client was busy itself: lower the concurrency or rate, or use a release build"
            }
            (false, true) => {
                "the host kept its threads waiting for a CPU: give the client a CPU of its own or fewer neighbours"
            }
            (true, true) => {
                "the client was busy and the host kept its threads waiting for a CPU: give it more CPU, or lower the concurrency or rate"
            }
            (false, false) => {
                "its runtime was held up while it had CPU to spare (a task that blocks?): lower the concurrency or rate"
            }
        };
        format!(
            "the client limited the measurement: its runtime woke late by {lags}, above {limit:.1} ms ({scale}); {cause}; {remedy}"
        )
    } else {
        format!(
            "the client did not limit the measurement: its runtime woke late by {lags}, within {limit:.1} ms ({scale}); {cause}"
        )
    };
    ClientHealth {
        window_s: round3(window_s),
        tick_period_ms: round3(reading.tick_period.as_secs_f64() * 1e3),
        ticks: reading.lag_us.len(),
        tick_lag_mean_ms: round3(mean),
        tick_lag_p50_ms: round3(p50),
        tick_lag_p95_ms: round3(p95),
        tick_lag_p99_ms: round3(p99),
        tick_lag_max_ms: round3(max),
        runnable_wait_share: wait_share.map(|v| (v * 1e4).round() / 1e4),
        run_queue_wait_per_dispatch_us: wait_per_dispatch.map(round3),
        threads: reading.sched.map(|s| s.threads),
        cpu_cores: round3(cpu_cores),
        limit_ms: round3(limit),
        limited,
        reason,
    }
}

fn round3(v: f64) -> f64 {
    (v * 1e3).round() / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(run_ns: u64, wait_ns: u64, dispatches: u64) -> SchedStat {
        SchedStat {
            run_ns,
            wait_ns,
            dispatches,
        }
    }

    #[test]
    fn schedstat_line_is_parsed_into_its_three_fields() {
        assert_eq!(
            parse_schedstat("3402130051 1066201372 23458\n"),
            Some(stat(3_402_130_051, 1_066_201_372, 23_458))
        );
        assert_eq!(parse_schedstat("0 0 0"), Some(stat(0, 0, 0)));
    }

    #[test]
    fn malformed_schedstat_is_none_not_a_panic() {
        for bad in [
            "",
            "\n",
            "12 34",
            "12 34 56 78",
            "a b c",
            "-1 2 3",
            "1.5 2 3",
            "99999999999999999999999 1 1",
            "\u{feff}1 2 3",
        ] {
            assert_eq!(parse_schedstat(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn this_process_has_readable_schedstat_on_linux() {
        if !std::path::Path::new("/proc/self/task").exists() {
            return;
        }
        let stats = read_thread_stats().expect("/proc/self/task is readable");
        assert!(!stats.is_empty());
        // The test thread has run, so some thread has CPU time.
        assert!(stats.values().any(|s| s.run_ns > 0 && s.dispatches > 0));
    }

    #[test]
    fn sched_delta_counts_growth_and_threads_born_in_the_window() {
        let start = BTreeMap::from([(1, stat(100, 50, 10)), (2, stat(10, 0, 1))]);
        // Thread 2 exited, thread 3 was born; thread 1 grew.
        let end = BTreeMap::from([(1, stat(400, 150, 30)), (3, stat(200, 100, 10))]);
        let d = SchedDelta::between(&start, &end);
        assert_eq!(
            d,
            SchedDelta {
                run_ns: 300 + 200,
                wait_ns: 100 + 100,
                dispatches: 20 + 10,
                threads: 2,
            }
        );
        assert_eq!(d.wait_share(), Some(200.0 / 700.0));
        assert_eq!(d.wait_per_dispatch_us(), Some(200.0 / 30.0 / 1e3));
        // A counter that went backwards (a reused thread id) does not
        // underflow.
        let back = SchedDelta::between(&end, &start);
        // Thread 1 went backwards (0); thread 2 counts from zero (10).
        assert_eq!(back.run_ns, 10);
    }

    #[test]
    fn idle_threads_give_no_wait_share() {
        let d = SchedDelta::default();
        assert_eq!(d.wait_share(), None);
        assert_eq!(d.wait_per_dispatch_us(), None);
    }

    /// A 10 s reading with these tick lags, `wait_ns`/`run_ns` of
    /// schedstat over 1000 dispatches, and `cpu_s` of CPU time.
    fn reading(lags_ms: &[f64], sched: Option<(u64, u64)>, cpu_s: f64) -> ProbeReading {
        let mut lag_us = Histogram::<u64>::new_with_bounds(1, MAX_LAG_US, 2).unwrap();
        for l in lags_ms {
            lag_us.record((l * 1e3) as u64).unwrap();
        }
        ProbeReading {
            window: Duration::from_secs(10),
            tick_period: TICK_PERIOD,
            lag_us,
            sched: sched.map(|(wait_ns, run_ns)| SchedDelta {
                run_ns,
                wait_ns,
                dispatches: 1000,
                threads: 4,
            }),
            cpu: Duration::from_secs_f64(cpu_s),
        }
    }

    /// 1000 ticks: 900 at `base` ms, 100 (10 %) at `tail` ms, so the p95
    /// and p99 are `tail` and the p50 is `base`.
    fn lags(base: f64, tail: f64) -> Vec<f64> {
        let mut v = vec![base; 900];
        v.extend(std::iter::repeat_n(tail, 100));
        v
    }

    #[test]
    fn limit_is_the_floor_or_a_share_of_the_latency_whichever_is_larger() {
        let t = Thresholds {
            floor_ms: 5.0,
            latency_share: 0.1,
        };
        assert_eq!(t.limit_ms(Some(20.0)), 5.0);
        assert_eq!(t.limit_ms(Some(200.0)), 20.0);
        assert_eq!(t.limit_ms(None), 5.0);
        assert_eq!(t.limit_ms(Some(f64::NAN)), 5.0);
        assert_eq!(t.limit_ms(Some(-3.0)), 5.0);
    }

    #[test]
    fn a_late_runtime_limits_a_short_ttft_but_not_a_long_one() {
        let t = Thresholds {
            floor_ms: 5.0,
            latency_share: 0.1,
        };
        // A busy client: a whole core of CPU.
        let r = reading(&lags(0.8, 12.0), Some((1, 9)), 10.0);
        let short = assess(&r, Some(50.0), &t);
        assert!(short.limited, "{short:?}");
        assert_eq!(short.limit_ms, 5.0);
        assert!(short.reason.contains("p95 12.0 ms"), "{}", short.reason);
        assert!(short.reason.contains("above 5.0 ms"), "{}", short.reason);
        assert!(short.reason.contains("busy itself"), "{}", short.reason);
        assert_eq!(short.cpu_cores, 1.0);
        let long = assess(&r, Some(500.0), &t);
        assert!(!long.limited, "{long:?}");
        // 10 % of 500 ms less the tick-lag p50 (0.8 ms).
        assert!((long.limit_ms - 49.92).abs() < 0.01, "{long:?}");
        assert!(long.reason.contains("did not limit"), "{}", long.reason);
        assert!(
            long.reason
                .contains("10 % of the latency p50 less the client's own delay, 499.2 ms"),
            "{}",
            long.reason
        );
    }

    #[test]
    fn a_client_that_inflates_the_ttft_does_not_raise_its_own_limit() {
        // Measured TTFT p50 600 ms of which 590 ms are the client's delay:
        // the true TTFT is ~10 ms, so the floor applies.
        let r = reading(&lags(590.0, 700.0), None, 9.0);
        let h = assess(&r, Some(600.0), &Thresholds::default());
        assert_eq!(h.limit_ms, Thresholds::default().floor_ms);
        assert!(h.limited, "{h:?}");
    }

    #[test]
    fn a_rare_stall_that_misses_the_p95_does_not_limit() {
        // 2 % of the window 40 ms late: the p99 sees it, the TTFT p95 (and
        // the verdict) do not.
        let mut v = vec![0.9; 980];
        v.extend(std::iter::repeat_n(40.0, 20));
        let h = assess(&reading(&v, None, 1.0), Some(50.0), &Thresholds::default());
        assert!(!h.limited, "{h:?}");
        assert!(h.tick_lag_p99_ms > 39.0, "{h:?}");
        assert!(h.tick_lag_p95_ms < 1.0, "{h:?}");
    }

    #[test]
    fn a_quiet_runtime_on_a_busy_host_is_not_limited() {
        // Host-level waiting is high (60 % of runnable time) but the
        // runtime still woke within 2 ms: the client is not what shaped TTFT.
        let r = reading(&lags(0.9, 2.0), Some((6, 4)), 3.0);
        let h = assess(&r, Some(50.0), &Thresholds::default());
        assert!(!h.limited, "{h:?}");
        assert_eq!(h.runnable_wait_share, Some(0.6));
        // HDR histogram with 2 significant digits: within 1 %.
        assert!((h.tick_lag_p95_ms - 2.0).abs() < 0.02, "{h:?}");
        assert!((h.tick_lag_mean_ms - 1.01).abs() < 0.02, "{h:?}");
        assert_eq!(h.cpu_cores, 0.3);
    }

    #[test]
    fn a_starved_client_is_told_so() {
        let r = reading(&lags(4.0, 40.0), Some((7_000_000, 3_000_000)), 0.5);
        let h = assess(&r, Some(50.0), &Thresholds::default());
        assert!(h.limited);
        assert!(
            h.reason.contains("the host kept its threads waiting"),
            "{}",
            h.reason
        );
        assert!(h.reason.contains("70 %"), "{}", h.reason);
        assert!(h.reason.contains("7 µs per dispatch"), "{}", h.reason);
    }

    #[test]
    fn too_few_ticks_never_limit() {
        let r = reading(&[100.0; 5], None, 0.0);
        let h = assess(&r, Some(50.0), &Thresholds::default());
        assert!(!h.limited);
        assert!(h.reason.contains("too short"), "{}", h.reason);
        let empty = assess(&reading(&[], None, 0.0), None, &Thresholds::default());
        assert!(!empty.limited);
        assert_eq!(empty.tick_lag_max_ms, 0.0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn ticker_sees_a_blocked_runtime_and_not_an_idle_one() {
        // Idle: nothing else on the runtime.
        let probe = ClientProbe::spawn(async {});
        tokio::time::sleep(Duration::from_millis(200)).await;
        let idle = probe.finish().await.expect("window opened");
        // Blocked: the only worker thread spins for 30 ms at a time.
        let probe = ClientProbe::spawn(async {});
        tokio::task::yield_now().await;
        let until = Instant::now() + Duration::from_millis(300);
        while Instant::now() < until {
            let spin = Instant::now() + Duration::from_millis(30);
            while Instant::now() < spin {
                std::hint::spin_loop();
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let blocked = probe.finish().await.expect("window opened");
        let idle_p99 = idle.lag_ms(0.99);
        let blocked_p50 = blocked.lag_ms(0.5);
        let blocked_max = blocked.lag_us.max() as f64 / 1e3;
        assert!(blocked_max >= 20.0, "blocked max {blocked_max} ms");
        assert!(
            blocked_p50 > idle_p99,
            "blocked p50 {blocked_p50} ms vs idle p99 {idle_p99} ms"
        );
        // Deadlines missed during a spin are counted (≈ 300 ms / 5 ms).
        assert!(blocked.lag_us.len() >= 40, "{} ticks", blocked.lag_us.len());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_window_that_never_opened_gives_no_reading() {
        let probe = ClientProbe::spawn(std::future::pending());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(probe.finish().await.is_none());
    }
}
