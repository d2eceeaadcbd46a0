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
        // One round trip: the audit table, and the tracking table's shape
        // (nothing is created next to a table pgshift cannot use).
        let row = client
            .query_one(
                &format!(
                    "SELECT to_regclass($2) IS NOT NULL, \
                     EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($2) \
                     AND attname = 'statements_checksum' AND NOT attisdropped), s.* FROM ({}) s",
                    SHAPE_SQL
                ),
                &[&self.qualified(), &self.audit_qualified()],
            )
            .map_err(HistoryError::Db)?;
        let (has_audit, audit_current): (bool, bool) = (get(&row, 0)?, get(&row, 1)?);
        let has_table = self.check_shape(&row, 2)?;
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

    /// Creates the progress table if missing. Checks first, so an existing
    /// table raises no "already exists" notice.
    pub fn ensure_progress(&self, client: &mut impl GenericClient) -> Result<(), HistoryError> {
        let row = client
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL",
                &[&self.progress_qualified()],
            )
            .map_err(HistoryError::Db)?;
        if get(&row, 0)? {
            return Ok(());
        }
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
    ///
    /// # Errors
    /// [`HistoryError::Shape`] when the table is not laid out as pgshift's
    /// (another tool's `schema_migrations`, or one altered by hand),
    /// [`HistoryError::Duplicates`] when one migration has several rows,
    /// [`HistoryError::BadRow`] for a row pgshift cannot read: all found
    /// before anything runs.
    pub fn read(&self, client: &mut impl GenericClient) -> Result<History, HistoryError> {
        // One round trip: whether the tables exist, and the tracking
        // table's shape.
        let row = client
            .query_one(
                &format!(
                    "SELECT to_regclass($2) IS NOT NULL, s.* FROM ({}) s",
                    SHAPE_SQL
                ),
                &[&self.qualified(), &self.progress_qualified()],
            )
            .map_err(HistoryError::Db)?;
        let has_progress: bool = get(&row, 0)?;
        // A table whose only fault is a dropped primary key is still read,
        // so duplicate rows, if that let any in, are named.
        let (has_table, not_unique) = match self.check_shape(&row, 1) {
            Err(HistoryError::Shape { differences, .. })
                if differences == [ShapeDifference::VersionNotUnique] =>
            {
                (true, true)
            }
            other => (other?, false),
        };
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
                .map(|row| {
                    let version: Option<String> = get(row, 0)?;
                    let version = version.ok_or_else(|| HistoryError::BadRow {
                        table: self.qualified(),
                        problem: RowProblem::NullVersion,
                    })?;
                    Ok(AppliedMigration {
                        version: Version::recorded(version),
                        description: get::<Option<String>>(row, 1)?.unwrap_or_default(),
                        applied_at: get(row, 2)?,
                        applied_by: get(row, 3)?,
                        execution_time_ms: get(row, 4)?,
                        checksum: get::<Option<String>>(row, 5)?.map(Checksum::from_recorded),
                    })
                })
                .collect::<Result<_, HistoryError>>()?;
            history.applied.sort_by(|a, b| a.version.cmp(&b.version));
            let duplicates = duplicates(&history.applied);
            if !duplicates.is_empty() {
                return Err(HistoryError::Duplicates {
                    table: self.qualified(),
                    versions: duplicates,
                });
            }
            if not_unique {
                return Err(HistoryError::Shape {
                    table: self.qualified(),
                    layout: Layout::PgshiftAltered,
                    differences: vec![ShapeDifference::VersionNotUnique],
                });
            }
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
                .map(|row| {
                    Ok(FailedMigration {
                        version: Version::recorded(get::<String>(row, 0)?),
                        checksum: Checksum::from_recorded(get::<String>(row, 1)?),
                        statements_total: get::<i32>(row, 2)?.max(0) as usize,
                        statements_done: get::<i32>(row, 3)?.max(0) as usize,
                        done_digest: get(row, 4)?,
                        error: get(row, 5)?,
                        sqlstate: get(row, 6)?,
                        failed_at: get(row, 7)?,
                    })
                })
                .collect::<Result<_, HistoryError>>()?;
        }
        Ok(history)
    }

    /// Judges the row of [`SHAPE_SQL`] (its columns from `at`):
    /// whether the table exists, or why pgshift cannot use it.
    fn check_shape(&self, row: &postgres::Row, at: usize) -> Result<bool, HistoryError> {
        if !get::<bool>(row, at)? {
            return Ok(false);
        }
        let names: Vec<String> = get(row, at + 1)?;
        let types: Vec<String> = get(row, at + 2)?;
        let required: Vec<bool> = get(row, at + 3)?;
        let version_unique: bool = get(row, at + 4)?;
        let columns: Vec<Column> = names
            .into_iter()
            .zip(types)
            .zip(required)
            .map(|((name, type_name), required)| Column {
                name,
                type_name,
                required,
            })
            .collect();
        let differences = shape_differences(&columns, version_unique);
        if differences.is_empty() {
            return Ok(true);
        }
        Err(HistoryError::Shape {
            table: self.qualified(),
            layout: Layout::of(&columns),
            differences,
        })
    }
}

/// A query (of `$1`, the qualified table name) with one row: whether
/// the table exists, its columns as `name`, type, NOT NULL without a
/// default, and whether `version` has a unique index of its own.
const SHAPE_SQL: &str = "SELECT c.oid IS NOT NULL, \
         coalesce(array_agg(a.attname::text ORDER BY a.attnum) FILTER (WHERE a.attnum > 0), '{}'), \
         coalesce(array_agg(format_type(a.atttypid, NULL) ORDER BY a.attnum) FILTER (WHERE a.attnum > 0), '{}'), \
         coalesce(array_agg(a.attnotnull AND NOT a.atthasdef ORDER BY a.attnum) FILTER (WHERE a.attnum > 0), '{}'), \
         EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute v ON v.attrelid = i.indrelid \
                 AND v.attnum = i.indkey[0] WHERE i.indrelid = c.oid AND i.indisunique \
                 AND i.indnkeyatts = 1 AND i.indpred IS NULL AND v.attname = 'version') \
         FROM (SELECT to_regclass($1) AS oid) r \
         LEFT JOIN pg_class c ON c.oid = r.oid \
         LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND NOT a.attisdropped \
         GROUP BY c.oid";

/// A column of an existing tracking table.
#[derive(Debug, Clone)]
struct Column {
    name: String,
    /// `format_type` without modifiers: `character varying`, `integer`, …
    type_name: String,
    /// NOT NULL without a default: every insert must give it.
    required: bool,
}

/// The seed's columns and the types pgshift can read each as. A table may
/// have more columns, as long as rows can be inserted without them.
const EXPECTED: [(&str, &str, &[&str]); 6] = [
    ("version", "VARCHAR(20)", &["character varying", "text"]),
    ("description", "TEXT", &["text", "character varying"]),
    (
        "applied_at",
        "TIMESTAMP WITH TIME ZONE",
        &["timestamp with time zone"],
    ),
    (
        "applied_by",
        "VARCHAR(100)",
        &["character varying", "text", "name"],
    ),
    (
        "execution_time_ms",
        "INTEGER",
        &["integer", "smallint", "bigint"],
    ),
    ("checksum", "VARCHAR(64)", &["character varying", "text"]),
];

fn shape_differences(columns: &[Column], version_unique: bool) -> Vec<ShapeDifference> {
    let mut differences = Vec::new();
    for (name, expected, accepted) in EXPECTED {
        match columns.iter().find(|c| c.name == name) {
            None => differences.push(ShapeDifference::MissingColumn {
                column: name.to_string(),
                expected: expected.to_string(),
            }),
            Some(c) if !accepted.contains(&c.type_name.as_str()) => {
                differences.push(ShapeDifference::WrongType {
                    column: name.to_string(),
                    found: c.type_name.clone(),
                    expected: expected.to_string(),
                })
            }
            Some(_) => {}
        }
    }
    for c in columns {
        if c.required && !EXPECTED.iter().any(|(name, ..)| *name == c.name) {
            differences.push(ShapeDifference::RequiredColumn {
                column: c.name.clone(),
            });
        }
    }
    let version_ok = !differences.iter().any(|d| d.column() == "version");
    if version_ok && !version_unique {
        differences.push(ShapeDifference::VersionNotUnique);
    }
    differences
}

/// How an existing tracking table differs from pgshift's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ShapeDifference {
    /// A column pgshift reads or writes is not there.
    MissingColumn {
        /// The column.
        column: String,
        /// Its type in pgshift's DDL.
        expected: String,
    },
    /// A column has a type pgshift cannot read as its own.
    WrongType {
        /// The column.
        column: String,
        /// The type found.
        found: String,
        /// Its type in pgshift's DDL.
        expected: String,
    },
    /// A column pgshift does not know is NOT NULL without a default, so
    /// pgshift cannot insert rows.
    RequiredColumn {
        /// The column.
        column: String,
    },
    /// `version` is neither the primary key nor unique (dropped by hand?):
    /// pgshift's upsert needs it.
    VersionNotUnique,
}

impl ShapeDifference {
    fn column(&self) -> &str {
        match self {
            ShapeDifference::MissingColumn { column, .. }
            | ShapeDifference::WrongType { column, .. }
            | ShapeDifference::RequiredColumn { column } => column,
            ShapeDifference::VersionNotUnique => "version",
        }
    }
}

impl std::fmt::Display for ShapeDifference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShapeDifference::MissingColumn { column, expected } => {
                write!(f, "no column `{column}` ({expected})")
            }
            ShapeDifference::WrongType {
                column,
                found,
                expected,
            } => write!(f, "column `{column}` is {found}, not {expected}"),
            ShapeDifference::RequiredColumn { column } => write!(
                f,
                "column `{column}` is NOT NULL without a default, so pgshift cannot insert rows"
            ),
            ShapeDifference::VersionNotUnique => {
                write!(f, "`version` is not the primary key (nor unique), which pgshift needs (`ALTER TABLE … ADD PRIMARY KEY (version)` restores it)")
            }
        }
    }
}

/// Whose tracking table an unusable one looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Layout {
    /// `version bigint, dirty boolean`.
    GolangMigrate,
    /// `version varchar` alone: dbmate's, and Rails' (ActiveRecord).
    DbmateOrRails,
    /// `version varchar, run_on timestamp`: Diesel's.
    Diesel,
    /// pgshift's (the seed's), with columns changed by hand.
    PgshiftAltered,
    /// None that pgshift knows.
    Unknown,
}

impl Layout {
    fn of(columns: &[Column]) -> Layout {
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        let ours = EXPECTED
            .iter()
            .filter(|(name, ..)| names.contains(name))
            .count();
        match names.as_slice() {
            ["version", "dirty"] => Layout::GolangMigrate,
            ["version"] => Layout::DbmateOrRails,
            ["version", "run_on"] => Layout::Diesel,
            _ if ours >= 3 => Layout::PgshiftAltered,
            _ => Layout::Unknown,
        }
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Layout::GolangMigrate => {
                "golang-migrate's `schema_migrations` (version bigint, dirty boolean)"
            }
            Layout::DbmateOrRails => "dbmate's or Rails' `schema_migrations` (version only)",
            Layout::Diesel => "Diesel's migration table (version, run_on)",
            Layout::PgshiftAltered => "pgshift's, altered by hand",
            Layout::Unknown => "no migration tool pgshift knows",
        })
    }
}

/// What is wrong with a row of the tracking table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RowProblem {
    /// `version` is NULL.
    NullVersion,
}

/// Groups of rows that name one migration (`001` twice, or `1` and `001`).
fn duplicates(applied: &[AppliedMigration]) -> Vec<Vec<Version>> {
    let mut groups: Vec<Vec<Version>> = Vec::new();
    // `applied` is sorted by version, and versions of one number sort
    // next to each other.
    for row in applied {
        match groups.last_mut() {
            Some(group) if group[0].same_number(&row.version) => group.push(row.version.clone()),
            _ => groups.push(vec![row.version.clone()]),
        }
    }
    groups.retain(|g| g.len() > 1);
    groups
}

/// A column of a row read from a pgshift table, or a typed error naming
/// it (the table may have been altered since its shape was checked).
fn get<'a, T: postgres::types::FromSql<'a>>(
    row: &'a postgres::Row,
    index: usize,
) -> Result<T, HistoryError> {
    row.try_get(index).map_err(|source| HistoryError::Column {
        column: row
            .columns()
            .get(index)
            .map(|c| c.name().to_string())
            .unwrap_or_else(|| index.to_string()),
        source,
    })
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
    /// The tracking table exists, laid out otherwise than pgshift's.
    #[error("the tracking table {table} is not laid out as pgshift's (it looks like {layout}): {}. Nothing was changed: point pgshift at a table of its own with --table NAME (it is created on the first `up`; `pgshift baseline VERSION` then marks what is already applied), or fix the table by hand", differences.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    Shape {
        /// The table, qualified and quoted.
        table: String,
        /// Whose layout it looks like.
        layout: Layout,
        /// What differs.
        differences: Vec<ShapeDifference>,
    },
    /// One migration has several rows (the primary key was dropped by
    /// hand, or `1` and `001` were both recorded).
    #[error("the tracking table {table} records one migration more than once: {}; nothing was changed. Delete the extra rows by hand (keep one per migration) and, if the primary key was dropped, restore it (`ALTER TABLE {table} ADD PRIMARY KEY (version)`), then run again", versions.iter().map(|g| g.iter().map(Version::as_str).collect::<Vec<_>>().join(" and ")).collect::<Vec<_>>().join("; "))]
    Duplicates {
        /// The table, qualified and quoted.
        table: String,
        /// Each group of rows naming one migration.
        versions: Vec<Vec<Version>>,
    },
    /// A row pgshift cannot read.
    #[error("the tracking table {table} has a row with a NULL version; delete it by hand (`DELETE FROM {table} WHERE version IS NULL`), then run again")]
    BadRow {
        /// The table, qualified and quoted.
        table: String,
        /// What is wrong.
        problem: RowProblem,
    },
    /// A column came back with a type pgshift cannot read.
    #[error("cannot read column `{column}` of pgshift's tables: {source}; was the table altered while pgshift ran?")]
    Column {
        /// The column.
        column: String,
        /// The client's error.
        source: postgres::Error,
    },
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
