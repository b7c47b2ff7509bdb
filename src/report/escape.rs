//! Escaping text that came from a bundle, a gate file or a server before it
//! goes into Markdown (DESIGN.md §11): no table breakouts, no raw HTML, no
//! @-mentions, no code spans or links the author did not write.

/// Escape a string for use inside Markdown text or a table cell: newlines
/// become spaces; `|` and Markdown punctuation are backslash-escaped; `&`,
/// `<`, `>` and `@` become HTML entities (so `@team` does not notify anyone
/// and `<img>` is shown, not rendered).
pub fn escape_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    // Controls, line breaks, bidi controls: the one foreign-text mapping.
    for c in s.chars().filter_map(crate::wording::foreign::neutral_char) {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '@' => out.push_str("&#64;"),
            c => out.push(c),
        }
    }
    out
}

/// A code span holding arbitrary text: the fence is one backtick longer than
/// the longest run inside (CommonMark §6.1), newlines become spaces, and a
/// pipe is escaped so the span survives inside a table cell.
pub fn escape_markdown_code(s: &str) -> String {
    let clean: String = s
        .chars()
        .filter_map(crate::wording::foreign::neutral_char)
        .collect::<String>()
        .replace('|', "\\|");
    let mut longest = 0;
    let mut run = 0;
    for c in clean.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    let pad = if clean.starts_with('`') || clean.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{clean}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_table_breakouts_html_mentions_and_code() {
        assert_eq!(
            escape_markdown("a|b\nc <img src=x> @team `x` [l](u) *b* & done"),
            "a\\|b c &lt;img src=x&gt; &#64;team \\`x\\` \\[l\\](u) \\*b\\* &amp; done"
        );
        assert_eq!(escape_markdown("vllm:0.6.3"), "vllm:0.6.3");
    }

    #[test]
    fn code_spans_survive_backticks_and_pipes() {
        assert_eq!(escape_markdown_code("abc"), "`abc`");
        assert_eq!(escape_markdown_code("a`b"), "``a`b``");
        assert_eq!(escape_markdown_code("`x"), "`` `x ``");
        assert_eq!(escape_markdown_code("a|b\nc"), "`a\\|b c`");
    }
}
