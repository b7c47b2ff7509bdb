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
    assert_eq!(plan.digest, again.digest);
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

#[test]
fn example_workloads_parse() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in ["examples/quickstart.yaml", "examples/chat-mix.yaml"] {
        let plan = load_plan(&root.join(name), &Overrides::default(), &no_env)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!plan.digest.is_empty());
    }
}
