//! The committed JSON Schemas of the files users write (workload, gate,
//! waivers) and of the JSON verdict: generated from the Rust types, up to
//! date, every example in the repository validates, and a misspelt key is
//! refused by the schema and by the tool's own loader alike.

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tokengate() -> Command {
    Command::cargo_bin("tokengate").expect("binary built")
}

/// Every committed schema, with the function that generates it.
fn schemas() -> [(&'static str, Value); 4] {
    [
        (
            "schemas/workload.schema.json",
            tokengate::workload::workload_json_schema(),
        ),
        (
            "schemas/gate.schema.json",
            tokengate::gate::gate_json_schema(),
        ),
        (
            "schemas/waivers.schema.json",
            tokengate::gate::waivers_json_schema(),
        ),
        (
            "schemas/verdict.schema.json",
            tokengate::report::verdict_json_schema(),
        ),
    ]
}

fn committed(name: &str) -> Value {
    let path = root().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Violations of the committed schema `schema` by `instance` (empty when it
/// validates).
fn schema_errors(schema: &str, instance: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(&committed(schema)).expect("a valid schema");
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// A YAML file as the JSON value a schema validator sees.
fn yaml_value(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The files of `dir` ending in `.yaml`, sorted.
fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .expect("read dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// Workload files: every `examples/*.yaml` except the waivers example, and
/// the validity harness's workload.
fn workload_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = yaml_files("examples")
        .into_iter()
        .filter(|p| !p.ends_with("waivers.yaml"))
        .collect();
    files.push(root().join("tests/validity/workload.yaml"));
    files
}

/// The bundle schema's update switch (`run::real_bundle_validates_against_
/// the_committed_schema`) for these four too: `TOKENGATE_UPDATE_SCHEMA=1`
/// rewrites them; without it a stale file fails.
#[test]
fn committed_schemas_are_the_generated_ones() {
    for (name, generated) in schemas() {
        if std::env::var_os("TOKENGATE_UPDATE_SCHEMA").is_some() {
            let text = serde_json::to_string_pretty(&generated).expect("schema JSON") + "\n";
            std::fs::create_dir_all(root().join("schemas")).expect("mkdir schemas");
            std::fs::write(root().join(name), text).expect("write schema");
        }
        assert_eq!(
            committed(name),
            generated,
            "{name} is stale: rerun with TOKENGATE_UPDATE_SCHEMA=1"
        );
    }
}

/// Each example names its schema on its first line, by a path that exists
/// relative to the file, so an editor running yaml-language-server
/// validates it.
#[test]
fn every_example_names_its_schema_on_the_first_line() {
    let mut checked = 0;
    let pairs = workload_files()
        .into_iter()
        .map(|p| (p, "workload.schema.json"))
        .chain(
            yaml_files("gates")
                .into_iter()
                .map(|p| (p, "gate.schema.json")),
        )
        .chain([(root().join("examples/waivers.yaml"), "waivers.schema.json")]);
    for (path, schema) in pairs {
        let text = std::fs::read_to_string(&path).expect("read example");
        let first = text.lines().next().unwrap_or_default();
        let target = first
            .strip_prefix("# yaml-language-server: $schema=")
            .unwrap_or_else(|| panic!("{}: first line is `{first}`", path.display()));
        assert!(target.ends_with(schema), "{}: {target}", path.display());
        let resolved = path.parent().expect("a directory").join(target);
        assert!(
            resolved.is_file(),
            "{}: {}",
            path.display(),
            resolved.display()
        );
        checked += 1;
    }
    assert!(checked >= 8, "{checked} examples");
}

#[test]
fn every_workload_example_validates_and_loads() {
    let files = workload_files();
    assert!(files.len() >= 4, "{files:?}");
    for path in files {
        let errors = schema_errors("schemas/workload.schema.json", &yaml_value(&path));
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        tokengate::workload::load_plan(
            &path,
            &tokengate::workload::Overrides::default(),
            &|_: &str| None,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

#[test]
fn every_gate_file_validates_and_loads() {
    let files = yaml_files("gates");
    assert!(files.len() >= 3, "{files:?}");
    for path in files {
        let errors = schema_errors("schemas/gate.schema.json", &yaml_value(&path));
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        tokengate::gate::load_gate_file(&path).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn the_waivers_example_validates_and_loads() {
    let path = root().join("examples/waivers.yaml");
    let errors = schema_errors("schemas/waivers.schema.json", &yaml_value(&path));
    assert!(errors.is_empty(), "{errors:?}");
    let waivers = tokengate::gate::load_waivers(&path).expect("waivers load");
    assert_eq!(waivers.len(), 1);
}

/// Shapes the loaders accept that the examples do not show: the schema
/// takes them too (a schema stricter than the tool would flag good files).
#[test]
fn the_schemas_accept_what_the_loaders_accept() {
    let workload = r#"
name: w
endpoint: sim://default
model: m
tokenizer: {file: tok.json}
prompts:
  inline:
    - plain text
    - {prompt: "the alias of text", weight: 2}
    - {messages: [{role: user, content: hi}], expect: {json: true}}
load: {mode: open, rate: 2.5 req/s, arrival: constant}
duration: 90
warmup: {duration: 800µs}
timeout: 1.5 s
cancel: {probability: 0.05, after_tokens: 3}
retry: {max_attempts: 2, on: [connect, http_5xx], backoff: 1}
"#;
    let value: Value = serde_saphyr::from_str(workload).expect("yaml");
    let errors = schema_errors("schemas/workload.schema.json", &value);
    assert!(errors.is_empty(), "{errors:?}");
    let gate = "name: g\nrules:\n  - metric: cost_per_1k\n    max: 2.5\n  - metric: sweep.knee\n    min: 8\n    severity: warn\n";
    let value: Value = serde_saphyr::from_str(gate).expect("yaml");
    let errors = schema_errors("schemas/gate.schema.json", &value);
    assert!(errors.is_empty(), "{errors:?}");
    tokengate::gate::parse_gate_file(gate, "g.yaml").expect("the loader takes it too");
}

/// The gate's "exactly one limit per rule" and the waivers' "at least one
/// key field" are in the schemas, not only in the loaders.
#[test]
fn the_schemas_refuse_what_the_loaders_refuse() {
    for (schema, yaml) in [
        (
            "schemas/gate.schema.json",
            "name: g\nrules:\n  - metric: ttft.p95\n    max_increase: 15%\n    max: 1s\n",
        ),
        (
            "schemas/gate.schema.json",
            "name: g\nrules:\n  - metric: ttft.p95\n",
        ),
        ("schemas/gate.schema.json", "name: g\nrules: []\n"),
        (
            "schemas/gate.schema.json",
            "name: g\npolicy: {min_run_cv: 0.03}\nrules:\n  - {metric: ttft.p50, max_increase: 15%}\n",
        ),
        (
            "schemas/waivers.schema.json",
            "- {rule: r, key: {}, approver: a, reason: b, expires: 2027-01-01}\n",
        ),
        (
            "schemas/waivers.schema.json",
            "- {rule: r, key: {tokenizer: t}, approver: a, reason: b, expires: 1 Jan 2027}\n",
        ),
        (
            "schemas/workload.schema.json",
            "name: w\nendpoint: sim://default\nmodel: sim-model\nprompts: {inline: [hi]}\nload: {mode: closed, concurrency: 1}\ntimeout: 30 sec\n",
        ),
    ] {
        let value: Value = serde_saphyr::from_str(yaml).expect("yaml");
        assert!(
            !schema_errors(schema, &value).is_empty(),
            "{schema} took:\n{yaml}"
        );
        let loaded = if schema.contains("gate") {
            tokengate::gate::parse_gate_file(yaml, "g.yaml").is_ok()
        } else if schema.contains("waivers") {
            tokengate::gate::parse_waivers(yaml, "w.yaml").is_ok()
        } else {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("w.yaml");
            std::fs::write(&path, format!("{yaml}requests: 10\n")).expect("write");
            let overrides = tokengate::workload::Overrides::default();
            tokengate::workload::load_plan(&path, &overrides, &|_: &str| None).is_ok()
        };
        assert!(!loaded, "the loader took what {schema} refuses:\n{yaml}");
    }
}

/// Copy `example` into `dir` with `from` replaced by `to` (once, and it must
/// be there).
fn misspelt(dir: &Path, example: &str, from: &str, to: &str) -> PathBuf {
    let text = std::fs::read_to_string(root().join(example)).expect("read example");
    assert!(text.contains(from), "{example} has no `{from}`");
    let path = dir.join(Path::new(example).file_name().expect("a file name"));
    std::fs::write(&path, text.replacen(from, to, 1)).expect("write copy");
    path
}

/// The schema's complaint about `path` must name the misspelt key.
fn assert_schema_refuses(schema: &str, path: &Path, key: &str) {
    let errors = schema_errors(schema, &yaml_value(path));
    assert!(
        errors.iter().any(|e| e.contains(key)),
        "{schema} did not name `{key}`: {errors:?}"
    );
}

/// The tool's complaint: exit 2, naming the file and the field.
fn assert_tool_refuses(out: std::process::Output, path: &Path, key: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(
        stderr.contains(&format!("unknown field `{key}`")),
        "{stderr}"
    );
    stderr
}

#[test]
fn a_misspelt_workload_key_is_refused_by_the_schema_and_the_tool() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = misspelt(
        dir.path(),
        "examples/quickstart.yaml",
        "  max_tokens: 64",
        "  max_tokns: 64",
    );
    assert_schema_refuses("schemas/workload.schema.json", &path, "max_tokns");
    let out = tokengate()
        .current_dir(dir.path())
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(dir.path().join("bundle.json"))
        .output()
        .expect("run tokengate");
    let stderr = assert_tool_refuses(out, &path, "max_tokns");
    assert!(!dir.path().join("bundle.json").exists(), "{stderr}");
}

#[test]
fn a_misspelt_gate_key_is_refused_by_the_schema_and_the_tool() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = misspelt(
        dir.path(),
        "gates/default.yaml",
        "    max_decrease: 10%",
        "    max_decrese: 10%",
    );
    assert_schema_refuses("schemas/gate.schema.json", &path, "max_decrese");
    let out = tokengate()
        .current_dir(dir.path())
        .arg("gate")
        .arg(root().join("tests/fixtures/ci/bundle.json"))
        .arg("--gate")
        .arg(&path)
        .output()
        .expect("run tokengate");
    assert_tool_refuses(out, &path, "max_decrese");
}

#[test]
fn a_misspelt_waiver_key_is_refused_by_the_schema_and_the_tool() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = misspelt(
        dir.path(),
        "examples/waivers.yaml",
        "  approver:",
        "  aprover:",
    );
    assert_schema_refuses("schemas/waivers.schema.json", &path, "aprover");
    let out = tokengate()
        .current_dir(dir.path())
        .arg("gate")
        .arg(root().join("tests/fixtures/ci/bundle.json"))
        .arg("--gate")
        .arg(root().join("gates/default.yaml"))
        .arg("--waivers")
        .arg(&path)
        .output()
        .expect("run tokengate");
    assert_tool_refuses(out, &path, "aprover");
}

/// The first committed quickstart baseline run: as a candidate it has
/// comparable baselines, so its verdict carries relative decisions.
fn committed_baseline_run() -> PathBuf {
    let set =
        root().join("baselines/quickstart/simulated/o200k_base/sim-model@tokengate-sim_quickstart");
    let mut runs: Vec<PathBuf> = std::fs::read_dir(set)
        .expect("committed baselines")
        .map(|e| e.expect("dir entry").path())
        .collect();
    runs.sort();
    runs.into_iter().next().expect("a committed baseline run")
}

/// `tokengate gate` with each committed gate, on the CI fixture bundle (no
/// comparable baseline: skipped and too-few decisions) and on a committed
/// baseline run (relative, absolute, rate and point decisions): every
/// verdict it writes validates and carries its schema version.
#[test]
fn verdicts_written_by_the_gate_validate_against_the_committed_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut kinds = std::collections::BTreeSet::new();
    for (c, candidate) in [
        root().join("tests/fixtures/ci/bundle.json"),
        committed_baseline_run(),
    ]
    .iter()
    .enumerate()
    {
        for gate in yaml_files("gates") {
            let stem = format!(
                "{c}-{}",
                gate.file_stem().expect("a name").to_string_lossy()
            );
            let json = dir.path().join(format!("{stem}.verdict.json"));
            let out = tokengate()
                .current_dir(root())
                .arg("gate")
                .arg(candidate)
                .arg("--gate")
                .arg(&gate)
                .args(["--baseline-dir", "baselines"])
                .arg("--waivers")
                .arg("examples/waivers.yaml")
                .arg("--json")
                .arg(&json)
                .arg("--junit")
                .arg(dir.path().join(format!("{stem}.junit.xml")))
                .arg("--markdown")
                .arg(dir.path().join(format!("{stem}.report.md")))
                .output()
                .expect("run tokengate");
            let what = format!("{} with {}", candidate.display(), gate.display());
            assert!(
                out.status
                    .code()
                    .is_some_and(|c| matches!(c, 0 | 1 | 3 | 4)),
                "{what}: {out:?}"
            );
            let verdict: Value =
                serde_json::from_str(&std::fs::read_to_string(&json).expect("verdict written"))
                    .expect("verdict JSON");
            let errors = schema_errors("schemas/verdict.schema.json", &verdict);
            assert!(errors.is_empty(), "{what}: {errors:?}");
            assert_eq!(
                verdict["schema_version"],
                tokengate::gate::VERDICT_SCHEMA_VERSION,
                "{what}"
            );
            for rule in verdict["rules"].as_array().expect("rules") {
                kinds.insert(rule["decision"]["kind"].as_str().expect("kind").to_owned());
            }
        }
    }
    for kind in ["relative", "absolute", "rate_ceiling", "skipped"] {
        assert!(kinds.contains(kind), "no `{kind}` decision among {kinds:?}");
    }
}

/// The report fixture of `tests/it/report.rs` (waivers, intervals, several
/// decision kinds, client and server side by side) validates too.
#[test]
fn the_fixed_report_verdict_validates_against_the_committed_schema() {
    use tokengate::report::{JsonRenderer, Renderer};
    let bytes = JsonRenderer
        .render(&crate::report::fixed_report())
        .expect("renders");
    let verdict: Value = serde_json::from_slice(&bytes).expect("verdict JSON");
    let errors = schema_errors("schemas/verdict.schema.json", &verdict);
    assert!(errors.is_empty(), "{errors:?}");
    let mut broken = verdict.clone();
    broken["verdict"] = Value::from("maybe");
    assert!(!schema_errors("schemas/verdict.schema.json", &broken).is_empty());
}
