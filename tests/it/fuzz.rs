//! Property tests as a bounded fuzzing pass (CI runs them on every push):
//! the parsers that read text from servers and users never panic, and
//! what they reject they reject with an error.

use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Lines that look like Prometheus expositions, with the characters that
/// matter to the parser over-represented.
fn exposition() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("vllm:num_requests_running".to_string()),
        Just("_bucket{le=\"0.5\",model_name=\"m\"}".to_string()),
        Just("{le=\"+Inf\"}".to_string()),
        Just(" 1.5e3".to_string()),
        Just(" NaN".to_string()),
        Just("\\\"".to_string()),
        Just("# HELP x y\n".to_string()),
        Just("\n".to_string()),
        "[ -~]{0,12}".prop_map(|s| s),
        any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn prometheus_parser_never_panics(text in exposition()) {
        if let Ok(e) = tokengate::telemetry::parse_exposition(&text) {
            // Whatever parsed can be summarised without panicking either.
            let _ = e.histogram("vllm:num_requests_running");
            let _ = tokengate::telemetry::summarize("u", 1, &e, &e, &Default::default());
        }
    }

    #[test]
    fn workload_parser_never_panics(
        text in prop::collection::vec(prop_oneof![
            Just("name: t\n".to_string()),
            Just("endpoint: sim://default\n".to_string()),
            Just("model: m\n".to_string()),
            Just("prompts:\n  inline: [\"hi\"]\n".to_string()),
            Just("load: {mode: closed, concurrency: 2}\n".to_string()),
            Just("requests: 5\n".to_string()),
            Just("duration: 10s\n".to_string()),
            Just("cancel: {probability: 120%, after_tokens: 0}\n".to_string()),
            Just("  - {name: c, input_tokens: 0, weight: -1}\n".to_string()),
            "[ -~\n]{0,30}".prop_map(|s| s),
        ], 0..12).prop_map(|v| v.concat())
    ) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.yaml");
        std::fs::write(&p, &text).unwrap();
        // Synthetic classes would build prompts; keep cases cheap but real.
        let _ = tokengate::workload::load_plan(&p, &Default::default(), &|_| None);
    }

    #[test]
    fn gate_parser_never_panics(text in "[ -~\n]{0,200}") {
        let _ = tokengate::gate::parse_gate_file(&text, "fuzz.yaml");
        let _ = tokengate::gate::parse_waivers(&text, "fuzz.yaml");
    }

    #[test]
    fn bundle_reader_never_panics(cut in 0usize..4000, flip in any::<u8>(), at in 0usize..4000) {
        // Mutations of a real bundle: truncated, one byte changed.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let sets = tokengate::baseline::load_sets(
            &tokengate::baseline::BaselineSource::Dir(root.join("baselines")),
        ).unwrap();
        let bytes = std::fs::read(root.join(&sets[0].runs[0].location)).unwrap();
        let mut b = bytes[..cut.min(bytes.len())].to_vec();
        if !b.is_empty() {
            let i = at % b.len();
            b[i] = flip;
        }
        let _ = tokengate::bundle::parse_bundle(&b, std::path::Path::new("fuzz.json"));
    }
}

/// Long fuzzing runs, by hand (not in CI):
/// `TOKENGATE_FUZZ_SECS=600 TOKENGATE_FUZZ_TARGET=sse cargo test --release --test it -- --ignored fuzz::long_fuzz --nocapture`
/// with target `sse`, `prometheus`, `workload`, `gate` or `bundle`. Prints
/// the executions; a panic is a finding (proptest prints the input).
#[test]
#[ignore = "long fuzzing run, started by hand"]
fn long_fuzz() {
    use proptest::test_runner::{Config, TestRunner};
    let secs: u64 = std::env::var("TOKENGATE_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let target = std::env::var("TOKENGATE_FUZZ_TARGET").unwrap_or_else(|_| "sse".into());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    // Every closure call counts: the executions printed are exact.
    let calls = std::sync::atomic::AtomicU64::new(0);
    let count = || calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let sets = tokengate::baseline::load_sets(&tokengate::baseline::BaselineSource::Dir(
        root.join("baselines"),
    ))
    .unwrap();
    let bundle_bytes = std::fs::read(root.join(&sets[0].runs[0].location)).unwrap();
    while std::time::Instant::now() < deadline {
        // A fresh runner (fresh random seed) per batch of 1,000 cases.
        let mut runner = TestRunner::new(Config {
            cases: 1_000,
            failure_persistence: None,
            ..Config::default()
        });
        let result = match target.as_str() {
            "sse" => runner
                .run(
                    &(
                        prop::collection::vec(any::<u8>(), 0..4096),
                        prop::collection::vec(1usize..64, 1..64),
                    ),
                    |(bytes, cuts)| {
                        count();
                        let mut d = tokengate::client::SseDecoder::with_limit(1024);
                        let mut i = 0;
                        for c in cuts.iter().cycle() {
                            if i >= bytes.len() {
                                break;
                            }
                            let j = (i + c).min(bytes.len());
                            let _ =
                                d.feed(&bytes[i..j], |_| std::ops::ControlFlow::<()>::Continue(()));
                            i = j;
                        }
                        Ok(())
                    },
                )
                .map_err(|e| e.to_string()),
            "prometheus" => runner
                .run(&exposition(), |text| {
                    count();
                    if let Ok(e) = tokengate::telemetry::parse_exposition(&text) {
                        let _ =
                            tokengate::telemetry::summarize("u", 1, &e, &e, &Default::default());
                    }
                    Ok(())
                })
                .map_err(|e| e.to_string()),
            "workload" => runner
                .run(&"[ -~\n]{0,300}", |text| {
                    count();
                    let dir = tempfile::tempdir().unwrap();
                    let p = dir.path().join("w.yaml");
                    std::fs::write(&p, &text).unwrap();
                    let _ = tokengate::workload::load_plan(&p, &Default::default(), &|_| None);
                    Ok(())
                })
                .map_err(|e| e.to_string()),
            "gate" => runner
                .run(&"[ -~\n]{0,300}", |text| {
                    count();
                    let _ = tokengate::gate::parse_gate_file(&text, "fuzz.yaml");
                    let _ = tokengate::gate::parse_waivers(&text, "fuzz.yaml");
                    Ok(())
                })
                .map_err(|e| e.to_string()),
            "bundle" => runner
                .run(
                    &(
                        0usize..bundle_bytes.len(),
                        any::<u8>(),
                        0usize..bundle_bytes.len(),
                    ),
                    |(cut, flip, at)| {
                        count();
                        let mut b = bundle_bytes[..cut].to_vec();
                        if !b.is_empty() {
                            let i = at % b.len();
                            b[i] = flip;
                        }
                        let _ = tokengate::bundle::parse_bundle(&b, std::path::Path::new("f.json"));
                        Ok(())
                    },
                )
                .map_err(|e| e.to_string()),
            other => panic!("unknown fuzz target {other}"),
        };
        result.unwrap();
    }
    let executions = calls.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!("fuzz target {target}: {executions} executions in {secs} s, no finding");
}
