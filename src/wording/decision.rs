//! The sentences of the gate: one per [`Decision`], written from its facts.
//! Each sentence says what was measured, against which limit, and what
//! that means ("the interval straddles the limit; about 800 requests per
//! side would settle it").

use super::number::{change, exact, p_value, percent, points, share, value};
use crate::gate::{
    Absolute, Binomial, Bound, Caveat, Counted, Decision, Finding, GridValue, NoEstimate,
    NoiseSource, PointValue, Relative, SkipReason, SweepChange, SweepMinimum, TooFew, Unmeasured,
};

/// What to do when run-to-run noise hides a change: more runs a side, a
/// calibration, or both sides in one window.
const MORE_RUNS_ADVICE: &str =
    "run `--repeat 3`, promote more baseline runs, or `tokengate calibrate`";

/// A metric's canonical name as words: `ttft.p95` → `p95 TTFT`,
/// `output_tokens_per_s` → `output tokens/s`.
pub fn metric_words(metric: &str) -> String {
    let kind = |k: &str| match k {
        "ttft" | "ttfb" | "itl" | "tpot" | "e2e" => Some(k.to_uppercase()),
        "decode_tokens_per_s" => Some("decode tokens/s".to_owned()),
        _ => None,
    };
    if let Some((k, stat)) = metric.split_once('.')
        && let Some(k) = kind(k)
    {
        return format!("{stat} {k}");
    }
    metric
        .strip_suffix("_per_s")
        .map(|m| format!("{}/s", m.replace('_', " ")))
        .unwrap_or_else(|| metric.replace('_', " "))
}

/// The warning for a rule whose limit is a smaller change than the setup
/// can detect: "this setup cannot detect a 15 % rise of p95 TTFT; it
/// detects ≥ 42 %; run `--repeat 3` or `ab`". `limit` and `mde` are
/// relative changes (0.15, 0.42).
pub fn undetectable(metric: &str, bound: Bound, limit: f64, mde: f64) -> String {
    let direction = match bound {
        Bound::Max => "rise",
        Bound::Min => "fall",
    };
    format!(
        "this setup cannot detect a {} {direction} of {}; it detects ≥ {}; run `--repeat 3` or `ab`",
        percent(limit),
        metric_words(metric),
        share(mde)
    )
}

/// The sentence that opens a report whose verdict is not about the server:
/// an invalid run or an ungated comparison (`None` for other verdicts).
pub fn verdict_headline(verdict: crate::gate::Verdict) -> Option<&'static str> {
    use crate::gate::Verdict;
    match verdict {
        Verdict::Invalid => Some(
            "INVALID: the candidate run cannot be trusted, so no rule was judged (exit 4); fix what the warnings name and run again",
        ),
        Verdict::Ungated => Some(
            "UNGATED: every relative rule was skipped for lack of a comparable baseline, so nothing was compared; this is not a pass",
        ),
        _ => None,
    }
}

/// A validity problem of the candidate run, for the report's warnings.
pub fn invalid_run_problem(message: &str, advice: &str) -> String {
    format!("the run is invalid, no rule was judged: {message}; to fix: {advice}")
}

/// The explanation of a rule on `metric` (its canonical name) whose values
/// are in `unit` (`ms`, `tok/s`, `%` for fractions, empty for plain numbers).
pub fn explain(metric: &str, unit: &str, decision: &Decision) -> String {
    match decision {
        Decision::IncompleteBundle => "bundle is incomplete (interrupted run)".into(),
        Decision::InvalidRun => {
            "not judged: the candidate run is invalid (see the report's warnings for why and what to change)".into()
        }
        Decision::NoiseUnmeasured(d) => unmeasured(metric, d),
        Decision::Skipped { reason } => format!("skipped: {}", skip_reason(metric, reason)),
        Decision::TooFewSamples(t) => too_few(t),
        Decision::NoEstimate { reason } => no_estimate(metric, *reason),
        Decision::Relative(d) => relative(metric, d),
        Decision::Absolute(d) => absolute(metric, unit, d),
        Decision::RateCeiling(d) => ceiling(metric, d),
        Decision::RateFloor(d) => floor(metric, d),
        Decision::Point(d) => point(metric, unit, d),
        Decision::SweepChange(d) => sweep_change(metric, unit, d),
        Decision::SweepMinimum(d) => sweep_minimum(metric, unit, d),
    }
}

fn skip_reason(metric: &str, reason: &SkipReason) -> String {
    match reason {
        SkipReason::NotStreamed => {
            format!("the run was not streamed, and {metric} is only defined for streamed responses")
        }
        SkipReason::NoBaseline { reason } => reason
            .clone()
            .unwrap_or_else(|| "no comparable baseline".into()),
        SkipReason::NoPricing => "the workload has no pricing block".into(),
        SkipReason::NoQualityChecks => "the workload has no quality checks".into(),
        SkipReason::NoSlo => "the workload has no SLO block, so the bundle has no goodput".into(),
        SkipReason::NoServerMetric => {
            "the endpoint exposed no such server metric (Prometheus /metrics)".into()
        }
        SkipReason::NotASweep => {
            "not a sweep bundle (`tokengate sweep` writes the knee and safe point)".into()
        }
        SkipReason::SweepLacks { value } => format!("the sweep has no {}", value.as_str()),
        SkipReason::BaselineNotSweeps { value } => {
            format!("the baseline runs are not sweeps with a {}", value.as_str())
        }
        SkipReason::BaselineZero => "the baseline value is zero".into(),
        SkipReason::LimitNotForSweeps { limit } => {
            format!("`{limit}` does not apply to sweep values")
        }
    }
}

fn too_few(t: &TooFew) -> String {
    let what = match t.counted {
        Counted::SuccessfulRequests => "successful requests",
        Counted::TtfbValues => "TTFB values",
        Counted::RequestsWithGaps => "requests with inter-token gaps",
        Counted::RequestsWithDecodeRate => "requests with a decode rate",
        Counted::RequestsAttempted => "requests attempted",
        Counted::Requests => "requests",
    };
    let side = if t.baseline { " in the baseline" } else { "" };
    if let Some(tool) = &t.summary_of {
        let bundle = if t.baseline {
            "the baseline"
        } else {
            "the candidate"
        };
        return format!(
            "{bundle} was imported from a {tool} summary, which holds no per-request values to judge this rule with; import a per-request file or measure with `tokengate run`"
        );
    }
    format!(
        "only {} {what}{side} (policy min_requests {}): need {} more requests",
        t.n,
        t.min,
        t.min.saturating_sub(t.n)
    )
}

fn no_estimate(metric: &str, reason: NoEstimate) -> String {
    match reason {
        NoEstimate::DegenerateSamples => {
            format!("no estimate: the {metric} samples are empty or degenerate")
        }
        NoEstimate::NoRequestTime => "no estimate: the requests carry no time".into(),
        NoEstimate::NoBaselineThroughput => "the baseline measured no throughput".into(),
    }
}

/// `95 % CI lo to hi`, with the ends already in words.
fn ci(level: f64, lo: &str, hi: &str) -> String {
    format!("{} CI {lo} to {hi}", percent(level))
}

/// `; about N requests per side would settle it`, or nothing.
fn settle(n: Option<u64>) -> String {
    match n {
        Some(n) => format!("; about {n} requests per side would settle it"),
        None => String::new(),
    }
}

/// The parenthesised caveats a sentence ends with.
fn caveats(c: &[Caveat]) -> String {
    c.iter()
        .map(|c| match c {
            Caveat::ItlGapsPerRequest => {
                " (ITL gaps resampled with an effective sample size of one per request)"
            }
        })
        .collect()
}

fn unmeasured(metric: &str, d: &Unmeasured) -> String {
    format!(
        "{metric} changed {} against the {} limit (within-run {}): with one baseline run, one candidate run and no calibration the run-to-run noise of a tail quantile is unmeasured, so its minimum detectable effect is unknown and it is neither failed nor passed; {MORE_RUNS_ADVICE}.",
        change(d.point),
        change(d.limit),
        ci(
            d.level,
            &change(d.within_run_interval.lo),
            &change(d.within_run_interval.hi)
        ),
    )
}

/// The noise an interval includes and the smallest change it can show.
fn noise_note(d: &Relative) -> String {
    let Some(n) = &d.noise else {
        return String::new();
    };
    let runs = format!("{} vs {} runs", n.candidate_runs, n.baseline_runs);
    let floored = |origin: &str, measured: f64| {
        format!(
            "run-to-run CV {} (the policy's min_run_cv floor; {origin} showed {})",
            share(n.between_cv),
            share(measured)
        )
    };
    let source = match (n.source, n.floored_from) {
        (NoiseSource::Calibration, Some(m)) => floored("the calibration", m),
        (NoiseSource::Runs, Some(m)) => floored("the runs", m),
        (source, _) => match source {
            NoiseSource::Calibration => {
                format!("run-to-run CV {} from the calibration", share(n.between_cv))
            }
            NoiseSource::Runs => format!(
                "run-to-run CV {} measured from the runs",
                share(n.between_cv)
            ),
            NoiseSource::Assumed => format!(
                "run-to-run CV {} assumed (policy unmeasured_run_cv: noise not measured)",
                share(n.between_cv)
            ),
            NoiseSource::SharedWindow => "both in one time window".to_owned(),
        },
    };
    let mde = d
        .mde
        .map(|m| format!("; detects changes ≥ {}", share(m)))
        .unwrap_or_default();
    format!(" [{runs}, {source}{mde}]")
}

fn relative(metric: &str, d: &Relative) -> String {
    let f = |x: f64| {
        if d.is_difference() {
            points(x)
        } else {
            change(x)
        }
    };
    let shown = format!(
        "{metric} changed {} ({}) against the {} limit",
        f(d.point),
        ci(d.level, &f(d.interval.lo), &f(d.interval.hi)),
        f(d.limit)
    );
    let note = format!("{}{}", caveats(&d.caveats), noise_note(d));
    let (p, alpha) = (p_value(d.p_adjusted), exact(d.alpha));
    // `p = 0.0012`, but `p < 0.0001` (not `p = < 0.0001`).
    let p = if p.starts_with('<') {
        format!("p {p}")
    } else {
        format!("p = {p}")
    };
    match d.finding {
        Finding::Past if d.is_difference() => format!(
            "{shown}: past the limit and significantly worse than baseline (adjusted {p} < {alpha}){note}."
        ),
        Finding::Past => format!(
            "{shown}: the whole interval is past the limit and significantly worse than baseline (adjusted {p} < {alpha}){note}."
        ),
        Finding::Within => format!("{shown}: the whole interval is within the limit{note}."),
        Finding::PointPast if d.p_adjusted < d.alpha => format!(
            "{shown}: past the limit and worse than baseline (adjusted {p} < {alpha}), but the interval reaches within the limit{}{note}.",
            settle(d.requests_to_settle)
        ),
        Finding::PointPast => format!(
            "{shown}: past the limit, but not significantly worse than baseline (adjusted {p} ≥ {alpha}){}{note}.",
            settle(d.requests_to_settle)
        ),
        Finding::Straddles => format!(
            "{shown}: the interval straddles the limit{}{note}.",
            settle(d.requests_to_settle)
        ),
    }
}

fn absolute(metric: &str, unit: &str, d: &Absolute) -> String {
    let shown = format!(
        "{metric} = {} ({}) against the {} {}",
        value(d.point, unit),
        ci(
            d.level,
            &value(d.interval.lo, unit),
            &value(d.interval.hi, unit)
        ),
        match d.bound {
            Bound::Max => "maximum",
            Bound::Min => "minimum",
        },
        value(d.limit, unit)
    );
    let note = caveats(&d.caveats);
    match d.finding {
        Finding::Within => format!("{shown}: the whole interval is within the limit{note}."),
        Finding::Past => format!("{shown}: the whole interval is past the limit{note}."),
        Finding::PointPast | Finding::Straddles => format!(
            "{shown}: the interval straddles the limit{}{note}.",
            settle(d.requests_to_settle)
        ),
    }
}

fn ceiling(metric: &str, d: &Binomial) -> String {
    let lo = percent(d.interval.lo);
    let shown = format!(
        "{metric} = {} ({} of {}; {}) against the {} ceiling",
        percent(d.observed),
        d.k,
        d.n,
        ci(d.level, &lo, &percent(d.interval.hi)),
        percent(d.limit)
    );
    match d.finding {
        Finding::Within => format!("{shown}: at or below the ceiling."),
        Finding::Past => format!(
            "{shown}: above the ceiling, and the exact (Clopper-Pearson) lower bound {lo} is above it too."
        ),
        Finding::PointPast | Finding::Straddles => format!(
            "{shown}: above the ceiling, but the lower bound {lo} is not, so the excess may be chance{}.",
            settle(d.requests_to_settle)
        ),
    }
}

fn floor(metric: &str, d: &Binomial) -> String {
    // The count behind a goodput share is reconstructed, so it is not shown.
    let hi = percent(d.interval.hi);
    let shown = format!(
        "{metric} = {} ({}) against the {} floor",
        percent(d.observed),
        ci(d.level, &percent(d.interval.lo), &hi),
        percent(d.limit)
    );
    match d.finding {
        Finding::Within => format!("{shown}: at or above the floor."),
        Finding::Past => {
            format!("{shown}: below the floor, and the exact upper bound {hi} is below it too.")
        }
        Finding::PointPast | Finding::Straddles => format!(
            "{shown}: below the floor, but the upper bound {hi} is not{}.",
            settle(d.requests_to_settle)
        ),
    }
}

fn point(metric: &str, unit: &str, d: &PointValue) -> String {
    let shown = format!(
        "{metric} = {} against the limit {}",
        value(d.value, unit),
        value(d.limit, unit)
    );
    let why = "(point comparison; the bundle has no per-request values for this metric)";
    match d.finding {
        Finding::Within => {
            let side = match d.bound {
                Bound::Max => "at or below",
                Bound::Min => "at or above",
            };
            format!("{shown}: {side} the limit {why}.")
        }
        _ => format!("{shown}: past the limit {why}."),
    }
}

/// A sweep value with its grid bracket.
fn grid(g: &GridValue, unit: &str) -> String {
    let v = |x: f64| value(x, unit);
    match g.hi {
        Some(hi) if hi == g.lo => v(g.point),
        None => format!("at least {} (no knee in the measured range)", v(g.lo)),
        Some(hi) => format!("{} (grid: {} to {})", v(g.point), v(g.lo), v(hi)),
    }
}

fn sweep_change(metric: &str, unit: &str, d: &SweepChange) -> String {
    let text = format!(
        "{metric} = {} against the baseline's {} ({}; limit {})",
        grid(&d.candidate, unit),
        grid(&d.baseline, unit),
        change(d.ratio),
        change(d.limit)
    );
    match d.finding {
        Finding::Past => format!(
            "{text}: past the limit even at the most favourable ends of both sweeps' grids."
        ),
        Finding::Within => format!("{text}: within the limit across both sweeps' grids."),
        Finding::PointPast | Finding::Straddles => format!(
            "{text}: the sweeps' grids cannot tell (bisect finer with `--resolution`, or widen the limit)."
        ),
    }
}

fn sweep_minimum(metric: &str, unit: &str, d: &SweepMinimum) -> String {
    let text = format!(
        "{metric} = {} against the minimum {}",
        grid(&d.value, unit),
        value(d.limit, unit)
    );
    match d.finding {
        Finding::Within => format!("{text}: at or above the limit."),
        Finding::Past => format!("{text}: below the limit."),
        Finding::PointPast | Finding::Straddles => {
            format!("{text}: the sweep's grid straddles the limit (bisect finer).")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::Test;
    use crate::stats::Interval;

    fn rel(point: f64, lo: f64, hi: f64, finding: Finding) -> Relative {
        Relative {
            test: Test::QuantileBootstrap,
            point,
            interval: Interval { lo, hi },
            limit: 1.15,
            bound: Bound::Max,
            level: 0.95,
            p_adjusted: 0.0012,
            alpha: 0.05,
            finding,
            requests_to_settle: None,
            caveats: vec![],
            mde: None,
            noise: None,
        }
    }

    #[test]
    fn metric_names_read_as_words_and_the_mde_warning_names_both_changes() {
        assert_eq!(metric_words("ttft.p95"), "p95 TTFT");
        assert_eq!(metric_words("output_tokens_per_s"), "output tokens/s");
        assert_eq!(
            metric_words("decode_tokens_per_s.p50"),
            "p50 decode tokens/s"
        );
        assert_eq!(
            undetectable("ttft.p95", Bound::Max, 0.15, 0.4237),
            "this setup cannot detect a 15 % rise of p95 TTFT; it detects ≥ 42.4 %; run `--repeat 3` or `ab`"
        );
    }

    #[test]
    fn a_relative_failure_names_change_interval_limit_and_adjusted_p() {
        let d = Decision::Relative(rel(1.32, 1.24, 1.41, Finding::Past));
        assert_eq!(
            explain("ttft.p95", "ms", &d),
            "ttft.p95 changed +32 % (95 % CI +24 % to +41 %) against the +15 % limit: the whole interval is past the limit and significantly worse than baseline (adjusted p = 0.0012 < 0.05)."
        );
    }

    #[test]
    fn an_inconclusive_rate_difference_says_what_would_settle_it() {
        let mut r = rel(0.0, -0.0041, 0.0122, Finding::Straddles);
        r.test = Test::FisherExact;
        r.limit = 0.005;
        r.requests_to_settle = Some(799);
        assert_eq!(
            explain("error_rate", "%", &Decision::Relative(r)),
            "error_rate changed +0 pp (95 % CI −0.41 pp to +1.22 pp) against the +0.5 pp limit: the interval straddles the limit; about 799 requests per side would settle it."
        );
    }

    #[test]
    fn nan_and_negative_zero_read_as_n_a_and_zero() {
        let d = Decision::Absolute(Absolute {
            test: Test::QuantileBootstrap,
            point: f64::NAN,
            interval: Interval {
                lo: -0.0,
                hi: f64::NAN,
            },
            limit: 150.0,
            bound: Bound::Max,
            level: 0.95,
            finding: Finding::Straddles,
            requests_to_settle: None,
            caveats: vec![Caveat::ItlGapsPerRequest],
        });
        assert_eq!(
            explain("itl.p95", "ms", &d),
            "itl.p95 = n/a (95 % CI 0 ms to n/a) against the maximum 150 ms: the interval straddles the limit (ITL gaps resampled with an effective sample size of one per request)."
        );
    }

    #[test]
    fn sweep_grids_show_their_brackets_and_an_unbounded_knee() {
        let d = Decision::SweepChange(SweepChange {
            candidate: GridValue {
                point: 32.0,
                lo: 32.0,
                hi: None,
            },
            baseline: GridValue {
                point: 8.0,
                lo: 8.0,
                hi: Some(9.0),
            },
            ratio: 4.0,
            limit: 0.875,
            finding: Finding::Within,
        });
        assert_eq!(
            explain("sweep.knee", "", &d),
            "sweep.knee = at least 32 (no knee in the measured range) against the baseline's 8 (grid: 8 to 9) (+300 %; limit −12.5 %): within the limit across both sweeps' grids."
        );
    }

    #[test]
    fn too_few_samples_say_how_many_more_are_needed() {
        let d = Decision::TooFewSamples(TooFew {
            counted: Counted::RequestsAttempted,
            baseline: true,
            n: 20,
            min: 50,
            summary_of: None,
        });
        assert_eq!(
            explain("error_rate", "%", &d),
            "only 20 requests attempted in the baseline (policy min_requests 50): need 30 more requests"
        );
    }

    #[test]
    fn too_few_samples_of_a_summary_import_say_so_not_how_many_more() {
        let d = Decision::TooFewSamples(TooFew {
            counted: Counted::SuccessfulRequests,
            baseline: false,
            n: 0,
            min: 50,
            summary_of: Some("k6".into()),
        });
        let text = explain("ttft.p95", "ms", &d);
        assert!(text.contains("imported from a k6 summary"), "{text}");
        assert!(!text.contains("more requests"), "{text}");
    }
}
