//! The command line: clap types ([`args`]) and their conversion into
//! domain types ([`convert`]).

mod args;
mod convert;

pub use args::{
    Cli, CliBaselineArgs, CliBaselineCommand, CliCheckArgs, CliCommand, CliCommentArgs,
    CliGateArgs, CliGateOptions, CliRunArgs, CliSimArgs, CliSoakArgs, CliSweepArgs,
    CliWorkloadArgs,
};
pub use convert::{gate_options_of, overrides_of, sweep_overrides_of, sweep_rules_of};
