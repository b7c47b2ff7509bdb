//! The `tokengate` binary: parse arguments, build the runtime, call the
//! library, map the outcome to a documented exit code.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tokengate::cli::{Cli, CliCommand, CliRunArgs, CliSimArgs, overrides_of};
use tokengate::commands::{ProgressMode, RunOptions, render_summary, run_workload};
use tokengate::driver::StopSignal;
use tokengate::exit_code;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit_code::TOOL_ERROR as u8);
        }
    };
    let code = runtime.block_on(async {
        let result = match cli.command {
            CliCommand::Run(args) => cmd_run(args).await,
            CliCommand::Sim(args) => cmd_sim(args).await,
        };
        match result {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {}", chain(&e));
                exit_code::TOOL_ERROR
            }
        }
    });
    // Do not wait for in-flight work abandoned by an interrupt.
    runtime.shutdown_background();
    ExitCode::from(code as u8)
}

fn chain(e: &anyhow::Error) -> String {
    let mut s = String::new();
    for (i, c) in e.chain().enumerate() {
        let t = c.to_string();
        if i > 0 {
            if s.contains(&t) {
                continue;
            }
            s.push_str(": ");
        }
        s.push_str(&t);
    }
    s
}

/// Stop the run on SIGINT/SIGTERM; the bundle is still written.
fn install_signal_handlers(stop: Arc<StopSignal>) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let term = signal(SignalKind::terminate());
            let int = signal(SignalKind::interrupt());
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => stop.stop("interrupted by SIGTERM"),
                        _ = int.recv() => stop.stop("interrupted by SIGINT"),
                    }
                }
                _ => {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        stop.stop("interrupted by SIGINT");
                    }
                }
            }
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.stop("interrupted by Ctrl-C");
        }
    });
}

async fn cmd_run(args: CliRunArgs) -> anyhow::Result<i32> {
    let stop = StopSignal::new();
    install_signal_handlers(stop.clone());
    let opts = RunOptions {
        workload: args.workload.clone(),
        overrides: overrides_of(&args),
        out: args.out.clone(),
        progress: if args.quiet {
            ProgressMode::Off
        } else {
            ProgressMode::Auto
        },
        stop: stop.clone(),
        env: Arc::new(|k: &str| std::env::var(k).ok()),
    };
    let outcome = run_workload(opts).await?;
    print!("{}", render_summary(&outcome.bundle, &outcome.path));
    if !outcome.bundle.context.complete {
        eprintln!(
            "tokengate: the run was interrupted; the bundle {} is marked incomplete",
            outcome.path.display()
        );
        return Ok(exit_code::INTERRUPTED);
    }
    Ok(exit_code::PASS)
}

async fn cmd_sim(args: CliSimArgs) -> anyhow::Result<i32> {
    use anyhow::Context as _;
    let mut profile = match &args.profile {
        Some(p) => tokengate::sim::SimProfile::from_yaml_file(p)?,
        None => tokengate::sim::SimProfile::builtin(&args.builtin)?,
    };
    if let Some(v) = args.ttft_ms {
        profile.ttft_ms = v;
    }
    if let Some(v) = args.tpot_ms {
        profile.tpot_ms = v;
    }
    if let Some(v) = args.slots {
        profile.slots = v;
    }
    if let Some(v) = args.seed {
        profile.seed = v;
    }
    if let Some(v) = args.error_rate {
        profile.faults.error_rate = v;
    }
    profile.validate()?;
    let addr = std::net::SocketAddr::new(args.host, args.port);
    let server = tokengate::sim::SimServer::start(profile, addr)
        .await
        .with_context(|| format!("cannot serve the simulator on {addr}"))?;
    println!("{}", server.base_url());
    eprintln!(
        "tokengate sim: serving on {} (Ctrl-C to stop)",
        server.base_url()
    );
    let _ = tokio::signal::ctrl_c().await;
    server.shutdown().await;
    Ok(exit_code::PASS)
}
