//! ## `version-gap` (warning)
//!
//! ### What it does
//! Flags a migration whose version is more than one after the previous
//! migration's, such as `003` following `001`.
//!
//! ### Why is this bad?
//! A gap usually means a migration was deleted or not committed, or two
//! branches numbered their migrations independently. When the missing file
//! turns up later it is older than migrations already applied, and `up`
//! refuses to apply it out of order.
//!
//! ### Example
//! ```text
//! 001_initial_schema.sql
//! 003_add_indexes.sql
//! ```
//!
//! ### Use instead
//! ```text
//! 001_initial_schema.sql
//! 002_add_indexes.sql
//! ```
//! Renumber only migrations that were never applied anywhere; otherwise
//! put `-- pgshift:ignore version-gap` in the later migration's header.

use super::super::{Rule, Violation};
use crate::migration::MigrationSet;
use crate::source::Span;

pub(crate) fn check(set: &MigrationSet, out: &mut Vec<Violation>) {
    let number = |v: &str| v.parse::<u128>().ok();
    for pair in set.migrations().windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        let (Some(a), Some(b)) = (
            number(before.version.as_str()),
            number(after.version.as_str()),
        ) else {
            continue;
        };
        if b > a + 1 {
            let missing = if b == a + 2 {
                format!("{} is missing", pad(a + 1, before.version.as_str().len()))
            } else {
                format!(
                    "{} to {} are missing",
                    pad(a + 1, before.version.as_str().len()),
                    pad(b - 1, before.version.as_str().len())
                )
            };
            out.push(
                Violation::new(
                    Rule::VersionGap,
                    &after.script.files[0],
                    Span::new(0, 0),
                    format!("version {} follows {}; {missing}", after.version, before.version),
                )
                .help("renumber the migration if it was never applied anywhere, or add the missing one"),
            );
        }
    }
}

fn pad(n: u128, width: usize) -> String {
    format!("{n:0width$}")
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::*;
    use crate::lint::Rule;

    const OK: &str = "-- Description: x\nSELECT 1;\n";

    #[test]
    fn flags_a_gap() {
        let found = lint_set(&[
            ("001_a.sql", OK),
            ("rollback_001.sql", OK),
            ("003_c.sql", OK),
            ("rollback_003.sql", OK),
        ]);
        assert_eq!(rules(&found), [Rule::VersionGap]);
        assert_eq!(found[0].message, "version 003 follows 001; 002 is missing");
    }

    #[test]
    fn accepts_consecutive_versions() {
        let found = lint_set(&[
            ("001_a.sql", OK),
            ("rollback_001.sql", OK),
            ("002_b.sql", OK),
            ("rollback_002.sql", OK),
        ]);
        assert!(found.is_empty(), "{found:#?}");
    }
}
