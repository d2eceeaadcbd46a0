//! Integration tests for pgshift-cluster against the real PostgreSQL server
//! programs. One test binary (faster to link), one module per topic. Every test
//! uses its own cluster directory, so they run in parallel.
//!
//! Without PostgreSQL installed these tests fail: this crate's whole job is
//! driving those programs. (pgshift-test-support is where skipping lives.)

mod binaries;
mod common;
mod dev;
mod temporary;
