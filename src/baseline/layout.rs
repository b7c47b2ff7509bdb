//! Human-readable paths of stored runs, derived from the bundle key and
//! workload (the layout is documented in the module doc of `baseline`).

use std::path::PathBuf;

use crate::bundle::Bundle;
use crate::timefmt::{TimeError, Timestamp, format_stamp, parse_stamp};

/// Longest slug kept verbatim; longer values are cut and suffixed with a hash.
pub const SLUG_MAX: usize = 80;

pub(crate) use crate::bundle::hex_sha256;

/// One path part from a free-form value: `[A-Za-z0-9._-]` kept, anything else
/// `_`; a leading `.` becomes `_` (no hidden, `.` or `..` directories); empty
/// becomes `unknown`; longer than [`SLUG_MAX`] is cut and made unique with 8
/// hex digits of the value's sha256.
pub fn slugify(value: &str) -> String {
    let mut s: String = value
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        return "unknown".into();
    }
    if s.starts_with('.') {
        s.replace_range(0..1, "_");
    }
    if s.len() > SLUG_MAX {
        // All characters are ASCII here, so byte slicing is on char boundaries.
        s.truncate(SLUG_MAX - 9);
        s.push('-');
        s.push_str(&hex_sha256(value.as_bytes())[..8]);
    }
    s
}

/// The set directory of a bundle, relative to the baselines directory:
/// `<workload>/<hardware>/<tokenizer>/<model_version>@<serving_image>`.
pub fn set_dir_for(bundle: &Bundle) -> PathBuf {
    let k = &bundle.key;
    let mut p = PathBuf::from(slugify(&bundle.context.workload_name));
    p.push(slugify(&k.hardware_profile));
    p.push(slugify(&k.tokenizer));
    p.push(format!(
        "{}@{}",
        slugify(&k.model_version),
        slugify(&k.serving_image)
    ));
    p
}

/// `<STAMP>-<DIGEST12>.json`.
pub(crate) fn run_file_name(promoted: Timestamp, digest: &str) -> String {
    let short = digest.get(..12).unwrap_or(digest);
    format!("{}-{short}.json", format_stamp(promoted))
}

/// Promotion time from a run's file name: `None` for a name `promote` did
/// not make (a hand-placed file, ordered by its start time instead); an
/// error for a stamp naming an impossible time (`20260231T…`), which must
/// not be read as a nearby day.
pub(crate) fn promoted_at_of(file_name: &str) -> Result<Option<Timestamp>, TimeError> {
    let Some((stamp, _digest)) = file_name
        .strip_suffix(".json")
        .and_then(|stem| stem.split_once('-'))
    else {
        return Ok(None);
    };
    match parse_stamp(stamp) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.is_impossible() => Err(e),
        Err(_) => Ok(None),
    }
}

/// The 12-digit digest part of a run's file name.
pub(crate) fn short_digest_of(file_name: &str) -> Option<&str> {
    let stem = file_name.strip_suffix(".json")?;
    stem.split_once('-').map(|(_, d)| d)
}

/// Files the loader considers runs: `*.json`, not dot-files (temporary files
/// of [`crate::fsutil::write_atomic`] start with a dot).
pub(crate) fn is_run_file(file_name: &str) -> bool {
    file_name.ends_with(".json")
        && !file_name.starts_with('.')
        && file_name != super::calibration::CALIBRATION_FILE
}

/// A set's calibration file (not a run).
pub(crate) fn is_calibration_file(file_name: &str) -> bool {
    file_name == super::calibration::CALIBRATION_FILE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugify_keeps_safe_chars_and_replaces_the_rest() {
        assert_eq!(
            slugify("vllm/vllm-openai:v0.6.3"),
            "vllm_vllm-openai_v0.6.3"
        );
        assert_eq!(slugify("1xH100-80GB"), "1xH100-80GB");
        assert_eq!(slugify(""), "unknown");
        assert_eq!(slugify("   "), "unknown");
        assert_eq!(slugify(".."), "_.");
        assert_eq!(slugify(".hidden"), "_hidden");
        assert_eq!(slugify("a@b c"), "a_b_c");
        assert_eq!(slugify("modèle"), "mod_le");
    }

    #[test]
    fn long_slugs_stay_distinct_and_bounded() {
        let a = "x".repeat(200);
        let b = format!("{}y", "x".repeat(199));
        let (sa, sb) = (slugify(&a), slugify(&b));
        assert_eq!(sa.len(), SLUG_MAX);
        assert_eq!(sb.len(), SLUG_MAX);
        assert_ne!(sa, sb);
    }

    #[test]
    fn run_file_names_round_trip() {
        let at = chrono::DateTime::from_timestamp_millis(1_700_000_000_123).expect("in range");
        let name = run_file_name(at, &"ab".repeat(32));
        assert_eq!(name, "20231114T221320.123Z-abababababab.json");
        assert_eq!(promoted_at_of(&name), Ok(Some(at)));
        assert_eq!(short_digest_of(&name), Some("abababababab"));
        assert_eq!(promoted_at_of("hand-made.json"), Ok(None));
        assert_eq!(promoted_at_of("2026-11-27.json"), Ok(None));
        assert_eq!(promoted_at_of("README"), Ok(None));
        assert!(is_run_file(&name));
        assert!(!is_run_file(".x.json.tmp-12"));
        assert!(!is_run_file("README.md"));
    }

    #[test]
    fn a_stamp_naming_an_impossible_time_is_an_error() {
        let e = promoted_at_of("20260231T000000.000Z-abababababab.json").expect_err("Feb 31");
        assert_eq!(
            e.to_string(),
            "`20260231T000000.000Z` is an impossible time: February 2026 has 28 days"
        );
        assert!(promoted_at_of("20261127T250000.000Z-ab.json").is_err());
        assert_eq!(
            promoted_at_of("20240229T000000.000Z-ab.json").map(|t| t.is_some()),
            Ok(true),
            "a leap day is a real day"
        );
    }
}
