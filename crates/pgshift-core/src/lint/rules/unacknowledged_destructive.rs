//! ## `unacknowledged-destructive` (error)
//!
//! ### What it does
//! Flags statements in a forward migration that destroy data: `DROP TABLE`,
//! `DROP SCHEMA`, `DROP TYPE`, `DROP DATABASE`, `ALTER TABLE … DROP
//! COLUMN`, `TRUNCATE`, and `DELETE` without `WHERE`, unless they are
//! acknowledged with a `-- pgshift:destructive-ok` comment directly above
//! the statement or in the file's header. Dropping an object the same file
//! created earlier is not flagged. Rollback files are not checked: undoing
//! is their job.
//!
//! ### Why is this bad?
//! Data dropped by a migration is gone on every environment it reaches,
//! and a rollback cannot bring it back. Making the author say so on purpose
//! turns an accident into a reviewed decision.
//!
//! ### Example
//! ```sql
//! ALTER TABLE users DROP COLUMN IF EXISTS legacy_login;
//! ```
//!
//! ### Use instead
//! ```sql
//! -- legacy_login was copied to user_logins in 005.
//! -- pgshift:destructive-ok
//! ALTER TABLE users DROP COLUMN IF EXISTS legacy_login;
//! ```

use super::super::context::FileContext;
use super::super::sql::{ColumnChange, Name, ObjKind};
use super::super::{Rule, Violation};
use crate::source::Span;

pub(crate) fn check(forward: &FileContext, out: &mut Vec<Violation>) {
    if forward.header.destructive_ok {
        return;
    }
    let mut created: Vec<(ObjKind, Name)> = Vec::new();
    for (statement, stmt) in forward.each() {
        let mut found: Vec<(Span, String)> = Vec::new();
        if let Some(create) = stmt.create() {
            if let Some(name) = create.name {
                created.push((create.kind, name));
            }
        } else if let Some(drop) = stmt.drop() {
            let destructive = matches!(
                drop.kind,
                ObjKind::Table | ObjKind::Schema | ObjKind::Type | ObjKind::Database
            );
            let all_created_here = !drop.names.is_empty()
                && drop
                    .names
                    .iter()
                    .all(|n| created.iter().any(|(k, c)| *k == drop.kind && c.same(n)));
            if destructive && !all_created_here {
                found.push((
                    drop.kind_span,
                    format!(
                        "`DROP {}` destroys its data",
                        drop.kind.label().to_uppercase()
                    ),
                ));
            }
        } else if stmt.first().as_deref() == Some("TRUNCATE") {
            found.push((stmt.head_span(0), "`TRUNCATE` deletes every row".into()));
        } else if stmt.first().as_deref() == Some("DELETE")
            && stmt.find_top(0, &["WHERE"]).is_none()
        {
            found.push((
                stmt.head_span(1),
                "`DELETE` without `WHERE` deletes every row".into(),
            ));
        } else if let Some((_, actions)) = stmt.alter_table() {
            for action in actions {
                if let Some(ColumnChange::Drop { .. }) = action.column {
                    found.push((
                        action.span,
                        "`DROP COLUMN` destroys the column's data".into(),
                    ));
                }
            }
        }
        if statement.directives.destructive_ok {
            continue;
        }
        for (span, message) in found {
            out.push(
                Violation::new(Rule::UnacknowledgedDestructive, forward.file(), span, message)
                    .help("make sure the data is no longer needed (or is copied elsewhere first), then put `-- pgshift:destructive-ok` on the line above the statement"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::*;
    use crate::lint::Rule::UnacknowledgedDestructive as R;

    const ACK: &str = "SELECT 1;\n-- data moved to user_logins in 005\n-- pgshift:destructive-ok\n";

    #[test]
    fn drop_table_needs_acknowledgement() {
        let sql = "DROP TABLE IF EXISTS legacy;";
        lint_errors(R, &format!("SELECT 1;\n{sql}"));
        lint_ok(R, &format!("{ACK}{sql}"));
        lint_ok(
            R,
            &format!("-- Description: x\n-- pgshift:destructive-ok\n\nSELECT 1;\n{sql}"),
        );
    }

    #[test]
    fn drop_column_truncate_delete() {
        lint_errors(R, "ALTER TABLE users DROP COLUMN IF EXISTS legacy;");
        lint_ok(R, "ALTER TABLE users DROP CONSTRAINT IF EXISTS c;");
        lint_errors(R, "TRUNCATE audit_log;");
        lint_errors(R, "DELETE FROM sessions;");
        lint_ok(R, "DELETE FROM sessions WHERE expires_at < now();");
        lint_ok(R, &format!("{ACK}TRUNCATE audit_log;"));
    }

    #[test]
    fn dropping_what_the_file_created_is_fine() {
        lint_ok(
            R,
            "CREATE TABLE IF NOT EXISTS tmp (id int);\nDROP TABLE tmp;",
        );
        lint_ok(
            R,
            "DROP INDEX IF EXISTS i;\nDROP TRIGGER IF EXISTS t ON users;",
        );
    }

    #[test]
    fn rollbacks_are_not_checked() {
        let found = check(
            R,
            "CREATE TABLE IF NOT EXISTS t (id int);",
            "DROP TABLE IF EXISTS t;",
        );
        assert!(found.is_empty(), "{found:#?}");
    }
}
