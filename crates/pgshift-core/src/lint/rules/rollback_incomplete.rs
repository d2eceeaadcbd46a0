//! ## `rollback-incomplete` (warning)
//!
//! ### What it does
//! Flags an object (table, index, type, domain, function, procedure, view,
//! materialized view, schema, trigger, sequence) that migration `NNN`
//! creates but `rollback_NNN.sql` never drops. An index or trigger counts
//! as dropped when its table is, and anything in a schema counts as dropped
//! by `DROP SCHEMA … CASCADE`.
//!
//! The check is static and goes by name: objects created or dropped by
//! dynamic SQL (`EXECUTE` in a `DO` block) are invisible to it. Silence a
//! deliberate omission with `-- pgshift:ignore rollback-incomplete` above
//! the `CREATE`.
//!
//! ### Why is this bad?
//! After a rollback, the leftover object makes the database differ from
//! the one the previous version expects, and re-applying the migration
//! may silently keep the stale object (`IF NOT EXISTS`) instead of the new
//! definition.
//!
//! ### Example
//! ```sql
//! -- 004_api_keys.sql
//! CREATE TABLE IF NOT EXISTS api_keys (id bigint PRIMARY KEY);
//! CREATE OR REPLACE FUNCTION api_key_expired(k api_keys) RETURNS bool …;
//! -- rollback_004.sql
//! DROP TABLE IF EXISTS api_keys;
//! ```
//!
//! ### Use instead
//! ```sql
//! -- rollback_004.sql
//! DROP FUNCTION IF EXISTS api_key_expired(api_keys);
//! DROP TABLE IF EXISTS api_keys;
//! ```

use super::super::context::FileContext;
use super::super::sql::{Drop, Name, ObjKind};
use super::super::{Rule, Violation};

pub(crate) fn check(forward: &FileContext, rollback: &FileContext, out: &mut Vec<Violation>) {
    let drops: Vec<Drop> = rollback
        .each()
        .filter_map(|(_, stmt)| stmt.drop())
        .collect();
    let dropped = |kind: ObjKind, name: &Name| {
        drops
            .iter()
            .any(|d| same_kind(d.kind, kind) && d.names.iter().any(|n| n.same(name)))
    };
    let schema_dropped = |name: &Name| {
        name.schema.as_ref().is_some_and(|schema| {
            drops.iter().any(|d| {
                d.kind == ObjKind::Schema && d.cascade && d.names.iter().any(|n| n.name == *schema)
            })
        })
    };
    let rollback_name = rollback
        .file()
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut dropped_in_forward: Vec<(ObjKind, Name)> = Vec::new();
    let mut created = Vec::new();
    for (_, stmt) in forward.each() {
        if let Some(drop) = stmt.drop() {
            dropped_in_forward.extend(drop.names.into_iter().map(|n| (drop.kind, n)));
        }
        let Some(create) = stmt.create() else {
            continue;
        };
        let tracked = matches!(
            create.kind,
            ObjKind::Table
                | ObjKind::Index
                | ObjKind::Type
                | ObjKind::Domain
                | ObjKind::Function
                | ObjKind::Procedure
                | ObjKind::View
                | ObjKind::MaterializedView
                | ObjKind::Schema
                | ObjKind::Trigger
                | ObjKind::Sequence
        );
        if let (true, Some(name)) = (tracked, create.name.clone()) {
            created.push((create, name));
        }
    }
    for (create, name) in created {
        let temporary = dropped_in_forward
            .iter()
            .any(|(k, n)| same_kind(*k, create.kind) && n.same(&name));
        let covered = dropped(create.kind, &name)
            || schema_dropped(&name)
            || create
                .on
                .as_ref()
                .is_some_and(|table| dropped(ObjKind::Table, table) || schema_dropped(table));
        if temporary || covered {
            continue;
        }
        let what = create.kind.label();
        out.push(
            Violation::new(
                Rule::RollbackIncomplete,
                forward.file(),
                name.span,
                format!(
                    "{what} `{}` is created here but `{rollback_name}` never drops it",
                    name.name
                ),
            )
            .help(format!(
                "add `DROP {} IF EXISTS {}` to `{rollback_name}`",
                what.to_uppercase(),
                qualified(
                    &name,
                    create.on.as_ref().filter(|_| create.kind != ObjKind::Index)
                )
            )),
        );
    }
}

fn same_kind(a: ObjKind, b: ObjKind) -> bool {
    let routine = |k| matches!(k, ObjKind::Function | ObjKind::Procedure);
    a == b || (routine(a) && routine(b))
}

fn qualified(name: &Name, on: Option<&Name>) -> String {
    let show = |n: &Name| match &n.schema {
        Some(schema) => format!("{schema}.{}", n.name),
        None => n.name.clone(),
    };
    match on {
        // DROP TRIGGER and DROP POLICY name their table; DROP INDEX does not.
        Some(table) => {
            format!("{} ON {}", show(name), show(table))
        }
        _ => show(name),
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::*;
    use crate::lint::Rule::RollbackIncomplete as R;

    const FORWARD: &str = "CREATE TABLE IF NOT EXISTS app.api_keys (id int);\n\
        CREATE INDEX IF NOT EXISTS api_keys_id ON app.api_keys (id);\n\
        CREATE OR REPLACE FUNCTION key_ok() RETURNS bool LANGUAGE sql AS $$ SELECT true $$;\n\
        CREATE TYPE key_kind AS ENUM ('a');\n";

    #[test]
    fn flags_objects_the_rollback_leaves() {
        let found = check(R, FORWARD, "DROP TABLE IF EXISTS app.api_keys;\n");
        let messages: Vec<_> = found.iter().map(|v| v.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "function `key_ok` is created here but `rollback_001.sql` never drops it",
                "type `key_kind` is created here but `rollback_001.sql` never drops it",
            ]
        );
    }

    #[test]
    fn accepts_a_complete_rollback() {
        let found = check(
            R,
            FORWARD,
            "DROP FUNCTION IF EXISTS key_ok();\nDROP TYPE IF EXISTS key_kind;\nDROP TABLE IF EXISTS api_keys;\n",
        );
        assert!(found.is_empty(), "{found:#?}");
        let found = check(
            R,
            FORWARD,
            "DROP SCHEMA app CASCADE;\nDROP FUNCTION key_ok;\nDROP TYPE key_kind;",
        );
        assert!(found.is_empty(), "{found:#?}");
    }
}
