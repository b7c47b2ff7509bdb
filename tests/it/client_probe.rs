//! The client probe end to end: `context.client.saturated` means "the
//! client limited the measurement", not "the host was busy".

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::common::{run, start_sim, workload_yaml, write_workload};
use tokengate::sim::SimProfile;

/// TTFT 300 ms: the probe's limit is then a share of it (tens of ms), far
/// above what a loaded CI machine does to an idle client's runtime, and far
/// below a runtime blocked for 100 ms at a time.
fn profile() -> SimProfile {
    SimProfile {
        ttft_ms: 300.0,
        tpot_ms: 2.0,
        ..SimProfile::default()
    }
}

const LOAD: &str = "load: {mode: closed, concurrency: 8}\nrequests: 32\nwarmup: {requests: 8}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_on_an_unstarved_runtime_is_not_saturated() {
    let sim = start_sim(profile()).await;
    let dir = tempfile::tempdir().unwrap();
    let w = write_workload(
        dir.path(),
        "w.yaml",
        &workload_yaml(&sim.base_url(), 16, LOAD, ""),
    );
    let outcome = run(&w, &dir.path().join("b.json"), &[]).await.unwrap();
    sim.shutdown().await;
    let client = &outcome.bundle.context.client;
    let health = client.health.as_ref().expect("the window opened");
    eprintln!("{health:?}");
    assert_eq!(outcome.bundle.metrics.requests.succeeded, 32);
    assert!(!health.limited, "{}", health.reason);
    assert!(!client.saturated);
    assert!(client.warnings.is_empty(), "{:?}", client.warnings);
    // The probe covered the window: about one tick per period.
    let expected = health.window_s * 1e3 / health.tick_period_ms;
    assert!(
        health.ticks as f64 >= 0.5 * expected,
        "{} ticks over {} s",
        health.ticks,
        health.window_s
    );
    assert!(health.limit_ms >= 25.0, "limit {} ms", health.limit_ms);
}

/// One runtime thread shared by the client, the simulator and a task that
/// spins for 100 ms at a time without yielding: every event the client
/// reads waits behind the spin, so TTFT is inflated by the client itself.
#[tokio::test(flavor = "current_thread")]
async fn a_run_whose_runtime_is_starved_is_saturated_and_says_why() {
    let sim = start_sim(profile()).await;
    let dir = tempfile::tempdir().unwrap();
    let w = write_workload(
        dir.path(),
        "w.yaml",
        &workload_yaml(&sim.base_url(), 16, LOAD, ""),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let hog = tokio::spawn({
        let stop = stop.clone();
        async move {
            // Bounded: at most 60 s even if the run never ends.
            let until = Instant::now() + Duration::from_secs(60);
            while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                let spin = Instant::now() + Duration::from_millis(100);
                while Instant::now() < spin {
                    std::hint::spin_loop();
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });
    let outcome = run(&w, &dir.path().join("b.json"), &[]).await;
    stop.store(true, Ordering::Relaxed);
    hog.await.unwrap();
    sim.shutdown().await;
    let outcome = outcome.unwrap();
    let client = &outcome.bundle.context.client;
    let health = client.health.as_ref().expect("the window opened");
    eprintln!("{health:?}");
    assert!(health.limited, "{}", health.reason);
    assert!(health.tick_lag_p99_ms > health.limit_ms);
    assert!(client.saturated);
    assert_eq!(client.warnings, vec![health.reason.clone()]);
    assert!(
        health.reason.contains("limited the measurement"),
        "{}",
        health.reason
    );
    assert!(
        outcome
            .bundle
            .context
            .warnings
            .iter()
            .any(|w| w == &health.reason)
    );
}
