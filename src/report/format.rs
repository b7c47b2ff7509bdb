//! The cells of a rule's row, shared by the text renderers so Markdown and
//! JUnit say the same thing the same way; the numbers in them come from
//! [`crate::wording`].

use crate::gate::{EstimateKind, Outcome, RuleResult, Verdict};
use crate::wording;

/// An optional value in a rule's unit (`%` values are fractions); `—` when absent.
pub fn value(v: Option<f64>, unit: &str) -> String {
    v.map_or_else(|| "—".into(), |v| wording::value(v, unit))
}

/// The change column: the estimate for baseline comparisons, else the
/// candidate/baseline ratio when both values are known.
pub fn change(r: &RuleResult) -> String {
    if let Some(e) = &r.estimate {
        match e.kind {
            EstimateKind::Ratio => return wording::change(e.point),
            EstimateKind::Difference => return wording::points(e.point),
            EstimateKind::Value => {}
        }
    }
    match (r.baseline_value, r.candidate_value) {
        (Some(b), Some(c)) if r.unit == "%" => wording::points(c - b),
        (Some(b), Some(c)) if b != 0.0 => wording::change(c / b),
        _ => "—".into(),
    }
}

/// The estimate with its interval, e.g. `ratio 1.312 (CI 1.24 – 1.39)`.
pub fn estimate(r: &RuleResult) -> String {
    let Some(e) = &r.estimate else {
        return "—".into();
    };
    let (label, fmt): (&str, Box<dyn Fn(f64) -> String>) = match e.kind {
        EstimateKind::Ratio => ("ratio", Box::new(|v| wording::decimals(v, 4))),
        EstimateKind::Difference => ("difference", Box::new(wording::points)),
        EstimateKind::Value => {
            let unit = r.unit.clone();
            ("value", Box::new(move |v| value(Some(v), &unit)))
        }
    };
    match e.interval {
        Some(iv) => format!(
            "{label} {} (CI {} – {})",
            fmt(e.point),
            fmt(iv.lo),
            fmt(iv.hi)
        ),
        None => format!("{label} {} (point comparison)", fmt(e.point)),
    }
}

/// An optional p-value with four decimals, or `< 0.0001`; `—` when absent.
pub fn p_value(p: Option<f64>) -> String {
    p.map_or_else(|| "—".into(), wording::p_value)
}

/// The MDE: a relative change for ratios and values, percentage points for rates.
pub fn mde(r: &RuleResult) -> String {
    match r.mde {
        None => "—".into(),
        Some(m) if m.is_nan() => "n/a".into(),
        Some(m) if r.unit == "%" => format!("{} pp", wording::decimals(m * 100.0, 2)),
        Some(m) => format!("{} %", wording::decimals(m * 100.0, 1)),
    }
}

pub fn outcome_emoji(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "✅",
        Outcome::Fail => "❌",
        Outcome::Warn => "⚠️",
        Outcome::Waived => "🔕",
        Outcome::Inconclusive => "❔",
        Outcome::Skipped => "⏭️",
        Outcome::Invalid => "🚫",
    }
}

pub fn verdict_emoji(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "✅",
        Verdict::Fail => "❌",
        Verdict::Inconclusive => "❔",
        Verdict::Skipped => "⏭️",
        Verdict::Invalid => "🚫",
        Verdict::Ungated => "🔓",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_values_are_dashes_and_present_ones_read_in_their_unit() {
        assert_eq!(value(Some(123.456), "ms"), "123.5 ms");
        assert_eq!(value(Some(f64::NAN), "%"), "n/a");
        assert_eq!(value(None, "ms"), "—");
        assert_eq!(p_value(Some(0.00001)), "< 0.0001");
        assert_eq!(p_value(None), "—");
    }
}
