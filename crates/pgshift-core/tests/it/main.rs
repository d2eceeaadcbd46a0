//! pgshift-core integration tests against a real, throwaway PostgreSQL (one
//! cluster per test process, a database per test).

mod backup;
mod executor;
mod history;
mod snapshot;

use pgshift_core::connect::{ConnectionSettings, Environment, Origin};
use pgshift_core::history::TrackingTable;
use pgshift_core::migration::MigrationSet;
use pgshift_core::migrator::{Migrator, RunOptions};
use pgshift_test_support::TestDb;
use std::path::Path;

/// A migrator for the migrations in `dir`, on `db`.
fn migrator(db: &TestDb, dir: &Path, options: RunOptions) -> Migrator {
    let set = MigrationSet::load(dir).expect("load migrations");
    let connection = ConnectionSettings::from_url(db.url(), Origin::Flag, &Environment::default())
        .expect("settings");
    Migrator::new(set, TrackingTable::default(), connection, options)
}

/// A migration folder holding one migration, `001_<name>.sql`.
fn folder(name: &str, sql: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(format!("001_{name}.sql")), sql).unwrap();
    dir
}
