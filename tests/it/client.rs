//! The client against tiny axum servers on 127.0.0.1:0 that send
//! hand-written SSE bodies with real delays, cuts and error statuses.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use serde_json::json;

use tokengate::client::{
    ApiKind, Client, ClientConfig, ErrorKind, Message, Outcome, Prompt, QualityCheck,
    RequestRecord, RequestSpec, Sampling, TokenSource,
};
use tokengate::tokenizer::{Tokenizer, TokenizerSpec};

#[derive(Clone, Debug)]
enum Step {
    Send(String),
    /// Bytes that need not be UTF-8.
    Raw(Vec<u8>),
    Sleep(u64),
    /// Abort the connection (hyper drops it without ending the body).
    Cut,
}

#[derive(Clone)]
struct Script {
    status: u16,
    headers: Vec<(&'static str, &'static str)>,
    /// Delay before the response headers are sent.
    head_delay_ms: u64,
    steps: Vec<Step>,
}

fn ok(steps: Vec<Step>) -> Script {
    Script {
        status: 200,
        headers: vec![("content-type", "text/event-stream")],
        head_delay_ms: 0,
        steps,
    }
}

fn status(code: u16, body: &str) -> Script {
    Script {
        status: code,
        headers: vec![("content-type", "application/json")],
        head_delay_ms: 0,
        steps: vec![Step::Send(body.to_owned())],
    }
}

/// What the server saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    peer: SocketAddr,
    headers: HeaderMap,
    body: serde_json::Value,
}

struct Server {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Set when a response body stream was dropped before it finished
    /// (the client closed the connection).
    dropped_early: Arc<AtomicBool>,
}

/// Sets the flag when dropped unless disarmed: tells whether the server's
/// body stream was abandoned.
struct DropFlag(Arc<AtomicBool>, bool);

impl DropFlag {
    fn disarm(&mut self) {
        self.1 = false;
    }
}

impl Drop for DropFlag {
    fn drop(&mut self) {
        if self.1 {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

async fn serve(script: Script) -> Server {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let dropped_early = Arc::new(AtomicBool::new(false));
    let (seen2, dropped2) = (seen.clone(), dropped_early.clone());
    let handler = move |ConnectInfo(peer): ConnectInfo<SocketAddr>,
                        uri: axum::http::Uri,
                        headers: HeaderMap,
                        body: Bytes| {
        let script = script.clone();
        let seen = seen2.clone();
        let dropped = dropped2.clone();
        async move {
            seen.lock().expect("lock").push(Seen {
                path: uri.path().to_owned(),
                peer,
                headers,
                body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
            });
            tokio::time::sleep(Duration::from_millis(script.head_delay_ms)).await;
            let flag = DropFlag(dropped, true);
            let stream = futures_util::stream::unfold(
                (script.steps.into_iter(), flag),
                |(mut it, mut flag)| async move {
                    loop {
                        match it.next() {
                            None => {
                                flag.disarm();
                                return None;
                            }
                            Some(Step::Sleep(ms)) => {
                                tokio::time::sleep(Duration::from_millis(ms)).await
                            }
                            Some(Step::Send(s)) => {
                                return Some((Ok(Bytes::from(s)), (it, flag)));
                            }
                            Some(Step::Raw(b)) => {
                                return Some((Ok(Bytes::from(b)), (it, flag)));
                            }
                            Some(Step::Cut) => {
                                flag.disarm();
                                return Some((Err(std::io::Error::other("cut")), (it, flag)));
                            }
                        }
                    }
                },
            );
            let mut resp =
                Response::builder().status(StatusCode::from_u16(script.status).expect("status"));
            for (k, v) in &script.headers {
                resp = resp.header(*k, *v);
            }
            resp.body(Body::from_stream(stream)).expect("response")
        }
    };
    let app = Router::new()
        .route("/v1/chat/completions", post(handler.clone()))
        .route("/v1/completions", post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    // Nagle off on accepted sockets too (axum's serve leaves it on).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    Server {
        base: format!("http://{addr}/v1"),
        seen,
        dropped_early,
    }
}

fn config(base: &str, streaming: bool) -> ClientConfig {
    ClientConfig {
        base_url: tokengate::client::EndpointUrl::parse_base(base).expect("a test URL"),
        api: ApiKind::Chat,
        model: "test-model".to_owned(),
        api_key: None,
        streaming,
        timeout: Duration::from_secs(5),
        pool_size: 4,
    }
}

fn spec() -> RequestSpec {
    RequestSpec {
        prompt: Arc::new(Prompt::Chat(vec![Message {
            role: "user".into(),
            content: "Say hello".into(),
        }])),
        prompt_tokens: 9.into(),
        sampling: Arc::new(Sampling {
            max_tokens: Some(64),
            temperature: Some(0.0),
            ..Sampling::default()
        }),
        cancel_after_events: None,
        quality: None,
    }
}

fn role() -> Step {
    Step::Send(format!(
        "data: {}\n\n",
        json!({"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})
    ))
}

fn token(text: &str) -> Step {
    Step::Send(format!(
        "data: {}\n\n",
        json!({"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":text},"finish_reason":null}]})
    ))
}

fn last_token(text: &str, reason: &str) -> Step {
    Step::Send(format!(
        "data: {}\n\n",
        json!({"id":"c1","choices":[{"index":0,"delta":{"content":text},"finish_reason":reason}]})
    ))
}

fn usage(prompt: u32, completion: u32) -> Step {
    Step::Send(format!(
        "data: {}\n\n",
        json!({"id":"c1","choices":[],"usage":{"prompt_tokens":prompt,"completion_tokens":completion,"total_tokens":prompt+completion}})
    ))
}

fn done() -> Step {
    Step::Send("data: [DONE]\n\n".to_owned())
}

/// A fresh client (own pool) for one request; `_server` keeps the server
/// borrowed so it outlives the call.
async fn send_once(_server: &Server, cfg: ClientConfig, spec: &RequestSpec) -> RequestRecord {
    let client = Client::new(cfg, None).expect("client");
    client.send(spec, Instant::now()).await
}

fn failed_kind(r: &RequestRecord) -> Option<(ErrorKind, bool)> {
    match r.outcome {
        Outcome::Failed {
            kind,
            after_first_byte,
        } => Some((kind, after_first_byte)),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttft_waits_for_first_content_not_the_role_chunk() {
    let server = serve(ok(vec![
        role(),
        Step::Sleep(50),
        token("Hello"),
        Step::Sleep(10),
        last_token(" world", "stop"),
        usage(12, 2),
        done(),
    ]))
    .await;
    let epoch = Instant::now();
    let client = Client::new(config(&server.base, true), None).expect("client");
    let r = client.send(&spec(), epoch).await;
    assert_eq!(r.outcome, Outcome::Success, "{r:?}");
    let ttfb = r.ttfb.expect("headers arrived");
    let ttft = r.ttft.expect("content arrived");
    assert!(ttft >= Duration::from_millis(50), "ttft {ttft:?}");
    assert!(
        ttfb < Duration::from_millis(40),
        "ttfb {ttfb:?} should be ~0"
    );
    assert!(r.e2e >= ttft + Duration::from_millis(10), "e2e {:?}", r.e2e);
    assert_eq!(r.event_offsets_us.len(), 2);
    assert_eq!(r.event_bytes, [5, 6]);
    assert!(r.event_offsets_us[0] >= 50_000);
    assert!(r.event_offsets_us[1] >= r.event_offsets_us[0] + 10_000);
    assert_eq!((r.output_tokens, r.token_source), (2, TokenSource::Usage));
    assert_eq!(r.input_tokens, 12);
    assert_eq!(r.finish_reason.as_deref(), Some("stop"));
    assert_eq!(r.attempts, 1);
    assert_eq!(r.scheduled_at, r.sent_at);
    assert!(r.sent_at < Duration::from_millis(100));
    assert!(r.tpot().is_some());

    let seen = server.seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v1/chat/completions");
    let body = &seen[0].body;
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(body["max_tokens"], 64);
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": "Say hello"}])
    );
    assert!(body.get("ignore_eos").is_none());
    assert!(seen[0].headers.get("authorization").is_none());
}

#[tokio::test]
async fn several_tokens_per_event_use_usage_and_spread_itl() {
    let server = serve(ok(vec![
        role(),
        token("one two three "),
        Step::Sleep(20),
        token("four"),
        Step::Sleep(20),
        last_token(" five six seven eight", "length"),
        usage(5, 8),
        done(),
    ]))
    .await;
    let r = send_once(&server, config(&server.base, true), &spec()).await;
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!((r.output_tokens, r.token_source), (8, TokenSource::Usage));
    assert_eq!(r.event_offsets_us.len(), 3);
    let mut ks = Vec::new();
    r.for_each_itl(|gap, k| {
        assert!(gap > 0.0);
        ks.push(k);
    });
    assert_eq!(ks.len(), 2);
    // The last event carried the most bytes, so the most tokens.
    assert!(ks[1] > ks[0], "{ks:?}");
    assert_eq!(r.finish_reason.as_deref(), Some("length"));
}

#[tokio::test]
async fn without_usage_the_tokenizer_counts_the_text() {
    let steps = vec![
        role(),
        token("Hello"),
        token(", world"),
        last_token("!", "stop"),
        done(),
    ];
    let server = serve(ok(steps)).await;
    let tok =
        Arc::new(Tokenizer::load(&TokenizerSpec::Embedded("o200k_base".into())).expect("embedded"));
    let client = Client::new(config(&server.base, true), Some(tok.clone())).expect("client");
    let r = client.send(&spec(), Instant::now()).await;
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(r.token_source, TokenSource::Tokenizer);
    assert_eq!(r.output_tokens as usize, tok.count("Hello, world!"));
    assert_eq!(r.output_tokens, 4);
    // The plan's count stands in for missing prompt usage.
    assert_eq!(r.input_tokens, 9);

    // Without a tokenizer: one token per content event.
    let r = send_once(&server, config(&server.base, true), &spec()).await;
    assert_eq!((r.output_tokens, r.token_source), (3, TokenSource::Events));
}

#[tokio::test]
async fn finish_reason_without_done_is_success() {
    let server = serve(ok(vec![role(), token("a"), last_token("b", "stop")])).await;
    // An effectively unlimited timeout must not overflow the deadline.
    let mut cfg = config(&server.base, true);
    cfg.timeout = Duration::MAX;
    let r = send_once(&server, cfg, &spec()).await;
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(r.finish_reason.as_deref(), Some("stop"));
    assert_eq!(r.event_offsets_us.len(), 2);
}

#[tokio::test]
async fn cut_mid_stream_is_stream_interrupted() {
    let server = serve(ok(vec![
        role(),
        token("a"),
        Step::Sleep(5),
        token("b"),
        Step::Sleep(20),
        Step::Cut,
    ]))
    .await;
    let r = send_once(&server, config(&server.base, true), &spec()).await;
    assert_eq!(
        failed_kind(&r),
        Some((ErrorKind::StreamInterrupted, true)),
        "{r:?}"
    );
    assert_eq!(r.event_offsets_us.len(), 2);
    assert!(r.ttft.is_some());

    // A clean end of body without [DONE] or finish_reason is also a cut.
    let server = serve(ok(vec![role(), token("a"), token("b")])).await;
    let r = send_once(&server, config(&server.base, true), &spec()).await;
    assert_eq!(failed_kind(&r), Some((ErrorKind::StreamInterrupted, true)));
}

#[tokio::test]
async fn malformed_events_are_classified() {
    for bad in [
        "data: {\"choices\": [ oops\n\n".to_owned(),
        "data: {\"object\":\"chat.completion.chunk\"}\n\n".to_owned(),
        "data: {\"choices\":[{\"delta\":{\"content\":\"\\ud800\"}}]}\n\n".to_owned(),
    ] {
        let server = serve(ok(vec![
            role(),
            token("a"),
            Step::Send(bad.clone()),
            done(),
        ]))
        .await;
        let r = send_once(&server, config(&server.base, true), &spec()).await;
        assert_eq!(
            failed_kind(&r),
            Some((ErrorKind::MalformedEvent, true)),
            "{bad}"
        );
    }
    // Raw invalid UTF-8 inside a JSON string.
    let bad = b"data: {\"choices\":[{\"delta\":{\"content\":\"\xff\xfe\"}}]}\n\n".to_vec();
    let server = serve(ok(vec![role(), Step::Raw(bad), done()])).await;
    let r = send_once(&server, config(&server.base, true), &spec()).await;
    assert_eq!(failed_kind(&r), Some((ErrorKind::MalformedEvent, true)));
}

#[tokio::test]
async fn a_huge_line_without_newline_is_malformed_and_bounded() {
    // 10 MB in 64 KiB pieces with no line end: the 8 MiB cap ends it.
    let mut steps = vec![
        role(),
        Step::Send("data: {\"choices\":[{\"delta\":{\"content\":\"".into()),
    ];
    for _ in 0..160 {
        steps.push(Step::Raw(vec![b'x'; 64 * 1024]));
    }
    let server = serve(ok(steps)).await;
    let r = send_once(&server, config(&server.base, true), &spec()).await;
    assert_eq!(failed_kind(&r), Some((ErrorKind::MalformedEvent, true)));
}

#[tokio::test]
async fn empty_200_is_empty_response() {
    let server = serve(ok(vec![])).await;
    let r = send_once(&server, config(&server.base, true), &spec()).await;
    assert_eq!(failed_kind(&r), Some((ErrorKind::EmptyResponse, true)));
    assert!(r.ttfb.is_some());
    assert!(r.ttft.is_none());

    // Only a role chunk and [DONE]: nothing was generated.
    let server = serve(ok(vec![role(), done()])).await;
    let r = send_once(&server, config(&server.base, true), &spec()).await;
    assert_eq!(failed_kind(&r), Some((ErrorKind::EmptyResponse, true)));

    let server = serve(status(200, "")).await;
    let r = send_once(&server, config(&server.base, false), &spec()).await;
    assert_eq!(failed_kind(&r), Some((ErrorKind::EmptyResponse, true)));
}

#[tokio::test]
async fn http_statuses_are_classified() {
    let server = serve(status(500, r#"{"error":"boom"}"#)).await;
    let r = send_once(&server, config(&server.base, true), &spec()).await;
    assert_eq!(failed_kind(&r), Some((ErrorKind::Http5xx, false)));
    assert!(r.ttfb.is_some());
    assert_eq!(r.retry_after, None);

    let mut s = status(429, r#"{"error":"slow down"}"#);
    s.headers.push(("retry-after", "3"));
    let server = serve(s).await;
    let r = send_once(&server, config(&server.base, true), &spec()).await;
    assert_eq!(failed_kind(&r), Some((ErrorKind::Http429, false)));
    assert_eq!(r.retry_after, Some(Duration::from_secs(3)));

    let mut s = status(503, "overloaded");
    s.headers.push(("retry-after", "1"));
    let server = serve(s).await;
    let r = send_once(&server, config(&server.base, true), &spec()).await;
    assert_eq!(failed_kind(&r), Some((ErrorKind::Http5xx, false)));
    assert_eq!(r.retry_after, Some(Duration::from_secs(1)));

    let server = serve(status(
        400,
        r#"{"object":"error","message":"This model's maximum context length is 2048 tokens. However, you requested 3000 tokens.","type":"BadRequestError","code":400}"#,
    ))
    .await;
    let r = send_once(&server, config(&server.base, true), &spec()).await;
    assert_eq!(failed_kind(&r), Some((ErrorKind::ContextOverflow, false)));

    let server = serve(status(404, r#"{"error":"model not found"}"#)).await;
    let r = send_once(&server, config(&server.base, true), &spec()).await;
    assert_eq!(failed_kind(&r), Some((ErrorKind::Http4xx, false)));
}

#[tokio::test]
async fn refused_connection_is_connect() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let client = Client::new(config(&format!("http://{addr}/v1"), true), None).expect("client");
    let r = client.send(&spec(), Instant::now()).await;
    assert_eq!(failed_kind(&r), Some((ErrorKind::Connect, false)), "{r:?}");
    assert!(r.ttfb.is_none());
    assert!(r.e2e < Duration::from_secs(1));
}

#[tokio::test]
async fn a_stall_times_out_on_time() {
    let timeout = Duration::from_millis(300);
    // Stall in the middle of the stream.
    let server = serve(ok(vec![role(), token("a"), Step::Sleep(5_000), done()])).await;
    let mut cfg = config(&server.base, true);
    cfg.timeout = timeout;
    let started = Instant::now();
    let r = send_once(&server, cfg.clone(), &spec()).await;
    let wall = started.elapsed();
    assert_eq!(failed_kind(&r), Some((ErrorKind::Timeout, true)), "{r:?}");
    assert!(
        r.e2e >= timeout && r.e2e < timeout + Duration::from_millis(150),
        "e2e {:?}",
        r.e2e
    );
    assert!(wall < timeout + Duration::from_millis(400), "wall {wall:?}");
    assert_eq!(
        r.event_offsets_us.len(),
        1,
        "events before the stall are kept"
    );

    // Stall before the headers.
    let mut s = ok(vec![role(), token("a"), done()]);
    s.head_delay_ms = 5_000;
    let server = serve(s).await;
    cfg.base_url = tokengate::client::EndpointUrl::parse_base(&server.base).expect("a test URL");
    let r = send_once(&server, cfg, &spec()).await;
    assert_eq!(failed_kind(&r), Some((ErrorKind::Timeout, false)));
    assert!(r.ttfb.is_none());
    assert!(r.e2e < timeout + Duration::from_millis(150));
}

#[tokio::test]
async fn cancels_after_three_events_and_closes_the_connection() {
    let mut steps = vec![role()];
    for i in 0..10 {
        steps.push(Step::Sleep(20));
        steps.push(token(&format!("t{i}")));
    }
    steps.push(done());
    let server = serve(ok(steps)).await;
    let mut s = spec();
    s.cancel_after_events = Some(3);
    let r = send_once(&server, config(&server.base, true), &s).await;
    assert_eq!(r.outcome, Outcome::Cancelled);
    assert_eq!(r.event_offsets_us.len(), 3);
    assert!(r.e2e < Duration::from_millis(150), "e2e {:?}", r.e2e);
    // The server notices the closed connection and drops its stream.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !server.dropped_early.load(Ordering::SeqCst) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(server.dropped_early.load(Ordering::SeqCst));
}

#[tokio::test]
async fn non_streaming_json_body() {
    let body = r#"{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"{\"answer\": 42}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":7,"completion_tokens":6,"total_tokens":13}}"#;
    let server = serve(status(200, body)).await;
    let mut s = spec();
    s.quality = Some(Arc::new(QualityCheck::Json));
    let r = send_once(&server, config(&server.base, false), &s).await;
    assert_eq!(r.outcome, Outcome::Success);
    assert!(r.ttft.is_none());
    assert!(r.event_offsets_us.is_empty());
    assert_eq!((r.output_tokens, r.token_source), (6, TokenSource::Usage));
    assert_eq!(r.input_tokens, 7);
    assert_eq!(r.quality_pass, Some(true));
    let seen = server.seen.lock().expect("lock").clone();
    assert_eq!(seen[0].body["stream"], false);
    assert!(seen[0].body.get("stream_options").is_none());

    s.quality = Some(Arc::new(QualityCheck::Contains("nope".into())));
    let r = send_once(&server, config(&server.base, false), &s).await;
    assert_eq!(r.quality_pass, Some(false));
}

#[tokio::test]
async fn completions_api_with_trailing_slash() {
    let text = |t: &str, fin: Option<&str>| {
        Step::Send(format!(
            "data: {}\n\n",
            json!({"id":"x","object":"text_completion","choices":[{"index":0,"text":t,"finish_reason":fin}]})
        ))
    };
    let server = serve(ok(vec![
        text("Once", None),
        text(" upon", Some("length")),
        usage(3, 2),
        done(),
    ]))
    .await;
    let mut cfg = config(&format!("{}/", server.base), true);
    cfg.api = ApiKind::Completions;
    let mut s = spec();
    s.prompt = Arc::new(Prompt::Text("Tell me".into()));
    s.sampling = Arc::new(Sampling {
        ignore_eos: true,
        max_tokens: Some(2),
        ..Sampling::default()
    });
    let r = send_once(&server, cfg, &s).await;
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(r.event_bytes, [4, 5]);
    let seen = server.seen.lock().expect("lock").clone();
    assert_eq!(seen[0].path, "/v1/completions");
    assert_eq!(seen[0].body["prompt"], "Tell me");
    assert_eq!(seen[0].body["ignore_eos"], true);
}

#[tokio::test]
async fn api_key_is_sent_as_bearer_and_never_printed() {
    let server = serve(ok(vec![role(), last_token("hi", "stop"), done()])).await;
    let mut cfg = config(&server.base, true);
    cfg.api_key = Some("sk-secret-4242".into());
    assert!(!format!("{cfg:?}").contains("sk-secret"), "{cfg:?}");
    let client = Client::new(cfg, None).expect("client");
    let dbg = format!("{client:?}");
    assert!(
        !dbg.contains("sk-secret") && dbg.contains("redacted"),
        "{dbg}"
    );
    let r = client.send(&spec(), Instant::now()).await;
    assert_eq!(r.outcome, Outcome::Success);
    let seen = server.seen.lock().expect("lock").clone();
    assert_eq!(
        seen[0]
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer sk-secret-4242")
    );

    // A key that cannot be a header value is refused without showing it.
    let mut bad = config(&server.base, true);
    bad.api_key = Some("sk-bad\nkey".into());
    let err = Client::new(bad, None).unwrap_err();
    assert!(!err.to_string().contains("sk-bad"), "{err}");
}

#[tokio::test]
async fn connection_is_reused_after_done() {
    let server = serve(ok(vec![
        role(),
        last_token("hi", "stop"),
        usage(1, 1),
        done(),
    ]))
    .await;
    let client = Client::new(config(&server.base, true), None).expect("client");
    for _ in 0..3 {
        let r = client.send(&spec(), Instant::now()).await;
        assert_eq!(r.outcome, Outcome::Success);
    }
    let seen = server.seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 3);
    assert!(
        seen.iter().all(|s| s.peer == seen[0].peer),
        "one pooled connection: {seen:?}"
    );
}

#[test]
fn bad_base_urls_are_refused_with_the_value_redacted() {
    use tokengate::client::EndpointUrl;
    // Not a URL: the text is not echoed (it may hold a password).
    let err = EndpointUrl::parse_base("not a url:PASSWORD").unwrap_err();
    assert!(err.to_string().contains("not a URL"), "{err}");
    assert!(!err.to_string().contains("PASSWORD"), "{err}");
    let err = EndpointUrl::parse_base("ftp://u:PASSWORD@127.0.0.1/v1").unwrap_err();
    assert!(
        err.to_string().contains("`ftp://***@127.0.0.1/v1`"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_serves_concurrent_tasks() {
    fn is_send<T: Send>(_: &T) {}
    fn is_send_sync<T: Send + Sync>() {}
    is_send_sync::<Client>();

    let server = serve(ok(vec![
        role(),
        token("a"),
        Step::Sleep(5),
        last_token("b", "stop"),
        usage(3, 2),
        done(),
    ]))
    .await;
    let client = Arc::new(Client::new(config(&server.base, true), None).expect("client"));
    let spec = Arc::new(spec());
    let epoch = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (client, spec) = (client.clone(), spec.clone());
        let fut = async move { client.send(&spec, epoch).await };
        is_send(&fut);
        tasks.push(tokio::spawn(fut));
    }
    for t in tasks {
        let r = t.await.expect("task");
        assert_eq!(r.outcome, Outcome::Success);
        assert_eq!(r.output_tokens, 2);
        assert!(r.ttft.expect("ttft") <= r.e2e);
    }
    assert_eq!(server.seen.lock().expect("lock").len(), 20);
}

#[tokio::test]
async fn an_error_status_with_a_stalled_body_is_still_the_status() {
    let mut s = status(502, "");
    s.steps = vec![Step::Send("{\"error\":".into()), Step::Sleep(10_000)];
    let server = serve(s).await;
    let mut cfg = config(&server.base, true);
    cfg.timeout = Duration::from_secs(3);
    let r = send_once(&server, cfg, &spec()).await;
    assert_eq!(failed_kind(&r), Some((ErrorKind::Http5xx, false)));
    assert!(r.e2e < Duration::from_millis(1_500), "e2e {:?}", r.e2e);
}

/// CPU time of the current thread in nanoseconds (Linux schedstat), or
/// None where unavailable.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// DESIGN.md §10: ≤ 50 µs client CPU per streamed request of 64 tokens
/// (release build). The client runs on this thread (current-thread
/// runtime, so hyper's connection task is counted too); the server runs on
/// its own runtime thread and is not counted. Slow in debug builds, hence
/// ignored by default: `cargo test --release --test it -- --ignored cpu`.
#[test]
#[ignore = "performance measurement; run explicitly"]
fn client_cpu_per_streamed_request_of_64_tokens() {
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("server runtime");
    let mut steps = vec![role()];
    for i in 0..63 {
        steps.push(token(&format!(" w{i:02}")));
    }
    steps.push(last_token(" end", "length"));
    steps.push(usage(9, 64));
    steps.push(done());
    let server = server_rt.block_on(serve(ok(steps)));

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let client = Client::new(config(&server.base, true), None).expect("client");
    let spec = spec();
    let n = 500u64;
    let per_request_ns = rt.block_on(async {
        for _ in 0..20 {
            client.send(&spec, Instant::now()).await;
        }
        let before = thread_cpu_ns()?;
        for _ in 0..n {
            let r = client.send(&spec, Instant::now()).await;
            assert_eq!(r.outcome, Outcome::Success);
            assert_eq!(r.event_offsets_us.len(), 64);
        }
        Some((thread_cpu_ns()? - before) / n)
    });
    let Some(ns) = per_request_ns else {
        eprintln!("no /proc/thread-self/schedstat: nothing measured");
        return;
    };
    eprintln!(
        "client CPU per streamed 64-token request: {:.1} µs",
        ns as f64 / 1000.0
    );
    // Debug builds (dependencies unoptimized too) measured ~1.2 ms here.
    let budget_ns = if cfg!(debug_assertions) {
        3_000_000
    } else {
        50_000
    };
    assert!(ns <= budget_ns, "{ns} ns per request");
}

/// A raw TCP server: the first `close_first` connections read the request
/// and close without answering (a keep-alive connection the server dropped
/// after its last response); later ones answer with a short SSE stream.
/// Returns the base URL and the number of connections accepted.
async fn closing_server(close_first: usize) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let n = count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = sock.read(&mut buf).await;
                if n < close_first {
                    return; // dropped: closed before any response byte
                }
                let events = concat!(
                    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\n",
                    "data: [DONE]\n\n"
                );
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{events}",
                    events.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    (format!("http://{addr}/v1"), accepted)
}

/// A connection closed before any response (llama.cpp's server closes
/// keep-alive connections after a stream) is resent on a new connection;
/// a server that always does so ends as `stream_interrupted` after the
/// bounded resends.
#[tokio::test]
async fn request_on_a_connection_closed_before_any_response_goes_again() {
    let (base, accepted) = closing_server(1).await;
    let client = Client::new(config(&base, true), None).expect("client");
    let r = client.send(&spec(), Instant::now()).await;
    assert_eq!(r.outcome, Outcome::Success, "{r:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);

    let (base, accepted) = closing_server(usize::MAX).await;
    let client = Client::new(config(&base, true), None).expect("client");
    let r = client.send(&spec(), Instant::now()).await;
    assert_eq!(failed_kind(&r), Some((ErrorKind::StreamInterrupted, false)));
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        3,
        "first try and two resends"
    );
}

/// A redirect is not followed and is its own kind: an OpenAI-compatible
/// endpoint answers at its URL, so a 3xx says the URL is wrong.
#[tokio::test]
async fn a_redirect_is_http_3xx_and_is_not_followed() {
    for code in [301, 302, 307, 308] {
        let mut s = status(code, "");
        s.headers.push(("location", "/v1/completions"));
        let server = serve(s).await;
        let r = send_once(&server, config(&server.base, true), &spec()).await;
        assert_eq!(failed_kind(&r), Some((ErrorKind::Http3xx, false)), "{code}");
        assert_eq!(server.seen.lock().expect("lock").len(), 1, "{code}");
    }
}

/// `event: error` is the server's failure report in the stream, whatever
/// its data: a valid content chunk is not content, a plain message is not
/// malformed. An `{"error": …}` chunk after a 200 is the same kind.
#[tokio::test]
async fn error_events_in_the_stream_are_stream_error_events() {
    let chunk = r#"{"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}]}"#;
    for bad in [
        format!("event: error\ndata: {chunk}\n\n"),
        "event: error\ndata: {\"message\":\"the engine crashed\",\"code\":500}\n\n".to_owned(),
        "event: error\ndata: model overloaded\n\n".to_owned(),
        "event: error\ndata:\n\n".to_owned(),
        "data: {\"error\":{\"message\":\"boom\",\"code\":500}}\n\n".to_owned(),
    ] {
        let server = serve(ok(vec![role(), Step::Send(bad.clone()), done()])).await;
        let r = send_once(&server, config(&server.base, true), &spec()).await;
        assert_eq!(
            failed_kind(&r),
            Some((ErrorKind::StreamErrorEvent, true)),
            "{bad}"
        );
        assert!(r.ttft.is_none(), "{bad}");
        assert!(r.event_offsets_us.is_empty(), "{bad}");
    }
    // After content, too.
    let server = serve(ok(vec![
        role(),
        token("a"),
        Step::Send("event: error\ndata: out of memory\n\n".into()),
    ]))
    .await;
    let r = send_once(&server, config(&server.base, true), &spec()).await;
    assert_eq!(failed_kind(&r), Some((ErrorKind::StreamErrorEvent, true)));
    // An error in a non-streamed 200 body.
    let server = serve(status(200, r#"{"error":{"message":"boom"}}"#)).await;
    let r = send_once(&server, config(&server.base, false), &spec()).await;
    assert_eq!(failed_kind(&r), Some((ErrorKind::StreamErrorEvent, true)));
}

/// A server that ignores `"stream": true` answers one JSON document: not an
/// empty response, its own kind — by content type or by the body itself.
#[tokio::test]
async fn a_json_body_to_a_streaming_request_is_not_streamed() {
    let body = r#"{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}"#;
    let server = serve(status(200, body)).await;
    let r = send_once(&server, config(&server.base, true), &spec()).await;
    assert_eq!(failed_kind(&r), Some((ErrorKind::NotStreamed, true)));

    let mut s = status(200, &format!("\n  {body}"));
    s.headers = vec![("content-type", "text/event-stream")];
    let server = serve(s).await;
    let r = send_once(&server, config(&server.base, true), &spec()).await;
    assert_eq!(failed_kind(&r), Some((ErrorKind::NotStreamed, true)));

    // An empty JSON-typed body is still empty, and so is an empty stream.
    let server = serve(status(200, "")).await;
    let r = send_once(&server, config(&server.base, true), &spec()).await;
    assert_eq!(failed_kind(&r), Some((ErrorKind::EmptyResponse, true)));
}

/// The client asks for no compression; a compressed body cannot be read
/// and is its own kind, streaming or not.
#[tokio::test]
async fn an_unrequested_compressed_body_is_unrequested_encoding() {
    // A gzip member of "data: [DONE]\n\n" would do; the bytes never matter.
    let gz: Vec<u8> = vec![0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 0x03, 0x4b, 0x49];
    for enc in ["gzip", "br", "deflate"] {
        for streaming in [true, false] {
            let mut s = ok(vec![Step::Raw(gz.clone())]);
            s.headers.push(("content-encoding", enc));
            let server = serve(s).await;
            let r = send_once(&server, config(&server.base, streaming), &spec()).await;
            assert_eq!(
                failed_kind(&r),
                Some((ErrorKind::UnrequestedEncoding, true)),
                "{enc} streaming={streaming}"
            );
        }
    }
    // `identity` is no compression.
    let mut s = ok(vec![last_token("hi", "stop"), done()]);
    s.headers.push(("content-encoding", "identity"));
    let server = serve(s).await;
    let r = send_once(&server, config(&server.base, true), &spec()).await;
    assert_eq!(r.outcome, Outcome::Success);
}

/// A raw server whose every answer is a 200 head with `header_bytes` of
/// headers in `per_header`-byte lines, and no body.
async fn huge_head_server(header_bytes: usize, per_header: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = sock.read(&mut buf).await;
                let mut head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n".to_vec();
                let line = format!("X-Pad: {}\r\n", "p".repeat(per_header.saturating_sub(9)));
                for _ in 0..header_bytes / line.len() {
                    head.extend_from_slice(line.as_bytes());
                }
                head.extend_from_slice(b"\r\ndata: [DONE]\n\n");
                // The client gives up part way: the rest of the write fails.
                let _ = sock.write_all(&head).await;
            });
        }
    });
    format!("http://{addr}/v1")
}

/// 1 MB of response headers (or more headers than the client reads) is
/// its own kind, not a broken stream.
#[tokio::test]
async fn oversized_response_headers_are_response_headers_too_large() {
    for (bytes, per) in [(1 << 20, 1000), (1 << 20, 64 * 1024), (20_000, 50)] {
        let base = huge_head_server(bytes, per).await;
        let client = Client::new(config(&base, true), None).expect("client");
        let r = client.send(&spec(), Instant::now()).await;
        assert_eq!(
            failed_kind(&r),
            Some((ErrorKind::ResponseHeadersTooLarge, false)),
            "{bytes} bytes in {per}-byte headers: {r:?}"
        );
    }
}

/// A raw server like llama-cpp-python after a context overflow: the first
/// connection answers its first request with a 400 (kept alive), then
/// reads the next request and resets the connection (or closes it, with
/// `reset == false`) without a byte of answer. Later connections stream a
/// short answer. Returns the base URL and the connections accepted.
async fn error_then_drop_server(reset: bool) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let n = count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = sock.read(&mut buf).await;
                if n == 0 {
                    let body = r#"{"error":{"message":"bad temperature","code":400}}"#;
                    let resp = format!(
                        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                    // The next request on this kept-alive connection.
                    let _ = sock.read(&mut buf).await;
                    if reset {
                        let _ = sock.set_zero_linger();
                    }
                    return; // dropped: reset (or closed) before any byte
                }
                let events = concat!(
                    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\n",
                    "data: [DONE]\n\n"
                );
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {}\r\n\r\n{events}",
                    events.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    (format!("http://{addr}/v1"), accepted)
}

/// The request after an error answer goes on the kept-alive connection;
/// when the server resets or closes it without answering, the request is
/// sent again on a new connection and succeeds.
#[tokio::test]
async fn a_kept_alive_connection_reset_after_an_error_is_resent_on_a_new_one() {
    for reset in [true, false] {
        let (base, accepted) = error_then_drop_server(reset).await;
        let client = Client::new(config(&base, true), None).expect("client");
        let r = client.send(&spec(), Instant::now()).await;
        assert_eq!(failed_kind(&r), Some((ErrorKind::Http4xx, false)), "{r:?}");
        let r = client.send(&spec(), Instant::now()).await;
        assert_eq!(r.outcome, Outcome::Success, "reset={reset}: {r:?}");
        assert_eq!(accepted.load(Ordering::SeqCst), 2, "reset={reset}");
    }
}

/// A run against a misconfigured endpoint counts each new kind and says
/// what to fix in the bundle's warnings; the bundle still validates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_warns_about_redirects_unstreamed_and_compressed_answers() {
    let body = r#"{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}"#;
    let mut redirect = status(307, "");
    redirect
        .headers
        .push(("location", "https://elsewhere.invalid/v1/chat/completions"));
    let json = status(200, body);
    let mut gzip = ok(vec![Step::Raw(vec![0x1f, 0x8b, 0x08, 0])]);
    gzip.headers.push(("content-encoding", "gzip"));
    for (script, kind, needle) in [
        (redirect, "http_3xx", "redirect"),
        (json, "not_streamed", "stream: false"),
        (gzip, "unrequested_encoding", "compressed"),
    ] {
        let server = serve(script).await;
        let dir = tempfile::tempdir().unwrap();
        let w = super::common::write_workload(
            dir.path(),
            "w.yaml",
            &super::common::workload_yaml(
                &server.base,
                8,
                "load: {mode: closed, concurrency: 1}\nrequests: 3",
                "",
            ),
        );
        let out = dir.path().join("b.json");
        let outcome = super::common::run(&w, &out, &[]).await.expect("run");
        let b = &outcome.bundle;
        assert_eq!(b.metrics.errors[kind], 3, "{kind}: {:?}", b.metrics.errors);
        assert!(
            b.context
                .warnings
                .iter()
                .any(|w| w.contains(kind) && w.contains(needle)),
            "{kind}: {:?}",
            b.context.warnings
        );
        assert_eq!(
            super::common::bundle_schema_errors(&out),
            Vec::<String>::new()
        );
    }
}

/// Issue 18: the clients of a plain-`http://` endpoint load no CA
/// certificates, so preflight follows redirects within `http` only — an
/// `https` target is not followed, and its 3xx is what preflight reports,
/// not a certificate error from roots it never loaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_of_an_http_endpoint_follows_http_redirects_only() {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for s in listener.incoming().take(64) {
            let Ok(mut s) = s else { break };
            let mut line = String::new();
            let _ = BufReader::new(&s).read_line(&mut line);
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let reply = match path.as_str() {
                "/a/v1/models" => {
                    "HTTP/1.1 302 Found\r\nlocation: /b/v1/models\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string()
                }
                "/b/v1/models" => {
                    let body = r#"{"object":"list","data":[{"id":"m"}]}"#;
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                }
                _ => "HTTP/1.1 301 Moved Permanently\r\nlocation: https://127.0.0.1:9/v1/models\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string(),
            };
            let _ = s.write_all(reply.as_bytes());
        }
    });
    let base = |p: &str| {
        tokengate::client::EndpointUrl::parse_base(&format!("http://127.0.0.1:{port}/{p}/v1"))
            .expect("url")
    };
    let ok = tokengate::client::preflight(&base("a"), None, "m", Duration::from_secs(2), false)
        .await
        .expect("an http redirect is followed");
    assert_eq!(ok.served, ["m"]);
    let err =
        tokengate::client::preflight(&base("c"), None, "m", Duration::from_millis(300), false)
            .await
            .expect_err("an https redirect is not followed");
    let text = err.to_string();
    assert!(text.contains("HTTP 301"), "{text}");
}
