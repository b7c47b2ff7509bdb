//! From clap types to domain types.

use super::args::CliRunArgs;
use crate::workload::Overrides;

pub fn overrides_of(a: &CliRunArgs) -> Overrides {
    Overrides {
        endpoint: a.endpoint.clone(),
        requests: a.requests,
        duration: a.duration,
        concurrency: a.concurrency,
        rate: a.rate,
        seed: a.seed,
        meta: a.meta.clone(),
    }
}
