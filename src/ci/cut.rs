//! Cutting Markdown to a platform's size limit: at a line boundary, never
//! inside a multi-byte character, closing an open code fence or `<details>`
//! block, and ending with a short notice that the report was truncated.
//! Reports put the verdict table first, so cutting from the end keeps it.

use std::borrow::Cow;

/// GitHub issue/PR comment body limit, in characters (the Markdown
/// renderer degrades to it first; cutting here is the safety net).
pub const GITHUB_COMMENT_LIMIT: usize = crate::report::GITHUB_COMMENT_LIMIT;
/// GitLab note body limit, in characters.
pub const GITLAB_NOTE_LIMIT: usize = 1_000_000;
/// GitHub check run `output.summary` and `output.text` limit, in characters.
pub const CHECK_RUN_TEXT_LIMIT: usize = 65_535;
/// GitHub check run `output.title` limit, in characters (the brief's cap; the
/// API documents no exact number, titles are shown on one line).
pub const CHECK_RUN_TITLE_LIMIT: usize = 255;
/// GitHub Actions job summary limit per step, in bytes (1 MiB).
pub const STEP_SUMMARY_LIMIT: usize = 1024 * 1024;

/// The line appended to a cut report.
pub const TRUNCATION_NOTICE: &str = "\n\n> **Report truncated** to fit the platform limit; the full report is in the job artifacts.\n";

/// How a limit is counted: GitHub and GitLab count characters in bodies;
/// the job summary file is limited in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Chars,
    Bytes,
}

impl Measure {
    pub fn len(self, s: &str) -> usize {
        match self {
            Measure::Chars => s.chars().count(),
            Measure::Bytes => s.len(),
        }
    }

    /// The largest byte index `i` on a char boundary with `len(&s[..i]) <= n`.
    fn prefix_end(self, s: &str, n: usize) -> usize {
        match self {
            Measure::Chars => s.char_indices().nth(n).map_or(s.len(), |(i, _)| i),
            Measure::Bytes => {
                let mut i = n.min(s.len());
                while !s.is_char_boundary(i) {
                    i -= 1;
                }
                i
            }
        }
    }
}

/// `text` unchanged when it fits in `limit`; otherwise its longest prefix
/// that ends at a line boundary, plus closers for an open code fence or
/// `<details>` block, plus [`TRUNCATION_NOTICE`], all within `limit`.
///
/// A single line longer than the budget is cut at a character boundary. A
/// limit too small for the notice gives a bare character-boundary cut.
pub fn cut_to_limit(text: &str, limit: usize, measure: Measure) -> Cow<'_, str> {
    if measure.len(text) <= limit {
        return Cow::Borrowed(text);
    }
    let notice_len = measure.len(TRUNCATION_NOTICE);
    if limit <= notice_len {
        return Cow::Owned(text[..measure.prefix_end(text, limit)].to_owned());
    }
    let mut end = measure.prefix_end(text, limit - notice_len);
    // Prefer a line boundary; fall back to the character boundary when the
    // first line alone is too long.
    if let Some(nl) = text[..end].rfind('\n') {
        end = nl + 1;
    }
    loop {
        let prefix = &text[..end];
        let closers = closers_for(prefix);
        let total = measure.len(prefix) + measure.len(&closers) + notice_len;
        if total <= limit || end == 0 {
            let mut out = String::with_capacity(end + closers.len() + TRUNCATION_NOTICE.len());
            out.push_str(prefix);
            if !closers.is_empty() && !prefix.ends_with('\n') && !prefix.is_empty() {
                out.push('\n');
            }
            out.push_str(&closers);
            out.push_str(TRUNCATION_NOTICE);
            if measure.len(&out) <= limit {
                return Cow::Owned(out);
            }
            // Only reachable when the newline added above tipped it over:
            // drop one more line and try again.
        }
        // Drop the last line (or the partial line) and try again.
        end = text[..end.saturating_sub(1)]
            .rfind('\n')
            .map_or(0, |nl| nl + 1);
    }
}

/// Text that closes whatever `prefix` leaves open: a fenced code block
/// (```` ``` ```` or `~~~`) and `<details>` elements, so the notice renders
/// as text rather than inside a code block or a collapsed section.
fn closers_for(prefix: &str) -> String {
    let mut fence: Option<&str> = None;
    let mut open_details = 0usize;
    for line in prefix.lines() {
        let t = line.trim_start();
        match fence {
            Some(f) => {
                if t.starts_with(f) {
                    fence = None;
                }
            }
            None => {
                if t.starts_with("```") {
                    fence = Some("```");
                } else if t.starts_with("~~~") {
                    fence = Some("~~~");
                } else {
                    open_details += t.matches("<details").count();
                    open_details = open_details.saturating_sub(t.matches("</details>").count());
                }
            }
        }
    }
    let mut out = String::new();
    if let Some(f) = fence {
        out.push_str(f);
        out.push('\n');
    }
    for _ in 0..open_details {
        out.push_str("</details>\n");
    }
    out
}

/// A one-line value (a title) cut to `limit` characters, ending in `…` when
/// cut.
pub fn cut_line(text: &str, limit: usize) -> Cow<'_, str> {
    if text.chars().count() <= limit {
        return Cow::Borrowed(text);
    }
    if limit == 0 {
        return Cow::Borrowed("");
    }
    let end = Measure::Chars.prefix_end(text, limit - 1);
    Cow::Owned(format!("{}…", &text[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_text_is_unchanged() {
        assert!(matches!(
            cut_to_limit("abc\n", 10, Measure::Chars),
            Cow::Borrowed("abc\n")
        ));
    }

    #[test]
    fn cuts_at_a_line_boundary_and_appends_the_notice() {
        let text = "| verdict | pass |\n".repeat(20) + &"detail line\n".repeat(500);
        let limit = 1_000;
        let out = cut_to_limit(&text, limit, Measure::Chars);
        assert!(out.chars().count() <= limit);
        assert!(out.ends_with(TRUNCATION_NOTICE));
        let body = out.strip_suffix(TRUNCATION_NOTICE).expect("notice");
        assert!(body.ends_with('\n'), "cut at a line end: {body:?}");
        assert!(text.starts_with(body));
        assert!(body.starts_with(&"| verdict | pass |\n".repeat(20)));
    }

    #[test]
    fn never_splits_a_multibyte_character() {
        // One long line of 3-byte characters: no newline to cut at.
        let text = "€".repeat(1000);
        let out = cut_to_limit(&text, 2000, Measure::Bytes);
        assert!(out.len() <= 2000);
        let body = out.strip_suffix(TRUNCATION_NOTICE).expect("notice");
        assert!(body.chars().all(|c| c == '€'));
        assert_eq!(body.len() % 3, 0);
    }

    #[test]
    fn closes_an_open_code_fence_and_details() {
        let mut text = String::from("# Report\n<details><summary>more</summary>\n\n```text\n");
        text.push_str(&"log line\n".repeat(200));
        text.push_str("```\n</details>\n");
        let out = cut_to_limit(&text, 600, Measure::Chars);
        assert!(out.chars().count() <= 600);
        let body = out.strip_suffix(TRUNCATION_NOTICE).expect("notice");
        assert!(body.ends_with("log line\n```\n</details>\n"), "{body}");
    }

    #[test]
    fn tiny_limit_gives_a_bare_cut() {
        let out = cut_to_limit("ééééé\nabc", 3, Measure::Chars);
        assert_eq!(out, "ééé");
        let out = cut_to_limit("ééééé\nabc", 3, Measure::Bytes);
        assert_eq!(out, "é");
    }

    #[test]
    fn cut_line_ends_with_an_ellipsis() {
        assert_eq!(cut_line("abcdef", 4), "abc…");
        assert_eq!(cut_line("abc", 3), "abc");
        assert_eq!(cut_line("ééé", 2), "é…");
    }

    proptest! {
        #[test]
        fn cut_fits_and_keeps_a_prefix(
            lines in proptest::collection::vec("[a-zé€😀 |`~<>/]{0,40}", 0..60),
            limit in 0usize..800,
            bytes in any::<bool>(),
        ) {
            let text = lines.join("\n");
            let m = if bytes { Measure::Bytes } else { Measure::Chars };
            let out = cut_to_limit(&text, limit, m);
            prop_assert!(m.len(&out) <= limit);
            if m.len(&text) <= limit {
                prop_assert_eq!(out.as_ref(), text.as_str());
            } else if let Some(body) = out.strip_suffix(TRUNCATION_NOTICE) {
                // What precedes the closers is a prefix of the input.
                let mut rest = body;
                while let Some(r) = rest.strip_suffix("</details>\n") {
                    rest = r;
                }
                let rest = rest
                    .strip_suffix("```\n")
                    .or_else(|| rest.strip_suffix("~~~\n"))
                    .unwrap_or(rest);
                prop_assert!(
                    text.starts_with(rest) || text.starts_with(rest.strip_suffix('\n').unwrap_or(rest)),
                    "{:?} is not a prefix", rest
                );
            } else {
                prop_assert!(text.starts_with(out.as_ref()));
            }
        }
    }
}
