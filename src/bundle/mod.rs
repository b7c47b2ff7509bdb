//! The result bundle: versioned serde types ([`schema`]) and reading/writing
//! them atomically ([`io`]).

mod io;
mod schema;

pub use io::{BundleError, digest_of_file, hex_sha256, parse_bundle, read_bundle, write_bundle};
pub use schema::*;
