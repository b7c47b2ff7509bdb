//! Integration tests.

mod client;
