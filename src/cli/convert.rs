//! From clap types to the commands' options: one `TryFrom` per command.
//! Fallible so that a check that needs more than one flag has its place at
//! the edge; the clap value parsers have already validated single values.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::args::{
    CliAbArgs, CliBaselineArgs, CliBaselineCommand, CliCalibrateArgs, CliCheckArgs, CliCommentArgs,
    CliExportArgs, CliGateArgs, CliGateOptions, CliHistoryArgs, CliImportArgs, CliMergeArgs,
    CliPublishArgs, CliReleaseAssetsArgs, CliRunArgs, CliSimArgs, CliSoakArgs, CliSweepArgs,
    CliWorkloadArgs,
};
use crate::baseline::BaselineSource;
use crate::commands::gate::GATE_REPORT_DIR;
use crate::commands::{
    AbOptions, BaselineOptions, CalibrateOptions, CheckOptions, CommentOptions, EnvLookup,
    ExportOptions, GateCommandOptions, GateOptions, HistoryOptions, ImportCommandOptions,
    MergeOptions, Platform, ProfileOverrides, ProfileSource, ProgressMode, PublishFlags,
    ReleaseAssetsOptions, ReportOptions, RunOptions, SimOptions, SoakOptions, SweepOptions,
};
use crate::driver::StopSignal;
use crate::export::ExportFormat;
use crate::import::{ImportFormat, ImportOptions};
use crate::workload::Overrides;

/// `run`'s bundle when `--out` is not given.
const DEFAULT_RUN_OUT: &str = "tokengate-out/bundle.json";

impl TryFrom<CliRunArgs> for RunOptions {
    type Error = anyhow::Error;
    fn try_from(a: CliRunArgs) -> anyhow::Result<RunOptions> {
        let env = process_env();
        let shard = shard_of(&a, &|k| env(k))?;
        if let Some(at) = a.start_at {
            crate::commands::run::check_start_at(at, SystemTime::now())?;
        }
        Ok(RunOptions {
            repeat: a.repeat,
            ..run_options(
                &a.workload,
                Overrides {
                    shard,
                    start_at: a.start_at,
                    ..overrides_of(&a)
                },
                a.out.as_deref().unwrap_or(Path::new(DEFAULT_RUN_OUT)),
                a.common.quiet,
            )
        })
    }
}

impl TryFrom<CliMergeArgs> for MergeOptions {
    type Error = anyhow::Error;
    fn try_from(a: CliMergeArgs) -> anyhow::Result<MergeOptions> {
        Ok(MergeOptions {
            shards: a.shards,
            out: a.out,
            allow_incomplete: a.allow_incomplete,
            min_overlap: a.min_overlap,
        })
    }
}

impl TryFrom<CliCalibrateArgs> for CalibrateOptions {
    type Error = anyhow::Error;
    fn try_from(a: CliCalibrateArgs) -> anyhow::Result<CalibrateOptions> {
        crate::commands::calibrate::check_runs(a.runs)?;
        let overrides = Overrides {
            concurrency: a.concurrency,
            rate: a.rate,
            ..common_overrides(&a.common)
        };
        // The A/A runs' bundle is not kept: it goes to a temporary file
        // nobody reads (`measure_workload` does not write it).
        let bundle = std::env::temp_dir().join("tokengate-calibrate.json");
        Ok(CalibrateOptions {
            run: RunOptions {
                repeat: a.runs,
                ..run_options(&a.workload, overrides, &bundle, a.common.quiet)
            },
            baseline_dir: a.baseline_dir,
            out: a.out,
        })
    }
}

impl TryFrom<CliAbArgs> for AbOptions {
    type Error = anyhow::Error;
    fn try_from(a: CliAbArgs) -> anyhow::Result<AbOptions> {
        let overrides = Overrides {
            concurrency: a.concurrency,
            rate: a.rate,
            ..common_overrides(&a.common)
        };
        let candidate_sim = match (a.candidate_profile, a.candidate_builtin) {
            (Some(file), _) => Some(ProfileSource::File(file)),
            (None, Some(name)) => Some(ProfileSource::Builtin(name)),
            (None, None) => None,
        };
        Ok(AbOptions {
            workload: a.workload,
            overrides,
            baseline_endpoint: a.baseline_endpoint,
            candidate_endpoint: a.candidate_endpoint,
            candidate_sim,
            candidate_overrides: ProfileOverrides {
                ttft_ms: a.candidate_ttft_ms,
                tpot_ms: a.candidate_tpot_ms,
                ..ProfileOverrides::default()
            },
            gate: a.gate,
            waivers: a.waivers,
            inconclusive: a.inconclusive,
            report_dir: a.report_dir,
            progress: if a.common.quiet {
                ProgressMode::Off
            } else {
                ProgressMode::Auto
            },
            stop: StopSignal::new(),
            env: process_env(),
            publish: publish_flags_from(&a.publish, None),
        })
    }
}

impl TryFrom<CliGateArgs> for GateCommandOptions {
    type Error = anyhow::Error;
    fn try_from(a: CliGateArgs) -> anyhow::Result<GateCommandOptions> {
        Ok(GateCommandOptions {
            gate: gate_options_of(a.bundle, &a.options, None),
            publish: publish_flags_of(&a.options),
            report_dir: PathBuf::from(GATE_REPORT_DIR),
            env: process_env(),
        })
    }
}

impl TryFrom<CliGateArgs> for ReportOptions {
    type Error = anyhow::Error;
    fn try_from(a: CliGateArgs) -> anyhow::Result<ReportOptions> {
        Ok(ReportOptions {
            gate: gate_options_of(a.bundle, &a.options, None),
        })
    }
}

impl TryFrom<CliCheckArgs> for CheckOptions {
    type Error = anyhow::Error;
    fn try_from(mut a: CliCheckArgs) -> anyhow::Result<CheckOptions> {
        // The bundle goes with the reports unless `--out` says otherwise.
        let out = a
            .run
            .out
            .get_or_insert_with(|| a.report_dir.join("bundle.json"))
            .clone();
        Ok(CheckOptions {
            gate: gate_options_of(out, &a.gate, Some(&a.report_dir)),
            publish: publish_flags_of(&a.gate),
            run: RunOptions::try_from(a.run)?,
            report_dir: a.report_dir,
        })
    }
}

impl TryFrom<CliBaselineCommand> for BaselineOptions {
    type Error = anyhow::Error;
    fn try_from(c: CliBaselineCommand) -> anyhow::Result<BaselineOptions> {
        Ok(match c {
            CliBaselineCommand::Promote {
                bundle,
                baseline_dir,
                keep,
            } => BaselineOptions::Promote {
                bundle,
                baseline_dir,
                keep,
            },
            CliBaselineCommand::List { baselines } => BaselineOptions::List {
                source: source_of(baselines),
            },
            CliBaselineCommand::Show { key, baselines } => BaselineOptions::Show {
                key,
                source: source_of(baselines),
            },
            CliBaselineCommand::Explain {
                bundle,
                baselines,
                allow_imported,
            } => BaselineOptions::Explain {
                bundle,
                source: source_of(baselines),
                now: SystemTime::now(),
                allow_imported,
            },
        })
    }
}

impl TryFrom<CliCommentArgs> for CommentOptions {
    type Error = anyhow::Error;
    fn try_from(a: CliCommentArgs) -> anyhow::Result<CommentOptions> {
        Ok(CommentOptions {
            markdown: a.markdown,
            // clap's `platform` group makes exactly one of the two flags set.
            platform: if a.github {
                Platform::GitHub
            } else {
                Platform::GitLab
            },
            api_url: a.api_url,
            repo: a.repo,
            number: a.number,
            key: a.key,
            env: process_env(),
        })
    }
}

impl TryFrom<CliImportArgs> for ImportCommandOptions {
    type Error = anyhow::Error;
    fn try_from(a: CliImportArgs) -> anyhow::Result<ImportCommandOptions> {
        let Some(format) = ImportFormat::from_name(&a.format) else {
            anyhow::bail!(
                "FORMAT: unknown import format `{}` (for {}); expected one of {}",
                crate::wording::foreign::cut(&a.format, 64),
                a.file.display(),
                ImportFormat::names()
            );
        };
        Ok(ImportCommandOptions {
            import: ImportOptions {
                format,
                file: a.file,
                meta: a.meta,
                workload: a.workload,
                tool_version: a.tool_version,
                env: process_env(),
            },
            out: a.out,
        })
    }
}

impl TryFrom<CliExportArgs> for ExportOptions {
    type Error = anyhow::Error;
    fn try_from(a: CliExportArgs) -> anyhow::Result<ExportOptions> {
        let Some(format) = ExportFormat::from_name(&a.format) else {
            anyhow::bail!(
                "--format: unknown export format `{}`; expected one of {}",
                crate::wording::foreign::cut(&a.format, 64),
                ExportFormat::names()
            );
        };
        Ok(ExportOptions {
            bundle: a.bundle,
            format,
            out: a.out,
        })
    }
}

impl TryFrom<CliHistoryArgs> for HistoryOptions {
    type Error = anyhow::Error;
    fn try_from(a: CliHistoryArgs) -> anyhow::Result<HistoryOptions> {
        if !(a.significance > 0.0 && a.significance < 1.0) {
            anyhow::bail!(
                "--significance {}: expected a p-value between 0 and 1 (exclusive)",
                a.significance
            );
        }
        Ok(HistoryOptions {
            set: a.set,
            source: source_of(a.baselines),
            git_history: a.git_history,
            out_dir: a.out_dir,
            significance: a.significance,
        })
    }
}

impl TryFrom<CliReleaseAssetsArgs> for ReleaseAssetsOptions {
    type Error = anyhow::Error;
    fn try_from(a: CliReleaseAssetsArgs) -> anyhow::Result<ReleaseAssetsOptions> {
        Ok(ReleaseAssetsOptions {
            out_dir: a.out_dir,
            command: <super::Cli as clap::CommandFactory>::command(),
        })
    }
}

impl TryFrom<CliSimArgs> for SimOptions {
    type Error = anyhow::Error;
    fn try_from(a: CliSimArgs) -> anyhow::Result<SimOptions> {
        Ok(SimOptions {
            profile: match a.profile {
                Some(p) => ProfileSource::File(p),
                None => ProfileSource::Builtin(a.builtin),
            },
            overrides: ProfileOverrides {
                ttft_ms: a.ttft_ms,
                tpot_ms: a.tpot_ms,
                slots: a.slots,
                seed: a.seed,
                error_rate: a.error_rate,
            },
            addr: std::net::SocketAddr::new(a.host, a.port),
            stop: StopSignal::new(),
            on_ready: None,
        })
    }
}

impl TryFrom<CliSweepArgs> for SweepOptions {
    type Error = anyhow::Error;
    fn try_from(a: CliSweepArgs) -> anyhow::Result<SweepOptions> {
        Ok(SweepOptions {
            run: run_options(
                &a.workload,
                sweep_overrides_of(&a),
                &a.out
                    .clone()
                    .unwrap_or_else(|| a.report_dir.join("sweep.json")),
                a.common.quiet,
            ),
            levels: a.levels.clone(),
            start: a.start,
            max_load: a.max_load,
            rules: sweep_rules_of(&a),
            slo_gate: a.slo.clone(),
            confirm_safe: !a.no_confirm,
            max_levels: a.max_levels,
            time_budget: a.time_budget,
            levels_dir: a.report_dir.join("levels"),
            report_dir: Some(a.report_dir),
            on_level: None,
        })
    }
}

impl TryFrom<CliSoakArgs> for SoakOptions {
    type Error = anyhow::Error;
    fn try_from(mut a: CliSoakArgs) -> anyhow::Result<SoakOptions> {
        // The bundle goes beside the reports, like `check` and `sweep`.
        a.run
            .out
            .get_or_insert_with(|| a.report_dir.join("soak.json"));
        if a.run.repeat != 1 {
            anyhow::bail!(
                "--repeat {}: a soak is one long run; use --repeat with `run` or `check`",
                a.run.repeat
            );
        }
        if a.run.shard.is_some() {
            anyhow::bail!(
                "--shard: a soak is not split over load generators; use --shard with `run` or `check`"
            );
        }
        Ok(SoakOptions {
            run: RunOptions::try_from(a.run)?,
            interval: a.interval,
            report_dir: Some(a.report_dir),
        })
    }
}

/// The shard of `--shard I/N` or `--shard auto` (from the environment).
/// A sharded `--repeat` series is refused: `merge` joins shards of one run.
pub(crate) fn shard_of(
    a: &CliRunArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Option<crate::workload::Shard>> {
    let Some(text) = a.shard.as_deref() else {
        return Ok(None);
    };
    let shard = if text.trim() == "auto" {
        crate::workload::Shard::from_env(env, a.shard_total)?
    } else {
        crate::workload::Shard::parse(text, "--shard")?
    };
    if a.repeat != 1 {
        anyhow::bail!(
            "--shard {shard} with --repeat {}: a shard is one run of a split plan; repeat the whole sharded run instead",
            a.repeat
        );
    }
    Ok(Some(shard))
}

/// The process environment, looked up when asked.
fn process_env() -> EnvLookup {
    Arc::new(|k: &str| std::env::var(k).ok())
}

/// What every command that runs a workload passes: a stop signal (`main`
/// connects SIGINT/SIGTERM to it; the bundle is still written), the process
/// environment, and a progress display unless `--quiet`.
fn run_options(workload: &Path, overrides: Overrides, out: &Path, quiet: bool) -> RunOptions {
    RunOptions {
        workload: workload.to_owned(),
        overrides,
        out: out.to_owned(),
        progress: if quiet {
            ProgressMode::Off
        } else {
            ProgressMode::Auto
        },
        stop: StopSignal::new(),
        env: process_env(),
        repeat: 1,
    }
}

/// Overrides of the flags every workload command shares (no load).
fn common_overrides(c: &CliWorkloadArgs) -> Overrides {
    Overrides {
        endpoint: c.endpoint.clone(),
        requests: c.requests,
        duration: c.duration,
        concurrency: None,
        rate: None,
        seed: c.seed,
        // `--label` is the metadata `label`; given last, it wins over a
        // `--meta label=…`.
        meta: c
            .meta
            .iter()
            .cloned()
            .chain(c.label.iter().map(|l| ("label".to_owned(), l.clone())))
            .collect(),
        shard: None,
        start_at: None,
    }
}

fn overrides_of(a: &CliRunArgs) -> Overrides {
    Overrides {
        concurrency: a.concurrency,
        rate: a.rate,
        ..common_overrides(&a.common)
    }
}

fn source_of(b: CliBaselineArgs) -> BaselineSource {
    match b.baseline_ref {
        Some(reference) => BaselineSource::GitRef {
            dir: b.baseline_dir,
            reference,
        },
        None => BaselineSource::Dir(b.baseline_dir),
    }
}

/// Gate options for `bundle`; `default_dir` supplies report paths not given
/// explicitly (`check` writes all three by default).
fn gate_options_of(bundle: PathBuf, g: &CliGateOptions, default_dir: Option<&Path>) -> GateOptions {
    let or_default =
        |p: &Option<PathBuf>, name: &str| p.clone().or_else(|| default_dir.map(|d| d.join(name)));
    GateOptions {
        bundle,
        gate: g.gate.clone(),
        baseline_dir: g.baselines.baseline_dir.clone(),
        baseline_ref: g.baselines.baseline_ref.clone(),
        waivers: g.waivers.clone(),
        junit: or_default(&g.junit, "junit.xml"),
        markdown: or_default(&g.markdown, "report.md"),
        json: or_default(&g.json, "verdict.json"),
        template: g.template.clone(),
        now: SystemTime::now(),
        inconclusive: g.inconclusive,
        allow_imported: g.allow_imported,
    }
}

fn publish_flags_of(g: &CliGateOptions) -> PublishFlags {
    publish_flags_from(&g.publish, g.template.clone())
}

fn publish_flags_from(p: &CliPublishArgs, template: Option<PathBuf>) -> PublishFlags {
    PublishFlags {
        github_actions: p.github_actions,
        gitlab_reports: p.gitlab_reports.clone(),
        check_run: p.check_run,
        check_run_name: p.check_run_name.clone(),
        head_sha: p.head_sha.clone(),
        template,
    }
}

/// The base overrides of every sweep level (the level sets the load).
fn sweep_overrides_of(a: &CliSweepArgs) -> Overrides {
    Overrides {
        // Any rate turns a closed-loop workload into an open-loop one; each
        // level then sets its own.
        rate: a.open_loop.then(|| a.start.unwrap_or(1.0)),
        ..common_overrides(&a.common)
    }
}

/// The thresholds of a sweep from its flags.
fn sweep_rules_of(a: &CliSweepArgs) -> crate::bundle::SweepRules {
    crate::bundle::SweepRules {
        min_prominence: a.min_prominence,
        min_rise: a.min_rise,
        error_ceiling: a.error_ceiling,
        min_throughput_gain: a.min_gain,
        safe_share: a.safe_share,
        // Set by the sweep from `--resolution` or the load mode's default.
        resolution: a.resolution.unwrap_or(f64::NAN),
        slo_gate: a.slo.as_ref().map(|p| p.display().to_string()),
    }
}
