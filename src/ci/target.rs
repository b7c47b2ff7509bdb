//! Where a comment or check run goes: [`GitHubApi`] (API base + repository),
//! [`CommentTarget`] (a GitHub pull request or a GitLab merge request), how
//! GitLab authenticates ([`GitLabAuth`]), and reading all of it from the CI
//! environment (GitHub Actions and GitLab CI variables).

use std::path::{Path, PathBuf};

use super::error::CiError;
use super::secret::Secret;

/// Public GitHub's REST API; GitHub Enterprise Server uses `https://HOST/api/v3`.
pub const DEFAULT_GITHUB_API: &str = "https://api.github.com";
/// GitLab.com's REST API; self-managed GitLab uses `https://HOST/api/v4`.
pub const DEFAULT_GITLAB_API: &str = "https://gitlab.com/api/v4";

/// A GitHub REST API base and one repository in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubApi {
    /// API base without a trailing slash, e.g. `https://api.github.com`.
    api_base: String,
    /// `owner/name`.
    repo: String,
}

impl GitHubApi {
    /// Validate the API base (http/https, no credentials, query or fragment)
    /// and the repository (`owner/name`).
    pub fn new(api_base: &str, repo: &str) -> Result<GitHubApi, CiError> {
        Ok(GitHubApi {
            api_base: validate_api_base(api_base)?,
            repo: validate_repo(repo)?,
        })
    }

    /// From `GITHUB_API_URL` (default [`DEFAULT_GITHUB_API`]) and
    /// `GITHUB_REPOSITORY`, both set by GitHub Actions.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<GitHubApi, CiError> {
        let base =
            non_empty(env("GITHUB_API_URL")).unwrap_or_else(|| DEFAULT_GITHUB_API.to_owned());
        let repo = non_empty(env("GITHUB_REPOSITORY")).ok_or(CiError::MissingEnv {
            var: "GITHUB_REPOSITORY",
            hint: "GitHub Actions sets it to `owner/name`; set it when running elsewhere",
        })?;
        GitHubApi::new(&base, &repo).map_err(|e| match e {
            CiError::InvalidRepo { repo } => CiError::InvalidEnv {
                var: "GITHUB_REPOSITORY",
                value: repo,
                expected: "`owner/name`",
            },
            other => other,
        })
    }

    pub fn api_base(&self) -> &str {
        &self.api_base
    }

    pub fn repo(&self) -> &str {
        &self.repo
    }

    /// `{api}/repos/{owner}/{name}` + `tail` (which starts with `/`).
    pub(crate) fn repo_url(&self, tail: &str) -> String {
        format!("{}/repos/{}{}", self.api_base, self.repo, tail)
    }
}

/// How a GitLab token is sent. Pick by where the token came from:
///
/// * [`GitLabAuth::PrivateToken`] — personal, project or group access
///   tokens (`GITLAB_TOKEN`), sent as `PRIVATE-TOKEN`. Needs the `api` scope
///   to write MR notes. This is the one that works for comments.
/// * [`GitLabAuth::JobToken`] — `CI_JOB_TOKEN`, sent as `JOB-TOKEN`. GitLab
///   lets job tokens call only a few endpoints, and MR notes are usually not
///   among them: expect a 401/403, which becomes a skipped comment with a
///   warning that says to set `GITLAB_TOKEN`.
/// * [`GitLabAuth::Bearer`] — OAuth2 tokens, sent as `Authorization: Bearer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitLabAuth {
    PrivateToken,
    JobToken,
    Bearer,
}

impl GitLabAuth {
    pub(crate) fn header_name(self) -> &'static str {
        match self {
            GitLabAuth::PrivateToken => "private-token",
            GitLabAuth::JobToken => "job-token",
            GitLabAuth::Bearer => "authorization",
        }
    }
}

/// Where a report comment goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentTarget {
    /// A GitHub pull request's conversation (issue comments).
    GitHub { api: GitHubApi, pr: u64 },
    /// A GitLab merge request's notes.
    GitLab {
        /// API base without a trailing slash, e.g. `https://gitlab.com/api/v4`.
        api_base: String,
        /// Numeric project id or `group/sub/project` path (encoded when used).
        project: String,
        mr_iid: u64,
        auth: GitLabAuth,
    },
}

impl CommentTarget {
    /// A GitHub pull request (validates the base URL and repository).
    pub fn github(api_base: &str, repo: &str, pr: u64) -> Result<CommentTarget, CiError> {
        Ok(CommentTarget::GitHub {
            api: GitHubApi::new(api_base, repo)?,
            pr,
        })
    }

    /// A GitLab merge request (validates the base URL and project).
    pub fn gitlab(
        api_base: &str,
        project: &str,
        mr_iid: u64,
        auth: GitLabAuth,
    ) -> Result<CommentTarget, CiError> {
        Ok(CommentTarget::GitLab {
            api_base: validate_api_base(api_base)?,
            project: validate_project(project)?,
            mr_iid,
            auth,
        })
    }

    /// The pull request of the current GitHub Actions run: API and
    /// repository from [`GitHubApi::from_env`]; the PR number from the event
    /// payload (`GITHUB_EVENT_PATH`: `pull_request.number`, or `issue.number`
    /// for comments on a PR), else from `GITHUB_REF` (`refs/pull/N/merge`).
    /// [`CiError::NotAReviewRequest`] when the run is not for a PR.
    pub fn github_from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<CommentTarget, CiError> {
        let api = GitHubApi::from_env(env)?;
        let pr = github_pr_from_env(env)?;
        Ok(CommentTarget::GitHub { api, pr })
    }

    /// The merge request of the current GitLab CI pipeline: `CI_API_V4_URL`
    /// (default [`DEFAULT_GITLAB_API`]), `CI_PROJECT_ID`,
    /// `CI_MERGE_REQUEST_IID` (set only in merge request pipelines;
    /// [`CiError::NotAReviewRequest`] without it).
    pub fn gitlab_from_env(
        env: &dyn Fn(&str) -> Option<String>,
        auth: GitLabAuth,
    ) -> Result<CommentTarget, CiError> {
        let base = non_empty(env("CI_API_V4_URL")).unwrap_or_else(|| DEFAULT_GITLAB_API.to_owned());
        let project = non_empty(env("CI_PROJECT_ID")).ok_or(CiError::MissingEnv {
            var: "CI_PROJECT_ID",
            hint: "GitLab CI sets it; set it to the project id or path when running elsewhere",
        })?;
        let iid = non_empty(env("CI_MERGE_REQUEST_IID")).ok_or_else(|| CiError::NotAReviewRequest {
            kind: "merge request pipeline",
            detail: "CI_MERGE_REQUEST_IID is not set (add `rules: - if: $CI_PIPELINE_SOURCE == \"merge_request_event\"` to the job)".into(),
        })?;
        let mr_iid = iid.trim().parse::<u64>().map_err(|_| CiError::InvalidEnv {
            var: "CI_MERGE_REQUEST_IID",
            value: iid.clone(),
            expected: "a positive integer",
        })?;
        CommentTarget::gitlab(&base, &project, mr_iid, auth).map_err(|e| match e {
            CiError::InvalidProject { project } => CiError::InvalidEnv {
                var: "CI_PROJECT_ID",
                value: project,
                expected: "a numeric project id or a `group/project` path",
            },
            other => other,
        })
    }
}

/// The GitHub token: `GITHUB_TOKEN` (what `${{ github.token }}` is usually
/// passed as).
pub fn github_token_from_env(env: &dyn Fn(&str) -> Option<String>) -> Option<Secret> {
    Secret::from_env(env, "GITHUB_TOKEN")
}

/// The GitLab token and how to send it: `GITLAB_TOKEN` (an access token with
/// `api` scope, sent as `PRIVATE-TOKEN`) wins over `CI_JOB_TOKEN` (sent as
/// `JOB-TOKEN`; see [`GitLabAuth`] for its limits).
pub fn gitlab_token_from_env(env: &dyn Fn(&str) -> Option<String>) -> Option<(Secret, GitLabAuth)> {
    Secret::from_env(env, "GITLAB_TOKEN")
        .map(|s| (s, GitLabAuth::PrivateToken))
        .or_else(|| Secret::from_env(env, "CI_JOB_TOKEN").map(|s| (s, GitLabAuth::JobToken)))
}

/// The PR number of a GitHub Actions run (see [`CommentTarget::github_from_env`]).
pub fn github_pr_from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<u64, CiError> {
    let mut event_err = None;
    if let Some(path) = non_empty(env("GITHUB_EVENT_PATH")) {
        match pr_from_event_file(&PathBuf::from(path)) {
            Ok(Some(n)) => return Ok(n),
            Ok(None) => {}
            Err(e) => event_err = Some(e),
        }
    }
    if let Some(r) = non_empty(env("GITHUB_REF")) {
        if let Some(n) = pr_from_ref(&r) {
            return Ok(n);
        }
    }
    // An unreadable event file explains more than "not a PR".
    if let Some(e) = event_err {
        return Err(e);
    }
    Err(CiError::NotAReviewRequest {
        kind: "pull request run",
        detail: format!(
            "no pull request number in the event payload and GITHUB_REF is {:?} (expected refs/pull/N/merge)",
            env("GITHUB_REF").unwrap_or_default()
        ),
    })
}

fn pr_from_event_file(path: &Path) -> Result<Option<u64>, CiError> {
    let bytes =
        crate::fsutil::read_bounded(path, crate::fsutil::MAX_DATA_BYTES).map_err(|source| {
            CiError::EventFile {
                path: path.to_path_buf(),
                source,
            }
        })?;
    let v: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|source| CiError::EventJson {
            path: path.to_path_buf(),
            source,
        })?;
    if let Some(n) = v.pointer("/pull_request/number").and_then(|n| n.as_u64()) {
        return Ok(Some(n));
    }
    // issue_comment events on a pull request carry the PR as an issue with a
    // `pull_request` link.
    if v.pointer("/issue/pull_request").is_some() {
        if let Some(n) = v.pointer("/issue/number").and_then(|n| n.as_u64()) {
            return Ok(Some(n));
        }
    }
    Ok(None)
}

fn pr_from_ref(r: &str) -> Option<u64> {
    let rest = r.strip_prefix("refs/pull/")?;
    let (n, tail) = rest.split_once('/')?;
    if tail == "merge" || tail == "head" {
        n.parse().ok()
    } else {
        None
    }
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// http(s), a host, no credentials, query or fragment; returned without a
/// trailing slash so paths can be appended.
pub(crate) fn validate_api_base(url: &str) -> Result<String, CiError> {
    let bad = |detail: &str| CiError::InvalidApiBase {
        url: url.to_owned(),
        detail: detail.to_owned(),
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(&format!("{e}")))?;
    if parsed.scheme() != "http" && parsed.scheme() != "https" {
        return Err(bad("expected an http:// or https:// URL"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("expected a host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        // A URL with credentials would be printed in errors.
        return Err(bad(
            "credentials in the URL are not allowed; use the token variable",
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("expected no query or fragment"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

fn valid_segment(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && s.chars().all(is_name_char)
}

fn validate_repo(repo: &str) -> Result<String, CiError> {
    match repo.split_once('/') {
        Some((owner, name)) if valid_segment(owner) && valid_segment(name) => Ok(repo.to_owned()),
        _ => Err(CiError::InvalidRepo {
            repo: repo.to_owned(),
        }),
    }
}

fn validate_project(project: &str) -> Result<String, CiError> {
    let p = project.trim();
    if !p.is_empty() && p.split('/').all(valid_segment) {
        Ok(p.to_owned())
    } else {
        Err(CiError::InvalidProject {
            project: project.to_owned(),
        })
    }
}

/// A validated project id or path as one URL path segment: GitLab wants
/// `group/sub/project` with its slashes encoded (`group%2Fsub%2Fproject`).
/// Validation leaves only `[A-Za-z0-9._-/]`, so `/` is the only byte to encode.
pub(crate) fn encode_project(project: &str) -> String {
    project.replace('/', "%2F")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn github_target_from_event_payload() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ev = dir.path().join("event.json");
        std::fs::write(
            &ev,
            r#"{"action":"synchronize","pull_request":{"number":42}}"#,
        )
        .expect("write");
        let ev_path = ev.to_str().expect("utf-8 path");
        let env = env_of(&[
            ("GITHUB_API_URL", "https://ghe.example.com/api/v3/"),
            ("GITHUB_REPOSITORY", "acme/serving"),
            ("GITHUB_EVENT_PATH", ev_path),
            ("GITHUB_REF", "refs/heads/main"),
        ]);
        let t = CommentTarget::github_from_env(&env).expect("target");
        let CommentTarget::GitHub { api, pr } = t else {
            panic!("expected GitHub")
        };
        assert_eq!(pr, 42);
        assert_eq!(api.api_base(), "https://ghe.example.com/api/v3");
        assert_eq!(
            api.repo_url("/check-runs"),
            "https://ghe.example.com/api/v3/repos/acme/serving/check-runs"
        );
    }

    #[test]
    fn github_pr_from_issue_comment_event_and_from_ref() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ev = dir.path().join("event.json");
        std::fs::write(&ev, r#"{"issue":{"number":7,"pull_request":{"url":"x"}}}"#).expect("write");
        let ev_path = ev.to_str().expect("utf-8 path");
        let env = env_of(&[("GITHUB_EVENT_PATH", ev_path)]);
        assert_eq!(github_pr_from_env(&env).expect("pr"), 7);

        let env = env_of(&[("GITHUB_REF", "refs/pull/123/merge")]);
        assert_eq!(github_pr_from_env(&env).expect("pr"), 123);
        // Default API base when GITHUB_API_URL is unset.
        let env = env_of(&[
            ("GITHUB_REF", "refs/pull/5/merge"),
            ("GITHUB_REPOSITORY", "a/b"),
        ]);
        let CommentTarget::GitHub { api, .. } = CommentTarget::github_from_env(&env).expect("t")
        else {
            panic!("expected GitHub")
        };
        assert_eq!(api.api_base(), DEFAULT_GITHUB_API);
    }

    #[test]
    fn push_run_is_not_a_pull_request() {
        let env = env_of(&[
            ("GITHUB_REPOSITORY", "a/b"),
            ("GITHUB_REF", "refs/heads/main"),
        ]);
        let e = CommentTarget::github_from_env(&env).expect_err("not a PR");
        assert!(matches!(e, CiError::NotAReviewRequest { .. }), "{e}");
        assert!(e.to_string().contains("refs/heads/main"), "{e}");
    }

    #[test]
    fn unreadable_event_file_is_reported_when_the_ref_does_not_help() {
        let env = env_of(&[
            ("GITHUB_REPOSITORY", "a/b"),
            ("GITHUB_EVENT_PATH", "/nonexistent/event.json"),
        ]);
        let e = CommentTarget::github_from_env(&env).expect_err("missing file");
        assert!(e.to_string().contains("/nonexistent/event.json"), "{e}");
    }

    #[test]
    fn bad_repository_and_api_base_are_rejected() {
        let env = env_of(&[
            ("GITHUB_REPOSITORY", "just-a-name"),
            ("GITHUB_REF", "refs/pull/1/merge"),
        ]);
        let e = CommentTarget::github_from_env(&env).expect_err("bad repo");
        assert!(
            e.to_string().contains("GITHUB_REPOSITORY") && e.to_string().contains("just-a-name"),
            "{e}"
        );
        assert!(GitHubApi::new("ftp://x", "a/b").is_err());
        assert!(GitHubApi::new("https://user:pw@x", "a/b").is_err());
        assert!(GitHubApi::new("https://x", "a/../b").is_err());
        assert!(GitHubApi::new("https://x", "a/b/c").is_err());
    }

    #[test]
    fn gitlab_target_from_env_encodes_a_path_project() {
        let env = env_of(&[
            ("CI_API_V4_URL", "https://gitlab.example.com/api/v4"),
            ("CI_PROJECT_ID", "group/sub/project"),
            ("CI_MERGE_REQUEST_IID", "17"),
        ]);
        let t = CommentTarget::gitlab_from_env(&env, GitLabAuth::PrivateToken).expect("target");
        let CommentTarget::GitLab {
            api_base,
            project,
            mr_iid,
            ..
        } = t
        else {
            panic!("expected GitLab")
        };
        assert_eq!(api_base, "https://gitlab.example.com/api/v4");
        assert_eq!(encode_project(&project), "group%2Fsub%2Fproject");
        assert_eq!(mr_iid, 17);
    }

    #[test]
    fn gitlab_branch_pipeline_is_not_a_merge_request() {
        let env = env_of(&[("CI_PROJECT_ID", "12")]);
        let e = CommentTarget::gitlab_from_env(&env, GitLabAuth::PrivateToken).expect_err("no MR");
        assert!(matches!(e, CiError::NotAReviewRequest { .. }), "{e}");
        let env = env_of(&[("CI_PROJECT_ID", "12"), ("CI_MERGE_REQUEST_IID", "x1")]);
        let e =
            CommentTarget::gitlab_from_env(&env, GitLabAuth::PrivateToken).expect_err("bad iid");
        assert!(
            e.to_string().contains("CI_MERGE_REQUEST_IID") && e.to_string().contains("x1"),
            "{e}"
        );
    }

    #[test]
    fn gitlab_token_prefers_an_access_token_over_the_job_token() {
        let env = env_of(&[("GITLAB_TOKEN", "glpat-abc"), ("CI_JOB_TOKEN", "job")]);
        let (s, auth) = gitlab_token_from_env(&env).expect("token");
        assert_eq!((s.expose(), auth), ("glpat-abc", GitLabAuth::PrivateToken));
        let env = env_of(&[("CI_JOB_TOKEN", "job")]);
        assert_eq!(
            gitlab_token_from_env(&env).map(|(_, a)| a),
            Some(GitLabAuth::JobToken)
        );
        assert!(gitlab_token_from_env(&env_of(&[])).is_none());
    }
}
