//! The result bundle: versioned serde types ([`schema`]), the enums whose
//! names it persists ([`kinds`]), and reading/writing them atomically
//! ([`io`]). The bundle depends on no other module of the crate's pipeline:
//! the client, workload and recorder depend on it.

mod io;
mod kinds;
mod schema;

pub use io::{BundleError, digest_of_file, hex_sha256, parse_bundle, read_bundle, write_bundle};
pub use kinds::{ApiKind, ErrorKind, ProblemKind, ThroughputBasis, TokenMetric, TokenSource};
pub use schema::*;
