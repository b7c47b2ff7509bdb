//! The one grammar for quantities users write in workload files, gate files
//! and command-line flags:
//!
//! | quantity | written | parser |
//! |---|---|---|
//! | duration | `800us` / `800µs`, `150ms`, `1.5s`, `2m`, `1h` (a bare number: per field) | [`parse_duration`] |
//! | percentage | `15%`, `0.5%` | [`parse_percentage`] |
//! | share in [0, 1] | `5%` or `0.05` | [`parse_share`] |
//! | percentage points | `0.5pp` | [`parse_percentage_points`] |
//! | rate | `35 tok/s`, `2 req/s` | [`parse_rate`] |
//! | number | `2.50`, `8` | [`parse_number`] |
//!
//! Numbers are plain decimals (`12`, `0.5`, `.5`): no sign, exponent,
//! `inf` or `nan`, so every parsed value is finite and non-negative (a
//! leading `-` is recognised only to say "non-negative" in the error). A
//! unit may follow the number after spaces (`35 tok/s`, `500 ms`).
//!
//! This module checks the syntax and what holds for every use (a share is
//! at most 100 %); a field's own range (a timeout above zero, a relative
//! limit of at most 1000 %) is checked by its owner, which knows the field.

use std::time::Duration;

/// What a text was expected to be; names it in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    Duration,
    Percentage,
    Share,
    PercentagePoints,
    Rate(RateUnit),
    Number,
}

impl Quantity {
    /// "a duration like `500ms`, `30s` or `2m`": what a valid text looks like.
    pub fn expected(self) -> &'static str {
        match self {
            Quantity::Duration => "a duration like `500ms`, `30s` or `2m`",
            Quantity::Percentage => "a percentage like `5%`",
            Quantity::Share => "a share like `0.05` or `5%`",
            Quantity::PercentagePoints => "percentage points like `0.5pp`",
            Quantity::Rate(RateUnit::TokensPerSecond) => "a rate like `35 tok/s`",
            Quantity::Rate(RateUnit::RequestsPerSecond) => "a rate like `2 req/s`",
            Quantity::Number => "a number like `2.5`",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Quantity::Duration => "duration",
            Quantity::Percentage => "percentage",
            Quantity::Share => "share",
            Quantity::PercentagePoints => "number of percentage points",
            Quantity::Rate(_) => "rate",
            Quantity::Number => "number",
        }
    }
}

/// A text that is not the quantity it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("expected {}, got `{text}`", .quantity.expected())]
    Malformed { quantity: Quantity, text: String },
    #[error("expected a non-negative {}, got `{text}`", .quantity.noun())]
    Negative { quantity: Quantity, text: String },
    /// A duration beyond [`MAX_DURATION_SECS`].
    #[error("{} `{text}` is too large", .quantity.noun())]
    TooLarge { quantity: Quantity, text: String },
    #[error("expected a share between 0% and 100%, got `{text}`")]
    ShareOutOfRange { text: String },
}

impl UnitError {
    fn malformed(quantity: Quantity, text: &str) -> UnitError {
        UnitError::Malformed {
            quantity,
            text: text.to_owned(),
        }
    }
}

/// A plain decimal number with its sign apart: `Some((negative, magnitude))`.
/// ASCII digits with at most one `.` and at least one digit; `None` for
/// anything else (signs other than a leading `-`, exponents, `inf`, `nan`).
fn decimal(text: &str) -> Option<(bool, f64)> {
    let t = text.trim();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let plain = digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.chars().any(|c| c.is_ascii_digit())
        && digits.chars().filter(|c| *c == '.').count() <= 1;
    if !plain {
        return None;
    }
    // Hundreds of digits overflow to infinity: not a finite number either.
    let v: f64 = digits.parse().ok().filter(|v: &f64| v.is_finite())?;
    Some((negative, v))
}

/// A non-negative decimal number (`number` of `text`, named `quantity` in errors).
fn non_negative(number: &str, text: &str, quantity: Quantity) -> Result<f64, UnitError> {
    match decimal(number) {
        Some((false, v)) => Ok(v),
        // `-0` too: a limit of minus zero is a typo, not a value.
        Some((true, _)) => Err(UnitError::Negative {
            quantity,
            text: text.to_owned(),
        }),
        None => Err(UnitError::malformed(quantity, text)),
    }
}

/// A plain non-negative number: `2.50`, `8`.
pub fn parse_number(text: &str) -> Result<f64, UnitError> {
    non_negative(text, text, Quantity::Number)
}

/// The unit a duration was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Micros,
    Millis,
    Seconds,
    Minutes,
    Hours,
}

impl TimeUnit {
    /// Suffixes in matching order: `ms`, `us` and `µs` before `s`.
    const SUFFIXES: [(&'static str, TimeUnit); 6] = [
        ("ms", TimeUnit::Millis),
        ("us", TimeUnit::Micros),
        ("µs", TimeUnit::Micros),
        ("s", TimeUnit::Seconds),
        ("m", TimeUnit::Minutes),
        ("h", TimeUnit::Hours),
    ];

    fn seconds(self) -> f64 {
        match self {
            TimeUnit::Micros => 1e-6,
            TimeUnit::Millis => 1e-3,
            TimeUnit::Seconds => 1.0,
            TimeUnit::Minutes => 60.0,
            TimeUnit::Hours => 3600.0,
        }
    }

    fn millis(self) -> f64 {
        match self {
            TimeUnit::Micros => 1e-3,
            TimeUnit::Millis => 1.0,
            TimeUnit::Seconds => 1e3,
            TimeUnit::Minutes => 6e4,
            TimeUnit::Hours => 3.6e6,
        }
    }
}

/// What a bare number (no unit) means for a duration field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BareNumber {
    /// Seconds: workload files and flags (`timeout: 30`).
    Seconds,
    /// Refused: gate thresholds, where `max: 150` could mean ms or s.
    Refused,
}

/// The longest duration accepted, in seconds (about 31 years): far beyond
/// any benchmark, and small enough that `Duration::from_secs_f64` cannot
/// overflow.
pub const MAX_DURATION_SECS: f64 = 1.0e9;

/// A duration as written: the number and its unit. Converting from the
/// written unit in one multiplication keeps `150ms` exactly 150.0 ms and
/// `1.5s` exactly 1.5 s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DurationText {
    amount: f64,
    unit: TimeUnit,
}

impl DurationText {
    pub fn duration(self) -> Duration {
        Duration::from_secs_f64(self.amount * self.unit.seconds())
    }

    /// In milliseconds, as gate thresholds and reports count latencies.
    pub fn millis(self) -> f64 {
        self.amount * self.unit.millis()
    }
}

/// A non-negative duration: `800us`, `800µs`, `150ms`, `1.5s`, `2m`, `1h`;
/// a bare number as `bare` says.
pub fn parse_duration(text: &str, bare: BareNumber) -> Result<DurationText, UnitError> {
    let t = text.trim();
    let (number, unit) = TimeUnit::SUFFIXES
        .iter()
        .find_map(|(suffix, unit)| t.strip_suffix(suffix).map(|n| (n, *unit)))
        .map_or((t, None), |(n, u)| (n, Some(u)));
    let unit = match (unit, bare) {
        (Some(u), _) => u,
        (None, BareNumber::Seconds) => TimeUnit::Seconds,
        (None, BareNumber::Refused) => {
            return Err(UnitError::malformed(Quantity::Duration, text));
        }
    };
    let amount = non_negative(number, text, Quantity::Duration)?;
    if amount * unit.seconds() > MAX_DURATION_SECS {
        return Err(UnitError::TooLarge {
            quantity: Quantity::Duration,
            text: text.to_owned(),
        });
    }
    Ok(DurationText { amount, unit })
}

/// A percentage as written, e.g. `15%` is 15 points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentage(f64);

impl Percentage {
    /// The number written before `%`.
    pub fn points(self) -> f64 {
        self.0
    }

    /// As a fraction: `15%` is 0.15.
    pub fn fraction(self) -> f64 {
        self.0 / 100.0
    }
}

/// A non-negative percentage with its `%`: `15%`, `0.5%` (any size; the
/// field bounds it).
pub fn parse_percentage(text: &str) -> Result<Percentage, UnitError> {
    let number = text
        .trim()
        .strip_suffix('%')
        .ok_or_else(|| UnitError::malformed(Quantity::Percentage, text))?;
    non_negative(number, text, Quantity::Percentage).map(Percentage)
}

/// A share in [0, 1]: `5%` or the fraction `0.05`.
pub fn parse_share(text: &str) -> Result<f64, UnitError> {
    let out_of_range = || UnitError::ShareOutOfRange {
        text: text.to_owned(),
    };
    let share = if text.trim().ends_with('%') {
        match parse_percentage(text) {
            Ok(p) => p.fraction(),
            Err(UnitError::Negative { .. }) => return Err(out_of_range()),
            Err(e) => return Err(e),
        }
    } else {
        match decimal(text) {
            Some((false, v)) => v,
            Some((true, _)) => return Err(out_of_range()),
            None => return Err(UnitError::malformed(Quantity::Share, text)),
        }
    };
    if share > 1.0 {
        return Err(out_of_range());
    }
    Ok(share)
}

/// Percentage points, for changes of a rate: `0.5pp` (1.0 % → 1.5 %).
/// Returns the number of points.
pub fn parse_percentage_points(text: &str) -> Result<f64, UnitError> {
    let number = text
        .trim()
        .strip_suffix("pp")
        .ok_or_else(|| UnitError::malformed(Quantity::PercentagePoints, text))?;
    non_negative(number, text, Quantity::PercentagePoints)
}

/// The unit of a rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateUnit {
    TokensPerSecond,
    RequestsPerSecond,
}

impl RateUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            RateUnit::TokensPerSecond => "tok/s",
            RateUnit::RequestsPerSecond => "req/s",
        }
    }
}

/// A non-negative rate with its unit: `35 tok/s`, `2 req/s` (the space is
/// optional).
pub fn parse_rate(text: &str, unit: RateUnit) -> Result<f64, UnitError> {
    let quantity = Quantity::Rate(unit);
    let number = text
        .trim()
        .strip_suffix(unit.as_str())
        .ok_or_else(|| UnitError::malformed(quantity, text))?;
    non_negative(number, text, quantity)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn duration(text: &str) -> Duration {
        parse_duration(text, BareNumber::Seconds)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .duration()
    }

    #[test]
    fn durations_take_every_unit_and_fractions() {
        assert_eq!(duration("800us"), Duration::from_micros(800));
        assert_eq!(duration("800µs"), Duration::from_micros(800));
        assert_eq!(duration("250ms"), Duration::from_millis(250));
        assert_eq!(duration("1.5s"), Duration::from_millis(1500));
        assert_eq!(duration("2m"), Duration::from_secs(120));
        assert_eq!(duration("0.5h"), Duration::from_secs(1800));
        assert_eq!(duration("500 ms"), Duration::from_millis(500));
        assert_eq!(duration(" 3 "), Duration::from_secs(3));
        assert_eq!(duration(".5s"), Duration::from_millis(500));
    }

    #[test]
    fn duration_millis_are_exact_in_the_written_unit() {
        let ms = |t: &str| parse_duration(t, BareNumber::Refused).expect(t).millis();
        assert_eq!(ms("150ms"), 150.0);
        assert_eq!(ms("1.5s"), 1500.0);
        assert_eq!(ms("800us"), 0.8);
        assert_eq!(ms("2m"), 120_000.0);
        assert_eq!(ms("1h"), 3_600_000.0);
    }

    #[test]
    fn a_bare_number_is_seconds_or_refused_as_the_field_says() {
        assert_eq!(duration("30"), Duration::from_secs(30));
        assert_eq!(
            parse_duration("150", BareNumber::Refused)
                .unwrap_err()
                .to_string(),
            "expected a duration like `500ms`, `30s` or `2m`, got `150`"
        );
    }

    #[test]
    fn durations_refuse_negatives_non_numbers_and_huge_values() {
        let err = |t: &str| {
            parse_duration(t, BareNumber::Seconds)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(err("-1s"), "expected a non-negative duration, got `-1s`");
        assert_eq!(
            err("soon"),
            "expected a duration like `500ms`, `30s` or `2m`, got `soon`"
        );
        for t in [
            "infs", "nans", "inf", "1e3s", "+5s", "1.2.3s", "s", "", "5 sec", "5ns",
        ] {
            assert!(
                err(t).starts_with("expected a duration like"),
                "{t}: {}",
                err(t)
            );
        }
        assert_eq!(err("2000000000s"), "duration `2000000000s` is too large");
        assert!(parse_duration("16666667m", BareNumber::Seconds).is_err());
    }

    #[test]
    fn percentages_need_their_sign_and_stay_as_written() {
        let p = parse_percentage("15%").expect("15%");
        assert_eq!(p.points(), 15.0);
        assert_eq!(p.fraction(), 0.15);
        assert_eq!(parse_percentage(" 1500 %").expect("large").points(), 1500.0);
        assert_eq!(
            parse_percentage("15").unwrap_err().to_string(),
            "expected a percentage like `5%`, got `15`"
        );
        assert_eq!(
            parse_percentage("-5%").unwrap_err().to_string(),
            "expected a non-negative percentage, got `-5%`"
        );
        assert!(parse_percentage("nan%").is_err());
    }

    #[test]
    fn shares_are_percentages_or_fractions_within_one() {
        assert_eq!(parse_share("5%"), Ok(0.05));
        assert_eq!(parse_share("0.25"), Ok(0.25));
        assert_eq!(parse_share("100%"), Ok(1.0));
        assert_eq!(parse_share("0"), Ok(0.0));
        for t in ["150%", "-0.1", "-5%", "1.01"] {
            assert_eq!(
                parse_share(t).unwrap_err().to_string(),
                format!("expected a share between 0% and 100%, got `{t}`")
            );
        }
        assert_eq!(
            parse_share("half").unwrap_err().to_string(),
            "expected a share like `0.05` or `5%`, got `half`"
        );
        assert_eq!(
            parse_share("x%").unwrap_err().to_string(),
            "expected a percentage like `5%`, got `x%`"
        );
    }

    #[test]
    fn rates_need_their_unit() {
        assert_eq!(parse_rate("35 tok/s", RateUnit::TokensPerSecond), Ok(35.0));
        assert_eq!(parse_rate("2req/s", RateUnit::RequestsPerSecond), Ok(2.0));
        assert_eq!(
            parse_rate("35", RateUnit::TokensPerSecond)
                .unwrap_err()
                .to_string(),
            "expected a rate like `35 tok/s`, got `35`"
        );
        assert_eq!(
            parse_rate("2 tok/s", RateUnit::RequestsPerSecond)
                .unwrap_err()
                .to_string(),
            "expected a rate like `2 req/s`, got `2 tok/s`"
        );
        assert!(parse_rate("-1 tok/s", RateUnit::TokensPerSecond).is_err());
    }

    #[test]
    fn numbers_and_points_are_plain_non_negative_decimals() {
        assert_eq!(parse_number("2.50"), Ok(2.5));
        assert_eq!(parse_percentage_points("0.5pp"), Ok(0.5));
        for t in ["-0", "-1", "1e3", "inf", "NaN", "", ".", "0x10", "1,5"] {
            assert!(parse_number(t).is_err(), "{t}");
        }
        assert_eq!(
            parse_number(&"9".repeat(400)).unwrap_err().to_string(),
            format!("expected a number like `2.5`, got `{}`", "9".repeat(400))
        );
        assert!(parse_percentage_points("0.5%").is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_errors_without_panicking(t in "\\PC{0,16}") {
            let _ = parse_duration(&t, BareNumber::Seconds).map(|d| d.duration());
            let _ = parse_share(&t);
            let _ = parse_rate(&t, RateUnit::TokensPerSecond);
            let _ = parse_percentage_points(&t);
        }

        #[test]
        fn written_milliseconds_read_back_exactly(ms in 0u32..10_000_000) {
            let d = parse_duration(&format!("{ms}ms"), BareNumber::Refused).expect("valid");
            proptest::prop_assert_eq!(d.millis(), f64::from(ms));
            proptest::prop_assert_eq!(d.duration(), Duration::from_millis(u64::from(ms)));
        }

        #[test]
        fn parsed_values_are_finite_and_non_negative(t in "-?[0-9.]{0,6}(%|pp|ms|s| tok/s)?") {
            for v in [
                parse_number(&t).ok(),
                parse_percentage(&t).ok().map(Percentage::points),
                parse_percentage_points(&t).ok(),
                parse_rate(&t, RateUnit::TokensPerSecond).ok(),
                parse_duration(&t, BareNumber::Seconds).ok().map(DurationText::millis),
            ]
            .into_iter()
            .flatten()
            {
                proptest::prop_assert!(v.is_finite() && v >= 0.0 && !v.is_sign_negative(), "{t}: {v}");
            }
        }
    }
}
