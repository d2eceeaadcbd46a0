//! `pgshift drift`: does the database still look like its migrations say?
//!
//! [`detect`] replays the migrations recorded as applied in the
//! target's tracking table, from their files and in version order, on a
//! scratch database, and snapshots it; [`crate::diff::diff`] of that
//! (expected) against the target's own snapshot (actual) is the drift.
//! Tracking and audit tables are left out of both.
//!
//! [`correction_sql`] turns the difference into statements that make one
//! schema look like another: the suggested correction migration (actual →
//! expected) and its rollback (expected → actual). It covers tables,
//! columns (add, drop, type, default, nullability), constraints, indexes,
//! functions and procedures, views and triggers; everything else becomes a
//! `-- REVIEW:` comment naming the difference. Every statement is written
//! to be idempotent (`IF EXISTS`, `IF NOT EXISTS`, `CREATE OR REPLACE`,
//! drop-then-create), so the correction can also run on databases that
//! never drifted.

use crate::connect::ConnectionSettings;
use crate::diff::{diff, Change, ObjectKind};
use crate::error::Error;
use crate::executor::{Event, Executor, NoticeQueue};
use crate::history::TrackingTable;
use crate::migration::{MigrationSet, Version};
use crate::migrator::{prepare_session, RunOptions};
use crate::plan::UpStep;
use crate::snapshot::{snapshot, Column, ConstraintKind, Schema, SnapshotOptions, Table};
use std::collections::BTreeSet;
use std::fmt::Write;

/// What `pgshift drift` found.
#[derive(Debug)]
pub struct Drift {
    /// The migrations replayed, in order.
    pub replayed: Vec<Version>,
    /// Applied migrations whose file changed since (replayed as they are now).
    pub modified: Vec<Version>,
    /// The schema the migrations build.
    pub expected: Schema,
    /// The target's schema.
    pub actual: Schema,
    /// `diff(expected, actual)`: what was done by hand.
    pub changes: Vec<Change>,
}

/// Why the expected schema cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriftError {
    /// Applied migrations have no file to replay.
    #[error("applied migration(s) {} have no file in the migration folder, so the expected schema cannot be rebuilt", .0.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", "))]
    MissingFiles(Vec<Version>),
}

/// Replays the target's applied migrations on `scratch` (an empty
/// database) and compares. `observer` sees the replay's executor events.
///
/// # Errors
/// Connecting, reading the history or a snapshot failed; a replayed
/// migration failed ([`Error::Exec`]); or an applied migration has no file
/// ([`DriftError::MissingFiles`], inside `Ok(Err(…))`).
pub fn detect(
    set: &MigrationSet,
    table: &TrackingTable,
    target: &ConnectionSettings,
    scratch: &ConnectionSettings,
    options: &RunOptions,
    observer: &mut dyn FnMut(Event<'_>),
) -> Result<Result<Drift, DriftError>, Error> {
    let app = &options.application_name;
    let mut target_client = target.connect(app)?;
    let history = table.read(&mut target_client)?;
    let mut steps = Vec::new();
    let mut missing = Vec::new();
    let mut modified = Vec::new();
    for applied in &history.applied {
        match set
            .migrations()
            .iter()
            .position(|m| m.version == applied.version || m.version.same_number(&applied.version))
        {
            Some(index) => {
                let m = &set.migrations()[index];
                if applied.checksum.as_ref().is_some_and(|c| *c != m.checksum) {
                    modified.push(m.version.clone());
                }
                steps.push(UpStep {
                    migration: index,
                    resume_at: None,
                });
            }
            None => missing.push(applied.version.clone()),
        }
    }
    if !missing.is_empty() {
        return Ok(Err(DriftError::MissingFiles(missing)));
    }
    steps.sort_by_key(|s| s.migration);

    let notices = NoticeQueue::default();
    let sink = notices.clone();
    let mut client = scratch.connect_with_notices(app, move |n| sink.push(n))?;
    prepare_session(&mut client, options)?;
    table.ensure(&mut client)?;
    let mut bookkeeping = crate::migrator::bookkeeping_session(scratch, options)?;
    let mut executor = Executor::new(&mut client, table, &options.exec, &options.audit, notices)
        .with_bookkeeping(&mut bookkeeping)
        .with_session_setup(crate::migrator::session_settings(options));
    executor.apply(set, &steps, observer)?;

    let snapshot_options = SnapshotOptions {
        tracking: table.clone(),
        include_tracking: false,
        include_privileges: false,
    };
    let expected = snapshot(&mut client, &snapshot_options)?;
    let actual = snapshot(&mut target_client, &snapshot_options)?;
    let changes = diff(&expected, &actual);
    Ok(Ok(Drift {
        replayed: steps
            .iter()
            .map(|s| set.migrations()[s.migration].version.clone())
            .collect(),
        modified,
        expected,
        actual,
        changes,
    }))
}

/// Statements that turn `from` into `to`, and `-- REVIEW:` comments for
/// what they cannot express. Empty when the schemas are equal.
pub fn correction_sql(from: &Schema, to: &Schema) -> String {
    let mut drops = String::new();
    let mut creates = String::new();
    let mut review: Vec<String> = Vec::new();
    // `write!` into a String cannot fail.
    macro_rules! w {
        ($out:expr, $($arg:tt)*) => { let _ = writeln!($out, $($arg)*); };
    }
    let destroys = "-- REVIEW: destroys data.";

    // Triggers and views first out, last in.
    for (key, t) in &from.triggers {
        if to.triggers.get(key).map(|x| &x.definition) != Some(&t.definition) {
            w!(drops, "DROP TRIGGER IF EXISTS {} ON {};", t.name, t.table);
        }
    }
    for (key, v) in &from.views {
        let same = to
            .views
            .get(key)
            .is_some_and(|x| x.definition == v.definition && x.materialized == v.materialized);
        if !same && (v.materialized || !to.views.contains_key(key)) {
            let kind = if v.materialized {
                "MATERIALIZED VIEW"
            } else {
                "VIEW"
            };
            w!(drops, "DROP {kind} IF EXISTS {key};");
        }
    }
    for (key, i) in &from.indexes {
        if to.indexes.get(key).map(|x| &x.definition) != Some(&i.definition) {
            let _ = i;
            w!(drops, "DROP INDEX IF EXISTS {key};");
        }
    }
    // Constraints: foreign keys before the keys they may reference.
    let mut constraint_drops: Vec<(bool, String)> = Vec::new();
    for (table_key, t) in &from.tables {
        let Some(other) = to.tables.get(table_key) else {
            continue;
        };
        for (name, c) in &t.constraints {
            if other.constraints.get(name).map(|x| &x.definition) != Some(&c.definition) {
                constraint_drops.push((
                    c.kind != ConstraintKind::ForeignKey,
                    format!("ALTER TABLE {table_key} DROP CONSTRAINT IF EXISTS {name};"),
                ));
            }
        }
    }
    constraint_drops.sort_by_key(|(not_fk, _)| *not_fk);
    for (_, sql) in constraint_drops {
        w!(drops, "{sql}");
    }
    for (key, f) in &from.functions {
        if !to.functions.contains_key(key) {
            let kind = if f.kind == "procedure" {
                "PROCEDURE"
            } else {
                "FUNCTION"
            };
            w!(drops, "DROP {kind} IF EXISTS {key};");
        }
    }

    // Tables and columns.
    for (key, t) in &from.tables {
        match to.tables.get(key) {
            None => {
                w!(drops, "{destroys}");
                w!(drops, "DROP TABLE IF EXISTS {key};");
            }
            Some(other) => columns_sql(key, t, other, &mut drops, &mut creates, &mut review),
        }
    }
    for (key, t) in &to.tables {
        if from.tables.contains_key(key) {
            continue;
        }
        let sql = crate::snapshot::sql::table_sql(key, t);
        let sql = sql.replacen("TABLE ", "TABLE IF NOT EXISTS ", 1);
        creates.push_str(&sql);
        for c in &t.columns {
            if let Some(default) = &c.default {
                w!(
                    creates,
                    "ALTER TABLE {key} ALTER COLUMN {} SET DEFAULT {default};",
                    c.name
                );
            }
        }
        if t.row_security {
            w!(creates, "ALTER TABLE {key} ENABLE ROW LEVEL SECURITY;");
        }
    }

    // Functions (CREATE OR REPLACE is idempotent on its own).
    for (key, f) in &to.functions {
        if from.functions.get(key).map(|x| &x.definition) != Some(&f.definition) {
            if from.functions.contains_key(key) {
                w!(
                    creates,
                    "-- REVIEW: the body of {key} differs; this restores the other version."
                );
            }
            w!(
                creates,
                "{};",
                f.definition.trim_end().trim_end_matches(';')
            );
        }
    }

    // Constraints: keys before the foreign keys that need them.
    let mut adds: Vec<(bool, String)> = Vec::new();
    for (table_key, t) in &to.tables {
        let before = from.tables.get(table_key);
        for (name, c) in &t.constraints {
            let same = before
                .and_then(|b| b.constraints.get(name))
                .is_some_and(|x| x.definition == c.definition);
            if !same {
                adds.push((
                    c.kind == ConstraintKind::ForeignKey,
                    format!(
                        "ALTER TABLE {table_key} DROP CONSTRAINT IF EXISTS {name};\n\
                         ALTER TABLE {table_key} ADD CONSTRAINT {name} {};",
                        c.definition
                    ),
                ));
            }
        }
    }
    adds.sort_by_key(|(fk, _)| *fk);
    for (_, sql) in adds {
        w!(creates, "{sql}");
    }
    for (key, i) in &to.indexes {
        if from.indexes.get(key).map(|x| &x.definition) != Some(&i.definition) {
            let def = i
                .definition
                .replacen("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)
                .replacen(
                    "CREATE UNIQUE INDEX ",
                    "CREATE UNIQUE INDEX IF NOT EXISTS ",
                    1,
                );
            w!(creates, "{def};");
        }
    }
    for (key, v) in &to.views {
        if from
            .views
            .get(key)
            .is_some_and(|x| x.definition == v.definition && x.materialized == v.materialized)
        {
            continue;
        }
        if v.materialized {
            w!(
                creates,
                "CREATE MATERIALIZED VIEW IF NOT EXISTS {key} AS\n{};",
                v.definition
            );
        } else {
            w!(
                creates,
                "CREATE OR REPLACE VIEW {key} AS\n{};",
                v.definition
            );
        }
    }
    for (key, t) in &to.triggers {
        if from.triggers.get(key).map(|x| &x.definition) != Some(&t.definition) {
            w!(creates, "DROP TRIGGER IF EXISTS {} ON {};", t.name, t.table);
            w!(creates, "{};", t.definition);
        }
    }

    // What the statements above do not cover.
    let covered = [
        ObjectKind::Table,
        ObjectKind::Column,
        ObjectKind::Constraint,
        ObjectKind::Index,
        ObjectKind::View,
        ObjectKind::MaterializedView,
        ObjectKind::Function,
        ObjectKind::Procedure,
        ObjectKind::Trigger,
    ];
    for change in diff(from, to) {
        let (object, attribute) = match &change {
            Change::Added { object } | Change::Removed { object } => (object, None),
            Change::Changed {
                object, attribute, ..
            } => (object, Some(attribute.as_str())),
        };
        let handled = covered.contains(&object.kind)
            && match (object.kind, attribute) {
                (_, None) => true,
                (ObjectKind::Column, Some(a)) => {
                    ["type", "collation", "not null", "default"].contains(&a)
                }
                (ObjectKind::Table, Some(a)) => a == "row level security",
                (ObjectKind::Index, Some(a)) => {
                    ["definition", "table", "method", "unique", "predicate"].contains(&a)
                }
                (ObjectKind::Function | ObjectKind::Procedure, Some(a)) => a == "body",
                (_, Some(a)) => a == "definition" || a == "materialized",
            };
        if !handled {
            review.push(change.to_string());
        }
    }
    for (key, t) in &from.tables {
        if let Some(other) = to.tables.get(key) {
            if t.row_security != other.row_security {
                let verb = if other.row_security {
                    "ENABLE"
                } else {
                    "DISABLE"
                };
                w!(creates, "ALTER TABLE {key} {verb} ROW LEVEL SECURITY;");
            }
        }
    }

    let mut out = String::new();
    out.push_str(&drops);
    out.push_str(&creates);
    let review: BTreeSet<String> = review.into_iter().collect();
    for item in review {
        w!(out, "-- REVIEW: not corrected, do this by hand: {item}");
    }
    out
}

fn column_definition(c: &Column) -> String {
    let mut sql = format!("{} {}", c.name, c.data_type);
    if let Some(coll) = &c.collation {
        let _ = write!(sql, " COLLATE {coll}");
    }
    if let Some(expr) = &c.generated {
        let _ = write!(sql, " GENERATED ALWAYS AS ({expr}) STORED");
    }
    if let Some(identity) = &c.identity {
        let _ = write!(sql, " GENERATED {} AS IDENTITY", identity.to_uppercase());
    }
    if let Some(default) = &c.default {
        let _ = write!(sql, " DEFAULT {default}");
    }
    if c.not_null {
        sql.push_str(" NOT NULL");
    }
    sql
}

fn columns_sql(
    key: &str,
    from: &Table,
    to: &Table,
    drops: &mut String,
    creates: &mut String,
    review: &mut Vec<String>,
) {
    macro_rules! w {
        ($out:expr, $($arg:tt)*) => { let _ = writeln!($out, $($arg)*); };
    }
    for c in from.columns.iter().filter(|c| !c.inherited) {
        if !to.columns.iter().any(|x| x.name == c.name) {
            w!(drops, "-- REVIEW: destroys data.");
            w!(drops, "ALTER TABLE {key} DROP COLUMN IF EXISTS {};", c.name);
        }
    }
    for c in to.columns.iter().filter(|c| !c.inherited) {
        let Some(old) = from.columns.iter().find(|x| x.name == c.name) else {
            if c.not_null && c.default.is_none() && c.identity.is_none() && c.generated.is_none() {
                review.push(format!(
                    "column {key}.{} is NOT NULL without a default: adding it fails on a table with rows",
                    c.name
                ));
            }
            w!(
                creates,
                "ALTER TABLE {key} ADD COLUMN IF NOT EXISTS {};",
                column_definition(c)
            );
            continue;
        };
        let name = &c.name;
        if old.data_type != c.data_type || old.collation != c.collation {
            let collate = c
                .collation
                .as_ref()
                .map(|coll| format!(" COLLATE {coll}"))
                .unwrap_or_default();
            w!(
                creates,
                "ALTER TABLE {key} ALTER COLUMN {name} TYPE {}{collate};",
                c.data_type
            );
        }
        if old.default != c.default && c.generated.is_none() && c.identity.is_none() {
            match &c.default {
                Some(d) => {
                    w!(
                        creates,
                        "ALTER TABLE {key} ALTER COLUMN {name} SET DEFAULT {d};"
                    );
                }
                None => {
                    w!(
                        creates,
                        "ALTER TABLE {key} ALTER COLUMN {name} DROP DEFAULT;"
                    );
                }
            }
        }
        if old.not_null != c.not_null {
            let verb = if c.not_null { "SET" } else { "DROP" };
            w!(
                creates,
                "ALTER TABLE {key} ALTER COLUMN {name} {verb} NOT NULL;"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::fixtures::{column as col, users_schema};

    fn schema(columns: Vec<Column>, index: bool, body: &str) -> Schema {
        users_schema(
            columns,
            "",
            &format!(
                "CREATE OR REPLACE FUNCTION public.f()\n RETURNS integer\n LANGUAGE sql\nAS $function${body}$function$\n"
            ),
            index.then_some("CREATE INDEX users_email_idx ON public.users USING btree (email)"),
        )
    }

    #[test]
    fn corrections_cover_columns_indexes_and_bodies() {
        let expected = schema(vec![col("email", "text")], true, "SELECT 1");
        let actual = schema(
            vec![col("email", "text"), col("nickname", "text")],
            false,
            "SELECT 2",
        );
        let sql = correction_sql(&actual, &expected);
        assert!(
            sql.contains("ALTER TABLE public.users DROP COLUMN IF EXISTS nickname;"),
            "{sql}"
        );
        assert!(
            sql.contains(
                "CREATE INDEX IF NOT EXISTS users_email_idx ON public.users USING btree (email);"
            ),
            "{sql}"
        );
        assert!(sql.contains("$function$SELECT 1$function$;"), "{sql}");
        let back = correction_sql(&expected, &actual);
        assert!(
            back.contains("ADD COLUMN IF NOT EXISTS nickname text;"),
            "{back}"
        );
        assert!(
            back.contains("DROP INDEX IF EXISTS public.users_email_idx;"),
            "{back}"
        );
        assert_eq!(correction_sql(&actual, &actual), "");
    }
}
