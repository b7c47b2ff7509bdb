//! RFC 3339 UTC timestamps without a date-time dependency.

use std::time::{SystemTime, UNIX_EPOCH};

/// `2026-11-27T23:17:51.123Z` for a system time (UTC, millisecond precision).
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (y, m, day) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60,
        d.subsec_millis()
    )
}

/// `YYYY-MM-DD` of a system time (UTC).
pub fn date(t: SystemTime) -> (i64, u32, u32) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    civil_from_days((d.as_secs() as i64).div_euclid(86_400))
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian
/// calendar. Algorithm `civil_from_days` of Howard Hinnant, "chrono-Compatible
/// Low-Level Date Algorithms" (2013).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        // 2000-03-01 (after a leap day in a century leap year)
        let t = UNIX_EPOCH + Duration::from_secs(951_868_800);
        assert_eq!(rfc3339(t), "2000-03-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_820_271_123);
        assert_eq!(rfc3339(t), "2026-11-27T22:57:51.123Z");
    }
}
