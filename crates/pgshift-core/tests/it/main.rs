//! pgshift-core integration tests against a real, throwaway PostgreSQL (one
//! cluster per test process, a database per test).

mod backup;
mod executor;
mod snapshot;
