//! The endpoint URL, parsed once from the user's text. Its `Display`,
//! `Debug` and `Serialize` are the redacted form (user info and every query
//! value replaced by `***`, no fragment), so a bundle, a baseline, a log line
//! or an error message cannot carry the password or key an endpoint URL may
//! hold. The secret parts are reachable only through [`EndpointUrl::request_url`]
//! and [`EndpointUrl::authorization`], which build requests.
//!
//! Derived URLs (`/chat/completions`, `/models`, `/metrics`) are joined on
//! the URL's *path*, so an Azure-style `…/v1?api-version=…` keeps its query
//! after the joined path.

use reqwest::Url;
use reqwest::header::HeaderValue;

/// What stands for a secret part in the redacted form.
const MASK: &str = "***";

/// Why the text of an endpoint is not a usable URL. The message never holds
/// the text itself (it may carry a password), only its redacted form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointUrlError {
    #[error(
        "expected `http://HOST:PORT/v1`, `https://…` or `sim://NAME`, got text that is not a URL ({reason})"
    )]
    NotAUrl { reason: String },
    #[error("expected `http://HOST:PORT/v1`, `https://…` or `sim://NAME`, got `{redacted}`")]
    Scheme { redacted: String },
}

/// The API key or the URL's user info holds bytes an HTTP header cannot
/// carry. The value is never shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the API key or the endpoint's user info contains characters that cannot go in an HTTP header (value not shown)"
)]
pub struct InvalidCredentials;

/// An `http`/`https` URL whose printed forms are redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct EndpointUrl {
    url: Url,
}

impl EndpointUrl {
    /// An OpenAI-compatible base URL: its path ends in `/v1` (appended
    /// when missing; trailing slashes dropped). Query and user info kept.
    pub fn parse_base(text: &str) -> Result<EndpointUrl, EndpointUrlError> {
        let mut url = Self::parse_exact(text)?.url;
        let path = url.path().trim_end_matches('/').to_string();
        if path.ends_with("/v1") {
            url.set_path(&path);
        } else {
            url.set_path(&format!("{path}/v1"));
        }
        url.set_fragment(None);
        Ok(EndpointUrl { url })
    }

    /// A URL used as given (e.g. `telemetry.metrics_url`).
    pub fn parse_exact(text: &str) -> Result<EndpointUrl, EndpointUrlError> {
        let url = Url::parse(text.trim()).map_err(|e| EndpointUrlError::NotAUrl {
            reason: e.to_string(),
        })?;
        let url = EndpointUrl { url };
        match url.url.scheme() {
            "http" | "https" => Ok(url),
            _ => Err(EndpointUrlError::Scheme {
                redacted: url.to_string(),
            }),
        }
    }

    /// `{path}/{suffix}` with the query and user info of `self`.
    pub fn join(&self, suffix: &str) -> EndpointUrl {
        let mut url = self.url.clone();
        let path = url.path().trim_end_matches('/').to_string();
        url.set_path(&format!("{path}/{}", suffix.trim_start_matches('/')));
        EndpointUrl { url }
    }

    /// The server's Prometheus `/metrics` next to an OpenAI base URL: the
    /// path without its `/v1`, then `/metrics`; query and user info kept.
    pub fn metrics(&self) -> EndpointUrl {
        let mut url = self.url.clone();
        let path = url.path().trim_end_matches('/');
        let root = path.strip_suffix("/v1").unwrap_or(path).to_string();
        url.set_path(&format!("{root}/metrics"));
        EndpointUrl { url }
    }

    /// The URL to send to: the query kept (it may be needed by the server,
    /// e.g. `api-version`), the user info removed (it goes into the
    /// `Authorization` header built by [`EndpointUrl::authorization`], so the
    /// HTTP stack never adds a second one of its own).
    pub fn request_url(&self) -> Url {
        let mut url = self.url.clone();
        // Only fails for URLs that cannot have user info, which have none.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url
    }

    /// Whether the URL carries `user[:password]@`.
    pub fn has_user_info(&self) -> bool {
        !self.url.username().is_empty() || self.url.password().is_some()
    }

    /// The one `Authorization` header of a request: `Bearer {api_key}` when
    /// a key is given (it wins over user info in the URL: the key is the
    /// explicit setting, see [`EndpointUrl::auth_conflict`]), else `Basic`
    /// from the URL's user info, else none. `Err` when the key holds bytes a
    /// header cannot carry. Marked sensitive so Debug output hides it.
    pub fn authorization(
        &self,
        api_key: Option<&str>,
    ) -> Result<Option<HeaderValue>, InvalidCredentials> {
        use base64::Engine as _;
        let text = match api_key {
            Some(key) => format!("Bearer {key}"),
            None if self.has_user_info() => {
                let user = percent_decode(self.url.username());
                let pass = self.url.password().map(percent_decode).unwrap_or_default();
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
                format!("Basic {token}")
            }
            None => return Ok(None),
        };
        let mut v = HeaderValue::from_str(&text).map_err(|_| InvalidCredentials)?;
        v.set_sensitive(true);
        Ok(Some(v))
    }

    /// The warning to print when the URL has user info and an API key is
    /// also set: only the Bearer key is sent.
    pub fn auth_conflict(&self, api_key_set: bool) -> Option<String> {
        (api_key_set && self.has_user_info()).then(|| {
            format!(
                "endpoint {self} has user info and `api_key_env` is set: only the API key is sent (Authorization: Bearer); the user info is ignored"
            )
        })
    }

    /// Same endpoint ignoring case (two sides of an A/B on one server).
    pub fn same_as(&self, other: &EndpointUrl) -> bool {
        self.url.as_str().eq_ignore_ascii_case(other.url.as_str())
    }
}

/// `%XX` decoded (user info is stored percent-encoded); invalid sequences
/// kept as they are, invalid UTF-8 replaced.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

impl std::fmt::Display for EndpointUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut url = self.url.clone();
        if self.has_user_info() {
            let _ = url.set_password(None);
            let _ = url.set_username(MASK);
        }
        url.set_fragment(None);
        if let Some(query) = self.url.query() {
            let masked: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) => format!("{k}={MASK}"),
                    None if pair.is_empty() => String::new(),
                    None => MASK.to_string(),
                })
                .collect();
            url.set_query(Some(&masked.join("&")));
        }
        f.write_str(url.as_str())
    }
}

impl std::fmt::Debug for EndpointUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EndpointUrl({self})")
    }
}

impl serde::Serialize for EndpointUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_forms_hide_user_info_and_query_values() {
        let u = EndpointUrl::parse_base("http://user:PASSWORD@127.0.0.1:8000/v1?api-key=KEY&x")
            .unwrap();
        let shown = u.to_string();
        assert_eq!(shown, "http://***@127.0.0.1:8000/v1?api-key=***&***");
        assert_eq!(format!("{u:?}"), format!("EndpointUrl({shown})"));
        assert_eq!(serde_json::to_string(&u).unwrap(), format!("\"{shown}\""));
        for derived in [u.join("models"), u.metrics(), u.join("chat/completions")] {
            let s = format!("{derived} {derived:?}");
            assert!(!s.contains("PASSWORD") && !s.contains("KEY"), "{s}");
        }
    }

    #[test]
    fn derived_paths_are_joined_on_the_path_and_keep_the_query() {
        let u =
            EndpointUrl::parse_base("https://h.example/openai/v1?api-version=2024-06-01").unwrap();
        assert_eq!(
            u.join("chat/completions").request_url().as_str(),
            "https://h.example/openai/v1/chat/completions?api-version=2024-06-01"
        );
        assert_eq!(
            u.join("models").request_url().as_str(),
            "https://h.example/openai/v1/models?api-version=2024-06-01"
        );
        assert_eq!(
            u.metrics().request_url().as_str(),
            "https://h.example/openai/metrics?api-version=2024-06-01"
        );
        let plain = EndpointUrl::parse_base("http://127.0.0.1:9/").unwrap();
        assert_eq!(plain.request_url().as_str(), "http://127.0.0.1:9/v1");
        assert_eq!(
            plain.metrics().request_url().as_str(),
            "http://127.0.0.1:9/metrics"
        );
    }

    #[test]
    fn one_authorization_header_and_bearer_wins() {
        let u = EndpointUrl::parse_base("http://us%40er:p%3Ass@127.0.0.1:9/v1").unwrap();
        assert_eq!(u.request_url().as_str(), "http://127.0.0.1:9/v1");
        let bearer = u.authorization(Some("k")).unwrap().unwrap();
        assert_eq!(bearer.to_str().unwrap(), "Bearer k");
        assert!(bearer.is_sensitive());
        let basic = u.authorization(None).unwrap().unwrap();
        // base64("us@er:p:ss")
        assert_eq!(basic.to_str().unwrap(), "Basic dXNAZXI6cDpzcw==");
        assert!(u.auth_conflict(true).is_some());
        assert!(u.auth_conflict(false).is_none());
        let none = EndpointUrl::parse_base("http://127.0.0.1:9").unwrap();
        assert_eq!(none.authorization(None).unwrap(), None);
    }

    #[test]
    fn errors_never_hold_the_secret() {
        let e = EndpointUrl::parse_base("ftp://u:PASSWORD@x/?k=KEY")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("PASSWORD") && !e.contains("KEY"), "{e}");
        let e = EndpointUrl::parse_base("http://u:PASSWORD@[bad")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("PASSWORD"), "{e}");
    }
}
