//! pgshift's own rules, one per file. Each file's doc comment is the rule's
//! user page; each has a `check` function that appends [`super::Violation`]s.

pub mod deep_nesting;
pub mod missing_description;
pub mod missing_rollback;
pub mod non_idempotent;
pub mod rollback_incomplete;
pub mod transaction_misuse;
pub mod unacknowledged_destructive;
pub mod unknown_directive;
pub mod version_gap;
