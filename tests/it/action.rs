//! `action.yml` run as GitHub would run it, minus GitHub: the composite
//! steps are read from the file, their `env:` expressions evaluated from
//! test inputs and a stand-in `github` context, and each `run:` script
//! executed with `bash --noprofile --norc -eo pipefail` in a stand-in
//! runner environment (per-step `GITHUB_OUTPUT` and `GITHUB_PATH`, a shared
//! `GITHUB_STEP_SUMMARY`, `GITHUB_ACTIONS=true`), with the built `tokengate`
//! on PATH, against the in-process simulator (`sim://`) and a fake GitHub
//! API on 127.0.0.1 for the comment and the check run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::common::{workload_yaml, write_workload};

// ---------------------------------------------------------------- action.yml

#[derive(Debug, Deserialize)]
struct Action {
    inputs: BTreeMap<String, Input>,
    outputs: BTreeMap<String, Output>,
    runs: Runs,
}

#[derive(Debug, Deserialize)]
struct Input {
    #[serde(default)]
    default: Option<String>,
    #[serde(default)]
    required: bool,
}

#[derive(Debug, Deserialize)]
struct Output {
    value: String,
}

#[derive(Debug, Deserialize)]
struct Runs {
    using: String,
    steps: Vec<Step>,
}

#[derive(Debug, Deserialize)]
struct Step {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "if")]
    condition: Option<String>,
    #[serde(default)]
    run: Option<String>,
    #[serde(default)]
    shell: Option<String>,
    #[serde(default)]
    uses: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load_action() -> Action {
    let path = repo_root().join("action.yml");
    let text = std::fs::read_to_string(&path).expect("read action.yml");
    serde_saphyr::from_str(&text).expect("action.yml parses")
}

// --------------------------------------------------------------- expressions

/// The contexts an expression can read.
struct Contexts {
    inputs: BTreeMap<String, String>,
    github: Value,
    runner: Value,
    steps: BTreeMap<String, BTreeMap<String, String>>,
}

impl Contexts {
    /// One operand: a context path or a quoted literal; missing is "".
    fn operand(&self, op: &str) -> String {
        let op = op.trim();
        if let Some(lit) = op.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
            return lit.to_owned();
        }
        let mut parts = op.split('.');
        let root = parts.next().unwrap_or_default();
        let rest: Vec<&str> = parts.collect();
        match root {
            "inputs" => self
                .inputs
                .get(&rest.join("."))
                .cloned()
                .unwrap_or_default(),
            "steps" => match rest.as_slice() {
                [id, "outputs", name] => self
                    .steps
                    .get(*id)
                    .and_then(|o| o.get(*name))
                    .cloned()
                    .unwrap_or_default(),
                _ => panic!("unsupported steps expression `{op}`"),
            },
            "github" | "runner" => {
                let mut v = if root == "github" {
                    &self.github
                } else {
                    &self.runner
                };
                for p in &rest {
                    v = v.get(p).unwrap_or(&Value::Null);
                }
                match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                }
            }
            _ => panic!("unsupported expression `{op}`"),
        }
    }

    /// `a || b || c`: the first non-empty operand (GitHub's `||` returns the
    /// first truthy value; every value here is a string).
    fn eval(&self, expr: &str) -> String {
        expr.split("||")
            .map(|op| self.operand(op))
            .find(|v| !v.is_empty())
            .unwrap_or_default()
    }

    /// Replace every `${{ … }}` in `text`.
    fn substitute(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").expect("closing }}") + start;
            out.push_str(&self.eval(&rest[start + 3..end]));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    /// A step condition: only `X == 'literal'` is used by action.yml.
    fn condition(&self, cond: &str) -> bool {
        let (l, r) = cond
            .split_once("==")
            .unwrap_or_else(|| panic!("unsupported condition `{cond}`"));
        self.operand(l) == self.operand(r)
    }
}

/// `$GITHUB_OUTPUT` lines: `name=value` or `name<<DELIM` … `DELIM`.
fn parse_output_file(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delim)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                value.push(l);
            }
            out.insert(name.to_owned(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            out.insert(name.to_owned(), value.to_owned());
        }
    }
    out
}

// ------------------------------------------------------------ fake GitHub API

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    authorization: String,
    body: String,
}

#[derive(Clone, Default)]
struct FakeGitHub {
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeGitHub {
    /// Lists no comments, creates comments and check runs.
    async fn start() -> (FakeGitHub, String) {
        let fake = FakeGitHub::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let state = fake.clone();
        let app = Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move { state.handle(method, uri, headers, body) }
            },
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (fake, format!("http://{addr}"))
    }

    fn handle(&self, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
        let seen = Seen {
            method: method.to_string(),
            path: uri.path().to_owned(),
            authorization: headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        self.seen.lock().expect("lock").push(seen);
        let path = uri.path();
        let reply = |status: StatusCode, v: Value| {
            (
                status,
                [("content-type", "application/json")],
                v.to_string(),
            )
                .into_response()
        };
        match (method.as_str(), path) {
            ("GET", p) if p.ends_with("/comments") => reply(StatusCode::OK, json!([])),
            ("POST", p) if p.ends_with("/comments") => {
                reply(StatusCode::CREATED, json!({ "id": 501, "body": "" }))
            }
            ("POST", p) if p.ends_with("/check-runs") => {
                reply(StatusCode::CREATED, json!({ "id": 42 }))
            }
            _ => reply(StatusCode::NOT_FOUND, json!({ "message": "Not Found" })),
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

// ------------------------------------------------------------- the "runner"

const TOKEN: &str = "ghs_actionTestToken0123456789";
const HEAD_SHA: &str = "0123456789abcdef0123456789abcdef01234567";

struct StepRun {
    name: String,
    code: i32,
    elapsed: std::time::Duration,
    stdout: String,
    stderr: String,
}

struct JobRun {
    steps: Vec<StepRun>,
    outputs: BTreeMap<String, String>,
    summary: String,
}

impl JobRun {
    fn step(&self, name: &str) -> &StepRun {
        self.steps
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("step `{name}` did not run"))
    }

    fn all_output(&self) -> String {
        self.steps
            .iter()
            .map(|s| format!("{}{}", s.stdout, s.stderr))
            .collect()
    }
}

/// What differs between runners: the event, where the action was checked
/// out, the release server, the tool cache, and whether the built
/// `tokengate` is on PATH before the action installs one.
#[derive(Clone)]
struct Runner {
    event: Value,
    action_path: PathBuf,
    server_url: String,
    tool_cache: Option<PathBuf>,
    tokengate_on_path: bool,
}

impl Default for Runner {
    /// A same-repository pull request, the action used as `./`, the built
    /// binary on PATH (tests that do not name `install` get `install: path`).
    fn default() -> Runner {
        Runner {
            event: json!({ "pull_request": { "number": 7, "head": { "sha": HEAD_SHA } } }),
            action_path: repo_root(),
            server_url: "http://127.0.0.1:9".into(),
            tool_cache: None,
            tokengate_on_path: true,
        }
    }
}

/// Run the action's steps in `workspace` like a runner would: in order,
/// `uses:` steps only when their condition is false (they cannot run here),
/// stopping after the first failing step.
fn run_action(
    workspace: &Path,
    with: &[(&str, &str)],
    caller_env: &[(&str, &str)],
    api_base: &str,
) -> JobRun {
    let mut with = with.to_vec();
    if !with.iter().any(|(k, _)| *k == "install") {
        with.push(("install", "path"));
    }
    run_action_on(&Runner::default(), workspace, &with, caller_env, api_base)
}

fn run_action_on(
    runner: &Runner,
    workspace: &Path,
    with: &[(&str, &str)],
    caller_env: &[(&str, &str)],
    api_base: &str,
) -> JobRun {
    let action = load_action();
    assert_eq!(action.runs.using, "composite");
    let tmp = tempfile::tempdir().expect("tempdir");
    let summary_path = tmp.path().join("step_summary.md");
    std::fs::write(&summary_path, "").expect("summary file");
    let event_path = tmp.path().join("event.json");
    let event = runner.event.clone();
    std::fs::write(&event_path, event.to_string()).expect("event file");

    let mut inputs = BTreeMap::new();
    for (name, input) in &action.inputs {
        let given = with.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
        assert!(
            given.is_some() || !input.required,
            "required input `{name}` not given"
        );
        inputs.insert(
            name.clone(),
            given
                .map(str::to_owned)
                .or_else(|| input.default.clone())
                .unwrap_or_default(),
        );
    }
    for (k, _) in with {
        assert!(action.inputs.contains_key(*k), "unknown input `{k}`");
    }
    let mut ctx = Contexts {
        inputs: BTreeMap::new(),
        github: json!({
            "token": TOKEN,
            "sha": "fedcba9876543210fedcba9876543210fedcba98",
            "repository": "octo/widgets",
            "action_repository": "",
            "event_name": "pull_request",
            "event": event,
        }),
        runner: json!({ "os": "Linux", "arch": "X64", "temp": tmp.path().display().to_string() }),
        steps: BTreeMap::new(),
    };
    // Input defaults may themselves be expressions (`${{ github.token }}`).
    ctx.inputs = inputs
        .iter()
        .map(|(k, v)| (k.clone(), ctx.substitute(v)))
        .collect();

    let bin_dir = PathBuf::from(env!("CARGO_BIN_EXE_tokengate"))
        .parent()
        .expect("binary dir")
        .to_owned();
    let mut path_dirs = Vec::new();
    if runner.tokengate_on_path {
        path_dirs.push(bin_dir.display().to_string());
    }
    path_dirs.push(std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()));

    let mut steps = Vec::new();
    for (i, step) in action.runs.steps.iter().enumerate() {
        let name = step.name.clone().unwrap_or_else(|| format!("step {i}"));
        if let Some(cond) = &step.condition {
            if !ctx.condition(cond) {
                continue;
            }
        }
        let Some(script) = &step.run else {
            panic!(
                "step `{name}` ({}) would run, but a `uses:` step cannot run in this test",
                step.uses.as_deref().unwrap_or("?")
            );
        };
        assert!(
            !script.contains("${{"),
            "step `{name}`: expressions inside run: text are an injection risk; pass them through env:"
        );
        assert_eq!(step.shell.as_deref(), Some("bash"), "step `{name}` shell");
        let script_path = tmp.path().join(format!("step{i}.sh"));
        std::fs::write(&script_path, script).expect("write script");
        let output_path = tmp.path().join(format!("output{i}"));
        let path_file = tmp.path().join(format!("path{i}"));
        std::fs::write(&output_path, "").expect("output file");
        std::fs::write(&path_file, "").expect("path file");

        let mut cmd = std::process::Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script_path)
            .current_dir(workspace)
            .env_clear()
            .env("PATH", path_dirs.join(":"))
            .env("HOME", tmp.path())
            .env("CI", "true")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTION_PATH", &runner.action_path)
            .env("GITHUB_WORKSPACE", workspace)
            .env("GITHUB_REPOSITORY", "octo/widgets")
            .env("GITHUB_API_URL", api_base)
            .env("GITHUB_SERVER_URL", &runner.server_url)
            .env("GITHUB_SHA", "fedcba9876543210fedcba9876543210fedcba98")
            .env("GITHUB_EVENT_NAME", "pull_request")
            .env("GITHUB_EVENT_PATH", &event_path)
            .env("GITHUB_REF", "refs/pull/7/merge")
            .env("GITHUB_OUTPUT", &output_path)
            .env("GITHUB_PATH", &path_file)
            .env("GITHUB_STEP_SUMMARY", &summary_path)
            .env("RUNNER_OS", "Linux")
            .env("RUNNER_ARCH", "X64")
            .env("RUNNER_TEMP", tmp.path());
        if let Some(cache) = &runner.tool_cache {
            cmd.env("RUNNER_TOOL_CACHE", cache);
        }
        for (k, v) in caller_env {
            cmd.env(k, v);
        }
        for (k, v) in &step.env {
            cmd.env(k, ctx.substitute(v));
        }
        let started = std::time::Instant::now();
        let out = cmd.output().expect("run bash");
        let run = StepRun {
            name: name.clone(),
            code: out.status.code().unwrap_or(-1),
            elapsed: started.elapsed(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        let outputs =
            parse_output_file(&std::fs::read_to_string(&output_path).expect("read outputs"));
        if let Some(id) = &step.id {
            ctx.steps.insert(id.clone(), outputs);
        }
        for dir in std::fs::read_to_string(&path_file)
            .expect("read path file")
            .lines()
            .filter(|l| !l.is_empty())
        {
            path_dirs.insert(0, dir.to_owned());
        }
        let failed = run.code != 0;
        steps.push(run);
        if failed {
            break;
        }
    }
    let outputs = action
        .outputs
        .iter()
        .map(|(k, o)| (k.clone(), ctx.substitute(&o.value)))
        .collect();
    let summary = std::fs::read_to_string(&summary_path).expect("read summary");
    JobRun {
        steps,
        outputs,
        summary,
    }
}

/// A small, fast workload on the in-process simulator.
fn workspace_with(gate_yaml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write_workload(
        dir.path(),
        "workload.yaml",
        &workload_yaml(
            "sim://quickstart",
            16,
            "load:\n  mode: closed\n  concurrency: 8\nrequests: 60\nseed: 3",
            "",
        ),
    );
    std::fs::write(dir.path().join("gate.yaml"), gate_yaml).expect("gate file");
    std::fs::create_dir_all(dir.path().join("baselines")).expect("baselines dir");
    dir
}

/// The step outputs name the reports and the judged bundle, and each file
/// exists in the workspace.
fn assert_report_outputs(job: &JobRun, ws: &Path, bundle: &str) {
    for (name, file) in [
        ("markdown", "tokengate-out/report.md"),
        ("junit", "tokengate-out/junit.xml"),
        ("json", "tokengate-out/verdict.json"),
        ("bundle", bundle),
    ] {
        assert_eq!(job.outputs[name], file);
        assert!(ws.join(file).is_file(), "{file} missing");
    }
}

async fn run_action_async(
    workspace: PathBuf,
    with: Vec<(&'static str, String)>,
    caller_env: Vec<(&'static str, &'static str)>,
    api: String,
) -> JobRun {
    tokio::task::spawn_blocking(move || {
        let with: Vec<(&str, &str)> = with.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run_action(&workspace, &with, &caller_env, &api)
    })
    .await
    .expect("runner thread")
}

// --------------------------------------------------------------------- tests

/// Absolute rules only, so the verdict does not depend on timing noise: one
/// that cannot pass (p95 TTFT under 1 µs), one warn-severity rule that cannot
/// pass, one that always passes. The failing rule's name carries characters
/// that workflow commands must escape.
const FAILING_GATE: &str = "name: action-test\nrules:\n  - metric: ttft.p95\n    max: 0.001ms\n    name: \"p95 TTFT, 100%: hard\"\n  - metric: e2e.p95\n    max: 0.001ms\n    severity: warn\n  - metric: stream_error_rate\n    max: 50%\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_gates_a_simulated_run_and_publishes_outputs_summary_annotations_comment_and_check_run()
 {
    let (fake, api) = FakeGitHub::start().await;
    let ws = workspace_with(FAILING_GATE);
    let job = run_action_async(
        ws.path().to_owned(),
        vec![
            ("workload", "workload.yaml".into()),
            ("gate", "gate.yaml".into()),
            (
                "meta",
                "serving_image=registry.example/server:pr-7\n\n  model_version=m-2024  \n".into(),
            ),
            ("check-run", "true".into()),
            ("api-key-env", "INFERENCE_KEY".into()),
        ],
        vec![("INFERENCE_KEY", "sk-not-a-real-key")],
        api,
    )
    .await;
    let all = job.all_output();

    // Every step ran; only the last one fails, with the verdict's exit code.
    let names: Vec<&str> = job.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Choose how to get tokengate",
            "Run tokengate check",
            "Comment on the pull request",
            "Apply the verdict"
        ],
        "{all}"
    );
    assert!(
        job.step("Choose how to get tokengate")
            .stdout
            .contains("tokengate on PATH")
    );
    for s in &job.steps[..3] {
        assert_eq!(s.code, 0, "{}: {}{}", s.name, s.stdout, s.stderr);
    }
    assert_eq!(job.step("Apply the verdict").code, 1, "{all}");

    // Outputs.
    assert_eq!(job.outputs["verdict"], "fail", "{all}");
    assert_eq!(job.outputs["exit-code"], "1");
    assert_report_outputs(&job, ws.path(), "tokengate-out/bundle.json");
    let verdict: Value = serde_json::from_slice(
        &std::fs::read(ws.path().join("tokengate-out/verdict.json")).expect("verdict.json"),
    )
    .expect("verdict JSON");
    assert_eq!(verdict["verdict"], "fail");
    let bundle: Value = serde_json::from_slice(
        &std::fs::read(ws.path().join("tokengate-out/bundle.json")).expect("bundle.json"),
    )
    .expect("bundle JSON");
    let bundle_text = bundle.to_string();
    assert!(
        bundle_text.contains("registry.example/server:pr-7") && bundle_text.contains("m-2024"),
        "meta lines reach the bundle"
    );

    // The job summary: the Markdown report, verdict table first, no marker.
    assert!(
        job.summary
            .starts_with("## ❌ tokengate: action-test — fail"),
        "{}",
        job.summary
    );
    assert!(job.summary.contains("| Verdict | Rule |"));
    assert!(!job.summary.contains("<!-- tokengate:report -->"));

    // Annotations, ranked and escaped, on the check step's stdout.
    let check = job.step("Run tokengate check");
    let annotations: Vec<&str> = check
        .stdout
        .lines()
        .filter(|l| l.starts_with("::error") || l.starts_with("::warning"))
        .collect();
    assert_eq!(annotations.len(), 2, "{}", check.stdout);
    assert!(
        annotations[0].starts_with("::error title=tokengate fail%3A p95 TTFT%2C 100%25%3A hard::"),
        "{}",
        annotations[0]
    );
    assert!(
        annotations[1].starts_with("::warning title=tokengate warn%3A e2e.p95 max 0.001ms::"),
        "{}",
        annotations[1]
    );

    // The fake GitHub API saw the comment (list, then create) and the check run.
    let seen = fake.seen();
    let calls: Vec<(String, String)> = seen
        .iter()
        .map(|s| (s.method.clone(), s.path.clone()))
        .collect();
    assert_eq!(
        calls,
        [
            ("POST".into(), "/repos/octo/widgets/check-runs".into()),
            ("GET".into(), "/repos/octo/widgets/issues/7/comments".into()),
            (
                "POST".into(),
                "/repos/octo/widgets/issues/7/comments".into()
            ),
        ]
    );
    for s in &seen {
        assert_eq!(s.authorization, format!("Bearer {TOKEN}"));
    }
    let run: Value = serde_json::from_str(&seen[0].body).expect("check run body");
    assert_eq!(run["name"], "tokengate");
    assert_eq!(
        run["head_sha"], HEAD_SHA,
        "the PR head, not the merge commit"
    );
    assert_eq!(run["status"], "completed");
    assert_eq!(run["conclusion"], "failure");
    assert_eq!(
        run["output"]["title"],
        "action-test: FAIL (1 failed, 1 warned, 1 passed of 3 rules)"
    );
    let summary = run["output"]["summary"].as_str().expect("summary");
    assert!(summary.contains("| Verdict | Rule |") && !summary.contains("### "));
    assert!(
        run["output"]["text"]
            .as_str()
            .expect("text")
            .contains("### Detail")
    );
    let comment: Value = serde_json::from_str(&seen[2].body).expect("comment body");
    assert!(
        comment["body"]
            .as_str()
            .expect("body")
            .starts_with("<!-- tokengate:report -->")
    );

    // Secrets never reach the log.
    assert!(!all.contains(TOKEN) && !all.contains("sk-not-a-real-key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_inconclusive_input_blocks_an_ungated_gate_and_the_check_run_says_failure() {
    let (fake, api) = FakeGitHub::start().await;
    // Only a relative rule and an empty baselines directory: ungated.
    let ws = workspace_with("name: rel\nrules:\n  - metric: ttft.p95\n    max_increase: 15%\n");
    let with = |policy: &str| {
        vec![
            ("workload", "workload.yaml".to_owned()),
            ("gate", "gate.yaml".to_owned()),
            ("inconclusive", policy.to_owned()),
            ("comment", "false".to_owned()),
            ("check-run", "true".to_owned()),
            (
                "head-sha",
                "abcabcabcabcabcabcabcabcabcabcabcabcabca".to_owned(),
            ),
        ]
    };
    let job = run_action_async(ws.path().to_owned(), with("block"), vec![], api.clone()).await;
    let all = job.all_output();
    assert_eq!(job.outputs["verdict"], "ungated", "{all}");
    assert_eq!(job.outputs["exit-code"], "3");
    assert_eq!(job.step("Apply the verdict").code, 3);
    let notice = job
        .step("Run tokengate check")
        .stdout
        .lines()
        .find(|l| l.starts_with("::error title=tokengate%3A no baseline comparison::"))
        .map(str::to_owned);
    assert!(notice.is_some(), "{all}");
    let ungated = job
        .step("Run tokengate check")
        .stdout
        .lines()
        .find(|l| l.starts_with("::error title=tokengate ungated::UNGATED"))
        .map(str::to_owned);
    assert!(ungated.is_some(), "{all}");
    let verdict: Value = serde_json::from_slice(
        &std::fs::read(ws.path().join("tokengate-out/verdict.json")).expect("verdict.json"),
    )
    .expect("verdict JSON");
    assert_eq!(
        verdict["exit_code"], 3,
        "the JSON verdict carries the override"
    );
    assert_eq!(verdict["policy"]["inconclusive"], "block");

    let job = run_action_async(ws.path().to_owned(), with("warn"), vec![], api).await;
    assert_eq!(job.outputs["exit-code"], "0", "{}", job.all_output());
    assert_eq!(job.step("Apply the verdict").code, 0);

    // No comment calls (comment: false); two check runs: blocked, then neutral.
    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    let conclusions: Vec<Value> = seen
        .iter()
        .map(|s| {
            assert_eq!(s.path, "/repos/octo/widgets/check-runs");
            let v: Value = serde_json::from_str(&s.body).expect("json");
            assert_eq!(v["head_sha"], "abcabcabcabcabcabcabcabcabcabcabcabcabca");
            v["conclusion"].clone()
        })
        .collect();
    assert_eq!(conclusions, [json!("failure"), json!("neutral")]);
}

/// With `candidate-endpoint` the action runs `tokengate ab`: both sides in
/// one window, both bundles and the reports written, the verdict published
/// (outputs, job summary, annotations) exactly as for `check`, with the
/// candidate as the judged bundle. The gate's rules are absolute ones that
/// cannot pass, so the verdict does not depend on timing noise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_with_a_candidate_endpoint_runs_ab_and_publishes_its_verdict() {
    let (fake, api) = FakeGitHub::start().await;
    let ws = workspace_with(FAILING_GATE);
    let job = run_action_async(
        ws.path().to_owned(),
        vec![
            ("workload", "workload.yaml".into()),
            ("gate", "gate.yaml".into()),
            ("endpoint", "sim://quickstart".into()),
            ("candidate-endpoint", "sim://quickstart".into()),
            ("comment", "false".into()),
        ],
        vec![],
        api,
    )
    .await;
    let all = job.all_output();
    assert_eq!(job.outputs["verdict"], "fail", "{all}");
    assert_eq!(job.outputs["exit-code"], "1");
    assert_eq!(job.step("Apply the verdict").code, 1, "{all}");
    assert_report_outputs(&job, ws.path(), "tokengate-out/candidate.json");
    assert!(ws.path().join("tokengate-out/baseline.json").is_file());
    assert!(
        !ws.path().join("tokengate-out/bundle.json").exists(),
        "`check` did not run"
    );
    let verdict: Value = serde_json::from_slice(
        &std::fs::read(ws.path().join("tokengate-out/verdict.json")).expect("verdict.json"),
    )
    .expect("verdict JSON");
    assert_eq!(verdict["verdict"], "fail");
    assert!(
        job.summary
            .starts_with("## ❌ tokengate: action-test — fail"),
        "{}",
        job.summary
    );
    let check = job.step("Run tokengate check");
    assert!(
        check
            .stdout
            .lines()
            .any(|l| l.starts_with("::error title=tokengate fail%3A p95 TTFT%2C 100%25%3A hard::")),
        "{}",
        check.stdout
    );
    assert!(fake.seen().is_empty(), "comment: false, no check run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_rejects_bad_inputs_before_running_and_says_why() {
    let (fake, api) = FakeGitHub::start().await;
    let ws = workspace_with(FAILING_GATE);
    for (input, value, message) in [
        ("meta", "serving_image", "expected KEY=VALUE lines"),
        ("inconclusive", "maybe", "must be block, warn or empty"),
        (
            "api-key-env",
            "NOT_SET_ANYWHERE",
            "the API key variable NOT_SET_ANYWHERE is not set",
        ),
        (
            "api-key-env",
            "$(touch pwned)",
            "must be an environment variable NAME",
        ),
        (
            "candidate-endpoint",
            "sim://quickstart",
            "needs input 'endpoint' (the baseline side",
        ),
    ] {
        let job = run_action_async(
            ws.path().to_owned(),
            vec![
                ("workload", "workload.yaml".into()),
                (input, value.to_owned()),
            ],
            vec![],
            api.clone(),
        )
        .await;
        let check = job.step("Run tokengate check");
        assert_eq!(check.code, 2, "{input}={value}: {}", job.all_output());
        assert!(
            check.stdout.contains(message),
            "{input}={value}: {}",
            check.stdout
        );
        assert!(
            job.steps.len() == 2,
            "a failed step stops the job: {input}={value}"
        );
    }
    assert!(!ws.path().join("pwned").exists());
    assert!(!ws.path().join("tokengate-out/bundle.json").exists());
    assert!(fake.seen().is_empty());
}

#[test]
fn action_scripts_take_inputs_only_through_env() {
    let action = load_action();
    let mut runs = 0;
    for step in &action.runs.steps {
        if let Some(run) = &step.run {
            runs += 1;
            assert!(
                !run.contains("${{"),
                "{:?}: expression inside run:",
                step.name
            );
        }
        for (k, v) in &step.env {
            // Every env value is one expression or plain text: no shell
            // quoting games with interpolated values.
            assert!(
                !v.contains("${{") || (v.starts_with("${{") && v.ends_with("}}")),
                "{k}: {v}"
            );
        }
    }
    assert!(runs >= 4);
    for out in [
        "verdict",
        "exit-code",
        "markdown",
        "junit",
        "json",
        "bundle",
    ] {
        assert!(action.outputs.contains_key(out), "output {out}");
    }
}

#[test]
fn gate_writes_gitlab_reports_by_default_in_gitlab_ci_and_no_workflow_commands() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = repo_root();
    let bundle = std::fs::read_dir(
        root.join("baselines/quickstart/simulated/o200k_base/sim-model@tokengate-sim_quickstart"),
    )
    .expect("committed baseline")
    .filter_map(Result::ok)
    .map(|e| e.path())
    .find(|p| p.extension().is_some_and(|x| x == "json"))
    .expect("a baseline bundle");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tokengate"))
        .current_dir(dir.path())
        .env_remove("GITHUB_ACTIONS")
        .env("GITLAB_CI", "true")
        .arg("gate")
        .arg(&bundle)
        .arg("--gate")
        .arg(root.join("gates/default.yaml"))
        .arg("--baseline-dir")
        .arg(dir.path().join("no-baselines"))
        .output()
        .expect("run tokengate gate");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(!stdout.lines().any(|l| l.starts_with("::")), "{stdout}");
    let gl = dir.path().join("tokengate-out/gitlab");
    let lp: Value = serde_json::from_slice(
        &std::fs::read(gl.join("load_performance.json")).expect("load_performance.json"),
    )
    .expect("JSON");
    assert!(lp["metrics"]["http_reqs"]["count"].as_u64().expect("count") > 0);
    assert!(lp["metrics"]["http_req_waiting"]["p(95)"].is_number());
    let metrics = std::fs::read_to_string(gl.join("metrics.txt")).expect("metrics.txt");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("tokengate_ttft_seconds{quantile=\"0.95\"} "))
    );
    assert!(metrics.ends_with("# EOF\n"));
}

// ------------------------------------------------------- fake release server

/// Serves fixed files by path (a release's assets under
/// `/OWNER/NAME/releases/download/TAG/`), 404 for anything else, and
/// records every path asked for.
#[derive(Clone, Default)]
struct FakeReleases {
    files: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl FakeReleases {
    async fn start(files: BTreeMap<String, Vec<u8>>) -> (FakeReleases, String) {
        let fake = FakeReleases {
            files: Arc::new(Mutex::new(files)),
            ..FakeReleases::default()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let state = fake.clone();
        let app = Router::new().fallback(move |uri: Uri| {
            let state = state.clone();
            async move {
                state.seen.lock().expect("lock").push(uri.path().to_owned());
                match state.files.lock().expect("lock").get(uri.path()) {
                    Some(body) => (StatusCode::OK, body.clone()).into_response(),
                    None => (StatusCode::NOT_FOUND, "Not Found").into_response(),
                }
            }
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (fake, format!("http://{addr}"))
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().expect("lock").clone()
    }
}

/// A release `v{CARGO_PKG_VERSION}` of `octo/tokengate` as the packaging
/// script packs it (around the stand-in binary), with its `SHA256SUMS`
/// (`sums` replaces that file's text when given).
fn fake_release(dir: &Path, sums: Option<&str>) -> (BTreeMap<String, Vec<u8>>, String) {
    let bin = crate::release::stand_in_binary(dir);
    let out = dir.join("dist");
    let run = crate::release::package(&bin, crate::release::TARGET, &out);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let asset = format!(
        "{}.tar.gz",
        crate::release::archive_stem(crate::release::TARGET)
    );
    let bytes = std::fs::read(out.join(&asset)).expect("archive");
    let line = std::fs::read_to_string(out.join(format!("{asset}.sha256"))).expect("sha256");
    let base = format!(
        "/octo/tokengate/releases/download/v{}",
        env!("CARGO_PKG_VERSION")
    );
    let mut files = BTreeMap::new();
    files.insert(format!("{base}/{asset}"), bytes);
    let other = format!(
        "{}  tokengate-v0-aarch64-apple-darwin.tar.gz\n",
        "ab".repeat(32)
    );
    files.insert(
        format!("{base}/SHA256SUMS"),
        sums.map(str::to_owned)
            .unwrap_or(format!("{other}{line}"))
            .into_bytes(),
    );
    (files, asset)
}

/// The runner's checkout of `uses: octo/tokengate@v0` (a major tag: the
/// version comes from the action's Cargo.toml), with no tokengate on PATH.
fn release_runner(root: &Path, server_url: &str) -> Runner {
    let actions = root.join("_actions/octo/tokengate");
    std::fs::create_dir_all(&actions).expect("mkdir _actions");
    let action_path = actions.join("v0");
    if !action_path.exists() {
        std::os::unix::fs::symlink(repo_root(), &action_path).expect("symlink the action");
    }
    Runner {
        action_path,
        server_url: server_url.to_owned(),
        tool_cache: Some(root.join("toolcache")),
        tokengate_on_path: false,
        ..Runner::default()
    }
}

async fn run_on_async(
    runner: Runner,
    workspace: PathBuf,
    with: Vec<(&'static str, String)>,
    caller_env: Vec<(&'static str, &'static str)>,
) -> JobRun {
    tokio::task::spawn_blocking(move || {
        let with: Vec<(&str, &str)> = with.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run_action_on(
            &runner,
            &workspace,
            &with,
            &caller_env,
            "http://127.0.0.1:9",
        )
    })
    .await
    .expect("runner thread")
}

const INSTALL: &str = "Install the tokengate release binary";

/// The default install: the action's own repository and version from where
/// the runner checked it out, the archive and `SHA256SUMS` from the release,
/// the binary then in the tool cache, where a second job finds it without
/// downloading. The installed binary is the one that gates the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_installs_its_own_release_binary_verified_and_cached() {
    let root = tempfile::tempdir().expect("tempdir");
    let (files, asset) = fake_release(root.path(), None);
    let (server, url) = FakeReleases::start(files).await;
    let runner = release_runner(root.path(), &url);
    let ws = workspace_with(FAILING_GATE);
    let with = vec![
        ("workload", "workload.yaml".to_owned()),
        ("gate", "gate.yaml".to_owned()),
        ("comment", "false".to_owned()),
    ];

    let job = run_on_async(runner.clone(), ws.path().to_owned(), with.clone(), vec![]).await;
    let all = job.all_output();
    let install = job.step(INSTALL);
    assert_eq!(install.code, 0, "{all}");
    eprintln!(
        "install from the fake release: {:.2} s",
        install.elapsed.as_secs_f64()
    );
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        install.stdout.contains(&format!(
            "tokengate v{version} (x86_64-unknown-linux-musl) from octo/tokengate, sha256 "
        )),
        "{all}"
    );
    let base = format!("/octo/tokengate/releases/download/v{version}");
    assert_eq!(
        server.seen(),
        [format!("{base}/{asset}"), format!("{base}/SHA256SUMS")]
    );
    // The installed binary ran the gate.
    assert_eq!(job.outputs["verdict"], "fail", "{all}");
    assert_eq!(job.step("Apply the verdict").code, 1);
    let cached = root.path().join(format!(
        "toolcache/tokengate/octo_tokengate/v{version}/x86_64-unknown-linux-musl"
    ));
    assert!(cached.join(".complete").is_file() && cached.join("tokengate").is_file());

    let job = run_on_async(runner, ws.path().to_owned(), with, vec![]).await;
    let install = job.step(INSTALL);
    assert_eq!(install.code, 0, "{}", job.all_output());
    assert!(
        install.stdout.contains("from the tool cache"),
        "{}",
        install.stdout
    );
    assert_eq!(server.seen().len(), 2, "no second download");
    assert_eq!(job.outputs["verdict"], "fail");
}

/// A checksum that does not match (from `SHA256SUMS` or the `sha256`
/// input), no line for the asset, and a release without the asset: each
/// stops the job at the install with exit 2 and says why; nothing is
/// cached and tokengate never runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_refuses_a_wrong_checksum_and_names_a_missing_asset() {
    let root = tempfile::tempdir().expect("tempdir");
    let (good, asset) = fake_release(root.path(), None);
    let wrong = "0".repeat(64);
    // (SHA256SUMS text, extra inputs, what the error says)
    type Case = (Option<String>, Vec<(&'static str, String)>, String);
    let cases: Vec<Case> = vec![
        (
            Some(format!("{wrong}  {asset}\n")),
            vec![],
            format!("sha256 of {asset} is "),
        ),
        (
            None,
            vec![("sha256", wrong.clone())],
            format!("expected {wrong}: refusing the download"),
        ),
        (
            Some("not a checksum file\n".to_owned()),
            vec![],
            format!("no sha256 for {asset} (SHA256SUMS has no valid line"),
        ),
        (
            None,
            vec![("version", "v9.9.9".to_owned())],
            "release asset tokengate-v9.9.9-x86_64-unknown-linux-musl.tar.gz not found: "
                .to_owned()
                + "http://127.0.0.1",
        ),
    ];
    for (sums, extra, message) in cases {
        let mut files = good.clone();
        if let Some(sums) = &sums {
            let key = files
                .keys()
                .find(|k| k.ends_with("/SHA256SUMS"))
                .cloned()
                .expect("sums");
            files.insert(key, sums.clone().into_bytes());
        }
        let (_server, url) = FakeReleases::start(files).await;
        let runner = release_runner(root.path(), &url);
        let ws = workspace_with(FAILING_GATE);
        let mut with = vec![("workload", "workload.yaml".to_owned())];
        with.extend(extra.clone());
        let job = run_on_async(runner, ws.path().to_owned(), with, vec![]).await;
        let install = job.step(INSTALL);
        assert_eq!(install.code, 2, "{extra:?}: {}", job.all_output());
        assert!(
            install.stdout.contains("::error title=tokengate::")
                && install.stdout.contains(&message),
            "{extra:?}: {}",
            install.stdout
        );
        assert_eq!(job.steps.len(), 2, "the job stops at the install");
        assert!(!ws.path().join("tokengate-out").exists());
        assert_eq!(
            count_complete(&root.path().join("toolcache")),
            0,
            "nothing cached"
        );
    }
}

/// How many `.complete` markers (verified installs) are under `dir`.
fn count_complete(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                count_complete(&p)
            } else {
                usize::from(p.file_name().is_some_and(|n| n == ".complete"))
            }
        })
        .sum()
}

/// A pull request from a fork gets no secrets: with `api-key-env` naming an
/// empty variable the action skips (a warning, verdict `skipped`, exit 0)
/// instead of failing as a tool error; on a same-repository PR the same
/// input is still an error (see `action_rejects_bad_inputs_before_running_and_says_why`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_skips_a_fork_pull_request_without_the_api_key() {
    let ws = workspace_with(FAILING_GATE);
    let fork_event = json!({ "pull_request": {
        "number": 7,
        "head": { "sha": HEAD_SHA, "repo": { "full_name": "someone/widgets", "fork": true } },
        "base": { "repo": { "full_name": "octo/widgets" } },
    } });
    for (event, skipped) in [
        (fork_event, true),
        (
            json!({ "pull_request": {
                "number": 7,
                "head": { "sha": HEAD_SHA, "repo": { "full_name": "octo/widgets" } },
                "base": { "repo": { "full_name": "octo/widgets" } },
            } }),
            false,
        ),
    ] {
        let runner = Runner {
            event,
            ..Runner::default()
        };
        let job = run_on_async(
            runner,
            ws.path().to_owned(),
            vec![
                ("workload", "workload.yaml".into()),
                ("install", "path".into()),
                ("api-key-env", "INFERENCE_KEY".into()),
            ],
            vec![("INFERENCE_KEY", "")],
        )
        .await;
        let all = job.all_output();
        let check = job.step("Run tokengate check");
        if skipped {
            assert_eq!(check.code, 0, "{all}");
            assert!(
                check.stdout.contains(
                    "::warning title=tokengate skipped::pull request from a fork: the API key variable INFERENCE_KEY is empty"
                ),
                "{all}"
            );
            assert_eq!(job.outputs["verdict"], "skipped");
            assert_eq!(job.outputs["exit-code"], "0");
            assert_eq!(job.step("Apply the verdict").code, 0);
            assert!(
                job.summary.contains("tokengate: skipped"),
                "{}",
                job.summary
            );
        } else {
            assert_eq!(check.code, 2, "{all}");
            assert!(check.stdout.contains("INFERENCE_KEY is not set"), "{all}");
        }
        assert!(!ws.path().join("tokengate-out/bundle.json").exists());
    }
}
