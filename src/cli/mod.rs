//! The command line: clap types ([`args`]) and their conversion into
//! domain types ([`convert`]).

mod args;
mod convert;

pub use args::{Cli, CliCommand, CliRunArgs, CliSimArgs};
pub use convert::overrides_of;
