//! `tokengate release-assets DIR` (hidden): write the shell completions and
//! the man pages that a release archive carries, generated from the clap
//! definition of this very binary so they never drift from its flags.
//! `scripts/package-release.sh` calls it; a subcommand instead of a
//! `build.rs` so ordinary builds do not pay for it.

use std::path::PathBuf;

use anyhow::Context as _;
use clap_complete::Shell;

use super::outcome::{CommandOptions, Outcome};

pub struct ReleaseAssetsOptions {
    /// Where `completions/` and `man/` are written (created if missing).
    pub out_dir: PathBuf,
    /// The binary's whole command line, as clap knows it.
    pub command: clap::Command,
}

impl CommandOptions for ReleaseAssetsOptions {}

/// The shells a release archive has completions for.
pub const SHELLS: [Shell; 4] = [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::PowerShell];

/// Write `OUT/completions/<file per shell>` and `OUT/man/tokengate*.1`.
pub async fn run(opts: ReleaseAssetsOptions) -> anyhow::Result<Outcome> {
    let completions = opts.out_dir.join("completions");
    let man = opts.out_dir.join("man");
    for dir in [&completions, &man] {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut outcome = Outcome::default();
    // Completions build `cmd` (adding clap's `help` subcommands): the man
    // pages start again from the unbuilt definition.
    let unbuilt = opts.command.clone();
    let mut cmd = opts.command;
    let bin = cmd.get_name().to_owned();
    for shell in SHELLS {
        let path =
            clap_complete::generate_to(shell, &mut cmd, &bin, &completions).with_context(|| {
                format!(
                    "cannot write the {shell} completions in {}",
                    completions.display()
                )
            })?;
        outcome.files.push(path);
    }
    // One page for the binary and one per visible subcommand
    // (`tokengate-check.1`, `tokengate-baseline-promote.1`, …), as `man
    // tokengate-check` expects; clap's `help` subcommands get none.
    let mut cmd = without_help_subcommands(unbuilt);
    cmd.build();
    write_pages(&cmd, &man)
        .with_context(|| format!("cannot write the man pages in {}", man.display()))?;
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&man)
        .with_context(|| format!("cannot list {}", man.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "1"))
        .collect();
    pages.sort();
    outcome.files.extend(pages);
    for f in &outcome.files {
        outcome.stdout.push_str(&format!("{}\n", f.display()));
    }
    Ok(outcome)
}

fn without_help_subcommands(cmd: clap::Command) -> clap::Command {
    cmd.disable_help_subcommand(true)
        .mut_subcommands(without_help_subcommands)
}

fn write_pages(cmd: &clap::Command, dir: &std::path::Path) -> std::io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir)?;
    }
    clap_mangen::Man::new(cmd.clone()).generate_to(dir)?;
    Ok(())
}
