//! Validated scalar values of workload files and flags: durations (`500ms`,
//! `30s`, `2m`, `800µs`; a bare number is seconds), shares (`5%` or `0.05`)
//! and request rates (`8` or `8 req/s`), in the grammar of [`crate::units`].
//! Built once at the edge, so the rest of the code never sees an unchecked
//! number.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};

use crate::units::{self, BareNumber, RateUnit};

/// A non-negative duration written as `800us`, `250ms`, `1.5s`, `2m`, `1h`,
/// or a bare number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct DurationValue(pub Duration);

impl DurationValue {
    pub fn parse(text: &str) -> Result<Self, String> {
        units::parse_duration(text, BareNumber::Seconds)
            .map(|d| DurationValue(d.duration()))
            .map_err(|e| e.to_string())
    }
}

impl fmt::Display for DurationValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_secs_f64() * 1e3;
        if ms < 1000.0 {
            write!(f, "{ms}ms")
        } else {
            write!(f, "{}s", self.0.as_secs_f64())
        }
    }
}

/// A YAML scalar written as a number (`30`) or text (`30s`), as text.
fn scalar_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Num(f64),
        Text(String),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::Num(n) => n.to_string(),
        Raw::Text(s) => s,
    })
}

impl<'de> Deserialize<'de> for DurationValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        DurationValue::parse(&scalar_text(d)?).map_err(serde::de::Error::custom)
    }
}

/// A share in [0, 1], written as `5%` or `0.05`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Share(pub f64);

impl Share {
    pub fn parse(text: &str) -> Result<Self, String> {
        units::parse_share(text)
            .map(Share)
            .map_err(|e| e.to_string())
    }
}

impl<'de> Deserialize<'de> for Share {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Share::parse(&scalar_text(d)?).map_err(serde::de::Error::custom)
    }
}

/// Requests per second, written `8`, `0.5` or `8 req/s`. The range is the
/// load section's to check (it names the field).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct RequestRate(pub f64);

impl RequestRate {
    pub fn parse(text: &str) -> Result<Self, String> {
        let unit = RateUnit::RequestsPerSecond;
        let parsed = if text.trim().ends_with(unit.as_str()) {
            units::parse_rate(text, unit)
        } else {
            units::parse_number(text)
        };
        parsed.map(RequestRate).map_err(|e| e.to_string())
    }
}

impl<'de> Deserialize<'de> for RequestRate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(f64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            // A YAML number stays as it was read, so `rate: -1` still meets
            // the load section's range check and its message.
            Raw::Num(n) => Ok(RequestRate(n)),
            Raw::Text(s) => RequestRate::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

/// A plain non-negative decimal as [`crate::units`] reads it: ASCII digits
/// with at most one `.` (no sign, no exponent), as a JSON Schema pattern
/// fragment. The schemas below describe what the deserializers above take,
/// so an editor flags `30 sec` as the loader would.
const DECIMAL: &str = r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)";

impl JsonSchema for DurationValue {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let pattern = format!(r"^\s*{DECIMAL}\s*(?:ms|us|µs|s|m|h)?\s*$");
        json_schema!({
            "description": "A duration: `800us`, `250ms`, `1.5s`, `2m`, `1h`, or a bare number of seconds.",
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": pattern}
            ]
        })
    }
}

impl JsonSchema for Share {
    fn schema_name() -> Cow<'static, str> {
        "Share".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let pattern = format!(r"^\s*{DECIMAL}\s*%?\s*$");
        json_schema!({
            "description": "A share between 0 and 1: `5%` or the fraction `0.05`.",
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 1},
                {"type": "string", "pattern": pattern}
            ]
        })
    }
}

impl JsonSchema for RequestRate {
    fn schema_name() -> Cow<'static, str> {
        "RequestRate".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let pattern = format!(r"^\s*{DECIMAL}\s*(?:req/s)?\s*$");
        json_schema!({
            "description": "Requests per second: `8`, `0.5` or `8 req/s`.",
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {"type": "string", "pattern": pattern}
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(
            DurationValue::parse("250ms").unwrap().0,
            Duration::from_millis(250)
        );
        assert_eq!(
            DurationValue::parse("1.5s").unwrap().0,
            Duration::from_millis(1500)
        );
        assert_eq!(
            DurationValue::parse("2m").unwrap().0,
            Duration::from_secs(120)
        );
        assert_eq!(DurationValue::parse("3").unwrap().0, Duration::from_secs(3));
        assert!(DurationValue::parse("-1s").is_err());
        assert!(DurationValue::parse("soon").is_err());
    }

    #[test]
    fn shares_parse_as_percent_or_fraction() {
        assert_eq!(Share::parse("5%").unwrap().0, 0.05);
        assert_eq!(Share::parse("0.25").unwrap().0, 0.25);
        assert!(Share::parse("150%").is_err());
        assert!(Share::parse("-0.1").is_err());
    }

    #[test]
    fn request_rates_parse_with_or_without_their_unit() {
        assert_eq!(RequestRate::parse("8"), Ok(RequestRate(8.0)));
        assert_eq!(RequestRate::parse("2.5 req/s"), Ok(RequestRate(2.5)));
        assert_eq!(
            RequestRate::parse("8 tok/s"),
            Err("expected a number like `2.5`, got `8 tok/s`".to_string())
        );
        assert_eq!(
            RequestRate::parse("-1 req/s"),
            Err("expected a non-negative rate, got `-1 req/s`".to_string())
        );
    }

    #[test]
    fn microsecond_durations_are_accepted() {
        assert_eq!(
            DurationValue::parse("800µs").unwrap().0,
            Duration::from_micros(800)
        );
    }

    /// Whether the JSON Schema of `T` takes the string `text`.
    fn schema_takes<T: JsonSchema>(text: &str) -> bool {
        let schema = serde_json::to_value(schemars::schema_for!(T)).expect("schema JSON");
        jsonschema::validator_for(&schema)
            .expect("a valid schema")
            .is_valid(&serde_json::Value::from(text))
    }

    /// The schemas' patterns and the parsers agree on written values, so an
    /// editor flags exactly the texts the loader refuses (in range; the
    /// schemas do not check magnitudes).
    #[test]
    fn the_schemas_take_the_texts_the_parsers_take() {
        let texts = [
            "30s", "250ms", "800us", "800µs", "1.5s", "2m", "1h", "3", " 30 s ", ".5s", "5.s",
            "0.05", "5%", "100%", "8", "8 req/s", "2.5req/s", "-1s", "-0.1", "soon", "30 sec",
            "1e3", "1,5s", ".", "%", "s", "", "8 tok/s", "5 %", "1.2.3", "+1", "inf",
        ];
        for text in texts {
            assert_eq!(
                schema_takes::<DurationValue>(text),
                DurationValue::parse(text).is_ok(),
                "duration `{text}`"
            );
            assert_eq!(
                schema_takes::<RequestRate>(text),
                RequestRate::parse(text).is_ok(),
                "rate `{text}`"
            );
            // `150%` and `8` are shares out of range: the loader says so.
            let (number, most) = match text.trim().strip_suffix('%') {
                Some(n) => (n, 100.0),
                None => (text, 1.0),
            };
            let out_of_range = units::parse_number(number).is_ok_and(|v| v > most);
            if !out_of_range {
                assert_eq!(
                    schema_takes::<Share>(text),
                    Share::parse(text).is_ok(),
                    "share `{text}`"
                );
            }
        }
    }
}
