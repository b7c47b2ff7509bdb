//! `tokengate sim`: serve the simulated OpenAI-compatible endpoint until the
//! stop signal (SIGINT/SIGTERM). The address is announced through
//! [`SimOptions::on_ready`] as soon as the socket is bound, because the
//! command only returns when it stops.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;

use super::outcome::{CommandOptions, Outcome};
use crate::driver::StopSignal;
use crate::sim::{SimProfile, SimServer};

/// Called once with the base URL (`http://IP:PORT/v1`) when the simulator
/// serves.
pub type ReadyHook = Box<dyn FnOnce(&str) + Send>;

/// Where the profile comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileSource {
    /// A YAML profile file.
    File(PathBuf),
    /// A built-in profile by name (`default`, `saturating`, …).
    Builtin(String),
}

/// Command-line values that replace the profile's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileOverrides {
    pub ttft_ms: Option<f64>,
    pub tpot_ms: Option<f64>,
    pub slots: Option<u32>,
    pub seed: Option<u64>,
    pub error_rate: Option<f64>,
}

pub struct SimOptions {
    pub profile: ProfileSource,
    pub overrides: ProfileOverrides,
    /// Address to bind (port 0 picks a free one).
    pub addr: SocketAddr,
    /// Serving ends when this is set.
    pub stop: Arc<StopSignal>,
    pub on_ready: Option<ReadyHook>,
}

impl CommandOptions for SimOptions {
    fn stop_signal(&self) -> Option<Arc<StopSignal>> {
        Some(self.stop.clone())
    }
}

/// Serve until stopped; exit 0.
pub async fn run(opts: SimOptions) -> anyhow::Result<Outcome> {
    let profile = profile_of(&opts.profile, &opts.overrides)?;
    let addr = opts.addr;
    let server = SimServer::start(profile, addr)
        .await
        .with_context(|| format!("cannot serve the simulator on {addr}"))?;
    if let Some(ready) = opts.on_ready {
        ready(&server.base_url());
    }
    opts.stop.wait().await;
    server.shutdown().await;
    Ok(Outcome::default())
}

/// The profile from its source with the overrides applied, validated.
pub(super) fn profile_of(
    source: &ProfileSource,
    o: &ProfileOverrides,
) -> anyhow::Result<SimProfile> {
    let mut profile = match source {
        ProfileSource::File(p) => SimProfile::from_yaml_file(p)?,
        ProfileSource::Builtin(name) => SimProfile::builtin(name)?,
    };
    if let Some(v) = o.ttft_ms {
        profile.ttft_ms = v;
    }
    if let Some(v) = o.tpot_ms {
        profile.tpot_ms = v;
    }
    if let Some(v) = o.slots {
        profile.slots = v;
    }
    if let Some(v) = o.seed {
        profile.seed = v;
        // `--seed` is the seed of every random choice: the run-noise factor
        // and the stall times too, unless the profile pins their own seeds.
        // Distinct offsets keep the three streams independent.
        if let Some(n) = profile.run_noise.as_mut() {
            n.seed = n.seed.or(Some(v ^ 0x52_554e_4e4f_4953)); // "RUNNOIS"
        }
        if let Some(h) = profile.host_stalls.as_mut() {
            h.seed = h.seed.or(Some(v ^ 0x53_5441_4c4c_5321)); // "STALLS!"
        }
    }
    if let Some(v) = o.error_rate {
        profile.faults.error_rate = v;
    }
    profile.validate()?;
    Ok(profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_flag_seeds_run_noise_and_stalls_unless_the_profile_pins_them() {
        let noisy = ProfileSource::Builtin("noisy".into());
        let seeded = ProfileOverrides {
            seed: Some(9),
            ..ProfileOverrides::default()
        };
        let a = profile_of(&noisy, &seeded).expect("noisy profile");
        let b = profile_of(&noisy, &seeded).expect("noisy profile");
        let noise = a.run_noise.as_ref().expect("noisy has run noise");
        let stalls = a.host_stalls.as_ref().expect("noisy has stalls");
        assert!(noise.seed.is_some() && stalls.seed.is_some());
        assert_ne!(noise.seed, stalls.seed, "independent streams");
        assert_eq!(a, b, "the same --seed gives the same profile");
        let unseeded = profile_of(&noisy, &ProfileOverrides::default()).expect("noisy");
        assert_eq!(unseeded.run_noise.and_then(|n| n.seed), None);

        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("p.yaml");
        std::fs::write(&file, "run_noise: {cv: 0.1, seed: 42}\n").expect("write");
        let pinned = profile_of(&ProfileSource::File(file), &seeded).expect("profile");
        assert_eq!(pinned.run_noise.and_then(|n| n.seed), Some(42));
    }
}
