//! UTC calendar arithmetic and RFC 3339 timestamps (bundle times,
//! promotion stamps, baseline ages) without a date-time dependency. The day-count conversions are Howard Hinnant's
//! `days_from_civil` / `civil_from_days` ("chrono-Compatible Low-Level Date
//! Algorithms", <https://howardhinnant.github.io/date_algorithms.html>),
//! valid for the proleptic Gregorian calendar.

use std::time::{SystemTime, UNIX_EPOCH};

const MS_PER_DAY: i64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400; // [0, 399]
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`] (Hinnant).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Milliseconds since the Unix epoch (negative before it).
pub fn unix_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

struct Parts {
    y: i64,
    mo: u32,
    d: u32,
    h: i64,
    mi: i64,
    s: i64,
    ms: i64,
}

fn split(ms: i64) -> Parts {
    let days = ms.div_euclid(MS_PER_DAY);
    let rem = ms.rem_euclid(MS_PER_DAY);
    let (y, mo, d) = civil_from_days(days);
    Parts {
        y,
        mo,
        d,
        h: rem / 3_600_000,
        mi: rem / 60_000 % 60,
        s: rem / 1000 % 60,
        ms: rem % 1000,
    }
}

/// `YYYYMMDDTHHMMSS.mmmZ`: the promotion stamp of a stored run's file name.
pub fn format_stamp(ms: i64) -> String {
    let p = split(ms);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}.{:03}Z",
        p.y, p.mo, p.d, p.h, p.mi, p.s, p.ms
    )
}

/// RFC 3339 UTC with seconds, e.g. `2026-11-27T23:23:48Z`.
pub fn format_rfc3339(ms: i64) -> String {
    let p = split(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        p.y, p.mo, p.d, p.h, p.mi, p.s
    )
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn to_ms(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64, frac_ms: i64) -> Option<i64> {
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(y, mo as u32, d as u32);
    Some(days * MS_PER_DAY + h * 3_600_000 + mi * 60_000 + s * 1000 + frac_ms)
}

/// Milliseconds of a fractional-seconds string (digits after the dot).
fn frac_to_ms(f: &str) -> Option<i64> {
    if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut padded: String = f.chars().take(3).collect();
    while padded.len() < 3 {
        padded.push('0');
    }
    padded.parse().ok()
}

/// Parse a stamp made by [`format_stamp`] (the `.mmm` part is optional).
pub fn parse_stamp(s: &str) -> Option<i64> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let (hms, frac) = match time.split_once('.') {
        Some((a, b)) => (a, frac_to_ms(b)?),
        None => (time, 0),
    };
    if date.len() != 8 || hms.len() != 6 {
        return None;
    }
    to_ms(
        num(date.get(0..4)?)?,
        num(date.get(4..6)?)?,
        num(date.get(6..8)?)?,
        num(hms.get(0..2)?)?,
        num(hms.get(2..4)?)?,
        num(hms.get(4..6)?)?,
        frac,
    )
}

/// Parse an RFC 3339 date-time (`2026-11-27T23:23:48.5Z`,
/// `2026-11-27T23:23:48+01:00`; `T`, `t` or a space between date and time)
/// into Unix milliseconds, UTC.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.trim();
    let date = s.get(0..10)?;
    let sep = s.get(10..11)?;
    if !matches!(sep, "T" | "t" | " ") {
        return None;
    }
    let rest = s.get(11..)?;
    let (clock, offset_ms) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else {
        let cut = rest.len().checked_sub(6)?;
        let (c, off) = (rest.get(..cut)?, rest.get(cut..)?);
        let sign = match off.get(0..1)? {
            "+" => 1,
            "-" => -1,
            _ => return None,
        };
        if off.get(3..4)? != ":" {
            return None;
        }
        let oh = num(off.get(1..3)?)?;
        let om = num(off.get(4..6)?)?;
        (c, sign * (oh * 3_600_000 + om * 60_000))
    };
    let (hms, frac) = match clock.split_once('.') {
        Some((a, b)) => (a, frac_to_ms(b)?),
        None => (clock, 0),
    };
    let mut dp = date.split('-');
    let (y, mo, d) = (num(dp.next()?)?, num(dp.next()?)?, num(dp.next()?)?);
    let mut tp = hms.split(':');
    let (h, mi, sec) = (num(tp.next()?)?, num(tp.next()?)?, num(tp.next()?)?);
    if dp.next().is_some() || tp.next().is_some() {
        return None;
    }
    Some(to_ms(y, mo, d, h, mi, sec, frac)? - offset_ms)
}

/// `2026-11-27T23:17:51.123Z` for a system time (UTC, millisecond precision).
pub fn rfc3339(t: SystemTime) -> String {
    format_rfc3339(unix_ms(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_counts_match_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        for z in [-800_000, -1, 0, 59, 60, 10_956, 20_000, 2_000_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn stamp_round_trips_and_sorts_like_time() {
        // 2026-11-27T23:23:48.123Z
        let t = parse_rfc3339("2026-11-27T23:23:48.123Z").expect("valid");
        assert_eq!(format_stamp(t), "20261127T232348.123Z");
        assert_eq!(parse_stamp("20261127T232348.123Z"), Some(t));
        assert_eq!(parse_stamp("20261127T232348Z"), Some(t - 123));
        assert_eq!(format_rfc3339(t), "2026-11-27T23:23:48Z");
        assert!(format_stamp(t) < format_stamp(t + 1));
        assert!(format_stamp(t + 999) < format_stamp(t + 1000));
    }

    #[test]
    fn rfc3339_offsets_and_rejects() {
        let z = parse_rfc3339("2026-01-01T00:00:00Z").expect("valid");
        assert_eq!(parse_rfc3339("2026-01-01T01:00:00+01:00"), Some(z));
        assert_eq!(parse_rfc3339("2025-12-31 23:30:00-00:30"), Some(z));
        assert_eq!(parse_rfc3339("2026-01-01T00:00:00.000000001Z"), Some(z));
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-01-01T00:00:00",
            "2026-01-01",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        assert_eq!(parse_stamp("2026112T232348Z"), None);
        assert_eq!(parse_stamp("notastamp"), None);
    }
}
