//! Scraping a server's Prometheus `/metrics` around and during a run: once
//! when the run starts, again the moment the measurement window opens (after
//! warm-up), at an interval during it (for gauge peaks and the timeline),
//! and once at the end. Scrapes are bounded (2 s timeout each) and never
//! fail the run: a server without `/metrics` simply has no server telemetry.
//! Every successful scrape adds a point to a bounded timeline, so a soak can
//! show the server's gauges and memory over hours.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::prometheus::{Exposition, parse_exposition};
use super::server::{GaugePeaks, ServerKind, scrape_point, summarize};
use crate::bundle::{ServerScrape, ServerTelemetry};
use crate::client::EndpointUrl;
use crate::driver::RunEvents;

/// Most points the timeline keeps: a day at one scrape a second would be
/// 86,400; thinning keeps it under this (≈ 0.5 MB of JSON).
pub const MAX_TIMELINE_POINTS: usize = 10_000;

/// Scrape points in time order, bounded: when full, every other point is
/// dropped and from then on only every other new one is kept, so the
/// points stay evenly spaced (every `stride`-th scrape) however long the
/// run. Times are instants until the window's origin is known.
struct Timeline {
    points: Vec<(Instant, ServerScrape)>,
    cap: usize,
    /// Keep scrape number k when k % stride == 0.
    stride: u64,
    seen: u64,
}

impl Timeline {
    fn new(cap: usize) -> Timeline {
        Timeline {
            points: Vec::new(),
            cap: cap.max(2),
            stride: 1,
            seen: 0,
        }
    }

    fn push(&mut self, at: Instant, point: ServerScrape) {
        let k = self.seen;
        self.seen += 1;
        if k % self.stride != 0 {
            return;
        }
        self.points.push((at, point));
        if self.points.len() >= self.cap {
            // Kept points are scrapes 0, s, 2s, …: keeping the even
            // positions leaves 0, 2s, 4s, … — the new stride.
            let mut i = 0;
            self.points.retain(|_| {
                let keep = i % 2 == 0;
                i += 1;
                keep
            });
            self.stride *= 2;
        }
    }

    /// Points with `t_s` in seconds since `origin` (negative before it).
    fn finish(self, origin: Instant) -> Vec<ServerScrape> {
        self.points
            .into_iter()
            .map(|(at, mut p)| {
                p.t_s = if at >= origin {
                    (at - origin).as_secs_f64()
                } else {
                    -(origin - at).as_secs_f64()
                };
                p.t_s = (p.t_s * 1e3).round() / 1e3;
                p
            })
            .collect()
    }
}

/// One GET of the metrics URL, parsed.
async fn scrape(client: &reqwest::Client, url: &MetricsTarget) -> Option<Exposition> {
    let mut req = client.get(url.request.clone());
    if let Some(v) = &url.auth {
        req = req.header(reqwest::header::AUTHORIZATION, v.clone());
    }
    let resp = req.send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let text = resp.text().await.ok()?;
    parse_exposition(&text).ok()
}

/// The metrics URL as sent (user info moved into one `Authorization`
/// header) and as shown (redacted).
struct MetricsTarget {
    shown: EndpointUrl,
    request: reqwest::Url,
    auth: Option<reqwest::header::HeaderValue>,
}

/// A server whose `/metrics` answered, with its first scrape.
pub struct Scraper {
    client: reqwest::Client,
    url: MetricsTarget,
    kind: ServerKind,
    first: Exposition,
    /// When the first scrape was sent.
    first_at: Instant,
}

impl Scraper {
    /// Scrape once; `None` when the endpoint has no usable `/metrics`. Call
    /// before the first request so the window's start is exact.
    pub async fn connect(url: EndpointUrl) -> Option<Scraper> {
        let url = MetricsTarget {
            request: url.request_url(),
            auth: url.authorization(None).ok().flatten(),
            shown: url,
        };
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder().timeout(Duration::from_secs(2));
        let client = crate::client::tls::roots_and_redirects_for(client, &url.request)
            .build()
            .ok()?;
        let first_at = Instant::now();
        let first = scrape(&client, &url).await?;
        Some(Scraper {
            kind: ServerKind::detect(&first),
            client,
            url,
            first,
            first_at,
        })
    }

    /// Scrape at `interval` (gauge peaks, timeline) until `events.done`.
    /// With `rebase_at_measuring` (a warm-up precedes the window), the scrape
    /// made when the window opens replaces the first one as the window's
    /// start. Timeline times count from the moment the window opened (the
    /// `measuring` event; the first scrape when it never came).
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
            first_at,
        } = self;
        let mut peaks = GaugePeaks::default();
        peaks.observe(kind, &first);
        let mut timeline = Timeline::new(MAX_TIMELINE_POINTS);
        timeline.push(first_at, scrape_point(kind, &first, 0.0));
        let mut start = first;
        let mut scrapes = 1u64;
        let mut origin: Option<Instant> = None;
        let mut last: Option<Exposition> = None;
        loop {
            tokio::select! {
                _ = events.measuring.notified(), if origin.is_none() => {
                    let at = Instant::now();
                    origin = Some(at);
                    if rebase_at_measuring && let Some(e) = scrape(&client, &url).await {
                        scrapes += 1;
                        peaks.observe(kind, &e);
                        timeline.push(at, scrape_point(kind, &e, 0.0));
                        start = e;
                    }
                }
                _ = tokio::time::sleep(interval) => {
                    let at = Instant::now();
                    if let Some(e) = scrape(&client, &url).await {
                        scrapes += 1;
                        peaks.observe(kind, &e);
                        timeline.push(at, scrape_point(kind, &e, 0.0));
                        last = Some(e);
                    }
                }
                _ = events.done.notified() => break,
            }
        }
        // The closing scrape; fall back to the last periodic one.
        let at = Instant::now();
        let end = match scrape(&client, &url).await {
            Some(e) => {
                scrapes += 1;
                peaks.observe(kind, &e);
                timeline.push(at, scrape_point(kind, &e, 0.0));
                e
            }
            None => last?,
        };
        let mut telemetry = summarize(&url.shown.to_string(), scrapes, &start, &end, &peaks);
        telemetry.timeline = timeline.finish(origin.unwrap_or(first_at));
        Some(telemetry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t: f64) -> ServerScrape {
        ServerScrape {
            t_s: t,
            ..Default::default()
        }
    }

    #[test]
    fn timeline_stays_bounded_and_evenly_spaced() {
        let base = Instant::now();
        let mut tl = Timeline::new(8);
        for k in 0..100u64 {
            // Remember the scrape number in `t_s` to check which survive.
            tl.push(base + Duration::from_secs(k), point(k as f64));
        }
        assert!(tl.points.len() < 8, "{}", tl.points.len());
        let kept: Vec<f64> = tl.points.iter().map(|(_, p)| p.t_s).collect();
        // Stride 16 after three halvings: scrapes 0, 16, 32, …, 96.
        assert_eq!(kept, vec![0.0, 16.0, 32.0, 48.0, 64.0, 80.0, 96.0]);
        let out = tl.finish(base + Duration::from_millis(16_500));
        assert_eq!(out[0].t_s, -16.5);
        assert_eq!(out[2].t_s, 15.5);
    }

    #[test]
    fn a_short_run_keeps_every_scrape() {
        let base = Instant::now();
        let mut tl = Timeline::new(MAX_TIMELINE_POINTS);
        for k in 0..50u64 {
            tl.push(base + Duration::from_millis(100 * k), point(0.0));
        }
        let out = tl.finish(base);
        assert_eq!(out.len(), 50);
        assert_eq!(out[49].t_s, 4.9);
    }
}
