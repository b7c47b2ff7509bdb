//! The driver: runs a [`Plan`] against a [`Client`]. Closed loop (N users,
//! each sending its next request when the previous one ends, plus think
//! time) or open loop (arrivals on an absolute schedule, constant or
//! Poisson, that holds while the server slows). Applies warm-up, the stop
//! condition, planned cancellations and the labelled retry policy, and sends
//! every finished record to the recorder over a channel. A stop signal
//! (SIGINT/SIGTERM) ends scheduling at once and abandons in-flight requests,
//! so the bundle can still be written quickly, marked incomplete.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore, mpsc};

use crate::client::{Client, Outcome, Phase, RequestRecord};
use crate::workload::{Arrival, LoadPlan, Plan, StopAfter, Warmup, mix64, unit};

/// Shared stop flag: set by signal handlers, read by every loop.
#[derive(Debug, Default)]
pub struct StopSignal {
    stopped: AtomicBool,
    notify: Notify,
    reason: std::sync::Mutex<Option<String>>,
}

impl StopSignal {
    pub fn new() -> Arc<StopSignal> {
        Arc::new(StopSignal::default())
    }

    pub fn stop(&self, reason: &str) {
        if let Ok(mut r) = self.reason.lock()
            && r.is_none()
        {
            *r = Some(reason.to_string());
        }
        self.stopped.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    pub fn reason(&self) -> Option<String> {
        self.reason.lock().ok().and_then(|r| r.clone())
    }

    /// Resolves once [`StopSignal::stop`] has been called.
    pub async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_stopped() {
                return;
            }
            notified.await;
        }
    }
}

/// Moments of a run that other tasks wait for (the telemetry scraper scrapes
/// when the measurement window opens and when the run is over).
#[derive(Debug, Default)]
pub struct RunEvents {
    /// The first measured request is about to start.
    pub measuring: Notify,
    /// The run is over.
    pub done: Notify,
}

/// Live counters for progress display.
#[derive(Debug, Default)]
pub struct Progress {
    pub started: AtomicU64,
    pub finished: AtomicU64,
    pub failed: AtomicU64,
    pub in_flight: AtomicU64,
}

/// What the driver reports besides the records.
#[derive(Debug, Clone)]
pub struct DriverSummary {
    /// Requests abandoned in flight because of a stop signal.
    pub abandoned: u64,
    /// The run ended early (stop signal).
    pub interrupted: Option<String>,
    /// Wall time from the epoch to the end of the run.
    pub elapsed: Duration,
}

/// Run the plan. Records go to `tx` in completion order.
pub async fn run(
    plan: Arc<Plan>,
    client: Arc<Client>,
    epoch: Instant,
    tx: mpsc::Sender<RequestRecord>,
    stop: Arc<StopSignal>,
    progress: Arc<Progress>,
    events: Arc<RunEvents>,
) -> DriverSummary {
    let abandoned = Arc::new(AtomicU64::new(0));
    let ctx = Arc::new(Ctx {
        plan: plan.clone(),
        client,
        epoch,
        tx,
        stop: stop.clone(),
        progress,
        abandoned: abandoned.clone(),
        measure_start: std::sync::OnceLock::new(),
        events,
    });
    match plan.load.clone() {
        LoadPlan::Closed {
            concurrency,
            think_time,
        } => closed_loop(ctx, concurrency, think_time).await,
        LoadPlan::Open {
            rate,
            arrival,
            max_in_flight,
        } => open_loop(ctx, rate, arrival, max_in_flight).await,
    }
    DriverSummary {
        abandoned: abandoned.load(Ordering::SeqCst),
        interrupted: stop.reason(),
        elapsed: epoch.elapsed(),
    }
}

struct Ctx {
    plan: Arc<Plan>,
    client: Arc<Client>,
    epoch: Instant,
    tx: mpsc::Sender<RequestRecord>,
    stop: Arc<StopSignal>,
    progress: Arc<Progress>,
    abandoned: Arc<AtomicU64>,
    /// When the first measured request was sent: the start of the
    /// measurement window, and the origin of a `duration` stop.
    measure_start: std::sync::OnceLock<Instant>,
    events: Arc<RunEvents>,
}

impl Ctx {
    /// Is request `index`, about to start now, part of the warm-up?
    fn phase(&self, index: u64, now: Instant) -> Phase {
        let warm = match self.plan.warmup {
            Warmup::None => false,
            Warmup::Requests(n) => index < n,
            Warmup::Duration(d) => now < self.epoch + d,
        };
        if warm {
            Phase::Warmup
        } else {
            if self.measure_start.set(now).is_ok() {
                // `notify_one` keeps the signal for a listener that is not
                // waiting at this instant.
                self.events.measuring.notify_one();
            }
            Phase::Measured
        }
    }

    /// May request `index` start at `now`?
    fn may_start(&self, index: u64, now: Instant) -> bool {
        if self.stop.is_stopped() {
            return false;
        }
        match self.plan.stop {
            StopAfter::Requests(n) => {
                let warm = match self.plan.warmup {
                    Warmup::Requests(w) => w,
                    _ => 0,
                };
                match self.plan.warmup {
                    // A time-based warm-up has an unknown number of
                    // requests: count measured ones instead.
                    Warmup::Duration(_) => true,
                    _ => index < n + warm,
                }
            }
            StopAfter::Duration(d) => match self.measure_start.get() {
                Some(s) => now < *s + d,
                None => true,
            },
        }
    }

    /// Send one planned request with the retry policy, record it.
    async fn execute(&self, index: u64, scheduled_at: Duration, phase: Phase) {
        let planned = self.plan.request(index);
        self.progress.started.fetch_add(1, Ordering::Relaxed);
        self.progress.in_flight.fetch_add(1, Ordering::Relaxed);
        let work = async {
            let mut attempts = 0u32;
            loop {
                attempts += 1;
                let mut rec = self.client.send(&planned.spec, self.epoch).await;
                let retry = match (&self.plan.retry, rec.outcome) {
                    (Some(policy), Outcome::Failed { kind, .. })
                        if attempts < policy.max_attempts && policy.on.contains(&kind) =>
                    {
                        let backoff = policy.backoff * 2u32.saturating_pow(attempts - 1);
                        Some(
                            rec.retry_after
                                .map(|r| r.min(policy.max_retry_after))
                                .unwrap_or(backoff),
                        )
                    }
                    _ => None,
                };
                match retry {
                    Some(wait) if !self.stop.is_stopped() => {
                        tokio::time::sleep(wait).await;
                    }
                    _ => {
                        rec.index = index;
                        rec.class = planned.class;
                        rec.phase = phase;
                        rec.attempts = attempts;
                        rec.scheduled_at = scheduled_at;
                        return rec;
                    }
                }
            }
        };
        let rec = tokio::select! {
            rec = work => Some(rec),
            _ = self.stop.wait() => None,
        };
        self.progress.in_flight.fetch_sub(1, Ordering::Relaxed);
        match rec {
            Some(rec) => {
                if matches!(rec.outcome, Outcome::Failed { .. }) && phase == Phase::Measured {
                    self.progress.failed.fetch_add(1, Ordering::Relaxed);
                }
                if phase == Phase::Measured {
                    self.progress.finished.fetch_add(1, Ordering::Relaxed);
                }
                // The recorder only goes away when the run is over.
                let _ = self.tx.send(rec).await;
            }
            None => {
                self.abandoned.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// With a time-based warm-up and a request count, the count applies to
    /// measured requests: stop once that many have been started.
    fn measured_quota_reached(&self, measured_started: u64) -> bool {
        matches!(
            (self.plan.stop, self.plan.warmup),
            (StopAfter::Requests(n), Warmup::Duration(_)) if measured_started >= n
        )
    }
}

async fn closed_loop(ctx: Arc<Ctx>, concurrency: u32, think_time: Duration) {
    let next = Arc::new(AtomicU64::new(0));
    let measured_started = Arc::new(AtomicU64::new(0));
    let mut users = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let ctx = ctx.clone();
        let next = next.clone();
        let measured_started = measured_started.clone();
        users.spawn(async move {
            loop {
                let now = Instant::now();
                if ctx.measured_quota_reached(measured_started.load(Ordering::SeqCst)) {
                    break;
                }
                let index = next.fetch_add(1, Ordering::SeqCst);
                if !ctx.may_start(index, now) {
                    break;
                }
                let phase = ctx.phase(index, now);
                if phase == Phase::Measured
                    && measured_started.fetch_add(1, Ordering::SeqCst) >= quota(&ctx)
                {
                    break;
                }
                ctx.execute(index, now - ctx.epoch, phase).await;
                if !think_time.is_zero() {
                    tokio::select! {
                        _ = tokio::time::sleep(think_time) => {}
                        _ = ctx.stop.wait() => break,
                    }
                }
            }
        });
    }
    while users.join_next().await.is_some() {}
}

/// Measured requests allowed in count mode with a time-based warm-up;
/// unlimited otherwise (the index bound applies).
fn quota(ctx: &Ctx) -> u64 {
    match (ctx.plan.stop, ctx.plan.warmup) {
        (StopAfter::Requests(n), Warmup::Duration(_)) => n,
        _ => u64::MAX,
    }
}

async fn open_loop(ctx: Arc<Ctx>, rate: f64, arrival: Arrival, max_in_flight: u32) {
    let permits = Arc::new(Semaphore::new(max_in_flight as usize));
    let mut tasks = tokio::task::JoinSet::new();
    let mut offset_s = 0.0f64;
    let mut measured_started = 0u64;
    for index in 0u64.. {
        // Absolute schedule: request i starts at epoch + t_i however late
        // earlier requests finish, so a slow server meets the same load.
        let gap = match arrival {
            Arrival::Constant => 1.0 / rate,
            // Exponential inter-arrival times by inversion: −ln(1 − U)/λ
            // (Ross, Simulation, 5th ed., §5.1).
            Arrival::Poisson => {
                let u = unit(mix64(ctx.plan.seed ^ 0xA11_0CA7E ^ mix64(index)));
                -(1.0 - u).ln() / rate
            }
        };
        if index > 0 || arrival == Arrival::Poisson {
            offset_s += gap;
        }
        let scheduled = Duration::from_secs_f64(offset_s);
        let at = ctx.epoch + scheduled;
        if !ctx.may_start(index, at.max(Instant::now()))
            || ctx.measured_quota_reached(measured_started)
        {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(at.into()) => {}
            _ = ctx.stop.wait() => break,
        }
        // Memory bound: beyond max_in_flight, arrivals wait here; the wait
        // shows up as schedule lag in the bundle.
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = ctx.stop.wait() => break,
        };
        let now = Instant::now();
        if !ctx.may_start(index, now) {
            break;
        }
        let phase = ctx.phase(index, now);
        if phase == Phase::Measured {
            measured_started += 1;
        }
        let ctx2 = ctx.clone();
        tasks.spawn(async move {
            ctx2.execute(index, scheduled, phase).await;
            drop(permit);
        });
        // Reap finished tasks so the set does not grow with the run.
        while let Some(r) = tasks.try_join_next() {
            let _ = r;
        }
    }
    while tasks.join_next().await.is_some() {}
}
