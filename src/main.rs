//! The `tokengate` binary: parse the arguments, convert them into the
//! command's options, run it, print its outcome, exit with its status.

use std::future::Future;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tokengate::cli::{Cli, CliCommand};
use tokengate::commands::{self, CommandOptions, Outcome, render_sweep_level};
use tokengate::driver::StopSignal;
use tokengate::exit_code;
use tokengate::wording::foreign;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!(
                "error: cannot start the async runtime: {}",
                foreign::one_line(&e.to_string())
            );
            return ExitCode::from(exit_code::TOOL_ERROR as u8);
        }
    };
    let outcome = runtime.block_on(dispatch(cli.command));
    print(&outcome);
    // Do not wait for in-flight work abandoned by an interrupt.
    runtime.shutdown_background();
    ExitCode::from(outcome.status.code() as u8)
}

async fn dispatch(command: CliCommand) -> Outcome {
    let result = match command {
        CliCommand::Run(a) => exec(a, |_| {}, commands::run::run).await,
        CliCommand::Merge(a) => exec(a, |_| {}, commands::merge::run).await,
        CliCommand::Gate(a) => exec(a, |_| {}, commands::gate::run).await,
        CliCommand::Report(a) => exec(a, |_| {}, commands::report::run).await,
        CliCommand::Check(a) => exec(a, |_| {}, commands::check::run).await,
        CliCommand::Baseline(c) => exec(c, |_| {}, commands::baseline::run).await,
        CliCommand::Comment(a) => exec(a, |_| {}, commands::comment::run).await,
        CliCommand::Sim(a) => {
            let announce = |o: &mut commands::SimOptions| {
                o.on_ready = Some(Box::new(|url: &str| {
                    // The address comes from the command line: one
                    // neutralised line like every other printed value.
                    let url = foreign::one_line(url);
                    emit(&format!("{url}\n"));
                    eprintln!("tokengate sim: serving on {url} (Ctrl-C to stop)");
                }));
            };
            exec(a, announce, commands::sim::run).await
        }
        CliCommand::Sweep(a) => {
            let levels = |o: &mut commands::SweepOptions| {
                o.on_level = Some(Arc::new(|p, unit| {
                    emit(&foreign::lines(&format!(
                        "{}\n",
                        render_sweep_level(p, unit)
                    )));
                }));
            };
            exec(a, levels, commands::sweep::run).await
        }
        CliCommand::Soak(a) => exec(a, |_| {}, commands::soak::run).await,
        CliCommand::Calibrate(a) => exec(a, |_| {}, commands::calibrate::run).await,
        CliCommand::Ab(a) => exec(a, |_| {}, commands::ab::run).await,
        CliCommand::Export(a) => exec(a, |_| {}, commands::export::run).await,
        CliCommand::Import(a) => exec(a, |_| {}, commands::import::run).await,
        CliCommand::History(a) => exec(a, |_| {}, commands::history::run).await,
        CliCommand::ReleaseAssets(a) => exec(a, |_| {}, commands::release_assets::run).await,
    };
    result.unwrap_or_else(|e| Outcome::from_error(&e))
}

/// Convert the arguments, let `prepare` attach what only the terminal
/// provides (live output), connect SIGINT/SIGTERM to the command's stop
/// signal if it has one, and run.
async fn exec<A, O, Fut>(
    args: A,
    prepare: impl FnOnce(&mut O),
    run: impl FnOnce(O) -> Fut,
) -> anyhow::Result<Outcome>
where
    O: TryFrom<A, Error = anyhow::Error> + CommandOptions,
    Fut: Future<Output = anyhow::Result<Outcome>>,
{
    let mut opts = O::try_from(args)?;
    prepare(&mut opts);
    if let Some(stop) = opts.stop_signal() {
        install_signal_handlers(stop);
    }
    run(opts).await
}

/// The one place an outcome is printed.
fn print(outcome: &Outcome) {
    emit(&outcome.stdout_text());
    let _ = std::io::stderr()
        .lock()
        .write_all(outcome.stderr_text().as_bytes());
}

/// Write to stdout; a closed pipe (`tokengate … | head`) is not an error
/// worth a panic. Callers pass text already neutralised
/// (`wording::foreign`): the outcome's own, or a live line.
fn emit(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes());
    let _ = out.flush();
}

/// SIGINT/SIGTERM stop the command cleanly (a run still writes its bundle).
/// The handlers are registered before this returns, so a signal that comes
/// while the command starts is not lost to the default disposition.
fn install_signal_handlers(stop: Arc<StopSignal>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::spawn(async move {
                    tokio::select! {
                        _ = term.recv() => stop.stop("interrupted by SIGTERM"),
                        _ = int.recv() => stop.stop("interrupted by SIGINT"),
                    }
                });
            }
            _ => {
                tokio::spawn(async move {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        stop.stop("interrupted by SIGINT");
                    }
                });
            }
        }
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.stop("interrupted by Ctrl-C");
        }
    });
}
