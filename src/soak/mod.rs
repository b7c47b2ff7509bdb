//! Soak analysis: a long measurement window cut into fixed intervals by
//! request start time, one snapshot per interval (`snapshot`: request and
//! failure counts, latency quantiles, throughput, client and server memory,
//! server gauges), and a trend test over each tracked series (`trend`) so
//! drift, memory growth or error creep over hours shows up as a sentence in
//! the report; `text` renders it for the terminal. Pure functions of the
//! bundle and the client's memory samples; the run itself is
//! `commands::soak`.

mod snapshot;
mod text;
mod trend;

use std::time::Duration;

use crate::bundle::{Bundle, SoakSection};

pub use snapshot::cut_intervals;
pub use text::render_soak_text;
pub use trend::{DRIFT_MIN_CHANGE, DRIFT_P_VALUE, MIN_TREND_POINTS};

/// The soak section of `bundle`: snapshots every `interval` of the
/// measurement window and a trend per series. `client_rss` holds the
/// client's resident memory samples (seconds since the window opened, MiB);
/// each snapshot takes the sample nearest its end, within half an interval.
/// Server memory and gauges come from `bundle.server.timeline`, from the
/// scrape nearest each snapshot's end, within half an interval.
pub fn soak_section(bundle: &Bundle, interval: Duration, client_rss: &[(f64, f64)]) -> SoakSection {
    let interval_s = interval.as_secs_f64();
    let snapshots = snapshot::snapshots(bundle, interval_s, client_rss);
    SoakSection {
        interval_s,
        trends: trend::trends(&snapshots),
        snapshots,
    }
}

#[cfg(test)]
mod tests;
