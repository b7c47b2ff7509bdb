//! The command line: clap types ([`args`]) and their conversion into the
//! commands' options (`TryFrom` impls in [`convert`]).

mod args;
mod convert;

pub use args::{
    Cli, CliBaselineArgs, CliBaselineCommand, CliCheckArgs, CliCommand, CliCommentArgs,
    CliGateArgs, CliGateOptions, CliPublishArgs, CliRunArgs, CliSimArgs, CliSoakArgs, CliSweepArgs,
    CliWorkloadArgs,
};
