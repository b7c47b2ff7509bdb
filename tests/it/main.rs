//! Integration tests.
mod baseline;
