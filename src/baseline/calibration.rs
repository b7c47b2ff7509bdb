//! Calibration files: the measured run-to-run noise of one setup (endpoint,
//! hardware, workload), written by `tokengate calibrate` from N A/A runs and
//! stored beside the baseline runs of the set it belongs to
//! (`<set dir>/calibration.json`). The gate takes the between-run variance of
//! a metric from here when the baseline alone cannot tell it (one baseline
//! run, one candidate run), so every rule can report the smallest change this
//! setup can detect.
//!
//! What is stored per metric is the between-run variance τ² of the *log* of
//! the run statistic (e.g. log p50 TTFT of a run) with its degrees of
//! freedom, as `stats::between_run_variance` estimates it from the runs; on
//! the log scale a variance is a relative spread, so it carries over from the
//! calibrated runs to a candidate whose level differs.

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::compare::tool_major;
use super::types::FieldDiff;
use crate::bundle::{Bundle, BundleKey};

/// File name of a set's calibration, beside its run files.
pub const CALIBRATION_FILE: &str = "calibration.json";
/// Bumped when a field changes meaning or is removed.
pub const CALIBRATION_SCHEMA_VERSION: u32 = 1;
/// A calibration file larger than this is refused unread (a real one holds a
/// few dozen metrics: a few KiB).
pub const CALIBRATION_MAX_BYTES: u64 = 1 << 20;

/// The measured noise of one setup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// See [`CALIBRATION_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Key of the calibrated runs (its hardware profile and tokenizer must
    /// match a bundle for the calibration to apply).
    pub key: BundleKey,
    /// Workload name and comparability digest of the calibrated runs.
    pub workload_name: String,
    pub workload_digest: String,
    /// `chat` or `completions`.
    pub api: String,
    /// Metric definitions the runs were measured with.
    pub metrics_version: u32,
    /// tokengate version that wrote the file.
    pub tool_version: String,
    /// RFC 3339 UTC time the calibration finished.
    pub created_at: String,
    /// The endpoint measured, credentials removed.
    pub endpoint: String,
    /// Number of A/A runs measured.
    pub runs: u32,
    /// Noise per gate metric name (`ttft.p50`, `output_tokens_per_s`, …).
    pub metrics: BTreeMap<String, MetricNoise>,
}

/// The run-to-run noise of one metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricNoise {
    /// Between-run variance τ² of the log of the run statistic.
    pub tau2: f64,
    /// Degrees of freedom of `tau2` (runs − 1 when estimated from the runs).
    pub df: f64,
    /// Mean within-run variance of the log statistic (block bootstrap), for
    /// comparison with `tau2`.
    pub within: f64,
    /// Between-run coefficient of variation of the statistic,
    /// √(exp(τ²) − 1) (log-normal run effects).
    pub cv: f64,
}

/// Why a calibration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    #[error("cannot read calibration file {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("calibration file {path} is {bytes} bytes, more than the {max} a calibration can be")]
    TooLarge { path: String, bytes: u64, max: u64 },
    #[error("calibration file {path}: {message}")]
    Invalid { path: String, message: String },
}

impl Calibration {
    /// Parse a calibration file's bytes; `path` names it in errors.
    pub fn parse(bytes: &[u8], path: &str) -> Result<Calibration, CalibrationError> {
        if bytes.len() as u64 > CALIBRATION_MAX_BYTES {
            return Err(CalibrationError::TooLarge {
                path: path.to_owned(),
                bytes: bytes.len() as u64,
                max: CALIBRATION_MAX_BYTES,
            });
        }
        let c: Calibration =
            serde_json::from_slice(bytes).map_err(|e| CalibrationError::Invalid {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        if c.schema_version > CALIBRATION_SCHEMA_VERSION {
            return Err(CalibrationError::Invalid {
                path: path.to_owned(),
                message: format!(
                    "field `schema_version`: {} is newer than this tokengate understands ({CALIBRATION_SCHEMA_VERSION}); upgrade tokengate",
                    c.schema_version
                ),
            });
        }
        for (name, m) in &c.metrics {
            let bad = |field: &str, v: f64| CalibrationError::Invalid {
                path: path.to_owned(),
                message: format!(
                    "field `metrics.{name}.{field}`: expected a finite non-negative number, found {v}"
                ),
            };
            for (field, v) in [("tau2", m.tau2), ("within", m.within), ("cv", m.cv)] {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(bad(field, v));
                }
            }
            if !(m.df.is_finite() && m.df > 0.0) {
                return Err(CalibrationError::Invalid {
                    path: path.to_owned(),
                    message: format!(
                        "field `metrics.{name}.df`: expected a positive number of degrees of freedom, found {}",
                        m.df
                    ),
                });
            }
        }
        Ok(c)
    }

    /// Read a calibration file from disk (bounded).
    pub fn read(path: &Path) -> Result<Calibration, CalibrationError> {
        let shown = path.display().to_string();
        let read_err = |source| CalibrationError::Read {
            path: shown.clone(),
            source,
        };
        let len = std::fs::metadata(path).map_err(read_err)?.len();
        if len > CALIBRATION_MAX_BYTES {
            return Err(CalibrationError::TooLarge {
                path: shown,
                bytes: len,
                max: CALIBRATION_MAX_BYTES,
            });
        }
        let bytes = crate::fsutil::read_bounded(path, CALIBRATION_MAX_BYTES).map_err(read_err)?;
        Calibration::parse(&bytes, &shown)
    }

    /// The stored noise of one gate metric (its name as a gate file writes
    /// it, `ttft.p50`) in the form `stats::compare_runs` takes as its
    /// external between-run variance; `None` when it was not calibrated.
    pub fn between_run(&self, metric: &str) -> Option<crate::stats::BetweenRun> {
        let m = self.metrics.get(metric)?;
        Some(crate::stats::BetweenRun {
            tau2: m.tau2,
            df: m.df,
            within: m.within,
            source: crate::stats::BetweenSource::Calibration,
        })
    }

    /// The file's bytes: pretty JSON with a final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    /// The fields that must match for this calibration to describe the noise
    /// of `bundle`'s runs — the comparability contract's must-match fields
    /// (hardware profile, tokenizer, workload digest, API kind, metrics
    /// version, tool major version); empty when it applies.
    pub fn mismatches(&self, bundle: &Bundle) -> Vec<FieldDiff> {
        let mut out = Vec::new();
        let mut check = |field: &str, calibrated: String, bundle: String| {
            if calibrated != bundle {
                out.push(FieldDiff {
                    field: field.to_owned(),
                    baseline: calibrated,
                    candidate: bundle,
                });
            }
        };
        check(
            "key.hardware_profile",
            self.key.hardware_profile.clone(),
            bundle.key.hardware_profile.clone(),
        );
        check(
            "key.tokenizer",
            self.key.tokenizer.clone(),
            bundle.key.tokenizer.clone(),
        );
        check(
            "context.workload_digest",
            self.workload_digest.clone(),
            bundle.context.workload_digest.clone(),
        );
        check("context.api", self.api.clone(), bundle.context.api.clone());
        check(
            "metrics_version",
            self.metrics_version.to_string(),
            bundle.metrics_version.to_string(),
        );
        check(
            "context.tool_version (major)",
            tool_major(&self.tool_version),
            tool_major(&bundle.context.tool_version),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Calibration {
        Calibration {
            schema_version: 1,
            key: BundleKey {
                model_version: "m".into(),
                serving_image: "img".into(),
                hardware_profile: "ci-2core".into(),
                tokenizer: "o200k_base".into(),
            },
            workload_name: "quickstart".into(),
            workload_digest: "sha256:abc".into(),
            api: "chat".into(),
            metrics_version: 1,
            tool_version: "0.1.0".into(),
            created_at: "2026-12-02T18:00:00Z".into(),
            endpoint: "http://127.0.0.1:8000/v1".into(),
            runs: 5,
            metrics: BTreeMap::from([(
                "ttft.p50".to_owned(),
                MetricNoise {
                    tau2: 0.0004,
                    df: 4.0,
                    within: 0.0001,
                    cv: 0.02,
                },
            )]),
        }
    }

    #[test]
    fn a_calibration_round_trips_and_bad_values_name_the_field() {
        let c = sample();
        assert_eq!(
            Calibration::parse(&c.to_bytes(), "c.json").expect("valid"),
            c
        );

        let mut bad = sample();
        bad.metrics.get_mut("ttft.p50").expect("metric").df = 0.0;
        let e = Calibration::parse(&bad.to_bytes(), "c.json").expect_err("df 0");
        assert_eq!(
            e.to_string(),
            "calibration file c.json: field `metrics.ttft.p50.df`: expected a positive number of degrees of freedom, found 0"
        );
        let text = String::from_utf8(sample().to_bytes())
            .expect("utf-8")
            .replace("\"runs\"", "\"rnus\"");
        let e = Calibration::parse(text.as_bytes(), "c.json").expect_err("unknown field");
        assert!(e.to_string().contains("unknown field `rnus`"), "{e}");
        let e = Calibration::parse(&vec![b' '; 2 << 20], "c.json").expect_err("too large");
        assert!(matches!(e, CalibrationError::TooLarge { .. }), "{e}");
    }

    #[test]
    fn a_calibrated_metric_is_an_external_between_run_variance() {
        let c = sample();
        let b = c.between_run("ttft.p50").expect("calibrated");
        assert_eq!((b.tau2, b.df, b.within), (0.0004, 4.0, 0.0001));
        assert_eq!(b.source, crate::stats::BetweenSource::Calibration);
        assert!(c.between_run("ttft.p95").is_none());
    }
}
