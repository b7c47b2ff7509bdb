//! The [`Secret`] newtype that carries API tokens: it prints as `***` in
//! `Debug` and `Display`, so a token can sit inside structs that are logged
//! or returned in errors without ever reaching output.

use std::fmt;

/// An API token. Only [`Secret::expose`] gives the value back, and the
/// HTTP layer is its only caller (to build the authentication header).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a token. Surrounding whitespace (a trailing newline from a file or
    /// a copy-paste) is removed because it would make an invalid header.
    pub fn new(token: impl Into<String>) -> Secret {
        let token = token.into();
        let trimmed = token.trim();
        if trimmed.len() == token.len() {
            Secret(token)
        } else {
            Secret(trimmed.to_owned())
        }
    }

    /// The token from environment variable `var`, if it is set and not blank.
    /// Tokens come from the environment only, never from flags or files.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>, var: &str) -> Option<Secret> {
        env(var).map(Secret::new).filter(|s| !s.0.is_empty())
    }

    /// The token itself. Callers must not format, log or store it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Replace every occurrence of the token in `text` with `***` (servers
    /// sometimes echo request headers in error bodies).
    pub fn redact(&self, text: &str) -> String {
        // A very short token would redact ordinary words; real tokens are
        // long, and a short one is still never printed on purpose.
        if self.0.len() < 4 {
            return text.to_owned();
        }
        text.replace(&self.0, "***")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_token() {
        let s = Secret::new("ghp_verysecret123");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{:?}", Some(&s)), "Some(***)");
        assert_eq!(s.expose(), "ghp_verysecret123");
    }

    #[test]
    fn from_env_trims_and_ignores_blank_values() {
        let env = |k: &str| match k {
            "T" => Some(" tok-en\n".to_owned()),
            "BLANK" => Some("  ".to_owned()),
            _ => None,
        };
        assert_eq!(
            Secret::from_env(&env, "T").map(|s| s.0),
            Some("tok-en".into())
        );
        assert!(Secret::from_env(&env, "BLANK").is_none());
        assert!(Secret::from_env(&env, "MISSING").is_none());
    }

    #[test]
    fn redact_removes_every_occurrence() {
        let s = Secret::new("abcd1234");
        assert_eq!(s.redact("x abcd1234 y abcd1234"), "x *** y ***");
    }
}
