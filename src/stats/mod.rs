//! Statistics for the gate (interim: quantiles only until the stats branch lands).

mod quantile;

pub use quantile::quantile_type7;
