//! Benchmark of the load generator itself (DESIGN.md §10), not a test:
//!
//! 1. client CPU time per streamed request of 64 output tokens, and the
//!    highest request rate the client sustains, against `tokengate sim`
//!    with zero delays running in a separate process;
//! 2. peak RSS after the recorder has taken 1,000,000 requests.
//!
//! Run: `cargo bench --bench client` (release). Prints the figures; goals are
//! ≤ 50 µs of client CPU per request and < 200 MB RSS.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokengate::client::{
    ApiKind, Client, ClientConfig, ErrorKind, Message, Outcome, Phase, Prompt, RequestRecord,
    RequestSpec, Sampling, TokenSource,
};
use tokengate::metrics::Recorder;
use tokengate::runinfo::{peak_rss_bytes, process_cpu};
use tokengate::workload::Slo;

fn main() {
    // `cargo bench` passes `--bench`; a bare word selects one part.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    match args.first().map(String::as_str) {
        Some("rss") => recorder_rss(),
        Some("client") => client_cpu(),
        _ => {
            client_cpu();
            // A separate process, so the RSS figure is the recorder's alone.
            let exe = std::env::current_exe().expect("bench executable");
            let status = Command::new(exe)
                .arg("rss")
                .status()
                .expect("run rss child");
            assert!(status.success());
        }
    }
}

fn client_cpu() {
    let sim = env!("CARGO_BIN_EXE_tokengate");
    let mut child = Command::new(sim)
        .args([
            "sim",
            "--port",
            "0",
            "--ttft-ms",
            "0",
            "--tpot-ms",
            "0",
            "--slots",
            "4096",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tokengate sim");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("sim prints its URL");
    let base_url = line.trim().to_string();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for concurrency in [16usize, 64] {
        let requests = 20_000u64;
        let (cpu, wall, ok) = rt.block_on(drive(&base_url, concurrency, requests));
        let cpu_us = cpu.as_secs_f64() * 1e6 / requests as f64;
        // The achieved rate is bounded by the simulator, which shares the
        // cores; the client's own ceiling is what one core of its CPU time
        // per request allows.
        println!(
            "client: concurrency {concurrency:>3}: {requests} streamed requests × 64 tokens in {:.2} s = {:.0} req/s sustained; client CPU {cpu_us:.1} µs/request ({} ok); client-bound ceiling {:.0} req/s per core",
            wall.as_secs_f64(),
            requests as f64 / wall.as_secs_f64(),
            ok,
            1e6 / cpu_us.max(f64::MIN_POSITIVE)
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}

async fn drive(base_url: &str, concurrency: usize, requests: u64) -> (Duration, Duration, u64) {
    let client = Arc::new(
        Client::new(
            ClientConfig {
                base_url: tokengate::client::EndpointUrl::parse_base(base_url)
                    .expect("a bench URL"),
                api: ApiKind::Chat,
                model: "sim-model".into(),
                api_key: None,
                streaming: true,
                timeout: Duration::from_secs(30),
                pool_size: concurrency,
            },
            None,
        )
        .expect("client"),
    );
    let spec = Arc::new(RequestSpec {
        prompt: Arc::new(Prompt::Chat(vec![Message {
            role: "user".into(),
            content: "benchmark the client please".into(),
        }])),
        prompt_tokens: 4.into(),
        sampling: Arc::new(Sampling {
            max_tokens: Some(64),
            ignore_eos: true,
            ..Default::default()
        }),
        cancel_after_events: None,
        quality: None,
    });
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let ok = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let epoch = Instant::now();
    let cpu0 = process_cpu();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, spec, next, ok) = (client.clone(), spec.clone(), next.clone(), ok.clone());
        tasks.spawn(async move {
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < requests {
                let r = client.send(&spec, epoch).await;
                if r.outcome == Outcome::Success && r.output_tokens == 64 {
                    ok.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let wall = epoch.elapsed();
    let cpu1 = process_cpu();
    let cpu = (cpu1.0 + cpu1.1).saturating_sub(cpu0.0 + cpu0.1);
    (cpu, wall, ok.load(std::sync::atomic::Ordering::Relaxed))
}

fn recorder_rss() {
    let n = 1_000_000u64;
    let before = peak_rss_bytes();
    let mut recorder = Recorder::new(Slo::default(), None, Some(64), n as usize);
    let mut offsets = Vec::with_capacity(64);
    for i in 0..n {
        offsets.clear();
        let ttft = 40_000 + (i % 997) as u32;
        for k in 0..64u32 {
            offsets.push(ttft + k * 8_000 + (i as u32 % 13));
        }
        let rec = RequestRecord {
            index: i,
            class: 0,
            phase: Phase::Measured,
            attempts: 1,
            scheduled_at: Duration::from_micros(i * 50),
            sent_at: Duration::from_micros(i * 50),
            ttfb: Some(Duration::from_micros(1_000)),
            ttft: Some(Duration::from_micros(ttft as u64)),
            e2e: Duration::from_micros(offsets[63] as u64 + 100),
            event_offsets_us: offsets.clone(),
            event_bytes: vec![4; 64],
            output_tokens: 64,
            token_source: TokenSource::Usage,
            usage_refused: false,
            input_tokens: 12,
            finish_reason: Some("length".into()),
            quality_pass: None,
            retry_after: None,
            outcome: if i % 100 == 0 {
                Outcome::Failed {
                    kind: ErrorKind::Http5xx,
                    after_first_byte: false,
                }
            } else {
                Outcome::Success
            },
        };
        recorder.record(&rec);
    }
    let recording_peak = peak_rss_bytes();
    let out = recorder.finish();
    let finish_peak = peak_rss_bytes();
    println!(
        "recorder: {} requests recorded; peak RSS {:.1} MB after recording, {:.1} MB after computing metrics (process baseline {:.1} MB); TTFT p50 {:?} ms",
        out.samples.len(),
        recording_peak as f64 / 1e6,
        finish_peak as f64 / 1e6,
        before as f64 / 1e6,
        out.metrics.ttft_ms.p50
    );
}
