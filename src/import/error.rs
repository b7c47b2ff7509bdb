//! Why an import failed: the file could not be read, is not JSON, or a
//! field is missing or not what the tool writes. Every message names the
//! file and the field; values from the file are quoted cut
//! (`wording::foreign::cut`).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a complete JSON document ({detail}); expected {expected}")]
    NotJson {
        path: PathBuf,
        detail: String,
        expected: &'static str,
    },
    #[error("{path}: field `{field}` {problem}; expected {expected}")]
    Field {
        path: PathBuf,
        field: String,
        problem: String,
        expected: String,
    },
}
