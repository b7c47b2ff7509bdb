//! Validated scalar values of configuration files: durations (`500ms`,
//! `30s`, `2m`) and shares (`5%` or `0.05`). Built once at the edge, so the
//! rest of the code never sees an unchecked number.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A non-negative duration written as `250ms`, `1.5s`, `2m`, `1h`, or a bare
/// number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct DurationValue(pub Duration);

impl DurationValue {
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
            (n, 1e-3)
        } else if let Some(n) = t.strip_suffix("us") {
            (n, 1e-6)
        } else if let Some(n) = t.strip_suffix('s') {
            (n, 1.0)
        } else if let Some(n) = t.strip_suffix('m') {
            (n, 60.0)
        } else if let Some(n) = t.strip_suffix('h') {
            (n, 3600.0)
        } else {
            (t, 1.0)
        };
        let v: f64 = num.trim().parse().map_err(|_| {
            format!("expected a duration like `500ms`, `30s` or `2m`, got `{text}`")
        })?;
        if !v.is_finite() || v < 0.0 {
            return Err(format!("expected a non-negative duration, got `{text}`"));
        }
        let secs = v * scale;
        if secs > 1.0e9 {
            return Err(format!("duration `{text}` is too large"));
        }
        Ok(DurationValue(Duration::from_secs_f64(secs)))
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
        let t = text.trim();
        let v = if let Some(p) = t.strip_suffix('%') {
            p.trim()
                .parse::<f64>()
                .map(|v| v / 100.0)
                .map_err(|_| format!("expected a percentage like `5%`, got `{text}`"))?
        } else {
            t.parse::<f64>()
                .map_err(|_| format!("expected a share like `0.05` or `5%`, got `{text}`"))?
        };
        if !(0.0..=1.0).contains(&v) {
            return Err(format!(
                "expected a share between 0% and 100%, got `{text}`"
            ));
        }
        Ok(Share(v))
    }
}

impl<'de> Deserialize<'de> for Share {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Share::parse(&scalar_text(d)?).map_err(serde::de::Error::custom)
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
}
