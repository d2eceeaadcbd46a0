//! CLI integration tests: the built `pgshift` binary against a real,
//! throwaway PostgreSQL (one cluster per test process, a database per test).

mod audit;
mod backup;
mod checks;
mod common;
mod connection;
mod dump;
mod interrupt;
mod lint;
mod lint_rules;
mod lock;
mod migration_scripts;
mod no_transaction;
mod proof;
mod rehearse;
mod resolve;
mod role;
mod rollback;
mod shell;
mod tracking;
mod up;
mod validation;
mod verify;
