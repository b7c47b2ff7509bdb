//! Estimators and tests behind the gate: quantiles (Hyndman-Fan type 7 and
//! Harrell-Davis), seeded bootstrap intervals of candidate/baseline ratios,
//! exact binomial bounds and Fisher's exact test for rates,
//! Benjamini-Hochberg adjustment across a gate's rules, minimum
//! detectable effects, and trend tests over time (Mann–Kendall,
//! Theil–Sen), and change points in a series of runs (E-divisive means).
//! Pure functions of their inputs and seed: the same inputs
//! and seed give bit-identical results on a given platform, however many
//! threads run the resamples.
//!
//! The noise model for comparisons on noisy hosts: per run, a stationary
//! block bootstrap over requests in start order with an automatic block
//! length ([`run_stat_quantile`], [`run_stat_ratio`], [`optimal_block_length`]);
//! across runs, the between-run variance and a t interval
//! ([`compare_runs`], [`between_run_variance`]); for interleaved A/B, a
//! bootstrap of time blocks of both sides together ([`paired_quantile`],
//! [`paired_ratio_of_sums`]).

mod beta;
mod block_bootstrap;
mod blocklen;
mod bootstrap;
mod changepoint;
mod dist;
mod estimate;
mod multiple;
#[cfg(test)]
mod noise_tests;
mod paired;
mod quantile;
mod rates;
mod rng;
mod runs;
mod trend;

pub use block_bootstrap::{run_stat_quantile, run_stat_ratio};
pub use blocklen::{BlockLength, optimal_block_length};
pub use bootstrap::{bootstrap_quantile, bootstrap_quantile_ratio, bootstrap_ratio_of_sums};
pub use changepoint::{ChangePoint, EDivisive, e_divisive};
pub(crate) use dist::student_t_quantile;
pub use estimate::{
    BootstrapConfig, Direction, Interval, RatioEstimate, mde_from_interval,
    mde_from_interval_at_power, requests_to_settle,
};
pub use multiple::benjamini_hochberg;
pub use paired::{paired_quantile, paired_ratio_of_sums};
pub use quantile::{harrell_davis, quantile_type7};
pub use rates::{clopper_pearson, fisher_exact_greater, mde_rate};
pub use runs::{
    BetweenNoise, BetweenRun, BetweenSource, NoiseComparison, RunStat, VarianceComponents,
    between_run_variance, compare_runs,
};
pub use trend::{MannKendall, TheilSen, mann_kendall, theil_sen};
