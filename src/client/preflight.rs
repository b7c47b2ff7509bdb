//! Preflight: before the timed window, make sure the endpoint answers and
//! serves the model (`GET {base}/models`), waiting a bounded time for a
//! server that is still starting. A wrong URL or model name then fails in
//! seconds with one clear message, instead of as hundreds of failed requests.

use std::time::{Duration, Instant};

use super::EndpointUrl;

#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    #[error("endpoint {url} did not answer within {} (last error: {last})", seconds(*waited))]
    Unreachable {
        url: EndpointUrl,
        waited: Duration,
        last: String,
    },
    #[error(
        "endpoint {url} rejected the API key (HTTP {status}); check the variable named by `api_key_env`"
    )]
    Unauthorized { url: EndpointUrl, status: u16 },
    #[error(
        "endpoint {url} refused the connection ({last}); nothing listens there — to wait for a server that is still starting, set the workload's `preflight.wait`"
    )]
    Refused { url: EndpointUrl, last: String },
    #[error("model `{model}` is not served by {url}; it serves: {served}")]
    UnknownModel {
        /// Neutralised by the constructor.
        model: String,
        url: EndpointUrl,
        served: String,
    },
}

/// What preflight learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preflight {
    /// Model ids listed by the server (empty when it has no `/models`).
    pub served: Vec<String>,
    /// Set when the check could not be made (e.g. no `/models` route).
    pub warning: Option<String>,
}

/// A model list larger than this is not read further (a hostile or broken
/// server cannot exhaust memory); it then fails to parse and the model name
/// is not checked, with a warning.
const MAX_MODEL_LIST_BYTES: usize = 4 << 20;

/// The body, at most `cap` bytes (bounded in time by the client's timeout).
async fn read_capped(mut resp: reqwest::Response, cap: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        if body.len() + chunk.len() > cap {
            return Vec::new();
        }
        body.extend_from_slice(&chunk);
    }
    body
}

#[derive(serde::Deserialize)]
struct ModelList {
    data: Vec<ModelEntry>,
}

#[derive(serde::Deserialize)]
struct ModelEntry {
    id: String,
}

/// A wait as the error prints it: seconds with one decimal (`10.0 s`).
fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// Whether a request error is a refused TCP connection (nothing listens).
fn is_refused(e: &reqwest::Error) -> bool {
    crate::error_sources(e)
        .filter_map(|s| s.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
}

/// Check `base_url` (ending in `/v1`) serves `model`, retrying connection
/// failures and 5xx answers until `wait` has passed — a refused connection
/// only when `retry_refused` (the workload asked to wait for a starting
/// server); otherwise it ends the preflight at once.
pub async fn preflight(
    base_url: &EndpointUrl,
    api_key: Option<&str>,
    model: &str,
    wait: Duration,
    retry_refused: bool,
) -> Result<Preflight, PreflightError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = base_url.join("models");
    let request_url = url.request_url();
    // The one Authorization header (Bearer wins over the URL's user info).
    let auth = base_url
        .authorization(api_key)
        .map_err(|_| PreflightError::Unreachable {
            url: url.clone(),
            waited: Duration::ZERO,
            last:
                "the API key contains characters that cannot go in an HTTP header (value not shown)"
                    .into(),
        })?;
    let unreachable = |last: String, waited| PreflightError::Unreachable {
        url: url.clone(),
        waited,
        last,
    };
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5));
    let client = super::tls::roots_and_redirects_for(client, &request_url)
        .build()
        .map_err(|e| unreachable(crate::error_chain(&e.without_url()), Duration::ZERO))?;
    let start = Instant::now();
    loop {
        let mut req = client.get(request_url.clone());
        if let Some(v) = &auth {
            req = req.header(reqwest::header::AUTHORIZATION, v.clone());
        }
        let last = match req.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                match status {
                    200 => {
                        let body = read_capped(resp, MAX_MODEL_LIST_BYTES).await;
                        return match serde_json::from_slice::<ModelList>(&body) {
                            Ok(list) => {
                                let served: Vec<String> =
                                    list.data.into_iter().map(|m| m.id).collect();
                                if served.iter().any(|m| m == model) {
                                    Ok(Preflight {
                                        served,
                                        warning: None,
                                    })
                                } else {
                                    Err(PreflightError::UnknownModel {
                                        model: crate::wording::foreign::one_line(model),
                                        url: base_url.clone(),
                                        // Server text: one neutralised line.
                                        served: if served.is_empty() {
                                            "nothing".into()
                                        } else {
                                            crate::wording::foreign::one_line(
                                                &served
                                                    .iter()
                                                    .map(|m| format!("`{m}`"))
                                                    .collect::<Vec<_>>()
                                                    .join(", "),
                                            )
                                        },
                                    })
                                }
                            }
                            Err(_) => Ok(Preflight {
                                served: Vec::new(),
                                warning: Some(format!(
                                    "{url} did not return an OpenAI model list; the model name was not checked"
                                )),
                            }),
                        };
                    }
                    401 | 403 => {
                        return Err(PreflightError::Unauthorized {
                            url: base_url.clone(),
                            status,
                        });
                    }
                    // Some servers have no model list: answer, but say so.
                    404 | 405 => {
                        return Ok(Preflight {
                            served: Vec::new(),
                            warning: Some(format!(
                                "{url} answered HTTP {status}; the model name was not checked"
                            )),
                        });
                    }
                    // Starting up (503) or otherwise unwell: wait and retry.
                    _ => format!("HTTP {status}"),
                }
            }
            // Without the URL: its query may hold a key.
            Err(e) => {
                let refused = is_refused(&e);
                let last = crate::error_chain(&e.without_url());
                if refused && !retry_refused {
                    return Err(PreflightError::Refused {
                        url: url.clone(),
                        last,
                    });
                }
                last
            }
        };
        let waited = start.elapsed();
        if waited >= wait {
            return Err(unreachable(last, waited));
        }
        tokio::time::sleep(Duration::from_millis(250).min(wait - waited)).await;
    }
}
