//! Server telemetry: reading a Prometheus `/metrics` exposition (vLLM,
//! llama.cpp, the simulator, any server), scraping it around a run, and
//! deriving window deltas, quantiles and gauge peaks from it.

mod prometheus;
mod scrape;
mod server;

pub use prometheus::{
    BucketQuantile, Exposition, HistogramSnapshot, MetricSample, ParseError, parse_exposition,
};
pub use scrape::Scraper;
pub use server::{GaugePeaks, ServerKind, summarize};
