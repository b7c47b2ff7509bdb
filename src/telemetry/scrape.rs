//! Scraping a server's Prometheus `/metrics` around and during a run: once
//! when the run starts, again the moment the measurement window opens (after
//! warm-up), at an interval during it (for gauge peaks), and once at the end.
//! Scrapes are bounded (2 s timeout each) and never fail the run: a server
//! without `/metrics` simply has no server telemetry.

use std::sync::Arc;
use std::time::Duration;

use super::prometheus::{Exposition, parse_exposition};
use super::server::{GaugePeaks, ServerKind, summarize};
use crate::bundle::ServerTelemetry;
use crate::driver::RunEvents;

/// One GET of the metrics URL, parsed.
async fn scrape(client: &reqwest::Client, url: &str) -> Option<Exposition> {
    let resp = client.get(url).send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let text = resp.text().await.ok()?;
    parse_exposition(&text).ok()
}

/// The `/metrics` URL of an OpenAI-compatible base URL (`…/v1`).
pub fn default_metrics_url(base_url: &str) -> String {
    let root = base_url.trim_end_matches('/');
    let root = root.strip_suffix("/v1").unwrap_or(root);
    format!("{root}/metrics")
}

/// A server whose `/metrics` answered, with its first scrape.
pub struct Scraper {
    client: reqwest::Client,
    url: String,
    kind: ServerKind,
    first: Exposition,
}

impl Scraper {
    /// Scrape once; `None` when the endpoint has no usable `/metrics`. Call
    /// before the first request so the window's start is exact.
    pub async fn connect(url: String) -> Option<Scraper> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .ok()?;
        let first = scrape(&client, &url).await?;
        Some(Scraper {
            kind: ServerKind::detect(&first),
            client,
            url,
            first,
        })
    }

    /// Scrape at `interval` (gauge peaks) until `events.done`. With
    /// `rebase_at_measuring` (a warm-up precedes the window), the scrape made
    /// when the window opens replaces the first one as the window's start.
    pub async fn run(
        self,
        interval: Duration,
        events: Arc<RunEvents>,
        rebase_at_measuring: bool,
    ) -> Option<ServerTelemetry> {
        let Scraper {
            client,
            url,
            kind,
            first,
        } = self;
        let mut peaks = GaugePeaks::default();
        peaks.observe(kind, &first);
        let mut start = first;
        let mut scrapes = 1u64;
        let mut rebased = !rebase_at_measuring;
        let mut last: Option<Exposition> = None;
        loop {
            tokio::select! {
                _ = events.measuring.notified(), if !rebased => {
                    rebased = true;
                    if let Some(e) = scrape(&client, &url).await {
                        scrapes += 1;
                        peaks.observe(kind, &e);
                        start = e;
                    }
                }
                _ = tokio::time::sleep(interval) => {
                    if let Some(e) = scrape(&client, &url).await {
                        scrapes += 1;
                        peaks.observe(kind, &e);
                        last = Some(e);
                    }
                }
                _ = events.done.notified() => break,
            }
        }
        // The closing scrape; fall back to the last periodic one.
        let end = match scrape(&client, &url).await {
            Some(e) => {
                scrapes += 1;
                peaks.observe(kind, &e);
                e
            }
            None => last?,
        };
        Some(summarize(&url, scrapes, &start, &end, &peaks))
    }
}
