//! Fixtures shared by the crate's unit tests.

use crate::bundle::Bundle;

/// One run of the committed quickstart baseline set: a real bundle of the
/// built-in simulator, as `tokengate run` writes it.
pub(crate) fn committed_quickstart_run() -> Bundle {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("baselines/quickstart/simulated/o200k_base/sim-model@tokengate-sim_quickstart");
    let file = std::fs::read_dir(&dir)
        .expect("committed baselines")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("a run file");
    crate::bundle::read_bundle(&file).expect("a valid bundle")
}
