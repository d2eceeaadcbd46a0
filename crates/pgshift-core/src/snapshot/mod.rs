//! Schema snapshots: a normalized model of a database's schema, read from
//! the catalogs (never by running `pg_dump`).
//!
//! - [`model`]: the [`Schema`] value — ordered maps keyed by qualified name,
//!   no OIDs, so equal databases give equal (and byte-identical serialized)
//!   snapshots.
//! - `read`: the catalog queries behind [`snapshot`], one per object kind.
//! - `sql`: [`Schema::to_sql`], a script that recreates the schema.
//!
//! Comparing two snapshots is [`crate::diff`]'s job; printing is the CLI's.
//!
//! To cover a new kind of object: add it to [`model`], read it with one
//! query in `read.rs`, create it at the right point of `sql.rs`'s order,
//! compare it in `diff.rs`, and add a pair of databases that differ only in
//! it to the integration tests (`tests/it/snapshot.rs`).
//!
//! Owners and grants are read only when asked for
//! ([`SnapshotOptions::include_privileges`]); column privileges and default
//! privileges (`ALTER DEFAULT PRIVILEGES`) are not covered.
//!
//! Not covered yet: row-level security policies,
//! aggregates, range types, foreign tables and servers, publications,
//! event triggers, rules other than views', statistics objects, per-column
//! storage and statistics targets, and identity columns' sequence options.

#[cfg(test)]
pub(crate) mod fixtures;
pub mod model;
mod read;
pub(crate) mod sql;

pub use model::*;

use crate::error::db_message;
use crate::history::TrackingTable;
use postgres::GenericClient;

/// What a snapshot includes.
#[derive(Debug, Clone, Default)]
pub struct SnapshotOptions {
    /// The tracking table to leave out, with its companions (`_progress`,
    /// `_audit` and the audit trail's guard function).
    pub tracking: TrackingTable,
    /// Include the tracking tables instead of leaving them out.
    pub include_tracking: bool,
    /// Read owners and grants ([`Schema::privileges`]).
    pub include_privileges: bool,
}

/// Why a snapshot could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// A catalog query failed.
    #[error("cannot read the {what} from the catalogs: {}", db_message(.source))]
    Query {
        /// Which kind of object was being read.
        what: &'static str,
        /// The server's or the client's error.
        #[source]
        source: postgres::Error,
    },
    /// The server is older than the catalogs this module reads.
    #[error("schema snapshots need PostgreSQL 13 or later (server_version_num {version})")]
    UnsupportedServer {
        /// `server_version_num`.
        version: i32,
    },
}

/// Reads the schema of the database `client` is connected to.
///
/// Runs in a transaction (a savepoint if `client` is one) with
/// `search_path = pg_catalog`, restored afterwards. Issues a fixed number of
/// catalog queries, one per kind of object, whatever the schema's size.
///
/// # Errors
/// [`SnapshotError::Query`] when a catalog query fails (e.g. a lost
/// connection), [`SnapshotError::UnsupportedServer`] before PostgreSQL 13.
///
/// # Example
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use pgshift_core::snapshot::{snapshot, SnapshotOptions};
/// let mut client = postgres::Client::connect("postgresql://localhost/app", postgres::NoTls)?;
/// let schema = snapshot(&mut client, &SnapshotOptions::default())?;
/// println!("{}", schema.to_sql());
/// # Ok(()) }
/// ```
pub fn snapshot(
    client: &mut impl GenericClient,
    options: &SnapshotOptions,
) -> Result<Schema, SnapshotError> {
    read::read(client, options)
}
