//! Estimators and tests behind the gate: quantiles (Hyndman-Fan type 7 and
//! Harrell-Davis), seeded bootstrap intervals of candidate/baseline ratios,
//! exact binomial bounds and Fisher's exact test for rates,
//! Benjamini-Hochberg adjustment across a gate's rules, minimum
//! detectable effects, and trend tests over time (Mann–Kendall,
//! Theil–Sen). Pure functions of their inputs and seed: the same inputs
//! and seed give bit-identical results on a given platform, however many
//! threads run the resamples.

mod beta;
mod bootstrap;
mod estimate;
mod multiple;
mod quantile;
mod rates;
mod rng;
mod trend;

pub use bootstrap::{bootstrap_quantile, bootstrap_quantile_ratio, bootstrap_ratio_of_sums};
pub use estimate::{
    BootstrapConfig, Direction, Interval, RatioEstimate, mde_from_interval,
    mde_from_interval_at_power, requests_to_settle,
};
pub use multiple::benjamini_hochberg;
pub use quantile::{harrell_davis, quantile_type7};
pub use rates::{clopper_pearson, fisher_exact_greater, mde_rate};
pub use trend::{MannKendall, TheilSen, mann_kendall, theil_sen};
