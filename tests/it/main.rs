//! Integration tests.

mod gate;
mod report;
