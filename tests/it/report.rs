//! Renderers on a fixed GateReport: snapshots, JUnit round trip and schema
//! validation, Markdown escaping and size limit, byte-identical output.

use std::path::Path;
use std::process::Command;

use tokengate::bundle::BundleKey;
use tokengate::gate::*;
use tokengate::report::*;
use tokengate::stats::Interval;

fn key(image: &str) -> BundleKey {
    BundleKey {
        model_version: "llama-3.1-8b@2024-07".into(),
        serving_image: image.into(),
        hardware_profile: "1xH100-80GB".into(),
        tokenizer: "o200k_base".into(),
    }
}

/// A relative decision of the fixed report (a quantile ratio unless changed).
fn relative(
    point: f64,
    (lo, hi): (f64, f64),
    limit: f64,
    p_adjusted: f64,
    finding: Finding,
) -> Relative {
    Relative {
        test: Test::QuantileBootstrap,
        point,
        interval: Interval { lo, hi },
        limit,
        bound: Bound::Max,
        level: 0.95,
        p_adjusted,
        alpha: 0.05,
        finding,
        requests_to_settle: None,
        caveats: vec![],
        mde: None,
        noise: None,
    }
}

fn result(
    name: &str,
    metric: &str,
    limit: &str,
    outcome: Outcome,
    decision: Decision,
) -> RuleResult {
    RuleResult {
        name: name.into(),
        metric: metric.into(),
        limit: limit.into(),
        severity: Severity::Fail,
        verdict: decision.verdict(),
        outcome,
        unit: "ms".into(),
        baseline_value: Some(120.0),
        candidate_value: Some(120.0),
        estimate: None,
        p_value: None,
        p_adjusted: None,
        mde: None,
        requests_to_settle: None,
        explanation: String::new(),
        waiver: None,
        decision,
    }
}

/// A report with every outcome and hostile strings from "the bundle".
pub fn fixed_report() -> GateReport {
    let mut fail = result(
        "ttft.p95 max_increase 15%",
        "ttft.p95",
        "max_increase 15%",
        Outcome::Fail,
        Decision::Relative(relative(1.32, (1.24, 1.41), 1.15, 0.0012, Finding::Past)),
    );
    fail.candidate_value = Some(158.4);
    fail.estimate = Some(Estimate {
        kind: EstimateKind::Ratio,
        point: 1.32,
        interval: Some(Interval { lo: 1.24, hi: 1.41 }),
    });
    fail.p_value = Some(0.0004);
    fail.p_adjusted = Some(0.0012);
    fail.mde = Some(0.071);
    fail.explanation = "ttft.p95 changed +32 % (95 % CI +24 % to +41 %) against the +15 % limit: the whole interval is past the limit and significantly worse than baseline (adjusted p = 0.0012 < 0.05).".into();

    let mut pass = result(
        "output_tokens_per_s max_decrease 10%",
        "output_tokens_per_s",
        "max_decrease 10%",
        Outcome::Pass,
        Decision::Relative(Relative {
            test: Test::ThroughputBootstrap,
            bound: Bound::Min,
            ..relative(0.9908, (0.962, 1.021), 0.9, 0.71, Finding::Within)
        }),
    );
    pass.unit = "tok/s".into();
    pass.baseline_value = Some(812.5);
    pass.candidate_value = Some(805.0);
    pass.estimate = Some(Estimate {
        kind: EstimateKind::Ratio,
        point: 0.9908,
        interval: Some(Interval {
            lo: 0.962,
            hi: 1.021,
        }),
    });
    pass.p_value = Some(0.71);
    pass.p_adjusted = Some(0.71);
    pass.mde = Some(0.03);
    pass.explanation = "output_tokens_per_s changed −0.9 % (95 % CI −3.8 % to +2.1 %) against the −10 % limit: the whole interval is within the limit.".into();

    let mut inconclusive = result(
        "stream_error_rate max 0.5%",
        "stream_error_rate",
        "max 0.5%",
        Outcome::Inconclusive,
        Decision::RateCeiling(Binomial {
            observed: 0.01,
            k: 3,
            n: 300,
            interval: Interval {
                lo: 0.002,
                hi: 0.029,
            },
            level: 0.95,
            limit: 0.005,
            finding: Finding::PointPast,
            requests_to_settle: Some(1240),
        }),
    );
    inconclusive.unit = "%".into();
    inconclusive.baseline_value = Some(0.0);
    inconclusive.candidate_value = Some(0.01);
    inconclusive.estimate = Some(Estimate {
        kind: EstimateKind::Value,
        point: 0.01,
        interval: Some(Interval {
            lo: 0.002,
            hi: 0.029,
        }),
    });
    inconclusive.mde = Some(0.012);
    inconclusive.requests_to_settle = Some(1240);
    inconclusive.explanation = "stream_error_rate = 1 % (3 of 300) against the 0.5 % ceiling: above the ceiling, but the lower bound 0.2 % is not, so the excess may be chance; about 1240 requests per side would settle it.".into();

    let mut warn = result(
        "cost_per_1k max 2.50",
        "cost_per_1k",
        "max 2.50",
        Outcome::Warn,
        Decision::Point(PointValue {
            value: 2.75,
            limit: 2.5,
            bound: Bound::Max,
            finding: Finding::Past,
        }),
    );
    warn.severity = Severity::Warn;
    warn.unit = String::new();
    warn.baseline_value = Some(2.1);
    warn.candidate_value = Some(2.75);
    warn.estimate = Some(Estimate {
        kind: EstimateKind::Value,
        point: 2.75,
        interval: None,
    });
    warn.explanation =
        "cost_per_1k = 2.75 against the limit 2.5: past the limit (point comparison).".into();

    let mut waived = result(
        "itl | p95 <script>alert(1)</script> @ops-team `rm`",
        "itl.p95",
        "max_increase 15%",
        Outcome::Waived,
        Decision::Relative(Relative {
            caveats: vec![Caveat::ItlGapsPerRequest],
            ..relative(1.25, (1.2, 1.3), 1.15, 0.001, Finding::Past)
        }),
    );
    waived.candidate_value = Some(25.0);
    waived.baseline_value = Some(20.0);
    waived.estimate = Some(Estimate {
        kind: EstimateKind::Ratio,
        point: 1.25,
        interval: Some(Interval { lo: 1.2, hi: 1.3 }),
    });
    waived.p_value = Some(0.0005);
    waived.p_adjusted = Some(0.001);
    waived.explanation = "itl.p95 changed +25 %\nsecond line | with pipe".into();
    let note = WaiverNote {
        rule: waived.name.clone(),
        key: WaiverKey {
            serving_image: Some("vllm:0.6.4".into()),
            ..Default::default()
        },
        approver: "alice@example.com".into(),
        reason: "known, fixed in 0.6.5".into(),
        expires: "2026-12-31".parse().expect("valid date"),
    };
    waived.waiver = Some(note.clone());

    let mut skipped = result(
        "goodput min 95%",
        "goodput",
        "min 95%",
        Outcome::Skipped,
        Decision::Skipped {
            reason: SkipReason::NoSlo,
        },
    );
    skipped.unit = "%".into();
    skipped.baseline_value = None;
    skipped.candidate_value = None;
    skipped.explanation =
        "skipped: the workload has no SLO block, so the bundle has no goodput".into();

    GateReport {
        schema_version: tokengate::gate::VERDICT_SCHEMA_VERSION,
        tool_version: "0.1.0".into(),
        gate: "release".into(),
        verdict: Verdict::Fail,
        exit_code: 1,
        policy: Policy::default(),
        candidate: CandidateDesc {
            key: key("vllm:0.6.4"),
            digest: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                .into(),
            workload: "quickstart".into(),
            workload_digest: "sha256:abc".into(),
            label: "gpu-a.internal:8000".into(),
            complete: true,
            incomplete_reason: None,
            started_at: "2026-11-27T10:00:00Z".into(),
            ended_at: "2026-11-27T10:01:00Z".into(),
            window_s: 60.0,
            requests_attempted: 300,
            ci_run_url: Some("https://github.com/acme/serving/actions/runs/42".into()),
        },
        baseline: BaselineDesc {
            location: "baselines/1xH100-80GB/quickstart".into(),
            git_ref: Some("origin/main".into()),
            commit: Some("0123456789abcdef0123".into()),
            key: Some(key("vllm:0.6.3")),
            run_digests: vec!["sha256:aa".into(), "sha256:bb".into()],
        },
        skip_reason: None,
        change_under_test: vec![KeyChange {
            field: "serving_image".into(),
            baseline: "vllm:0.6.3".into(),
            candidate: "vllm:0.6.4".into(),
        }],
        rules: vec![fail, pass, inconclusive, warn, waived, skipped],
        warnings: vec![
            "runner host differs: ci-1 vs <ci-2>".into(),
            "waiver for rule `x` (approver bob) expired on 2026-01-31; it was ignored".into(),
        ],
        waivers: WaiverSummary {
            applied: vec![note],
            expired: vec![],
        },
        client_server: vec![
            tokengate::gate::SideBySide {
                metric: "TTFT p95".into(),
                unit: "ms".into(),
                baseline_client: Some(120.0),
                baseline_server: Some(101.5),
                candidate_client: Some(158.4),
                candidate_server: Some(139.2),
                baseline_server_bucket: None,
                candidate_server_bucket: None,
            },
            tokengate::gate::SideBySide {
                metric: "queue time p95".into(),
                unit: "ms".into(),
                baseline_client: None,
                baseline_server: Some(2.0),
                candidate_client: None,
                candidate_server: Some(41.0),
                baseline_server_bucket: None,
                candidate_server_bucket: None,
            },
        ],
    }
}

#[test]
fn the_wording_layer_writes_each_explanation_from_its_decision() {
    let report = fixed_report();
    // The pass, fail and skip sentences of the fixed report are real ones;
    // the others carry hostile or shortened text on purpose.
    for i in [0, 1, 5] {
        let r = &report.rules[i];
        assert_eq!(
            tokengate::wording::explain(&r.metric, &r.unit, &r.decision),
            r.explanation,
            "rule {}",
            r.name
        );
    }
}

#[test]
fn the_json_verdict_carries_each_decision_tagged_by_kind() {
    let json: serde_json::Value =
        serde_json::from_slice(&JsonRenderer.render(&fixed_report()).expect("renders"))
            .expect("valid JSON");
    let d = &json["rules"][0]["decision"];
    assert_eq!(d["kind"], "relative");
    assert_eq!(d["finding"], "past");
    assert_eq!(d["p_adjusted"], 0.0012);
    assert_eq!(d["limit"], 1.15);
    assert_eq!(json["rules"][2]["decision"]["k"], 3);
    assert_eq!(json["rules"][5]["decision"]["reason"]["kind"], "no_slo");
}

fn render(r: &dyn Renderer, report: &GateReport) -> String {
    String::from_utf8(r.render(report).expect("renders")).expect("utf-8")
}

fn snapshot_dir() -> String {
    format!(
        "{}/tests/fixtures/gate/snapshots",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn markdown_snapshot_of_a_fixed_report() {
    let md = render(&MarkdownRenderer::new(), &fixed_report());
    insta::with_settings!({snapshot_path => snapshot_dir(), prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("markdown", md);
    });
}

#[test]
fn markdown_has_marker_first_and_the_verdict_table_before_detail() {
    let md = render(&MarkdownRenderer::new(), &fixed_report());
    assert!(md.starts_with("<!-- tokengate:report -->\n"), "{md}");
    let table = md.find("| Verdict | Rule |").expect("table");
    let change = md.find("### Change under test").expect("change under test");
    let detail = md.find("### Detail").expect("detail");
    let warnings = md.find("### Warnings").expect("warnings");
    assert!(table < change && change < detail && detail < warnings);
}

#[test]
fn markdown_escapes_strings_from_bundles_and_files() {
    let md = render(&MarkdownRenderer::new(), &fixed_report());
    assert!(!md.contains("<script>"), "raw HTML leaked");
    assert!(!md.contains("@ops-team"), "mention leaked");
    assert!(!md.contains("alice@example.com"), "mention leaked");
    assert!(!md.contains("<ci-2>"));
    assert!(md.contains("itl \\| p95 &lt;script&gt;"), "{md}");
    // Every verdict-table row keeps exactly seven pipes (six cells) despite
    // the `|` in a rule name (the client/server table below has five cells).
    let verdict_part = md.split("### Client and server").next().unwrap_or(&md);
    for line in verdict_part
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains("\u{a0}ms |"))
    {
        let unescaped = line.replace("\\|", "");
        assert_eq!(unescaped.matches('|').count(), 7, "{line}");
    }
    // The newline inside an explanation does not break the detail list.
    assert!(md.contains("+25\u{a0}% second line \\| with pipe"));
}

#[test]
fn junit_snapshot_round_trip_and_content() {
    let xml = render(&JunitRenderer, &fixed_report());
    insta::with_settings!({snapshot_path => snapshot_dir(), prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("junit", xml);
    });
    let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("valid JUnit");
    assert_eq!(parsed.test_suites.len(), 1, "one testsuite per comparison");
    let suite = &parsed.test_suites[0];
    assert_eq!(suite.test_cases.len(), 6, "one testcase per rule");
    assert_eq!(suite.failures, 1);
    assert_eq!(suite.skipped, 2);
    let ts = suite.timestamp.expect("timestamp from the bundle");
    assert_eq!(ts.to_rfc3339(), "2026-11-27T10:00:00+00:00");
    let fail = &suite.test_cases[0];
    match &fail.status {
        quick_junit::TestCaseStatus::NonSuccess { description, .. } => {
            let text = description.as_ref().expect("failure text").as_str();
            assert!(
                text.contains("past the limit and significantly worse"),
                "{text}"
            );
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    match &suite.test_cases[2].status {
        quick_junit::TestCaseStatus::Skipped { message, .. } => {
            assert!(
                message
                    .as_ref()
                    .expect("message")
                    .as_str()
                    .starts_with("inconclusive: ")
            );
        }
        other => panic!("expected skipped (inconclusive), got {other:?}"),
    }
    assert!(
        suite.test_cases[4]
            .system_out
            .as_ref()
            .expect("waiver note")
            .as_str()
            .starts_with("waived by alice@example.com until 2026-12-31")
    );
}

#[test]
#[ignore = "needs xmllint (apt-get install libxml2-utils): cargo test --test it -- --ignored xmllint (.ci/run runs it)"]
fn xmllint_validates_junit_against_the_junit_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("report.xml");
    std::fs::write(&file, render(&JunitRenderer, &fixed_report())).expect("write");
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/junit.xsd");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .arg(&file)
        .output()
        .expect("run xmllint");
    assert!(
        out.status.success(),
        "xmllint: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The schema has teeth: a malformed count is rejected.
    let bad = render(&JunitRenderer, &fixed_report()).replacen("tests=\"6\"", "tests=\"six\"", 1);
    std::fs::write(&file, bad).expect("write");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .arg(&file)
        .output()
        .expect("run xmllint");
    assert!(
        !out.status.success(),
        "a non-numeric `tests` must not validate"
    );
}

#[test]
fn junit_holds_one_testsuite_per_comparison() {
    let mut second = fixed_report();
    second.candidate.workload = "long-prompts".into();
    second.rules.truncate(2);
    let xml = String::from_utf8(
        JunitRenderer
            .render_all(&[fixed_report(), second])
            .expect("renders"),
    )
    .expect("utf-8");
    let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("valid JUnit");
    assert_eq!(parsed.test_suites.len(), 2);
    assert_eq!(parsed.tests, 8);
    assert_eq!(
        parsed.test_suites[1].name.as_str(),
        "tokengate release · long-prompts · gpu-a.internal:8000"
    );
}

/// Two jobs gate the same workload on two endpoints: when CI merges their
/// JUnit reports, the suites keep apart by the endpoint label.
#[test]
fn junit_suites_of_one_workload_on_two_endpoints_have_different_names() {
    let mut other = fixed_report();
    other.candidate.label = "gpu-b.internal:8000".into();
    let names: Vec<String> = [fixed_report(), other]
        .iter()
        .map(|r| {
            let xml = render(&JunitRenderer, r);
            let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("valid JUnit");
            parsed.test_suites[0].name.to_string()
        })
        .collect();
    assert_eq!(
        names,
        [
            "tokengate release · quickstart · gpu-a.internal:8000",
            "tokengate release · quickstart · gpu-b.internal:8000"
        ]
    );
}

#[test]
fn junit_stays_valid_xml_with_control_characters_from_a_bundle() {
    let mut r = fixed_report();
    r.candidate.key.serving_image = "img\u{0}\u{1b}[31mred\u{1b}[0m\u{7}".into();
    r.rules[0].explanation = "gap \u{0b} <&> \"quoted\"".into();
    let xml = render(&JunitRenderer, &r);
    assert!(!xml.contains('\u{0}') && !xml.contains('\u{1b}') && !xml.contains('\u{7}'));
    let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("valid JUnit");
    assert_eq!(parsed.test_suites[0].test_cases.len(), 6);
    let md = render(&MarkdownRenderer::new(), &r);
    assert!(!md.contains('\u{0}') && !md.contains('\u{1b}'));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Any key value, server string or workload string in a report leaves
    /// junit.xml well-formed (parsed by quick-xml and by quick-junit).
    #[test]
    fn junit_is_well_formed_whatever_the_strings(
        s in "(\\PC|\u{0}|\u{1b}|\n|\r|\u{FFFE}|\u{FFFF}|\u{202E}|<|&|\"|\\]\\]>|::){0,40}"
    ) {
        let mut r = fixed_report();
        r.candidate.key.hardware_profile = s.clone();
        r.candidate.key.model_version = s.clone();
        r.candidate.workload = s.clone();
        r.rules[0].explanation = s.clone();
        r.warnings.push(s.clone());
        let xml = render(&JunitRenderer, &r);
        let bad = xml.contains(['\u{FFFE}', '\u{FFFF}']);
        proptest::prop_assert!(!bad, "noncharacter in junit");
        let mut reader = quick_xml::Reader::from_str(&xml);
        for _ in 0..100_000 {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => {}
                Err(e) => proptest::prop_assert!(false, "ill-formed: {e}\n{xml}"),
            }
        }
        proptest::prop_assert!(quick_junit::Report::deserialize_from_str(&xml).is_ok(), "{xml}");
    }
}

#[test]
fn json_verdict_snapshot_and_fields() {
    let json = render(&JsonRenderer, &fixed_report());
    assert!(json.ends_with("}\n"));
    insta::with_settings!({snapshot_path => snapshot_dir(), prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("json", json);
    });
    let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(v["verdict"], "fail");
    assert_eq!(v["exit_code"], 1);
    assert_eq!(v["baseline"]["git_ref"], "origin/main");
    assert_eq!(v["rules"][0]["estimate"]["interval"]["lo"], 1.24);
    assert_eq!(v["rules"][0]["p_adjusted"], 0.0012);
}

#[test]
fn same_report_renders_byte_identical() {
    let r = fixed_report();
    for renderer in [
        &MarkdownRenderer::new() as &dyn Renderer,
        &JunitRenderer,
        &JsonRenderer,
    ] {
        assert_eq!(
            renderer.render(&r).expect("renders"),
            renderer.render(&fixed_report()).expect("renders")
        );
    }
}

#[test]
fn markdown_fits_65536_characters_with_hundreds_of_huge_rules() {
    let mut r = fixed_report();
    let template = r.rules.clone();
    r.rules.clear();
    for i in 0..600 {
        let mut x = template[i % template.len()].clone();
        x.name = format!("rule {i} {}", "x".repeat(3000));
        x.explanation = "y|".repeat(2000);
        r.rules.push(x);
    }
    r.warnings = (0..500)
        .map(|i| format!("warning {i} {}", "w".repeat(1000)))
        .collect();
    let md = render(&MarkdownRenderer::new(), &r);
    assert!(
        md.chars().count() <= GITHUB_COMMENT_LIMIT,
        "{}",
        md.chars().count()
    );
    assert!(md.starts_with(MARKER));
    assert!(md.contains("| Verdict | Rule | Baseline | Candidate | Change | Limit |"));
    // Every failing rule keeps its row even when rows must be dropped.
    let fails = r
        .rules
        .iter()
        .filter(|x| x.outcome == Outcome::Fail)
        .count();
    assert_eq!(md.matches("| ❌ fail |").count(), fails);
    assert!(md.contains("more rule(s) omitted"));

    // Moderate size: detail is dropped first, the whole table stays.
    let mut r = fixed_report();
    for x in &mut r.rules {
        x.explanation = "z".repeat(15_000);
    }
    let md = render(&MarkdownRenderer::new(), &r);
    assert!(md.chars().count() <= GITHUB_COMMENT_LIMIT);
    assert_eq!(
        md.matches("\n| ").count(),
        1 + 6 + 2 + 3,
        "header, six rules, change header and row, client/server header and two rows"
    );
    assert!(md.contains("Per-rule detail omitted"));
    assert!(!md.contains("### Detail"));
}

#[test]
fn a_user_template_overrides_the_built_in_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.md.j2");
    std::fs::write(
        &path,
        "{{ view.marker }}\n{{ report.gate }}: {{ report.verdict }} ({{ report.rules|length }} rules) {{ report.rules[4].name|md }}\n",
    )
    .expect("write");
    let md = render(
        &MarkdownRenderer::from_template_file(&path).expect("template"),
        &fixed_report(),
    );
    assert_eq!(
        md,
        "<!-- tokengate:report -->\nrelease: fail (6 rules) itl \\| p95 &lt;script&gt;alert(1)&lt;/script&gt; &#64;ops-team \\`rm\\`\n"
    );
    let missing = MarkdownRenderer::from_template_file(&dir.path().join("nope.j2"));
    assert!(
        missing
            .expect_err("missing template")
            .to_string()
            .starts_with("cannot read markdown template ")
    );
    std::fs::write(&path, "{% if %}").expect("write");
    let broken = MarkdownRenderer::from_template_file(&path)
        .expect("read")
        .render(&fixed_report())
        .expect_err("syntax error");
    assert!(
        broken.to_string().contains("cannot be rendered"),
        "{broken}"
    );
}

#[test]
fn evaluated_reports_render_in_every_format() {
    use super::gate::{Spec, baseline_runs, comparison, gate, make_bundle, today};
    // Eight baseline runs: the gate measures the run-to-run noise, so a
    // tail quantile can fail (with one run a side it is inconclusive).
    let runs = baseline_runs(&Spec::default(), 8);
    let base: Vec<&tokengate::bundle::Bundle> = runs.iter().collect();
    let cand = make_bundle(&Spec {
        seed: 5,
        ttft_ms: 170.0,
        ..Spec::default()
    });
    let g = gate(
        "name: e2e\nrules:\n  - metric: ttft.p95\n    max_increase: 15%\n  - metric: stream_error_rate\n    max: 0.5%\n  - metric: output_tokens_per_s\n    max_decrease: 10%\n  - metric: itl.p95\n    max: 150ms\n  - metric: error_rate\n    max_increase: 2pp\n  - metric: e2e.p99\n    max_increase: 15%\n",
    );
    let report = evaluate(&g, &comparison(&cand, &base), &[], today());
    let md = render(&MarkdownRenderer::new(), &report);
    assert!(md.contains("| ❌ fail | ttft.p95 |"), "{md}");
    // Throughput −3.4 % is inconclusive: eight near-identical baseline runs
    // get the policy's run-to-run floor (min_run_cv 3 %), whose interval
    // reaches past −10 %.
    assert_eq!(md.matches("\n| ✅ pass |").count(), 4, "{md}");
    assert!(
        md.contains("| ❔ inconclusive | output\\_tokens\\_per\\_s | "),
        "{md}"
    );
    assert!(md.contains("(ITL gaps resampled with an effective sample size of one per request)"));
    let xml = render(&JunitRenderer, &report);
    let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("valid JUnit");
    assert_eq!(parsed.test_suites[0].failures, 1);
    assert_eq!(parsed.test_suites[0].test_cases.len(), 6);
    let json: serde_json::Value =
        serde_json::from_str(&render(&JsonRenderer, &report)).expect("valid JSON");
    assert_eq!(json["verdict"], "fail");
}

/// The Markdown renders as GitHub-flavoured Markdown: a GFM parser (tables
/// extension) turns the verdict table into one HTML table with a row per
/// rule, and nothing from a bundle turns into raw HTML.
#[test]
fn markdown_renders_as_github_flavoured_markdown() {
    use pulldown_cmark::{Event, Options, Parser, Tag, html};
    let report = fixed_report();
    let md = render(&MarkdownRenderer::new(), &report);
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    let mut tables = 0;
    let mut raw_html = Vec::new();
    for event in Parser::new_ext(&md, opts) {
        match event {
            Event::Start(Tag::Table(_)) => tables += 1,
            Event::Html(h) | Event::InlineHtml(h) => raw_html.push(h.to_string()),
            _ => {}
        }
    }
    assert!(tables >= 1, "no table in:\n{md}");
    // Only our own markup: the hidden marker, line breaks, <sub>, <details>.
    for h in &raw_html {
        let t = h.trim();
        assert!(
            t.starts_with("<!-- tokengate:report -->")
                || [
                    "<br>",
                    "<sub>",
                    "</sub>",
                    "<details>",
                    "</details>",
                    "<summary>",
                    "</summary>"
                ]
                .iter()
                .any(|ok| t.starts_with(ok)),
            "unexpected raw HTML {t:?} in:\n{md}"
        );
    }
    let mut out = String::new();
    html::push_html(&mut out, Parser::new_ext(&md, opts));
    let first_table = &out[out.find("<table>").unwrap()..out.find("</table>").unwrap()];
    let rows = first_table.matches("<tr>").count();
    assert_eq!(
        rows,
        report.rules.len() + 1,
        "header + one row per rule:\n{first_table}"
    );
}
