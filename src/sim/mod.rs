//! The simulated OpenAI-compatible server (DESIGN.md §8): continuous
//! batching with slots, a FIFO queue and a KV-token budget; prefill and
//! decode times from a profile; seeded faults; host noise (a run-to-run
//! slowdown, host stalls); Prometheus `/metrics`.
//! Used by `sim://NAME`, `tokengate sim` and the tests.

mod clock;
mod error;
mod model;
mod noise;
mod profile;
mod server;
mod telemetry;
mod wire;

pub use error::SimError;
pub use model::{
    FaultKind, Scheduler, SlotGuard, Stream, count_words, model_latencies, request_rng,
};
pub use noise::{fresh_seed, run_slowdown};
pub use profile::{BUILTIN_PROFILES, FaultProfile, HostStalls, RunNoise, SimProfile};
pub use server::{SimServer, SimState, app};
pub use telemetry::SimCounters;
