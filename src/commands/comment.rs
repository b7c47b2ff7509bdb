//! `tokengate comment`: post a Markdown report as one PR comment (GitHub)
//! or MR note (GitLab), updating our earlier one. Commenting never changes
//! the gate's verdict: a read-only token or a run outside a PR/MR is a
//! warning and exit 0.

use std::path::PathBuf;

use anyhow::Context as _;

use super::outcome::{CommandOptions, Outcome};
use super::run::EnvLookup;
use crate::ci::{
    CiError, CommentKey, CommentOutcome, CommentTarget, UpsertOptions, github_token_from_env,
    gitlab_token_from_env, upsert_comment_with,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    GitHub,
    GitLab,
}

#[derive(Clone)]
pub struct CommentOptions {
    pub markdown: PathBuf,
    pub platform: Platform,
    /// Overrides of the CI environment.
    pub api_url: Option<String>,
    pub repo: Option<String>,
    pub number: Option<u64>,
    /// Which of several tokengate comments to upsert (`None`: the unkeyed one).
    pub key: Option<CommentKey>,
    /// The CI environment (tokens, repository, pull request).
    pub env: EnvLookup,
}

impl CommandOptions for CommentOptions {}

/// Post the report. Exit 0 unless the report cannot be read or the API
/// fails outright; a missing token or a run outside a review is a warning.
pub async fn run(opts: CommentOptions) -> anyhow::Result<Outcome> {
    let env = &*opts.env;
    let mut out = Outcome::default();
    let markdown =
        crate::fsutil::read_bounded_string(&opts.markdown, crate::fsutil::MAX_DATA_BYTES)
            .with_context(|| {
                format!(
                    "cannot read the Markdown report {}",
                    opts.markdown.display()
                )
            })?;
    // Command-line values take the place of the CI variables they override.
    let number = opts.number.map(|n| n.to_string());
    let lookup = |k: &str| -> Option<String> {
        match (opts.platform, k) {
            (Platform::GitHub, "GITHUB_API_URL") | (Platform::GitLab, "CI_API_V4_URL")
                if opts.api_url.is_some() =>
            {
                opts.api_url.clone()
            }
            (Platform::GitHub, "GITHUB_REPOSITORY") | (Platform::GitLab, "CI_PROJECT_ID")
                if opts.repo.is_some() =>
            {
                opts.repo.clone()
            }
            (Platform::GitHub, "GITHUB_EVENT_PATH") if number.is_some() => None,
            (Platform::GitHub, "GITHUB_REF") if number.is_some() => {
                number.as_ref().map(|n| format!("refs/pull/{n}/merge"))
            }
            (Platform::GitLab, "CI_MERGE_REQUEST_IID") if number.is_some() => number.clone(),
            _ => env(k),
        }
    };
    let (target, token) = match opts.platform {
        Platform::GitHub => {
            let Some(token) = github_token_from_env(&lookup) else {
                out.warnings
                    .push("GITHUB_TOKEN is not set; no comment posted".into());
                return Ok(out);
            };
            (CommentTarget::github_from_env(&lookup), token)
        }
        Platform::GitLab => {
            let Some((token, auth)) = gitlab_token_from_env(&lookup) else {
                out.warnings
                    .push("neither GITLAB_TOKEN nor CI_JOB_TOKEN is set; no note posted".into());
                return Ok(out);
            };
            (CommentTarget::gitlab_from_env(&lookup, auth), token)
        }
    };
    let target = match target {
        Ok(t) => t,
        Err(e @ CiError::NotAReviewRequest { .. }) => {
            out.notes.push(format!("notice: {e}; no comment posted"));
            return Ok(out);
        }
        Err(e) => return Err(e.into()),
    };
    let upsert = UpsertOptions {
        key: opts.key.clone(),
        ..UpsertOptions::default()
    };
    match upsert_comment_with(&target, &token, &markdown, &upsert).await? {
        CommentOutcome::Created { id } => out.line(&format!("tokengate: created comment {id}")),
        CommentOutcome::Updated { id } => out.line(&format!("tokengate: updated comment {id}")),
        CommentOutcome::Skipped { warning } => out.warnings.push(warning),
    }
    Ok(out)
}
