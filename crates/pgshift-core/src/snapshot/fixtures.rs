//! Small schemas built by hand, for the tests of what compares snapshots
//! (`diff`, `drift`).

use super::{Column, Function, Index, Schema, Table};
use std::collections::BTreeMap;

/// A nullable column without default.
pub(crate) fn column(name: &str, data_type: &str) -> Column {
    Column {
        name: name.into(),
        data_type: data_type.into(),
        not_null: false,
        default: None,
        identity: None,
        generated: None,
        collation: None,
        inherited: false,
        comment: None,
    }
}

/// Table `public.users` with `columns`; function `public.f(arguments)`
/// with `definition`; and, when given, index `public.users_email_idx`
/// with that definition.
pub(crate) fn users_schema(
    columns: Vec<Column>,
    arguments: &str,
    definition: &str,
    index: Option<&str>,
) -> Schema {
    let mut s = Schema::default();
    s.tables.insert(
        "public.users".into(),
        Table {
            schema: "public".into(),
            name: "users".into(),
            unlogged: false,
            partition_key: None,
            partition_of: None,
            inherits: vec![],
            options: vec![],
            row_security: false,
            force_row_security: false,
            columns,
            constraints: BTreeMap::new(),
            comment: None,
        },
    );
    s.functions.insert(
        format!("public.f({arguments})"),
        Function {
            schema: "public".into(),
            name: "f".into(),
            arguments: arguments.into(),
            kind: "function".into(),
            definition: definition.into(),
            comment: None,
        },
    );
    if let Some(definition) = index {
        s.indexes.insert(
            "public.users_email_idx".into(),
            Index {
                schema: "public".into(),
                name: "users_email_idx".into(),
                table: "public.users".into(),
                definition: definition.into(),
                method: "btree".into(),
                unique: false,
                predicate: None,
                comment: None,
            },
        );
    }
    s
}
