//! Reading YAML configuration files (workloads, gates, profiles) into typed
//! structs, with errors that name the file, line, column and field.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// A configuration file that could not be read or understood.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// YAML syntax or type error, positioned.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: PathBuf,
        line: u64,
        column: u64,
        message: String,
    },
    /// A value that parsed but is not allowed.
    #[error("{path}: field `{field}`: {message}")]
    Invalid {
        path: PathBuf,
        field: String,
        message: String,
    },
}

impl ConfigError {
    pub fn invalid(path: &Path, field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            path: path.to_owned(),
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Parse `text` (the contents of `path`) as YAML into `T`.
pub fn parse_yaml<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, ConfigError> {
    serde_saphyr::from_str::<T>(text).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        // The rendered error carries a source snippet; keep only its first
        // line, the message itself, so the user sees one clear line.
        let rendered = e.without_snippet().to_string();
        let message = rendered.lines().next().unwrap_or("invalid YAML").trim();
        // The location is already in front; drop the parser's own suffix.
        let message = match message.rfind(" at line ") {
            Some(i) => message[..i].to_string(),
            None => message.to_string(),
        };
        ConfigError::Parse {
            path: path.to_owned(),
            line,
            column,
            message,
        }
    })
}

/// Read and parse a YAML file.
pub fn read_yaml<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = crate::fsutil::read_bounded_string(path, crate::fsutil::MAX_CONFIG_BYTES).map_err(
        |source| ConfigError::Read {
            path: path.to_owned(),
            source,
        },
    )?;
    parse_yaml(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "fields exist to be parsed")]
    struct Demo {
        name: String,
        count: u32,
    }

    #[test]
    fn unknown_field_error_names_file_line_and_field() {
        let err = parse_yaml::<Demo>(Path::new("w.yaml"), "name: a\ncount: 1\ncolour: red\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("w.yaml:3:"), "{err}");
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn wrong_type_error_names_line() {
        let err = parse_yaml::<Demo>(Path::new("w.yaml"), "name: a\ncount: many\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("w.yaml:2:"), "{err}");
    }
}
