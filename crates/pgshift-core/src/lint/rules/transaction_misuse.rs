//! ## `transaction-misuse` (error)
//!
//! ### What it does
//! Flags a statement PostgreSQL refuses to run inside a transaction block
//! (`CREATE INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY`,
//! `REINDEX … CONCURRENTLY`, `ALTER TABLE … DETACH PARTITION …
//! CONCURRENTLY`, `VACUUM`, `CREATE/DROP DATABASE`, `CREATE/DROP
//! TABLESPACE`, `ALTER SYSTEM`, `DISCARD ALL`) in a file without
//! `-- pgshift:no-transaction`, and the directive on a file that has no
//! such statement.
//!
//! A file's own `BEGIN; … COMMIT;` around its whole body (the psql style)
//! is fine: pgshift runs the body inside its transaction. A `COMMIT` in the
//! middle of a file is refused when the folder is loaded.
//!
//! ### Why is this bad?
//! pgshift runs a migration in one transaction with its tracking row, so
//! the first statement of this kind fails with "cannot run inside a
//! transaction block". The other way round, a no-transaction migration
//! gives up atomicity: if a statement fails, the ones before it stay
//! applied. That is only worth it when a statement needs it.
//!
//! ### Example
//! ```sql
//! -- Description: Index users by last login
//! CREATE INDEX CONCURRENTLY IF NOT EXISTS users_last_login_idx ON users (last_login_at);
//! ```
//!
//! ### Use instead
//! ```sql
//! -- Description: Index users by last login
//! -- pgshift:no-transaction
//! CREATE INDEX CONCURRENTLY IF NOT EXISTS users_last_login_idx ON users (last_login_at);
//! ```

use super::super::context::FileContext;
use super::super::sql::{ObjKind, Stmt};
use super::super::{Rule, Violation};
use crate::script::TransactionMode;
use crate::source::Span;

pub(crate) fn check(file: &FileContext, out: &mut Vec<Violation>) {
    let needing: Vec<(Span, &str)> = file
        .each()
        .filter_map(|(_, stmt)| non_transactional(&stmt).map(|what| (stmt.head_span(3), what)))
        .collect();
    match file.mode {
        TransactionMode::Transactional => {
            for (head, what) in needing {
                out.push(
                    Violation::new(
                        Rule::TransactionMisuse,
                        file.file(),
                        head,
                        format!("`{what}` cannot run inside a transaction, and this migration runs in one"),
                    )
                    .help("add `-- pgshift:no-transaction` to the file's header comment block (the file then runs statement by statement and may not contain BEGIN/COMMIT), or move the statement to a migration of its own"),
                );
            }
        }
        // A file with no statement yet (a fresh `pgshift new` template) has
        // nothing to judge the directive by.
        TransactionMode::NoTransaction if needing.is_empty() && !file.statements.is_empty() => {
            out.push(
                Violation::new(
                    Rule::TransactionMisuse,
                    file.file(),
                    file.no_transaction_at.unwrap_or(Span::new(0, 0)),
                    "`-- pgshift:no-transaction` but no statement needs to run outside a transaction",
                )
                .help("remove the directive: the migration then commits atomically with its tracking row"),
            );
        }
        TransactionMode::NoTransaction => {}
    }
}

/// What makes the statement impossible inside a transaction block, if
/// anything (PostgreSQL calls `PreventInTransactionBlock` for these).
fn non_transactional(stmt: &Stmt) -> Option<&'static str> {
    if let Some(create) = stmt.create() {
        return match create.kind {
            ObjKind::Index if create.concurrently => Some("CREATE INDEX CONCURRENTLY"),
            ObjKind::Database => Some("CREATE DATABASE"),
            _ if stmt.words_at(0, &["CREATE", "TABLESPACE"]) => Some("CREATE TABLESPACE"),
            _ => None,
        };
    }
    if let Some(drop) = stmt.drop() {
        return match drop.kind {
            ObjKind::Index if drop.concurrently => Some("DROP INDEX CONCURRENTLY"),
            ObjKind::Database => Some("DROP DATABASE"),
            _ if stmt.words_at(0, &["DROP", "TABLESPACE"]) => Some("DROP TABLESPACE"),
            _ => None,
        };
    }
    match stmt.first()?.as_str() {
        "VACUUM" => Some("VACUUM"),
        "DISCARD" if stmt.words_at(1, &["ALL"]) => Some("DISCARD ALL"),
        "REINDEX" if stmt.find_top(1, &["CONCURRENTLY"]).is_some() => Some("REINDEX CONCURRENTLY"),
        "ALTER" if stmt.words_at(1, &["SYSTEM"]) => Some("ALTER SYSTEM"),
        "ALTER"
            if stmt.words_at(1, &["TABLE"])
                && stmt.find_top(2, &["DETACH", "PARTITION"]).is_some()
                && stmt.find_top(2, &["CONCURRENTLY"]).is_some() =>
        {
            Some("DETACH PARTITION CONCURRENTLY")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::*;
    use crate::lint::Rule::TransactionMisuse as R;

    const NO_TX: &str = "-- pgshift:no-transaction\n";

    #[test]
    fn concurrent_index_needs_no_transaction() {
        let sql = "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);";
        lint_errors(R, sql);
        lint_ok(R, &format!("{NO_TX}{sql}"));
        lint_errors(R, "DROP INDEX CONCURRENTLY IF EXISTS i;");
        lint_errors(R, "REINDEX (VERBOSE) INDEX CONCURRENTLY i;");
        lint_errors(R, "VACUUM ANALYZE users;");
        lint_errors(R, "ALTER SYSTEM SET work_mem = '64MB';");
        lint_errors(R, "CREATE DATABASE other;");
        lint_errors(R, "DISCARD ALL;");
        lint_ok(R, &format!("{NO_TX}SELECT 1;\nDISCARD ALL;"));
        lint_ok(R, "DISCARD TEMP;");
        lint_ok(R, "CREATE INDEX IF NOT EXISTS i ON t (a);");
        lint_ok(R, "REINDEX INDEX i;");
    }

    #[test]
    fn directive_without_a_reason() {
        let found = check(
            R,
            &format!("{NO_TX}CREATE INDEX IF NOT EXISTS i ON t (a);"),
            "SELECT 1;",
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].file.slice(found[0].span), "pgshift:no-transaction");
    }

    #[test]
    fn psql_style_begin_commit_is_not_flagged() {
        lint_ok(
            R,
            "-- Description: x\n\\set ON_ERROR_STOP on\nBEGIN;\nCREATE TABLE IF NOT EXISTS t (id int);\nCOMMIT;\n",
        );
    }

    #[test]
    fn words_in_comments_and_strings_do_not_count() {
        lint_ok(
            R,
            "-- VACUUM users;\nSELECT 'CREATE INDEX CONCURRENTLY i ON t (a)';",
        );
    }
}
