//! Human-readable paths of stored runs, derived from the bundle key and
//! workload (the layout is documented in the module doc of `baseline`).

use std::path::PathBuf;

use crate::bundle::Bundle;
use crate::timefmt::{format_stamp, parse_stamp};

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
pub(crate) fn run_file_name(promoted_ms: i64, digest: &str) -> String {
    let short = digest.get(..12).unwrap_or(digest);
    format!("{}-{short}.json", format_stamp(promoted_ms))
}

/// Promotion time from a run's file name, if `promote` named it.
pub(crate) fn promoted_ms_of(file_name: &str) -> Option<i64> {
    let stem = file_name.strip_suffix(".json")?;
    let (stamp, _digest) = stem.split_once('-')?;
    parse_stamp(stamp)
}

/// The 12-digit digest part of a run's file name.
pub(crate) fn short_digest_of(file_name: &str) -> Option<&str> {
    let stem = file_name.strip_suffix(".json")?;
    stem.split_once('-').map(|(_, d)| d)
}

/// Files the loader considers runs: `*.json`, not dot-files (temporary files
/// of [`crate::fsutil::write_atomic`] start with a dot).
pub(crate) fn is_run_file(file_name: &str) -> bool {
    file_name.ends_with(".json") && !file_name.starts_with('.')
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
        let name = run_file_name(1_700_000_000_123, &"ab".repeat(32));
        assert_eq!(name, "20231114T221320.123Z-abababababab.json");
        assert_eq!(promoted_ms_of(&name), Some(1_700_000_000_123));
        assert_eq!(short_digest_of(&name), Some("abababababab"));
        assert_eq!(promoted_ms_of("hand-made.json"), None);
        assert!(is_run_file(&name));
        assert!(!is_run_file(".x.json.tmp-12"));
        assert!(!is_run_file("README.md"));
    }
}
