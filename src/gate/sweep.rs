//! Rules on what a load sweep found (`sweep.knee`, `sweep.safe_load`,
//! `sweep.safe_output_tokens_per_s`, `sweep.max_output_tokens_per_s`).
//!
//! A sweep is one curve, so there is nothing to resample. The knee is known
//! only to the sweep's grid: it is the last level before the climb, so the
//! true saturation point lies between it and the next measured level (in a
//! closed loop, a whole number of users up to one below that level; a fully
//! bisected closed-loop knee is exact). Knee and safe-load rules therefore
//! compare *intervals*: fail only when even the most favourable reading of
//! both grids is past the limit, pass only when the least favourable one is
//! within it, inconclusive in between (interval arithmetic on the grid's
//! bracket). A sweep without a knee saturated beyond its highest level:
//! its knee is at least that. Throughputs are point values.

use super::decision::{Decision, Finding, GridValue, SkipReason, SweepChange, SweepMinimum};
use super::file::{Limit, Rule, SweepValue};
use super::report::{Estimate, EstimateKind, Measured};
use crate::bundle::{Bundle, SweepSection};
use crate::stats::Interval;

/// Where the value lies: a point, or a bracket from the sweep's grid.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bracket {
    point: f64,
    lo: f64,
    hi: f64,
}

impl Bracket {
    /// The bracket as the decision records it (an infinite upper end is none).
    fn grid(&self) -> GridValue {
        GridValue {
            point: self.point,
            lo: self.lo,
            hi: self.hi.is_finite().then_some(self.hi),
        }
    }
}

fn bracket(sw: &SweepSection, v: SweepValue) -> Option<Bracket> {
    let closed = sw.mode == "closed";
    let top = sw.curve.iter().map(|p| p.load).fold(f64::NAN, f64::max);
    let knee = || -> Option<Bracket> {
        match &sw.knee {
            Some(k) => {
                let next = sw
                    .curve
                    .iter()
                    .map(|p| p.load)
                    .filter(|&l| l > k.load + 1e-9)
                    .fold(f64::INFINITY, f64::min);
                let hi = if closed { next - 1.0 } else { next };
                Some(Bracket {
                    point: k.load,
                    lo: k.load,
                    hi: hi.max(k.load),
                })
            }
            None if top.is_finite() => Some(Bracket {
                point: top,
                lo: top,
                hi: f64::INFINITY,
            }),
            None => None,
        }
    };
    let point = |x: f64| Bracket {
        point: x,
        lo: x,
        hi: x,
    };
    match v {
        SweepValue::Knee => knee(),
        SweepValue::SafeLoad => {
            let share = sw.rules.safe_share;
            knee().map(|b| Bracket {
                point: b.point * share,
                lo: b.lo * share,
                hi: b.hi * share,
            })
        }
        SweepValue::SafeOutputTokensPerS => sw.safe.as_ref().map(|s| point(s.output_tokens_per_s)),
        SweepValue::MaxOutputTokensPerS => sw
            .curve
            .iter()
            .map(|p| p.output_tokens_per_s)
            .reduce(f64::max)
            .map(point),
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    crate::stats::quantile_type7(&v, 0.5)
}

/// The median of the runs' upper grid ends, where +∞ (no knee in the
/// measured range) sorts last: unbounded when the middle is. NaN without runs.
fn median_upper(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if v[(n - 1) / 2..=n / 2].iter().any(|x| x.is_infinite()) {
        return f64::INFINITY;
    }
    median(v).unwrap_or(f64::NAN)
}

/// Judge one sweep rule; the caller has checked completeness and that
/// relative rules have baseline runs.
pub(super) fn assess(
    rule: &Rule,
    m: &mut Measured,
    v: SweepValue,
    cand: &Bundle,
    baselines: &[&Bundle],
) -> Decision {
    let skipped = |reason| Decision::Skipped { reason };
    let Some(sw) = cand.sweep.as_deref() else {
        return skipped(SkipReason::NotASweep);
    };
    let Some(c) = bracket(sw, v) else {
        return skipped(SkipReason::SweepLacks { value: v });
    };
    m.candidate_value = Some(c.point);
    let finite = |x: f64| if x.is_finite() { x } else { f64::MAX };
    match rule.limit {
        Limit::MaxDecrease(change) => {
            let runs: Vec<Bracket> = baselines
                .iter()
                .filter_map(|b| bracket(b.sweep.as_deref()?, v))
                .collect();
            if runs.is_empty() {
                return skipped(SkipReason::BaselineNotSweeps { value: v });
            }
            let b = Bracket {
                point: median(runs.iter().map(|b| b.point).collect()).unwrap_or(f64::NAN),
                lo: median(runs.iter().map(|b| b.lo).collect()).unwrap_or(f64::NAN),
                hi: median_upper(runs.iter().map(|b| b.hi).collect()),
            };
            m.baseline_value = Some(b.point);
            if b.lo.is_nan() || b.lo <= 0.0 {
                return skipped(SkipReason::BaselineZero);
            }
            let floor = 1.0 - change.fraction();
            let point = c.point / b.point;
            let worst = c.lo / finite(b.hi);
            let best = finite(c.hi) / b.lo;
            m.estimate = Some(Estimate {
                kind: EstimateKind::Ratio,
                point,
                interval: Some(Interval {
                    lo: worst,
                    hi: best.min(f64::MAX),
                }),
            });
            let finding = if best < floor {
                Finding::Past
            } else if worst >= floor {
                Finding::Within
            } else {
                Finding::Straddles
            };
            Decision::SweepChange(SweepChange {
                candidate: c.grid(),
                baseline: b.grid(),
                ratio: point,
                limit: floor,
                finding,
            })
        }
        Limit::Min(t) => {
            let limit = t.value();
            m.estimate = Some(Estimate {
                kind: EstimateKind::Value,
                point: c.point,
                interval: Some(Interval {
                    lo: c.lo,
                    hi: finite(c.hi),
                }),
            });
            let finding = if c.lo >= limit {
                Finding::Within
            } else if c.hi < limit {
                Finding::Past
            } else {
                Finding::Straddles
            };
            Decision::SweepMinimum(SweepMinimum {
                value: c.grid(),
                limit,
                finding,
            })
        }
        // The parser admits only `max_decrease` and `min` for sweep values
        // (higher is better); anything else is a parser bug, reported
        // rather than panicking.
        _ => skipped(SkipReason::LimitNotForSweeps {
            limit: rule.limit_text.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::{Knee, SweepPoint, SweepRules};

    fn section(mode: &str, levels: &[f64], knee: Option<f64>) -> SweepSection {
        SweepSection {
            mode: mode.into(),
            load_unit: "concurrency".into(),
            strategy: "auto".into(),
            stop_reason: String::new(),
            rules: SweepRules::default(),
            curve: levels
                .iter()
                .map(|&l| SweepPoint {
                    load: l,
                    output_tokens_per_s: 100.0 * l.min(8.0),
                    ..SweepPoint::default()
                })
                .collect(),
            signals: Vec::new(),
            knee: knee.map(|load| Knee {
                load,
                first_signal: "ttft_p95".into(),
                signals: vec!["ttft_p95".into()],
                rule: String::new(),
            }),
            safe: None,
            levels: Vec::new(),
        }
    }

    #[test]
    fn a_bisected_closed_loop_knee_is_exact_and_a_list_knee_is_a_bracket() {
        let s = section("closed", &[1.0, 2.0, 4.0, 8.0, 9.0, 16.0], Some(8.0));
        let b = bracket(&s, SweepValue::Knee).unwrap();
        assert_eq!((b.lo, b.hi), (8.0, 8.0));
        let s = section("closed", &[2.0, 4.0, 8.0, 16.0], Some(8.0));
        let b = bracket(&s, SweepValue::Knee).unwrap();
        assert_eq!((b.lo, b.hi), (8.0, 15.0));
        let b = bracket(&s, SweepValue::SafeLoad).unwrap();
        assert!((b.lo - 5.6).abs() < 1e-12 && (b.hi - 10.5).abs() < 1e-12);
        let s = section("open", &[1.0, 2.0, 4.0, 8.0], None);
        let b = bracket(&s, SweepValue::Knee).unwrap();
        assert_eq!((b.lo, b.hi), (8.0, f64::INFINITY));
        let b = bracket(&s, SweepValue::MaxOutputTokensPerS).unwrap();
        assert_eq!(b.point, 800.0);
    }

    #[test]
    fn median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }

    #[test]
    fn an_unbounded_upper_end_in_the_middle_makes_the_median_unbounded() {
        assert_eq!(median_upper(vec![9.0, f64::INFINITY, 15.0]), 15.0);
        assert_eq!(median_upper(vec![9.0, f64::INFINITY]), f64::INFINITY);
        assert_eq!(
            median_upper(vec![f64::INFINITY, 9.0, f64::INFINITY]),
            f64::INFINITY
        );
        assert!(median_upper(vec![]).is_nan());
    }
}
