//! ## `non-idempotent` (warning)
//!
//! ### What it does
//! Flags statements that fail, or do their work twice, when the file runs
//! again:
//! - `CREATE TABLE/INDEX/SCHEMA/SEQUENCE/EXTENSION/MATERIALIZED VIEW`
//!   without `IF NOT EXISTS`;
//! - `CREATE FUNCTION/PROCEDURE/VIEW/TRIGGER` without `OR REPLACE`;
//! - `CREATE TYPE/DOMAIN/POLICY`, which have no `IF NOT EXISTS`;
//! - `DROP …` without `IF EXISTS`, `ALTER TABLE … ADD COLUMN` without
//!   `IF NOT EXISTS`, `ALTER TABLE … DROP COLUMN` without `IF EXISTS`;
//! - `INSERT` without `ON CONFLICT`.
//!
//! A `CREATE` is fine when the same file drops the object with
//! `IF EXISTS` earlier (`DROP TRIGGER IF EXISTS t ON users;` then
//! `CREATE TRIGGER t …`). Forward and rollback files are both checked.
//!
//! ### Why is this bad?
//! The migration folder's convention is that every file can be re-run
//! safely: after a partial manual run, with plain `psql -f`, or when a
//! no-transaction migration is resumed. A statement that fails on the
//! second run breaks that promise exactly when it is needed.
//!
//! ### Example
//! ```sql
//! CREATE TABLE api_keys (id bigint PRIMARY KEY);
//! INSERT INTO roles (name) VALUES ('admin');
//! ```
//!
//! ### Use instead
//! ```sql
//! CREATE TABLE IF NOT EXISTS api_keys (id bigint PRIMARY KEY);
//! INSERT INTO roles (name) VALUES ('admin') ON CONFLICT (name) DO NOTHING;
//! ```

use super::super::context::FileContext;
use super::super::sql::{ColumnChange, Name, ObjKind};
use super::super::{Rule, Violation};
use crate::source::Span;

pub(crate) fn check(file: &FileContext, out: &mut Vec<Violation>) {
    // Objects this file drops with IF EXISTS, so a later CREATE is safe.
    let mut dropped: Vec<(ObjKind, Name)> = Vec::new();
    let mut report = |span: Span, message: String, help: &str| {
        out.push(Violation::new(Rule::NonIdempotent, file.file(), span, message).help(help));
    };
    for (_, stmt) in file.each() {
        if let Some(create) = stmt.create() {
            let span = Span::new(
                stmt.span.start,
                create
                    .name
                    .as_ref()
                    .map_or(stmt.head_span(2).end, |n| n.span.end),
            );
            let guarded = create.name.as_ref().is_some_and(|name| {
                dropped
                    .iter()
                    .any(|(k, n)| *k == create.kind && n.same(name))
            });
            let what = create.kind.label().to_uppercase();
            match create.kind {
                ObjKind::Table
                | ObjKind::Index
                | ObjKind::Schema
                | ObjKind::Sequence
                | ObjKind::Extension
                | ObjKind::MaterializedView
                    if !create.if_not_exists && !guarded =>
                {
                    report(
                        span,
                        format!("`CREATE {what}` without `IF NOT EXISTS` fails when the migration runs again"),
                        if create.name.is_none() {
                            "name the index and write `CREATE INDEX IF NOT EXISTS name ON …`"
                        } else {
                            "write `IF NOT EXISTS` after the object type"
                        },
                    );
                }
                ObjKind::Function | ObjKind::Procedure | ObjKind::View | ObjKind::Trigger
                    if !create.or_replace && !guarded =>
                {
                    report(
                        span,
                        format!("`CREATE {what}` without `OR REPLACE` fails when the migration runs again"),
                        "write `CREATE OR REPLACE`, or drop it with `IF EXISTS` just before",
                    );
                }
                ObjKind::Type | ObjKind::Domain | ObjKind::Policy if !guarded => {
                    report(
                        span,
                        format!("`CREATE {what}` has no `IF NOT EXISTS` and fails when the migration runs again"),
                        "drop it with `IF EXISTS` just before, or create it in a `DO` block that checks the catalog first",
                    );
                }
                _ => {}
            }
        } else if let Some(drop) = stmt.drop() {
            if drop.if_exists {
                dropped.extend(drop.names.iter().map(|n| (drop.kind, n.clone())));
            } else {
                report(
                    drop.kind_span,
                    format!(
                        "`DROP {}` without `IF EXISTS` fails when the migration runs again",
                        drop.kind.label().to_uppercase()
                    ),
                    "write `IF EXISTS` after the object type",
                );
            }
        } else if stmt.first().as_deref() == Some("INSERT")
            && stmt.find_top(0, &["ON", "CONFLICT"]).is_none()
        {
            report(
                stmt.head_span(2),
                "`INSERT` without `ON CONFLICT` inserts again (or fails) when the migration runs again".into(),
                "add `ON CONFLICT (key) DO NOTHING` (or `DO UPDATE`)",
            );
        } else if let Some((_, actions)) = stmt.alter_table() {
            for action in actions {
                match action.column {
                    Some(ColumnChange::Add {
                        if_not_exists: false,
                    }) => report(
                        action.span,
                        "`ADD COLUMN` without `IF NOT EXISTS` fails when the migration runs again"
                            .into(),
                        "write `ADD COLUMN IF NOT EXISTS`",
                    ),
                    Some(ColumnChange::Drop { if_exists: false }) => report(
                        action.span,
                        "`DROP COLUMN` without `IF EXISTS` fails when the migration runs again"
                            .into(),
                        "write `DROP COLUMN IF EXISTS`",
                    ),
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::*;
    use crate::lint::Rule::NonIdempotent as R;

    #[test]
    fn create_without_if_not_exists() {
        lint_errors(R, "CREATE TABLE t (id int);");
        lint_ok(R, "CREATE TABLE IF NOT EXISTS t (id int);");
        lint_errors(R, "CREATE UNIQUE INDEX t_a ON t (a);");
        lint_ok(R, "CREATE UNIQUE INDEX IF NOT EXISTS t_a ON t (a);");
        lint_errors(R, "CREATE SCHEMA app;");
        lint_ok(R, "CREATE SCHEMA IF NOT EXISTS app;");
        lint_errors(R, "CREATE SEQUENCE s;");
        lint_ok(R, "CREATE SEQUENCE IF NOT EXISTS s;");
    }

    #[test]
    fn create_function_needs_or_replace() {
        let body = "FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;";
        lint_errors(R, &format!("CREATE {body}"));
        lint_ok(R, &format!("CREATE OR REPLACE {body}"));
    }

    #[test]
    fn create_after_drop_if_exists_is_fine() {
        let create = "CREATE TRIGGER t BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION f();";
        lint_errors(R, create);
        lint_ok(R, &format!("DROP TRIGGER IF EXISTS t ON users;\n{create}"));
    }

    #[test]
    fn drop_without_if_exists() {
        lint_errors(R, "DROP INDEX t_a;");
        lint_ok(R, "DROP INDEX IF EXISTS t_a;");
    }

    #[test]
    fn insert_without_on_conflict() {
        lint_errors(R, "INSERT INTO roles (name) VALUES ('a');");
        lint_ok(
            R,
            "INSERT INTO roles (name) VALUES ('a') ON CONFLICT (name) DO NOTHING;",
        );
    }

    #[test]
    fn add_column_without_if_not_exists() {
        lint_errors(R, "ALTER TABLE users ADD COLUMN avatar text;");
        lint_errors(R, "ALTER TABLE users ADD avatar text;");
        lint_ok(R, "ALTER TABLE users ADD COLUMN IF NOT EXISTS avatar text;");
        lint_ok(R, "ALTER TABLE users ADD CONSTRAINT c CHECK (id > 0);");
    }

    #[test]
    fn comments_and_strings_do_not_trigger() {
        lint_ok(
            R,
            "-- CREATE TABLE t (id int);\n/* DROP TABLE t; */\nSELECT 'INSERT INTO t VALUES (1)';\n\
             DO $$ BEGIN CREATE TABLE t (id int); END $$;",
        );
    }

    #[test]
    fn ignore_comment_above_statement() {
        lint_ok(
            R,
            "-- pgshift:ignore non-idempotent\nINSERT INTO audit_log (action) VALUES ('x');",
        );
        // Not directly above: a blank line in between.
        lint_errors(
            R,
            "SELECT 1;\n-- pgshift:ignore non-idempotent\n\nINSERT INTO audit_log (action) VALUES ('x');",
        );
    }
}
