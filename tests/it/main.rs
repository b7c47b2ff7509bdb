//! Integration tests.
mod sim;
