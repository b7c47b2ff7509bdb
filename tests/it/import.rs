//! `tokengate import`: result files of other benchmark tools, made by
//! running each tool against tokengate's simulator (tests/fixtures/import/
//! README.md says how), become bundles that validate against the bundle
//! schema, agree with the tool's own summary within 1 %, can be promoted
//! and gated, and are kept apart from native bundles by the comparability
//! contract. Bad input is exit 2 naming the file and the field.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tokengate::bundle::read_bundle;

use super::common::bundle_schema_errors;

fn tokengate() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tokengate"));
    for (_, var) in tokengate::workload::KEY_ENV {
        c.env_remove(var);
    }
    c
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(name)
}

fn import(format: &str, file: &Path, out: &Path, extra: &[&str]) -> Output {
    tokengate()
        .args(["import", format])
        .arg(file)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("import")
}

fn ok(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn import_ok(format: &str, file: &Path, out: &Path, extra: &[&str]) {
    ok(&import(format, file, out, extra));
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("JSON")
}

/// The tool's own p50/p95 TTFT beside the bundle's, each within 1 %.
fn assert_ttft_agrees(tool: (f64, f64), bundle: &Path, what: &str) {
    let b = read_bundle(bundle).expect("bundle");
    let ours = (
        b.metrics.ttft_ms.p50.expect("p50"),
        b.metrics.ttft_ms.p95.expect("p95"),
    );
    eprintln!(
        "{what}: TTFT p50 tool {:.4} ms, bundle {:.4} ms; p95 tool {:.4} ms, bundle {:.4} ms",
        tool.0, ours.0, tool.1, ours.1
    );
    for (name, t, o) in [("p50", tool.0, ours.0), ("p95", tool.1, ours.1)] {
        assert!(
            (o / t - 1.0).abs() <= 0.01,
            "{what}: TTFT {name}: tool {t} ms, bundle {o} ms"
        );
    }
}

/// vLLM's summary numbers in the same file, ms.
fn vllm_summary(file: &Path) -> (f64, f64) {
    let v = json(file);
    let get = |k: &str| {
        v[k].as_f64()
            .unwrap_or_else(|| panic!("{k} in {}", file.display()))
    };
    (get("p50_ttft_ms"), get("p95_ttft_ms"))
}

const VLLM_A: &str = "vllm-run-a.json";
const GUIDELLM_A: &str = "guidellm-run-a.json";
const GUIDELLM_B: &str = "guidellm-run-b.json";
const VLLM_B: &str = "vllm-run-b.json";
const META: [&str; 4] = [
    "--meta",
    "hardware_profile=test-host",
    "--tool-version",
    "0.32.0",
];

#[test]
fn vllm_import_validates_and_agrees_with_vllms_own_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in [VLLM_A, VLLM_B] {
        let out = dir.path().join(format!("{name}.bundle.json"));
        import_ok("vllm", &fixture(name), &out, &META);
        let errors = bundle_schema_errors(&out);
        assert!(errors.is_empty(), "{name}: {errors:?}");
        assert_ttft_agrees(vllm_summary(&fixture(name)), &out, name);

        let b = read_bundle(&out).expect("bundle");
        let src = json(&fixture(name));
        let n = src["ttfts"].as_array().expect("ttfts").len();
        // Every request became a sample, and the samples are the file's.
        assert_eq!(b.samples.len(), n);
        assert_eq!(
            b.metrics.requests.succeeded,
            src["completed"].as_u64().expect("completed")
        );
        assert_eq!(
            b.metrics.tokens.output_total,
            src["total_output_tokens"].as_u64().expect("total")
        );
        let first_ttft_us = (src["ttfts"][0].as_f64().expect("ttft") * 1e6) as u32;
        assert!(
            b.samples
                .ttft_us
                .iter()
                .any(|t| t.is_some_and(|t| t.abs_diff(first_ttft_us) <= 1)),
            "the first request's TTFT is among the samples"
        );
        // What vLLM does not measure stays absent.
        assert_eq!(b.metrics.ttfb_ms.count, 0);
        assert_eq!(b.metrics.ttfb_ms.p50, None);
        let imported = b.context.imported.expect("context.imported");
        assert_eq!(imported.tool, "vllm");
        assert_eq!(imported.version.as_deref(), Some("0.32.0"));
        assert!(imported.per_request);
        assert_eq!(imported.file, name);
        assert_eq!(imported.file_digest.len(), 64);
        assert!(imported.absent.iter().any(|a| a.starts_with("ttfb")));
        // Key fields from --meta; the model and tokenizer default to vLLM's.
        assert_eq!(b.key.hardware_profile, "test-host");
        assert_eq!(b.key.model_version, "sim-model");
        assert_eq!(b.context.api, "chat");
        assert_eq!(
            b.context.workload_shape.get("load").map(String::as_str),
            Some("closed, concurrency 4")
        );
    }
}

#[test]
fn vllm_import_of_a_run_with_server_errors_counts_them_by_kind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = fixture("vllm-errors.json");
    let out = dir.path().join("b.json");
    import_ok("vllm", &file, &out, &[]);
    assert!(bundle_schema_errors(&out).is_empty());
    let src = json(&file);
    let b = read_bundle(&out).expect("bundle");
    let failed = src["failed"].as_u64().expect("failed");
    assert!(failed > 0, "the fixture has failures");
    assert_eq!(b.metrics.requests.failed, failed);
    assert_eq!(b.metrics.errors.get("http_5xx"), Some(&failed));
    assert_eq!(b.metrics.stream_error_rate, 0.0);
    assert_ttft_agrees(vllm_summary(&file), &out, "vllm-errors.json");
}

/// Promote one vLLM run, gate the other against it: a verdict (pass, fail,
/// inconclusive), not an error, and the baseline was found.
#[test]
fn an_imported_vllm_run_is_gated_against_an_imported_baseline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    import_ok("vllm", &fixture(VLLM_A), &a, &META);
    import_ok("vllm", &fixture(VLLM_B), &b, &META);
    let baselines = dir.path().join("baselines");
    ok(&tokengate()
        .args(["baseline", "promote"])
        .arg(&a)
        .arg("--baseline-dir")
        .arg(&baselines)
        .output()
        .expect("promote"));
    let verdict = dir.path().join("verdict.json");
    let gate = Path::new(env!("CARGO_MANIFEST_DIR")).join("gates/default.yaml");
    let o = tokengate()
        .arg("gate")
        .arg(&b)
        .arg("--gate")
        .arg(&gate)
        .arg("--baseline-dir")
        .arg(&baselines)
        .arg("--json")
        .arg(&verdict)
        .output()
        .expect("gate");
    let code = o.status.code();
    assert!(
        matches!(code, Some(0 | 1 | 3)),
        "a verdict, not a tool error: {code:?}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = json(&verdict);
    assert!(
        v["skip_reason"].is_null(),
        "the imported baseline was found: {}",
        v["skip_reason"]
    );
    let rules = v["rules"].as_array().expect("rules");
    let ttft = rules
        .iter()
        .find(|r| r.to_string().contains("ttft.p95"))
        .expect("a ttft.p95 rule");
    assert_ne!(ttft["verdict"], "skipped", "{ttft}");
}

/// guidellm's own p50/p95 TTFT of the successful requests, ms.
fn guidellm_summary(file: &Path) -> (f64, f64) {
    let v = json(file);
    let p = &v["benchmarks"][0]["metrics"]["time_to_first_token_ms"]["successful"]["percentiles"];
    let get = |k: &str| {
        p[k].as_f64()
            .unwrap_or_else(|| panic!("{k} in {}", file.display()))
    };
    (get("p50"), get("p95"))
}

#[test]
fn guidellm_import_validates_and_agrees_with_guidellms_own_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in [GUIDELLM_A, GUIDELLM_B] {
        let out = dir.path().join(format!("{name}.bundle.json"));
        import_ok(
            "guidellm",
            &fixture(name),
            &out,
            &["--meta", "hardware_profile=test-host"],
        );
        let errors = bundle_schema_errors(&out);
        assert!(errors.is_empty(), "{name}: {errors:?}");
        assert_ttft_agrees(guidellm_summary(&fixture(name)), &out, name);
        let b = read_bundle(&out).expect("bundle");
        let src = json(&fixture(name));
        let n = src["benchmarks"][0]["requests"]["successful"]
            .as_array()
            .expect("successful")
            .len();
        assert_eq!(b.samples.len(), n);
        assert_eq!(b.metrics.requests.succeeded as usize, n);
        let imported = b.context.imported.expect("context.imported");
        assert_eq!(imported.tool, "guidellm");
        assert_eq!(
            imported.version.as_deref(),
            src["metadata"]["guidellm_version"].as_str()
        );
        // guidellm keeps no inter-token gaps and no header time.
        assert_eq!(b.metrics.itl_ms.count, 0);
        assert_eq!(b.metrics.ttfb_ms.count, 0);
        assert!(
            b.context.started_at.ends_with('Z'),
            "{}",
            b.context.started_at
        );
        assert_eq!(
            b.context.workload_shape.get("load").map(String::as_str),
            Some("closed, concurrency 4")
        );
    }
}

#[test]
fn an_imported_guidellm_run_is_gated_and_kept_apart_from_vllm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    let meta = [
        "--meta",
        "hardware_profile=test-host",
        "--workload",
        "shared",
    ];
    import_ok("guidellm", &fixture(GUIDELLM_A), &a, &meta);
    import_ok("guidellm", &fixture(GUIDELLM_B), &b, &meta);
    let baselines = dir.path().join("baselines");
    ok(&tokengate()
        .args(["baseline", "promote"])
        .arg(&a)
        .arg("--baseline-dir")
        .arg(&baselines)
        .output()
        .expect("promote"));
    let verdict = dir.path().join("verdict.json");
    let gate = Path::new(env!("CARGO_MANIFEST_DIR")).join("gates/default.yaml");
    let o = tokengate()
        .arg("gate")
        .arg(&b)
        .arg("--gate")
        .arg(&gate)
        .arg("--baseline-dir")
        .arg(&baselines)
        .arg("--json")
        .arg(&verdict)
        .output()
        .expect("gate");
    assert!(
        matches!(o.status.code(), Some(0 | 1 | 3)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(json(&verdict)["skip_reason"].is_null());
    // A vLLM import under the same workload name is refused: another tool.
    let v = dir.path().join("v.json");
    import_ok(
        "vllm",
        &fixture(VLLM_A),
        &v,
        &[&META[..], &meta[2..]].concat(),
    );
    let text = ok(&tokengate()
        .args(["baseline", "explain"])
        .arg(&v)
        .arg("--baseline-dir")
        .arg(&baselines)
        .output()
        .expect("explain"));
    assert!(text.contains("measured by different tools"), "{text}");
    assert!(text.contains("guidellm"), "{text}");
}

/// AIPerf's own p50/p95 TTFT, from the summary it writes beside the JSONL
/// (`profile_export_aiperf.json`, committed as `*.summary.json`), ms.
fn aiperf_summary(jsonl: &str) -> (f64, f64) {
    let file = fixture(&jsonl.replace(".jsonl", ".summary.json"));
    let v = json(&file);
    let get = |k: &str| {
        v["time_to_first_token"][k]
            .as_f64()
            .unwrap_or_else(|| panic!("{k} in {}", file.display()))
    };
    (get("p50"), get("p95"))
}

const AIPERF_A: &str = "aiperf-run-a.jsonl";
const AIPERF_B: &str = "aiperf-run-b.jsonl";

#[test]
fn aiperf_import_validates_and_agrees_with_aiperfs_own_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in [AIPERF_A, AIPERF_B, "aiperf-errors.jsonl"] {
        let out = dir.path().join(format!("{name}.bundle.json"));
        import_ok(
            "aiperf",
            &fixture(name),
            &out,
            &["--tool-version", "0.13.0"],
        );
        let errors = bundle_schema_errors(&out);
        assert!(errors.is_empty(), "{name}: {errors:?}");
        assert_ttft_agrees(aiperf_summary(name), &out, name);
        let b = read_bundle(&out).expect("bundle");
        let lines = std::fs::read_to_string(fixture(name))
            .expect("fixture")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count();
        assert_eq!(b.samples.len(), lines);
        let summary = json(&fixture(&name.replace(".jsonl", ".summary.json")));
        let ok = summary["request_count"]["avg"]
            .as_f64()
            .expect("request_count");
        assert_eq!(b.metrics.requests.succeeded as f64, ok);
        // AIPerf keeps the inter-chunk gaps: ITL is there.
        assert!(b.metrics.itl_ms.count > 0);
        assert_eq!(b.context.token_source, "usage");
        assert!(b.context.started_at.ends_with('Z'));
        if name == "aiperf-errors.jsonl" {
            let failed = lines as u64 - b.metrics.requests.succeeded;
            assert!(failed > 0);
            assert_eq!(b.metrics.errors.get("http_5xx"), Some(&failed));
        }
    }
}

#[test]
fn an_imported_aiperf_run_is_gated_against_an_imported_baseline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    import_ok("aiperf", &fixture(AIPERF_A), &a, &[]);
    import_ok("aiperf", &fixture(AIPERF_B), &b, &[]);
    let baselines = dir.path().join("baselines");
    ok(&tokengate()
        .args(["baseline", "promote"])
        .arg(&a)
        .arg("--baseline-dir")
        .arg(&baselines)
        .output()
        .expect("promote"));
    let verdict = dir.path().join("verdict.json");
    let gate = Path::new(env!("CARGO_MANIFEST_DIR")).join("gates/default.yaml");
    let o = tokengate()
        .arg("gate")
        .arg(&b)
        .arg("--gate")
        .arg(&gate)
        .arg("--baseline-dir")
        .arg(&baselines)
        .arg("--json")
        .arg(&verdict)
        .output()
        .expect("gate");
    assert!(
        matches!(o.status.code(), Some(0 | 1 | 3)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(json(&verdict)["skip_reason"].is_null());
}

#[test]
fn a_truncated_aiperf_file_is_exit_2_naming_the_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(fixture(AIPERF_A)).expect("fixture");
    let cut = dir.path().join("cut.jsonl");
    let keep = text.len() / 2;
    let keep = (0..=keep)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    std::fs::write(&cut, &text[..keep]).expect("write");
    let line = text[..keep].lines().count();
    let o = import("aiperf", &cut, &dir.path().join("b.json"), &[]);
    assert_exit_2(
        &o,
        &["cut.jsonl", &format!("line {line}"), "profile_export.jsonl"],
    );
}

/// k6's summary holds no TTFT (k6 times no SSE event): its E2E
/// (`http_req_duration`) is compared instead, and the gate's rules that
/// resample say the bundle came from a summary.
#[test]
fn a_k6_summary_imports_without_samples_and_the_gate_says_why_it_cannot_judge() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    import_ok(
        "k6",
        &fixture("k6-run-a.json"),
        &a,
        &["--tool-version", "1.1.0"],
    );
    import_ok(
        "k6",
        &fixture("k6-run-b.json"),
        &b,
        &["--tool-version", "1.1.0"],
    );
    for (name, out) in [("k6-run-a.json", &a), ("k6-run-b.json", &b)] {
        let errors = bundle_schema_errors(out);
        assert!(errors.is_empty(), "{name}: {errors:?}");
        let bundle = read_bundle(out).expect("bundle");
        let src = json(&fixture(name));
        let d = &src["metrics"]["http_req_duration"];
        let (tool, ours) = (
            (
                d["med"].as_f64().expect("med"),
                d["p(95)"].as_f64().expect("p95"),
            ),
            (
                bundle.metrics.e2e_ms.p50.expect("p50"),
                bundle.metrics.e2e_ms.p95.expect("p95"),
            ),
        );
        eprintln!(
            "{name}: E2E p50 tool {:.4} ms, bundle {:.4} ms; p95 tool {:.4} ms, bundle {:.4} ms",
            tool.0, ours.0, tool.1, ours.1
        );
        assert!((ours.0 / tool.0 - 1.0).abs() <= 0.01);
        assert!((ours.1 / tool.1 - 1.0).abs() <= 0.01);
        assert!(bundle.samples.is_empty());
        assert_eq!(bundle.metrics.ttft_ms.count, 0);
        let imported = bundle.context.imported.expect("imported");
        assert!(!imported.per_request);
        assert_eq!(
            bundle.metrics.requests.attempted,
            src["metrics"]["http_reqs"]["count"]
                .as_u64()
                .expect("count")
        );
    }
    let baselines = dir.path().join("baselines");
    ok(&tokengate()
        .args(["baseline", "promote"])
        .arg(&a)
        .arg("--baseline-dir")
        .arg(&baselines)
        .output()
        .expect("promote"));
    let verdict = dir.path().join("verdict.json");
    let gate = Path::new(env!("CARGO_MANIFEST_DIR")).join("gates/default.yaml");
    let o = tokengate()
        .arg("gate")
        .arg(&b)
        .arg("--gate")
        .arg(&gate)
        .arg("--baseline-dir")
        .arg(&baselines)
        .arg("--json")
        .arg(&verdict)
        .output()
        .expect("gate");
    assert!(
        matches!(o.status.code(), Some(0 | 3)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = json(&verdict);
    assert!(v["skip_reason"].is_null());
    let ttft = v["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["metric"].as_str().is_some_and(|m| m.starts_with("ttft")))
        .expect("a ttft rule")
        .clone();
    assert_eq!(ttft["verdict"], "inconclusive", "{ttft}");
    assert!(
        ttft.to_string().contains("imported from a k6 summary"),
        "{ttft}"
    );
}

#[test]
fn a_k6_summary_without_the_needed_metrics_is_exit_2_naming_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = json(&fixture("k6-run-a.json"));
    v["metrics"]
        .as_object_mut()
        .expect("metrics")
        .remove("http_reqs");
    let bad = dir.path().join("k6-summary.json");
    std::fs::write(&bad, v.to_string()).expect("write");
    let o = import("k6", &bad, &dir.path().join("b.json"), &[]);
    assert_exit_2(
        &o,
        &["k6-summary.json", "field `metrics.http_reqs`", "is missing"],
    );
    // A non-HTTP k6 test (no `http_req_duration`) is refused the same way.
    let mut v = json(&fixture("k6-run-a.json"));
    let m = v["metrics"].as_object_mut().expect("metrics");
    m.remove("http_req_duration");
    m.remove("http_req_duration{expected_response:true}");
    std::fs::write(&bad, v.to_string()).expect("write");
    let o = import("k6", &bad, &dir.path().join("b.json"), &[]);
    assert_exit_2(&o, &["k6-summary.json", "metrics.http_req_duration"]);
}

/// A native bundle (run on the simulator) promoted under the same workload
/// name: `baseline explain` refuses it for the imported bundle, naming
/// the tools and the switch; `--allow-imported` lifts that refusal.
#[test]
fn baseline_explain_refuses_a_native_baseline_for_an_imported_bundle() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("w.yaml"),
        "name: vllm-bench-serve\nendpoint: sim://default\nmodel: sim-model\nprompts:\n  inline: [\"one\", \"two words\"]\noutput: {max_tokens: 8, ignore_eos: true}\nload: {mode: closed, concurrency: 4}\nrequests: 12\nseed: 3\nkey: {hardware_profile: test-host}\n",
    )
    .expect("workload");
    let native = dir.path().join("native.json");
    ok(&tokengate()
        .args(["run", "w.yaml", "--quiet", "--out"])
        .arg(&native)
        .current_dir(dir.path())
        .output()
        .expect("run"));
    let baselines = dir.path().join("baselines");
    ok(&tokengate()
        .args(["baseline", "promote"])
        .arg(&native)
        .arg("--baseline-dir")
        .arg(&baselines)
        .output()
        .expect("promote"));
    let imported = dir.path().join("imported.json");
    import_ok("vllm", &fixture(VLLM_A), &imported, &META);
    let explain = |extra: &[&str]| {
        ok(&tokengate()
            .args(["baseline", "explain"])
            .arg(&imported)
            .arg("--baseline-dir")
            .arg(&baselines)
            .args(extra)
            .output()
            .expect("explain"))
    };
    let text = explain(&[]);
    eprintln!("{text}");
    assert!(text.contains("measured by different tools"), "{text}");
    assert!(text.contains("tokengate (native)"), "{text}");
    assert!(text.contains("vllm 0.32.0 (imported)"), "{text}");
    assert!(text.contains("--allow-imported"), "{text}");
    let allowed = explain(&["--allow-imported"]);
    assert!(
        !allowed.contains("measured by different tools"),
        "{allowed}"
    );
}

fn assert_exit_2(o: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for n in needles {
        assert!(err.contains(n), "`{n}` in: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn an_unknown_format_is_exit_2_naming_the_formats() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = import("locust", &fixture(VLLM_A), &dir.path().join("b.json"), &[]);
    assert_exit_2(&o, &["unknown import format `locust`", "vllm"]);
    assert!(!dir.path().join("b.json").exists());
}

#[test]
fn a_truncated_vllm_file_is_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = std::fs::read(fixture(VLLM_A)).expect("fixture");
    let cut = dir.path().join("cut.json");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let o = import("vllm", &cut, &dir.path().join("b.json"), &[]);
    assert_exit_2(
        &o,
        &[
            "cut.json",
            "not a complete JSON document",
            "vllm bench serve",
        ],
    );
}

/// Another tool's JSON given as the wrong format: the first field the
/// expected tool writes that it lacks is named.
#[test]
fn a_foreign_json_given_as_another_format_is_exit_2_naming_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = import(
        "vllm",
        &fixture(GUIDELLM_A),
        &dir.path().join("b.json"),
        &[],
    );
    assert_exit_2(&o, &[GUIDELLM_A, "field `backend`", "is missing"]);
    let o = import(
        "guidellm",
        &fixture(VLLM_A),
        &dir.path().join("b.json"),
        &[],
    );
    assert_exit_2(&o, &[VLLM_A, "field `benchmarks`", "is missing"]);
}

/// A summary-only vLLM file (`--save-result` without `--save-detailed`)
/// is refused naming the per-request column and the flag.
#[test]
fn a_vllm_file_without_per_request_columns_names_the_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = json(&fixture(VLLM_A));
    let obj = v.as_object_mut().expect("object");
    for k in [
        "ttfts",
        "itls",
        "start_times",
        "errors",
        "input_lens",
        "output_lens",
    ] {
        obj.remove(k);
    }
    let summary = dir.path().join("summary.json");
    std::fs::write(&summary, v.to_string()).expect("write");
    let o = import("vllm", &summary, &dir.path().join("b.json"), &[]);
    assert_exit_2(&o, &["summary.json", "field `ttfts`", "--save-detailed"]);

    // A value of the wrong type is named with its index.
    let mut v = json(&fixture(VLLM_A));
    v["ttfts"][3] = Value::from("fast");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, v.to_string()).expect("write");
    let o = import("vllm", &bad, &dir.path().join("b.json"), &[]);
    assert_exit_2(
        &o,
        &[
            "bad.json",
            "field `ttfts[3]`",
            "the string `fast`",
            "seconds",
        ],
    );
}

/// Runs the real `vllm bench serve` (tests/sut/install.sh installs it)
/// against the simulator, imports its fresh output and checks the 1 %
/// agreement with its own summary. Bounded: the benchmark is killed after
/// 60 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs vLLM's benchmark (tests/sut/install.sh); .ci/run runs it (vllm_bench_import)"]
async fn vllm_bench_import_of_a_fresh_run_agrees_with_vllm() {
    // `.ci/run` sets TOKENGATE_SUT_DIR; a laptop has the default cache.
    let sut = std::env::var_os("TOKENGATE_SUT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(&std::env::var_os("HOME").expect("HOME")).join(".cache/tokengate/sut")
        });
    let vllm = sut.join("venv-vllm/bin/vllm");
    assert!(vllm.exists(), "{} (tests/sut/install.sh)", vllm.display());
    let sim = super::common::start_sim(tokengate::sim::SimProfile::default()).await;
    let base = sim.base_url().trim_end_matches("/v1").to_owned();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("vllm.log");
    let mut cmd = Command::new(&vllm);
    cmd.args(["bench", "serve", "--backend", "openai-chat", "--base-url"])
        .arg(&base)
        .args([
            "--endpoint",
            "/v1/chat/completions",
            "--model",
            "sim-model",
            "--tokenizer",
        ])
        .arg(sut.join("model"))
        .args([
            "--dataset-name",
            "random",
            "--random-input-len",
            "32",
            "--random-output-len",
            "32",
            "--num-prompts",
            "40",
            "--max-concurrency",
            "4",
            "--seed",
            "1",
            "--metric-percentiles",
            "50,95",
            "--save-result",
            "--save-detailed",
            "--disable-tqdm",
            "--result-filename",
            "fresh.json",
            "--result-dir",
        ])
        .arg(dir.path())
        .env("HF_HUB_OFFLINE", "1")
        .stdout(std::fs::File::create(&log).expect("log"))
        .stderr(std::fs::File::create(dir.path().join("vllm.err")).expect("log"));
    let status = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().expect("spawn vllm");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return Some(status);
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    })
    .await
    .expect("join");
    sim.shutdown().await;
    let err = std::fs::read_to_string(dir.path().join("vllm.err")).unwrap_or_default();
    let status = status.unwrap_or_else(|| panic!("vllm bench serve ran over 60 s: {err}"));
    assert!(status.success(), "{err}");
    let file = dir.path().join("fresh.json");
    let out = dir.path().join("bundle.json");
    import_ok("vllm", &file, &out, &[]);
    assert!(bundle_schema_errors(&out).is_empty());
    assert_ttft_agrees(vllm_summary(&file), &out, "fresh vllm bench serve");
}

/// Hostile variants of every fixture — cut at many points, and values
/// swapped for negative, huge, NaN-like, wrong-typed ones — are imported in
/// process: each is a bundle or an error naming the file, never a panic.
#[test]
fn mutated_fixtures_import_or_fail_cleanly_never_panic() {
    use tokengate::import::{ImportFormat, ImportOptions, import_file};
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (ImportFormat::Vllm, VLLM_A),
        (ImportFormat::Vllm, "vllm-errors.json"),
        (ImportFormat::Guidellm, GUIDELLM_A),
        (ImportFormat::Aiperf, AIPERF_A),
        (ImportFormat::Aiperf, "aiperf-errors.jsonl"),
        (ImportFormat::K6, "k6-run-a.json"),
    ];
    let replacements = [
        Value::from(-1.0),
        Value::from(1e300),
        Value::from(u64::MAX),
        Value::from("x"),
        Value::Null,
        Value::Array(Vec::new()),
        Value::from(true),
    ];
    // A fixed linear congruential sequence (Knuth's MMIX constants), so the
    // variants are the same on every run.
    let mut state: u64 = 0x5eed;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state >> 33
    };
    let mut outcomes = (0usize, 0usize);
    for (format, name) in cases {
        let bytes = std::fs::read(fixture(name)).expect("fixture");
        let path = dir.path().join(name);
        let mut check = |content: &[u8]| {
            std::fs::write(&path, content).expect("write");
            let opts = ImportOptions {
                format,
                file: path.clone(),
                meta: Vec::new(),
                workload: None,
                tool_version: None,
                env: std::sync::Arc::new(|_: &str| None),
            };
            match import_file(&opts) {
                Ok(_) => outcomes.0 += 1,
                Err(e) => {
                    assert!(e.to_string().contains(name), "{e}");
                    outcomes.1 += 1;
                }
            }
        };
        for k in 1..40 {
            check(&bytes[..bytes.len() * k / 40]);
        }
        let docs: Vec<Value> = if name.ends_with(".jsonl") {
            String::from_utf8_lossy(&bytes)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str(l).expect("line"))
                .collect()
        } else {
            vec![serde_json::from_slice(&bytes).expect("JSON")]
        };
        for _ in 0..60 {
            let mut docs = docs.clone();
            for _ in 0..3 {
                let i = next() as usize % docs.len();
                let replacement = replacements[next() as usize % replacements.len()].clone();
                mutate(&mut docs[i], &mut next, replacement);
            }
            let text = if name.ends_with(".jsonl") {
                docs.iter()
                    .map(Value::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            } else {
                docs[0].to_string()
            };
            check(text.as_bytes());
        }
    }
    eprintln!(
        "mutated fixtures: {} imported, {} refused",
        outcomes.0, outcomes.1
    );
    assert!(outcomes.1 > 0);
}

/// Replace one value somewhere inside `v`, walking down a random path.
fn mutate(v: &mut Value, next: &mut impl FnMut() -> u64, replacement: Value) {
    let depth = next() % 6;
    descend(v, depth, next, replacement);
}

fn descend(v: &mut Value, depth: u64, next: &mut impl FnMut() -> u64, replacement: Value) {
    if depth > 0 {
        match v {
            Value::Object(m) if !m.is_empty() => {
                let i = next() as usize % m.len();
                if let Some(c) = m.values_mut().nth(i) {
                    return descend(c, depth - 1, next, replacement);
                }
            }
            Value::Array(a) if !a.is_empty() => {
                let i = next() as usize % a.len();
                return descend(&mut a[i], depth - 1, next, replacement);
            }
            _ => {}
        }
    }
    *v = replacement;
}
