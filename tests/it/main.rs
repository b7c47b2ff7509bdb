//! Integration tests: one binary with modules keeps link time down on 2 cores.

mod ab;
mod ab_command;
mod action;
mod baseline;
mod calibrate;
mod ci;
mod cli;
mod client;
mod client_probe;
mod commands;
mod common;
mod faults;
mod fuzz;
mod gate;
mod hostile;
mod html;
mod repeat;
mod report;
mod run;
mod secrets;
mod sim;
mod soak;
mod sweep;
mod validity;
mod workload;
