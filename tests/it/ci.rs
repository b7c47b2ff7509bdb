//! CI platform surfaces against fake GitHub and GitLab APIs (axum on
//! 127.0.0.1:0) that record every request: PR comment and MR note upserts
//! with pagination, permission failures, truncation and token hygiene; check
//! runs; Actions runner files; GitLab report files from a real bundle.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use tokengate::ci::{
    AnnotationLevel, CheckConclusion, CheckRun, CheckRunOutcome, CiError, CommentKey,
    CommentOutcome, CommentTarget, GITHUB_COMMENT_LIMIT, GitHubApi, GitLabAuth, MARKER,
    RetryPolicy, Secret, TRUNCATION_NOTICE, UpsertOptions, annotation, create_check_run,
    load_performance_json, openmetrics_text, ranked_annotations, set_outputs, upsert_comment,
    upsert_comment_with,
};

const TOKEN: &str = "tg-test-token-9f8e7d6c5b4a";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    GitHub,
    GitLab,
}

/// One request as the fake API saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("request body is JSON")
    }
}

#[derive(Debug, Clone)]
struct Item {
    id: u64,
    body: String,
    system: bool,
}

/// A forced answer: (status, JSON body).
type Forced = Option<(u16, String)>;
/// A scripted answer: (status, headers, JSON body).
type Scripted = (u16, Vec<(&'static str, String)>, String);

#[derive(Default)]
struct Store {
    base: String,
    items: Vec<Item>,
    next_id: u64,
    seen: Vec<Seen>,
    /// Answer every request with this.
    fail_all: Forced,
    /// Answer POST/PATCH/PUT with this (reads work: a fork PR's token).
    fail_writes: Forced,
    /// GitHub: send this instead of the real `rel="next"` link.
    foreign_next: Option<String>,
    /// Answers given first, one per request, before the API behaves:
    /// (status, headers, body).
    script: std::collections::VecDeque<Scripted>,
}

struct FakeApi {
    /// API base, e.g. `http://127.0.0.1:PORT` (GitHub) or `…/api/v4` (GitLab).
    base: String,
    store: Arc<Mutex<Store>>,
}

impl FakeApi {
    async fn start(kind: Kind) -> FakeApi {
        let store = Arc::new(Mutex::new(Store {
            next_id: 1000,
            ..Store::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let base = match kind {
            Kind::GitHub => format!("http://{addr}"),
            Kind::GitLab => format!("http://{addr}/api/v4"),
        };
        store.lock().expect("lock").base = format!("http://{addr}");
        let app = Router::new()
            .fallback(handle)
            .with_state((kind, store.clone()));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeApi { base, store }
    }

    fn add(&self, n: usize, body: impl Fn(usize) -> String) -> Vec<u64> {
        let mut s = self.store.lock().expect("lock");
        (0..n)
            .map(|i| {
                s.next_id += 1;
                let id = s.next_id;
                s.items.push(Item {
                    id,
                    body: body(i),
                    system: false,
                });
                id
            })
            .collect()
    }

    fn seen(&self) -> Vec<Seen> {
        self.store.lock().expect("lock").seen.clone()
    }

    fn items(&self) -> Vec<Item> {
        self.store.lock().expect("lock").items.clone()
    }

    fn clear_seen(&self) {
        self.store.lock().expect("lock").seen.clear();
    }

    fn with<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        f(&mut self.store.lock().expect("lock"))
    }
}

fn reply(status: u16, headers: &[(&str, String)], body: String) -> Response {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    for (k, v) in headers {
        h.insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).expect("header name"),
            HeaderValue::from_str(v).expect("header value"),
        );
    }
    (StatusCode::from_u16(status).expect("status"), h, body).into_response()
}

fn query_param(query: Option<&str>, name: &str) -> Option<usize> {
    query?
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

async fn handle(
    State((kind, store)): State<(Kind, Arc<Mutex<Store>>)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut s = store.lock().expect("lock");
    let seen = Seen {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers: headers.clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    s.seen.push(seen);

    let authorized = match kind {
        Kind::GitHub => {
            headers.get("authorization").and_then(|v| v.to_str().ok())
                == Some(&format!("Bearer {TOKEN}"))
        }
        Kind::GitLab => {
            headers.get("private-token").and_then(|v| v.to_str().ok()) == Some(TOKEN)
                || headers.get("job-token").is_some()
        }
    };
    if !authorized {
        return reply(401, &[], r#"{"message":"Bad credentials"}"#.into());
    }
    if let Some((status, headers, body)) = s.script.pop_front() {
        return reply(status, &headers, body);
    }
    if let Some((status, body)) = s.fail_all.clone() {
        return reply(status, &[], body);
    }
    let is_write = method != Method::GET;
    if is_write {
        if let Some((status, body)) = s.fail_writes.clone() {
            return reply(status, &[], body);
        }
    }

    let segs: Vec<&str> = uri.path().trim_start_matches('/').split('/').collect();
    let body_of = |b: &Bytes| -> Option<String> {
        serde_json::from_slice::<Value>(b)
            .ok()?
            .get("body")?
            .as_str()
            .map(str::to_owned)
    };
    let per_page = query_param(uri.query(), "per_page").unwrap_or(30);
    let page = query_param(uri.query(), "page").unwrap_or(1).max(1);

    match (kind, method.as_str(), segs.as_slice()) {
        // GET /repos/o/r/issues/N/comments, and the /repositories/ID/… form
        // GitHub's Link headers use.
        (Kind::GitHub, "GET", ["repos", _, _, "issues", pr, "comments"])
        | (Kind::GitHub, "GET", ["repositories", _, "issues", pr, "comments"]) => {
            let all = &s.items;
            let start = (page - 1) * per_page;
            let chunk: Vec<Value> = all
                .iter()
                .skip(start)
                .take(per_page)
                .map(|c| json!({"id": c.id, "body": c.body, "user": {"login": "someone"}}))
                .collect();
            let mut h = Vec::new();
            if start + per_page < all.len() {
                let next = s.foreign_next.clone().unwrap_or_else(|| {
                    format!(
                        "{}/repositories/4242/issues/{pr}/comments?per_page={per_page}&page={}",
                        s.base,
                        page + 1
                    )
                });
                h.push((
                    "link",
                    format!(
                        "<{next}>; rel=\"next\", <{}/repositories/4242/issues/{pr}/comments?per_page={per_page}&page=99>; rel=\"last\"",
                        s.base
                    ),
                ));
            }
            reply(200, &h, Value::Array(chunk).to_string())
        }
        (Kind::GitHub, "POST", ["repos", _, _, "issues", _, "comments"])
        | (Kind::GitLab, "POST", ["api", "v4", "projects", _, "merge_requests", _, "notes"]) => {
            let Some(text) = body_of(&body) else {
                return reply(400, &[], r#"{"message":"body missing"}"#.into());
            };
            s.next_id += 1;
            let id = s.next_id;
            s.items.push(Item {
                id,
                body: text.clone(),
                system: false,
            });
            reply(201, &[], json!({"id": id, "body": text}).to_string())
        }
        (Kind::GitHub, "PATCH", ["repos", _, _, "issues", "comments", id])
        | (Kind::GitLab, "PUT", ["api", "v4", "projects", _, "merge_requests", _, "notes", id]) => {
            let Some(text) = body_of(&body) else {
                return reply(400, &[], r#"{"message":"body missing"}"#.into());
            };
            let id: u64 = id.parse().unwrap_or(0);
            match s.items.iter_mut().find(|c| c.id == id) {
                Some(c) => {
                    c.body = text.clone();
                    reply(200, &[], json!({"id": id, "body": text}).to_string())
                }
                None => reply(404, &[], r#"{"message":"Not Found"}"#.into()),
            }
        }
        (Kind::GitLab, "GET", ["api", "v4", "projects", _, "merge_requests", _, "notes"]) => {
            let start = (page - 1) * per_page;
            let chunk: Vec<Value> = s
                .items
                .iter()
                .skip(start)
                .take(per_page)
                .map(|n| json!({"id": n.id, "body": n.body, "system": n.system}))
                .collect();
            let next = if start + per_page < s.items.len() {
                (page + 1).to_string()
            } else {
                String::new()
            };
            reply(
                200,
                &[("x-next-page", next), ("x-page", page.to_string())],
                Value::Array(chunk).to_string(),
            )
        }
        (Kind::GitHub, "POST", ["repos", _, _, "check-runs"]) => reply(
            201,
            &[],
            json!({"id": 777_001, "status": "completed"}).to_string(),
        ),
        _ => reply(404, &[], r#"{"message":"Not Found"}"#.into()),
    }
}

fn gh_target(api: &FakeApi, pr: u64) -> CommentTarget {
    CommentTarget::github(&api.base, "acme/serving", pr).expect("target")
}

fn gl_target(api: &FakeApi, auth: GitLabAuth) -> CommentTarget {
    CommentTarget::gitlab(&api.base, "group/project", 7, auth).expect("target")
}

fn token() -> Secret {
    Secret::new(TOKEN)
}

fn report(verdict: &str) -> String {
    format!(
        "{MARKER}\n## tokengate: {verdict}\n\n| rule | baseline | candidate | verdict |\n|---|---|---|---|\n| TTFT p95 | 120 ms | 150 ms | {verdict} |\n"
    )
}

/// Nothing a caller can print may contain the token.
fn assert_no_token(text: &str) {
    assert!(!text.contains(TOKEN), "token leaked into: {text}");
}

fn assert_error_hides_token(e: &CiError) {
    assert_no_token(&e.to_string());
    assert_no_token(&format!("{e:?}"));
    assert_no_token(&tokengate::error_chain(e));
}

#[tokio::test]
async fn github_first_run_posts_and_second_run_patches_the_same_comment() {
    let api = FakeApi::start(Kind::GitHub).await;
    // Someone quoted an old report in a reply: that comment is not ours.
    api.add(2, |i| format!("comment {i}"));
    api.add(1, |_| format!("> {MARKER}\n> quoted"));
    let target = gh_target(&api, 5);

    let first = upsert_comment(&target, &token(), &report("FAIL"))
        .await
        .expect("first run");
    let CommentOutcome::Created { id } = first else {
        panic!("expected Created, got {first:?}")
    };
    let seen = api.seen();
    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].path, "/repos/acme/serving/issues/5/comments");
    assert_eq!(seen[0].query.as_deref(), Some("per_page=100&page=1"));
    assert_eq!(seen[1].method, "POST");
    assert_eq!(seen[1].path, "/repos/acme/serving/issues/5/comments");
    assert_eq!(seen[1].json(), json!({ "body": report("FAIL") }));
    for s in &seen {
        assert_eq!(
            s.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(s.header("accept"), Some("application/vnd.github+json"));
        assert_eq!(s.header("x-github-api-version"), Some("2022-11-28"));
        assert!(
            s.header("user-agent")
                .is_some_and(|u| u.starts_with("tokengate/")),
            "{:?}",
            s.header("user-agent")
        );
    }
    assert_eq!(seen[1].header("content-type"), Some("application/json"));

    api.clear_seen();
    let second = upsert_comment(&target, &token(), &report("PASS"))
        .await
        .expect("second run");
    assert_eq!(second, CommentOutcome::Updated { id });
    let seen = api.seen();
    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[1].method, "PATCH");
    assert_eq!(
        seen[1].path,
        format!("/repos/acme/serving/issues/comments/{id}")
    );
    assert_eq!(seen[1].json(), json!({ "body": report("PASS") }));
    // No duplicate: still three others plus ours, and ours has the new text.
    let items = api.items();
    assert_eq!(items.len(), 4);
    assert_eq!(
        items.iter().filter(|c| c.body.starts_with(MARKER)).count(),
        1
    );
    assert!(items[3].body.contains("| PASS |"));
}

#[tokio::test]
async fn github_marker_on_page_two_is_found_through_the_link_header() {
    let api = FakeApi::start(Kind::GitHub).await;
    let ids = api.add(150, |i| {
        if i == 120 {
            report("FAIL")
        } else {
            format!("chatter {i}")
        }
    });
    let out = upsert_comment(&gh_target(&api, 9), &token(), &report("PASS"))
        .await
        .expect("upsert");
    assert_eq!(out, CommentOutcome::Updated { id: ids[120] });
    let seen = api.seen();
    let summary: Vec<(String, String, Option<String>)> = seen
        .iter()
        .map(|s| (s.method.clone(), s.path.clone(), s.query.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "GET".into(),
                "/repos/acme/serving/issues/9/comments".into(),
                Some("per_page=100&page=1".into())
            ),
            (
                "GET".into(),
                "/repositories/4242/issues/9/comments".into(),
                Some("per_page=100&page=2".into())
            ),
            (
                "PATCH".into(),
                format!("/repos/acme/serving/issues/comments/{}", ids[120]),
                None
            ),
        ]
    );
    assert_eq!(api.items().len(), 150);
}

#[tokio::test]
async fn github_pagination_link_to_another_origin_is_refused() {
    let api = FakeApi::start(Kind::GitHub).await;
    let other = FakeApi::start(Kind::GitHub).await;
    api.add(101, |i| format!("c{i}"));
    api.with(|s| {
        s.foreign_next = Some(format!("{}/steal?page=2", other.base));
    });
    let e = upsert_comment(&gh_target(&api, 1), &token(), &report("PASS"))
        .await
        .expect_err("foreign link");
    assert!(matches!(e, CiError::ForeignLink { .. }), "{e}");
    assert!(other.seen().is_empty(), "the token went to another origin");
    assert_error_hides_token(&e);
}

#[tokio::test]
async fn github_fork_pr_read_only_token_skips_with_a_warning() {
    let api = FakeApi::start(Kind::GitHub).await;
    api.with(|s| {
        // Servers may echo what they got; the warning must still hide it.
        s.fail_writes = Some((
            403,
            json!({"message": format!("Resource not accessible by integration (token {TOKEN})")})
                .to_string(),
        ));
    });
    let out = upsert_comment(&gh_target(&api, 3), &token(), &report("FAIL"))
        .await
        .expect("a 403 is not an error");
    let CommentOutcome::Skipped { warning } = &out else {
        panic!("expected Skipped, got {out:?}")
    };
    assert!(warning.contains("403"), "{warning}");
    assert!(warning.contains("read-only"), "{warning}");
    assert!(
        warning.contains("Resource not accessible by integration"),
        "{warning}"
    );
    assert!(
        warning.contains("pull request #3 of acme/serving"),
        "{warning}"
    );
    assert_no_token(warning);
    assert_no_token(&format!("{out:?}"));
    let seen = api.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].method, "POST");
    assert!(api.items().is_empty());
}

#[tokio::test]
async fn github_unauthorized_and_not_found_skip_too() {
    let api = FakeApi::start(Kind::GitHub).await;
    let out = upsert_comment(&gh_target(&api, 3), &Secret::new("wrong-token"), "# r\n")
        .await
        .expect("401 skips");
    assert!(
        matches!(&out, CommentOutcome::Skipped { warning } if warning.contains("401") && warning.contains("rejected")),
        "{out:?}"
    );
    let target = CommentTarget::github(&api.base, "acme/missing", 3).expect("target");
    api.with(|s| s.fail_all = Some((404, r#"{"message":"Not Found"}"#.into())));
    let out = upsert_comment(&target, &token(), "# r\n")
        .await
        .expect("404 skips");
    assert!(
        matches!(&out, CommentOutcome::Skipped { warning } if warning.contains("404") && warning.contains("acme/missing")),
        "{out:?}"
    );
}

/// Retries in milliseconds, so the tests that exhaust them stay fast.
fn quick_retry() -> UpsertOptions {
    UpsertOptions {
        key: None,
        retry: RetryPolicy {
            attempts: 4,
            first_delay: std::time::Duration::from_millis(20),
            max_total_wait: std::time::Duration::from_secs(5),
        },
    }
}

#[tokio::test]
async fn github_endless_server_errors_give_up_after_the_retries_without_the_token() {
    let api = FakeApi::start(Kind::GitHub).await;
    api.with(|s| {
        s.fail_all = Some((
            502,
            format!("<html>bad gateway; Authorization: Bearer {TOKEN}</html>"),
        ))
    });
    let e = upsert_comment_with(&gh_target(&api, 3), &token(), "# r\n", &quick_retry())
        .await
        .expect_err("502 is an error");
    match &e {
        CiError::Status {
            status,
            excerpt,
            attempts,
            waited,
            ..
        } => {
            assert_eq!(*status, 502);
            assert_eq!(*attempts, 4);
            // 20 + 40 + 80 ms of doubling waits.
            assert_eq!(*waited, std::time::Duration::from_millis(140));
            assert!(excerpt.contains("bad gateway"), "{excerpt}");
            assert!(excerpt.contains("***"), "{excerpt}");
        }
        other => panic!("expected Status, got {other:?}"),
    }
    assert!(
        e.to_string()
            .contains("returned 502 for GET http://127.0.0.1:"),
        "{e}"
    );
    assert!(e.to_string().contains("after 4 attempts over 0.1 s"), "{e}");
    assert_eq!(api.seen().len(), 4, "one request and three retries");
    assert_error_hides_token(&e);
    // The request did carry the token, in the header only.
    let seen = api.seen();
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert!(
        !seen[0].path.contains(TOKEN) && !seen[0].query.clone().unwrap_or_default().contains(TOKEN)
    );
}

#[tokio::test]
async fn github_502_then_200_is_retried_and_the_comment_posted() {
    let api = FakeApi::start(Kind::GitHub).await;
    api.with(|s| {
        s.script
            .push_back((502, vec![], r#"{"message":"Bad Gateway"}"#.into()))
    });
    let out = upsert_comment_with(
        &gh_target(&api, 3),
        &token(),
        &report("PASS"),
        &quick_retry(),
    )
    .await
    .expect("the retry succeeds");
    assert!(matches!(out, CommentOutcome::Created { .. }), "{out:?}");
    let methods: Vec<String> = api.seen().iter().map(|s| s.method.clone()).collect();
    assert_eq!(methods, ["GET", "GET", "POST"]);
    assert_eq!(api.items().len(), 1);
}

#[tokio::test]
async fn gitlab_429_with_retry_after_1_waits_about_a_second_then_posts() {
    let api = FakeApi::start(Kind::GitLab).await;
    api.with(|s| {
        s.script.push_back((
            429,
            vec![("retry-after", "1".into())],
            r#"{"message":"Retry later"}"#.into(),
        ))
    });
    let started = std::time::Instant::now();
    let out = upsert_comment_with(
        &gl_target(&api, GitLabAuth::PrivateToken),
        &token(),
        &report("PASS"),
        &quick_retry(),
    )
    .await
    .expect("the retry succeeds");
    let took = started.elapsed();
    assert!(matches!(out, CommentOutcome::Created { .. }), "{out:?}");
    // Retry-After (1 s), not the policy's 20 ms first delay.
    assert!(
        took >= std::time::Duration::from_millis(950) && took < std::time::Duration::from_secs(4),
        "{took:?}"
    );
    assert_eq!(api.seen().len(), 3, "GET (429), GET, POST");
}

#[tokio::test]
async fn github_secondary_rate_limit_403_is_retried_not_skipped() {
    let api = FakeApi::start(Kind::GitHub).await;
    api.with(|s| {
        s.script.push_back((
            403,
            vec![("retry-after", "0".into())],
            r#"{"message":"You have exceeded a secondary rate limit."}"#.into(),
        ));
        s.script.push_back((
            403,
            vec![("x-ratelimit-remaining", "0".into())],
            r#"{"message":"API rate limit exceeded"}"#.into(),
        ));
    });
    let out = upsert_comment_with(
        &gh_target(&api, 3),
        &token(),
        &report("PASS"),
        &quick_retry(),
    )
    .await
    .expect("posted after the limit");
    assert!(matches!(out, CommentOutcome::Created { .. }), "{out:?}");
    assert_eq!(api.seen().len(), 4, "two limited GETs, the GET, the POST");
}

#[tokio::test]
async fn retry_after_beyond_the_wait_budget_gives_up_at_once() {
    let api = FakeApi::start(Kind::GitHub).await;
    api.with(|s| {
        s.script.push_back((
            429,
            vec![("retry-after", "3600".into())],
            r#"{"message":"slow down"}"#.into(),
        ))
    });
    let started = std::time::Instant::now();
    let e = upsert_comment_with(&gh_target(&api, 3), &token(), "# r\n", &quick_retry())
        .await
        .expect_err("an hour is beyond the 5 s budget");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert!(
        matches!(
            e,
            CiError::Status {
                status: 429,
                attempts: 1,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("slow down"), "{e}");
    assert_eq!(api.seen().len(), 1);
}

#[tokio::test]
async fn two_keyed_comments_coexist_with_the_unkeyed_one_and_reruns_update_each() {
    let api = FakeApi::start(Kind::GitHub).await;
    let target = gh_target(&api, 5);
    let keyed = |k: &str| UpsertOptions {
        key: Some(k.parse::<CommentKey>().expect("key")),
        ..UpsertOptions::default()
    };
    // A comment from before keys existed: the unkeyed job still owns it.
    let old = upsert_comment(&target, &token(), &report("PASS"))
        .await
        .expect("unkeyed");
    let CommentOutcome::Created { id: old } = old else {
        panic!("{old:?}")
    };
    let mut ids = Vec::new();
    for k in ["gpu-a", "gpu-b"] {
        match upsert_comment_with(&target, &token(), &report("FAIL"), &keyed(k))
            .await
            .expect("keyed")
        {
            CommentOutcome::Created { id } => ids.push(id),
            other => panic!("{k}: {other:?}"),
        }
    }
    assert_eq!(api.items().len(), 3, "three comments side by side");
    // Reruns: each key updates its own comment, the unkeyed one its own.
    for (k, id) in ["gpu-b", "gpu-a"].iter().zip([ids[1], ids[0]]) {
        let out = upsert_comment_with(&target, &token(), &report(&format!("PASS {k}")), &keyed(k))
            .await
            .expect("rerun");
        assert_eq!(out, CommentOutcome::Updated { id });
    }
    let out = upsert_comment(&target, &token(), &report("WARN"))
        .await
        .expect("unkeyed rerun");
    assert_eq!(out, CommentOutcome::Updated { id: old });
    let items = api.items();
    assert_eq!(items.len(), 3);
    let body = |id: u64| {
        items
            .iter()
            .find(|c| c.id == id)
            .expect("comment")
            .body
            .clone()
    };
    assert!(body(old).starts_with(&format!("{MARKER}\n## tokengate: WARN")));
    assert!(
        body(ids[0]).starts_with("<!-- tokengate:report key=gpu-a -->\n## tokengate: PASS gpu-a")
    );
    assert!(
        body(ids[1]).starts_with("<!-- tokengate:report key=gpu-b -->\n## tokengate: PASS gpu-b")
    );
}

#[tokio::test]
async fn gitlab_keyed_notes_coexist_and_update_each() {
    let api = FakeApi::start(Kind::GitLab).await;
    let target = gl_target(&api, GitLabAuth::PrivateToken);
    let keyed = |k: &str| UpsertOptions {
        key: Some(k.parse::<CommentKey>().expect("key")),
        ..UpsertOptions::default()
    };
    for round in 0..2 {
        for k in ["small", "large"] {
            let out = upsert_comment_with(&target, &token(), &report(k), &keyed(k))
                .await
                .expect("note");
            match (round, out) {
                (0, CommentOutcome::Created { .. }) | (1, CommentOutcome::Updated { .. }) => {}
                (r, other) => panic!("round {r}, key {k}: {other:?}"),
            }
        }
    }
    let items = api.items();
    assert_eq!(items.len(), 2);
    assert!(
        items[0]
            .body
            .starts_with("<!-- tokengate:report key=small -->")
    );
    assert!(
        items[1]
            .body
            .starts_with("<!-- tokengate:report key=large -->")
    );
}

#[tokio::test]
async fn unreachable_api_is_a_transport_error_without_the_token() {
    // Bind and drop a listener so the port is (very likely) closed.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let target =
        CommentTarget::github(&format!("http://127.0.0.1:{port}"), "a/b", 1).expect("target");
    let e = upsert_comment(&target, &token(), "# r\n")
        .await
        .expect_err("connection refused");
    assert!(matches!(e, CiError::Transport { .. }), "{e:?}");
    assert_error_hides_token(&e);
}

#[tokio::test]
async fn github_oversized_report_is_cut_with_the_verdict_table_intact() {
    let api = FakeApi::start(Kind::GitHub).await;
    let head = report("FAIL");
    let mut md = head.clone();
    md.push_str("\n<details><summary>per-request detail</summary>\n\n```text\n");
    while md.len() < 200 * 1024 {
        md.push_str("request 0042 ttft=151.2ms tpot=12.1ms tokens=64 — naïve détail\n");
    }
    md.push_str("```\n</details>\n");
    let out = upsert_comment(&gh_target(&api, 4), &token(), &md)
        .await
        .expect("upsert");
    assert!(matches!(out, CommentOutcome::Created { .. }), "{out:?}");
    let sent = api.seen()[1].json();
    let body = sent["body"].as_str().expect("body string");
    let chars = body.chars().count();
    assert!(chars <= GITHUB_COMMENT_LIMIT, "{chars} characters");
    assert!(
        chars > GITHUB_COMMENT_LIMIT - 200,
        "cut far too early: {chars}"
    );
    assert!(body.starts_with(&head), "verdict table lost");
    assert!(body.ends_with(TRUNCATION_NOTICE));
    // The open code block and <details> were closed before the notice.
    assert!(
        body.ends_with(&format!("```\n</details>\n{TRUNCATION_NOTICE}")),
        "{}",
        &body[body.len() - 300..]
    );
}

#[tokio::test]
async fn gitlab_creates_then_updates_a_note() {
    let api = FakeApi::start(Kind::GitLab).await;
    let target = gl_target(&api, GitLabAuth::PrivateToken);
    let first = upsert_comment(&target, &token(), &report("FAIL"))
        .await
        .expect("create");
    let CommentOutcome::Created { id } = first else {
        panic!("expected Created, got {first:?}")
    };
    let seen = api.seen();
    assert_eq!(seen.len(), 2, "{seen:#?}");
    let notes = "/api/v4/projects/group%2Fproject/merge_requests/7/notes";
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("GET", notes)
    );
    assert_eq!(
        seen[0].query.as_deref(),
        Some("sort=asc&order_by=created_at&per_page=100&page=1")
    );
    assert_eq!(
        (seen[1].method.as_str(), seen[1].path.as_str()),
        ("POST", notes)
    );
    assert_eq!(seen[1].json(), json!({ "body": report("FAIL") }));
    for s in &seen {
        assert_eq!(s.header("private-token"), Some(TOKEN));
        assert_eq!(s.header("authorization"), None);
    }

    api.clear_seen();
    let second = upsert_comment(&target, &token(), "## no marker in this one\n")
        .await
        .expect("update");
    assert_eq!(second, CommentOutcome::Updated { id });
    let seen = api.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].method, "PUT");
    assert_eq!(seen[1].path, format!("{notes}/{id}"));
    // The marker was prepended, so the next run still finds the note.
    assert_eq!(
        seen[1].json(),
        json!({ "body": format!("{MARKER}\n## no marker in this one\n") })
    );
    assert_eq!(api.items().len(), 1);
}

#[tokio::test]
async fn gitlab_follows_x_next_page_and_ignores_system_notes() {
    let api = FakeApi::start(Kind::GitLab).await;
    let ids = api.add(230, |i| {
        if i == 210 {
            report("FAIL")
        } else {
            format!("note {i}")
        }
    });
    // A system note that happens to contain the marker comes first.
    api.with(|s| {
        s.items[3].system = true;
        s.items[3].body = report("old");
    });
    let out = upsert_comment(
        &gl_target(&api, GitLabAuth::PrivateToken),
        &token(),
        &report("PASS"),
    )
    .await
    .expect("upsert");
    assert_eq!(out, CommentOutcome::Updated { id: ids[210] });
    let seen = api.seen();
    let pages: Vec<Option<String>> = seen
        .iter()
        .filter(|s| s.method == "GET")
        .map(|s| s.query.clone())
        .collect();
    assert_eq!(
        pages,
        vec![
            Some("sort=asc&order_by=created_at&per_page=100&page=1".into()),
            Some("sort=asc&order_by=created_at&per_page=100&page=2".into()),
            Some("sort=asc&order_by=created_at&per_page=100&page=3".into()),
        ]
    );
    assert_eq!(seen.len(), 4);
    assert_eq!(seen[3].method, "PUT");
    assert!(seen[3].path.ends_with(&format!("/notes/{}", ids[210])));
}

#[tokio::test]
async fn gitlab_job_token_without_note_access_skips_and_names_gitlab_token() {
    let api = FakeApi::start(Kind::GitLab).await;
    api.with(|s| s.fail_all = Some((403, r#"{"message":"403 Forbidden"}"#.into())));
    let out = upsert_comment(&gl_target(&api, GitLabAuth::JobToken), &token(), "# r\n")
        .await
        .expect("403 skips");
    let CommentOutcome::Skipped { warning } = &out else {
        panic!("expected Skipped, got {out:?}")
    };
    assert!(
        warning.contains("GITLAB_TOKEN") && warning.contains("!7"),
        "{warning}"
    );
    assert_eq!(api.seen()[0].header("job-token"), Some(TOKEN));
    assert_no_token(warning);
}

fn check_api(api: &FakeApi) -> GitHubApi {
    GitHubApi::new(&api.base, "acme/serving").expect("api")
}

#[tokio::test]
async fn check_run_sends_the_exact_body() {
    let api = FakeApi::start(Kind::GitHub).await;
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let run = CheckRun {
        head_sha: sha,
        name: "tokengate",
        conclusion: CheckConclusion::Failure,
        title: "TTFT p95 +25% (limit +10%)",
        summary: "## tokengate: FAIL\n",
        text: "| rule | verdict |\n|---|---|\n| TTFT p95 | FAIL |\n",
    };
    let out = create_check_run(&check_api(&api), &token(), &run)
        .await
        .expect("create");
    assert_eq!(out, CheckRunOutcome::Created { id: 777_001 });
    let seen = api.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/repos/acme/serving/check-runs");
    assert_eq!(
        seen[0].json(),
        json!({
            "name": "tokengate",
            "head_sha": sha,
            "status": "completed",
            "conclusion": "failure",
            "output": {
                "title": "TTFT p95 +25% (limit +10%)",
                "summary": "## tokengate: FAIL\n",
                "text": "| rule | verdict |\n|---|---|\n| TTFT p95 | FAIL |\n",
            }
        })
    );
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
}

#[tokio::test]
async fn check_run_text_and_title_are_cut_to_github_limits() {
    let api = FakeApi::start(Kind::GitHub).await;
    let text = "| verdict | ACTION REQUIRED |\n".to_owned() + &"détail ligne\n".repeat(10_000);
    let title = "t".repeat(300);
    let run = CheckRun {
        head_sha: "abc",
        name: "tokengate",
        conclusion: CheckConclusion::ActionRequired,
        title: &title,
        summary: "short",
        text: &text,
    };
    create_check_run(&check_api(&api), &token(), &run)
        .await
        .expect("create");
    let body = api.seen()[0].json();
    let sent_text = body["output"]["text"].as_str().expect("text");
    assert!(sent_text.chars().count() <= 65_535);
    assert!(sent_text.starts_with("| verdict | ACTION REQUIRED |\n"));
    assert!(sent_text.ends_with(TRUNCATION_NOTICE));
    let sent_title = body["output"]["title"].as_str().expect("title");
    assert_eq!(sent_title.chars().count(), 255);
    assert!(sent_title.ends_with('…'));
    assert_eq!(body["output"]["summary"], "short");
    assert_eq!(body["conclusion"], "action_required");
}

#[tokio::test]
async fn check_run_without_checks_permission_is_skipped() {
    let api = FakeApi::start(Kind::GitHub).await;
    api.with(|s| {
        s.fail_all = Some((
            403,
            r#"{"message":"Resource not accessible by integration"}"#.into(),
        ))
    });
    let run = CheckRun {
        head_sha: "abc",
        name: "tokengate",
        conclusion: CheckConclusion::Success,
        title: "ok",
        summary: "ok",
        text: "",
    };
    let out = create_check_run(&check_api(&api), &token(), &run)
        .await
        .expect("403 skips");
    assert!(
        matches!(&out, CheckRunOutcome::Skipped { warning } if warning.contains("checks: write")),
        "{out:?}"
    );
}

/// Read `$GITHUB_OUTPUT` the way the runner does: `name<<DELIM`, then lines
/// up to a line equal to DELIM.
fn parse_outputs(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.split('\n');
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        let (name, delim) = line.split_once("<<").expect("heredoc form");
        let mut value = Vec::new();
        for l in lines.by_ref() {
            if l == delim {
                break;
            }
            value.push(l);
        }
        out.push((name.to_owned(), value.join("\n")));
    }
    out
}

#[test]
fn outputs_round_trip_through_the_runner_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("github_output");
    std::fs::write(&path, "earlier<<X\nkept\nX\n").expect("seed file");
    let hostile = "line one\nEOF\nghadelimiter_0000\nverdict<<EOF\nlast";
    set_outputs(&path, &[("verdict", "fail"), ("summary", hostile)]).expect("write");
    let text = std::fs::read_to_string(&path).expect("read");
    assert_eq!(
        parse_outputs(&text),
        vec![
            ("earlier".to_owned(), "kept".to_owned()),
            ("verdict".to_owned(), "fail".to_owned()),
            ("summary".to_owned(), hostile.to_owned()),
        ]
    );
}

#[test]
fn annotations_escape_hostile_text_and_rank_errors_first() {
    let line = annotation(
        AnnotationLevel::Warning,
        "model: llama, 8b 100%",
        "rose 25%\r\n::error::injected, see: logs",
    );
    assert_eq!(
        line,
        "::warning title=model%3A llama%2C 8b 100%25::rose 25%25%0D%0A::error::injected, see: logs"
    );
    assert_eq!(line.lines().count(), 1);

    let items = vec![
        (AnnotationLevel::Notice, "n".to_owned(), "note".to_owned()),
        (AnnotationLevel::Warning, "w".to_owned(), "warn".to_owned()),
        (
            AnnotationLevel::Error,
            "e1".to_owned(),
            "bad\nworse".to_owned(),
        ),
        (AnnotationLevel::Error, "e2".to_owned(), "bad".to_owned()),
    ];
    assert_eq!(
        ranked_annotations(items, 3),
        vec![
            "::error title=e1::bad%0Aworse",
            "::error title=e2::bad",
            "::warning title=w::warn",
        ]
    );
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ci")
        .join(name)
}

fn fixture_bundle() -> tokengate::bundle::Bundle {
    tokengate::bundle::read_bundle(&fixture("bundle.json")).expect("fixture bundle parses")
}

#[test]
fn load_performance_report_has_the_k6_legacy_shape() {
    let got = load_performance_json(&fixture_bundle());
    let want: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("load_performance.expected.json")).expect("read"),
    )
    .expect("expected JSON");
    assert_eq!(got, want);
    // The three fields GitLab's widget reads, by their exact paths.
    assert!(
        got.pointer("/metrics/http_reqs/rate")
            .is_some_and(Value::is_f64)
    );
    assert!(
        got.pointer("/metrics/http_req_waiting/p(95)")
            .is_some_and(Value::is_f64)
    );
    assert!(
        got.pointer("/metrics/checks/fails")
            .is_some_and(Value::is_u64)
    );
}

/// The GitLab metrics report is the OpenMetrics export without key labels,
/// and every sample line survives GitLab's own parsing (drop `#` to the end
/// of the line, split like a shell: a name and a plain decimal value).
#[test]
fn openmetrics_report_is_the_export_and_parses_like_gitlab() {
    let got = openmetrics_text(&fixture_bundle());
    let want = std::fs::read_to_string(fixture("metrics.expected.txt")).expect("read");
    assert_eq!(got, want);
    assert!(got.ends_with("# EOF\n"));
    let mut samples = 0;
    for line in got.lines() {
        let data = line.split('#').next().unwrap_or("").trim();
        if data.is_empty() {
            continue;
        }
        samples += 1;
        // No spaces or quotes a shell split would treat differently
        // inside the name: the label values here are fixed words.
        let (name, value) = data.split_once(' ').expect("name value");
        assert!(
            name.starts_with("tokengate_") && !name.contains(' ') && !name.contains('\''),
            "{line}"
        );
        let v: f64 = value.parse().expect("number");
        assert!(v.is_finite() && !value.contains('e'), "{line}");
        assert!(!name.contains("model_version"), "no key labels: {line}");
    }
    assert!(samples > 20, "{samples} samples");
    assert!(got.contains("tokengate_ttft_seconds{quantile=\"0.95\"} 0.045193\n"));
}

#[test]
fn reports_leave_out_what_a_run_did_not_measure() {
    let mut b = fixture_bundle();
    b.metrics.ttft_ms = Default::default();
    b.metrics.cost_per_1k = None;
    b.metrics.requests.succeeded = 0;
    b.metrics.requests.failed = 0;
    let lp = load_performance_json(&b);
    assert_eq!(lp["metrics"]["http_req_waiting"], json!({}));
    assert_eq!(lp["metrics"]["checks"]["value"], json!(0.0));
    let text = openmetrics_text(&b);
    assert!(!text.contains("tokengate_ttft_"));
    assert!(!text.contains("tokengate_cost_per_1k"));
    assert!(text.contains("tokengate_e2e_seconds{quantile=\"0.95\"} 0.548261\n"));
}

/// The `tokengate comment` command end to end: the first run posts, the
/// second updates the same comment, a read-only token (403) is a warning
/// with exit 0, and the token never reaches stdout or stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comment_command_upserts_and_a_403_is_a_warning_with_exit_0() {
    let api = FakeApi::start(Kind::GitHub).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let md = dir.path().join("report.md");
    std::fs::write(&md, report("PASS")).expect("write report");
    let run = |md: std::path::PathBuf, base: String| async move {
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_tokengate"))
                .args([
                    "comment",
                    "--github",
                    "--repo",
                    "acme/serving",
                    "--number",
                    "7",
                ])
                .arg("--api-url")
                .arg(base)
                .arg("--markdown")
                .arg(md)
                .env("GITHUB_TOKEN", TOKEN)
                .env_remove("GITHUB_EVENT_PATH")
                .output()
                .expect("run tokengate comment")
        })
        .await
        .expect("join")
    };
    let first = run(md.clone(), api.base.clone()).await;
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    let second = run(md.clone(), api.base.clone()).await;
    assert_eq!(second.status.code(), Some(0), "{second:?}");
    let methods: Vec<String> = api
        .seen()
        .iter()
        .filter(|s| s.method != "GET")
        .map(|s| s.method.clone())
        .collect();
    assert_eq!(methods, ["POST", "PATCH"], "one comment, then updated");
    assert_eq!(api.items().len(), 1);

    api.with(|s| s.fail_writes = Some((403, json!({"message": "read-only"}).to_string())));
    let third = run(md, api.base.clone()).await;
    assert_eq!(
        third.status.code(),
        Some(0),
        "a 403 never changes the verdict"
    );
    let stderr = String::from_utf8_lossy(&third.stderr);
    assert!(
        stderr.contains("warning") && stderr.contains("403"),
        "{stderr}"
    );
    for out in [&first, &second, &third] {
        assert_no_token(&String::from_utf8_lossy(&out.stdout));
        assert_no_token(&String::from_utf8_lossy(&out.stderr));
    }
}

/// `tokengate comment --key`: two keys make two comments that a rerun
/// updates in place; a key that could break out of the HTML comment is a
/// usage error (exit 2) naming the flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comment_command_with_two_keys_keeps_two_comments() {
    let api = FakeApi::start(Kind::GitHub).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let md = dir.path().join("report.md");
    std::fs::write(&md, report("PASS")).expect("write report");
    let run = |key: &'static str| {
        let (md, base) = (md.clone(), api.base.clone());
        async move {
            tokio::task::spawn_blocking(move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_tokengate"))
                    .args(["comment", "--github", "--repo", "acme/serving"])
                    .args(["--number", "7", "--key", key, "--api-url"])
                    .arg(base)
                    .arg("--markdown")
                    .arg(md)
                    .env("GITHUB_TOKEN", TOKEN)
                    .env_remove("GITHUB_EVENT_PATH")
                    .output()
                    .expect("run tokengate comment")
            })
            .await
            .expect("join")
        }
    };
    for key in ["gpu-a", "gpu-b", "gpu-a", "gpu-b"] {
        let out = run(key).await;
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    }
    let methods: Vec<String> = api
        .seen()
        .iter()
        .filter(|s| s.method != "GET")
        .map(|s| s.method.clone())
        .collect();
    assert_eq!(methods, ["POST", "POST", "PATCH", "PATCH"]);
    let items = api.items();
    assert_eq!(items.len(), 2);
    assert!(
        items[0]
            .body
            .starts_with("<!-- tokengate:report key=gpu-a -->\n")
    );
    assert!(
        items[1]
            .body
            .starts_with("<!-- tokengate:report key=gpu-b -->\n")
    );

    let bad = run("x -->").await;
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("--key") && stderr.contains("comment key"),
        "{stderr}"
    );
    assert_eq!(api.items().len(), 2, "nothing posted");
}
