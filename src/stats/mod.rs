//! Estimators and tests behind the gate: quantiles (Hyndman-Fan type 7 and
//! Harrell-Davis), seeded bootstrap intervals of candidate/baseline ratios,
//! exact binomial bounds and Fisher's exact test for rates,
//! Benjamini-Hochberg adjustment across a gate's rules, and minimum
//! detectable effects. Pure functions of their inputs and seed.

mod beta;
mod quantile;
mod rng;

pub use quantile::{harrell_davis, quantile_type7};
mod estimate;
mod multiple;
mod rates;

pub use estimate::{
    BootstrapConfig, Direction, Interval, RatioEstimate, mde_from_interval,
    mde_from_interval_at_power, requests_to_settle,
};
pub use multiple::benjamini_hochberg;
pub use rates::{clopper_pearson, fisher_exact_greater, mde_rate};
mod bootstrap;

pub use bootstrap::{bootstrap_quantile, bootstrap_quantile_ratio, bootstrap_ratio_of_sums};
