//! Number and label formatting shared by the text renderers, so Markdown and
//! JUnit say the same thing the same way.

use crate::gate::{EstimateKind, Outcome, RuleResult, Verdict};

/// Fixed decimals with trailing zeros removed (`1.50` → `1.5`).
pub fn trim_num(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "n/a".into()
        } else {
            "∞".into()
        };
    }
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    };
    if s == "-0" { "0".into() } else { s }
}

/// A value in a rule's unit (`%` values are fractions).
pub fn value(v: Option<f64>, unit: &str) -> String {
    match v {
        None => "—".into(),
        Some(v) => match unit {
            "%" => format!("{} %", trim_num(v * 100.0, 2)),
            "" => trim_num(v, 2),
            u => format!("{} {u}", trim_num(v, 1)),
        },
    }
}

/// A signed relative change of a ratio, e.g. `+31.2 %`.
pub fn ratio_change(ratio: f64) -> String {
    signed(ratio - 1.0, 100.0, 1, "%")
}

/// A signed difference of rates in percentage points, e.g. `+0.25 pp`.
pub fn rate_difference(d: f64) -> String {
    signed(d, 100.0, 2, "pp")
}

fn signed(v: f64, scale: f64, decimals: usize, unit: &str) -> String {
    let s = trim_num((v * scale).abs(), decimals);
    let sign = if v < 0.0 && s != "0" { "−" } else { "+" };
    format!("{sign}{s} {unit}")
}

/// The change column: the estimate for baseline comparisons, else the
/// candidate/baseline ratio when both values are known.
pub fn change(r: &RuleResult) -> String {
    if let Some(e) = &r.estimate {
        match e.kind {
            EstimateKind::Ratio => return ratio_change(e.point),
            EstimateKind::Difference => return rate_difference(e.point),
            EstimateKind::Value => {}
        }
    }
    match (r.baseline_value, r.candidate_value) {
        (Some(b), Some(c)) if r.unit == "%" => rate_difference(c - b),
        (Some(b), Some(c)) if b != 0.0 => ratio_change(c / b),
        _ => "—".into(),
    }
}

/// The estimate with its interval, e.g. `ratio 1.312 (CI 1.24 – 1.39)`.
pub fn estimate(r: &RuleResult) -> String {
    let Some(e) = &r.estimate else {
        return "—".into();
    };
    let (label, fmt): (&str, Box<dyn Fn(f64) -> String>) = match e.kind {
        EstimateKind::Ratio => ("ratio", Box::new(|v| trim_num(v, 4))),
        EstimateKind::Difference => ("difference", Box::new(rate_difference)),
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

/// A p-value with four decimals, or `< 0.0001`.
pub fn p_value(p: Option<f64>) -> String {
    match p {
        None => "—".into(),
        Some(p) if p < 0.0001 => "< 0.0001".into(),
        Some(p) => format!("{p:.4}"),
    }
}

/// The MDE: a relative change for ratios and values, percentage points for rates.
pub fn mde(r: &RuleResult) -> String {
    match r.mde {
        None => "—".into(),
        Some(m) if r.unit == "%" => format!("{} pp", trim_num(m * 100.0, 2)),
        Some(m) => format!("{} %", trim_num(m * 100.0, 1)),
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
    }
}

pub fn verdict_emoji(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "✅",
        Verdict::Fail => "❌",
        Verdict::Inconclusive => "❔",
        Verdict::Skipped => "⏭️",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_values_and_changes() {
        assert_eq!(value(Some(123.456), "ms"), "123.5 ms");
        assert_eq!(value(Some(0.005), "%"), "0.5 %");
        assert_eq!(value(Some(2.5), ""), "2.5");
        assert_eq!(value(None, "ms"), "—");
        assert_eq!(ratio_change(1.3126), "+31.3 %");
        assert_eq!(ratio_change(0.9), "−10 %");
        assert_eq!(ratio_change(1.0), "+0 %");
        assert_eq!(rate_difference(0.0025), "+0.25 pp");
        assert_eq!(p_value(Some(0.00001)), "< 0.0001");
        assert_eq!(trim_num(-0.0001, 1), "0");
    }
}
