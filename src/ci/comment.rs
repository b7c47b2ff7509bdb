//! Create-or-update ("upsert") one report comment on a GitHub pull request
//! or one note on a GitLab merge request. Our comment is the first one with
//! a line that is exactly our marker — [`MARKER`], or with a
//! [`CommentKey`] `<!-- tokengate:report key=KEY -->`, so several tokengate
//! jobs on one PR keep one comment each; a reply that quotes it
//! (`> <!-- … -->`) is not ours. Permission problems (a fork PR's read-only token) become
//! [`CommentOutcome::Skipped`] with a warning: commenting never changes the
//! gate's verdict.

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::cut::{GITHUB_COMMENT_LIMIT, GITLAB_NOTE_LIMIT, Measure, cut_to_limit};
use super::error::{CiError, Platform};
use super::http::{ApiClient, Reply};
use super::retry::RetryPolicy;
use super::secret::Secret;
use super::target::{CommentTarget, GitHubApi, GitLabAuth, encode_project};

/// The hidden line that identifies tokengate's own comment: the one the
/// Markdown report starts with (one definition, so they cannot drift).
pub const MARKER: &str = crate::report::MARKER;

/// Longest [`CommentKey`], in bytes.
pub const MAX_COMMENT_KEY_LEN: usize = 64;

/// Names one of several tokengate comments on a PR (e.g. one per job). It
/// goes inside an HTML comment, so it is limited to letters, digits, `.`,
/// `_` and `-` (no `--`, no `>`), starting with a letter or a digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentKey(String);

impl std::str::FromStr for CommentKey {
    type Err = String;
    fn from_str(s: &str) -> Result<CommentKey, String> {
        let first_ok = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        let rest_ok = s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if s.len() <= MAX_COMMENT_KEY_LEN && first_ok && rest_ok && !s.contains("--") {
            Ok(CommentKey(s.to_owned()))
        } else {
            Err(format!(
                "comment key {:?} is invalid; expected 1 to {MAX_COMMENT_KEY_LEN} letters, digits, `.`, `_` or `-` (no `--`), starting with a letter or digit",
                crate::wording::foreign::cut(s, 80)
            ))
        }
    }
}

impl std::fmt::Display for CommentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The marker line of the comment `key` names; without a key, [`MARKER`]
/// itself, so comments posted before keys existed are still found.
pub fn marker_for(key: Option<&CommentKey>) -> std::borrow::Cow<'static, str> {
    match key {
        None => std::borrow::Cow::Borrowed(MARKER),
        Some(k) => {
            let open = MARKER.trim_end_matches("-->").trim_end();
            std::borrow::Cow::Owned(format!("{open} key={k} -->"))
        }
    }
}

/// How [`upsert_comment_with`] finds our comment and talks to the API.
#[derive(Debug, Clone, Default)]
pub struct UpsertOptions {
    /// Which of several tokengate comments this is (`None`: the unkeyed one).
    pub key: Option<CommentKey>,
    pub retry: RetryPolicy,
}

/// Comments per page (the maximum both APIs allow).
const PER_PAGE: usize = 100;
/// Pages read before giving up (10,000 comments): bounds the loop against
/// an API that keeps answering "next".
const MAX_PAGES: usize = 100;

/// What [`upsert_comment`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentOutcome {
    Created {
        id: u64,
    },
    Updated {
        id: u64,
    },
    /// Not posted; the warning says why and what to change. Callers print it
    /// and exit 0.
    Skipped {
        warning: String,
    },
}

/// The body we send: `markdown` with `key`'s marker ([`marker_for`]) as its
/// first line — in place of the unkeyed [`MARKER`] the Markdown report
/// starts with, else prepended —, cut to `limit` characters at a line
/// boundary with a truncation notice. The marker is at the top, so cutting
/// from the end keeps it, and the verdict table that follows it.
pub fn comment_body(markdown: &str, limit: usize, key: Option<&CommentKey>) -> String {
    let marker = marker_for(key);
    let trimmed = markdown.trim_start();
    let with_marker = if trimmed.starts_with(&*marker) {
        std::borrow::Cow::Borrowed(markdown)
    } else if let Some(rest) = trimmed.strip_prefix(MARKER) {
        std::borrow::Cow::Owned(format!("{marker}{rest}"))
    } else {
        std::borrow::Cow::Owned(format!("{marker}\n{markdown}"))
    };
    cut_to_limit(&with_marker, limit, Measure::Chars).into_owned()
}

/// True when one of `body`'s lines is exactly `key`'s marker (surrounding
/// whitespace aside).
pub fn has_marker(body: &str, key: Option<&CommentKey>) -> bool {
    let marker = marker_for(key);
    body.lines().any(|l| l.trim() == marker)
}

/// Create our comment on `target`, or update it when it already exists.
/// The token goes in the platform's auth header only; it never appears in
/// the outcome or an error.
pub async fn upsert_comment(
    target: &CommentTarget,
    token: &Secret,
    markdown: &str,
) -> Result<CommentOutcome, CiError> {
    upsert_comment_with(target, token, markdown, &UpsertOptions::default()).await
}

/// [`upsert_comment`] for the comment `opts.key` names, retrying as
/// `opts.retry` says.
pub async fn upsert_comment_with(
    target: &CommentTarget,
    token: &Secret,
    markdown: &str,
    opts: &UpsertOptions,
) -> Result<CommentOutcome, CiError> {
    match target {
        CommentTarget::GitHub { api, pr } => github_upsert(api, *pr, token, markdown, opts).await,
        CommentTarget::GitLab {
            api_base,
            project,
            mr_iid,
            auth,
        } => gitlab_upsert(api_base, project, *mr_iid, *auth, token, markdown, opts).await,
    }
}

/// The fields we read of a GitHub issue comment or a GitLab note; the APIs
/// send more, which serde ignores (server wire types, not our config).
#[derive(Deserialize)]
struct IdBody {
    id: u64,
    #[serde(default)]
    body: Option<String>,
    /// GitLab: notes the system writes ("added 1 commit"); never ours.
    #[serde(default)]
    system: bool,
}

async fn github_upsert(
    api: &GitHubApi,
    pr: u64,
    token: &Secret,
    markdown: &str,
    opts: &UpsertOptions,
) -> Result<CommentOutcome, CiError> {
    let client = ApiClient::github(api.api_base(), token)?.with_retry(opts.retry);
    let key = opts.key.as_ref();
    let body = comment_body(markdown, GITHUB_COMMENT_LIMIT, key);
    let what = format!("pull request #{pr} of {}", api.repo());

    let mut url = api.repo_url(&format!("/issues/{pr}/comments?per_page={PER_PAGE}&page=1"));
    let mut found = None;
    for page in 1.. {
        let reply = client.send(Method::GET, &url, None).await?;
        if let Some(w) = skip_warning(&client, &reply, "read the comments of", &what) {
            return Ok(CommentOutcome::Skipped {
                warning: github_hint(w),
            });
        }
        if !is_success(&reply) {
            return Err(client.status_error(Method::GET, &url, &reply));
        }
        let comments: Vec<IdBody> = parse(&client, Method::GET, &url, &reply)?;
        if let Some(c) = comments
            .iter()
            .find(|c| c.body.as_deref().is_some_and(|b| has_marker(b, key)))
        {
            found = Some(c.id);
            break;
        }
        match next_link(&reply) {
            None => break,
            Some(next) => {
                url = checked_next(&client, api.api_base(), &next)?;
            }
        }
        if page >= MAX_PAGES {
            return Err(CiError::TooManyPages {
                platform: Platform::GitHub,
                url,
                pages: page,
            });
        }
    }

    let payload = json!({ "body": body });
    let (method, url) = match found {
        Some(id) => (
            Method::PATCH,
            api.repo_url(&format!("/issues/comments/{id}")),
        ),
        None => (
            Method::POST,
            api.repo_url(&format!("/issues/{pr}/comments")),
        ),
    };
    let reply = client.send(method.clone(), &url, Some(&payload)).await?;
    let verb = if found.is_some() {
        "update a comment on"
    } else {
        "comment on"
    };
    if let Some(w) = skip_warning(&client, &reply, verb, &what) {
        return Ok(CommentOutcome::Skipped {
            warning: github_hint(w),
        });
    }
    if !is_success(&reply) {
        return Err(client.status_error(method, &url, &reply));
    }
    written(&client, method, &url, &reply, found)
}

async fn gitlab_upsert(
    api_base: &str,
    project: &str,
    mr_iid: u64,
    auth: GitLabAuth,
    token: &Secret,
    markdown: &str,
    opts: &UpsertOptions,
) -> Result<CommentOutcome, CiError> {
    let client = ApiClient::gitlab(api_base, token, auth)?.with_retry(opts.retry);
    let key = opts.key.as_ref();
    let body = comment_body(markdown, GITLAB_NOTE_LIMIT, key);
    let what = format!("merge request !{mr_iid} of project {project}");
    let notes = format!(
        "{api_base}/projects/{}/merge_requests/{mr_iid}/notes",
        encode_project(project)
    );

    // GitLab lists notes newest first by default; ask for oldest first so
    // "the first marked note" is stable when duplicates exist.
    let list =
        |page: u64| format!("{notes}?sort=asc&order_by=created_at&per_page={PER_PAGE}&page={page}");
    let mut url = list(1);
    let mut found = None;
    for page in 1.. {
        let reply = client.send(Method::GET, &url, None).await?;
        if let Some(w) = skip_warning(&client, &reply, "read the notes of", &what) {
            return Ok(CommentOutcome::Skipped {
                warning: gitlab_hint(w, auth),
            });
        }
        if !is_success(&reply) {
            return Err(client.status_error(Method::GET, &url, &reply));
        }
        let items: Vec<IdBody> = parse(&client, Method::GET, &url, &reply)?;
        if let Some(n) = items
            .iter()
            .find(|n| !n.system && n.body.as_deref().is_some_and(|b| has_marker(b, key)))
        {
            found = Some(n.id);
            break;
        }
        // Offset pagination: X-Next-Page is empty on the last page.
        let next_page = reply
            .headers
            .get("x-next-page")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|s| !s.is_empty());
        match next_page {
            Some(n) => match n.parse::<u64>() {
                Ok(n) => url = list(n),
                Err(_) => {
                    return Err(client.bad_response(
                        Method::GET,
                        &url,
                        format!("X-Next-Page is {n:?}; expected a page number"),
                    ));
                }
            },
            None => break,
        }
        if page >= MAX_PAGES {
            return Err(CiError::TooManyPages {
                platform: Platform::GitLab,
                url,
                pages: page,
            });
        }
    }

    let payload = json!({ "body": body });
    let (method, url) = match found {
        Some(id) => (Method::PUT, format!("{notes}/{id}")),
        None => (Method::POST, notes.clone()),
    };
    let reply = client.send(method.clone(), &url, Some(&payload)).await?;
    let verb = if found.is_some() {
        "update a note on"
    } else {
        "add a note to"
    };
    if let Some(w) = skip_warning(&client, &reply, verb, &what) {
        return Ok(CommentOutcome::Skipped {
            warning: gitlab_hint(w, auth),
        });
    }
    if !is_success(&reply) {
        return Err(client.status_error(method, &url, &reply));
    }
    written(&client, method, &url, &reply, found)
}

fn written(
    client: &ApiClient,
    method: Method,
    url: &str,
    reply: &Reply,
    found: Option<u64>,
) -> Result<CommentOutcome, CiError> {
    match found {
        Some(id) => Ok(CommentOutcome::Updated { id }),
        None => {
            #[derive(Deserialize)]
            struct Created {
                id: u64,
            }
            let c: Created = parse(client, method, url, reply)?;
            Ok(CommentOutcome::Created { id: c.id })
        }
    }
}

fn is_success(reply: &Reply) -> bool {
    (200..300).contains(&reply.status)
}

fn parse<T: for<'de> Deserialize<'de>>(
    client: &ApiClient,
    method: Method,
    url: &str,
    reply: &Reply,
) -> Result<T, CiError> {
    serde_json::from_slice(&reply.body).map_err(|e| client.bad_response(method, url, e.to_string()))
}

/// A warning for 401, 403 and 404 (the token may not do this; typical for
/// pull requests from forks), `None` for other statuses.
pub(crate) fn skip_warning(
    client: &ApiClient,
    reply: &Reply,
    verb: &str,
    what: &str,
) -> Option<String> {
    let platform = client.platform();
    let why = match (reply.status, platform) {
        (401, _) => "the token was rejected (missing, expired or revoked)".to_owned(),
        (403, _) => "the token lacks permission (or a rate limit was hit)".to_owned(),
        (404, _) => "not found, or the token cannot see it".to_owned(),
        _ => return None,
    };
    Some(format!(
        "{platform} returned {status} when trying to {verb} {what}: {why}; {platform} said: {excerpt}. The report was not posted; the gate verdict is unchanged.",
        status = reply.status,
        excerpt = client.excerpt(&reply.body),
    ))
}

fn github_hint(mut warning: String) -> String {
    warning.push_str(
        " Pull requests from forks get a read-only GITHUB_TOKEN; elsewhere give the job `permissions: pull-requests: write`.",
    );
    warning
}

fn gitlab_hint(mut warning: String, auth: GitLabAuth) -> String {
    match auth {
        GitLabAuth::JobToken => warning.push_str(
            " CI_JOB_TOKEN usually cannot write merge request notes: set GITLAB_TOKEN to a project access token with `api` scope (Reporter role or above).",
        ),
        GitLabAuth::PrivateToken | GitLabAuth::Bearer => warning.push_str(
            " The token needs `api` scope and at least the Reporter role on the project.",
        ),
    }
    warning
}

/// The `rel="next"` URL of an RFC 8288 `Link` header (GitHub pagination).
pub(crate) fn next_link(reply: &Reply) -> Option<String> {
    reply
        .headers
        .get_all("link")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(parse_next_link)
}

fn parse_next_link(header: &str) -> Option<String> {
    // `<url>; rel="next", <url>; rel="last"`: URLs are inside <>, so split on
    // them rather than on commas (a URL may hold a comma).
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let close = after.find('>')?;
        let target = &after[..close];
        let params_end = after[close..].find('<').map_or(after.len(), |i| close + i);
        let params = &after[close + 1..params_end];
        let is_next = params.split(';').any(|p| {
            let p = p.trim().trim_end_matches(',').trim();
            p.strip_prefix("rel=")
                .map(|r| {
                    r.trim_matches('"')
                        .split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
                })
                .unwrap_or(false)
        });
        if is_next {
            return Some(target.to_owned());
        }
        rest = &after[params_end.min(after.len())..];
    }
    None
}

/// Refuse pagination links that leave the API's origin: the token would be
/// sent there.
fn checked_next(client: &ApiClient, api_base: &str, next: &str) -> Result<String, CiError> {
    let foreign = || CiError::ForeignLink {
        platform: client.platform(),
        link: next.to_owned(),
        api_base: api_base.to_owned(),
    };
    let url = reqwest::Url::parse(next).map_err(|_| foreign())?;
    if client.same_origin(&url) {
        Ok(next.to_owned())
    } else {
        Err(foreign())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_is_prepended_once() {
        let b = comment_body("## Verdict\n", 1000, None);
        assert_eq!(b, format!("{MARKER}\n## Verdict\n"));
        let again = comment_body(&b, 1000, None);
        assert_eq!(again, b);
    }

    #[test]
    fn a_key_replaces_the_reports_marker_and_only_its_own_comment_matches() {
        let gpu: CommentKey = "gpu-a100".parse().expect("key");
        let cpu: CommentKey = "cpu.small_1".parse().expect("key");
        let b = comment_body(&format!("{MARKER}\n## Verdict\n"), 1000, Some(&gpu));
        assert_eq!(b, "<!-- tokengate:report key=gpu-a100 -->\n## Verdict\n");
        assert_eq!(comment_body(&b, 1000, Some(&gpu)), b);
        assert!(has_marker(&b, Some(&gpu)));
        assert!(!has_marker(&b, Some(&cpu)));
        assert!(!has_marker(&b, None), "the unkeyed comment is another one");
        assert!(!has_marker(&format!("{MARKER}\n"), Some(&gpu)));
        let plain = comment_body("## no marker\n", 1000, Some(&cpu));
        assert!(plain.starts_with("<!-- tokengate:report key=cpu.small_1 -->\n## no marker"));
    }

    #[test]
    fn keys_that_could_break_out_of_the_html_comment_are_refused() {
        for bad in ["", "-x", "a--b", "a -->", "a>b", "ключ", &"k".repeat(65)] {
            let e = bad.parse::<CommentKey>().expect_err(bad);
            assert!(e.contains("comment key"), "{e}");
        }
        assert!("A.b_c-1".parse::<CommentKey>().is_ok());
        assert!("k".repeat(64).parse::<CommentKey>().is_ok());
    }

    #[test]
    fn quoted_marker_is_not_ours() {
        assert!(has_marker(&format!("{MARKER}\n| x |"), None));
        assert!(has_marker(&format!("intro\n  {MARKER}  \n"), None));
        assert!(!has_marker(&format!("> {MARKER}\n> quoted reply"), None));
        assert!(!has_marker("no marker at all", None));
    }

    #[test]
    fn next_link_is_parsed_among_others() {
        let h = r#"<https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=1>; rel="prev", <https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=3>; rel="next", <https://x/last?a=1,2>; rel="last""#;
        assert_eq!(
            parse_next_link(h).as_deref(),
            Some("https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=3")
        );
        assert_eq!(
            parse_next_link(r#"<https://x/?p=1,2>; rel="next""#).as_deref(),
            Some("https://x/?p=1,2")
        );
        assert_eq!(
            parse_next_link(r#"<https://x/1>; rel="prev", <https://x/9>; rel="last""#),
            None
        );
        assert_eq!(parse_next_link("garbage <unclosed"), None);
        assert_eq!(parse_next_link(""), None);
    }

    #[test]
    fn oversized_body_keeps_the_marker_and_fits() {
        let md = format!(
            "{MARKER}\n| rule | verdict |\n|---|---|\n| ttft p95 | FAIL |\n{}",
            "détail\n".repeat(20_000)
        );
        let b = comment_body(&md, GITHUB_COMMENT_LIMIT, None);
        assert!(b.chars().count() <= GITHUB_COMMENT_LIMIT);
        assert!(b.starts_with(&format!(
            "{MARKER}\n| rule | verdict |\n|---|---|\n| ttft p95 | FAIL |\n"
        )));
        assert!(b.contains("Report truncated"));
    }
}
