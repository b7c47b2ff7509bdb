//! Fixed prompts: inline items and JSONL files, turned into wire prompts
//! for the configured API with their quality checks (`expect`), and the
//! text of a prompt whose tokens are counted.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::file::{ExpectField, FullPrompt, PromptItem};
use crate::client::{ApiKind, Message, Prompt, QualityCheck};
use crate::yaml::ConfigError;

/// Read a JSONL prompt file: one JSON object per line, `{"prompt": ".."}` or
/// `{"text": ".."}` or `{"messages": [..]}`, with optional `expect`/`weight`.
/// Blank lines are skipped. Errors name the file and line.
pub fn read_jsonl(path: &Path) -> Result<Vec<(PromptItem, String)>, ConfigError> {
    // Bounded and regular files only: `/dev/zero` or a FIFO is an error
    // naming the file, not an endless read or a hang.
    let text = crate::fsutil::read_bounded_string(path, crate::fsutil::MAX_DATA_BYTES).map_err(
        |source| ConfigError::Read {
            path: path.to_owned(),
            source,
        },
    )?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let item: FullPrompt = serde_json::from_str(line).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            line: i as u64 + 1,
            column: e.column() as u64,
            message: format!("expected a JSON object with `prompt` or `messages`: {e}"),
        })?;
        out.push((PromptItem::Full(item), format!("line {}", i + 1)));
    }
    if out.is_empty() {
        return Err(ConfigError::invalid(
            path,
            "prompts",
            "the prompt file holds no prompts",
        ));
    }
    Ok(out)
}

/// A prompt for the wire, its quality check and its mix weight.
pub type ConvertedPrompt = (Prompt, Option<Arc<QualityCheck>>, Option<f64>);

/// Convert one item for the API kind. Chat prompts from plain text become a
/// single user message; a completions prompt from messages joins their text.
pub fn to_prompt(
    item: &PromptItem,
    api: ApiKind,
    path: &Path,
    field: &str,
) -> Result<ConvertedPrompt, ConfigError> {
    let (text, messages, expect, weight) = match item {
        PromptItem::Text(t) => (Some(t.clone()), None, None, None),
        PromptItem::Full(f) => (
            f.text.clone(),
            f.messages.clone(),
            f.expect.clone(),
            f.weight,
        ),
    };
    let quality = match &expect {
        Some(e) => quality_of(e, path, field)?,
        None => None,
    };
    let prompt = match (text, messages, api) {
        (Some(t), None, ApiKind::Chat) => Prompt::Chat(vec![Message {
            role: "user".into(),
            content: t,
        }]),
        (Some(t), None, ApiKind::Completions) => Prompt::Text(t),
        (None, Some(m), ApiKind::Chat) if !m.is_empty() => Prompt::Chat(
            m.into_iter()
                .map(|m| Message {
                    role: m.role,
                    content: m.content,
                })
                .collect(),
        ),
        (None, Some(m), ApiKind::Completions) if !m.is_empty() => Prompt::Text(
            m.into_iter()
                .map(|m| m.content)
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        _ => {
            return Err(ConfigError::invalid(
                path,
                field,
                "expected exactly one of `text` (or `prompt`) and a non-empty `messages` list",
            ));
        }
    };
    let empty = match &prompt {
        Prompt::Text(t) => t.trim().is_empty(),
        Prompt::Chat(m) => m.iter().all(|m| m.content.trim().is_empty()),
    };
    if empty {
        return Err(ConfigError::invalid(path, field, "the prompt is empty"));
    }
    Ok((prompt, quality, weight))
}

/// Resolve `p` against the directory of the workload file.
pub fn relative_to(workload: &Path, p: &Path) -> PathBuf {
    workload.parent().unwrap_or(Path::new(".")).join(p)
}

/// Build the quality check of a prompt's `expect` block.
fn quality_of(
    expect: &ExpectField,
    path: &Path,
    field: &str,
) -> Result<Option<Arc<QualityCheck>>, ConfigError> {
    let set = [
        expect.contains.is_some(),
        expect.regex.is_some(),
        expect.json == Some(true),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if set > 1 {
        return Err(ConfigError::invalid(
            path,
            format!("{field}.expect"),
            "expected exactly one of `contains`, `regex`, `json: true`",
        ));
    }
    if let Some(c) = &expect.contains {
        return Ok(Some(Arc::new(QualityCheck::Contains(c.clone()))));
    }
    if let Some(r) = &expect.regex {
        let re = regex::Regex::new(r).map_err(|e| {
            ConfigError::invalid(
                path,
                format!("{field}.expect.regex"),
                format!("invalid regular expression: {e}"),
            )
        })?;
        return Ok(Some(Arc::new(QualityCheck::Regex(re))));
    }
    if expect.json == Some(true) {
        return Ok(Some(Arc::new(QualityCheck::Json)));
    }
    Ok(None)
}
