//! Errors of the simulator: profile loading and validation, and binding the
//! listening socket.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything that can go wrong before the simulator serves its first
/// request. Serving itself never fails: bad requests get HTTP errors.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The profile file could not be read.
    #[error("cannot read sim profile {path}")]
    ReadProfile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The profile file is not valid YAML for a `SimProfile`: the parser's
    /// line, column and message, on one line.
    #[error("invalid sim profile {path}: {detail}")]
    ParseProfile { path: PathBuf, detail: String },
    /// A field has a value outside its allowed range.
    #[error("invalid sim profile field `{field}`: got {value}, expected {expected}")]
    InvalidField {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    /// `sim://NAME` named a profile that is not built in.
    #[error("unknown sim profile `{name}`: known profiles are {known}")]
    UnknownProfile { name: String, known: String },
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}
