//! Workload files: errors name the file, line and field; plans are
//! deterministic.

use tokengate::workload::{Overrides, load_plan};

fn no_env(_: &str) -> Option<String> {
    None
}

#[test]
fn unknown_field_is_an_error_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = super::common::write_workload(
        dir.path(),
        "w.yaml",
        "name: t\nendpoint: sim://default\nmodel: m\nprompts:\n  inline: [\"hi\"]\nload:\n  mode: closed\n  concurrency: 2\n  concurency: 3\nrequests: 5\n",
    );
    let err = load_plan(&p, &Overrides::default(), &no_env)
        .unwrap_err()
        .to_string();
    assert!(err.contains("w.yaml:9:"), "{err}");
    assert!(err.contains("concurency"), "{err}");
}

#[test]
fn zero_concurrency_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = super::common::write_workload(
        dir.path(),
        "w.yaml",
        "name: t\nendpoint: sim://default\nmodel: m\nprompts:\n  inline: [\"hi\"]\nload:\n  mode: closed\n  concurrency: 0\nrequests: 5\n",
    );
    let err = load_plan(&p, &Overrides::default(), &no_env)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("w.yaml") && err.contains("load.concurrency"),
        "{err}"
    );
}

#[test]
fn empty_prompt_set_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let p = super::common::write_workload(
        dir.path(),
        "w.yaml",
        "name: t\nendpoint: sim://default\nmodel: m\nprompts: {}\nload:\n  mode: closed\n  concurrency: 1\nrequests: 5\n",
    );
    let err = load_plan(&p, &Overrides::default(), &no_env)
        .unwrap_err()
        .to_string();
    assert!(err.contains("field `prompts`"), "{err}");
}

#[test]
fn synthetic_classes_have_their_token_targets_and_mix() {
    let dir = tempfile::tempdir().unwrap();
    let p = super::common::write_workload(
        dir.path(),
        "w.yaml",
        "name: t\nendpoint: sim://default\nmodel: m\nprompts:\n  classes:\n    - {name: short, input_tokens: 32, weight: 50}\n    - {name: medium, input_tokens: 256, weight: 35}\n    - {name: long, input_tokens: 1024, weight: 10}\n    - {name: extreme, input_tokens: 3000, weight: 5}\noutput: {max_tokens: 16}\nload: {mode: closed, concurrency: 4}\nrequests: 2000\nseed: 3\n",
    );
    let plan = load_plan(&p, &Overrides::default(), &no_env).unwrap();
    let mut counts = [0u32; 4];
    for i in 0..2000 {
        let r = plan.request(i);
        counts[r.class as usize] += 1;
        let target = [32, 256, 1024, 3000][r.class as usize];
        assert_eq!(r.spec.prompt_tokens, target);
        if i < 20 {
            let text = match &*r.spec.prompt {
                tokengate::client::Prompt::Chat(m) => m[0].content.clone(),
                tokengate::client::Prompt::Text(t) => t.clone(),
            };
            assert_eq!(plan.tokenizer.count(&text), target as usize);
        }
    }
    // 50/35/10/5 % of 2000 within sampling noise (±4 standard deviations).
    for (c, share) in counts.iter().zip([0.50f64, 0.35, 0.10, 0.05]) {
        let expected = 2000.0 * share;
        let sd = (2000.0 * share * (1.0 - share)).sqrt();
        assert!((*c as f64 - expected).abs() < 4.0 * sd, "{counts:?}");
    }
    // Same seed, same plan: request 17 is the same prompt.
    let again = load_plan(&p, &Overrides::default(), &no_env).unwrap();
    assert_eq!(plan.request(17).spec.prompt, again.request(17).spec.prompt);
    assert_eq!(plan.digest(), again.digest());
}

#[test]
fn key_fields_come_from_file_then_environment_then_meta() {
    let dir = tempfile::tempdir().unwrap();
    let p = super::common::write_workload(
        dir.path(),
        "w.yaml",
        "name: t\nendpoint: http://127.0.0.1:9/v1\nmodel: m\nprompts:\n  inline: [\"hi\"]\nload: {mode: closed, concurrency: 1}\nrequests: 5\nkey:\n  model_version: from-file\n  serving_image: img-file\n  hardware_profile: hw-file\n",
    );
    let env = |k: &str| match k {
        "TOKENGATE_SERVING_IMAGE" => Some("img-env".to_string()),
        "TOKENGATE_HARDWARE_PROFILE" => Some("hw-env".to_string()),
        _ => None,
    };
    let overrides = Overrides {
        meta: vec![
            ("hardware_profile".into(), "hw-meta".into()),
            ("team".into(), "serving".into()),
        ],
        ..Default::default()
    };
    let plan = load_plan(&p, &overrides, &env).unwrap();
    assert_eq!(plan.key.model_version, "from-file");
    assert_eq!(plan.key.serving_image, "img-env");
    assert_eq!(plan.key.hardware_profile, "hw-meta");
    assert_eq!(plan.key.tokenizer, "o200k_base");
    assert_eq!(plan.meta.get("team").map(String::as_str), Some("serving"));
}

/// Digest of `examples/quickstart.yaml` (digest version 2: without the
/// request count).
const QUICKSTART_DIGEST: &str =
    "sha256:fffecda56ff9663c31f92a7bf06ee228ceffa7d8183216012cc89ebeceeb7261";

/// The workload digest decides which baselines a run is compared with. A
/// change to how plans are built must leave these bytes alone.
#[test]
fn example_workload_digests_stay_byte_identical() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, digest) in [
        ("examples/quickstart.yaml", QUICKSTART_DIGEST),
        (
            "examples/chat-mix.yaml",
            "sha256:5c54d9ac3e85f5b6cde0c5660a70ecf121a35bb69b055280ee7f2fde54572507",
        ),
        (
            "examples/capacity.yaml",
            "sha256:172d5d2f6af868360b16a27737fdf3da38be2b2fbc6217a2c27c9b3b78f4070d",
        ),
    ] {
        let plan = load_plan(&root.join(name), &Overrides::default(), &no_env)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(plan.digest(), digest, "{name}");
    }
}

/// The committed baselines in `baselines/quickstart/` must carry the
/// quickstart's digest, or `tokengate check examples/quickstart.yaml` finds
/// no comparable baseline. They were recorded under digest version 1 and are
/// regenerated (`tokengate baseline promote`) when issue 12's defaults land.
#[test]
fn committed_quickstart_baselines_carry_the_quickstart_digest() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let set =
        root.join("baselines/quickstart/simulated/o200k_base/sim-model@tokengate-sim_quickstart");
    let mut checked = 0;
    for entry in std::fs::read_dir(&set).expect("committed baselines") {
        let path = entry.expect("baseline entry").path();
        let bytes = std::fs::read(&path).expect("read baseline");
        let bundle: serde_json::Value = serde_json::from_slice(&bytes).expect("baseline json");
        assert_eq!(
            bundle["context"]["workload_digest"],
            QUICKSTART_DIGEST,
            "{}",
            path.display()
        );
        checked += 1;
    }
    assert!(checked > 0, "no committed baselines in {}", set.display());
}

fn example_plan(name: &str, overrides: &Overrides) -> tokengate::workload::Plan {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    load_plan(&root.join(name), overrides, &no_env).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The sample size is not part of what is compared: 100 or 300 requests, or
/// 20 s instead of 60 s, measure the same workload — for fixed prompts and
/// for synthetic classes, whose pools grow with the planned requests.
#[test]
fn changing_the_sample_size_keeps_the_digest_and_the_shape() {
    for name in [
        "examples/quickstart.yaml",
        "examples/chat-mix.yaml",
        "examples/capacity.yaml",
    ] {
        let base = example_plan(name, &Overrides::default());
        for overrides in [
            Overrides {
                requests: Some(100),
                ..Default::default()
            },
            Overrides {
                requests: Some(300),
                ..Default::default()
            },
            Overrides {
                duration: Some(std::time::Duration::from_secs(20)),
                ..Default::default()
            },
        ] {
            let other = example_plan(name, &overrides);
            assert_eq!(other.digest(), base.digest(), "{name} with {overrides:?}");
            assert_eq!(other.shape(), base.shape(), "{name} with {overrides:?}");
        }
    }
    let shape = example_plan("examples/quickstart.yaml", &Overrides::default())
        .shape()
        .clone();
    assert!(!shape.keys().any(|k| k.contains("request")), "{shape:?}");
}

/// Every field the digest covers has words in the shape: a change that
/// changes the digest changes the named shape field, so a refusal can say
/// which field differs.
#[test]
fn every_digest_change_shows_in_the_named_shape_field() {
    let base = "name: t\nendpoint: sim://default\napi: chat\nstream: true\nmodel: m\nprompts:\n  inline: [\"hi there\", \"a second prompt\"]\noutput: {max_tokens: 64, ignore_eos: true}\nsampling: {temperature: 0}\nload: {mode: closed, concurrency: 16}\nrequests: 50\nwarmup: {requests: 16}\nseed: 7\n";
    let dir = tempfile::tempdir().unwrap();
    let plan_of = |name: &str, yaml: &str| {
        let p = super::common::write_workload(dir.path(), name, yaml);
        load_plan(&p, &Overrides::default(), &no_env).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let reference = plan_of("base.yaml", base);
    assert_eq!(reference.shape()["load"], "closed, concurrency 16");
    assert_eq!(reference.shape()["max_tokens"], "64");
    assert_eq!(reference.shape()["warmup"], "16 requests");
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "concurrency 16",
            "concurrency: 16}",
            "concurrency: 8}",
            "load",
        ),
        (
            "think time",
            "concurrency: 16}",
            "concurrency: 16, think_time: 500ms}",
            "load",
        ),
        (
            "open loop",
            "{mode: closed, concurrency: 16}",
            "{mode: open, rate: 4, arrival: constant}",
            "load",
        ),
        (
            "max_tokens",
            "max_tokens: 64",
            "max_tokens: 32",
            "max_tokens",
        ),
        (
            "ignore_eos",
            "ignore_eos: true",
            "ignore_eos: false",
            "ignore_eos",
        ),
        (
            "stop",
            "ignore_eos: true}",
            "ignore_eos: true, stop: [\"END\"]}",
            "stop",
        ),
        (
            "temperature",
            "temperature: 0}",
            "temperature: 0.5}",
            "temperature",
        ),
        (
            "top_p",
            "temperature: 0}",
            "temperature: 0, top_p: 0.9}",
            "top_p",
        ),
        ("a prompt", "\"hi there\"", "\"hi again\"", "prompts"),
        (
            "warm-up",
            "warmup: {requests: 16}",
            "warmup: {requests: 4}",
            "warmup",
        ),
        ("seed", "seed: 7", "seed: 8", "seed"),
        ("streaming", "stream: true", "stream: false", "streaming"),
        ("api", "api: chat", "api: completions", "api"),
        (
            "cancellations",
            "seed: 7\n",
            "seed: 7\ncancel: {probability: 5%, after_tokens: 3}\n",
            "cancel",
        ),
        (
            "weights",
            "[\"hi there\", \"a second prompt\"]",
            "[{text: \"hi there\", weight: 3}, {text: \"a second prompt\", weight: 1}]",
            "prompt_order",
        ),
    ];
    for (i, (what, from, to, field)) in cases.iter().enumerate() {
        assert!(base.contains(from), "{what}: `{from}` not in the base");
        let changed = plan_of(&format!("case{i}.yaml"), &base.replacen(from, to, 1));
        assert_ne!(
            changed.digest(),
            reference.digest(),
            "{what}: digest unchanged"
        );
        assert_ne!(
            changed.shape().get(*field),
            reference.shape().get(*field),
            "{what}: shape field `{field}` unchanged: {:?}",
            changed.shape()
        );
    }
    // A mix names each class's fields by class.
    let mix = plan_of(
        "mix.yaml",
        "name: t\nendpoint: sim://default\nmodel: m\nprompts:\n  classes:\n    - {name: short, input_tokens: 32, weight: 3, max_tokens: 16}\n    - {name: long, input_tokens: 256, weight: 1, max_tokens: 64}\noutput: {ignore_eos: true}\nload: {mode: open, rate: 2, arrival: poisson}\nduration: 10s\n",
    );
    assert_eq!(mix.shape()["classes"], "short (75 %), long (25 %)");
    assert_eq!(mix.shape()["short.max_tokens"], "16");
    assert_eq!(
        mix.shape()["long.prompts"].split(',').next(),
        Some("synthetic")
    );
    assert_eq!(mix.shape()["load"], "open, 2 req/s, poisson arrivals");
}

#[test]
fn durations_and_rates_take_the_shared_units_grammar() {
    let dir = tempfile::tempdir().unwrap();
    let p = super::common::write_workload(
        dir.path(),
        "w.yaml",
        "name: t\nendpoint: sim://default\nmodel: m\nprompts:\n  inline: [\"hi\"]\nload: {mode: closed, concurrency: 2, think_time: 800µs}\nrequests: 5\ntimeout: 2m\nretry: {max_attempts: 2, backoff: 1.5s, max_retry_after: 0.5h}\n",
    );
    let plan = load_plan(&p, &Overrides::default(), &no_env).unwrap();
    assert_eq!(
        plan.load,
        tokengate::workload::LoadPlan::Closed {
            concurrency: 2,
            think_time: std::time::Duration::from_micros(800)
        }
    );
    assert_eq!(plan.timeout, std::time::Duration::from_secs(120));
    let retry = plan.retry.expect("two attempts retry");
    assert_eq!(retry.backoff, std::time::Duration::from_millis(1500));
    assert_eq!(retry.max_retry_after, std::time::Duration::from_secs(1800));

    let open = super::common::write_workload(
        dir.path(),
        "open.yaml",
        "name: t\nendpoint: sim://default\nmodel: m\nprompts:\n  inline: [\"hi\"]\nload: {mode: open, rate: 2.5 req/s}\nduration: 10s\n",
    );
    let plan = load_plan(&open, &Overrides::default(), &no_env).unwrap();
    assert!(
        matches!(plan.load, tokengate::workload::LoadPlan::Open { rate, .. } if rate == 2.5),
        "{:?}",
        plan.load
    );
}

#[test]
fn a_malformed_duration_names_file_line_and_the_grammar() {
    let dir = tempfile::tempdir().unwrap();
    let p = super::common::write_workload(
        dir.path(),
        "w.yaml",
        "name: t\nendpoint: sim://default\nmodel: m\nprompts:\n  inline: [\"hi\"]\nload: {mode: closed, concurrency: 1}\nrequests: 5\ntimeout: 5 sec\n",
    );
    let err = load_plan(&p, &Overrides::default(), &no_env)
        .unwrap_err()
        .to_string();
    assert!(err.contains("w.yaml:8:"), "{err}");
    assert!(
        err.contains("expected a duration like `500ms`, `30s` or `2m`, got `5 sec`"),
        "{err}"
    );
}
