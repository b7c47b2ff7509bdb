//! A server's `usage.completion_tokens` is checked before it is believed
//! (issue 13, defect 7): a count above `max_tokens`, beyond any model, 0
//! although content streamed, or not a non-negative integer cannot make
//! throughput pass — the response's tokens are counted from its content,
//! the bundle says how many responses were refused — and a count of the
//! wrong type no longer turns a streamed response into a malformed event.
//! Over real HTTP: the raw-socket server of `secrets.rs` streams three
//! content tokens and then the usage chunk under test.

use super::common::{run, write_workload};
use super::secrets::Hostile;

fn workload(dir: &std::path::Path, port: u16) -> std::path::PathBuf {
    write_workload(
        dir,
        "w.yaml",
        &format!(
            "name: usage\nendpoint: http://127.0.0.1:{port}/v1\napi: chat\nmodel: sim-model\nprompts:\n  inline: [\"hi there\"]\noutput:\n  max_tokens: 3\nload: {{mode: closed, concurrency: 1}}\nrequests: 6\ntelemetry: {{enabled: false}}\n"
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implausible_usage_is_refused_and_counted_from_the_content() {
    for (usage, believed) in [
        ("1000000000000", false),
        ("4", false),
        ("0", false),
        ("-5", false),
        ("1e30", false),
        ("\"8\"", false),
        ("8.5", false),
        ("3", true),
        ("3.0", true),
    ] {
        let server = Hostile::start_with_usage(vec!["sim-model".into()], Some(usage.into()));
        let dir = tempfile::tempdir().unwrap();
        let w = workload(dir.path(), server.port);
        let out = run(&w, &dir.path().join("b.json"), &[])
            .await
            .unwrap_or_else(|e| panic!("usage {usage}: {e:#}"));
        let b = &out.bundle;
        assert_eq!(
            b.metrics.requests.succeeded, 6,
            "usage {usage}: {:?}",
            b.metrics.errors
        );
        assert!(
            b.metrics.errors.values().all(|&n| n == 0),
            "usage {usage}: {:?}",
            b.metrics.errors
        );
        assert!(
            b.samples.output_tokens.iter().all(|&n| n == 3),
            "usage {usage}: {:?}",
            b.samples.output_tokens
        );
        let warned =
            b.context.warnings.iter().any(|w| {
                w.contains("6 response(s) reported a usage.completion_tokens that cannot be")
            });
        let from_usage = b.context.token_sources.get("usage").copied().unwrap_or(0);
        if believed {
            assert_eq!(
                from_usage, 6,
                "usage {usage}: {:?}",
                b.context.token_sources
            );
            assert!(!warned, "usage {usage}: {:?}", b.context.warnings);
        } else {
            assert_eq!(
                from_usage, 0,
                "usage {usage}: {:?}",
                b.context.token_sources
            );
            assert!(warned, "usage {usage}: {:?}", b.context.warnings);
        }
        // Three tokens per response, whatever the server claimed: the
        // throughput is that of three-token responses, not 10^12.
        assert!(
            b.metrics.output_tokens_per_s < 1e5,
            "usage {usage}: {}",
            b.metrics.output_tokens_per_s
        );
    }
}

/// Start-up (issue 18): the tokenizer is built on first need only, and a
/// server that reports no usage still has every response counted — output
/// tokens by the tokenizer over the streamed text ("a", " b", " c": 3),
/// input tokens by the prompt's own count — while one that reports usage
/// is believed for both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_usage_the_lazily_built_tokenizer_still_counts_every_response() {
    let tok = tokengate::tokenizer::Tokenizer::load(
        &tokengate::tokenizer::TokenizerSpec::Embedded("o200k_base".into()),
    )
    .expect("embedded tokenizer");
    let prompt_tokens = tok.count("hi there\n") as u64;
    for (usage, source, input_each) in [(None, "tokenizer", prompt_tokens), (Some("3"), "usage", 2)]
    {
        let server = Hostile::start_with_usage(vec!["sim-model".into()], usage.map(String::from));
        let dir = tempfile::tempdir().unwrap();
        let w = workload(dir.path(), server.port);
        let out = run(&w, &dir.path().join("b.json"), &[])
            .await
            .unwrap_or_else(|e| panic!("usage {usage:?}: {e:#}"));
        let b = &out.bundle;
        assert_eq!(b.metrics.requests.succeeded, 6, "usage {usage:?}");
        assert_eq!(
            b.context.token_sources.get(source).copied(),
            Some(6),
            "usage {usage:?}: {:?}",
            b.context.token_sources
        );
        assert!(
            b.samples.output_tokens.iter().all(|&n| n == 3),
            "usage {usage:?}: {:?}",
            b.samples.output_tokens
        );
        assert_eq!(
            b.metrics.tokens.input_total,
            6 * input_each,
            "usage {usage:?}"
        );
    }
}
