//! Secrets and foreign text over real HTTP: a raw-socket OpenAI-compatible
//! server on 127.0.0.1 that records what it was sent. An endpoint with
//! `user:PASSWORD@` and `?api-key=KEY` must leave the password and key in
//! no file written (bundle, baselines, verdict, junit, markdown) and in no
//! stdout/stderr; requests carry exactly one Authorization header; derived
//! paths keep the query after the joined path.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PASSWORD: &str = "PASSWORD7781";
const QUERY_KEY: &str = "QKEY5521";
const BEARER: &str = "BEARER9931";

fn tokengate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tokengate"))
}

/// One request as the server saw it: request line and its Authorization
/// header values.
#[derive(Debug, Clone)]
struct Seen {
    target: String,
    authorization: Vec<String>,
}

/// A raw-socket server: `/v1/models` lists `models`, `/metrics` answers a
/// vLLM-like exposition, `/v1/chat/completions` streams three tokens (and,
/// when given, a usage chunk whose `completion_tokens` is the raw JSON
/// text `usage`). Each answer closes its connection. Bounded: at most 500
/// connections and 60 s.
pub(super) struct Hostile {
    pub(super) port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Hostile {
    fn start(models: Vec<String>) -> Hostile {
        Hostile::start_with_usage(models, None)
    }

    pub(super) fn start_with_usage(models: Vec<String>, usage: Option<String>) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut served = 0;
            while served < 500 && start.elapsed() < Duration::from_secs(60) {
                match listener.accept() {
                    Ok((s, _)) => {
                        served += 1;
                        let (log, models, usage) = (log.clone(), models.clone(), usage.clone());
                        std::thread::spawn(move || answer(s, &log, &models, usage.as_deref()));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Hostile { port, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn answer(mut s: TcpStream, log: &Mutex<Vec<Seen>>, models: &[String], usage: Option<&str>) {
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return;
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.lines();
    let target = lines
        .next()
        .unwrap_or("")
        .split(' ')
        .nth(1)
        .unwrap_or("")
        .to_string();
    let mut authorization = Vec::new();
    let mut length = 0usize;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("authorization") {
                authorization.push(v.trim().to_string());
            }
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0).min(1 << 20);
            }
        }
    }
    while buf.len() < head_end + length {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    log.lock().unwrap().push(Seen {
        target: target.clone(),
        authorization,
    });
    let path = target.split('?').next().unwrap_or("");
    let (ctype, body) = match path {
        "/v1/models" => {
            let data: Vec<serde_json::Value> = models
                .iter()
                .map(|m| serde_json::json!({"id": m, "object": "model"}))
                .collect();
            (
                "application/json",
                serde_json::json!({"object": "list", "data": data}).to_string(),
            )
        }
        "/metrics" => (
            "text/plain",
            "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running 0\n# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting 0\n".to_string(),
        ),
        "/v1/chat/completions" => {
            let mut b = String::new();
            let chunk = |delta: serde_json::Value| {
                format!(
                    "data: {}\n\n",
                    serde_json::json!({"id": "c", "object": "chat.completion.chunk", "model": "sim-model",
                        "choices": [{"index": 0, "delta": delta, "finish_reason": null}]})
                )
            };
            b.push_str(&chunk(serde_json::json!({"role": "assistant"})));
            for t in ["a", " b", " c"] {
                b.push_str(&chunk(serde_json::json!({"content": t})));
            }
            if let Some(u) = usage {
                b.push_str(&format!(
                    "data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{{\"prompt_tokens\":2,\"completion_tokens\":{u}}}}}\n\n"
                ));
            }
            b.push_str("data: [DONE]\n\n");
            ("text/event-stream", b)
        }
        _ => {
            let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            return;
        }
    };
    let _ = write!(
        s,
        "HTTP/1.1 200 OK\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn workload(dir: &Path, endpoint: &str, extra: &str) -> std::path::PathBuf {
    let p = dir.join("w.yaml");
    std::fs::write(
        &p,
        format!(
            "name: secrets\nendpoint: \"{endpoint}\"\napi: chat\nmodel: sim-model\nprompts:\n  inline: [\"hi there\"]\noutput:\n  max_tokens: 3\nload: {{mode: closed, concurrency: 1}}\nrequests: 4\ntelemetry: {{interval: 100ms}}\n{extra}"
        ),
    )
    .unwrap();
    p
}

/// The command exited 0 (its stderr shown otherwise).
fn assert_success(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every secret absent from `text`, named by `what`.
fn assert_no_secret(what: &str, text: &str) {
    for s in [PASSWORD, QUERY_KEY, BEARER] {
        assert!(!text.contains(s), "{what} holds `{s}`:\n{text}");
    }
}

fn assert_output_clean(what: &str, out: &Output) {
    assert_no_secret(
        &format!("{what} stdout"),
        &String::from_utf8_lossy(&out.stdout),
    );
    assert_no_secret(
        &format!("{what} stderr"),
        &String::from_utf8_lossy(&out.stderr),
    );
}

/// Every file under `dir`, recursively, with its text.
fn files(dir: &Path) -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).to_string();
                out.push((p, text));
            }
        }
    }
    out
}

/// Defects 1, 2 and 8: run, promote, gate against an endpoint with user
/// info, a key in the query and `api_key_env`; no secret in any file or
/// output; one Bearer header on every request; the query after the path.
#[test]
fn endpoint_secrets_reach_no_file_or_output_and_one_authorization_header_is_sent() {
    let server = Hostile::start(vec!["sim-model".into()]);
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!(
        "http://user:{PASSWORD}@127.0.0.1:{}/v1?api-key={QUERY_KEY}",
        server.port
    );
    let w = workload(dir.path(), &endpoint, "api_key_env: TG_TEST_KEY\n");
    let bundle = dir.path().join("bundle.json");
    let run = tokengate()
        .args(["run", "--quiet", "--out"])
        .arg(&bundle)
        .arg(&w)
        .env("TG_TEST_KEY", BEARER)
        .output()
        .unwrap();
    assert_success(&run);
    assert_output_clean("run", &run);

    let promote = tokengate()
        .args(["baseline", "promote", "--baseline-dir"])
        .arg(dir.path().join("baselines"))
        .arg(&bundle)
        .output()
        .unwrap();
    assert_success(&promote);
    assert_output_clean("promote", &promote);

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let gate = tokengate()
        .current_dir(root)
        .arg("gate")
        .arg(&bundle)
        .arg("--baseline-dir")
        .arg(dir.path().join("baselines"))
        .arg("--junit")
        .arg(dir.path().join("junit.xml"))
        .arg("--markdown")
        .arg(dir.path().join("report.md"))
        .arg("--json")
        .arg(dir.path().join("verdict.json"))
        .output()
        .unwrap();
    assert!(
        gate.status.code().is_some_and(|c| c < 2),
        "{}",
        String::from_utf8_lossy(&gate.stderr)
    );
    assert_output_clean("gate", &gate);

    let written = files(dir.path());
    for name in ["junit.xml", "report.md", "verdict.json", "bundle.json"] {
        assert!(
            written.iter().any(|(p, _)| p.ends_with(name)),
            "{name} not written"
        );
    }
    assert!(
        written
            .iter()
            .any(|(p, _)| p.starts_with(dir.path().join("baselines"))),
        "no baseline written"
    );
    for (p, text) in &written {
        if p != &w {
            assert_no_secret(&p.display().to_string(), text);
        }
    }
    // The metrics URL was stored (redacted), so `/metrics` was scraped.
    let b: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&bundle).unwrap()).unwrap();
    assert_eq!(
        b["server"]["metrics_url"],
        format!("http://***@127.0.0.1:{}/metrics?api-key=***", server.port),
        "{:#}",
        b["server"]
    );
    let warnings = b["context"]["warnings"].to_string();
    assert!(warnings.contains("only the API key is sent"), "{warnings}");

    let seen = server.seen();
    let q = format!("?api-key={QUERY_KEY}");
    for path in ["/v1/models", "/metrics", "/v1/chat/completions"] {
        assert!(
            seen.iter().any(|s| s.target == format!("{path}{q}")),
            "{path}{q} never requested: {seen:?}"
        );
    }
    for s in &seen {
        if s.target.starts_with("/metrics") {
            // The key is for the API; /metrics gets the URL's own user info.
            assert_eq!(s.authorization.len(), 1, "{s:?}");
            assert!(s.authorization[0].starts_with("Basic "), "{s:?}");
        } else {
            assert_eq!(s.authorization, vec![format!("Bearer {BEARER}")], "{s:?}");
        }
    }
}

/// Defect 2: a preflight that fails names the endpoint redacted.
#[test]
fn preflight_errors_print_the_endpoint_redacted() {
    let server = Hostile::start(vec!["other-model".into()]);
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!(
        "http://user:{PASSWORD}@127.0.0.1:{}/v1?api-key={QUERY_KEY}",
        server.port
    );
    let w = workload(dir.path(), &endpoint, "");
    let out = tokengate()
        .args(["run", "--quiet", "--out"])
        .arg(dir.path().join("b.json"))
        .arg(&w)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is not served by"), "{stderr}");
    assert!(stderr.contains("http://***@127.0.0.1"), "{stderr}");
    assert_output_clean("preflight", &out);
    // Unreachable: a closed port.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let w = workload(
        dir.path(),
        &format!("http://user:{PASSWORD}@127.0.0.1:{port}/v1?api-key={QUERY_KEY}"),
        "preflight: {wait: 1s}\n",
    );
    let out = tokengate()
        .args(["run", "--quiet", "--out"])
        .arg(dir.path().join("b.json"))
        .arg(&w)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("did not answer"), "{stderr}");
    assert_output_clean("preflight", &out);
}

/// No line of `out` is a workflow command or carries ESC / C1 controls.
fn assert_inert(what: &str, out: &Output) {
    for text in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(text);
        for line in text.lines() {
            assert!(
                !line.trim_start().starts_with("::"),
                "{what}: live command {line:?}"
            );
            assert!(
                !line.chars().any(|c| c.is_control() && c != '\t'),
                "{what}: control character in {line:?}"
            );
        }
    }
}

/// Defect 4: model ids from a hostile `/v1/models` are printed inert.
#[test]
fn hostile_model_ids_cannot_steer_the_ci_log() {
    let ids = [
        "::add-mask::x",
        "\u{1b}[31m",
        "a\n::error::owned",
        "::stop-commands::t",
    ];
    let server = Hostile::start(ids.iter().map(|s| s.to_string()).collect());
    let dir = tempfile::tempdir().unwrap();
    let w = workload(
        dir.path(),
        &format!("http://127.0.0.1:{}/v1", server.port),
        "",
    );
    let out = tokengate()
        .args(["run", "--quiet", "--out"])
        .arg(dir.path().join("b.json"))
        .arg(&w)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("add-mask") && stderr.contains("is not served by"),
        "{stderr}"
    );
    assert_inert("preflight", &out);
}

/// Defect 4: key values with line breaks and ESC reach the plain verdict
/// summary inert.
#[test]
fn key_values_cannot_steer_the_ci_log() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let run = |bundle: &Path, meta: &[String], env: &str| {
        tokengate()
            .current_dir(root)
            .args([
                "run",
                "examples/quickstart.yaml",
                "--quiet",
                "--requests",
                "20",
                "--out",
            ])
            .arg(bundle)
            .args(meta.iter().flat_map(|m| ["--meta", m.as_str()]))
            .env("TOKENGATE_RUNNER", env)
            .output()
            .unwrap()
    };
    let base = dir.path().join("base.json");
    let out = run(&base, &[], "plain");
    assert_success(&out);
    let promote = tokengate()
        .args(["baseline", "promote", "--baseline-dir"])
        .arg(dir.path().join("baselines"))
        .arg(&base)
        .output()
        .unwrap();
    assert_success(&promote);

    let bundle = dir.path().join("bundle.json");
    let evil = "x\n::error title=t::owned\u{1b}[2J\u{202E}\u{FFFE}";
    let out = run(
        &bundle,
        &[format!("hardware_profile={evil}"), format!("note={evil}")],
        evil,
    );
    assert_success(&out);
    assert_inert("run", &out);
    let junit = dir.path().join("junit.xml");
    let gate = tokengate()
        .current_dir(root)
        .arg("gate")
        .arg(&bundle)
        .arg("--baseline-dir")
        .arg(dir.path().join("baselines"))
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    assert!(
        gate.status.code().is_some_and(|c| c < 2),
        "{}",
        String::from_utf8_lossy(&gate.stderr)
    );
    assert_inert("gate", &gate);
    assert_well_formed(&junit);
    let stdout = String::from_utf8_lossy(&gate.stdout);
    assert!(
        stdout.contains("owned"),
        "the key value is shown, inert:\n{stdout}"
    );
}

/// `path` parses as XML from start to end.
fn assert_well_formed(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut events = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => events += 1,
            Err(e) => panic!("{} is not well-formed XML: {e}", path.display()),
        }
        assert!(events < 1_000_000);
    }
    assert!(
        !text.contains(['\u{FFFE}', '\u{FFFF}']),
        "{}",
        path.display()
    );
}

/// A model list over the preflight's cap is not read whole: the model name
/// is not checked, with a warning, and the run goes on.
#[test]
fn a_huge_model_list_is_not_read_whole() {
    let server = Hostile::start(vec!["m".repeat(5 << 20)]);
    let dir = tempfile::tempdir().unwrap();
    let w = workload(
        dir.path(),
        &format!("http://127.0.0.1:{}/v1", server.port),
        "",
    );
    let bundle = dir.path().join("b.json");
    let out = tokengate()
        .args(["run", "--quiet", "--out"])
        .arg(&bundle)
        .arg(&w)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let b: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&bundle).unwrap()).unwrap();
    let warnings = b["context"]["warnings"].to_string();
    assert!(
        warnings.contains("model name was not checked"),
        "{warnings}"
    );
    assert!(stderr.len() < 64 * 1024, "the list is not echoed");
}

/// Rule names come from the gate file and reach the workflow-command
/// annotations printed on stdout under GitHub Actions: ESC, C1 controls and
/// bidi overrides in them are neutralised there too, and the only `::`
/// lines are the tool's own annotations.
#[test]
fn gate_file_rule_names_reach_annotations_inert() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("b.json");
    let out = tokengate()
        .current_dir(root)
        .args([
            "run",
            "examples/quickstart.yaml",
            "--quiet",
            "--requests",
            "20",
            "--out",
        ])
        .arg(&bundle)
        .output()
        .unwrap();
    assert_success(&out);
    let gate = dir.path().join("g.yaml");
    std::fs::write(
        &gate,
        "name: g\nrules:\n  - metric: ttft.p95\n    max: 1us\n    name: \"evil\\e[2J\\x85::error::owned\\u202Ex\"\n",
    )
    .unwrap();
    let out = tokengate()
        .current_dir(dir.path())
        .arg("gate")
        .arg(&bundle)
        .arg("--gate")
        .arg(&gate)
        .env("GITHUB_ACTIONS", "true")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_OUTPUT")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // 20 requests are below the policy's minimum: the rule is inconclusive
    // (a warning annotation), which is enough to carry its name.
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let annotations: Vec<&str> = stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(
        annotations
            .iter()
            .filter(|l| l.starts_with("::warning title=tokengate inconclusive%3A evil"))
            .count(),
        1,
        "{stdout}"
    );
    for line in stdout
        .lines()
        .chain(String::from_utf8_lossy(&out.stderr).lines())
    {
        assert!(
            !line.chars().any(|c| c.is_control() && c != '\t')
                && !line.contains('\u{202E}')
                && !line.contains('\u{85}'),
            "raw control in {line:?}"
        );
        if line.starts_with("::") {
            assert!(
                ["::warning title=tokengate", "::notice title=tokengate"]
                    .iter()
                    .any(|p| line.starts_with(p)),
                "only the tool's annotations are commands: {line:?}"
            );
        }
    }
}
