//! The tracking table: what has been applied, and failed runs to resume.
//!
//! The table is the seed's `schema_migrations`, column for column. Its DDL
//! is a persisted format: existing databases have it, and migrations written
//! for plain psql create it themselves, so it never changes shape.
//!
//! Migrations that run outside a transaction (`-- pgshift:no-transaction`)
//! need somewhere to record how far they got; that goes to a second table,
//! `<table>_progress`, created only when such a migration first runs, so a
//! project that never uses the directive never sees it.
//!
//! Every identifier is quoted with [`quote_ident`], so a configured name such
//! as `x; drop table users` is a strange table name, never SQL.

use crate::checksum::Checksum;
use crate::migration::Version;
use chrono::{DateTime, Utc};
use postgres::GenericClient;

/// Where the tracking table lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingTable {
    schema: String,
    table: String,
}

/// The longest identifier PostgreSQL keeps (NAMEDATALEN - 1).
const MAX_IDENT_LEN: usize = 63;
/// `_progress` is appended to the tracking table's name.
const PROGRESS_SUFFIX: &str = "_progress";
/// The longest suffix of a companion object (the audit table's trigger
/// function); the table name must leave room for it.
const LONGEST_SUFFIX: &str = "_audit_append_only";

impl Default for TrackingTable {
    fn default() -> Self {
        TrackingTable {
            schema: "public".into(),
            table: "schema_migrations".into(),
        }
    }
}

impl TrackingTable {
    /// A tracking table at `schema.table`.
    ///
    /// # Errors
    /// Empty names and names too long for PostgreSQL (which would silently
    /// truncate them, so two settings could name one table).
    pub fn new(schema: &str, table: &str) -> Result<Self, HistoryError> {
        for (what, name, limit) in [
            ("schema", schema, MAX_IDENT_LEN),
            ("table", table, MAX_IDENT_LEN - LONGEST_SUFFIX.len()),
        ] {
            if name.is_empty() || name.len() > limit || name.contains('\0') {
                return Err(HistoryError::BadName {
                    what,
                    name: name.to_string(),
                    limit,
                });
            }
        }
        Ok(TrackingTable {
            schema: schema.into(),
            table: table.into(),
        })
    }

    /// The schema name, unquoted.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The table name, unquoted.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// `"schema"."table"`, safely quoted.
    pub fn qualified(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.table))
    }

    /// `"schema"."table_progress"`, safely quoted.
    pub fn progress_qualified(&self) -> String {
        self.sibling(PROGRESS_SUFFIX)
    }

    /// `"schema"."<table><suffix>"`: a companion object of the table.
    pub(crate) fn sibling(&self, suffix: &str) -> String {
        format!(
            "{}.{}",
            quote_ident(&self.schema),
            quote_ident(&format!("{}{suffix}", self.table))
        )
    }

    /// The seed's DDL, verbatim but for the qualified, quoted name.
    pub fn create_sql(&self) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {} (\n    \
                version VARCHAR(20) PRIMARY KEY,\n    \
                description TEXT NOT NULL,\n    \
                applied_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,\n    \
                applied_by VARCHAR(100) DEFAULT CURRENT_USER,\n    \
                execution_time_ms INTEGER,\n    \
                checksum VARCHAR(64)\n\
            );",
            self.qualified()
        )
    }

    /// DDL of the progress table for no-transaction migrations.
    pub fn create_progress_sql(&self) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {} (\n    \
                version VARCHAR(20) PRIMARY KEY,\n    \
                checksum VARCHAR(64) NOT NULL,\n    \
                statements_total INTEGER NOT NULL,\n    \
                statements_done INTEGER NOT NULL,\n    \
                done_digest VARCHAR(64) NOT NULL,\n    \
                error TEXT,\n    \
                sqlstate VARCHAR(5),\n    \
                started_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,\n    \
                updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP\n\
            );",
            self.progress_qualified()
        )
    }

    /// `CREATE SCHEMA IF NOT EXISTS` for a schema other than `public`.
    fn create_schema_sql(&self) -> Option<String> {
        (self.schema != "public")
            .then(|| format!("CREATE SCHEMA IF NOT EXISTS {};", quote_ident(&self.schema)))
    }

    /// Creates the tracking table (and its schema) and the audit table if
    /// missing. Checks first, so a database that has them sees no DDL (and
    /// no "already exists" notices).
    pub fn ensure(&self, client: &mut impl GenericClient) -> Result<(), HistoryError> {
        let row = client
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL, to_regclass($2) IS NOT NULL, \
                 EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($2) \
                 AND attname = 'statements_checksum' AND NOT attisdropped)",
                &[&self.qualified(), &self.audit_qualified()],
            )
            .map_err(HistoryError::Db)?;
        let (has_table, has_audit): (bool, bool) = (row.get(0), row.get(1));
        let audit_current: bool = row.get(2);
        let mut sql = String::new();
        if !has_table || !has_audit {
            sql.push_str(&self.create_schema_sql().unwrap_or_default());
        }
        if !has_table {
            sql.push_str(&self.create_sql());
        }
        if !has_audit {
            sql.push_str(&self.create_audit_sql());
        } else if !audit_current {
            sql.push_str(&self.upgrade_audit_sql());
        }
        if sql.is_empty() {
            return Ok(());
        }
        client.batch_execute(&sql).map_err(HistoryError::Db)
    }

    /// Creates the progress table if missing.
    pub fn ensure_progress(&self, client: &mut impl GenericClient) -> Result<(), HistoryError> {
        client
            .batch_execute(&self.create_progress_sql())
            .map_err(HistoryError::Db)
    }

    /// The SQL that records an applied migration, with the placeholders
    /// given for version, description, execution_time_ms and checksum.
    ///
    /// An upsert, because a file written for plain psql may have created
    /// the table and inserted its own row earlier in the same transaction;
    /// pgshift then completes that row rather than failing on the key.
    pub(crate) fn upsert_sql(&self, [version, description, ms, checksum]: [&str; 4]) -> String {
        format!(
            "INSERT INTO {} (version, description, execution_time_ms, checksum) \
             VALUES ({version}, {description}, {ms}, {checksum}) \
             ON CONFLICT (version) DO UPDATE SET description = EXCLUDED.description, \
             execution_time_ms = EXCLUDED.execution_time_ms, checksum = EXCLUDED.checksum",
            self.qualified()
        )
    }

    /// The SQL that forgets a rolled-back migration; `version` is the
    /// placeholder. Matches by numeric value too, so `1` recorded by hand
    /// is forgotten with `001`.
    pub(crate) fn forget_sql(&self, version: &str) -> String {
        format!(
            "DELETE FROM {} WHERE version = {version} OR ltrim(version, '0') = ltrim({version}, '0')",
            self.qualified()
        )
    }

    /// Reads the history. A database without the tracking table has an
    /// empty history; reading never creates anything.
    pub fn read(&self, client: &mut impl GenericClient) -> Result<History, HistoryError> {
        let row = client
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL, to_regclass($2) IS NOT NULL",
                &[&self.qualified(), &self.progress_qualified()],
            )
            .map_err(HistoryError::Db)?;
        let (has_table, has_progress): (bool, bool) = (row.get(0), row.get(1));
        let mut history = History {
            table_exists: has_table,
            ..History::default()
        };
        if has_table {
            let rows = client
                .query(
                    &format!(
                        "SELECT version::text, description::text, applied_at, applied_by::text, \
                         execution_time_ms::int4, checksum::text FROM {}",
                        self.qualified()
                    ),
                    &[],
                )
                .map_err(HistoryError::Db)?;
            history.applied = rows
                .iter()
                .map(|row| AppliedMigration {
                    version: Version::recorded(row.get::<_, String>(0)),
                    description: row.get::<_, Option<String>>(1).unwrap_or_default(),
                    applied_at: row.get(2),
                    applied_by: row.get(3),
                    execution_time_ms: row.get(4),
                    checksum: row.get::<_, Option<String>>(5).map(Checksum::from_recorded),
                })
                .collect();
            history.applied.sort_by(|a, b| a.version.cmp(&b.version));
        }
        if has_progress {
            let rows = client
                .query(
                    &format!(
                        "SELECT version::text, checksum::text, statements_total, statements_done, \
                         done_digest::text, error, sqlstate::text, updated_at FROM {}",
                        self.progress_qualified()
                    ),
                    &[],
                )
                .map_err(HistoryError::Db)?;
            history.failed = rows
                .iter()
                .map(|row| FailedMigration {
                    version: Version::recorded(row.get::<_, String>(0)),
                    checksum: Checksum::from_recorded(row.get::<_, String>(1)),
                    statements_total: row.get::<_, i32>(2).max(0) as usize,
                    statements_done: row.get::<_, i32>(3).max(0) as usize,
                    done_digest: row.get(4),
                    error: row.get(5),
                    sqlstate: row.get(6),
                    failed_at: row.get(7),
                })
                .collect();
        }
        Ok(history)
    }
}

/// Quotes an identifier the way PostgreSQL's `quote_ident` does when it
/// must: double quotes around it, inner double quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a string literal: single quotes, inner quotes doubled. Used only
/// where parameters cannot be (the psql script `up --dry-run` prints).
pub fn quote_literal(value: &str) -> String {
    if value.contains('\\') {
        // E'' so a backslash means the same whatever standard_conforming_strings says.
        format!("E'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
    } else {
        format!("'{}'", value.replace('\'', "''"))
    }
}

/// A row of the tracking table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AppliedMigration {
    /// `version`.
    pub version: Version,
    /// `description`.
    pub description: String,
    /// `applied_at`.
    pub applied_at: Option<DateTime<Utc>>,
    /// `applied_by`.
    pub applied_by: Option<String>,
    /// `execution_time_ms`.
    pub execution_time_ms: Option<i32>,
    /// `checksum`; absent when a plain psql run recorded the row.
    pub checksum: Option<Checksum>,
}

/// A no-transaction migration that stopped part way.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FailedMigration {
    /// The migration.
    pub version: Version,
    /// Checksum of the file when it ran.
    pub checksum: Checksum,
    /// Statements in the file.
    pub statements_total: usize,
    /// Statements that completed; the next one is where `up --resume` starts.
    pub statements_done: usize,
    /// SHA-256 of the completed statements' text, so a resume can refuse
    /// when one of them was edited afterwards.
    pub done_digest: String,
    /// The server's message for the failed statement.
    pub error: Option<String>,
    /// Its SQLSTATE.
    pub sqlstate: Option<String>,
    /// When the failure was recorded.
    pub failed_at: DateTime<Utc>,
}

/// Everything the tracking tables say.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct History {
    /// Whether the tracking table exists yet.
    pub table_exists: bool,
    /// Applied migrations, in version order.
    pub applied: Vec<AppliedMigration>,
    /// No-transaction migrations that failed part way.
    pub failed: Vec<FailedMigration>,
}

/// A failure reading or writing the tracking tables.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// A configured schema or table name PostgreSQL cannot hold.
    #[error("{what} name `{name}` must be 1 to {limit} bytes")]
    BadName {
        /// "schema" or "table".
        what: &'static str,
        /// The name given.
        name: String,
        /// The limit.
        limit: usize,
    },
    /// The server refused a query on the tracking tables.
    #[error("cannot use the tracking table: {}", crate::error::db_message(.0))]
    Db(#[source] postgres::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden: the seed's DDL. Changing it breaks existing databases.
    #[test]
    fn tracking_table_ddl_is_the_seeds() {
        let ddl = TrackingTable::default().create_sql();
        assert_eq!(
            ddl,
            r#"CREATE TABLE IF NOT EXISTS "public"."schema_migrations" (
    version VARCHAR(20) PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    applied_by VARCHAR(100) DEFAULT CURRENT_USER,
    execution_time_ms INTEGER,
    checksum VARCHAR(64)
);"#
        );
    }

    #[test]
    fn hostile_names_are_quoted() {
        let t = TrackingTable::new("a\"b", "x; drop table users").unwrap();
        assert_eq!(t.qualified(), r#""a""b"."x; drop table users""#);
        assert!(TrackingTable::new("", "x").is_err());
        assert!(TrackingTable::new("s", &"x".repeat(46)).is_err());
        assert!(TrackingTable::new("s", &"x".repeat(45)).is_ok());
    }

    #[test]
    fn literals_are_quoted() {
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal(r"a\b'"), r"E'a\\b'''");
    }
}
