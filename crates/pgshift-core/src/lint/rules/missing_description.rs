//! ## `missing-description` (warning)
//!
//! ### What it does
//! Flags a forward migration whose header comment block has no
//! `-- Description: …` line.
//!
//! ### Why is this bad?
//! The description is recorded in `schema_migrations` and shown by
//! `pgshift status`. Without it pgshift falls back to the file name, which
//! says less and changes if the file is renamed.
//!
//! ### Example
//! ```sql
//! -- Migration: 004
//! CREATE TABLE IF NOT EXISTS api_keys (id bigint PRIMARY KEY);
//! ```
//!
//! ### Use instead
//! ```sql
//! -- Migration: 004
//! -- Description: Add API keys
//! CREATE TABLE IF NOT EXISTS api_keys (id bigint PRIMARY KEY);
//! ```

use super::super::context::FileContext;
use super::super::{Rule, Violation};
use crate::source::Span;

pub(crate) fn check(forward: &FileContext, out: &mut Vec<Violation>) {
    if forward.has_description {
        return;
    }
    out.push(
        Violation::new(
            Rule::MissingDescription,
            forward.file(),
            Span::new(0, 0),
            "migration has no `-- Description:` header",
        )
        .help("add a line such as `-- Description: Add API keys` to the comment block at the top of the file"),
    );
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::*;
    use crate::lint::Rule;

    #[test]
    fn flags_a_missing_description() {
        let found = lint_one("-- Migration: 001\nSELECT 1;\n");
        assert_eq!(rules(&found), [Rule::MissingDescription]);
    }

    #[test]
    fn accepts_a_description() {
        assert_ok("-- Migration: 001\n-- description: Add things\nSELECT 1;\n");
    }

    #[test]
    fn a_description_after_the_header_does_not_count() {
        let found = lint_one("SELECT 1;\n-- Description: too late\n");
        assert_eq!(rules(&found), [Rule::MissingDescription]);
    }
}
