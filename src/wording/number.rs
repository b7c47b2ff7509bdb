//! Numbers in words: plain numbers, percentages, signed changes, percentage
//! points, p-values, loads, latencies, throughputs and durations, the same
//! way in every report.
//!
//! Every function is total: NaN reads `n/a` (with no unit, since there is
//! no value to have one), ±∞ read `∞` / `-∞`, and a value that rounds to
//! zero never shows a sign (`0`, not `-0`; `+0 %`, not `−0 %`). Negative
//! plain numbers keep Rust's ASCII `-`; signed changes use the minus sign
//! U+2212 (`−3 %`), which is what the gate's sentences have always used.

use std::time::Duration;

/// What a value that is not a finite number reads as; `None` for finite ones.
fn non_finite(v: f64) -> Option<String> {
    if v.is_nan() {
        Some("n/a".into())
    } else if v == f64::INFINITY {
        Some("∞".into())
    } else if v == f64::NEG_INFINITY {
        Some("-∞".into())
    } else {
        None
    }
}

/// `s` without a sign when it reads as zero (`-0`, `-0.00` → `0`, `0.00`).
fn unsigned_zero(s: String) -> String {
    match s.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_owned(),
        _ => s,
    }
}

/// Fixed `decimals` with trailing zeros removed: `1.50` → `1.5`, `2.00` → `2`.
pub fn decimals(v: f64, decimals: usize) -> String {
    if let Some(s) = non_finite(v) {
        return s;
    }
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    };
    unsigned_zero(s)
}

/// Fixed `decimals`, trailing zeros kept (`1.50`): for aligned columns and
/// for sentences that have always shown a fixed precision.
pub fn fixed(v: f64, decimals: usize) -> String {
    match non_finite(v) {
        Some(s) => s,
        None => unsigned_zero(format!("{v:.decimals$}")),
    }
}

/// The shortest text that reads back as `v` (Rust's `Display`): `0.05`, `60`.
pub fn exact(v: f64) -> String {
    match non_finite(v) {
        Some(s) => s,
        None => unsigned_zero(v.to_string()),
    }
}

/// `12345.6` → `12,345.6`: thousands separators in the integer part of an
/// already formatted number; anything that is not a plain number is
/// returned as it is.
pub fn group_thousands(s: &str) -> String {
    let (sign, rest) = match s.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", s),
    };
    let (int, frac) = match rest.find('.') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if int.len() <= 3 || !int.bytes().all(|b| b.is_ascii_digit()) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + int.len() / 3);
    out.push_str(sign);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out.push_str(frac);
    out
}

/// [`decimals`] with thousands separators: `1,024`, `12.5`.
pub fn grouped(v: f64, decimals: usize) -> String {
    group_thousands(&self::decimals(v, decimals))
}

/// Three significant digits, grouped: `0.0123`, `4.56`, `12,345`.
pub fn significant(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return decimals(v, 0);
    }
    let mag = v.abs().log10().floor() as i32;
    let d = (2 - mag).clamp(0, 8) as usize;
    grouped(v, d)
}

/// A number inside a sentence or a file name: whole numbers plain (`8`),
/// others with 1, 2 or 4 decimals by size (`1234.6`, `5.6`, `0.0123`); no
/// thousands separators.
pub fn number(v: f64) -> String {
    if let Some(s) = non_finite(v) {
        return s;
    }
    if (v - v.round()).abs() < 1e-9 && v.abs() < 1e15 {
        return (v.round() as i64).to_string();
    }
    let d = if v.abs() >= 100.0 {
        1
    } else if v.abs() >= 1.0 {
        2
    } else {
        4
    };
    decimals(v, d)
}

/// `text unit`, or `text` alone when there is no unit.
fn with_unit(text: String, unit: &str) -> String {
    if unit.is_empty() {
        text
    } else {
        format!("{text} {unit}")
    }
}

/// A signed magnitude: `+` or `−` (U+2212), `magnitude(|v|)`, the unit.
/// A magnitude that reads `0` is `+0`; NaN is `n/a`.
pub fn signed_with(v: f64, magnitude: impl Fn(f64) -> String, unit: &str) -> String {
    if v.is_nan() {
        return "n/a".into();
    }
    let m = magnitude(v.abs());
    let sign = if v < 0.0 && m != "0" { "−" } else { "+" };
    with_unit(format!("{sign}{m}"), unit)
}

/// A signed value with up to `decimals` decimals: `+1.5 ms`, `−3 %`.
pub fn signed(v: f64, decimals: usize, unit: &str) -> String {
    signed_with(v, |m| self::decimals(m, decimals), unit)
}

/// A server quantile interpolated in a histogram bucket, shown with the
/// bucket's resolution instead of a false precision: `≤ 50 ms bucket`
/// (bucket 40–50 ms), `> 300 ms bucket` (the `+Inf` bucket). The
/// interpolated value inside the bucket is not shown: Prometheus'
/// `histogram_quantile` assumes values spread evenly within a bucket, which
/// nothing guarantees, so only the bucket is known.
pub fn bucketed_ms(lower: f64, upper: Option<f64>) -> String {
    match upper {
        Some(u) => format!("≤ {} ms bucket", number(u)),
        None => format!("> {} ms bucket", number(lower)),
    }
}

/// A fraction as a percentage with up to two decimals: `0.5 %`, `12.25 %`.
pub fn percent(fraction: f64) -> String {
    if fraction.is_nan() {
        return "n/a".into();
    }
    format!("{} %", decimals(fraction * 100.0, 2))
}

/// A fraction as a percentage with the precision a table wants: `0 %`,
/// two decimals under 1 % (`0.25 %`), else one (`12.5 %`).
pub fn share(fraction: f64) -> String {
    if fraction.is_nan() {
        return "n/a".into();
    }
    let p = fraction * 100.0;
    if p == 0.0 {
        "0 %".into()
    } else if p.abs() < 1.0 {
        format!("{} %", decimals(p, 2))
    } else {
        format!("{} %", decimals(p, 1))
    }
}

/// The relative change a ratio stands for: `1.312` → `+31.2 %`, `0.9` → `−10 %`.
pub fn change(ratio: f64) -> String {
    signed((ratio - 1.0) * 100.0, 1, "%")
}

/// A difference of two rates (fractions) in percentage points: `+0.25 pp`.
pub fn points(difference: f64) -> String {
    signed(difference * 100.0, 2, "pp")
}

/// The smallest p-value `decimals` decimals can show, and `p` at that precision.
fn p_text(p: f64, decimals: usize) -> (bool, String) {
    let floor = 1.0 / 10f64.powi(decimals as i32);
    if p < floor {
        (true, format!("< {}", fixed(floor, decimals)))
    } else {
        (false, fixed(p, decimals))
    }
}

/// A p-value with four decimals, or `< 0.0001` below that.
pub fn p_value(p: f64) -> String {
    p_text(p, 4).1
}

/// The relation of a p-value for a `p …` phrase: `= 0.012` or `< 0.001`
/// with `decimals` decimals.
pub fn p_relation(p: f64, decimals: usize) -> String {
    match p_text(p, decimals) {
        (true, s) => s,
        (false, s) => format!("= {s}"),
    }
}

/// A value in a gate metric's unit: `%` values are fractions (`0.5 %`),
/// no unit is a plain number with two decimals (currency), any other unit
/// gets one decimal (`123.5 ms`, `35 tok/s`).
pub fn value(v: f64, unit: &str) -> String {
    match unit {
        "%" => percent(v),
        _ if v.is_nan() => "n/a".into(),
        "" => decimals(v, 2),
        unit => with_unit(decimals(v, 1), unit),
    }
}

/// A load (users or requests per second): up to two decimals, grouped
/// (`5.6`, `12.5`, `1,024`).
pub fn load(v: f64) -> String {
    grouped(v, 2)
}

/// Milliseconds with precision by size: `0.42`, `4.2`, `41`, `1,234`.
pub fn millis(v: f64) -> String {
    let a = v.abs();
    let d = if a >= 10.0 {
        0
    } else if a >= 1.0 {
        1
    } else {
        2
    };
    grouped(v, d)
}

/// A throughput: whole numbers from 100 up (`1,800`), else one decimal.
pub fn throughput(v: f64) -> String {
    if v.abs() >= 100.0 {
        grouped(v, 0)
    } else {
        decimals(v, 1)
    }
}

/// A small rate such as requests per second: two decimals below 10, else
/// as [`throughput`].
pub fn request_rate(v: f64) -> String {
    if v.abs() >= 10.0 {
        throughput(v)
    } else {
        decimals(v, 2)
    }
}

/// A duration as a user would type it: `500ms`, `1s`, `90s`, `2m`, `2h`.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 != 0 {
        return format!("{ms}ms");
    }
    let s = d.as_secs();
    if s >= 3600 && s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else if s >= 60 && s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// Seconds as a clock reading `h:mm:ss` (negative and NaN read `0:00:00`).
pub fn clock(seconds: f64) -> String {
    let t = seconds.max(0.0).round() as u64;
    format!("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_numbers_trim_group_and_keep_significant_digits() {
        assert_eq!(decimals(1.50, 2), "1.5");
        assert_eq!(decimals(2.0, 2), "2");
        assert_eq!(decimals(123.456, 1), "123.5");
        assert_eq!(fixed(1.5, 2), "1.50");
        assert_eq!(exact(0.05), "0.05");
        assert_eq!(exact(60.0), "60");
        assert_eq!(grouped(12345.6, 1), "12,345.6");
        assert_eq!(grouped(-1234.0, 0), "-1,234");
        assert_eq!(group_thousands("1234567.25"), "1,234,567.25");
        assert_eq!(group_thousands("n/a"), "n/a");
        assert_eq!(significant(0.012345), "0.0123");
        assert_eq!(significant(12345.0), "12,345");
        assert_eq!(number(8.0), "8");
        assert_eq!(number(5.6), "5.6");
        assert_eq!(number(1234.56), "1234.6");
        assert_eq!(number(0.012345), "0.0123");
    }

    #[test]
    fn units_read_as_the_reports_have_always_shown_them() {
        assert_eq!(value(123.456, "ms"), "123.5 ms");
        assert_eq!(value(0.005, "%"), "0.5 %");
        assert_eq!(value(2.5, ""), "2.5");
        assert_eq!(percent(0.0122), "1.22 %");
        assert_eq!(share(0.0025), "0.25 %");
        assert_eq!(share(0.7), "70 %");
        assert_eq!(share(0.0), "0 %");
        assert_eq!(change(1.3126), "+31.3 %");
        assert_eq!(change(0.9), "−10 %");
        assert_eq!(change(1.0), "+0 %");
        assert_eq!(points(0.0025), "+0.25 pp");
        assert_eq!(points(-0.0041), "−0.41 pp");
        assert_eq!(p_value(0.00001), "< 0.0001");
        assert_eq!(p_value(0.0012), "0.0012");
        assert_eq!(p_relation(0.0005, 3), "< 0.001");
        assert_eq!(p_relation(0.41, 3), "= 0.410");
        assert_eq!(load(5.6000000001), "5.6");
        assert_eq!(millis(41.3), "41");
        assert_eq!(millis(4.26), "4.3");
        assert_eq!(millis(1234.4), "1,234");
        assert_eq!(millis(0.424), "0.42");
        assert_eq!(throughput(1800.2), "1,800");
        assert_eq!(throughput(35.27), "35.3");
        assert_eq!(request_rate(2.346), "2.35");
        assert_eq!(request_rate(12.34), "12.3");
    }

    #[test]
    fn durations_print_as_typed_and_clocks_as_h_mm_ss() {
        assert_eq!(duration(Duration::from_millis(500)), "500ms");
        assert_eq!(duration(Duration::from_secs(1)), "1s");
        assert_eq!(duration(Duration::from_secs(90)), "90s");
        assert_eq!(duration(Duration::from_secs(60)), "1m");
        assert_eq!(duration(Duration::from_secs(7200)), "2h");
        assert_eq!(clock(3725.4), "1:02:05");
        assert_eq!(clock(-3.0), "0:00:00");
        assert_eq!(clock(f64::NAN), "0:00:00");
    }

    #[test]
    fn nan_infinity_and_negative_zero_never_print_badly() {
        type Formatter = (&'static str, fn(f64) -> String);
        let all: [Formatter; 14] = [
            ("decimals", |v| decimals(v, 2)),
            ("fixed", |v| fixed(v, 2)),
            ("exact", exact),
            ("significant", significant),
            ("number", number),
            ("percent", percent),
            ("share", share),
            ("change", |v| change(v + 1.0)),
            ("points", points),
            ("p_value", p_value),
            ("value ms", |v| value(v, "ms")),
            ("value %", |v| value(v, "%")),
            ("millis", millis),
            ("throughput", throughput),
        ];
        for (name, f) in all {
            for v in [f64::NAN, -f64::NAN] {
                assert_eq!(f(v), "n/a", "{name}({v})");
            }
            // `exact` is exact: only a true zero loses its sign there.
            let tiny: &[f64] = if name == "exact" {
                &[-0.0]
            } else {
                &[-0.0, -1e-12]
            };
            for &v in tiny {
                let s = f(v);
                assert!(
                    !s.starts_with('-') && !s.starts_with('−'),
                    "{name}({v}) = {s}"
                );
            }
            for v in [f64::INFINITY, f64::NEG_INFINITY] {
                let s = f(v);
                assert!(
                    s.contains('∞') || s.starts_with('<') || name == "p_value",
                    "{name}({v}) = {s}"
                );
                assert!(
                    !s.contains("inf") && !s.contains("NaN"),
                    "{name}({v}) = {s}"
                );
            }
        }
        assert_eq!(fixed(-0.001, 2), "0.00");
        assert_eq!(exact(-0.0), "0");
        assert_eq!(signed(-0.0, 1, "%"), "+0 %");
        assert_eq!(signed(f64::NEG_INFINITY, 1, "%"), "−∞ %");
        assert_eq!(number(-0.00002), "0");
        assert_eq!(value(f64::INFINITY, "ms"), "∞ ms");
    }

    #[test]
    fn bucketed_server_quantiles_show_the_bucket_not_a_false_precision() {
        assert_eq!(bucketed_ms(40.0, Some(50.0)), "≤ 50 ms bucket");
        assert_eq!(bucketed_ms(300.0, None), "> 300 ms bucket");
        assert_eq!(bucketed_ms(0.0, Some(2.5)), "≤ 2.5 ms bucket");
    }
}
