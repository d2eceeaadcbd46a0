//! The audit trail: an append-only record of everything pgshift did.
//!
//! Every apply, rollback, failed attempt, baseline, backup, restore,
//! repair and accept adds a row to
//! `<table>_audit` next to the tracking table: who (the database's
//! `session_user` and `current_user`, the OS user and host), with which
//! pgshift version, when, for how long, and how it ended. A successful
//! migration writes its row in its own transaction, so the row exists
//! exactly when the change does; a failed attempt is written after the
//! rollback, so it survives it. Rows are never updated or deleted: a
//! statement-level trigger refuses `UPDATE`, `DELETE` and `TRUNCATE`.
//!
//! Persisted format: the DDL below; new columns may be added, none removed.
//! Added since the first release: `detail` (free text: a backup's file, an
//! accept's old and new checksum and reason, a repair's reason) and
//! `statements_checksum` (see [`crate::checksum::Checksum::of_statements`],
//! recorded with every apply so `pgshift accept` can later tell a comment
//! fix from a changed statement). [`TrackingTable::ensure`] adds them to an
//! older table.

use crate::history::{quote_ident, quote_literal, HistoryError, TrackingTable};
use chrono::{DateTime, Utc};
use postgres::types::ToSql;
use postgres::GenericClient;

/// Who is running pgshift, recorded with every audit row.
#[derive(Debug, Clone, Default)]
pub struct AuditContext {
    /// The operating-system user.
    pub os_user: Option<String>,
    /// The machine's host name.
    pub host: Option<String>,
    /// pgshift's version.
    pub tool_version: String,
}

/// Who runs pgshift, for [`AuditContext::os_user`]: the name of the
/// process's user id, not `$USER`, which may be unset or say anything; the
/// bare uid when the account has no name (a container's arbitrary uid).
pub fn os_user() -> String {
    let uid = nix::unistd::getuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => user.name,
        _ => format!("uid {uid}"),
    }
}

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditAction {
    /// A forward migration.
    Apply,
    /// A rollback.
    Rollback,
    /// Marked as applied without running (`pgshift baseline`).
    Baseline,
    /// A `pg_dump` backup of the database (`--backup`, `pgshift backup`).
    Backup,
    /// The database restored from a backup (`pgshift restore`).
    Restore,
    /// A failed no-transaction migration resolved by hand (`pgshift repair`).
    Repair,
    /// The changed file of an applied migration accepted (`pgshift accept`).
    Accept,
}

impl AuditAction {
    fn as_str(self) -> &'static str {
        match self {
            AuditAction::Apply => "apply",
            AuditAction::Rollback => "rollback",
            AuditAction::Baseline => "baseline",
            AuditAction::Backup => "backup",
            AuditAction::Restore => "restore",
            AuditAction::Repair => "repair",
            AuditAction::Accept => "accept",
        }
    }
}

/// One audit row being written.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    /// What was done.
    pub action: AuditAction,
    /// The migration.
    pub version: &'a str,
    /// The file's checksum.
    pub checksum: Option<&'a str>,
    /// Whether it worked.
    pub ok: bool,
    /// The error, when it did not.
    pub error: Option<&'a str>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How long it took.
    pub duration_ms: Option<i32>,
    /// Free text: a backup's file, an accept's checksums and reason, …
    pub detail: Option<String>,
    /// The statements checksum of the migration's file, for applies.
    pub statements_checksum: Option<crate::checksum::Checksum>,
}

impl<'a> AuditEntry<'a> {
    /// An entry about the database as a whole (backup, restore), not one
    /// migration's file; `version` is the database's current version.
    pub fn database(
        action: AuditAction,
        version: Option<&'a str>,
        started_at: DateTime<Utc>,
        detail: String,
    ) -> Self {
        AuditEntry {
            action,
            version: version.unwrap_or(""),
            checksum: None,
            ok: true,
            error: None,
            started_at,
            duration_ms: i32::try_from((Utc::now() - started_at).num_milliseconds()).ok(),
            detail: Some(detail),
            statements_checksum: None,
        }
    }

    /// A successful action on `migration` that started at `started_at`.
    pub fn succeeded(
        action: AuditAction,
        migration: &'a crate::migration::Migration,
        started_at: DateTime<Utc>,
        duration_ms: Option<i32>,
    ) -> Self {
        AuditEntry {
            action,
            version: migration.version.as_str(),
            checksum: Some(migration.checksum.as_str()),
            ok: true,
            error: None,
            started_at,
            duration_ms,
            detail: None,
            statements_checksum: matches!(action, AuditAction::Apply | AuditAction::Baseline)
                .then(|| crate::checksum::Checksum::of_statements(migration.script.texts())),
        }
    }
}

/// A row read back for `pgshift log`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditRecord {
    /// Sequence number.
    pub id: i64,
    /// `apply`, `rollback`, …
    pub action: String,
    /// The migration.
    pub version: Option<String>,
    /// The file's checksum.
    pub checksum: Option<String>,
    /// `ok` or `failed`.
    pub outcome: String,
    /// The error message of a failure.
    pub error: Option<String>,
    /// The database login.
    pub session_user: String,
    /// The effective database role.
    pub current_user: String,
    /// The OS user.
    pub os_user: Option<String>,
    /// The host.
    pub host: Option<String>,
    /// pgshift's version.
    pub tool_version: Option<String>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How long it took.
    pub duration_ms: Option<i32>,
    /// Free text (a backup's file, an accept's checksums and reason, …).
    pub detail: Option<String>,
    /// The statements checksum recorded with an apply.
    pub statements_checksum: Option<String>,
}

impl TrackingTable {
    /// `"schema"."<table>_audit"`, safely quoted.
    pub fn audit_qualified(&self) -> String {
        self.sibling("_audit")
    }

    /// DDL of the audit table and its append-only guard.
    pub fn create_audit_sql(&self) -> String {
        let audit = self.audit_qualified();
        let guard = self.sibling("_audit_append_only");
        let trigger = quote_ident(&format!("{}_audit_append_only", self.table()));
        format!(
            "CREATE TABLE IF NOT EXISTS {audit} (\n    \
                id BIGSERIAL PRIMARY KEY,\n    \
                action VARCHAR(20) NOT NULL,\n    \
                version VARCHAR(20),\n    \
                checksum VARCHAR(64),\n    \
                outcome VARCHAR(10) NOT NULL,\n    \
                error TEXT,\n    \
                session_user_name VARCHAR(100) NOT NULL DEFAULT SESSION_USER,\n    \
                current_user_name VARCHAR(100) NOT NULL DEFAULT CURRENT_USER,\n    \
                os_user VARCHAR(100),\n    \
                host VARCHAR(255),\n    \
                tool_version VARCHAR(40),\n    \
                started_at TIMESTAMP WITH TIME ZONE NOT NULL,\n    \
                duration_ms INTEGER,\n    \
                detail TEXT,\n    \
                statements_checksum VARCHAR(64)\n\
            );\n\
            CREATE OR REPLACE FUNCTION {guard}() RETURNS trigger LANGUAGE plpgsql AS $pgshift$\n\
            BEGIN\n    \
                RAISE EXCEPTION 'the pgshift audit trail is append-only';\n\
            END\n\
            $pgshift$;\n\
            DO $pgshift$\n\
            BEGIN\n    \
                IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = {audit_lit}::regclass AND tgname = {trigger_lit}) THEN\n        \
                    CREATE TRIGGER {trigger} BEFORE UPDATE OR DELETE OR TRUNCATE ON {audit}\n            \
                    FOR EACH STATEMENT EXECUTE FUNCTION {guard}();\n    \
                END IF;\n\
            END\n\
            $pgshift$;",
            audit_lit = quote_literal(&audit),
            trigger_lit = quote_literal(&format!("{}_audit_append_only", self.table())),
        )
    }

    /// Adds the columns introduced after the first release to an older
    /// audit table.
    pub(crate) fn upgrade_audit_sql(&self) -> String {
        format!(
            "ALTER TABLE {} ADD COLUMN IF NOT EXISTS detail TEXT, \
             ADD COLUMN IF NOT EXISTS statements_checksum VARCHAR(64);",
            self.audit_qualified()
        )
    }

    /// The insert for one audit row; parameters in the order of
    /// [`AuditEntry`], then the context.
    pub fn audit_insert_sql(&self) -> String {
        format!(
            "INSERT INTO {} (action, version, checksum, outcome, error, started_at, duration_ms, os_user, host, tool_version, detail, statements_checksum) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            self.audit_qualified()
        )
    }

    /// Records an applied migration and its audit row in one statement, a
    /// round trip less per migration than two inserts. Parameters: those
    /// of [`Self::audit_insert_sql`] (version $2, checksum $3 and duration
    /// $7 shared), then the description as $13.
    pub fn record_applied_sql(&self) -> String {
        format!(
            "WITH recorded AS ({}) {}",
            self.upsert_sql(["$2", "$13", "$7", "$3"]),
            self.audit_insert_sql()
        )
    }

    /// Forgets a rolled-back migration and writes its audit row in one
    /// statement. Parameters: those of [`Self::audit_insert_sql`].
    pub fn record_rolled_back_sql(&self) -> String {
        format!(
            "WITH forgotten AS ({}) {}",
            self.forget_sql("$2"),
            self.audit_insert_sql()
        )
    }

    /// The newest `limit` audit rows, newest first; empty when the table
    /// does not exist yet.
    pub fn read_audit(
        &self,
        client: &mut impl GenericClient,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, HistoryError> {
        let exists: bool = client
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL",
                &[&self.audit_qualified()],
            )
            .map_err(HistoryError::Db)?
            .try_get(0)
            .map_err(HistoryError::Db)?;
        if !exists {
            return Ok(Vec::new());
        }
        let rows = client
            .query(
                &format!(
                    "SELECT id, action::text, version::text, checksum::text, outcome::text, error, \
                     session_user_name::text, current_user_name::text, os_user::text, host::text, \
                     tool_version::text, started_at, duration_ms, \
                     to_jsonb(a) ->> 'detail', to_jsonb(a) ->> 'statements_checksum' \
                     FROM {} AS a ORDER BY id DESC LIMIT $1",
                    self.audit_qualified()
                ),
                &[&limit],
            )
            .map_err(HistoryError::Db)?;
        rows.iter()
            .map(|r| {
                Ok(AuditRecord {
                    id: r.try_get(0)?,
                    action: r.try_get(1)?,
                    version: r.try_get(2)?,
                    checksum: r.try_get(3)?,
                    outcome: r.try_get(4)?,
                    error: r.try_get(5)?,
                    session_user: r.try_get(6)?,
                    current_user: r.try_get(7)?,
                    os_user: r.try_get(8)?,
                    host: r.try_get(9)?,
                    tool_version: r.try_get(10)?,
                    started_at: r.try_get(11)?,
                    duration_ms: r.try_get(12)?,
                    detail: r.try_get(13)?,
                    statements_checksum: r.try_get(14)?,
                })
            })
            .collect::<Result<_, postgres::Error>>()
            .map_err(HistoryError::Db)
    }
}

/// Writes one audit row with `statement`: the text of
/// [`TrackingTable::audit_insert_sql`], or that text prepared once.
pub fn write<T: ?Sized + postgres::ToStatement>(
    client: &mut impl GenericClient,
    statement: &T,
    context: &AuditContext,
    entry: &AuditEntry<'_>,
) -> Result<(), postgres::Error> {
    write_with(client, statement, context, entry, &[])
}

/// Runs `statement`, whose parameters are an audit row's (those of
/// [`TrackingTable::audit_insert_sql`]) followed by `extra`: the combined
/// statements of [`TrackingTable::record_applied_sql`] and
/// [`TrackingTable::record_rolled_back_sql`].
pub fn write_with<T: ?Sized + postgres::ToStatement>(
    client: &mut impl GenericClient,
    statement: &T,
    context: &AuditContext,
    entry: &AuditEntry<'_>,
    extra: &[&(dyn ToSql + Sync)],
) -> Result<(), postgres::Error> {
    let values = row_values(context, entry);
    let mut params: Vec<&(dyn ToSql + Sync)> = values.iter().map(Value::param).collect();
    params.extend_from_slice(extra);
    client.execute(statement, &params).map(drop)
}

/// `EXECUTE name(…)`: runs the statement prepared on the session with
/// `PREPARE name AS` [`TrackingTable::record_applied_sql`] (or
/// [`TrackingTable::record_rolled_back_sql`]), the audit row's values
/// written as literals, then `extra`. As SQL text it travels in one query
/// with the `COMMIT` after it, which a protocol-level parameter cannot. An
/// entry without a duration records the time since its transaction began,
/// measured by the server, up to the tracking row.
pub fn execute_sql(
    name: &str,
    context: &AuditContext,
    entry: &AuditEntry<'_>,
    extra: &[&str],
) -> String {
    let mut args: Vec<String> = row_values(context, entry)
        .iter()
        .map(Value::literal)
        .collect();
    if entry.duration_ms.is_none() {
        args[DURATION] = SINCE_TRANSACTION_START_MS.to_string();
    }
    args.extend(extra.iter().map(|text| quote_literal(text)));
    format!("EXECUTE {name}({})", args.join(", "))
}

/// Milliseconds since the current transaction began, as an `INTEGER`.
const SINCE_TRANSACTION_START_MS: &str =
    "(extract(epoch FROM clock_timestamp() - transaction_timestamp()) * 1000)::int";

/// Index of `duration_ms` among [`row_values`].
const DURATION: usize = 6;

/// One value of an audit row.
enum Value<'a> {
    Text(Option<&'a str>),
    Time(&'a DateTime<Utc>),
    Int(Option<i32>),
}

impl Value<'_> {
    fn param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Value::Text(text) => text,
            Value::Time(time) => *time,
            Value::Int(number) => number,
        }
    }

    fn literal(&self) -> String {
        match self {
            Value::Text(Some(text)) => quote_literal(text),
            Value::Time(time) => quote_literal(&time.to_rfc3339()),
            Value::Int(Some(number)) => number.to_string(),
            Value::Text(None) | Value::Int(None) => "NULL".to_string(),
        }
    }
}

/// The values of an audit row, in the order of the parameters of
/// [`TrackingTable::audit_insert_sql`].
fn row_values<'a>(context: &'a AuditContext, entry: &'a AuditEntry<'a>) -> [Value<'a>; 12] {
    [
        Value::Text(Some(entry.action.as_str())),
        // A database-wide entry (backup, restore) has no version: NULL.
        Value::Text(Some(entry.version).filter(|v| !v.is_empty())),
        Value::Text(entry.checksum),
        Value::Text(Some(if entry.ok { "ok" } else { "failed" })),
        Value::Text(entry.error),
        Value::Time(&entry.started_at),
        Value::Int(entry.duration_ms),
        Value::Text(context.os_user.as_deref()),
        Value::Text(context.host.as_deref()),
        Value::Text(Some(&context.tool_version)),
        Value::Text(entry.detail.as_deref()),
        Value::Text(entry.statements_checksum.as_ref().map(|c| c.as_str())),
    ]
}
