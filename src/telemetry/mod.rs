//! Server telemetry: reading a Prometheus `/metrics` exposition (vLLM,
//! llama.cpp, the simulator, any server) and deriving window deltas and
//! quantiles from it.

mod prometheus;

pub use prometheus::{Exposition, HistogramSnapshot, MetricSample, ParseError, parse_exposition};
