//! Time in tokengate, on chrono: instants ([`Timestamp`], UTC) and the
//! calendar day they fall on ([`Date`]), and their text forms — RFC 3339 for
//! bundle times (`2026-11-27T23:23:48Z`), `YYYYMMDDTHHMMSS.mmmZ` for the
//! promotion stamps in baseline file names, `YYYY-MM-DD` for waiver expiry
//! days. Baselines (stamps, ages) and waivers (expiry) use these types, so
//! there is one calendar in the crate, chrono's proleptic Gregorian one.
//!
//! Parsing distinguishes text that is not in the expected form at all
//! ([`TimeError::Form`]) from text in the form that names no real instant,
//! such as `2026-02-31` or an offset of `+25:00` ([`TimeError::Impossible`]):
//! callers that tolerate hand-written values (a file not named by `promote`)
//! still refuse impossible ones, which would otherwise be read as a nearby
//! day.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::format::ParseErrorKind;
use chrono::{DateTime, Datelike, Month, NaiveDate, SecondsFormat, SubsecRound, TimeDelta, Utc};
use serde::Serialize;

/// An instant, UTC.
pub type Timestamp = DateTime<Utc>;

const RFC3339_FORM: &str = "an RFC 3339 time such as 2026-11-27T23:23:48Z";
const STAMP_FORM: &str = "a UTC stamp YYYYMMDDTHHMMSS.mmmZ";
const DATE_FORM: &str = "a date YYYY-MM-DD";

/// Why a time or date could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// Not written in the expected form.
    #[error("expected {expected}, found `{found}`")]
    Form {
        expected: &'static str,
        found: String,
    },
    /// In the form, but no such date, time of day or offset exists.
    #[error("`{found}` is an impossible {what}: {why}")]
    Impossible {
        /// `date` or `time`.
        what: &'static str,
        found: String,
        why: String,
    },
}

impl TimeError {
    /// True for text in the right form that names no real instant.
    pub fn is_impossible(&self) -> bool {
        matches!(self, TimeError::Impossible { .. })
    }
}

/// The instant of a system time. Times beyond chrono's range (±262,000
/// years) saturate instead of panicking.
pub fn timestamp(t: SystemTime) -> Timestamp {
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    let moved = match t.duration_since(UNIX_EPOCH) {
        Ok(after) => TimeDelta::from_std(after)
            .ok()
            .and_then(|d| epoch.checked_add_signed(d)),
        Err(before) => TimeDelta::from_std(before.duration())
            .ok()
            .and_then(|d| epoch.checked_sub_signed(d)),
    };
    moved.unwrap_or(if t >= UNIX_EPOCH {
        DateTime::<Utc>::MAX_UTC
    } else {
        DateTime::<Utc>::MIN_UTC
    })
}

/// [`timestamp`] cut to whole milliseconds, the precision of a promotion
/// stamp.
pub fn timestamp_ms(t: SystemTime) -> Timestamp {
    timestamp(t).trunc_subsecs(3)
}

/// RFC 3339 UTC with whole seconds (cut, not rounded), e.g.
/// `2026-11-27T23:23:48Z`.
pub fn format_rfc3339(t: Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// [`format_rfc3339`] of a system time: the bundle's `started_at`/`ended_at`.
pub fn rfc3339(t: SystemTime) -> String {
    format_rfc3339(timestamp(t))
}

/// RFC 3339 UTC with milliseconds (cut), e.g. `2026-11-27T23:23:48.250Z`:
/// the shard windows `merge` lines up, where whole seconds are too coarse.
pub fn rfc3339_ms(t: SystemTime) -> String {
    timestamp(t).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parse an RFC 3339 date-time (`2026-11-27T23:23:48.5Z`,
/// `2026-11-27T23:23:48+01:00`; `T`, `t` or a space between date and time;
/// surrounding whitespace ignored).
pub fn parse_rfc3339(s: &str) -> Result<Timestamp, TimeError> {
    let text = s.trim();
    match DateTime::parse_from_rfc3339(text) {
        Ok(t) => Ok(t.with_timezone(&Utc)),
        Err(e)
            if matches!(
                e.kind(),
                ParseErrorKind::OutOfRange | ParseErrorKind::Impossible
            ) =>
        {
            Err(TimeError::Impossible {
                what: "time",
                found: text.to_owned(),
                why: rfc3339_out_of_range(text),
            })
        }
        Err(_) => Err(TimeError::Form {
            expected: RFC3339_FORM,
            found: text.to_owned(),
        }),
    }
}

/// Which part of an RFC 3339 text chrono found out of range. Chrono has
/// checked the digits at the fixed positions (`YYYY-MM-DDTHH:MM:SS`) before
/// judging a value, so the parts are read from those positions.
fn rfc3339_out_of_range(text: &str) -> String {
    let num = |a: usize, b: usize| {
        text.get(a..b)
            .filter(|p| p.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|p| p.parse::<u32>().ok())
    };
    if let (Some(y), Some(m), Some(d)) = (num(0, 4), num(5, 7), num(8, 10))
        && let Err(why) = civil_date(y as i32, m, d)
    {
        return why;
    }
    if let (Some(h), Some(mi), Some(sec)) = (num(11, 13), num(14, 16), num(17, 19))
        && let Err(why) = clock(h, mi, sec)
    {
        return why;
    }
    let offset = text.len().checked_sub(6).and_then(|i| text.get(i..));
    match offset {
        Some(o) if o.starts_with(['+', '-']) => {
            format!("the offset {o} is outside -23:59 to +23:59")
        }
        _ => "a part is out of range".into(),
    }
}

/// The date, or why it does not exist.
fn civil_date(year: i32, month: u32, day: u32) -> Result<NaiveDate, String> {
    if let Some(d) = NaiveDate::from_ymd_opt(year, month, day) {
        return Ok(d);
    }
    let named = u8::try_from(month)
        .ok()
        .and_then(|m| Month::try_from(m).ok());
    match named.and_then(|m| Some((m.name(), m.num_days(year)?))) {
        None => Err(format!("month {month:02} is not 01 to 12")),
        Some((name, days)) => Err(format!("{name} {year:04} has {days} days")),
    }
}

/// Whether a time of day exists (second 60 is a leap second, as RFC 3339
/// allows).
fn clock(hour: u32, minute: u32, second: u32) -> Result<(), String> {
    if hour > 23 {
        Err(format!("hour {hour:02} is not 00 to 23"))
    } else if minute > 59 {
        Err(format!("minute {minute:02} is not 00 to 59"))
    } else if second > 60 {
        Err(format!("second {second:02} is not 00 to 60"))
    } else {
        Ok(())
    }
}

/// `YYYYMMDDTHHMMSS.mmmZ`: the promotion stamp of a stored run's file name.
/// Lexicographic order is time order (years 0–9999).
pub fn format_stamp(t: Timestamp) -> String {
    t.format("%Y%m%dT%H%M%S%.3fZ").to_string()
}

/// Parse a stamp made by [`format_stamp`]; the `.mmm` part is optional and
/// digits past the third are ignored.
pub fn parse_stamp(s: &str) -> Result<Timestamp, TimeError> {
    let form = || TimeError::Form {
        expected: STAMP_FORM,
        found: s.to_owned(),
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit());
    let (date, time) = s
        .strip_suffix('Z')
        .and_then(|r| r.split_once('T'))
        .ok_or_else(form)?;
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    if date.len() != 8 || hms.len() != 6 || !digits(date) || !digits(hms) || !digits(frac) {
        return Err(form());
    }
    // All ASCII digits at fixed positions: the slices and parses cannot fail.
    let n = |p: &str, a: usize, b: usize| p[a..b].parse::<u32>().unwrap_or(0);
    let milli = format!("{:0<3}", &frac[..frac.len().min(3)]);
    let milli = milli.parse::<u32>().unwrap_or(0);
    let (h, mi, sec) = (n(hms, 0, 2), n(hms, 2, 4), n(hms, 4, 6));
    let impossible = |why: String| TimeError::Impossible {
        what: "time",
        found: s.to_owned(),
        why,
    };
    let day = civil_date(n(date, 0, 4) as i32, n(date, 4, 6), n(date, 6, 8)).map_err(impossible)?;
    clock(h, mi, sec).map_err(impossible)?;
    // Chrono writes a leap second as second 59 with 1000 ms or more.
    let (sec, milli) = if sec == 60 {
        (59, milli + 1000)
    } else {
        (sec, milli)
    };
    day.and_hms_milli_opt(h, mi, sec, milli)
        .map(|t| t.and_utc())
        .ok_or_else(|| impossible("a part is out of range".into()))
}

/// A calendar day (proleptic Gregorian), written `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(NaiveDate);

impl Date {
    /// A valid date, or `None`.
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        NaiveDate::from_ymd_opt(year, month.into(), day.into()).map(Date)
    }

    /// Today in UTC from the system clock. Only the command layer calls this;
    /// the gate takes the date as an argument.
    pub fn today_utc() -> Date {
        Date::of(SystemTime::now())
    }

    /// The UTC date of a system time.
    pub fn of(t: SystemTime) -> Date {
        Date::from(timestamp(t))
    }
}

impl From<Timestamp> for Date {
    /// The UTC day an instant falls on.
    fn from(t: Timestamp) -> Date {
        Date(t.date_naive())
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        write!(f, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
    }
}

impl std::str::FromStr for Date {
    type Err = TimeError;

    /// Exactly `YYYY-MM-DD` (chrono's `%Y-%m-%d` would also take `2026-2-8`).
    fn from_str(s: &str) -> Result<Date, TimeError> {
        let b = s.as_bytes();
        let shaped = b.len() == 10
            && b.iter().enumerate().all(|(i, &c)| {
                if i == 4 || i == 7 {
                    c == b'-'
                } else {
                    c.is_ascii_digit()
                }
            });
        if !shaped {
            return Err(TimeError::Form {
                expected: DATE_FORM,
                found: s.to_owned(),
            });
        }
        let n = |a: usize, b: usize| s[a..b].parse::<u32>().unwrap_or(0);
        civil_date(n(0, 4) as i32, n(5, 7), n(8, 10))
            .map(Date)
            .map_err(|why| TimeError::Impossible {
                what: "date",
                found: s.to_owned(),
                why,
            })
    }
}

impl Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl schemars::JsonSchema for Date {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Date".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A calendar day, `YYYY-MM-DD`.",
            "type": "string",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;

    fn at_ms(ms: i64) -> Timestamp {
        DateTime::from_timestamp_millis(ms).expect("in range")
    }

    fn impossible(e: TimeError) -> String {
        assert!(e.is_impossible(), "{e:?}");
        e.to_string()
    }

    #[test]
    fn stamp_round_trips_and_sorts_like_time() {
        let t = parse_rfc3339("2026-11-27T23:23:48.123Z").expect("valid");
        assert_eq!(format_stamp(t), "20261127T232348.123Z");
        assert_eq!(parse_stamp("20261127T232348.123Z"), Ok(t));
        assert_eq!(
            parse_stamp("20261127T232348Z"),
            Ok(t - TimeDelta::milliseconds(123))
        );
        assert_eq!(parse_stamp("20261127T232348.1239Z"), Ok(t));
        assert_eq!(format_rfc3339(t), "2026-11-27T23:23:48Z");
        let later = |ms| t + TimeDelta::milliseconds(ms);
        assert!(format_stamp(t) < format_stamp(later(1)));
        assert!(format_stamp(later(999)) < format_stamp(later(1000)));
    }

    #[test]
    fn output_is_byte_identical_to_the_hand_written_formatter() {
        // Values the old Hinnant-based formatter produced for these instants.
        assert_eq!(
            format_stamp(at_ms(1_700_000_000_123)),
            "20231114T221320.123Z"
        );
        assert_eq!(
            format_rfc3339(at_ms(1_700_000_000_999)),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(format_stamp(at_ms(0)), "19700101T000000.000Z");
        assert_eq!(format_stamp(at_ms(-1)), "19691231T235959.999Z");
        assert_eq!(format_rfc3339(at_ms(-1)), "1969-12-31T23:59:59Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_millis(1_795_780_800_500)),
            "2026-11-27T12:00:00Z"
        );
    }

    #[test]
    fn system_times_become_millisecond_stamps() {
        let t = UNIX_EPOCH + Duration::from_nanos(1_795_780_800_123_987_654);
        assert_eq!(format_stamp(timestamp_ms(t)), "20261127T120000.123Z");
        assert_eq!(timestamp_ms(t).timestamp_subsec_nanos(), 123_000_000);
        let before = UNIX_EPOCH - Duration::from_millis(1);
        assert_eq!(timestamp(before), at_ms(-1));
    }

    #[test]
    fn rfc3339_accepts_offsets_and_separators() {
        let z = parse_rfc3339("2026-01-01T00:00:00Z").expect("valid");
        assert_eq!(parse_rfc3339("2026-01-01T01:00:00+01:00"), Ok(z));
        assert_eq!(parse_rfc3339("2025-12-31 23:30:00-00:30"), Ok(z));
        assert_eq!(parse_rfc3339(" 2026-01-01t00:00:00z "), Ok(z));
        assert_eq!(
            parse_rfc3339("2026-01-01T00:00:00.000000001Z").map(|t| t.trunc_subsecs(3)),
            Ok(z)
        );
        assert_eq!(parse_rfc3339("2026-01-01T23:59:00+23:59"), Ok(z));
        // A leap second is the instant after :59.999.
        let leap = parse_rfc3339("2016-12-31T23:59:60Z").expect("leap second");
        assert!(leap > parse_rfc3339("2016-12-31T23:59:59.999Z").expect("valid"));
    }

    #[test]
    fn rfc3339_text_out_of_form_is_a_form_error() {
        for bad in [
            "",
            "yesterday",
            "2026-01-01T00:00:00",
            "2026-01-01",
            "2026-1-01T00:00:00Z",
            "2026-01-01T00:00:00+0100",
        ] {
            assert_eq!(
                parse_rfc3339(bad),
                Err(TimeError::Form {
                    expected: RFC3339_FORM,
                    found: bad.trim().to_owned()
                }),
                "{bad}"
            );
        }
    }

    #[test]
    fn impossible_dates_times_and_offsets_say_why() {
        let why = |s: &str| impossible(parse_rfc3339(s).expect_err(s));
        assert_eq!(
            why("2026-02-31T00:00:00Z"),
            "`2026-02-31T00:00:00Z` is an impossible time: February 2026 has 28 days"
        );
        assert_eq!(
            why("2026-13-01T00:00:00Z"),
            "`2026-13-01T00:00:00Z` is an impossible time: month 13 is not 01 to 12"
        );
        assert_eq!(
            why("2026-11-27T24:00:00Z"),
            "`2026-11-27T24:00:00Z` is an impossible time: hour 24 is not 00 to 23"
        );
        assert_eq!(
            why("2026-11-27T10:61:00Z"),
            "`2026-11-27T10:61:00Z` is an impossible time: minute 61 is not 00 to 59"
        );
        assert_eq!(
            why("2026-01-01T00:00:00+25:00"),
            "`2026-01-01T00:00:00+25:00` is an impossible time: the offset +25:00 is outside -23:59 to +23:59"
        );
        assert_eq!(
            why("2026-01-01T00:00:00-24:00"),
            "`2026-01-01T00:00:00-24:00` is an impossible time: the offset -24:00 is outside -23:59 to +23:59"
        );
        assert!(why("2026-01-01T00:00:00+01:75").contains("the offset +01:75"));
    }

    #[test]
    fn leap_days_exist_only_in_leap_years() {
        for ok in ["2024-02-29", "2000-02-29", "2400-02-29"] {
            assert_eq!(ok.parse::<Date>().map(|d| d.to_string()), Ok(ok.to_owned()));
            let t = parse_rfc3339(&format!("{ok}T12:00:00Z")).expect(ok);
            assert_eq!(Date::from(t).to_string(), ok);
            let stamp = format!("{}T120000.000Z", ok.replace('-', ""));
            assert_eq!(parse_stamp(&stamp), Ok(t));
        }
        assert_eq!(
            impossible("2026-02-29".parse::<Date>().expect_err("not a leap year")),
            "`2026-02-29` is an impossible date: February 2026 has 28 days"
        );
        assert_eq!(
            impossible("1900-02-29".parse::<Date>().expect_err("century, not 400")),
            "`1900-02-29` is an impossible date: February 1900 has 28 days"
        );
        assert!(
            impossible(parse_stamp("21000229T000000.000Z").expect_err("2100"))
                .contains("February 2100 has 28 days")
        );
        let feb28 = parse_rfc3339("2024-02-28T23:59:59Z").expect("valid");
        assert_eq!(
            format_rfc3339(feb28 + TimeDelta::seconds(1)),
            "2024-02-29T00:00:00Z"
        );
    }

    #[test]
    fn impossible_stamps_are_not_read_as_nearby_days() {
        assert_eq!(
            impossible(parse_stamp("20260231T000000.000Z").expect_err("Feb 31")),
            "`20260231T000000.000Z` is an impossible time: February 2026 has 28 days"
        );
        assert!(
            impossible(parse_stamp("20261301T000000.000Z").expect_err("month 13"))
                .contains("month 13")
        );
        assert!(
            impossible(parse_stamp("20261127T240000.000Z").expect_err("hour 24"))
                .contains("hour 24")
        );
        assert!(
            impossible(parse_stamp("20261100T000000.000Z").expect_err("day 0"))
                .contains("November 2026 has 30 days")
        );
        for bad in [
            "2026112T232348Z",
            "notastamp",
            "20261127T232348",
            "20261127T232348.Z",
            "2026-1127T232348Z",
        ] {
            assert!(
                matches!(parse_stamp(bad), Err(TimeError::Form { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn dates_parse_compare_and_come_from_instants() {
        let d: Date = "2026-02-28".parse().expect("valid");
        assert!(d < "2026-03-01".parse().expect("valid"));
        assert_eq!(d.to_string(), "2026-02-28");
        assert_eq!(Date::new(2026, 2, 28), Some(d));
        assert_eq!(Date::new(2026, 2, 29), None);
        assert_eq!(
            "2026-2-28".parse::<Date>(),
            Err(TimeError::Form {
                expected: DATE_FORM,
                found: "2026-2-28".into()
            })
        );
        assert!(matches!(
            "2026-02-28T00:00:00+25:00".parse::<Date>(),
            Err(TimeError::Form { .. })
        ));
        assert_eq!(Date::of(UNIX_EPOCH).to_string(), "1970-01-01");
        assert_eq!(
            Date::of(UNIX_EPOCH + Duration::from_secs(20_784 * 86_400)).to_string(),
            "2026-11-27"
        );
        assert_eq!(
            Date::of(UNIX_EPOCH - Duration::from_secs(1)).to_string(),
            "1969-12-31"
        );
        assert_eq!(
            serde_json::to_string(&d).expect("serializes"),
            "\"2026-02-28\""
        );
    }

    proptest! {
        #[test]
        fn any_stamp_round_trips_and_orders_like_time(
            a in -62_135_596_800_000i64..253_402_300_799_999,
            b in -62_135_596_800_000i64..253_402_300_799_999,
        ) {
            // Years 0001–9999, where the stamp has four year digits.
            let (ta, tb) = (at_ms(a), at_ms(b));
            prop_assert_eq!(parse_stamp(&format_stamp(ta)), Ok(ta));
            prop_assert_eq!(format_stamp(ta).cmp(&format_stamp(tb)), ta.cmp(&tb));
            let secs = ta.trunc_subsecs(0);
            prop_assert_eq!(parse_rfc3339(&format_rfc3339(ta)), Ok(secs));
        }
    }
}
