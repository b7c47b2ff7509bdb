//! The driver: runs a [`Plan`] against a [`Client`]. Closed loop (N users,
//! each sending its next request when the previous one ends, plus think
//! time) or open loop (arrivals on an absolute schedule, constant or
//! Poisson, that holds while the server slows). Applies warm-up, the stop
//! condition, planned cancellations and the labelled retry policy, and sends
//! every finished record to the recorder over a channel. A stop signal
//! (SIGINT/SIGTERM) ends scheduling at once and abandons in-flight requests,
//! so the bundle can still be written quickly, marked incomplete.
//!
//! `tokengate ab` runs one schedule against two endpoints
//! ([`run_interleaved`]): each request slot of the schedule is mapped to a
//! side (baseline A or candidate B) and a planned request ([`Schedule`]);
//! each side has its own client and recorder channel. A plain run is the
//! one-sided schedule, slot = planned request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore, mpsc};

use crate::client::{Client, Outcome, Phase, RequestRecord};
use crate::workload::{Arrival, LoadPlan, Plan, Shard, StopAfter, Warmup, mix64, unit};

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

/// One endpoint of a schedule: where its requests go, where its records go.
pub struct Side {
    pub client: Arc<Client>,
    pub tx: mpsc::Sender<RequestRecord>,
}

/// How the schedule's request slots map to sides and planned requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// One side; slot i sends planned request i.
    Single,
    /// Two sides (0 = baseline A, 1 = candidate B) in blocks of two
    /// consecutive slots: block k holds one A and one B slot, in an order
    /// drawn from `seed`, and both send planned request k. Randomized and
    /// balanced within blocks, as the "duet" design does (Bulej et al. 2020,
    /// "Duet benchmarking: improving measurement accuracy in the cloud",
    /// *Empirical Software Engineering* 25), so noise that comes and goes
    /// hits both sides alike and neither side always goes first.
    Interleaved { seed: u64 },
    /// One side, one shard of the plan (`--shard I/N`): slot k sends the
    /// shard's k-th request, planned request k·N + (I − 1).
    Sharded(Shard),
}

/// Salt of the A/B order draw, so it is independent of the plan's other
/// draws from the same seed (prompt choice, Poisson gaps).
const AB_ORDER_SALT: u64 = 0xAB_0DE5_1DE5;

impl Schedule {
    /// Number of sides.
    pub fn sides(self) -> u64 {
        match self {
            Schedule::Single | Schedule::Sharded(_) => 1,
            Schedule::Interleaved { .. } => 2,
        }
    }

    /// The side and the planned request index of request slot `slot`.
    pub fn slot(self, slot: u64) -> (usize, u64) {
        match self {
            Schedule::Single => (0, slot),
            Schedule::Sharded(shard) => (0, shard.global_index(slot)),
            Schedule::Interleaved { seed } => {
                let block = slot / 2;
                let first = (mix64(seed ^ AB_ORDER_SALT ^ mix64(block)) & 1) as usize;
                (first ^ (slot % 2) as usize, block)
            }
        }
    }
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
    let sides = vec![Side { client, tx }];
    let schedule = plan.shard.map_or(Schedule::Single, Schedule::Sharded);
    run_schedule(plan, sides, schedule, epoch, stop, progress, events).await
}

/// Run the plan once against two sides in one time window (`tokengate ab`):
/// the load of the plan (its concurrency or rate) is shared by both sides,
/// every planned request is sent once to each side (warm-up included), and
/// the records of side s go to `sides[s].tx` with `index` = the planned
/// request's index. The order within each block is drawn from the plan's
/// seed ([`Schedule::Interleaved`]).
pub async fn run_interleaved(
    plan: Arc<Plan>,
    sides: [Side; 2],
    epoch: Instant,
    stop: Arc<StopSignal>,
    progress: Arc<Progress>,
    events: Arc<RunEvents>,
) -> DriverSummary {
    let schedule = Schedule::Interleaved { seed: plan.seed };
    let sides = Vec::from(sides);
    run_schedule(plan, sides, schedule, epoch, stop, progress, events).await
}

async fn run_schedule(
    plan: Arc<Plan>,
    sides: Vec<Side>,
    schedule: Schedule,
    epoch: Instant,
    stop: Arc<StopSignal>,
    progress: Arc<Progress>,
    events: Arc<RunEvents>,
) -> DriverSummary {
    let abandoned = Arc::new(AtomicU64::new(0));
    let ctx = Arc::new(Ctx {
        plan: plan.clone(),
        sides,
        schedule,
        epoch,
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
    sides: Vec<Side>,
    schedule: Schedule,
    epoch: Instant,
    stop: Arc<StopSignal>,
    progress: Arc<Progress>,
    abandoned: Arc<AtomicU64>,
    /// When the first measured request was sent: the start of the
    /// measurement window, and the origin of a `duration` stop.
    measure_start: std::sync::OnceLock<Instant>,
    events: Arc<RunEvents>,
}

impl Ctx {
    /// Is request slot `slot`, about to start now, part of the warm-up?
    fn phase(&self, slot: u64, now: Instant) -> Phase {
        let (_, index) = self.schedule.slot(slot);
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

    /// May request slot `slot` start at `now`?
    fn may_start(&self, slot: u64, now: Instant) -> bool {
        let (_, index) = self.schedule.slot(slot);
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

    /// Send the planned request of slot `slot` to its side with the retry
    /// policy, record it.
    async fn execute(&self, slot: u64, scheduled_at: Duration, phase: Phase) {
        let (side, index) = self.schedule.slot(slot);
        let Side { client, tx } = &self.sides[side];
        let planned = self.plan.request(index);
        self.progress.started.fetch_add(1, Ordering::Relaxed);
        self.progress.in_flight.fetch_add(1, Ordering::Relaxed);
        let work = async {
            let mut attempts = 0u32;
            loop {
                attempts += 1;
                let mut rec = client.send(&planned.spec, self.epoch).await;
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
                let _ = tx.send(rec).await;
            }
            None => {
                self.abandoned.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// With a time-based warm-up and a request count, the count applies to
    /// measured requests (per side): stop once that many have been started.
    fn measured_quota_reached(&self, measured_started: u64) -> bool {
        measured_started >= quota(self)
    }
}

/// Users worth starting: never more than the requests a counted run can
/// start (warm-up plus measured, per side), so `--concurrency 100000` for 20
/// requests starts 20 tasks, not 100000 idle ones.
fn users_for(ctx: &Ctx, concurrency: u32) -> u32 {
    // A shard runs its share of the users (the plan refused fewer users
    // than shards).
    let concurrency = match ctx.schedule {
        Schedule::Sharded(shard) => shard.users_of(concurrency).unwrap_or(1).max(1),
        _ => concurrency,
    };
    let StopAfter::Requests(n) = ctx.plan.stop else {
        return concurrency;
    };
    let warm = match ctx.plan.warmup {
        Warmup::Requests(w) => w,
        _ => 0,
    };
    let most = n.saturating_add(warm).saturating_mul(ctx.schedule.sides());
    u32::try_from(most.min(u64::from(concurrency)))
        .unwrap_or(concurrency)
        .max(1)
}

async fn closed_loop(ctx: Arc<Ctx>, concurrency: u32, think_time: Duration) {
    let next = Arc::new(AtomicU64::new(0));
    let measured_started = Arc::new(AtomicU64::new(0));
    let mut users = tokio::task::JoinSet::new();
    for _ in 0..users_for(&ctx, concurrency) {
        let ctx = ctx.clone();
        let next = next.clone();
        let measured_started = measured_started.clone();
        users.spawn(async move {
            loop {
                let now = Instant::now();
                if ctx.measured_quota_reached(measured_started.load(Ordering::SeqCst)) {
                    break;
                }
                let slot = next.fetch_add(1, Ordering::SeqCst);
                if !ctx.may_start(slot, now) {
                    break;
                }
                let phase = ctx.phase(slot, now);
                if phase == Phase::Measured
                    && measured_started.fetch_add(1, Ordering::SeqCst) >= quota(&ctx)
                {
                    break;
                }
                ctx.execute(slot, now - ctx.epoch, phase).await;
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

/// Measured request slots allowed in count mode with a time-based warm-up
/// (the count per side times the sides); unlimited otherwise (the index
/// bound applies).
fn quota(ctx: &Ctx) -> u64 {
    match (ctx.plan.stop, ctx.plan.warmup) {
        (StopAfter::Requests(n), Warmup::Duration(_)) => match ctx.schedule {
            Schedule::Sharded(shard) => shard.share_of(n),
            _ => n.saturating_mul(ctx.schedule.sides()),
        },
        _ => u64::MAX,
    }
}

async fn open_loop(ctx: Arc<Ctx>, rate: f64, arrival: Arrival, max_in_flight: u32) {
    let permits = Arc::new(Semaphore::new(max_in_flight as usize));
    let mut tasks = tokio::task::JoinSet::new();
    let mut offset_s = 0.0f64;
    let mut measured_started = 0u64;
    // A shard walks the whole schedule and keeps the arrivals of its own
    // indices, so the shards together keep the one-process schedule.
    let shard = match ctx.schedule {
        Schedule::Sharded(shard) => Some(shard),
        _ => None,
    };
    for arrival_index in 0u64.. {
        // Absolute schedule: slot i starts at epoch + t_i however late
        // earlier requests finish, so a slow server meets the same load.
        let gap = match arrival {
            Arrival::Constant => 1.0 / rate,
            // Exponential inter-arrival times by inversion: −ln(1 − U)/λ
            // (Ross, Simulation, 5th ed., §5.1).
            Arrival::Poisson => {
                let u = unit(mix64(ctx.plan.seed ^ 0xA11_0CA7E ^ mix64(arrival_index)));
                -(1.0 - u).ln() / rate
            }
        };
        if arrival_index > 0 || arrival == Arrival::Poisson {
            offset_s += gap;
        }
        let slot = match shard {
            Some(s) if !s.owns(arrival_index) => continue,
            Some(s) => arrival_index / u64::from(s.total()),
            None => arrival_index,
        };
        let scheduled = Duration::from_secs_f64(offset_s);
        let at = ctx.epoch + scheduled;
        if !ctx.may_start(slot, at.max(Instant::now()))
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
        if !ctx.may_start(slot, now) {
            break;
        }
        let phase = ctx.phase(slot, now);
        if phase == Phase::Measured {
            measured_started += 1;
        }
        let ctx2 = ctx.clone();
        tasks.spawn(async move {
            ctx2.execute(slot, scheduled, phase).await;
            drop(permit);
        });
        // Reap finished tasks so the set does not grow with the run.
        while let Some(r) = tasks.try_join_next() {
            let _ = r;
        }
    }
    while tasks.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::Schedule;

    #[test]
    fn a_single_schedule_sends_slot_i_as_planned_request_i() {
        for slot in [0, 1, 7, 1000] {
            assert_eq!(Schedule::Single.slot(slot), (0, slot));
        }
    }

    #[test]
    fn an_interleaved_block_sends_its_planned_request_once_to_each_side() {
        let s = Schedule::Interleaved { seed: 7 };
        let mut a_first = 0;
        for block in 0..400u64 {
            let (side0, k0) = s.slot(2 * block);
            let (side1, k1) = s.slot(2 * block + 1);
            assert_eq!((k0, k1), (block, block), "block {block}");
            assert_ne!(side0, side1, "block {block}: one A and one B slot");
            assert!(side0 < 2 && side1 < 2);
            if side0 == 0 {
                a_first += 1;
            }
        }
        // A fair coin per block: 200 expected, a 4.5σ band (σ = 10) so the
        // fixed seed is far from the edge.
        assert!(
            (155..=245).contains(&a_first),
            "A first in {a_first} of 400"
        );
    }

    #[test]
    fn the_interleaved_order_is_a_function_of_the_seed() {
        let order = |seed| -> Vec<usize> {
            (0..64)
                .map(|slot| Schedule::Interleaved { seed }.slot(slot).0)
                .collect()
        };
        assert_eq!(order(7), order(7));
        assert_ne!(order(7), order(8));
    }
}
