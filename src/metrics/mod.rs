//! The recorder: turns a stream of [`crate::client::RequestRecord`]s into the
//! bundle's metrics, HDR histograms, compact samples and error counts.

mod latency;
pub mod pool;
mod recorder;
mod steady;

pub use latency::{latency_stats_exact, latency_stats_hdr};
pub(crate) use recorder::us32;
pub use recorder::{
    OutputLengths, Recorded, Recorder, ScheduleFacts, cost_per_1k, decode_histogram,
};
