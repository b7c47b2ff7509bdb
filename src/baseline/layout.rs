//! Human-readable paths of stored runs, derived from the bundle key and
//! workload (the layout is documented in the module doc of `baseline`).

use std::path::PathBuf;

use crate::bundle::Bundle;
use crate::timefmt::{TimeError, Timestamp, format_stamp, parse_stamp};

/// Longest path part; longer values are cut and suffixed with a hash.
pub const SLUG_MAX: usize = 80;

/// Hex digits of the value's sha256 appended to a part that is not the
/// value verbatim.
const HASH_DIGITS: usize = 12;

/// Separates a slug from its hash. It is outside the verbatim alphabet
/// `[A-Za-z0-9._-]`, so a hashed part can never equal a verbatim one.
const HASH_SEP: char = '~';

pub(crate) use crate::bundle::hex_sha256;

/// The earlier slug (characters outside `[A-Za-z0-9._-]` become `_`): not
/// injective (`gpu/A` and `gpu_A` are one name), kept only to find stores
/// written before [`slugify`] became injective.
fn lossy_slug(value: &str) -> String {
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
    s
}

/// One path part from a free-form value, injective on the exact value: a
/// value made only of `[A-Za-z0-9._-]`, not starting with `.` and at most
/// [`SLUG_MAX`] long is kept verbatim; any other value becomes its lossy
/// slug (others `_`, leading `.` `_`, empty `unknown`, cut to fit) plus `~`
/// and 12 hex digits of the exact value's sha256. Two keys that differ only
/// in a replaced character (`gpu/A`, `gpu:A`, `gpu_A`) get distinct
/// directories, so one set's pruning never removes another's runs.
pub fn slugify(value: &str) -> String {
    let slug = lossy_slug(value);
    if slug == value && slug.len() <= SLUG_MAX {
        return slug;
    }
    let mut s = slug;
    // All characters are ASCII here, so byte slicing is on char boundaries.
    s.truncate(SLUG_MAX - HASH_DIGITS - 1);
    s.push(HASH_SEP);
    s.push_str(&hex_sha256(value.as_bytes())[..HASH_DIGITS]);
    s
}

/// The pre-injective slug as older tokengate wrote it (long values cut to
/// 71 characters plus `-` and 8 hex digits).
fn legacy_slug(value: &str) -> String {
    let mut s = lossy_slug(value);
    if s.len() > SLUG_MAX {
        s.truncate(SLUG_MAX - 9);
        s.push('-');
        s.push_str(&hex_sha256(value.as_bytes())[..8]);
    }
    s
}

fn set_dir_with(bundle: &Bundle, part: fn(&str) -> String) -> PathBuf {
    let k = &bundle.key;
    let mut p = PathBuf::from(part(&bundle.context.workload_name));
    p.push(part(&k.hardware_profile));
    p.push(part(&k.tokenizer));
    p.push(format!(
        "{}@{}",
        part(&k.model_version),
        part(&k.serving_image)
    ));
    p
}

/// The set directory of a bundle, relative to the baselines directory:
/// `<workload>/<hardware>/<tokenizer>/<model_version>@<serving_image>`,
/// each part a [`slugify`] of the exact value.
pub fn set_dir_for(bundle: &Bundle) -> PathBuf {
    set_dir_with(bundle, slugify)
}

/// Where older tokengate stored this bundle's set (lossy slugs). Promotion
/// moves that set's runs of the same key into [`set_dir_for`].
pub(crate) fn legacy_set_dir_for(bundle: &Bundle) -> PathBuf {
    set_dir_with(bundle, legacy_slug)
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
        let hashed = |slug: &str, value: &str| {
            format!("{slug}~{}", &hex_sha256(value.as_bytes())[..HASH_DIGITS])
        };
        assert_eq!(
            slugify("vllm/vllm-openai:v0.6.3"),
            hashed("vllm_vllm-openai_v0.6.3", "vllm/vllm-openai:v0.6.3")
        );
        assert_eq!(slugify("1xH100-80GB"), "1xH100-80GB");
        assert_eq!(slugify(""), hashed("unknown", ""));
        assert_eq!(slugify("   "), hashed("unknown", "   "));
        assert_eq!(slugify("unknown"), "unknown");
        assert_eq!(slugify(".."), hashed("_.", ".."));
        assert_eq!(slugify(".hidden"), hashed("_hidden", ".hidden"));
        assert_eq!(slugify("a@b c"), hashed("a_b_c", "a@b c"));
        assert_eq!(slugify("modèle"), hashed("mod_le", "modèle"));
    }

    #[test]
    fn slugs_are_injective_on_the_exact_value() {
        let values = [
            "gpu/A",
            "gpu_A",
            "gpu:A",
            "a/b",
            "a:b",
            "a_b",
            "org/model",
            "org_model",
            "",
            " ",
            "unknown",
            ".x",
            "_x",
        ];
        let slugs: std::collections::BTreeSet<String> = values.iter().map(|v| slugify(v)).collect();
        assert_eq!(slugs.len(), values.len(), "{slugs:?}");
        for s in &slugs {
            assert!(
                !s.starts_with('.') && !s.contains('/') && s.len() <= SLUG_MAX,
                "{s}"
            );
        }
        // A verbatim value can never look like a hashed one.
        let forged = slugify("gpu/A").replace('~', "-");
        assert_ne!(slugify(&forged), slugify("gpu/A"));
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
