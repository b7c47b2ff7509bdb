//! Which certificate roots an HTTP client of the run loads. reqwest builds
//! its TLS configuration when the client is built, and with the platform
//! verifier that reads and parses the system's CA bundle (some 150
//! certificates, milliseconds of CPU) — for each of the run's clients
//! (preflight, telemetry scrape, requests). A plain `http://` endpoint
//! needs none of it.

/// Redirects a client of the run follows at most (reqwest's default).
const MAX_REDIRECTS: usize = 10;

/// `builder` for a client that talks to `url` and follows no redirect:
/// for `http://`, no certificate roots at all; for `https://`, the
/// system's roots.
pub(crate) fn roots_for(
    builder: reqwest::ClientBuilder,
    url: &reqwest::Url,
) -> reqwest::ClientBuilder {
    if url.scheme() == "http" {
        builder.tls_certs_only(std::iter::empty())
    } else {
        builder
    }
}

/// [`roots_for`] for a client that follows redirects (preflight, telemetry
/// scrape): from an `http://` URL only to `http` targets — an `https`
/// target, which would need the roots not loaded, is not followed and the
/// 3xx is the answer; up to [`MAX_REDIRECTS`] as reqwest's default policy.
pub(crate) fn roots_and_redirects_for(
    builder: reqwest::ClientBuilder,
    url: &reqwest::Url,
) -> reqwest::ClientBuilder {
    if url.scheme() != "http" {
        return builder;
    }
    roots_for(builder, url).redirect(reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else if attempt.url().scheme() != "http" {
            attempt.stop()
        } else {
            attempt.follow()
        }
    }))
}
