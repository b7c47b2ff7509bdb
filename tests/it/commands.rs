//! Every command's whole user-visible output, in process: each test calls a
//! command's `run` with options and checks the `Outcome` — stdout, workflow
//! commands, notes, warnings, files written, exit status — as `main` would
//! print it. Paths are replaced by `[TMP]`/`[ROOT]`; in the texts of runs
//! (which measure real time) numbers are replaced by `N`.

use crate::common::git;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use serde_json::{Value, json};

use tokengate::baseline::BaselineSource;
use tokengate::bundle::read_bundle;
use tokengate::commands::{
    self, BaselineOptions, CheckOptions, CommentOptions, EnvLookup, GateCommandOptions,
    GateOptions, Outcome, Platform, ProfileOverrides, ProfileSource, ProgressMode, PublishFlags,
    ReportOptions, RunOptions, SimOptions, SoakOptions, Status, SweepOptions, render_summary,
    render_sweep_level, render_sweep_summary,
};
use tokengate::driver::StopSignal;
use tokengate::report::{MARKER, MarkdownRenderer, Renderer};

// ------------------------------------------------------------- helpers

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The environment a test gives a command: only these variables.
fn env_of(pairs: &[(&str, &str)]) -> EnvLookup {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Arc::new(move |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
}

/// A short closed-loop workload on the built-in simulator.
fn workload(dir: &Path, extra: &str) -> PathBuf {
    let p = dir.join("w.yaml");
    std::fs::write(
        &p,
        format!(
            "name: cmd\nendpoint: sim://default\nmodel: sim-model\nprompts:\n  inline: [\"Say something about latency.\"]\noutput: {{max_tokens: 8, ignore_eos: true}}\nload: {{mode: closed, concurrency: 2}}\nseed: 3\n{extra}\n"
        ),
    )
    .expect("write workload");
    p
}

fn run_options(workload: &Path, out: &Path) -> RunOptions {
    RunOptions {
        workload: workload.to_owned(),
        overrides: Default::default(),
        out: out.to_owned(),
        progress: ProgressMode::Off,
        stop: StopSignal::new(),
        env: env_of(&[]),
        repeat: 1,
    }
}

/// A committed baseline bundle of the quickstart (deterministic input).
fn committed_bundle() -> PathBuf {
    let dir = repo_root()
        .join("baselines/quickstart/simulated/o200k_base/sim-model@tokengate-sim_quickstart");
    let mut bundles: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("committed baselines")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    bundles.sort();
    bundles.into_iter().next().expect("a baseline bundle")
}

fn gate_options(dir: &Path, bundle: &Path, gate: &Path, baselines: &Path) -> GateOptions {
    GateOptions {
        bundle: bundle.to_owned(),
        gate: gate.to_owned(),
        baseline_dir: baselines.to_owned(),
        baseline_ref: None,
        waivers: None,
        junit: Some(dir.join("junit.xml")),
        markdown: Some(dir.join("report.md")),
        json: Some(dir.join("verdict.json")),
        template: None,
        now: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        inconclusive: None,
        allow_imported: false,
    }
}

/// A gate whose one absolute rule every simulated run breaks.
fn failing_gate(dir: &Path) -> PathBuf {
    let p = dir.join("strict.yaml");
    std::fs::write(
        &p,
        "name: strict\nrules:\n  - metric: ttft.p95\n    max: 1ms\n  - metric: error_rate\n    max: 50%\n",
    )
    .expect("write gate");
    p
}

fn gate_command(gate: GateOptions, report_dir: &Path, env: EnvLookup) -> GateCommandOptions {
    GateCommandOptions {
        gate,
        publish: PublishFlags::default(),
        report_dir: report_dir.to_owned(),
        env,
    }
}

/// `text` with the temporary directory and the repository root replaced.
fn paths(text: &str, tmp: &Path) -> String {
    text.replace(&tmp.display().to_string(), "[TMP]")
        .replace(&repo_root().display().to_string(), "[ROOT]")
}

/// The shape of a measured text: paths replaced, every number `N`, runs of
/// spaces (column padding that follows the numbers' widths) one space, and
/// the bundle's client-host warnings (they depend on the machine's load)
/// left out.
fn shape(text: &str, tmp: &Path) -> String {
    let numbers = regex::Regex::new(r"\b\d+(\.\d+)?\b").expect("regex");
    let spaces = regex::Regex::new(r" {2,}").expect("regex");
    paths(text, tmp)
        .lines()
        .filter(|l| !l.starts_with("warning: the client"))
        .map(|l| {
            spaces
                .replace_all(&numbers.replace_all(l, "N"), " ")
                .into_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` with promotion stamps (RFC 3339, and the compact form in stored
/// file names) replaced by `[TIME]`.
fn times(text: &str) -> String {
    regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z|\d{8}T\d{6}\.\d{3}Z")
        .expect("regex")
        .replace_all(text, "[TIME]")
        .into_owned()
}

fn assert_quiet(o: &Outcome) {
    assert!(o.workflow_commands.is_empty(), "{:?}", o.workflow_commands);
    assert!(o.notes.is_empty(), "{:?}", o.notes);
    assert!(o.warnings.is_empty(), "{:?}", o.warnings);
    assert_eq!(o.error, None);
}

// ------------------------------------------------------------- run

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_shows_the_summary_of_the_bundle_it_wrote_and_exits_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = workload(dir.path(), "requests: 20");
    let out = dir.path().join("b.json");
    let o = commands::run::run(run_options(&w, &out))
        .await
        .expect("run");
    assert_eq!(o.status, Status::Pass);
    assert_quiet(&o);
    assert_eq!(o.files, std::slice::from_ref(&out));
    let bundle = read_bundle(&out).expect("bundle written");
    // The bundle's summary, then how long the way out took (issue 18).
    let summary = render_summary(&bundle, &out);
    assert!(o.stdout.starts_with(&summary), "{}", o.stdout);
    let finish = &o.stdout[summary.len()..];
    assert!(
        finish.starts_with("bundle written in ") && finish.lines().count() == 1,
        "{finish}"
    );
    assert_eq!(o.stdout_text(), o.stdout);
    assert_eq!(o.stderr_text(), "");
    insta::assert_snapshot!("run_stdout", shape(&o.stdout, dir.path()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_says_so_on_stderr_and_exits_130() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = workload(dir.path(), "requests: 100000");
    let out = dir.path().join("b.json");
    let opts = run_options(&w, &out);
    let stop = opts.stop.clone();
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        stop.stop("interrupted by SIGINT");
    });
    let o = commands::run::run(opts).await.expect("run");
    stopper.await.expect("stopper");
    assert_eq!(o.status, Status::Interrupted);
    assert_eq!(o.status.code(), 130);
    assert!(
        o.stdout.contains("\nINCOMPLETE: interrupted by SIGINT\n"),
        "{}",
        o.stdout
    );
    assert_eq!(
        paths(&o.stderr_text(), dir.path()),
        "tokengate: the run was interrupted; the bundle [TMP]/b.json is marked incomplete\n"
    );
    assert!(!read_bundle(&out).expect("bundle").context.complete);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_workload_fails_before_any_output_with_one_error_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = workload(dir.path(), "requests: 5\nload: {mode: sideways}");
    let e = commands::run::run(run_options(&w, &dir.path().join("b.json")))
        .await
        .expect_err("a configuration error");
    let o = Outcome::from_error(&e);
    assert_eq!(o.status, Status::ToolError);
    assert_eq!(o.stdout_text(), "");
    let stderr = o.stderr_text();
    assert!(
        stderr.starts_with("error: ") && stderr.contains("w.yaml"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

// ------------------------------------------------------------- gate, report

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_shows_the_verdict_and_report_files_and_exits_with_the_verdict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = repo_root();
    let opts = gate_options(
        dir.path(),
        &committed_bundle(),
        &root.join("gates/default.yaml"),
        &root.join("baselines"),
    );
    let o = commands::gate::run(gate_command(opts, dir.path(), env_of(&[])))
        .await
        .expect("gate");
    assert_quiet(&o);
    let files: Vec<PathBuf> = ["junit.xml", "report.md", "verdict.json"]
        .iter()
        .map(|n| dir.path().join(n))
        .collect();
    assert_eq!(o.files, files);
    let verdict: Value =
        serde_json::from_slice(&std::fs::read(&files[2]).expect("verdict")).expect("JSON");
    assert_eq!(
        o.status.code(),
        verdict["exit_code"].as_i64().expect("code") as i32
    );
    insta::assert_snapshot!("gate_stdout", paths(&o.stdout, dir.path()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_fails_with_exit_1_and_report_renders_the_same_verdict_with_exit_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gate = failing_gate(dir.path());
    let empty = dir.path().join("no-baselines");
    let opts = gate_options(dir.path(), &committed_bundle(), &gate, &empty);
    let gated = commands::gate::run(gate_command(opts.clone(), dir.path(), env_of(&[])))
        .await
        .expect("gate");
    assert_eq!(gated.status, Status::Fail);
    assert_eq!(gated.status.code(), 1);
    let reported = commands::report::run(ReportOptions { gate: opts })
        .await
        .expect("report");
    assert_eq!(reported.status, Status::Pass);
    assert_quiet(&reported);
    assert_eq!(reported.stdout, gated.stdout);
    assert_eq!(reported.files, gated.files);
    insta::assert_snapshot!("gate_fail_stdout", paths(&gated.stdout, dir.path()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_github_actions_the_gate_writes_the_summary_and_annotates_failures_and_warnings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let summary = dir.path().join("summary.md");
    let env = env_of(&[
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_STEP_SUMMARY", summary.to_str().expect("utf-8")),
    ]);
    let opts = gate_options(
        dir.path(),
        &committed_bundle(),
        &failing_gate(dir.path()),
        &dir.path().join("no-baselines"),
    );
    let o = commands::gate::run(gate_command(opts, dir.path(), env))
        .await
        .expect("gate");
    assert_eq!(o.status, Status::Fail);
    // The missing GITHUB_OUTPUT is a warning, shown as an annotation on
    // stdout (after the failing rule's error), not on stderr.
    assert!(o.warnings.is_empty(), "{:?}", o.warnings);
    assert_eq!(o.workflow_commands.len(), 3, "{:#?}", o.workflow_commands);
    assert!(
        o.workflow_commands[0].starts_with("::error title=tokengate fail%3A ttft.p95 max 1ms::"),
        "{}",
        o.workflow_commands[0]
    );
    assert!(
        o.workflow_commands[1].starts_with("::notice title=tokengate%3A no baseline comparison::"),
        "{}",
        o.workflow_commands[1]
    );
    assert_eq!(
        o.workflow_commands[2],
        "::warning title=tokengate::GITHUB_OUTPUT is not set; no step outputs written"
    );
    assert_eq!(
        paths(&o.stderr_text(), dir.path()),
        "tokengate: job summary: [TMP]/summary.md\n"
    );
    assert!(
        o.stdout_text()
            .ends_with(&format!("{}\n", o.workflow_commands[2]))
    );
    let written = std::fs::read_to_string(&summary).expect("job summary");
    assert!(written.contains("| Verdict | Rule |") && !written.contains(MARKER));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_gitlab_ci_the_gate_writes_gitlab_reports_from_the_judged_bundle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = repo_root();
    let bundle = committed_bundle();
    let opts = gate_options(
        dir.path(),
        &bundle,
        &root.join("gates/default.yaml"),
        &dir.path().join("no-baselines"),
    );
    let o = commands::gate::run(gate_command(
        opts,
        dir.path(),
        env_of(&[("GITLAB_CI", "true")]),
    ))
    .await
    .expect("gate");
    let gl = dir.path().join("gitlab");
    let (lp, metrics) = (gl.join("load_performance.json"), gl.join("metrics.txt"));
    assert_eq!(o.files[3..], [lp.clone(), metrics.clone()]);
    assert_eq!(
        paths(&o.stderr_text(), dir.path()),
        "tokengate: GitLab reports: [TMP]/gitlab/load_performance.json, [TMP]/gitlab/metrics.txt\n"
    );
    assert!(o.workflow_commands.is_empty());
    let b = read_bundle(&bundle).expect("bundle");
    let got: Value = serde_json::from_slice(&std::fs::read(&lp).expect("lp")).expect("JSON");
    assert_eq!(got, tokengate::ci::load_performance_json(&b));
    assert_eq!(
        std::fs::read_to_string(&metrics).expect("metrics"),
        tokengate::ci::openmetrics_text(&b)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_ref_without_baselines_is_a_note_and_every_comparison_is_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).expect("mkdir");
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("README"), "x").expect("write");
    git(&repo, &["add", "README"]);
    git(&repo, &["commit", "-q", "-m", "init"]);
    let mut opts = gate_options(
        dir.path(),
        &committed_bundle(),
        &repo_root().join("gates/default.yaml"),
        &repo.join("baselines"),
    );
    opts.baseline_ref = Some("main".into());
    let o = commands::gate::run(gate_command(opts, dir.path(), env_of(&[])))
        .await
        .expect("gate");
    assert_eq!(o.notes.len(), 1, "{:?}", o.notes);
    assert!(
        o.notes[0].starts_with("baseline directory `baselines` does not exist at git ref `main`"),
        "{}",
        o.notes[0]
    );
    assert!(
        o.stdout
            .contains("  baseline: none — no baselines directory `"),
        "{}",
        o.stdout
    );
    assert_eq!(o.status, Status::Pass);
}

/// A fake GitHub API: check runs and one pull request's comments. Records
/// every request as (method, path, body).
#[derive(Clone, Default)]
struct FakeGitHub {
    seen: Arc<Mutex<Vec<(Method, String, String)>>>,
    comments: Arc<Mutex<Vec<(u64, String)>>>,
}

impl FakeGitHub {
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let app = Router::new().fallback(github).with_state(self.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        base
    }

    fn seen(&self) -> Vec<(Method, String, String)> {
        self.seen.lock().expect("lock").clone()
    }
}

async fn github(
    State(api): State<FakeGitHub>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> (StatusCode, String) {
    let body = String::from_utf8_lossy(&body).into_owned();
    let path = uri.path().to_owned();
    api.seen
        .lock()
        .expect("lock")
        .push((method.clone(), path.clone(), body.clone()));
    let text = |v: &Value| v["body"].as_str().unwrap_or_default().to_owned();
    let mut comments = api.comments.lock().expect("lock");
    match (method.as_str(), path.as_str()) {
        ("POST", "/repos/o/r/check-runs") => (StatusCode::CREATED, json!({"id": 77}).to_string()),
        ("GET", "/repos/o/r/issues/7/comments") => {
            let list: Vec<Value> = comments
                .iter()
                .map(|(id, b)| json!({"id": id, "body": b}))
                .collect();
            (StatusCode::OK, Value::from(list).to_string())
        }
        ("POST", "/repos/o/r/issues/7/comments") => {
            let id = 1000 + comments.len() as u64;
            let v: Value = serde_json::from_str(&body).unwrap_or_default();
            comments.push((id, text(&v)));
            (StatusCode::CREATED, json!({"id": id}).to_string())
        }
        ("PATCH", p) if p.starts_with("/repos/o/r/issues/comments/") => {
            let id: u64 = p
                .rsplit('/')
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            (StatusCode::OK, json!({"id": id}).to_string())
        }
        _ => (StatusCode::NOT_FOUND, json!({"message": "no"}).to_string()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_run_summary_is_the_verdict_table_even_with_a_user_template() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = FakeGitHub::default();
    let base = api.start().await;
    let template = dir.path().join("mine.md.j2");
    std::fs::write(
        &template,
        "{{ view.marker }}\nOur gate {{ report.gate | md }}: {{ view.verdict }}\n\n### Ours\n",
    )
    .expect("template");
    let mut opts = gate_options(
        dir.path(),
        &committed_bundle(),
        &failing_gate(dir.path()),
        &dir.path().join("no-baselines"),
    );
    opts.template = Some(template.clone());
    // The same judgement, without files: the report the summary is made of.
    let report = commands::gate_bundle(&GateOptions {
        junit: None,
        markdown: None,
        json: None,
        ..opts.clone()
    })
    .expect("gate")
    .report;
    let env = env_of(&[
        ("GITHUB_TOKEN", "tg-test-token"),
        ("GITHUB_REPOSITORY", "o/r"),
        ("GITHUB_API_URL", &base),
    ]);
    let mut cmd = gate_command(opts, dir.path(), env);
    cmd.publish = PublishFlags {
        check_run: true,
        head_sha: Some("abc123".into()),
        template: Some(template),
        ..PublishFlags::default()
    };
    let o = commands::gate::run(cmd).await.expect("gate");
    assert_eq!(o.status, Status::Fail);
    assert_eq!(o.notes, ["check run 77 `tokengate` on abc123: failure"]);
    assert!(o.warnings.is_empty(), "{:?}", o.warnings);

    let seen = api.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let run: Value = serde_json::from_str(&seen[0].2).expect("check run body");
    // The text is the user's template; the summary the built-in verdict
    // table of the same report.
    assert_eq!(run["output"]["text"], "Our gate strict: fail\n\n### Ours\n");
    let table = String::from_utf8(
        MarkdownRenderer::verdict_table()
            .render(&report)
            .expect("renders"),
    )
    .expect("utf-8");
    assert_eq!(run["output"]["summary"], table.as_str());
    assert!(
        table.starts_with("## ❌ tokengate: strict — fail\n"),
        "{table}"
    );
    assert!(table.contains("| Verdict | Rule |") && !table.contains("### "));
}

/// The verdict table is exactly the head of the built-in report: what the
/// check run's summary used to be cut from the full report.
#[test]
fn the_verdict_table_is_the_head_of_the_built_in_report() {
    let report = crate::report::fixed_report();
    let render = |r: &MarkdownRenderer| {
        String::from_utf8(r.render(&report).expect("renders")).expect("utf-8")
    };
    let full = render(&MarkdownRenderer::new());
    let table = render(&MarkdownRenderer::verdict_table());
    let body = full
        .strip_prefix(&format!("{MARKER}\n"))
        .expect("marker first");
    let rest = body.strip_prefix(&table).expect("the table is the head");
    assert!(rest.starts_with("### Change under test\n"), "{rest}");
    let last = table.lines().rfind(|l| !l.is_empty()).expect("a line");
    assert!(last.starts_with("**Baseline:** "), "{table}");
    assert!(
        table.ends_with(")\n\n"),
        "the blank line before the sections: {table}"
    );

    // Without a baseline the head keeps the reason; still no section.
    let mut skipped = report.clone();
    skipped.skip_reason = Some("no comparable baseline".into());
    skipped.change_under_test.clear();
    let table = String::from_utf8(
        MarkdownRenderer::verdict_table()
            .render(&skipped)
            .expect("renders"),
    )
    .expect("utf-8");
    assert!(
        table.ends_with("\n> **No baseline comparison:** no comparable baseline\n\n"),
        "{table}"
    );
}

/// Hundreds of rules: the verdict table is cut to the limit like the report
/// (failing rows kept), never refused.
#[test]
fn a_verdict_table_too_long_for_the_limit_keeps_the_failing_rows() {
    let mut report = crate::report::fixed_report();
    let template = report.rules[1].clone();
    for i in 0..2000 {
        let mut r = template.clone();
        r.name = format!("passing rule number {i} with a long name to fill the table");
        report.rules.push(r);
    }
    let table = String::from_utf8(
        MarkdownRenderer::verdict_table()
            .with_limit(20_000)
            .render(&report)
            .expect("renders"),
    )
    .expect("utf-8");
    assert!(table.chars().count() <= 20_000);
    assert!(table.contains("| ❌ fail | ttft.p95 |"), "{table}");
    assert!(table.contains("more rule(s) omitted"), "{table}");
}

// ------------------------------------------------------------- check

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_shows_the_run_a_blank_line_and_the_verdict_and_writes_every_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = workload(dir.path(), "requests: 20");
    let bundle = dir.path().join("out/bundle.json");
    let gate = dir.path().join("ok.yaml");
    std::fs::write(
        &gate,
        "name: ok\nrules:\n  - metric: error_rate\n    max: 50%\n",
    )
    .expect("gate");
    let report_dir = dir.path().join("out");
    let mut g = gate_options(
        &report_dir,
        &bundle,
        &gate,
        &dir.path().join("no-baselines"),
    );
    g.bundle = PathBuf::from("replaced by the run's bundle");
    let o = commands::check::run(CheckOptions {
        run: run_options(&w, &bundle),
        gate: g,
        publish: PublishFlags::default(),
        report_dir: report_dir.clone(),
    })
    .await
    .expect("check");
    assert_eq!(o.status, Status::Pass, "{}\n{:?}", o.stdout, o.warnings);
    assert_quiet(&o);
    let mut files = vec![bundle.clone()];
    files.extend(
        ["junit.xml", "report.md", "verdict.json"]
            .iter()
            .map(|n| report_dir.join(n)),
    );
    assert_eq!(o.files, files);
    let summary = render_summary(&read_bundle(&bundle).expect("bundle"), &bundle);
    let verdict = o
        .stdout
        .strip_prefix(&format!("{summary}\n"))
        .expect("the run summary, then a blank line");
    // The gate repeats the bundle's client-saturation warning, which depends
    // on how loaded this machine is.
    let verdict: String = verdict
        .lines()
        .filter(|l| !l.starts_with("  warning: the load-generating client"))
        .map(|l| format!("{l}\n"))
        .collect();
    insta::assert_snapshot!("check_verdict", paths(&verdict, dir.path()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_error_after_the_run_keeps_the_run_summary_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = workload(dir.path(), "requests: 10");
    let bundle = dir.path().join("bundle.json");
    // The gate's inputs are read before the run (a missing gate file is an
    // error before any request); writing a report can only fail after it:
    // here the JUnit path is a directory.
    let blocked = dir.path().join("blocked.xml");
    std::fs::create_dir_all(blocked.join("inside")).expect("mkdir");
    let mut gate = gate_options(dir.path(), &bundle, &failing_gate(dir.path()), dir.path());
    gate.junit = Some(blocked);
    let o = commands::check::run(CheckOptions {
        run: run_options(&w, &bundle),
        gate,
        publish: PublishFlags::default(),
        report_dir: dir.path().to_owned(),
    })
    .await
    .expect("an outcome, not an error: the summary was already made");
    assert_eq!(o.status, Status::ToolError);
    let summary = render_summary(&read_bundle(&bundle).expect("bundle"), &bundle);
    assert_eq!(o.stdout, format!("{summary}\n"));
    assert_eq!(o.files, [bundle]);
    let stderr = paths(&o.stderr_text(), dir.path());
    assert!(
        stderr.starts_with("error: ") && stderr.contains("[TMP]/blocked.xml"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

// ------------------------------------------------------------- baseline

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_promote_list_show_and_explain_print_what_they_did() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("baselines");
    let bundle = dir.path().join("bundle.json");
    std::fs::copy(committed_bundle(), &bundle).expect("copy");

    let o = commands::baseline::run(BaselineOptions::Promote {
        bundle: bundle.clone(),
        baseline_dir: store.clone(),
        keep: 5,
    })
    .await
    .expect("promote");
    assert_quiet(&o);
    assert_eq!(o.status, Status::Pass);
    assert_eq!(o.files.len(), 1);
    assert!(o.files[0].starts_with(&store) && o.files[0].exists());
    assert_eq!(
        o.stdout,
        format!(
            "promoted {} to {}\n",
            bundle.display(),
            o.files[0].display()
        )
    );

    let source = || BaselineSource::Dir(store.clone());
    let list = commands::baseline::run(BaselineOptions::List { source: source() })
        .await
        .expect("list");
    assert_quiet(&list);
    insta::assert_snapshot!("baseline_list", times(&paths(&list.stdout, dir.path())));

    let show = commands::baseline::run(BaselineOptions::Show {
        key: "quickstart".into(),
        source: source(),
    })
    .await
    .expect("show");
    assert!(
        paths(&show.stdout, dir.path()).starts_with("baseline set [TMP]/baselines/quickstart/"),
        "{}",
        show.stdout
    );

    let e = commands::baseline::run(BaselineOptions::Show {
        key: "nothing-like-it".into(),
        source: source(),
    })
    .await
    .expect_err("no such set");
    assert_eq!(
        paths(&Outcome::from_error(&e).stderr_text(), dir.path()),
        "error: no baseline set matches `nothing-like-it` in [TMP]/baselines; `tokengate baseline list` shows them\n"
    );

    let explain = commands::baseline::run(BaselineOptions::Explain {
        bundle,
        source: source(),
        now: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        allow_imported: false,
    })
    .await
    .expect("explain");
    assert_quiet(&explain);
    insta::assert_snapshot!(
        "baseline_explain",
        times(&paths(&explain.stdout, dir.path()))
    );
}

// ------------------------------------------------------------- comment

fn comment_options(md: &Path, platform: Platform, env: EnvLookup) -> CommentOptions {
    CommentOptions {
        markdown: md.to_owned(),
        platform,
        api_url: None,
        repo: None,
        number: None,
        key: None,
        env,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comment_without_a_token_or_outside_a_review_warns_and_exits_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let md = dir.path().join("report.md");
    std::fs::write(&md, format!("{MARKER}\n## report\n")).expect("write");

    let o = commands::comment::run(comment_options(&md, Platform::GitHub, env_of(&[])))
        .await
        .expect("comment");
    assert_eq!(o.status, Status::Pass);
    assert_eq!(o.stdout_text(), "");
    assert_eq!(
        o.stderr_text(),
        "tokengate: warning: GITHUB_TOKEN is not set; no comment posted\n"
    );

    let o = commands::comment::run(comment_options(&md, Platform::GitLab, env_of(&[])))
        .await
        .expect("comment");
    assert_eq!(
        o.stderr_text(),
        "tokengate: warning: neither GITLAB_TOKEN nor CI_JOB_TOKEN is set; no note posted\n"
    );

    let env = env_of(&[
        ("GITHUB_TOKEN", "tg-test-token"),
        ("GITHUB_REPOSITORY", "o/r"),
        ("GITHUB_REF", "refs/heads/main"),
    ]);
    let o = commands::comment::run(comment_options(&md, Platform::GitHub, env))
        .await
        .expect("comment");
    assert_eq!(o.status, Status::Pass);
    assert!(o.warnings.is_empty());
    assert_eq!(o.notes.len(), 1);
    assert!(
        o.notes[0].starts_with("notice: ") && o.notes[0].ends_with("; no comment posted"),
        "{}",
        o.notes[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comment_creates_then_updates_its_comment_and_says_so_on_stdout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let md = dir.path().join("report.md");
    std::fs::write(&md, format!("{MARKER}\n## report\n")).expect("write");
    let api = FakeGitHub::default();
    let base = api.start().await;
    let opts = || CommentOptions {
        api_url: Some(base.clone()),
        repo: Some("o/r".into()),
        number: Some(7),
        ..comment_options(
            &md,
            Platform::GitHub,
            env_of(&[("GITHUB_TOKEN", "tg-test-token")]),
        )
    };
    let first = commands::comment::run(opts()).await.expect("comment");
    assert_eq!(first.stdout, "tokengate: created comment 1000\n");
    assert_quiet(&first);
    let second = commands::comment::run(opts()).await.expect("comment");
    assert_eq!(second.stdout, "tokengate: updated comment 1000\n");
    assert_eq!(second.status, Status::Pass);
    let writes: Vec<Method> = api
        .seen()
        .into_iter()
        .map(|(m, _, _)| m)
        .filter(|m| m != Method::GET)
        .collect();
    assert_eq!(writes, [Method::POST, Method::PATCH]);
}

// ------------------------------------------------------------- sim

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_announces_its_url_serves_until_stopped_and_exits_0() {
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let stop = StopSignal::new();
    let opts = SimOptions {
        profile: ProfileSource::Builtin("default".into()),
        overrides: ProfileOverrides {
            slots: Some(2),
            ..ProfileOverrides::default()
        },
        addr: "127.0.0.1:0".parse().expect("addr"),
        stop: stop.clone(),
        on_ready: Some(Box::new(move |url: &str| {
            let _ = tx.send(url.to_owned());
        })),
    };
    let serving = tokio::spawn(commands::sim::run(opts));
    let url = tokio::time::timeout(Duration::from_secs(10), rx)
        .await
        .expect("announced in time")
        .expect("announced");
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/v1"),
        "{url}"
    );
    let models = reqwest::get(format!("{url}/models"))
        .await
        .expect("serving")
        .text()
        .await
        .expect("body");
    assert!(models.contains("sim-model"), "{models}");
    assert!(!serving.is_finished(), "serves until stopped");
    stop.stop("interrupted by SIGINT");
    let o = tokio::time::timeout(Duration::from_secs(10), serving)
        .await
        .expect("stops in time")
        .expect("join")
        .expect("sim");
    assert_eq!(o, Outcome::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_with_an_unknown_profile_fails_without_announcing() {
    let announced = Arc::new(Mutex::new(false));
    let flag = announced.clone();
    let e = commands::sim::run(SimOptions {
        profile: ProfileSource::Builtin("no-such-profile".into()),
        overrides: ProfileOverrides::default(),
        addr: "127.0.0.1:0".parse().expect("addr"),
        stop: StopSignal::new(),
        on_ready: Some(Box::new(move |_: &str| {
            *flag.lock().expect("lock") = true;
        })),
    })
    .await
    .expect_err("unknown profile");
    assert!(format!("{e:#}").contains("no-such-profile"), "{e:#}");
    assert!(!*announced.lock().expect("lock"));
}

// ------------------------------------------------------------- sweep

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_reports_each_level_as_it_goes_then_the_summary_and_report_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = workload(dir.path(), "requests: 10");
    let out = dir.path().join("sweep.json");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let seen = lines.clone();
    let o = commands::sweep::run(SweepOptions {
        run: run_options(&w, &out),
        levels: Some(vec![1.0, 2.0]),
        start: None,
        max_load: 256.0,
        rules: tokengate::bundle::SweepRules {
            min_prominence: 0.1,
            min_rise: 0.25,
            error_ceiling: 0.05,
            min_throughput_gain: 0.05,
            safe_share: 0.7,
            resolution: f64::NAN,
            slo_gate: None,
        },
        slo_gate: None,
        confirm_safe: false,
        max_levels: 24,
        time_budget: None,
        levels_dir: dir.path().join("levels"),
        report_dir: Some(dir.path().to_owned()),
        on_level: Some(Arc::new(move |p, unit| {
            seen.lock().expect("lock").push(render_sweep_level(p, unit));
        })),
    })
    .await
    .expect("sweep");
    assert_eq!(o.status, Status::Pass);
    assert_eq!(o.error, None);
    let lines = lines.lock().expect("lock").clone();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("level       1 users: "),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("level       2 users: "),
        "{}",
        lines[1]
    );

    let bundle = read_bundle(&out).expect("sweep bundle");
    let summary = render_sweep_summary(&bundle, &out);
    let reports = o.stdout.strip_prefix(&summary).expect("the summary first");
    assert_eq!(
        paths(reports, dir.path()),
        "report: [TMP]/sweep.html\nreport: [TMP]/sweep.md\n"
    );
    let levels = dir.path().join("levels");
    assert_eq!(
        o.files[..3],
        [
            levels.join("level-1.json"),
            levels.join("level-2.json"),
            out
        ]
    );
    assert!(o.files[3..].iter().all(|p| p.exists()));
    assert!(o.files.contains(&dir.path().join("sweep.html")));
    insta::assert_snapshot!("sweep_stdout", shape(&o.stdout, dir.path()));
}

// ------------------------------------------------------------- soak

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_shows_the_run_the_intervals_and_the_report_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = workload(dir.path(), "duration: 2s");
    let out = dir.path().join("soak.json");
    let o = commands::soak::run(SoakOptions {
        run: run_options(&w, &out),
        interval: Duration::from_secs(1),
        report_dir: Some(dir.path().to_owned()),
    })
    .await
    .expect("soak");
    assert_eq!(o.status, Status::Pass);
    assert_quiet(&o);
    let bundle = read_bundle(&out).expect("soak bundle");
    let text = format!(
        "{}{}",
        render_summary(&bundle, &out),
        tokengate::soak::render_soak_text(bundle.soak.as_ref().expect("soak section"))
    );
    let reports = o.stdout.strip_prefix(&text).expect("run, then soak text");
    assert_eq!(
        paths(reports, dir.path()),
        "report: [TMP]/soak.html\nreport: [TMP]/soak.md\n"
    );
    assert_eq!(o.files[0], out);
    assert!(o.files[1..].iter().all(|p| p.exists()));
    assert!(
        o.files
            .ends_with(&[dir.path().join("soak.html"), dir.path().join("soak.md")])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soak_in_count_mode_is_refused_before_it_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = workload(dir.path(), "requests: 10");
    let e = commands::soak::run(SoakOptions {
        run: run_options(&w, &dir.path().join("soak.json")),
        interval: Duration::from_secs(1),
        report_dir: None,
    })
    .await
    .expect_err("count mode refused");
    assert!(format!("{e:#}").contains("count mode"), "{e:#}");
    assert!(!dir.path().join("soak.json").exists());
}
