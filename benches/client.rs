//! Benchmark of the load generator itself (DESIGN.md §10), not a test:
//!
//! 1. `client`: client CPU per streamed request of 64 output tokens and per
//!    SSE event, wakeups (voluntary context switches, `getrusage`) per
//!    event, and the resident memory each request adds, against
//!    `tokengate sim` in a separate process with zero delays, at
//!    concurrency 8, 32 and 256;
//! 2. `paced`: the same against a simulator that paces tokens at 10 ms;
//! 3. `startup`: CPU of `tokengate run` (one request, fixed prompt, a
//!    server that reports usage) from process start to its first
//!    completion request, and for the whole process; with
//!    `TOKENGATE_BENCH_BEFORE=/path/to/an/older/tokengate` the older binary
//!    is measured in the same rounds, interleaved, for a ratio;
//! 4. `rss`: peak RSS after the recorder has taken 1,000,000 requests.
//!
//! Run: `cargo bench --bench client [-- client|paced|startup|rss]`
//! (release). Prints the figures; goals are ≤ 50 µs of client CPU per
//! request (zero latency), ≤ 10 µs per event and ≤ 1 wakeup per event
//! (paced), ≤ 50 ms of start-up CPU and < 200 MB RSS for the recorder.
//! `TOKENGATE_BENCH_CONCURRENCY=8,32` limits the concurrency levels.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokengate::client::{
    ApiKind, Client, ClientConfig, ErrorKind, Message, Outcome, Phase, Prompt, RequestRecord,
    RequestSpec, Sampling, TokenSource,
};
use tokengate::metrics::Recorder;
use tokengate::runinfo::{peak_rss_bytes, resident_memory_bytes};
use tokengate::workload::Slo;

/// Output tokens (content events) per request.
const TOKENS: u32 = 64;

fn main() {
    // `cargo bench` passes `--bench`; a bare word selects one part.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    match args.first().map(String::as_str) {
        Some("rss") => recorder_rss(),
        Some("client") => client_cpu(Pace::ZeroLatency),
        Some("paced") => client_cpu(Pace::Paced),
        Some("startup") => startup_cpu(),
        _ => {
            startup_cpu();
            client_cpu(Pace::ZeroLatency);
            client_cpu(Pace::Paced);
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pace {
    /// Every token at once: the client's per-request cost.
    ZeroLatency,
    /// A token every 10 ms: the client's per-event cost on a realistic stream.
    Paced,
}

fn concurrencies() -> Vec<usize> {
    match std::env::var("TOKENGATE_BENCH_CONCURRENCY") {
        Ok(v) => v
            .split(',')
            .map(|c| {
                c.trim()
                    .parse()
                    .expect("TOKENGATE_BENCH_CONCURRENCY: numbers")
            })
            .collect(),
        Err(_) => vec![8, 32, 256],
    }
}

/// `tokengate sim` in its own process; killed on drop.
struct Sim {
    child: Child,
    base_url: String,
}

impl Sim {
    fn start(tpot_ms: &str) -> Sim {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tokengate"))
            .args([
                "sim",
                "--port",
                "0",
                "--ttft-ms",
                "0",
                "--tpot-ms",
                tpot_ms,
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
        Sim {
            child,
            base_url: line.trim().to_string(),
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client_cpu(pace: Pace) {
    let sim = Sim::start(if pace == Pace::Paced { "10" } else { "0" });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let name = match pace {
        Pace::ZeroLatency => "zero-latency",
        Pace::Paced => "paced 10 ms",
    };
    for concurrency in concurrencies() {
        // Zero latency: enough requests for a stable per-request figure.
        // Paced: each request takes 64 × 10 ms, so a fixed number of
        // rounds per user bounds the time (~8 × 0.64 s per level).
        let requests = match pace {
            Pace::ZeroLatency => 20_000u64,
            Pace::Paced => concurrency as u64 * 8,
        };
        let m = rt.block_on(drive(&sim.base_url, concurrency, requests));
        let cpu_us = m.cpu.as_secs_f64() * 1e6;
        let events = m.events.max(1) as f64;
        // The achieved rate is bounded by the simulator, which shares the
        // cores; the client's own ceiling is what one core of its CPU time
        // per request allows.
        println!(
            "client: {name:<12} concurrency {concurrency:>3}: {requests} requests × {TOKENS} tokens in {:.2} s = {:.0} req/s; client CPU {:.1} µs/request, {:.2} µs/event; {:.2} wakeups/event ({} voluntary, {} involuntary context switches); RSS {:+.0} B/request; {} ok",
            m.wall.as_secs_f64(),
            requests as f64 / m.wall.as_secs_f64(),
            cpu_us / requests as f64,
            cpu_us / events,
            m.voluntary as f64 / events,
            m.voluntary,
            m.involuntary,
            m.rss_growth as f64 / requests as f64,
            m.ok,
        );
    }
}

/// What one drive measured, over the client process (this one).
struct Measured {
    cpu: Duration,
    wall: Duration,
    ok: u64,
    /// Content events received.
    events: u64,
    voluntary: u64,
    involuntary: u64,
    rss_growth: i64,
}

/// CPU time and context switches of this process (every thread).
fn usage() -> (Duration, u64, u64) {
    // SAFETY: getrusage writes into the zeroed struct passed; RUSAGE_SELF
    // is always valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    assert_eq!(rc, 0, "getrusage");
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (
        tv(ru.ru_utime) + tv(ru.ru_stime),
        ru.ru_nvcsw as u64,
        ru.ru_nivcsw as u64,
    )
}

async fn drive(base_url: &str, concurrency: usize, requests: u64) -> Measured {
    let client = Arc::new(
        Client::new(
            ClientConfig {
                base_url: tokengate::client::EndpointUrl::parse_base(base_url)
                    .expect("a bench URL"),
                api: ApiKind::Chat,
                model: "sim-model".into(),
                api_key: None,
                streaming: true,
                timeout: Duration::from_secs(60),
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
            max_tokens: Some(TOKENS),
            ignore_eos: true,
            ..Default::default()
        }),
        cancel_after_events: None,
        quality: None,
    });
    // Records go to a recorder task as in `run`, so the figures include
    // recording and the RSS growth is what a run's requests add.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<RequestRecord>(1024);
    let recorder = tokio::spawn(async move {
        let mut recorder = Recorder::new(Slo::default(), None, Some(TOKENS), requests as usize);
        let (mut ok, mut events) = (0u64, 0u64);
        while let Some(r) = rx.recv().await {
            events += r.event_offsets_us.len() as u64;
            if r.outcome == Outcome::Success && r.output_tokens == TOKENS {
                ok += 1;
            }
            recorder.record(&r);
        }
        (recorder, ok, events)
    });
    let next = Arc::new(AtomicU64::new(0));
    let rss0 = resident_memory_bytes().unwrap_or(0) as i64;
    let epoch = Instant::now();
    let (cpu0, vol0, invol0) = usage();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, spec, next, tx) = (client.clone(), spec.clone(), next.clone(), tx.clone());
        tasks.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                let r = client.send(&spec, epoch).await;
                if tx.send(r).await.is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    while tasks.join_next().await.is_some() {}
    let (recorder, ok, events) = recorder.await.expect("recorder task");
    let wall = epoch.elapsed();
    let (cpu1, vol1, invol1) = usage();
    let rss1 = resident_memory_bytes().unwrap_or(0) as i64;
    drop(recorder);
    Measured {
        cpu: cpu1.saturating_sub(cpu0),
        wall,
        ok,
        events,
        voluntary: vol1 - vol0,
        involuntary: invol1 - invol0,
        rss_growth: rss1 - rss0,
    }
}

/// Rounds of the start-up measurement (each binary once per round).
const STARTUP_ROUNDS: usize = 7;

fn startup_cpu() {
    let sim = Sim::start("0");
    let upstream = sim
        .base_url
        .trim_start_matches("http://")
        .trim_end_matches("/v1")
        .to_string();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut bins = vec![("this build", env!("CARGO_BIN_EXE_tokengate").to_string())];
    if let Ok(before) = std::env::var("TOKENGATE_BENCH_BEFORE") {
        bins.push(("before", before));
    }
    let mut results: Vec<Vec<(f64, f64, f64)>> = vec![Vec::new(); bins.len()];
    for round in 0..STARTUP_ROUNDS {
        for (i, (_, bin)) in bins.iter().enumerate() {
            let r = startup_once(bin, &upstream, dir.path(), round);
            // The first round warms the page cache; it is not counted.
            if round > 0 {
                results[i].push(r);
            }
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let mut firsts = Vec::new();
    for ((name, bin), r) in bins.iter().zip(&results) {
        let mut first: Vec<f64> = r.iter().map(|x| x.0).collect();
        let mut total: Vec<f64> = r.iter().map(|x| x.1).collect();
        let mut wall: Vec<f64> = r.iter().map(|x| x.2).collect();
        let (f, t, w) = (median(&mut first), median(&mut total), median(&mut wall));
        firsts.push(f);
        println!(
            "startup: {name:<10} CPU to the first completion request {f:.1} ms, whole run {t:.1} ms CPU, {w:.0} ms wall (medians of {} runs; {bin})",
            r.len()
        );
    }
    if firsts.len() == 2 {
        println!(
            "startup: CPU to the first request, before / this build = {:.2}",
            firsts[1] / firsts[0].max(f64::MIN_POSITIVE)
        );
    }
}

/// CPU time (ms) a process has used, all threads, from
/// `/proc/PID/task/*/schedstat` (nanoseconds on CPU).
fn proc_cpu_ms(pid: u32) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return f64::NAN;
    };
    let mut ns = 0u64;
    for t in tasks.flatten() {
        if let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) {
            ns += s
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    ns as f64 / 1e6
}

/// One `tokengate run` of one request through a forwarding proxy that
/// reads the client's CPU when the first `POST` (the completion request;
/// preflight and the telemetry scrape are `GET`s) reaches it. Returns (CPU
/// to the first request, whole-process CPU, wall), ms.
fn startup_once(bin: &str, upstream: &str, dir: &std::path::Path, round: usize) -> (f64, f64, f64) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("proxy port");
    let port = listener.local_addr().expect("proxy addr").port();
    let workload = dir.join(format!("startup-{round}-{port}.yaml"));
    std::fs::write(
        &workload,
        format!(
            "name: startup\nendpoint: http://127.0.0.1:{port}/v1\napi: chat\nmodel: sim-model\nstream: true\nprompts:\n  inline: [\"Write a haiku about continuous batching.\"]\noutput: {{max_tokens: 16, ignore_eos: true}}\nload: {{mode: closed, concurrency: 1}}\nrequests: 1\ntimeout: 30s\nseed: 7\n"
        ),
    )
    .expect("write workload");
    let pid = Arc::new(AtomicU64::new(0));
    let first_cpu = Arc::new(AtomicU64::new(f64::NAN.to_bits()));
    let seen = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    let proxy = {
        let (pid, first_cpu, seen, stop) =
            (pid.clone(), first_cpu.clone(), seen.clone(), stop.clone());
        let upstream = upstream.to_string();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((down, _)) => {
                        down.set_nonblocking(false).expect("blocking socket");
                        let up = TcpStream::connect(&upstream).expect("connect to the sim");
                        let (pid, first_cpu, seen) = (pid.clone(), first_cpu.clone(), seen.clone());
                        let (mut d2, mut u2) = (
                            down.try_clone().expect("clone"),
                            up.try_clone().expect("clone"),
                        );
                        std::thread::spawn(move || {
                            let _ = std::io::copy(&mut u2, &mut d2);
                            let _ = d2.shutdown(std::net::Shutdown::Write);
                        });
                        std::thread::spawn(move || {
                            let (mut down, mut up) = (down, up);
                            let mut buf = [0u8; 16 * 1024];
                            loop {
                                let n = match down.read(&mut buf) {
                                    Ok(0) | Err(_) => break,
                                    Ok(n) => n,
                                };
                                if buf[..n].starts_with(b"POST ")
                                    && !seen.swap(true, Ordering::SeqCst)
                                {
                                    let cpu = proc_cpu_ms(pid.load(Ordering::SeqCst) as u32);
                                    first_cpu.store(cpu.to_bits(), Ordering::SeqCst);
                                }
                                if up.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                            let _ = up.shutdown(std::net::Shutdown::Write);
                        });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err(e) => panic!("proxy accept: {e}"),
                }
            }
        })
    };
    let t0 = Instant::now();
    let mut child = Command::new(bin)
        .arg("run")
        .arg(&workload)
        .arg("--out")
        .arg(dir.join(format!("b-{round}-{port}.json")))
        .arg("--quiet")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tokengate run");
    pid.store(u64::from(child.id()), Ordering::SeqCst);
    // The whole process's CPU, from wait4's rusage.
    let mut status = 0;
    // SAFETY: wait4 writes the status and the zeroed rusage we pass for a
    // child of this process.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut ru) };
    assert_eq!(rc, child.id() as i32, "wait4");
    let wall = t0.elapsed().as_secs_f64() * 1e3;
    let _ = child.try_wait();
    stop.store(true, Ordering::Relaxed);
    let _ = proxy.join();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "tokengate run failed: {status}"
    );
    let tv = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    (
        f64::from_bits(first_cpu.load(Ordering::SeqCst)),
        tv(ru.ru_utime) + tv(ru.ru_stime),
        wall,
    )
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
