//! GitHub check runs: one completed check with a conclusion and a Markdown
//! output, used as a pre-release approval signal on a commit. Output fields
//! are cut to GitHub's limits; permission problems become a warning outcome
//! like comments do.

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::comment::skip_warning;
use super::cut::{CHECK_RUN_TEXT_LIMIT, CHECK_RUN_TITLE_LIMIT, Measure, cut_line, cut_to_limit};
use super::error::CiError;
use super::http::ApiClient;
use super::secret::Secret;
use super::target::GitHubApi;

/// The conclusions tokengate reports (a subset of GitHub's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckConclusion {
    Success,
    Failure,
    Neutral,
    ActionRequired,
}

impl CheckConclusion {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckConclusion::Success => "success",
            CheckConclusion::Failure => "failure",
            CheckConclusion::Neutral => "neutral",
            CheckConclusion::ActionRequired => "action_required",
        }
    }
}

/// One check run to create. `summary` and `text` are Markdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRun<'a> {
    /// Full commit SHA the check is attached to.
    pub head_sha: &'a str,
    /// Check name shown in the checks list, e.g. `tokengate`.
    pub name: &'a str,
    pub conclusion: CheckConclusion,
    /// One line; cut to 255 characters.
    pub title: &'a str,
    /// Cut to 65,535 characters at a line boundary.
    pub summary: &'a str,
    /// Cut to 65,535 characters at a line boundary.
    pub text: &'a str,
}

/// What [`create_check_run`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckRunOutcome {
    Created {
        id: u64,
    },
    /// 401/403/404: not created; the warning says why. The verdict stands.
    Skipped {
        warning: String,
    },
}

/// The JSON body of `POST /repos/{owner}/{repo}/check-runs`.
pub fn check_run_payload(run: &CheckRun<'_>) -> serde_json::Value {
    json!({
        "name": cut_line(run.name, CHECK_RUN_TITLE_LIMIT),
        "head_sha": run.head_sha,
        "status": "completed",
        "conclusion": run.conclusion.as_str(),
        "output": {
            "title": cut_line(run.title, CHECK_RUN_TITLE_LIMIT),
            "summary": cut_to_limit(run.summary, CHECK_RUN_TEXT_LIMIT, Measure::Chars),
            "text": cut_to_limit(run.text, CHECK_RUN_TEXT_LIMIT, Measure::Chars),
        }
    })
}

/// Create a completed check run on `run.head_sha`. The token needs
/// `checks: write` (GitHub Apps and `GITHUB_TOKEN` in Actions; a personal
/// access token cannot create check runs and gets a 403, reported as
/// [`CheckRunOutcome::Skipped`]).
pub async fn create_check_run(
    api: &GitHubApi,
    token: &Secret,
    run: &CheckRun<'_>,
) -> Result<CheckRunOutcome, CiError> {
    let client = ApiClient::github(api.api_base(), token)?;
    let url = api.repo_url("/check-runs");
    let payload = check_run_payload(run);
    let reply = client.send(Method::POST, &url, Some(&payload)).await?;
    let what = format!("commit {} of {}", run.head_sha, api.repo());
    if let Some(w) = skip_warning(&client, &reply, "create a check run on", &what) {
        return Ok(CheckRunOutcome::Skipped {
            warning: format!("{w} Check runs need `permissions: checks: write`."),
        });
    }
    if !(200..300).contains(&reply.status) {
        return Err(client.status_error(Method::POST, &url, &reply));
    }
    #[derive(Deserialize)]
    struct Created {
        id: u64,
    }
    let c: Created = serde_json::from_slice(&reply.body)
        .map_err(|e| client.bad_response(Method::POST, &url, e.to_string()))?;
    Ok(CheckRunOutcome::Created { id: c.id })
}
