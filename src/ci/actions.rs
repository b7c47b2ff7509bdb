//! GitHub Actions runner files and workflow commands: the job summary
//! (`$GITHUB_STEP_SUMMARY`), step outputs (`$GITHUB_OUTPUT`), and
//! `::error`/`::warning`/`::notice` annotations with GitHub's escaping, so
//! text from a server or a prompt can never start a workflow command of its
//! own.

use std::io::Write;
use std::path::Path;

use super::cut::{Measure, STEP_SUMMARY_LIMIT, cut_to_limit};
use super::error::CiError;

/// GitHub shows at most 10 annotations of each level per step; we keep at
/// most 10 in all, errors first.
pub const MAX_ANNOTATIONS: usize = 10;

/// `markdown` cut to the 1 MiB job summary limit (at a line boundary, with a
/// truncation notice). Larger summaries make GitHub drop the whole summary.
pub fn step_summary(markdown: &str) -> String {
    cut_to_limit(markdown, STEP_SUMMARY_LIMIT, Measure::Bytes).into_owned()
}

/// Append `text` to the job summary file (`$GITHUB_STEP_SUMMARY`), ending it
/// with a newline so the next step's Markdown starts on its own line.
pub fn append_step_summary(path: &Path, text: &str) -> Result<(), CiError> {
    let mut s = text.to_owned();
    if !s.ends_with('\n') {
        s.push('\n');
    }
    append(path, s.as_bytes())
}

/// The `$GITHUB_OUTPUT` text for `outputs`, each in the multi-line form
/// `name<<DELIM\nvalue\nDELIM\n`. The delimiter is random (unguessable, so a
/// value from a server cannot close it early and inject outputs) and is
/// checked not to occur in the value.
pub fn outputs_text(outputs: &[(&str, &str)]) -> Result<String, CiError> {
    let mut out = String::new();
    for (name, value) in outputs {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(CiError::OutputName {
                name: (*name).to_owned(),
            });
        }
        let delim = loop {
            // Not seeded on purpose: a predictable delimiter is the attack.
            let d = format!(
                "ghadelimiter_{:016x}{:016x}",
                rand::random::<u64>(),
                rand::random::<u64>()
            );
            if !value.contains(&d) {
                break d;
            }
        };
        out.push_str(name);
        out.push_str("<<");
        out.push_str(&delim);
        out.push('\n');
        out.push_str(value);
        out.push('\n');
        out.push_str(&delim);
        out.push('\n');
    }
    Ok(out)
}

/// Append `outputs` to the step output file (`$GITHUB_OUTPUT`).
pub fn set_outputs(path: &Path, outputs: &[(&str, &str)]) -> Result<(), CiError> {
    let text = outputs_text(outputs)?;
    append(path, text.as_bytes())
}

fn append(path: &Path, bytes: &[u8]) -> Result<(), CiError> {
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        f.write_all(bytes)?;
        f.flush()
    };
    write().map_err(|source| CiError::Write {
        path: path.to_owned(),
        source,
    })
}

/// Annotation level; the order is the ranking (errors first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AnnotationLevel {
    Error,
    Warning,
    Notice,
}

impl AnnotationLevel {
    pub fn command(self) -> &'static str {
        match self {
            AnnotationLevel::Error => "error",
            AnnotationLevel::Warning => "warning",
            AnnotationLevel::Notice => "notice",
        }
    }
}

/// Escape a command's data (the message): `%`, CR and LF as the runner
/// wants them; every other character through the one neutraliser
/// ([`crate::wording::foreign::neutral_char`]), since messages quote foreign
/// text (rule names, key values, server strings) and the line is printed
/// on stdout as it is: ESC, C1 controls and bidi overrides must not reach
/// the log.
pub fn escape_data(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c => out.extend(crate::wording::foreign::neutral_char(c)),
        }
    }
    out
}

/// Escape a command property value (the title): as data, plus `:` and `,`
/// which separate properties.
pub fn escape_property(s: &str) -> String {
    // Data escaping only introduces `%25`, `%0D` and `%0A`, so `:` and `,`
    // can be escaped afterwards without touching what it produced.
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One workflow command line, e.g. `::error title=TTFT p95::rose 23%25`.
/// An empty title is left out. No trailing newline.
pub fn annotation(level: AnnotationLevel, title: &str, message: &str) -> String {
    if title.is_empty() {
        format!("::{}::{}", level.command(), escape_data(message))
    } else {
        format!(
            "::{} title={}::{}",
            level.command(),
            escape_property(title),
            escape_data(message)
        )
    }
}

/// Annotations ranked errors, then warnings, then notices (input order
/// within a level), at most `min(cap, 10)` of them.
pub fn ranked_annotations(
    mut items: Vec<(AnnotationLevel, String, String)>,
    cap: usize,
) -> Vec<String> {
    // Stable sort keeps the caller's order (e.g. by severity of the rule)
    // within one level.
    items.sort_by_key(|(level, _, _)| *level);
    items
        .iter()
        .take(cap.min(MAX_ANNOTATIONS))
        .map(|(level, title, msg)| annotation(*level, title, msg))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_strings_are_escaped() {
        let a = annotation(
            AnnotationLevel::Error,
            "p95: 12%, up\r\n::x",
            "50% worse\r\n::set-output name=x::y, ok: done",
        );
        assert_eq!(
            a,
            "::error title=p95%3A 12%25%2C up%0D%0A%3A%3Ax::50%25 worse%0D%0A::set-output name=x::y, ok: done"
        );
        assert!(!a.contains('\n') && !a.contains('\r'));
        assert_eq!(
            annotation(AnnotationLevel::Notice, "", "%0A"),
            "::notice::%250A"
        );
        // ESC, C1 (NEL), line separators and bidi overrides never pass.
        assert_eq!(
            annotation(
                AnnotationLevel::Warning,
                "t\u{1b}[2J",
                "a\u{1b}[31m\u{85}b\u{2028}c\u{202E}d"
            ),
            "::warning title=t [2J::a [31m b cd"
        );
    }

    #[test]
    fn ranking_puts_errors_first_and_caps_at_ten() {
        let mut items = Vec::new();
        for i in 0..8 {
            items.push((AnnotationLevel::Warning, format!("w{i}"), String::new()));
            items.push((AnnotationLevel::Notice, format!("n{i}"), String::new()));
            items.push((AnnotationLevel::Error, format!("e{i}"), String::new()));
        }
        let out = ranked_annotations(items.clone(), 100);
        assert_eq!(out.len(), 10);
        for (i, line) in out.iter().take(8).enumerate() {
            assert_eq!(line, &format!("::error title=e{i}::"));
        }
        assert_eq!(out[8], "::warning title=w0::");
        assert_eq!(out[9], "::warning title=w1::");
        assert_eq!(ranked_annotations(items, 3).len(), 3);
    }

    #[test]
    fn outputs_use_a_fresh_delimiter_absent_from_the_value() {
        let value = "line1\nghadelimiter_\nEOF\nline3";
        let text = outputs_text(&[("verdict", "fail"), ("summary", value)]).expect("outputs");
        let lines: Vec<&str> = text.lines().collect();
        let (name, delim) = lines[0].split_once("<<").expect("heredoc");
        assert_eq!(name, "verdict");
        assert_eq!(lines[1], "fail");
        assert_eq!(lines[2], delim);
        let (name2, delim2) = lines[3].split_once("<<").expect("heredoc");
        assert_eq!(name2, "summary");
        assert_ne!(delim, delim2);
        assert!(!value.contains(delim2));
        assert_eq!(lines[4..8].join("\n"), value);
        assert_eq!(lines[8], delim2);
        assert!(delim.len() > 30);
    }

    #[test]
    fn bad_output_names_are_rejected() {
        for bad in ["", "a b", "x<<y", "na\nme", "a=b"] {
            let e = outputs_text(&[(bad, "v")]).expect_err("invalid name");
            assert!(e.to_string().contains("output name"), "{e}");
        }
    }

    #[test]
    fn files_are_appended() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        set_outputs(&out, &[("a", "1")]).expect("write");
        set_outputs(&out, &[("b", "2")]).expect("write");
        let text = std::fs::read_to_string(&out).expect("read");
        assert!(text.starts_with("a<<") && text.contains("\n1\n") && text.contains("b<<"));
        let sum = dir.path().join("sum");
        append_step_summary(&sum, "# One").expect("write");
        append_step_summary(&sum, "# Two\n").expect("write");
        assert_eq!(
            std::fs::read_to_string(&sum).expect("read"),
            "# One\n# Two\n"
        );
        let e = set_outputs(&dir.path().join("no/such/dir"), &[("a", "1")]).expect_err("no dir");
        assert!(e.to_string().contains("no/such/dir"), "{e}");
    }

    #[test]
    fn step_summary_is_capped_at_one_mebibyte() {
        let md = "| verdict | FAIL |\n".to_owned() + &"ü row\n".repeat(300_000);
        let s = step_summary(&md);
        assert!(s.len() <= STEP_SUMMARY_LIMIT);
        assert!(s.starts_with("| verdict | FAIL |\n"));
        assert!(s.contains("Report truncated"));
    }
}
