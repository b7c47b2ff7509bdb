//! `tokengate export`: a bundle measured over the simulator's HTTP endpoint,
//! exported in every format and read back by each format's consumer — the
//! BMF JSON Schema, github-action-benchmark's custom-tool shape, a CSV
//! reader, a JSON Lines reader and (ignored test `openmetrics_parser`,
//! run in CI) the strict OpenMetrics parser of `prometheus_client`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tokengate::bundle::{Bundle, read_bundle};

fn tokengate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tokengate"))
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A bundle of 24 requests against the in-process simulator (real HTTP and
/// SSE on 127.0.0.1), with key fields set, written into `dir`.
fn measured_bundle(dir: &Path) -> PathBuf {
    std::fs::write(
        dir.join("w.yaml"),
        "name: export-test\nendpoint: sim://default\nmodel: sim-model\nprompts:\n  inline: [\"one\", \"a prompt of six words here\"]\noutput: {max_tokens: 8, ignore_eos: true}\nload: {mode: closed, concurrency: 4}\nrequests: 24\nwarmup: {requests: 2}\nseed: 3\nkey: {hardware_profile: test-host, serving_image: sim, model_version: m-1}\n",
    )
    .expect("write workload");
    let bundle = dir.join("bundle.json");
    let o = tokengate()
        .args(["run", "w.yaml", "--quiet", "--out"])
        .arg(&bundle)
        .current_dir(dir)
        .output()
        .expect("run");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    bundle
}

fn export(bundle: &Path, format: &str, out: &Path) -> Output {
    tokengate()
        .arg("export")
        .arg(bundle)
        .args(["--format", format, "--out"])
        .arg(out)
        .output()
        .expect("export")
}

fn export_ok(bundle: &Path, format: &str, out: &Path) -> Vec<u8> {
    let o = export(bundle, format, out);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{format}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains(&format!("export: {} ({format}, ", out.display())),
        "{stdout}"
    );
    std::fs::read(out).expect("exported file")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(1.0)
}

#[test]
fn bmf_validates_against_bencher_schema_and_carries_the_bundle_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = measured_bundle(dir.path());
    let b = read_bundle(&bundle).expect("bundle");
    let got: Value =
        serde_json::from_slice(&export_ok(&bundle, "bmf", &dir.path().join("bmf.json")))
            .expect("JSON");

    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("export/bmf.schema.json")).expect("schema"),
    )
    .expect("schema JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let errors: Vec<String> = validator.iter_errors(&got).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    // The schema bites: a measure without its value is refused.
    assert!(!validator.is_valid(&serde_json::json!({"b": {"m": {"lower_value": 1.0}}})));

    let measures = got["export-test"].as_object().expect("one benchmark");
    assert_eq!(got.as_object().map(|o| o.len()), Some(1));
    for slug in measures.keys() {
        // Bencher's slug limit, and kebab case.
        assert!(slug.len() <= 64, "{slug}");
        assert!(
            slug.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{slug}"
        );
    }
    let value = |slug: &str| measures[slug]["value"].as_f64().expect(slug);
    let m = &b.metrics;
    assert!(close(value("ttft-p95-ms"), m.ttft_ms.p95.expect("p95")));
    assert!(close(value("itl-p50-ms"), m.itl_ms.p50.expect("p50")));
    assert!(close(value("output-tokens-per-s"), m.output_tokens_per_s));
    assert!(close(value("error-rate"), m.error_rate));
    // No interval from one run's requests (see src/export/dashboards.rs).
    assert!(measures.values().all(|v| v.get("lower_value").is_none()));
}

/// github-action-benchmark's custom tools read an array of
/// `{name: string, value: number, unit: string, range?: string,
/// extra?: string}`; one file per direction.
#[test]
fn benchmark_action_files_have_the_custom_tool_shape_one_direction_each() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = measured_bundle(dir.path());
    let b = read_bundle(&bundle).expect("bundle");
    let read = |format: &str| -> Vec<Value> {
        let bytes = export_ok(&bundle, format, &dir.path().join(format!("{format}.json")));
        serde_json::from_slice::<Value>(&bytes)
            .expect("JSON")
            .as_array()
            .expect("an array")
            .clone()
    };
    let smaller = read("benchmark-action-smaller");
    let bigger = read("benchmark-action-bigger");
    for e in smaller.iter().chain(&bigger) {
        let o = e.as_object().expect("object");
        assert!(
            o.keys()
                .all(|k| ["name", "value", "unit", "range", "extra"].contains(&k.as_str()))
        );
        assert!(o["name"].is_string() && o["unit"].is_string(), "{e}");
        assert!(o["value"].as_f64().is_some_and(f64::is_finite), "{e}");
        assert!(
            o["extra"]
                .as_str()
                .is_some_and(|x| x.contains("model_version: m-1")),
            "{e}"
        );
    }
    let names = |v: &[Value]| -> Vec<String> {
        v.iter()
            .map(|e| e["name"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let (s, g) = (names(&smaller), names(&bigger));
    let unique: std::collections::BTreeSet<_> = s.iter().chain(&g).collect();
    assert_eq!(unique.len(), s.len() + g.len(), "names are unique");
    let find = |v: &[Value], name: &str| {
        v.iter()
            .find(|e| e["name"] == name)
            .and_then(|e| e["value"].as_f64())
            .unwrap_or_else(|| panic!("{name} in {v:?}"))
    };
    assert!(close(
        find(&smaller, "export-test ttft p95"),
        b.metrics.ttft_ms.p95.expect("p95")
    ));
    assert!(close(
        find(&bigger, "export-test output tokens per s"),
        b.metrics.output_tokens_per_s
    ));
    assert!(!g.iter().any(|n| n.contains("ttft")), "{g:?}");
    assert!(!s.iter().any(|n| n.contains("tokens per s")), "{s:?}");
}

#[test]
fn request_tables_read_back_with_one_row_per_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = measured_bundle(dir.path());
    let b = read_bundle(&bundle).expect("bundle");
    let n = b.samples.len();
    assert!(n >= 24, "{n} samples");

    let csv_bytes = export_ok(&bundle, "csv", &dir.path().join("requests.csv"));
    let mut r = csv::Reader::from_reader(csv_bytes.as_slice());
    let header: Vec<String> = r
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header,
        [
            "index",
            "run",
            "start_ms",
            "ttft_ms",
            "tpot_ms",
            "e2e_ms",
            "output_tokens",
            "input_tokens",
            "class",
            "attempts",
            "outcome"
        ]
    );
    let rows: Vec<csv::StringRecord> = r.records().collect::<Result<_, _>>().expect("records");
    assert_eq!(rows.len(), n);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[0].parse::<usize>().ok(), Some(i));
        let want = b.samples.ttft_us[i].map(|us| us as f64 / 1e3);
        let got = (!row[3].is_empty()).then(|| row[3].parse::<f64>().expect("ttft_ms"));
        assert_eq!(got.is_some(), want.is_some(), "row {i}");
        if let (Some(g), Some(w)) = (got, want) {
            assert!(close(g, w), "row {i}: {g} vs {w}");
        }
        assert_eq!(&row[10], b.samples.outcome[i].as_str());
    }

    let jsonl = export_ok(&bundle, "jsonl", &dir.path().join("requests.jsonl"));
    let lines: Vec<Value> = std::str::from_utf8(&jsonl)
        .expect("UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), n);
    assert_eq!(lines[0]["index"], 0);
    assert_eq!(
        lines[n - 1]["outcome"].as_str(),
        Some(b.samples.outcome[n - 1].as_str())
    );
}

/// The summary CSV: one row per measure with the key in every row; a key
/// value a spreadsheet would run as a formula is kept as text, and quotes
/// and line breaks survive the CSV round trip.
#[test]
fn summary_csv_keeps_hostile_key_values_inert() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut b: Bundle =
        serde_json::from_str(&std::fs::read_to_string(fixture("ci/bundle.json")).expect("fixture"))
            .expect("bundle");
    b.key.model_version = "=HYPERLINK(\"http://x\",\"a, b\")\nline two".into();
    b.key.serving_image = "+1".into();
    let path = dir.path().join("hostile.json");
    std::fs::write(&path, serde_json::to_vec(&b).expect("JSON")).expect("write");

    let bytes = export_ok(&path, "csv-summary", &dir.path().join("summary.csv"));
    let mut r = csv::Reader::from_reader(bytes.as_slice());
    let h = r.headers().expect("header").clone();
    let col = |name: &str| h.iter().position(|c| c == name).expect(name);
    let rows: Vec<csv::StringRecord> = r.records().collect::<Result<_, _>>().expect("records");
    assert!(rows.len() > 20, "{} rows", rows.len());
    for row in &rows {
        assert_eq!(
            &row[col("model_version")],
            "'=HYPERLINK(\"http://x\",\"a, b\")\nline two"
        );
        assert_eq!(&row[col("serving_image")], "'+1");
        assert!(row[col("value")].parse::<f64>().is_ok());
    }
    let ttft = rows
        .iter()
        .find(|r| &r[col("measure")] == "ttft_p95")
        .expect("ttft_p95 row");
    assert_eq!(&ttft[col("unit")], "ms");
    assert_eq!(&ttft[col("better")], "smaller");
    assert!(close(
        ttft[col("value")].parse().expect("value"),
        b.metrics.ttft_ms.p95.expect("p95")
    ));
}

#[test]
fn openmetrics_export_has_types_units_key_labels_and_eof() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = measured_bundle(dir.path());
    let b = read_bundle(&bundle).expect("bundle");
    let text = String::from_utf8(export_ok(
        &bundle,
        "openmetrics",
        &dir.path().join("metrics.txt"),
    ))
    .expect("UTF-8");
    assert!(text.ends_with("\n# EOF\n"), "{text}");
    assert!(text.contains("# TYPE tokengate_ttft_seconds summary\n"));
    assert!(text.contains("# UNIT tokengate_ttft_seconds seconds\n"));
    assert!(text.contains("# TYPE tokengate_requests counter\n"));
    let labels = "workload=\"export-test\",model_version=\"m-1\",serving_image=\"sim\",hardware_profile=\"test-host\"";
    let p95 = b.metrics.ttft_ms.p95.expect("p95") / 1e3;
    let line = text
        .lines()
        .find(|l| {
            l.starts_with(&format!(
                "tokengate_ttft_seconds{{{labels},quantile=\"0.95\"}} "
            ))
        })
        .unwrap_or_else(|| panic!("{text}"));
    let v: f64 = line
        .rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .expect("value");
    assert!((v - p95).abs() < 1e-9, "{line} vs {p95}");
    assert!(text.contains(&format!(
        "tokengate_requests_total{{{labels},outcome=\"succeeded\"}} {}\n",
        b.metrics.requests.succeeded
    )));
}

/// Bad input: exit 2, a message naming what was wrong, and no file.
#[test]
fn bad_input_is_exit_2_naming_the_file_or_flag_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out.json");
    let good = fixture("ci/bundle.json");

    let o = export(&good, "prometheus", &out);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--format") && err.contains("`prometheus`"),
        "{err}"
    );
    assert!(err.contains("bmf, benchmark-action-smaller"), "{err}");

    let full = std::fs::read(&good).expect("fixture");
    let truncated = dir.path().join("truncated.json");
    std::fs::write(&truncated, &full[..full.len() / 2]).expect("write");
    let o = export(&truncated, "bmf", &out);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("truncated.json"), "{err}");

    let foreign = dir.path().join("foreign.json");
    std::fs::write(&foreign, br#"{"benchmarks": [{"ttft": 1}]}"#).expect("write");
    let o = export(&foreign, "csv", &out);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("foreign.json"), "{err}");
    // The first field a bundle must have that this file lacks.
    assert!(
        err.contains("schema_version") || err.contains("missing field"),
        "{err}"
    );

    // A hand-edited bundle whose per-request columns disagree is refused
    // where it is read (every reader indexes them together).
    let mut ragged: Value = serde_json::from_slice(&full).expect("JSON");
    ragged["samples"]["e2e_us"]
        .as_array_mut()
        .expect("column")
        .pop();
    let ragged_path = dir.path().join("ragged.json");
    std::fs::write(&ragged_path, serde_json::to_vec(&ragged).expect("JSON")).expect("write");
    let o = export(&ragged_path, "csv", &out);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("ragged.json") && err.contains("samples.e2e_us"),
        "{err}"
    );

    let o = export(&dir.path().join("absent.json"), "csv", &out);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("absent.json"));
    assert!(!out.exists(), "nothing written on bad input");
}

/// The python of the lint tools' venv (tests/ci-lint.sh installs
/// prometheus-client there).
fn lint_python() -> PathBuf {
    let cache = std::env::var_os("TOKENGATE_LINT_CACHE").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/tokengate/lint"),
        PathBuf::from,
    );
    cache.join("venv/bin/python")
}

/// The strict OpenMetrics parser of `prometheus_client` (it refuses a file
/// without `# EOF`, a `# UNIT` that is not the name's suffix, a summary
/// with a bad quantile) reads the export with key labels — hostile key
/// values included — and the GitLab report, and finds the values.
#[test]
#[ignore = "needs prometheus_client from tests/ci-lint.sh's venv; CI runs it (openmetrics_parser)"]
fn openmetrics_parser_reads_the_export_and_the_gitlab_report() {
    let python = lint_python();
    assert!(
        python.is_file(),
        "{} missing: run tests/ci-lint.sh first",
        python.display()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let mut b: Bundle =
        serde_json::from_str(&std::fs::read_to_string(fixture("ci/bundle.json")).expect("fixture"))
            .expect("bundle");
    b.key.model_version = "a\"b\\c\nd}{,=#".into();
    let hostile = dir.path().join("hostile.json");
    std::fs::write(&hostile, serde_json::to_vec(&b).expect("JSON")).expect("write");
    let exported = dir.path().join("export.txt");
    export_ok(&hostile, "openmetrics", &exported);
    let gitlab = dir.path().join("gitlab.txt");
    std::fs::write(&gitlab, tokengate::ci::openmetrics_text(&b)).expect("write");

    let script = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = {}
for path in sys.argv[1:]:
    fams = {}
    for f in text_string_to_metric_families(open(path).read()):
        fams[f.name] = {"type": f.type, "unit": f.unit,
                        "samples": [[s.name, s.labels, s.value] for s in f.samples]}
    out[path] = fams
print(json.dumps(out))
"#;
    let o = Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(&exported)
        .arg(&gitlab)
        .output()
        .expect("python");
    assert!(
        o.status.success(),
        "the strict parser refused: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let parsed: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let p95 = b.metrics.ttft_ms.p95.expect("p95") / 1e3;
    for (path, keyed) in [(&exported, true), (&gitlab, false)] {
        let fams = &parsed[path.to_str().expect("path")];
        let ttft = &fams["tokengate_ttft_seconds"];
        assert_eq!(ttft["type"], "summary", "{fams}");
        assert_eq!(ttft["unit"], "seconds");
        let q95 = ttft["samples"]
            .as_array()
            .expect("samples")
            .iter()
            .find(|s| s[1]["quantile"] == "0.95")
            .expect("the 0.95 quantile");
        assert!((q95[2].as_f64().expect("value") - p95).abs() < 1e-9);
        assert_eq!(
            q95[1].get("model_version").and_then(Value::as_str),
            keyed.then_some("a\"b\\c\nd}{,=#"),
            "{q95}"
        );
        assert_eq!(fams["tokengate_requests"]["type"], "counter");
        assert_eq!(fams["tokengate_error_ratio"]["unit"], "ratio");
    }
}
