//! ## `missing-rollback` (error)
//!
//! ### What it does
//! Flags a forward migration `NNN_name.sql` that has no `rollback_NNN.sql`.
//! (A rollback without its forward migration is already refused when the
//! folder is loaded.)
//!
//! ### Why is this bad?
//! `pgshift rollback` cannot undo the migration, and nobody finds out until
//! the moment a rollback is needed, in production, under pressure.
//!
//! ### Example
//! ```text
//! migration_scripts/
//!   004_api_keys.sql
//! ```
//!
//! ### Use instead
//! ```text
//! migration_scripts/
//!   004_api_keys.sql
//!   rollback_004.sql      -- DROP TABLE IF EXISTS api_keys;
//! ```
//! `pgshift new` writes both files. If a migration truly cannot be undone,
//! mark it `-- pgshift:irreversible` in its header: `rollback` then refuses
//! it before anything runs and `test` skips its rollback checks.

use super::super::context::FileContext;
use super::super::{Rule, Violation};
use crate::source::Span;

/// `undoable`: it has a rollback file, or is marked irreversible.
pub(crate) fn check(forward: &FileContext, undoable: bool, out: &mut Vec<Violation>) {
    if undoable {
        return;
    }
    let expected = rollback_name(forward);
    out.push(
        Violation::new(
            Rule::MissingRollback,
            forward.file(),
            Span::new(0, 0),
            format!("migration has no rollback file `{expected}`"),
        )
        .help(format!(
            "add `{expected}` that undoes this migration (`pgshift new` writes both files), or mark it `-- pgshift:irreversible` in its header if it cannot be undone"
        )),
    );
}

/// `003_x.sql` → `rollback_003.sql`.
fn rollback_name(forward: &FileContext) -> String {
    let name = forward
        .file()
        .path()
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
    format!("rollback_{digits}.sql")
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::*;
    use crate::lint::Rule;

    #[test]
    fn flags_a_migration_without_rollback() {
        let found = lint_set(&[("001_a.sql", "-- Description: a\nSELECT 1;\n")]);
        assert_eq!(rules(&found), [Rule::MissingRollback]);
        assert!(found[0].message.contains("rollback_001.sql"));
    }

    #[test]
    fn accepts_a_migration_with_rollback() {
        let found = lint_set(&[
            ("001_a.sql", "-- Description: a\nSELECT 1;\n"),
            ("rollback_001.sql", "SELECT 1;\n"),
        ]);
        assert!(found.is_empty(), "{found:#?}");
    }

    #[test]
    fn accepts_a_migration_marked_irreversible() {
        let found = lint_set(&[(
            "001_a.sql",
            "-- Description: a\n-- pgshift:irreversible\nSELECT 1;\n",
        )]);
        assert!(found.is_empty(), "{found:#?}");
    }

    #[test]
    fn header_ignore_silences_it() {
        let found = lint_set(&[(
            "001_a.sql",
            "-- Description: a\n-- pgshift:ignore missing-rollback\nSELECT 1;\n",
        )]);
        assert!(found.is_empty(), "{found:#?}");
    }
}
