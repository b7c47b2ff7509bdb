//! Foreign text — server strings (model ids, error bodies), key values
//! (`--meta`, `TOKENGATE_*`, the workload's `key:`), file contents — made
//! safe to print. This is the one neutraliser: every byte of foreign text
//! that reaches stdout or stderr goes through it (at the latest in
//! `commands::Outcome`'s printers), so a printed line cannot start with `::`
//! (a live GitHub workflow command), nor carry ESC/C0/C1 controls, bidi
//! overrides or an embedded line break. Renderers of files (JUnit XML,
//! JSON verdicts) bound what they copy with [`cut`].

/// Most characters of one foreign value kept in a printed line or a
/// report field; the rest is cut and the cut is said.
pub const MAX_FOREIGN_CHARS: usize = 1024;

/// What a foreign character becomes: kept, replaced (controls and line
/// breaks by a space), or dropped (bidi controls). Every sink of foreign
/// text (terminal, Markdown, CI logs) maps characters through this.
pub fn neutral_char(c: char) -> Option<char> {
    match c {
        // Line and paragraph separators render as breaks in some terminals.
        '\u{2028}' | '\u{2029}' => Some(' '),
        c if c.is_control() => Some(' '),
        // Bidi embeddings, overrides, isolates and marks (Trojan Source):
        // they reorder what the reader sees.
        '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{061C}' => None,
        // Noncharacters: not allowed in XML, meaningless in text.
        '\u{FDD0}'..='\u{FDEF}' => Some('\u{FFFD}'),
        c if (c as u32) & 0xFFFE == 0xFFFE => Some('\u{FFFD}'),
        c => Some(c),
    }
}

/// Whether `c` survives [`one_line`] unchanged.
pub fn is_neutral_char(c: char) -> bool {
    neutral_char(c) == Some(c)
}

/// A foreign value as one safe line: controls and line breaks become
/// spaces, bidi controls are dropped, noncharacters become U+FFFD, at most
/// [`MAX_FOREIGN_CHARS`] characters are kept (the cut is said), and a value
/// that would start a line with `::` is prefixed with `\`.
pub fn one_line(s: &str) -> String {
    one_line_max(s, MAX_FOREIGN_CHARS)
}

/// [`one_line`] with at most `max` characters (a whole error chain).
pub fn one_line_max(s: &str, max: usize) -> String {
    guard(&cut(&clean(s, false), max))
}

/// `s` with at most `max` characters; when longer, the kept part and
/// ` … [cut: N more characters]`.
pub fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((i, _)) => {
            let more = s[i..].chars().count();
            format!("{} … [cut: {more} more characters]", &s[..i])
        }
    }
}

/// Text whose line breaks are the tool's own (a summary, a report on
/// stdout): each line cleaned as in [`one_line`] (tabs kept, no length cap)
/// and guarded against a leading `::`.
pub fn lines(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for piece in s.split_inclusive('\n') {
        let (line, nl) = match piece.strip_suffix('\n') {
            Some(l) => (l.strip_suffix('\r').unwrap_or(l), true),
            None => (piece, false),
        };
        out.push_str(&guard(&clean(line, true)));
        if nl {
            out.push('\n');
        }
    }
    out
}

fn clean(s: &str, keep_tabs: bool) -> String {
    s.chars()
        .filter_map(|c| {
            if keep_tabs && c == '\t' {
                Some(c)
            } else {
                neutral_char(c)
            }
        })
        .collect()
}

/// A line whose first non-blank characters are `::` gets a `\` in front,
/// so the CI runner does not read it as a workflow command.
fn guard(line: &str) -> String {
    if line.trim_start().starts_with("::") {
        format!("\\{line}")
    } else {
        line.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn workflow_commands_controls_and_bidi_are_neutralised() {
        assert_eq!(one_line("::add-mask::x"), "\\::add-mask::x");
        assert_eq!(one_line("a\n::error::owned"), "a ::error::owned");
        assert_eq!(one_line("\u{1b}[31mred"), " [31mred");
        assert_eq!(one_line("\u{9b}31m"), " 31m");
        assert_eq!(one_line("ab\u{202E}cd\u{2066}"), "abcd");
        assert_eq!(one_line("x\u{FFFE}\u{FFFF}"), "x\u{FFFD}\u{FFFD}");
        assert_eq!(
            lines("ok\n::stop-commands::t\n  ::x\n"),
            "ok\n\\::stop-commands::t\n\\  ::x\n"
        );
        assert_eq!(lines("a\r\nb\tc"), "a\nb\tc");
    }

    #[test]
    fn long_values_are_cut_and_say_so() {
        let s = "é".repeat(MAX_FOREIGN_CHARS + 10);
        let out = one_line(&s);
        assert!(out.ends_with("… [cut: 10 more characters]"), "{out}");
        assert_eq!(cut("short", 10), "short");
    }

    proptest! {
        #[test]
        fn no_line_starts_with_a_workflow_command(s in "(:|\n|\r|\u{1b}|\u{85}|\u{2028}| |a|\u{202E}|\u{FFFE})*") {
            for line in lines(&s).lines().chain([one_line(&s).as_str()]) {
                prop_assert!(!line.trim_start().starts_with("::"), "{line:?}");
                prop_assert!(line.chars().all(|c| c == '\t' || is_neutral_char(c)), "{line:?}");
            }
            prop_assert!(!one_line(&s).contains('\n'));
        }
    }
}
