//! Reading and writing bundles. Writes go to a temporary file in the same
//! directory and are renamed into place, so a crash never leaves a truncated
//! bundle behind.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::schema::{Bundle, SCHEMA_VERSION};
use crate::fsutil::{AtomicWriteError, MAX_DATA_BYTES, read_bounded, write_atomic};

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot read bundle {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid tokengate bundle: {detail}")]
    Invalid { path: PathBuf, detail: String },
    #[error(
        "{path}: field `schema_version` is {found}, but this tokengate reads bundles up to version {SCHEMA_VERSION}; upgrade tokengate"
    )]
    NewerSchema { path: PathBuf, found: u64 },
    #[error("cannot serialize bundle")]
    Serialize(#[source] serde_json::Error),
    #[error(transparent)]
    Write(#[from] AtomicWriteError),
}

/// Parse a bundle from bytes; `path` names it in errors.
pub fn parse_bundle(bytes: &[u8], path: &Path) -> Result<Bundle, BundleError> {
    // Check the schema version first so a newer bundle gets the clear
    // message rather than a confusing missing-field error.
    #[derive(serde::Deserialize)]
    struct Version {
        schema_version: Option<serde_json::Value>,
    }
    let v: Version = serde_json::from_slice(bytes).map_err(|e| BundleError::Invalid {
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    match v.schema_version {
        None => {
            return Err(BundleError::Invalid {
                path: path.to_owned(),
                detail: "missing field `schema_version` (expected an unsigned integer)".into(),
            });
        }
        Some(serde_json::Value::Number(n)) if n.as_u64().is_some() => {
            let found = n.as_u64().unwrap_or_default();
            if found > SCHEMA_VERSION as u64 {
                return Err(BundleError::NewerSchema {
                    path: path.to_owned(),
                    found,
                });
            }
        }
        Some(other) => {
            return Err(BundleError::Invalid {
                path: path.to_owned(),
                detail: format!("field `schema_version` is {other}, expected an unsigned integer"),
            });
        }
    }
    let bundle: Bundle = serde_json::from_slice(bytes).map_err(|e| BundleError::Invalid {
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    if let Some(detail) = bundle.samples.ragged_column() {
        return Err(BundleError::Invalid {
            path: path.to_owned(),
            detail,
        });
    }
    Ok(bundle)
}

/// Read and validate a bundle file.
pub fn read_bundle(path: &Path) -> Result<Bundle, BundleError> {
    let bytes = read_bounded(path, MAX_DATA_BYTES).map_err(|source| BundleError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_bundle(&bytes, path)
}

/// Write a bundle as pretty JSON, atomically.
pub fn write_bundle(bundle: &Bundle, path: &Path) -> Result<(), BundleError> {
    let mut bytes = serde_json::to_vec_pretty(bundle).map_err(BundleError::Serialize)?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)?;
    Ok(())
}

/// sha256 (hex) of a file's bytes: the bundle digest reports and verdicts cite.
pub fn digest_of_file(path: &Path) -> Result<String, BundleError> {
    let bytes = read_bounded(path, MAX_DATA_BYTES).map_err(|source| BundleError::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(hex_sha256(&bytes))
}

pub fn hex_sha256(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in d {
        s.push_str(&format!("{b:02x}"));
    }
    s
}
