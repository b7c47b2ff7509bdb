//! Integration tests: one binary with modules keeps link time down on 2 cores.

mod baseline;
mod ci;
mod client;
mod common;
mod run;
mod workload;
