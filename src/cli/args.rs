//! clap types (`Cli*`): what the command line accepts. Value parsers only;
//! conversion into domain types happens in `convert.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "tokengate",
    version,
    about = "CI performance gate and regression checker for LLM inference endpoints",
    long_about = "Runs a short, fixed-prompt benchmark against an OpenAI-compatible endpoint, writes a result bundle, and gates it statistically against stored baselines.\n\nExit codes: 0 pass, 1 fail (regression), 2 tool or configuration error, 3 inconclusive when the gate's policy blocks, 130 interrupted."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: CliCommand,
}

#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Run a workload against an endpoint and write a result bundle.
    Run(CliRunArgs),
    /// Serve the built-in simulated OpenAI-compatible endpoint.
    Sim(CliSimArgs),
}

#[derive(Debug, Args, Clone)]
pub struct CliRunArgs {
    /// Workload file (YAML).
    pub workload: PathBuf,
    /// Endpoint URL (`http://HOST:PORT/v1`) or `sim://NAME`; overrides the workload.
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Where to write the bundle.
    #[arg(long, default_value = "tokengate-out/bundle.json")]
    pub out: PathBuf,
    /// Bundle key field or metadata: `model_version=…`, `serving_image=…`,
    /// `hardware_profile=…`, `tokenizer=…`, `engine_flags=…`, or any other key.
    #[arg(long = "meta", value_name = "KEY=VALUE", value_parser = parse_meta)]
    pub meta: Vec<(String, String)>,
    /// Measured requests (overrides `requests`/`duration`).
    #[arg(long)]
    pub requests: Option<u64>,
    /// Measurement duration, e.g. `30s` (overrides `requests`/`duration`).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Closed loop with this many concurrent users.
    #[arg(long, conflicts_with = "rate")]
    pub concurrency: Option<u32>,
    /// Open loop at this many requests per second (Poisson arrivals).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Seed of every random choice of the plan.
    #[arg(long)]
    pub seed: Option<u64>,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args, Clone)]
pub struct CliSimArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Address to bind. Loopback by default; the simulator is a test tool.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Profile file (YAML); flags below override it.
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// Built-in profile name (`default`, …) used when no file is given.
    #[arg(long, default_value = "default")]
    pub builtin: String,
    /// Time to first token, ms (fixed prefill cost).
    #[arg(long)]
    pub ttft_ms: Option<f64>,
    /// Time per output token, ms.
    #[arg(long)]
    pub tpot_ms: Option<f64>,
    /// Batch slots (sequences decoded at once).
    #[arg(long)]
    pub slots: Option<u32>,
    /// Seed of every random choice.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Share of requests answered with HTTP 500 (`0.05` or `5%`).
    #[arg(long, value_parser = parse_share)]
    pub error_rate: Option<f64>,
}

fn parse_meta(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got `{s}`")),
    }
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    crate::workload::values::DurationValue::parse(s).map(|d| d.0)
}

fn parse_share(s: &str) -> Result<f64, String> {
    crate::workload::values::Share::parse(s).map(|v| v.0)
}
