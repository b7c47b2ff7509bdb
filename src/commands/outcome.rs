//! What a command shows the user, as data: every `commands::<name>::run`
//! returns an [`Outcome`] and `main` is the one place that prints it. Tests
//! read the same value, so the whole user-visible output of a command can be
//! checked in process.

use std::path::PathBuf;
use std::sync::Arc;

use crate::driver::StopSignal;
use crate::exit_code;

/// How a command ended: the process exit status, over [`crate::exit_code`].
///
/// Adding a status: a variant, its arm in [`Status::code`], its entry in
/// [`Status::ALL`] (the round-trip test checks the last two agree).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Every rule passed (or only warned), or a command without a verdict
    /// succeeded.
    Pass,
    /// A `fail`-severity rule failed: a real regression.
    Fail,
    /// The tool could not do its job (usage, configuration, I/O, endpoint).
    ToolError,
    /// Inconclusive and the gate's policy blocks on it.
    Inconclusive,
    /// The candidate run is invalid; no rule was judged.
    Invalid,
    /// Stopped by SIGINT/SIGTERM; what was measured was still written.
    Interrupted,
}

impl Status {
    /// Every status, for [`Status::from_code`].
    pub const ALL: [Status; 6] = [
        Status::Pass,
        Status::Fail,
        Status::ToolError,
        Status::Inconclusive,
        Status::Invalid,
        Status::Interrupted,
    ];

    /// The documented exit code.
    pub const fn code(self) -> i32 {
        match self {
            Status::Pass => exit_code::PASS,
            Status::Fail => exit_code::FAIL,
            Status::ToolError => exit_code::TOOL_ERROR,
            Status::Inconclusive => exit_code::INCONCLUSIVE,
            Status::Invalid => exit_code::INVALID,
            Status::Interrupted => exit_code::INTERRUPTED,
        }
    }

    /// The status of a documented exit code (e.g. a gate report's).
    pub fn from_code(code: i32) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.code() == code)
    }
}

/// What a command produced for the user. `main` prints `stdout`, then the
/// workflow commands, on stdout; the notes (`tokengate: …`), the warnings
/// (`tokengate: warning: …`) and the error (`error: …`) on stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The command's text for stdout (summaries, verdicts, `report:` lines).
    pub stdout: String,
    /// CI workflow-command lines (GitHub `::error …`, `::warning …`), for
    /// stdout after `stdout`: the runner reads them there.
    pub workflow_commands: Vec<String>,
    /// Informational lines for stderr.
    pub notes: Vec<String>,
    /// Problems that did not stop the command, for stderr.
    pub warnings: Vec<String>,
    /// Files the command wrote (bundles, reports), in the order written.
    pub files: Vec<PathBuf>,
    pub status: Status,
    /// Why the command stopped short ([`Status::ToolError`]), as one line:
    /// the error and its causes. Set instead of returning `Err` when output
    /// was already produced, so that output is not lost.
    pub error: Option<String>,
}

impl Default for Outcome {
    fn default() -> Self {
        Outcome::new(Status::Pass)
    }
}

impl Outcome {
    /// Nothing to show yet, ending with `status`.
    pub fn new(status: Status) -> Outcome {
        Outcome {
            stdout: String::new(),
            workflow_commands: Vec::new(),
            notes: Vec::new(),
            warnings: Vec::new(),
            files: Vec::new(),
            status,
            error: None,
        }
    }

    /// A command that failed before it showed anything.
    pub fn from_error(e: &anyhow::Error) -> Outcome {
        Outcome::new(Status::Pass).failed(e)
    }

    /// Keep what was shown so far, then stop with `e` (exit 2).
    pub fn failed(mut self, e: &anyhow::Error) -> Outcome {
        self.status = Status::ToolError;
        self.error = Some(crate::error_chain(e.as_ref()));
        self
    }

    /// Append one line (a newline is added) to `stdout`.
    pub fn line(&mut self, text: &str) {
        self.stdout.push_str(text);
        self.stdout.push('\n');
    }

    /// Everything for stdout, as printed.
    /// The command's own lines go through the foreign-text neutraliser
    /// (they may quote key values or server text): no line of it can start
    /// with `::` or carry control characters. Only `workflow_commands`,
    /// built escaped by `ci::actions`, are workflow commands.
    pub fn stdout_text(&self) -> String {
        use crate::wording::foreign;
        let mut s = foreign::lines(&self.stdout);
        for c in &self.workflow_commands {
            s.push_str(c);
            s.push('\n');
        }
        s
    }

    /// Everything for stderr, as printed.
    pub fn stderr_text(&self) -> String {
        use crate::wording::foreign::one_line_max;
        let one_line = |t: &str| one_line_max(t, 16 * 1024);
        // Each note, warning and error is one line, whatever foreign text
        // (server bodies, key values, file contents) it quotes.
        let mut s = String::new();
        for n in &self.notes {
            s.push_str(&format!("tokengate: {}\n", one_line(n)));
        }
        for w in &self.warnings {
            s.push_str(&format!("tokengate: warning: {}\n", one_line(w)));
        }
        if let Some(e) = &self.error {
            s.push_str(&format!("error: {}\n", one_line(e)));
        }
        s
    }
}

/// What `main` needs to know about a command's options before running it.
pub trait CommandOptions {
    /// The signal SIGINT/SIGTERM should set, for commands that stop cleanly
    /// (write what they measured) when interrupted. Commands without one
    /// keep the default disposition: an interrupt ends the process.
    fn stop_signal(&self) -> Option<Arc<StopSignal>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_through_its_exit_code() {
        for s in Status::ALL {
            assert_eq!(Status::from_code(s.code()), Some(s));
        }
        assert_eq!(Status::from_code(42), None);
        assert_eq!(Status::Interrupted.code(), 130);
    }

    #[test]
    fn stderr_has_notes_then_warnings_then_the_error_with_their_prefixes() {
        let mut o = Outcome::default();
        o.line("summary");
        o.workflow_commands.push("::warning title=t::w".into());
        o.warnings.push("careful".into());
        o.notes.push("wrote x".into());
        let o = o.failed(&anyhow::anyhow!("root").context("outer"));
        assert_eq!(o.status, Status::ToolError);
        assert_eq!(o.stdout_text(), "summary\n::warning title=t::w\n");
        assert_eq!(
            o.stderr_text(),
            "tokengate: wrote x\ntokengate: warning: careful\nerror: outer: root\n"
        );
    }

    proptest::proptest! {
        /// Whatever foreign text a command puts in its summary, notes,
        /// warnings or error, no printed line is a workflow command or
        /// carries a control character; the escaped workflow commands are
        /// the only `::` lines.
        #[test]
        fn no_foreign_text_prints_a_workflow_command(
            s in "(\\PC|\n|\r|\u{1b}|\u{85}|\u{2028}|\u{202E}|::| ){0,40}"
        ) {
            let mut o = Outcome::default();
            o.line(&format!("meta: {s}"));
            o.line(&s);
            o.notes.push(s.clone());
            o.warnings.push(s.clone());
            // An annotation quoting the text is the one workflow command.
            o.workflow_commands.push(crate::ci::annotation(
                crate::ci::AnnotationLevel::Warning,
                &s,
                &format!("rule {s} failed"),
            ));
            let o = o.failed(&anyhow::anyhow!("{s}"));
            let stdout = o.stdout_text();
            let (commands, rest): (Vec<&str>, Vec<&str>) =
                stdout.lines().partition(|l| l.starts_with("::warning"));
            proptest::prop_assert_eq!(commands.len(), 1, "{:?}", stdout);
            for line in commands.iter().chain(&rest) {
                proptest::prop_assert!(
                    !line.chars().any(|c| c.is_control() && c != '\t'),
                    "{line:?}"
                );
            }
            for line in rest.into_iter().chain(o.stderr_text().lines()) {
                proptest::prop_assert!(!line.trim_start().starts_with("::"), "{line:?}");
                proptest::prop_assert!(
                    !line.chars().any(|c| c.is_control() && c != '\t'),
                    "{line:?}"
                );
            }
            proptest::prop_assert_eq!(o.stderr_text().lines().count(), 3);
        }
    }

    #[test]
    fn an_error_chain_repeats_no_cause_already_in_the_message() {
        let e = anyhow::anyhow!("file.yaml: bad").context("cannot load file.yaml: bad");
        assert_eq!(
            Outcome::from_error(&e).error.as_deref(),
            Some("cannot load file.yaml: bad")
        );
    }
}
