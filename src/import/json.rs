//! Reading a foreign JSON document field by field, so every error names the
//! file, the field (a dotted path, `itls[3][0]`) and what was expected, and
//! no value from the file reaches a message uncut.

use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};

use super::error::ImportError;
use crate::wording::foreign::cut;

/// The longest time a field may hold, seconds (a week): beyond it a value
/// is not a latency of one request but a unit mix-up.
const MAX_SECONDS: f64 = 7.0 * 86_400.0;

/// Quoted values in errors keep at most this many characters.
const QUOTE_CHARS: usize = 64;

/// One document being read: names the file in every error.
pub(super) struct Doc<'a> {
    pub path: &'a Path,
}

/// What a value is, in words, for "found …".
pub(super) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {}", cut(&n.to_string(), QUOTE_CHARS)),
        Value::String(s) => format!("the string `{}`", cut(s, QUOTE_CHARS)),
        Value::Array(a) => format!("an array of {} entries", a.len()),
        Value::Object(_) => "an object".into(),
    }
}

impl Doc<'_> {
    pub fn error(
        &self,
        field: &str,
        problem: impl Into<String>,
        expected: impl Into<String>,
    ) -> ImportError {
        ImportError::Field {
            path: self.path.to_owned(),
            field: cut(field, QUOTE_CHARS),
            problem: problem.into(),
            expected: expected.into(),
        }
    }

    fn wrong(&self, field: &str, v: &Value, expected: &str) -> ImportError {
        self.error(field, format!("is {}", describe(v)), expected)
    }

    /// The top level as an object.
    pub fn root<'v>(
        &self,
        v: &'v Value,
        expected: &str,
    ) -> Result<&'v Map<String, Value>, ImportError> {
        v.as_object()
            .ok_or_else(|| self.error("(top level)", format!("is {}", describe(v)), expected))
    }

    /// A field that must be present.
    pub fn get<'v>(
        &self,
        obj: &'v Map<String, Value>,
        field: &str,
        expected: &str,
    ) -> Result<&'v Value, ImportError> {
        obj.get(field)
            .ok_or_else(|| self.error(field, "is missing", expected))
    }

    pub fn array<'v>(
        &self,
        v: &'v Value,
        field: &str,
        expected: &str,
    ) -> Result<&'v [Value], ImportError> {
        v.as_array()
            .map(Vec::as_slice)
            .ok_or_else(|| self.wrong(field, v, expected))
    }

    pub fn string<'v>(
        &self,
        v: &'v Value,
        field: &str,
        expected: &str,
    ) -> Result<&'v str, ImportError> {
        v.as_str().ok_or_else(|| self.wrong(field, v, expected))
    }

    /// A finite number.
    pub fn number(&self, v: &Value, field: &str, expected: &str) -> Result<f64, ImportError> {
        v.as_f64()
            .filter(|x| x.is_finite())
            .ok_or_else(|| self.wrong(field, v, expected))
    }

    /// A whole number from 0 to `u32::MAX`.
    pub fn count(&self, v: &Value, field: &str, expected: &str) -> Result<u32, ImportError> {
        v.as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| self.wrong(field, v, expected))
    }

    /// A time in seconds: finite, not negative, at most a week.
    pub fn seconds(&self, v: &Value, field: &str) -> Result<Duration, ImportError> {
        let expected = "a time in seconds (a number from 0 to 604800)";
        let s = self.number(v, field, expected)?;
        if !(0.0..=MAX_SECONDS).contains(&s) {
            return Err(self.wrong(field, v, expected));
        }
        Duration::try_from_secs_f64(s).map_err(|_| self.wrong(field, v, expected))
    }
}
