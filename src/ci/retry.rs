//! When and how long to retry a GitHub or GitLab API call: server errors
//! (5xx), 429, and GitHub's secondary rate limits (403 with `retry-after`,
//! or with `x-ratelimit-remaining: 0`). The wait honours the server's
//! `Retry-After` (seconds or an HTTP date) or `x-ratelimit-reset`, else
//! doubles from a first delay; the sum of the waits is capped so a
//! struggling API cannot hold the CI job (GitHub, "Best practices for using
//! the REST API": on a secondary rate limit wait `retry-after` seconds, or
//! until `x-ratelimit-reset`, else at least a minute, with growing waits).

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

/// How often and how long [`super::http::ApiClient::send`] retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included (1 = no retry).
    pub attempts: u32,
    /// Wait before the second attempt when the server names none; doubled
    /// for each later one.
    pub first_delay: Duration,
    /// The most time spent waiting between attempts, over all of them. A
    /// server that asks for more than what is left is not waited for.
    pub max_total_wait: Duration,
}

impl Default for RetryPolicy {
    /// Five attempts, 1 s doubling, at most 60 s of waiting in all.
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            first_delay: Duration::from_secs(1),
            max_total_wait: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no waiting.
    pub fn never() -> Self {
        RetryPolicy {
            attempts: 1,
            first_delay: Duration::ZERO,
            max_total_wait: Duration::ZERO,
        }
    }
}

/// Why an answer may succeed when asked again, or `None` when it will not.
pub(crate) fn retryable(status: u16, headers: &HeaderMap) -> Option<&'static str> {
    match status {
        429 => Some("rate limited"),
        403 if headers.contains_key("retry-after") => Some("secondary rate limit"),
        403 if header_str(headers, "x-ratelimit-remaining") == Some("0") => Some("rate limit"),
        // 501 (not implemented) and 505 (HTTP version) will not change.
        500..=599 if status != 501 && status != 505 => Some("server error"),
        _ => None,
    }
}

/// The wait before retry number `retry` (1 for the first), as the server
/// asks for it, else the policy's doubling delay.
pub(crate) fn delay(
    policy: &RetryPolicy,
    retry: u32,
    headers: &HeaderMap,
    now: SystemTime,
) -> Duration {
    if let Some(d) = retry_after(headers, now) {
        return d;
    }
    if header_str(headers, "x-ratelimit-remaining") == Some("0") {
        if let Some(reset) = header_str(headers, "x-ratelimit-reset").and_then(|s| s.parse().ok()) {
            let reset = SystemTime::UNIX_EPOCH + Duration::from_secs(reset);
            return reset.duration_since(now).unwrap_or(Duration::ZERO);
        }
    }
    let doublings = retry.saturating_sub(1).min(16);
    policy.first_delay.saturating_mul(1 << doublings)
}

/// `Retry-After` as delta-seconds or an HTTP date (RFC 9110 §10.2.3).
fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let v = header_str(headers, "retry-after")?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") is RFC 2822 syntax.
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(at.timestamp()).ok()?);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header value"));
        }
        h
    }

    #[test]
    fn server_errors_and_rate_limits_are_retried_permission_errors_are_not() {
        let none = HeaderMap::new();
        for s in [500, 502, 503, 504, 429] {
            assert!(retryable(s, &none).is_some(), "{s}");
        }
        for s in [400, 401, 403, 404, 422, 501, 505] {
            assert!(retryable(s, &none).is_none(), "{s}");
        }
        assert!(retryable(403, &headers(&[("retry-after", "30")])).is_some());
        assert!(retryable(403, &headers(&[("x-ratelimit-remaining", "0")])).is_some());
        assert!(retryable(403, &headers(&[("x-ratelimit-remaining", "12")])).is_none());
    }

    #[test]
    fn the_server_named_wait_wins_over_doubling() {
        let p = RetryPolicy::default();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let none = HeaderMap::new();
        assert_eq!(delay(&p, 1, &none, now), Duration::from_secs(1));
        assert_eq!(delay(&p, 3, &none, now), Duration::from_secs(4));
        assert_eq!(
            delay(&p, 1, &headers(&[("retry-after", "7")]), now),
            Duration::from_secs(7)
        );
        // 1_700_000_000 is Tue, 14 Nov 2023 22:13:20 GMT.
        assert_eq!(
            delay(
                &p,
                1,
                &headers(&[("retry-after", "Tue, 14 Nov 2023 22:13:32 GMT")]),
                now
            ),
            Duration::from_secs(12)
        );
        assert_eq!(
            delay(
                &p,
                1,
                &headers(&[
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", "1700000020")
                ]),
                now
            ),
            Duration::from_secs(20)
        );
        // A date in the past: retry at once.
        assert_eq!(
            delay(
                &p,
                2,
                &headers(&[("retry-after", "Tue, 14 Nov 2023 22:00:00 GMT")]),
                now
            ),
            Duration::ZERO
        );
    }
}
