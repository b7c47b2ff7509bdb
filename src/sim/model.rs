//! The performance model's moving parts that do not touch HTTP: admission
//! to batch slots under a KV-token budget (FIFO, continuous batching), the
//! seeded per-request choices (fault, output length, jitter, text) and the
//! simulator's own prompt-token count.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use tokio::sync::oneshot;

use super::profile::SimProfile;

/// One kind of injected fault. `ALL` is also the order in which a single
/// uniform draw `u` in [0, 1) is mapped onto the configured rates: the
/// first kind whose cumulative rate exceeds `u` is injected, so each kind
/// happens with exactly its own probability and never two at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// `error_status` with a JSON error body, before any stream.
    ErrorStatus,
    /// 429 with `Retry-After`.
    RateLimited,
    /// 200 with an empty body.
    EmptyBody,
    /// 500 with an HTML body.
    NonJsonError,
    /// Connection closed mid-stream, without finish_reason / `[DONE]`.
    StreamCut,
    /// A pause mid-stream; the response is otherwise complete.
    Stall,
    /// One event (or the non-streaming body) is not valid JSON.
    Malformed,
    /// One event carries invalid UTF-8.
    InvalidUtf8,
    /// A 10 MB line without newline, then the body ends.
    HugeLine,
    /// Response headers delayed; the response is otherwise complete.
    SlowHeaders,
}

impl FaultKind {
    pub const ALL: [FaultKind; 10] = [
        FaultKind::ErrorStatus,
        FaultKind::RateLimited,
        FaultKind::EmptyBody,
        FaultKind::NonJsonError,
        FaultKind::StreamCut,
        FaultKind::Stall,
        FaultKind::Malformed,
        FaultKind::InvalidUtf8,
        FaultKind::HugeLine,
        FaultKind::SlowHeaders,
    ];

    /// Stable name (the `kind` label on `/metrics`).
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::ErrorStatus => "error_status",
            FaultKind::RateLimited => "rate_limited",
            FaultKind::EmptyBody => "empty_body",
            FaultKind::NonJsonError => "non_json_error",
            FaultKind::StreamCut => "stream_cut",
            FaultKind::Stall => "stall",
            FaultKind::Malformed => "malformed",
            FaultKind::InvalidUtf8 => "invalid_utf8",
            FaultKind::HugeLine => "huge_line",
            FaultKind::SlowHeaders => "slow_headers",
        }
    }

    /// Position in `ALL` (index into counter arrays).
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether a request with this fault still gets a complete, well-formed
    /// response (only slower), i.e. a client should count it a success.
    pub fn response_is_valid(self) -> bool {
        matches!(self, FaultKind::Stall | FaultKind::SlowHeaders)
    }

    fn rate(self, p: &SimProfile) -> f64 {
        let f = &p.faults;
        match self {
            FaultKind::ErrorStatus => f.error_rate,
            FaultKind::RateLimited => f.rate_429,
            FaultKind::EmptyBody => f.empty_body_rate,
            FaultKind::NonJsonError => f.non_json_error_rate,
            FaultKind::StreamCut => f.stream_cut_rate,
            FaultKind::Stall => f.stall_rate,
            FaultKind::Malformed => f.malformed_rate,
            FaultKind::InvalidUtf8 => f.invalid_utf8_rate,
            FaultKind::HugeLine => f.huge_line_rate,
            FaultKind::SlowHeaders => f.slow_headers_rate,
        }
    }
}

/// The fault for a uniform draw `u` in [0, 1), by cumulative rates in
/// `FaultKind::ALL` order, at uptime zero.
#[cfg(test)]
pub fn choose_fault(profile: &SimProfile, u: f64) -> Option<FaultKind> {
    choose_fault_at(profile, u, std::time::Duration::ZERO)
}

/// The fault for a uniform draw `u` in [0, 1) after `uptime` of the
/// simulator, by cumulative rates in `FaultKind::ALL` order; the
/// `error_rate` fault takes its drifted probability
/// (`SimProfile::error_rate_at`).
pub fn choose_fault_at(
    profile: &SimProfile,
    u: f64,
    uptime: std::time::Duration,
) -> Option<FaultKind> {
    let mut cumulative = 0.0;
    for kind in FaultKind::ALL {
        let rate = match kind {
            FaultKind::ErrorStatus => profile.error_rate_at(uptime),
            _ => kind.rate(profile),
        };
        cumulative += rate;
        if rate > 0.0 && u < cumulative {
            return Some(kind);
        }
    }
    None
}

/// SplitMix64 finaliser (Steele, Lea & Flood, "Fast splittable pseudorandom
/// number generators", OOPSLA 2014), used to derive independent seeds.
pub(super) fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Independent random streams of one request.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    /// The fault decision and its parameters.
    Fault = 1,
    /// Output length, jitter and text; independent of the fault settings, so
    /// turning faults on does not change the text or timing of the others.
    Generation = 2,
}

/// A deterministic RNG for (profile seed, arrival index, stream). Xoshiro256++
/// is a fixed algorithm, so runs reproduce across rand releases.
pub fn request_rng(seed: u64, index: u64, stream: Stream) -> Xoshiro256PlusPlus {
    let s = splitmix64(splitmix64(seed) ^ index) ^ splitmix64(stream as u64);
    Xoshiro256PlusPlus::seed_from_u64(s)
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Reached max_tokens.
    Length,
    /// Seeded early EOS.
    Stop,
}

impl Finish {
    pub fn as_str(self) -> &'static str {
        match self {
            Finish::Length => "length",
            Finish::Stop => "stop",
        }
    }
}

/// Output length: `max_tokens`, unless (without `ignore_eos`) the seeded draw
/// with probability `eos_probability` picks an early EOS, uniform in
/// 1..=max_tokens.
pub fn output_length(
    profile: &SimProfile,
    rng: &mut Xoshiro256PlusPlus,
    max_tokens: u32,
    ignore_eos: bool,
) -> (u32, Finish) {
    // Draw unconditionally so the rest of the stream does not depend on
    // ignore_eos.
    let u: f64 = rng.random();
    let len = rng.random_range(1..=max_tokens.max(1));
    if !ignore_eos && u < profile.eos_probability {
        (len, Finish::Stop)
    } else {
        (max_tokens, Finish::Length)
    }
}

/// Jitter factor uniform in `1 ± jitter_pct/100`.
pub fn jitter(profile: &SimProfile, rng: &mut Xoshiro256PlusPlus) -> f64 {
    if profile.jitter_pct == 0.0 {
        return 1.0;
    }
    let u: f64 = rng.random_range(-1.0..=1.0);
    1.0 + u * profile.jitter_pct / 100.0
}

/// Common short English words. Each is sent with a leading space, which makes
/// it a single token in the common BPE vocabularies (cl100k, o200k, Llama).
const WORDS: [&str; 48] = [
    "the", "of", "and", "to", "in", "is", "that", "it", "was", "for", "on", "are", "as", "with",
    "his", "they", "at", "be", "this", "from", "have", "or", "by", "one", "had", "not", "but",
    "what", "all", "were", "when", "we", "there", "can", "an", "your", "which", "their", "said",
    "if", "do", "will", "each", "about", "how", "up", "out", "them",
];

/// The next generated token's text (" the", " of", …).
pub fn next_word(rng: &mut Xoshiro256PlusPlus) -> &'static str {
    WORDS[rng.random_range(0..WORDS.len())]
}

/// The simulator's own prompt-token count: whitespace-separated words. It is
/// not a tokenizer; clients with a real tokenizer will count differently.
pub fn count_words(text: &str) -> u32 {
    u32::try_from(text.split_whitespace().count()).unwrap_or(u32::MAX)
}

/// Admission to batch slots: at most `slots` running sequences whose KV
/// reservations (prompt + max_tokens) sum to at most `kv_budget`. Waiting
/// requests are admitted strictly first-come first-served (head-of-line
/// blocking, like vLLM's default FCFS policy).
#[derive(Debug)]
pub struct Scheduler {
    slots: u32,
    kv_budget: Option<u64>,
    inner: Mutex<SchedInner>,
}

#[derive(Debug, Default)]
struct SchedInner {
    running: u32,
    kv_used: u64,
    next_ticket: u64,
    queue: VecDeque<Waiter>,
}

#[derive(Debug)]
struct Waiter {
    ticket: u64,
    kv: u64,
    tx: oneshot::Sender<()>,
}

/// A held slot; dropping it frees the slot and its KV reservation and admits
/// waiting requests.
#[derive(Debug)]
pub struct SlotGuard {
    sched: Arc<Scheduler>,
    kv: u64,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.sched.release(self.kv);
    }
}

/// Removes a waiter whose admission future was dropped (client gone). If it
/// had already been admitted, gives the slot back.
struct DequeueOnDrop {
    sched: Arc<Scheduler>,
    ticket: u64,
    kv: u64,
    armed: bool,
}

impl Drop for DequeueOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut inner = self.sched.lock();
        if let Some(pos) = inner.queue.iter().position(|w| w.ticket == self.ticket) {
            inner.queue.remove(pos);
            // The head may have been blocking others.
            self.sched.admit_waiting(&mut inner);
        } else {
            drop(inner);
            self.sched.release(self.kv);
        }
    }
}

/// Gauges of the scheduler at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedSnapshot {
    pub running: u32,
    pub waiting: u32,
    pub kv_used: u64,
}

impl Scheduler {
    pub fn new(slots: u32, kv_budget: Option<u64>) -> Scheduler {
        Scheduler {
            slots,
            kv_budget,
            inner: Mutex::new(SchedInner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SchedInner> {
        // A panic while holding this lock cannot leave the counters
        // half-updated (each update is a few integer ops), so recover.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fits(&self, inner: &SchedInner, kv: u64) -> bool {
        inner.running < self.slots && self.kv_budget.is_none_or(|b| inner.kv_used + kv <= b)
    }

    /// Waits for a slot with `kv` tokens of KV cache. Cancel-safe: dropping
    /// the future leaves the queue consistent.
    pub async fn admit(self: &Arc<Self>, kv: u64) -> SlotGuard {
        let (ticket, rx) = {
            let mut inner = self.lock();
            if inner.queue.is_empty() && self.fits(&inner, kv) {
                inner.running += 1;
                inner.kv_used += kv;
                return SlotGuard {
                    sched: Arc::clone(self),
                    kv,
                };
            }
            let ticket = inner.next_ticket;
            inner.next_ticket += 1;
            let (tx, rx) = oneshot::channel();
            inner.queue.push_back(Waiter { ticket, kv, tx });
            (ticket, rx)
        };
        let mut dequeue = DequeueOnDrop {
            sched: Arc::clone(self),
            ticket,
            kv,
            armed: true,
        };
        // The sender is only dropped after sending (or with the scheduler,
        // which we hold), so any wake-up means "admitted".
        let _ = rx.await;
        dequeue.armed = false;
        SlotGuard {
            sched: Arc::clone(self),
            kv,
        }
    }

    fn release(&self, kv: u64) {
        let mut inner = self.lock();
        inner.running = inner.running.saturating_sub(1);
        inner.kv_used = inner.kv_used.saturating_sub(kv);
        self.admit_waiting(&mut inner);
    }

    /// Admits waiters from the head while they fit. Admission is accounted
    /// here, under the lock, whether or not the waiter is still listening;
    /// `DequeueOnDrop` gives back a slot whose waiter left.
    fn admit_waiting(&self, inner: &mut SchedInner) {
        while let Some(head) = inner.queue.front() {
            if !self.fits(inner, head.kv) {
                break;
            }
            let Some(w) = inner.queue.pop_front() else {
                break;
            };
            inner.running += 1;
            inner.kv_used += w.kv;
            let _ = w.tx.send(());
        }
    }

    /// Current gauges.
    pub fn snapshot(&self) -> SchedSnapshot {
        let inner = self.lock();
        SchedSnapshot {
            running: inner.running,
            waiting: u32::try_from(inner.queue.len()).unwrap_or(u32::MAX),
            kv_used: inner.kv_used,
        }
    }

    /// Sequences holding slots now (the batch size of the next decode step).
    pub fn running(&self) -> u32 {
        self.lock().running
    }
}

/// TTFT and E2E of one request that gets a slot at once, under the profile's
/// own model — prefill × jitter, then one decode step × jitter per further
/// token at a constant batch of `running` — drawn with the same functions
/// the server schedules by. For statistical tests that need many runs of the
/// simulator without HTTP (and without the host's scheduling noise).
pub fn model_latencies(
    profile: &SimProfile,
    prompt_tokens: u32,
    output_tokens: u32,
    running: u32,
    rng: &mut Xoshiro256PlusPlus,
) -> (std::time::Duration, std::time::Duration) {
    let ttft = profile.prefill(prompt_tokens).mul_f64(jitter(profile, rng));
    let mut e2e = ttft;
    for _ in 1..output_tokens {
        e2e += profile.step(running).mul_f64(jitter(profile, rng));
    }
    (ttft, e2e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn admitted_now(fut: impl std::future::Future<Output = SlotGuard>) -> Option<SlotGuard> {
        // Poll once: Some if admission did not have to wait.
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut fut = std::pin::pin!(fut);
        match fut.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(g) => Some(g),
            std::task::Poll::Pending => None,
        }
    }

    #[tokio::test]
    async fn queued_requests_are_admitted_first_come_first_served() {
        let sched = Arc::new(Scheduler::new(2, None));
        let a = sched.admit(10).await;
        let b = sched.admit(10).await;
        assert_eq!(sched.snapshot().running, 2);
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..3 {
            let (s, o) = (Arc::clone(&sched), Arc::clone(&order));
            tasks.push(tokio::spawn(async move {
                let g = s.admit(10).await;
                o.lock().expect("test lock").push(i);
                tokio::time::sleep(Duration::from_millis(5)).await;
                drop(g);
            }));
            // Make the arrival order unambiguous.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(sched.snapshot().waiting, 3);
        drop(a);
        drop(b);
        for t in tasks {
            t.await.expect("task");
        }
        assert_eq!(*order.lock().expect("test lock"), vec![0, 1, 2]);
        assert_eq!(
            sched.snapshot(),
            SchedSnapshot {
                running: 0,
                waiting: 0,
                kv_used: 0
            }
        );
    }

    #[tokio::test]
    async fn kv_budget_blocks_admission_until_tokens_are_freed() {
        // 8 slots but only 1000 KV tokens: two 400-token requests fit, a
        // third waits although slots are free.
        let sched = Arc::new(Scheduler::new(8, Some(1000)));
        let a = admitted_now(sched.admit(400)).expect("first fits");
        let _b = admitted_now(sched.admit(400)).expect("second fits");
        assert!(admitted_now(sched.admit(400)).is_none(), "third must queue");
        // The cancelled third left the queue.
        assert_eq!(sched.snapshot().waiting, 0);
        let s2 = Arc::clone(&sched);
        let waiting = tokio::spawn(async move { s2.admit(400).await });
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(sched.snapshot().waiting, 1);
        assert_eq!(sched.snapshot().kv_used, 800);
        drop(a);
        let c = waiting.await.expect("admitted after release");
        assert_eq!(sched.snapshot().kv_used, 800);
        assert_eq!(sched.snapshot().running, 2);
        // FIFO: a small request behind a big waiting one waits too.
        let s3 = Arc::clone(&sched);
        let big = tokio::spawn(async move { s3.admit(600).await });
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(admitted_now(sched.admit(100)).is_none(), "no overtaking");
        drop(c);
        let big = big.await.expect("big admitted");
        assert_eq!(sched.snapshot().kv_used, 1000);
        drop(big);
    }

    #[tokio::test]
    async fn a_waiter_that_leaves_after_admission_returns_its_slot() {
        let sched = Arc::new(Scheduler::new(1, None));
        let a = sched.admit(1).await;
        let s2 = Arc::clone(&sched);
        let waiter = tokio::spawn(async move {
            let _g = s2.admit(1).await;
            std::future::pending::<()>().await;
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
        drop(a);
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(sched.snapshot().running, 1);
        waiter.abort();
        let _ = waiter.await;
        assert_eq!(sched.snapshot().running, 0);
        assert!(admitted_now(sched.admit(1)).is_some());
    }

    #[test]
    fn step_time_grows_with_batch_size() {
        let p = SimProfile {
            tpot_ms: 10.0,
            batch_growth: 0.05,
            ..SimProfile::default()
        };
        assert_eq!(p.step(1), Duration::from_millis(10));
        assert_eq!(p.step(0), Duration::from_millis(10));
        assert_eq!(p.step(11), Duration::from_millis(15));
        let flat = SimProfile {
            tpot_ms: 10.0,
            ..SimProfile::default()
        };
        assert_eq!(flat.step(64), Duration::from_millis(10));
        let prefill = SimProfile {
            ttft_ms: 40.0,
            prefill_us_per_token: 100.0,
            ..SimProfile::default()
        };
        assert_eq!(prefill.prefill(100), Duration::from_millis(50));
    }

    #[test]
    fn fault_choice_follows_cumulative_rates_in_documented_order() {
        let mut p = SimProfile::default();
        p.faults.error_rate = 0.1;
        p.faults.rate_429 = 0.2;
        p.faults.slow_headers_rate = 0.1;
        assert_eq!(choose_fault(&p, 0.05), Some(FaultKind::ErrorStatus));
        assert_eq!(choose_fault(&p, 0.15), Some(FaultKind::RateLimited));
        assert_eq!(choose_fault(&p, 0.35), Some(FaultKind::SlowHeaders));
        assert_eq!(choose_fault(&p, 0.45), None);
        // Frequencies over seeded draws match the rates.
        let mut counts = [0u32; FaultKind::ALL.len()];
        for i in 0..20_000 {
            let u: f64 = request_rng(7, i, Stream::Fault).random();
            if let Some(k) = choose_fault(&p, u) {
                counts[k.index()] += 1;
            }
        }
        let share = |k: FaultKind| f64::from(counts[k.index()]) / 20_000.0;
        assert!((share(FaultKind::ErrorStatus) - 0.1).abs() < 0.01);
        assert!((share(FaultKind::RateLimited) - 0.2).abs() < 0.015);
        assert!((share(FaultKind::SlowHeaders) - 0.1).abs() < 0.01);
        assert_eq!(counts[FaultKind::StreamCut.index()], 0);
    }

    #[test]
    fn error_drift_shifts_draws_into_errors_with_uptime() {
        let mut p = SimProfile::default();
        p.faults.error_rate = 0.1;
        p.faults.rate_429 = 0.2;
        p.faults.error_drift_per_s = 0.01;
        let at = |s| choose_fault_at(&p, 0.15, Duration::from_secs(s));
        // At start 0.15 falls in the 429 band [0.1, 0.3); after 10 s the
        // error band is [0, 0.2) and takes it.
        assert_eq!(at(0), Some(FaultKind::RateLimited));
        assert_eq!(at(10), Some(FaultKind::ErrorStatus));
        // Capped at 1 − 0.2: draws above 0.8 still reach the 429s.
        assert_eq!(
            choose_fault_at(&p, 0.9, Duration::from_secs(10_000)),
            Some(FaultKind::RateLimited)
        );
    }

    #[test]
    fn seeded_choices_repeat_for_the_same_seed_and_index() {
        let draw = |seed, idx| {
            let mut r = request_rng(seed, idx, Stream::Generation);
            (0..8).map(|_| next_word(&mut r)).collect::<Vec<_>>()
        };
        assert_eq!(draw(1, 5), draw(1, 5));
        assert_ne!(draw(1, 5), draw(1, 6));
        assert_ne!(draw(1, 5), draw(2, 5));
    }

    #[test]
    fn eos_shortens_output_only_without_ignore_eos() {
        let p = SimProfile {
            eos_probability: 1.0,
            ..SimProfile::default()
        };
        let mut r = request_rng(0, 0, Stream::Generation);
        let (len, finish) = output_length(&p, &mut r, 100, false);
        assert!((1..=100).contains(&len));
        assert_eq!(finish, Finish::Stop);
        let mut r = request_rng(0, 0, Stream::Generation);
        assert_eq!(output_length(&p, &mut r, 100, true), (100, Finish::Length));
        let mut r = request_rng(0, 0, Stream::Generation);
        let never = SimProfile::default();
        assert_eq!(
            output_length(&never, &mut r, 100, false),
            (100, Finish::Length)
        );
    }

    #[test]
    fn prompt_tokens_are_whitespace_words() {
        assert_eq!(count_words("  hello   big\nworld\t"), 3);
        assert_eq!(count_words(""), 0);
    }
}
