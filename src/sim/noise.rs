//! Noise of the host the simulated server runs on, as opposed to the
//! per-request jitter and faults of `model`: the run-to-run slowdown factor
//! drawn once per server start (`run_noise`), and the host stalls that pause
//! the whole engine (`host_stalls`). Both are seeded.
//!
//! Host stalls use two clocks. *Wall time* is the server's uptime. *Engine
//! time* is wall time minus the stalls so far: it stands still while the host
//! is stalled. Requests schedule prefill and decode steps in engine time, and
//! each deadline is mapped back to the wall instant at which the engine
//! reaches it, so every deadline after a stall's start moves by the stall's
//! length — for all requests in flight alike.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng, TryRng};

use super::model::splitmix64;
use super::profile::{HostStalls, RunNoise};

/// Stream constants: a run-noise seed and a host-stall seed of the same value
/// give independent draws, and neither equals a request's stream.
const RUN_NOISE_STREAM: u64 = 0x52_55_4E_5F_4E_4F_49_53; // "RUN_NOIS"
const HOST_STALL_STREAM: u64 = 0x48_4F_53_54_5F_53_54_4C; // "HOST_STL"

/// Standard-normal draws beyond ±4 are cut (two-sided mass 6.3·10⁻⁵), so a
/// factor stays within `exp(±4σ)`.
const Z_LIMIT: f64 = 4.0;

fn noise_rng(seed: u64, stream: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(splitmix64(splitmix64(seed) ^ stream))
}

/// A seed for a start whose profile names none: 64 bits from the operating
/// system (getrandom). If the OS cannot give any, the wall clock's
/// nanoseconds, the process id and a per-process start counter, mixed, which
/// still differ from one start to the next.
pub fn fresh_seed() -> u64 {
    if let Ok(s) = rand::rngs::SysRng.try_next_u64() {
        return s;
    }
    static STARTS: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let count = STARTS.fetch_add(1, Ordering::Relaxed);
    splitmix64(nanos ^ splitmix64(u64::from(std::process::id()) ^ splitmix64(count)))
}

/// One standard-normal draw by the Box–Muller transform (Box & Muller, "A
/// note on the generation of random normal deviates", Ann. Math. Statist.
/// 29(2), 1958): `sqrt(−2 ln U₁) · cos(2π U₂)`. Written out rather than taken
/// from `rand_distr` so a seed gives the same factor whatever that crate's
/// version.
fn standard_normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    // random() is in [0, 1); 1 − u is in (0, 1], so ln is finite.
    let u1 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// The run-to-run slowdown factor for coefficient of variation `cv` and
/// `seed`: log-normal with median 1, `exp(σ·Z)` with `σ² = ln(1 + cv²)` (a
/// log-normal's CV² is `exp(σ²) − 1`: Johnson, Kotz & Balakrishnan,
/// *Continuous Univariate Distributions* vol. 1, 2nd ed., 1994, ch. 14),
/// Z truncated at ±4. Exposed for tests that model runs without HTTP.
pub fn run_slowdown(cv: f64, seed: u64) -> f64 {
    if cv <= 0.0 {
        return 1.0;
    }
    let sigma = cv.mul_add(cv, 1.0).ln().sqrt();
    let z = standard_normal(&mut noise_rng(seed, RUN_NOISE_STREAM)).clamp(-Z_LIMIT, Z_LIMIT);
    (sigma * z).exp()
}

/// The run-to-run noise of one server start: the factor and the seed it was
/// drawn with (None when the profile has no `run_noise`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunFactor {
    pub factor: f64,
    pub seed: Option<u64>,
}

impl RunFactor {
    pub fn draw(noise: Option<&RunNoise>) -> RunFactor {
        match noise {
            None => RunFactor {
                factor: 1.0,
                seed: None,
            },
            Some(n) => {
                let seed = n.seed.unwrap_or_else(fresh_seed);
                RunFactor {
                    factor: run_slowdown(n.cv, seed),
                    seed: Some(seed),
                }
            }
        }
    }
}

/// Validated milliseconds (finite, ≥ 0, at most a day) as a `Duration`
/// rounded to the nanosecond, so `at_ms: [1000]` and `duration_ms: 150` are
/// exact (truncating `0.15 s` in binary would give 149.999999 ms).
fn whole_ns(v_ms: f64) -> Duration {
    Duration::from_nanos((v_ms.max(0.0) * 1e6).round() as u64)
}

/// Stalls that started more than this long before the latest wall-time
/// query are forgotten, so a server up for days keeps a bounded list. Only
/// deadlines of requests in flight are looked up, and those are never an
/// hour in the past.
const RETAIN: Duration = Duration::from_secs(3600);

/// One stall: where it starts on both clocks. Its length is the schedule's.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stall {
    wall: Duration,
    engine: Duration,
}

/// The stall times of one server start, drawn lazily (as far as a query
/// needs) from the seeded process, and the mapping between wall and engine
/// time they define. All times are since the server started.
#[derive(Debug)]
pub struct StallSchedule {
    duration: Duration,
    /// Rate per second of engine running time; 0: only the fixed times.
    rate: f64,
    rng: Xoshiro256PlusPlus,
    /// Wall start of the next random stall (if the rate is positive).
    next_random: Option<Duration>,
    /// Fixed stall times (`at_ms`), ascending, and how many are used.
    fixed: Vec<Duration>,
    fixed_used: usize,
    /// Known stalls, ascending; `dropped` earlier ones were forgotten.
    stalls: VecDeque<Stall>,
    dropped: u64,
    /// Set when neither source has any stall left.
    exhausted: bool,
    seed: u64,
}

impl StallSchedule {
    /// The schedule for `cfg` (validated), with its seed or a fresh one.
    pub fn new(cfg: &HostStalls) -> StallSchedule {
        let seed = cfg.seed.unwrap_or_else(fresh_seed);
        let mut fixed: Vec<Duration> = cfg.at_ms.iter().map(|&t| whole_ns(t)).collect();
        fixed.sort();
        let mut s = StallSchedule {
            duration: whole_ns(cfg.duration_ms),
            rate: cfg.rate_per_s,
            rng: noise_rng(seed, HOST_STALL_STREAM),
            next_random: None,
            fixed,
            fixed_used: 0,
            stalls: VecDeque::new(),
            dropped: 0,
            exhausted: false,
            seed,
        };
        s.next_random = s.running_gap();
        s
    }

    /// The seed the random stall times are drawn with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Running time before the next random stall: exponential with mean
    /// 1/rate, by inversion, `−ln(U)/λ` (Devroye, *Non-Uniform Random
    /// Variate Generation*, 1986, ch. II, the inversion method). None when
    /// the rate is 0.
    fn running_gap(&mut self) -> Option<Duration> {
        if self.rate <= 0.0 {
            return None;
        }
        let u = 1.0 - self.rng.random::<f64>();
        // u in (0, 1] and rate in (0, 10]: the gap is finite and ≥ 0; capped
        // at a year so a tiny rate cannot overflow the conversion.
        Some(Duration::from_secs_f64((-u.ln() / self.rate).min(3.2e7)))
    }

    /// Appends the next stall; false when there is none.
    fn draw_next(&mut self) -> bool {
        let fixed = self.fixed.get(self.fixed_used).copied();
        let (candidate, is_random) = match (self.next_random, fixed) {
            (Some(r), Some(f)) if f < r => (f, false),
            (Some(r), _) => (r, true),
            (None, Some(f)) => (f, false),
            (None, None) => {
                self.exhausted = true;
                return false;
            }
        };
        let index = self.dropped + self.stalls.len() as u64;
        let last_end = self
            .stalls
            .back()
            .map_or(Duration::ZERO, |s| s.wall + self.duration);
        // A stall that would begin inside another begins when it ends.
        let wall = candidate.max(last_end);
        let engine = wall.saturating_sub(self.stalled_before(index));
        self.stalls.push_back(Stall { wall, engine });
        if is_random {
            // The engine runs an exponential time after this stall ends.
            self.next_random = self.running_gap().map(|gap| wall + self.duration + gap);
        } else {
            self.fixed_used += 1;
        }
        true
    }

    /// Total length of the `index` stalls before stall number `index`.
    fn stalled_before(&self, index: u64) -> Duration {
        let d = u64::try_from(self.duration.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(d.saturating_mul(index))
    }

    /// Draws stalls until one starts (on the wall clock) after `wall`.
    fn extend_past_wall(&mut self, wall: Duration) {
        while !self.exhausted && self.stalls.back().is_none_or(|s| s.wall <= wall) {
            if !self.draw_next() {
                break;
            }
        }
    }

    /// Draws stalls until one starts (in engine time) at or after `engine`.
    fn extend_past_engine(&mut self, engine: Duration) {
        while !self.exhausted && self.stalls.back().is_none_or(|s| s.engine < engine) {
            if !self.draw_next() {
                break;
            }
        }
    }

    /// Engine time at wall time `wall`: wall time minus the stalled time so
    /// far; during a stall, the engine time at which it began.
    pub fn engine_at(&mut self, wall: Duration) -> Duration {
        self.extend_past_wall(wall);
        self.forget_before(wall);
        let begun = self.stalls.partition_point(|s| s.wall <= wall);
        let count = self.dropped + begun as u64;
        match begun.checked_sub(1).map(|i| self.stalls[i]) {
            Some(last) if wall < last.wall + self.duration => last.engine,
            _ => wall.saturating_sub(self.stalled_before(count)),
        }
    }

    /// The wall time at which the engine reaches engine time `engine`: every
    /// stall that begins before it (in engine time) adds its length.
    pub fn wall_at(&mut self, engine: Duration) -> Duration {
        self.extend_past_engine(engine);
        let before = self.stalls.partition_point(|s| s.engine < engine);
        engine + self.stalled_before(self.dropped + before as u64)
    }

    /// Stalls begun by wall time `wall`, and the stalled time so far.
    pub fn stalled_by(&mut self, wall: Duration) -> (u64, Duration) {
        let engine = self.engine_at(wall);
        let begun = self.dropped + self.stalls.partition_point(|s| s.wall <= wall) as u64;
        (begun, wall.saturating_sub(engine))
    }

    /// Forgets stalls that ended more than `RETAIN` before `wall`.
    fn forget_before(&mut self, wall: Duration) {
        let Some(horizon) = wall.checked_sub(RETAIN) else {
            return;
        };
        // Keep the last one: the mapping after it needs its position.
        while self.stalls.len() > 1
            && self
                .stalls
                .front()
                .is_some_and(|s| s.wall + self.duration < horizon)
        {
            self.stalls.pop_front();
            self.dropped += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(rate: f64, duration_ms: f64, seed: u64, at_ms: Vec<f64>) -> StallSchedule {
        StallSchedule::new(&HostStalls {
            rate_per_s: rate,
            duration_ms,
            seed: Some(seed),
            at_ms,
        })
    }

    fn s(v: f64) -> Duration {
        whole_ns(v * 1000.0)
    }

    #[test]
    fn the_same_seed_gives_the_same_factor_and_cv_zero_gives_one() {
        assert_eq!(run_slowdown(0.1, 42), run_slowdown(0.1, 42));
        assert_ne!(run_slowdown(0.1, 42), run_slowdown(0.1, 43));
        assert_eq!(run_slowdown(0.0, 42), 1.0);
        assert_eq!(RunFactor::draw(None).factor, 1.0);
        let seeded = RunNoise {
            cv: 0.2,
            seed: Some(9),
        };
        assert_eq!(
            RunFactor::draw(Some(&seeded)),
            RunFactor {
                factor: run_slowdown(0.2, 9),
                seed: Some(9)
            }
        );
    }

    #[test]
    fn unseeded_starts_draw_different_seeds_that_reproduce_their_factor() {
        let noise = RunNoise {
            cv: 0.1,
            seed: None,
        };
        let a = RunFactor::draw(Some(&noise));
        let b = RunFactor::draw(Some(&noise));
        assert_ne!(a.seed, b.seed);
        let seed = a.seed.expect("a seed is recorded");
        assert_eq!(a.factor, run_slowdown(0.1, seed));
    }

    #[test]
    fn factors_over_many_seeds_have_the_configured_cv_and_median_one() {
        for cv in [0.05, 0.1, 0.3] {
            let mut f: Vec<f64> = (0..2000).map(|seed| run_slowdown(cv, seed)).collect();
            let n = f.len() as f64;
            let mean = f.iter().sum::<f64>() / n;
            let sd = (f.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
            f.sort_by(f64::total_cmp);
            let median = f[f.len() / 2];
            let sample_cv = sd / mean;
            eprintln!("cv {cv}: 2000 seeds, sample cv {sample_cv:.4}, median {median:.4}");
            assert!(
                (sample_cv / cv - 1.0).abs() < 0.1,
                "cv {cv}: sample cv {sample_cv}"
            );
            assert!((median - 1.0).abs() < 0.1 * cv, "cv {cv}: median {median}");
            let sigma = (1.0 + cv * cv).ln().sqrt();
            assert!(f[0] >= (-4.0 * sigma).exp() && f[f.len() - 1] <= (4.0 * sigma).exp());
        }
    }

    #[test]
    fn two_hundred_seeds_spread_within_a_quarter_of_the_target_cv() {
        // The spread a harness of 200 runs sees (sampling sd of a CV over
        // 200 draws is ≈ 5 % of it, so ±25 % is far out).
        let f: Vec<f64> = (1000..1200).map(|seed| run_slowdown(0.1, seed)).collect();
        let mean = f.iter().sum::<f64>() / 200.0;
        let sd = (f.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 199.0).sqrt();
        eprintln!("cv 0.1: 200 seeds, sample cv {:.4}", sd / mean);
        assert!((sd / mean - 0.1).abs() < 0.025, "sample cv {}", sd / mean);
    }

    #[test]
    fn without_stalls_engine_time_is_wall_time() {
        let mut sch = schedule(0.0, 100.0, 1, vec![]);
        for t in [0.0, 0.5, 3600.0, 86_400.0 * 3.0] {
            assert_eq!(sch.engine_at(s(t)), s(t));
            assert_eq!(sch.wall_at(s(t)), s(t));
        }
        assert_eq!(sch.stalled_by(s(100.0)), (0, Duration::ZERO));
    }

    #[test]
    fn a_fixed_stall_freezes_engine_time_and_moves_later_deadlines() {
        let mut sch = schedule(0.0, 200.0, 1, vec![1000.0]);
        assert_eq!(sch.engine_at(s(0.9)), s(0.9));
        // During the stall the engine stands at 1.0 s.
        assert_eq!(sch.engine_at(s(1.0)), s(1.0));
        assert_eq!(sch.engine_at(s(1.15)), s(1.0));
        assert_eq!(sch.engine_at(s(1.3)), s(1.1));
        // A deadline at the stall's start leaves before it; later ones after.
        assert_eq!(sch.wall_at(s(0.99)), s(0.99));
        assert_eq!(sch.wall_at(s(1.0)), s(1.0));
        assert_eq!(sch.wall_at(s(1.01)), s(1.21));
        assert_eq!(sch.stalled_by(s(0.5)), (0, Duration::ZERO));
        assert_eq!(sch.stalled_by(s(1.1)), (1, s(0.1)));
        assert_eq!(sch.stalled_by(s(5.0)), (1, s(0.2)));
    }

    #[test]
    fn overlapping_fixed_stalls_run_back_to_back() {
        let mut sch = schedule(0.0, 200.0, 1, vec![1100.0, 1000.0]);
        assert_eq!(sch.stalled_by(s(1.3)), (2, s(0.3)));
        assert_eq!(sch.engine_at(s(1.39)), s(1.0));
        assert_eq!(sch.engine_at(s(1.5)), s(1.1));
        assert_eq!(sch.wall_at(s(1.05)), s(1.45));
    }

    #[test]
    fn random_stalls_are_seeded_never_overlap_and_come_at_the_configured_rate() {
        let times = |seed| {
            let mut sch = schedule(0.5, 200.0, seed, vec![]);
            sch.extend_past_wall(s(4000.0));
            sch.stalls.iter().map(|x| x.wall).collect::<Vec<_>>()
        };
        assert_eq!(times(3), times(3));
        assert_ne!(times(3), times(4));
        let mut sch = schedule(0.5, 200.0, 3, vec![]);
        let horizon = s(4000.0);
        let (count, stalled) = sch.stalled_by(horizon);
        let walls = times(3);
        assert!(walls.windows(2).all(|w| w[1] >= w[0] + s(0.2)), "overlap");
        // Running time 4000 s − stalled; expected 0.5 per running second.
        let running = (horizon - stalled).as_secs_f64();
        let rate = count as f64 / running;
        // Poisson count ~1800: sd ≈ 42, so ±10 % is ±4 sd.
        assert!((rate - 0.5).abs() < 0.05, "rate {rate} over {count} stalls");
        // Stalled share λd / (1 + λd) = 0.1 / 1.1.
        let share = stalled.as_secs_f64() / horizon.as_secs_f64();
        assert!((share - 0.1 / 1.1).abs() < 0.01, "share {share}");
        assert!(stalled < horizon);
    }

    #[test]
    fn mapping_is_monotone_and_wall_of_engine_inverts_engine_of_wall() {
        let mut sch = schedule(2.0, 150.0, 11, vec![50.0, 2500.0]);
        let mut prev = Duration::ZERO;
        for i in 0..20_000u32 {
            let wall = Duration::from_millis(u64::from(i));
            let engine = sch.engine_at(wall);
            assert!(engine >= prev && engine <= wall, "at {wall:?}");
            prev = engine;
            // Strictly between stalls, the engine reaches `engine` exactly
            // at `wall`. (At a stall's end, it reached it at the start.)
            let tick = Duration::from_micros(1);
            if wall > tick
                && sch.engine_at(wall - tick) < engine
                && sch.engine_at(wall + tick) > engine
            {
                assert_eq!(sch.wall_at(engine), wall, "at {wall:?}");
            }
        }
    }

    #[test]
    fn a_long_uptime_keeps_a_bounded_list_and_exact_counts() {
        let mut sch = schedule(10.0, 10.0, 5, vec![]);
        let day = s(86_400.0);
        let mut last = 0;
        for h in 1..=24 {
            let (count, _) = sch.stalled_by(s(3600.0 * f64::from(h)));
            assert!(count > last);
            last = count;
        }
        // ~10/s for two retained hours at most.
        assert!(sch.stalls.len() < 80_000, "{}", sch.stalls.len());
        let (count, stalled) = sch.stalled_by(day);
        // Every stall, forgotten or not, counts its full length, except the
        // part of one in progress that is still to come.
        let tail = stalled_tail(&mut sch, day);
        assert_eq!(stalled, sch.stalled_before(count) - tail);
        // Queries near now still map exactly.
        let engine = sch.engine_at(day);
        if tail.is_zero() {
            assert_eq!(sch.wall_at(engine), day);
        } else {
            assert_eq!(sch.wall_at(engine), day + tail - sch.duration);
        }
    }

    /// The part of the current stall not yet elapsed at `wall` (0 outside).
    fn stalled_tail(sch: &mut StallSchedule, wall: Duration) -> Duration {
        let d = sch.duration;
        let begun = sch.stalls.partition_point(|x| x.wall <= wall);
        match begun.checked_sub(1).map(|i| sch.stalls[i]) {
            Some(last) if wall < last.wall + d => last.wall + d - wall,
            _ => Duration::ZERO,
        }
    }
}
