//! The `tokengate` binary: parse arguments, build the runtime, call the
//! library, map the outcome to a documented exit code.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tokengate::ci::{AnnotationLevel, annotation};
use tokengate::cli::{
    Cli, CliBaselineCommand, CliCheckArgs, CliCommand, CliCommentArgs, CliGateArgs, CliGateOptions,
    CliRunArgs, CliSimArgs, CliSoakArgs, CliSweepArgs, gate_options_of, overrides_of,
    sweep_overrides_of, sweep_rules_of,
};
use tokengate::commands::{
    CommentOptions, GateOptions, Platform, ProgressMode, PublishFlags, PublishOptions, ReportFiles,
    RunOptions, SweepOptions, gate_bundle, post_comment, publish, render_summary,
    render_sweep_level, render_sweep_summary, render_verdict_summary, run_workload, sweep_workload,
};
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
            CliCommand::Gate(args) => cmd_gate(args, true).await,
            CliCommand::Report(args) => cmd_gate(args, false).await,
            CliCommand::Check(args) => cmd_check(args).await,
            CliCommand::Baseline(cmd) => cmd_baseline(cmd),
            CliCommand::Comment(args) => cmd_comment(args).await,
            CliCommand::Sim(args) => cmd_sim(args).await,
            CliCommand::Sweep(args) => cmd_sweep(args).await,
            CliCommand::Soak(args) => cmd_soak(args).await,
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

/// Write to stdout; a closed pipe (`tokengate … | head`) is not an error
/// worth a panic.
fn emit(s: &str) {
    use std::io::Write as _;
    let _ = std::io::stdout().lock().write_all(s.as_bytes());
}

fn emit_line(s: &str) {
    emit(s);
    emit("\n");
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

/// What every command that runs a workload passes: SIGINT/SIGTERM stop the
/// run (the bundle is still written), the process environment, and a
/// progress display unless `--quiet`.
fn cli_run_options(
    workload: &Path,
    overrides: tokengate::workload::Overrides,
    out: &Path,
    quiet: bool,
) -> RunOptions {
    let stop = StopSignal::new();
    install_signal_handlers(stop.clone());
    RunOptions {
        workload: workload.to_owned(),
        overrides,
        out: out.to_owned(),
        progress: if quiet {
            ProgressMode::Off
        } else {
            ProgressMode::Auto
        },
        stop,
        env: Arc::new(|k: &str| std::env::var(k).ok()),
    }
}

/// Run a workload; `Ok(None)` when it was interrupted (bundle written).
async fn run_and_summarize(args: &CliRunArgs) -> anyhow::Result<(std::path::PathBuf, bool)> {
    let opts = cli_run_options(
        &args.workload,
        overrides_of(args),
        &args.out,
        args.common.quiet,
    );
    let outcome = run_workload(opts).await?;
    emit(&render_summary(&outcome.bundle, &outcome.path));
    let complete = outcome.bundle.context.complete;
    if !complete {
        eprintln!(
            "tokengate: the run was interrupted; the bundle {} is marked incomplete",
            outcome.path.display()
        );
    }
    Ok((outcome.path, complete))
}

async fn cmd_sweep(args: CliSweepArgs) -> anyhow::Result<i32> {
    let observer: tokengate::commands::LevelObserver =
        Arc::new(|p, unit| emit_line(&render_sweep_level(p, unit)));
    let opts = SweepOptions {
        run: cli_run_options(
            &args.workload,
            sweep_overrides_of(&args),
            &args.out,
            args.common.quiet,
        ),
        levels: args.levels.clone(),
        start: args.start,
        max_load: args.max_load,
        rules: sweep_rules_of(&args),
        slo_gate: args.slo.clone(),
        confirm_safe: !args.no_confirm,
        max_levels: args.max_levels,
        time_budget: args.time_budget,
        levels_dir: args.report_dir.join("levels"),
        report_dir: Some(args.report_dir.clone()),
        on_level: Some(observer),
    };
    let outcome = sweep_workload(opts).await?;
    emit(&render_sweep_summary(&outcome.bundle, &outcome.path));
    for p in outcome
        .reports
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e != "svg"))
    {
        emit_line(&format!("report: {}", p.display()));
    }
    Ok(if outcome.interrupted {
        exit_code::INTERRUPTED
    } else {
        exit_code::PASS
    })
}

async fn cmd_run(args: CliRunArgs) -> anyhow::Result<i32> {
    let (_, complete) = run_and_summarize(&args).await?;
    Ok(if complete {
        exit_code::PASS
    } else {
        exit_code::INTERRUPTED
    })
}

/// Where `gate` puts GitLab reports when `GITLAB_CI=true` and no
/// `--gitlab-reports` was given (`check` uses its `--report-dir`).
const GATE_REPORT_DIR: &str = "tokengate-out";

/// Gate a bundle, print the verdict, and (when `publish` is set) publish the
/// result to the CI platform. Returns the verdict's exit code; publishing
/// problems are warnings and never change it.
async fn gate_and_print(
    opts: &GateOptions,
    g: &CliGateOptions,
    publish_to: Option<&Path>,
) -> anyhow::Result<i32> {
    let files = ReportFiles {
        bundle: opts.bundle.clone(),
        markdown: opts.markdown.clone(),
        junit: opts.junit.clone(),
        json: opts.json.clone(),
    };
    let outcome = gate_bundle(opts)?;
    emit(&render_verdict_summary(&outcome.report));
    for p in &outcome.written {
        emit_line(&format!("report: {}", p.display()));
    }
    if let Some(report_dir) = publish_to {
        let env = |k: &str| std::env::var(k).ok();
        let p = &g.publish;
        let flags = PublishFlags {
            github_actions: p.github_actions,
            gitlab_reports: p.gitlab_reports.clone(),
            check_run: p.check_run,
            check_run_name: p.check_run_name.clone(),
            head_sha: p.head_sha.clone(),
            template: opts.template.clone(),
        };
        let popts = PublishOptions::resolve(&flags, report_dir, &env);
        let published = publish(&outcome.report, &files, &popts, &env).await;
        for c in &published.commands {
            emit_line(c);
        }
        for n in &published.notes {
            eprintln!("tokengate: {n}");
        }
        for w in &published.warnings {
            if popts.github_actions {
                emit_line(&annotation(AnnotationLevel::Warning, "tokengate", w));
            } else {
                eprintln!("tokengate: warning: {w}");
            }
        }
    }
    Ok(outcome.report.exit_code())
}

/// `gate` exits with the verdict and publishes; `report` only renders (exit 0).
async fn cmd_gate(args: CliGateArgs, verdict_exit: bool) -> anyhow::Result<i32> {
    let opts = gate_options_of(args.bundle.clone(), &args.options, None);
    let publish_to = verdict_exit.then_some(Path::new(GATE_REPORT_DIR));
    let code = gate_and_print(&opts, &args.options, publish_to).await?;
    Ok(if verdict_exit { code } else { exit_code::PASS })
}

async fn cmd_check(args: CliCheckArgs) -> anyhow::Result<i32> {
    let (bundle, complete) = run_and_summarize(&args.run).await?;
    emit("\n");
    let opts = gate_options_of(bundle, &args.gate, Some(&args.report_dir));
    let code = gate_and_print(&opts, &args.gate, Some(&args.report_dir)).await?;
    Ok(if complete {
        code
    } else {
        exit_code::INTERRUPTED
    })
}

fn cmd_baseline(cmd: CliBaselineCommand) -> anyhow::Result<i32> {
    use tokengate::baseline::{
        BaselineSource, find_set, load_sets, promote, render_explain, render_list, render_show,
        resolve,
    };
    let source = |b: &tokengate::cli::CliBaselineArgs| match &b.baseline_ref {
        Some(r) => BaselineSource::GitRef {
            dir: b.baseline_dir.clone(),
            reference: r.clone(),
        },
        None => BaselineSource::Dir(b.baseline_dir.clone()),
    };
    match cmd {
        CliBaselineCommand::Promote {
            bundle,
            baseline_dir,
            keep,
        } => {
            let path = promote(&bundle, &baseline_dir, keep)?;
            emit_line(&format!(
                "promoted {} to {}",
                bundle.display(),
                path.display()
            ));
        }
        CliBaselineCommand::List { baselines } => {
            emit(&render_list(&load_sets(&source(&baselines))?));
        }
        CliBaselineCommand::Show { key, baselines } => {
            let sets = load_sets(&source(&baselines))?;
            match find_set(&sets, &key) {
                Some(set) => emit(&render_show(set)),
                None => anyhow::bail!(
                    "no baseline set matches `{key}` in {}; `tokengate baseline list` shows them",
                    baselines.baseline_dir.display()
                ),
            }
        }
        CliBaselineCommand::Explain { bundle, baselines } => {
            let candidate = tokengate::bundle::read_bundle(&bundle)?;
            let res = resolve(
                &candidate,
                &source(&baselines),
                std::time::SystemTime::now(),
            )?;
            emit(&render_explain(&res));
        }
    }
    Ok(exit_code::PASS)
}

async fn cmd_comment(args: CliCommentArgs) -> anyhow::Result<i32> {
    let opts = CommentOptions {
        markdown: args.markdown,
        platform: if args.github {
            Platform::GitHub
        } else {
            Platform::GitLab
        },
        api_url: args.api_url,
        repo: args.repo,
        number: args.number,
    };
    post_comment(&opts, &|k: &str| std::env::var(k).ok()).await
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
    emit_line(&server.base_url());
    eprintln!(
        "tokengate sim: serving on {} (Ctrl-C to stop)",
        server.base_url()
    );
    let _ = tokio::signal::ctrl_c().await;
    server.shutdown().await;
    Ok(exit_code::PASS)
}

/// `soak`: one long run, the per-interval table and the trend notes; exit 0
/// (drift is reported, not gated), 130 when interrupted (bundle written).
async fn cmd_soak(args: CliSoakArgs) -> anyhow::Result<i32> {
    let run = cli_run_options(
        &args.run.workload,
        overrides_of(&args.run),
        &args.run.out,
        args.run.common.quiet,
    );
    let outcome = tokengate::commands::soak_workload(tokengate::commands::SoakOptions {
        run,
        interval: args.interval,
        report_dir: Some(args.report_dir.clone()),
    })
    .await?;
    emit(&render_summary(&outcome.bundle, &outcome.path));
    if let Some(soak) = &outcome.bundle.soak {
        emit(&tokengate::soak::render_soak_text(soak));
    }
    for name in ["soak.html", "soak.md"] {
        emit_line(&format!("report: {}", args.report_dir.join(name).display()));
    }
    if outcome.bundle.context.complete {
        Ok(exit_code::PASS)
    } else {
        eprintln!(
            "tokengate: the soak was interrupted; the bundle {} is marked incomplete",
            outcome.path.display()
        );
        Ok(exit_code::INTERRUPTED)
    }
}
