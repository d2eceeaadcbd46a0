//! pgshift's domain: everything a migration run needs, without any printing.
//!
//! - [`migration`]: load and validate a `migration_scripts/` folder;
//!   [`script`] turns one file into steps; [`checksum`] fingerprints it.
//! - [`history`]: the `schema_migrations` tracking table.
//! - [`plan`]: a pure function from the set and the history to what to do.
//! - [`lock`]: one runner at a time.
//! - [`executor`]: runs migrations and rollbacks on a session.
//! - [`migrator`]: the operations, each one call (status, up, rollback).
//! - [`connect`]: where to connect, and opening sessions.
//! - [`lint`]: static checks of migration files (`pgshift lint`).
//! - [`backup`]: pg_dump backups and pg_restore restores; [`check`]: health
//!   checks; [`rehearsal`]: `up` on a copy first; [`resolve`]: `repair`
//!   and `accept`.
//! - [`snapshot`] and [`diff`]: schema models read from the catalogs, and
//!   their differences.
//! - [`scratch`]: throwaway databases; [`proof`] (`pgshift test`) and
//!   [`drift`] (`pgshift drift`) run migrations on them.
//!
//! The CLI crate turns these values into text; this crate never prints.
#![warn(missing_docs)]

pub mod audit;
pub mod backup;
pub mod check;
pub mod checksum;
pub mod config;
pub mod connect;
pub mod destructive;
pub mod dev;
pub mod diff;
pub mod drift;
pub mod error;
pub mod executor;
pub mod history;
pub mod interrupt;
pub mod lint;
pub mod lock;
pub mod migration;
pub mod migrator;
pub mod plan;
pub mod preview;
pub mod proof;
pub mod rehearsal;
pub mod resolve;
pub mod role;
pub mod scratch;
pub mod script;
pub mod snapshot;
pub mod source;
pub mod template;

pub use error::Error;
pub use pgshift_cluster as cluster;
