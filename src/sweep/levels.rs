//! Which level to measure next: a given list in order, or automatic
//! doubling until a stop rule fires, then bisection of the bracket around
//! the knee, then (optionally) the safe operating point itself. Every
//! sequence is bounded by `max_levels`.

use crate::bundle::SweepPoint;

use super::analysis::Analysis;
use crate::wording::{fixed, number};

/// How levels are chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    /// Exactly these loads, ascending; stop rules still end it early.
    List(Vec<f64>),
    /// start, 2·start, 4·start, … up to `max`, then bisection.
    Auto { start: f64, max: f64 },
}

/// Everything the planner needs besides the measured points.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanConfig {
    pub strategy: Strategy,
    /// Closed loop: loads are whole numbers of users.
    pub closed_loop: bool,
    pub error_ceiling: f64,
    pub min_throughput_gain: f64,
    pub resolution: f64,
    /// Measure the configured safe operating point when it is not a level yet.
    pub confirm_safe: bool,
    /// Hard bound on the number of levels measured.
    pub max_levels: usize,
}

/// Where the planner is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Stepping,
    Bisecting,
    Confirming,
    Done,
}

/// The planner's state between levels.
#[derive(Debug, Clone)]
pub struct Planner {
    cfg: PlanConfig,
    phase: Phase,
    /// Loads measured, in measurement order.
    measured: Vec<f64>,
    stop_reason: Option<String>,
}

impl Planner {
    pub fn new(cfg: PlanConfig) -> Planner {
        Planner {
            cfg,
            phase: Phase::Stepping,
            measured: Vec::new(),
            stop_reason: None,
        }
    }

    /// Why stepping up stopped (after the stepping phase).
    pub fn stop_reason(&self) -> String {
        self.stop_reason
            .clone()
            .unwrap_or_else(|| "not finished".to_owned())
    }

    /// Record that stepping was cut short from outside (interrupt, budget).
    pub fn abort(&mut self, reason: &str) {
        self.stop_reason = Some(match self.stop_reason.take() {
            // Stepping had already stopped; say why bisection ended early too.
            Some(why) => format!("{why}; then {reason}"),
            None => reason.to_owned(),
        });
        self.phase = Phase::Done;
    }

    /// The first level to measure.
    pub fn first(&self) -> f64 {
        match &self.cfg.strategy {
            Strategy::List(l) => l[0],
            Strategy::Auto { start, .. } => *start,
        }
    }

    /// Given the point just measured (`last`), every point so far sorted by
    /// load, and their analysis, the next level to measure; `None` when the
    /// sweep is over.
    pub fn next(
        &mut self,
        last: &SweepPoint,
        sorted: &[SweepPoint],
        analysis: &Analysis,
    ) -> Option<f64> {
        self.measured.push(last.load);
        if self.measured.len() >= self.cfg.max_levels {
            self.abort(&format!(
                "the level limit ({}) was reached",
                self.cfg.max_levels
            ));
            return None;
        }
        if self.phase == Phase::Stepping {
            if let Some(reason) = self.stepping_stop(last, sorted) {
                self.stop_reason = Some(reason);
                self.phase = if matches!(self.cfg.strategy, Strategy::Auto { .. }) {
                    Phase::Bisecting
                } else {
                    Phase::Confirming
                };
            } else {
                return Some(self.next_step(last.load));
            }
        }
        if self.phase == Phase::Bisecting {
            if let Some(mid) = self.bisect(sorted, analysis) {
                return Some(mid);
            }
            self.phase = Phase::Confirming;
        }
        if self.phase == Phase::Confirming {
            self.phase = Phase::Done;
            if self.cfg.confirm_safe
                && let Some(safe) = &analysis.safe
            {
                let l = safe.configured_load;
                let known = sorted.iter().any(|p| (p.load - l).abs() < 1e-9);
                if l > 0.0 && !known {
                    return Some(l);
                }
            }
        }
        None
    }

    /// The next level of the stepping phase (called when no stop rule fired).
    fn next_step(&self, last: f64) -> f64 {
        match &self.cfg.strategy {
            Strategy::List(l) => l[self.measured.len()],
            Strategy::Auto { max, .. } => (last * 2.0).min(*max),
        }
    }

    /// A stop rule of the stepping phase, in words, or `None` to go on.
    fn stepping_stop(&self, last: &SweepPoint, sorted: &[SweepPoint]) -> Option<String> {
        let at = number(last.load);
        if !last.slo_broken.is_empty() {
            return Some(format!(
                "the SLO broke at {at} ({})",
                last.slo_broken.join("; ")
            ));
        }
        if last.error_rate > self.cfg.error_ceiling {
            return Some(format!(
                "the error rate at {at} ({} %) passed the ceiling ({} %)",
                fixed(last.error_rate * 100.0, 2),
                fixed(self.cfg.error_ceiling * 100.0, 2)
            ));
        }
        // Throughput has stopped rising when two steps in a row add less
        // than the minimum gain over the best level before each: one level
        // hit by a stall on a shared host must not end the sweep.
        let x = |l: f64| {
            sorted
                .iter()
                .find(|p| p.load == l)
                .map_or(0.0, |p| p.output_tokens_per_s)
        };
        let flat = |i: usize| -> Option<(f64, f64)> {
            let best = self.measured[..i].iter().map(|&l| x(l)).fold(0.0, f64::max);
            let now = x(self.measured[i]);
            (best > 0.0 && now < best * (1.0 + self.cfg.min_throughput_gain)).then_some((best, now))
        };
        let n = self.measured.len();
        if n >= 3
            && let (Some(_), Some((best, now))) = (flat(n - 2), flat(n - 1))
        {
            return Some(format!(
                "throughput stopped rising: {} and {} add less than {} % to the best {} output tok/s before them ({} output tok/s at {at})",
                number(self.measured[n - 2]),
                at,
                fixed(self.cfg.min_throughput_gain * 100.0, 0),
                number(best),
                number(now)
            ));
        }
        match &self.cfg.strategy {
            Strategy::List(l) if self.measured.len() >= l.len() => {
                Some(format!("the last listed level ({at}) was measured"))
            }
            Strategy::Auto { max, .. } if last.load >= *max => {
                Some(format!("the highest level ({}) was reached", number(*max)))
            }
            _ => None,
        }
    }

    /// The midpoint of the bracket to refine, while it is wider than the
    /// resolution. The bracket starts at the knee; without one, at the
    /// lowest bend of any signal (server queue time bends before client
    /// latency when levels are coarse); without that, below the level where
    /// stepping stopped on a failure or on flat throughput — saturation lies
    /// inside that last step.
    fn bisect(&self, sorted: &[SweepPoint], analysis: &Analysis) -> Option<f64> {
        let any_bend = analysis
            .signals
            .iter()
            .filter_map(|s| s.bend_load)
            .reduce(f64::min);
        let low = match (&analysis.knee, any_bend) {
            (Some(k), _) => k.load,
            (None, Some(b)) => b,
            (None, None) => {
                let last = *self.measured.last()?;
                let below = self
                    .measured
                    .iter()
                    .copied()
                    .filter(|&l| l < last)
                    .reduce(f64::max)?;
                let stopped = self
                    .stop_reason
                    .as_deref()
                    .is_some_and(|r| !r.contains("highest level"));
                if !stopped {
                    return None;
                }
                below
            }
        };
        let high = sorted.iter().map(|p| p.load).find(|&l| l > low + 1e-9)?;
        if high - low <= self.cfg.resolution + 1e-9 {
            return None;
        }
        let mid = (low + high) / 2.0;
        let mid = if self.cfg.closed_loop {
            mid.floor()
        } else {
            mid
        };
        (mid > low + 1e-9 && mid < high - 1e-9).then_some(mid)
    }
}

#[cfg(test)]
mod tests {
    use super::super::analysis::analyze;
    use super::*;
    use crate::bundle::SweepRules;

    fn rules() -> SweepRules {
        SweepRules::default()
    }

    /// Eight servers, deterministic service of 550 ms, prefill 40 ms.
    fn measure(n: f64) -> SweepPoint {
        let wait = ((n - 8.0) / 8.0).max(0.0) * 550.0;
        SweepPoint {
            load: n,
            ttft_p95_ms: Some(40.0 + wait),
            itl_p95_ms: Some(8.0),
            output_tokens_per_s: 64.0 * n.min(8.0) / 0.55,
            ..SweepPoint::default()
        }
    }

    fn run(cfg: PlanConfig) -> (Vec<f64>, String) {
        let mut planner = Planner::new(cfg);
        let mut order = Vec::new();
        let mut points: Vec<SweepPoint> = Vec::new();
        let mut next = Some(planner.first());
        while let Some(l) = next {
            order.push(l);
            let p = measure(l);
            points.push(p.clone());
            points.sort_by(|a, b| a.load.total_cmp(&b.load));
            let a = analyze(&points, &rules(), true);
            next = planner.next(&p, &points, &a);
            assert!(order.len() <= 40, "unbounded: {order:?}");
        }
        (order, planner.stop_reason())
    }

    fn auto() -> PlanConfig {
        PlanConfig {
            strategy: Strategy::Auto {
                start: 1.0,
                max: 256.0,
            },
            closed_loop: true,
            error_ceiling: 0.05,
            min_throughput_gain: 0.05,
            resolution: 1.0,
            confirm_safe: true,
            max_levels: 20,
        }
    }

    #[test]
    fn doubling_stops_when_throughput_is_flat_then_bisects_to_the_knee() {
        let (order, why) = run(auto());
        assert_eq!(
            order,
            vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 12.0, 10.0, 9.0, 5.0]
        );
        assert!(why.contains("throughput stopped rising"), "{why}");
    }

    #[test]
    fn a_list_is_measured_in_order_without_bisection() {
        let mut cfg = auto();
        cfg.strategy = Strategy::List(vec![2.0, 4.0, 6.0, 8.0, 10.0, 14.0, 20.0]);
        cfg.confirm_safe = false;
        let (order, why) = run(cfg);
        // 8 → 10 → 14 adds no throughput: the list ends there.
        assert_eq!(order, vec![2.0, 4.0, 6.0, 8.0, 10.0, 14.0]);
        assert!(why.contains("throughput stopped rising"), "{why}");
    }

    #[test]
    fn one_stalled_level_does_not_end_the_stepping() {
        let mut planner = Planner::new(auto());
        let mut points: Vec<SweepPoint> = Vec::new();
        // Level 2 stalls (no more throughput than 1); 4 recovers.
        for (load, tps) in [(1.0, 100.0), (2.0, 101.0), (4.0, 390.0)] {
            let p = SweepPoint {
                load,
                output_tokens_per_s: tps,
                ..SweepPoint::default()
            };
            points.push(p.clone());
            let a = analyze(&points, &rules(), true);
            let next = planner.next(&p, &points, &a);
            assert_eq!(
                next,
                Some(load * 2.0),
                "after {load}: {}",
                planner.stop_reason()
            );
        }
    }

    #[test]
    fn the_level_limit_bounds_every_sweep() {
        let mut cfg = auto();
        cfg.max_levels = 3;
        let (order, why) = run(cfg);
        assert_eq!(order, vec![1.0, 2.0, 4.0]);
        assert!(why.contains("level limit"), "{why}");
    }

    #[test]
    fn errors_past_the_ceiling_stop_stepping() {
        let mut planner = Planner::new(auto());
        let p = SweepPoint {
            load: 1.0,
            error_rate: 0.2,
            ..SweepPoint::default()
        };
        let a = analyze(std::slice::from_ref(&p), &rules(), true);
        assert_eq!(planner.next(&p, std::slice::from_ref(&p), &a), None);
        assert!(planner.stop_reason().contains("passed the ceiling"));
    }
}
