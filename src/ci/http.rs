//! The small HTTP layer shared by comments and check runs: one reqwest
//! client per call with the platform's authentication header (marked
//! sensitive), bounded time and response size, same-origin redirects only,
//! retries of server errors and rate limits ([`super::retry`]), and error
//! excerpts with the token redacted.

use std::time::{Duration, SystemTime};

use reqwest::Method;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};

use super::error::{CiError, Platform};
use super::retry::{RetryPolicy, delay, retryable};
use super::secret::Secret;
use super::target::GitLabAuth;

/// Whole-request limit: a hung API must not hold the CI job.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A page of 100 comments of 65,536 characters each is under 27 MB (4 bytes
/// a character at most); anything larger is not a comment list.
const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;
/// Characters of an error body quoted in [`CiError::Status`] and warnings.
const EXCERPT_CHARS: usize = 300;

const USER_AGENT: &str = concat!("tokengate/", env!("CARGO_PKG_VERSION"), " (+ci)");

/// A response read in full.
pub(crate) struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// Requests sent for this reply, retries included.
    pub attempts: u32,
    /// Time spent waiting between those requests.
    pub waited: Duration,
}

/// An authenticated client for one platform and API base.
pub(crate) struct ApiClient {
    http: reqwest::Client,
    platform: Platform,
    token: Secret,
    origin: reqwest::Url,
    retry: RetryPolicy,
}

impl ApiClient {
    /// GitHub REST: `Authorization: Bearer`, the JSON media type and a pinned
    /// API version.
    pub fn github(api_base: &str, token: &Secret) -> Result<ApiClient, CiError> {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/vnd.github+json"),
        );
        h.insert(
            HeaderName::from_static("x-github-api-version"),
            HeaderValue::from_static("2022-11-28"),
        );
        h.insert(
            header::AUTHORIZATION,
            auth_value(Platform::GitHub, "Bearer ", token)?,
        );
        ApiClient::build(Platform::GitHub, api_base, token, h)
    }

    /// GitLab REST v4 with the header [`GitLabAuth`] names.
    pub fn gitlab(api_base: &str, token: &Secret, auth: GitLabAuth) -> Result<ApiClient, CiError> {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let prefix = if auth == GitLabAuth::Bearer {
            "Bearer "
        } else {
            ""
        };
        h.insert(
            HeaderName::from_static(auth.header_name()),
            auth_value(Platform::GitLab, prefix, token)?,
        );
        ApiClient::build(Platform::GitLab, api_base, token, h)
    }

    fn build(
        platform: Platform,
        api_base: &str,
        token: &Secret,
        headers: HeaderMap,
    ) -> Result<ApiClient, CiError> {
        // reqwest is built without a default crypto provider; installing one
        // twice is harmless (the second call returns Err and is ignored).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let origin = reqwest::Url::parse(api_base).map_err(|e| CiError::InvalidApiBase {
            url: api_base.to_owned(),
            detail: e.to_string(),
        })?;
        let mut b = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(USER_AGENT)
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .retry(reqwest::retry::never())
            // Follow redirects (a renamed repository answers 301) only within
            // the API's origin: custom headers such as PRIVATE-TOKEN are not
            // stripped on a cross-origin redirect.
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                let same = attempt
                    .previous()
                    .first()
                    .is_some_and(|first| first.origin() == attempt.url().origin());
                if same && attempt.previous().len() < 5 {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            }));
        if is_loopback(&origin) {
            // Local (test) APIs must not go through an HTTP(S)_PROXY.
            b = b.no_proxy();
        }
        let http = b.build().map_err(CiError::Build)?;
        Ok(ApiClient {
            http,
            platform,
            token: token.clone(),
            origin,
            retry: RetryPolicy::default(),
        })
    }

    /// Retry with `policy` instead of [`RetryPolicy::default`].
    pub fn with_retry(mut self, policy: RetryPolicy) -> ApiClient {
        self.retry = policy;
        self
    }

    pub fn platform(&self) -> Platform {
        self.platform
    }

    /// True when `url` has the API base's scheme, host and port, so the
    /// token may be sent there.
    pub fn same_origin(&self, url: &reqwest::Url) -> bool {
        url.origin() == self.origin.origin()
    }

    /// Send one request (JSON body when given) and read the whole response,
    /// sending it again while the answer is a server error or a rate limit
    /// and the [`RetryPolicy`] allows. Transport failures are errors (not
    /// retried: a write may have reached the server); every HTTP status is
    /// returned, the last one when the retries run out.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, CiError> {
        let mut waited = Duration::ZERO;
        let mut attempt = 1;
        loop {
            let mut reply = self.send_once(method.clone(), url, body).await?;
            reply.attempts = attempt;
            reply.waited = waited;
            if attempt >= self.retry.attempts || retryable(reply.status, &reply.headers).is_none() {
                return Ok(reply);
            }
            let wait = delay(&self.retry, attempt, &reply.headers, SystemTime::now());
            let left = self.retry.max_total_wait.saturating_sub(waited);
            if wait > left {
                // The server asks for longer than the budget has left:
                // waiting part of it would only fail again.
                return Ok(reply);
            }
            tokio::time::sleep(wait).await;
            waited += wait;
            attempt += 1;
        }
    }

    async fn send_once(
        &self,
        method: Method,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, CiError> {
        let transport = |source| CiError::Transport {
            platform: self.platform,
            method: method.clone(),
            url: url.to_owned(),
            source,
        };
        let mut req = self.http.request(method.clone(), url);
        if let Some(b) = body {
            // reqwest's `json` feature is off; a `Value` always serializes.
            req = req
                .header(header::CONTENT_TYPE, "application/json")
                .body(b.to_string());
        }
        let mut resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let mut out = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if out.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(CiError::ResponseTooLarge {
                    platform: self.platform,
                    method,
                    url: url.to_owned(),
                    limit: MAX_RESPONSE_BYTES,
                });
            }
            out.extend_from_slice(&chunk);
        }
        Ok(Reply {
            status,
            headers,
            body: out,
            attempts: 1,
            waited: Duration::ZERO,
        })
    }

    /// A short, printable, token-free excerpt of an error body: the JSON
    /// `message` (GitHub, GitLab) or `error` field when there is one, else
    /// the start of the text.
    pub fn excerpt(&self, body: &[u8]) -> String {
        let text = String::from_utf8_lossy(body);
        let picked = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| {
                ["message", "error", "error_description"]
                    .iter()
                    .find_map(|k| v.get(*k).map(json_text))
            })
            .unwrap_or_else(|| text.into_owned());
        // Server text: the one neutraliser, then the excerpt's length.
        let clean: String = crate::wording::foreign::one_line(&picked)
            .chars()
            .take(EXCERPT_CHARS)
            .collect();
        let clean = self.token.redact(clean.trim());
        if clean.is_empty() {
            "(empty body)".to_owned()
        } else {
            clean
        }
    }

    pub fn status_error(&self, method: Method, url: &str, reply: &Reply) -> CiError {
        CiError::Status {
            platform: self.platform,
            method,
            url: url.to_owned(),
            status: reply.status,
            attempts: reply.attempts,
            waited: reply.waited,
            excerpt: self.excerpt(&reply.body),
        }
    }

    pub fn bad_response(&self, method: Method, url: &str, detail: impl Into<String>) -> CiError {
        CiError::BadResponse {
            platform: self.platform,
            method,
            url: url.to_owned(),
            detail: self.token.redact(&detail.into()),
        }
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(h) => h
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// GitLab `message` fields can be objects (`{"base": ["..."]}`); print those
/// as compact JSON.
fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn auth_value(platform: Platform, prefix: &str, token: &Secret) -> Result<HeaderValue, CiError> {
    let mut v = HeaderValue::from_str(&format!("{prefix}{}", token.expose()))
        .map_err(|_| CiError::InvalidToken { platform })?;
    // hyper and reqwest then print it as "Sensitive" in Debug output.
    v.set_sensitive(true);
    Ok(v)
}
