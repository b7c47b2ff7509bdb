//! [`CiError`]: everything that can go wrong talking to a CI platform or
//! writing its runner files. No variant holds a token: the HTTP layer
//! redacts response excerpts, and URLs never carry credentials.

use std::path::PathBuf;

/// Which platform an API call went to (named in errors and warnings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    GitHub,
    GitLab,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Platform::GitHub => "GitHub",
            Platform::GitLab => "GitLab",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CiError {
    #[error("environment variable {var} is not set; {hint}")]
    MissingEnv {
        var: &'static str,
        hint: &'static str,
    },
    #[error("environment variable {var} is {value:?}; expected {expected}")]
    InvalidEnv {
        var: &'static str,
        value: String,
        expected: &'static str,
    },
    /// The run is not for a pull/merge request, so there is nothing to
    /// comment on. Callers usually turn this into a notice and exit 0.
    #[error("not a {kind}: {detail}")]
    NotAReviewRequest { kind: &'static str, detail: String },
    #[error("cannot read the GitHub event file {path} (GITHUB_EVENT_PATH)")]
    EventFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the GitHub event file {path} (GITHUB_EVENT_PATH) is not valid JSON")]
    EventJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("API base URL {url:?} is invalid: {detail}")]
    InvalidApiBase { url: String, detail: String },
    #[error("repository {repo:?} is invalid; expected `owner/name`")]
    InvalidRepo { repo: String },
    #[error(
        "GitLab project {project:?} is invalid; expected a numeric id or a `group/project` path"
    )]
    InvalidProject { project: String },
    #[error(
        "the {platform} token is not a valid HTTP header value (it contains control characters)"
    )]
    InvalidToken { platform: Platform },
    #[error("cannot build the HTTP client")]
    Build(#[source] reqwest::Error),
    #[error("{platform} API request {method} {url} failed")]
    Transport {
        platform: Platform,
        method: reqwest::Method,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{platform} API returned {status} for {method} {url}{}: {excerpt}", retried_note(*attempts, *waited))]
    Status {
        platform: Platform,
        method: reqwest::Method,
        url: String,
        status: u16,
        /// Requests sent, retries included (1 when the status is not one
        /// that is retried).
        attempts: u32,
        /// Time spent waiting between the attempts.
        waited: std::time::Duration,
        /// The start of the response body, token redacted, control
        /// characters removed.
        excerpt: String,
    },
    #[error("{platform} API answered {method} {url} with an unexpected body: {detail}")]
    BadResponse {
        platform: Platform,
        method: reqwest::Method,
        url: String,
        detail: String,
    },
    #[error("{platform} API response to {method} {url} exceeds {limit} bytes")]
    ResponseTooLarge {
        platform: Platform,
        method: reqwest::Method,
        url: String,
        limit: usize,
    },
    #[error("{platform} pagination of {url} did not end after {pages} pages")]
    TooManyPages {
        platform: Platform,
        url: String,
        pages: usize,
    },
    #[error(
        "refusing to follow {platform} pagination link {link} outside the API base {api_base} (the token would go there)"
    )]
    ForeignLink {
        platform: Platform,
        link: String,
        api_base: String,
    },
    #[error("output name {name:?} is invalid; expected letters, digits, `-` or `_`")]
    OutputName { name: String },
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// " after 5 attempts over 31 s" when the request was retried, else "".
fn retried_note(attempts: u32, waited: std::time::Duration) -> String {
    if attempts > 1 {
        format!(
            " after {attempts} attempts over {:.1} s",
            waited.as_secs_f64()
        )
    } else {
        String::new()
    }
}
