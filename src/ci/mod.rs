//! Talking to CI platforms: GitHub pull request comments and GitLab merge
//! request notes (create or update one marked comment), GitHub check runs,
//! GitHub Actions runner files (job summary, step outputs, annotations), and
//! GitLab report files (load performance, metrics) made from a bundle.
//! Tokens come from the environment only and travel as [`Secret`]s, which
//! never print.

mod actions;
mod check_run;
mod comment;
mod cut;
mod error;
mod gitlab_reports;
mod http;
mod retry;
mod secret;
mod target;

pub use actions::{
    AnnotationLevel, MAX_ANNOTATIONS, annotation, append_step_summary, escape_data,
    escape_property, outputs_text, ranked_annotations, set_outputs, step_summary,
};
pub use check_run::{
    CheckConclusion, CheckRun, CheckRunOutcome, check_run_payload, create_check_run,
};
pub use comment::{
    CommentKey, CommentOutcome, MARKER, MAX_COMMENT_KEY_LEN, UpsertOptions, comment_body,
    has_marker, marker_for, upsert_comment, upsert_comment_with,
};
pub use cut::{
    CHECK_RUN_TEXT_LIMIT, CHECK_RUN_TITLE_LIMIT, GITHUB_COMMENT_LIMIT, GITLAB_NOTE_LIMIT, Measure,
    STEP_SUMMARY_LIMIT, TRUNCATION_NOTICE, cut_line, cut_to_limit,
};
pub use error::{CiError, Platform};
pub use gitlab_reports::{load_performance_json, openmetrics_text};
pub use retry::RetryPolicy;
pub use secret::Secret;
pub use target::{
    CommentTarget, DEFAULT_GITHUB_API, DEFAULT_GITLAB_API, GitHubApi, GitLabAuth,
    github_pr_from_env, github_token_from_env, gitlab_token_from_env,
};
