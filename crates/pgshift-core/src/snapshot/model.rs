//! The schema model: plain, ordered values with no OIDs.
//!
//! Every collection is a `BTreeMap` keyed by the object's qualified name
//! (`schema.name`, or `schema.name(argument types)` for routines,
//! `schema.table.trigger` for triggers), so serializing two equal databases
//! gives byte-identical output. Every name, in keys and fields alike, is an
//! SQL identifier as PostgreSQL's `quote_ident` writes it (`users`,
//! `"User"`), so it can go into SQL as is. Definitions are the server's own deparsed
//! text (`pg_get_*def`), read with `search_path = pg_catalog` so every name
//! in them is schema-qualified.
//!
//! Adding an attribute: add the field here, read it in `read.rs`, render it
//! in `sql.rs` and compare it in `crate::diff`.

use serde::Serialize;
use std::collections::BTreeMap;

/// A database's schema, as read by [`super::snapshot`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Schema {
    /// Installed extensions by name.
    pub extensions: BTreeMap<String, Extension>,
    /// Schemas (namespaces) by name.
    pub schemas: BTreeMap<String, Namespace>,
    /// Enums, domains and composite types by qualified name.
    pub types: BTreeMap<String, Type>,
    /// Sequences (not those behind identity columns) by qualified name.
    pub sequences: BTreeMap<String, Sequence>,
    /// Tables (plain, unlogged, partitioned, partitions) by qualified name.
    pub tables: BTreeMap<String, Table>,
    /// Indexes not backing a constraint, by qualified name.
    pub indexes: BTreeMap<String, Index>,
    /// Views and materialized views by qualified name.
    pub views: BTreeMap<String, View>,
    /// Functions and procedures by `schema.name(argument types)`.
    pub functions: BTreeMap<String, Function>,
    /// User triggers by `schema.table.trigger`.
    pub triggers: BTreeMap<String, Trigger>,
    /// Owners and grants of schemas, types, sequences, tables, views and
    /// routines, by the same key as the object's own map (unique across
    /// kinds). Read only with `SnapshotOptions::include_privileges`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub privileges: BTreeMap<String, Privileges>,
}

/// Who owns an object and what other roles may do with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Privileges {
    /// `schema`, `enum`, `domain`, `type`, `sequence`, `table`, `view`,
    /// `materialized view`, `function` or `procedure`.
    pub kind: String,
    /// The owning role (quoted as an identifier).
    pub owner: String,
    /// Privileges of roles other than the owner, one per privilege, as
    /// `SELECT TO reader`, `EXECUTE TO PUBLIC` or `USAGE TO app WITH GRANT
    /// OPTION`, sorted. Default privileges count as granted (a new
    /// function's `EXECUTE TO PUBLIC`); the owner's own are left out.
    pub grants: Vec<String>,
}

/// An installed extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Extension {
    /// Its name.
    pub name: String,
    /// The schema its objects live in.
    pub schema: String,
    /// The installed version.
    pub version: String,
    /// `COMMENT ON EXTENSION`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A schema (namespace).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Namespace {
    /// Its name.
    pub name: String,
    /// `COMMENT ON SCHEMA`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A user-defined type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Type {
    /// Its schema.
    pub schema: String,
    /// Its name.
    pub name: String,
    /// What kind of type, with its definition.
    pub kind: TypeKind,
    /// `COMMENT ON TYPE`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// The kinds of user-defined type the model covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum TypeKind {
    /// `CREATE TYPE … AS ENUM`: labels in sort order.
    Enum {
        /// The labels, in `enumsortorder`.
        values: Vec<String>,
    },
    /// `CREATE DOMAIN`.
    Domain {
        /// The base type (`format_type`).
        base: String,
        /// Non-default collation.
        #[serde(skip_serializing_if = "Option::is_none")]
        collation: Option<String>,
        /// Default expression.
        #[serde(skip_serializing_if = "Option::is_none")]
        default: Option<String>,
        /// `NOT NULL`.
        not_null: bool,
        /// Check constraints: name → `pg_get_constraintdef`.
        constraints: BTreeMap<String, String>,
    },
    /// `CREATE TYPE … AS (…)`: attributes in order.
    Composite {
        /// `(name, type)` in attribute order.
        attributes: Vec<(String, String)>,
    },
}

/// A sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sequence {
    /// Its schema.
    pub schema: String,
    /// Its name.
    pub name: String,
    /// `AS` type.
    pub data_type: String,
    /// `START WITH`.
    pub start: i64,
    /// `INCREMENT BY`.
    pub increment: i64,
    /// `MINVALUE`.
    pub min: i64,
    /// `MAXVALUE`.
    pub max: i64,
    /// `CACHE`.
    pub cache: i64,
    /// `CYCLE`.
    pub cycle: bool,
    /// `OWNED BY` as `schema.table.column` (serial columns).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<String>,
    /// `COMMENT ON SEQUENCE`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    /// Its schema.
    pub schema: String,
    /// Its name.
    pub name: String,
    /// `UNLOGGED`.
    pub unlogged: bool,
    /// `PARTITION BY …` (`pg_get_partkeydef`) of a partitioned table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition_key: Option<String>,
    /// Parent (qualified) and bound (`FOR VALUES …`) of a partition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition_of: Option<(String, String)>,
    /// `INHERITS` parents (qualified), in order; not set for partitions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inherits: Vec<String>,
    /// Storage parameters (`WITH (…)`), as `name=value`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// `ENABLE ROW LEVEL SECURITY`.
    pub row_security: bool,
    /// `FORCE ROW LEVEL SECURITY`.
    pub force_row_security: bool,
    /// Columns in their logical order (dropped columns left out).
    pub columns: Vec<Column>,
    /// Constraints by name (those cloned from a parent are left out).
    pub constraints: BTreeMap<String, Constraint>,
    /// `COMMENT ON TABLE`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A table column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Type with modifiers (`format_type`).
    pub data_type: String,
    /// `NOT NULL`.
    pub not_null: bool,
    /// Default expression (`pg_get_expr`); not set for generated columns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// `always` or `by default` for identity columns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// `GENERATED ALWAYS AS (…) STORED` expression.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated: Option<String>,
    /// Collation, when not the type's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collation: Option<String>,
    /// Inherited from a parent or partitioned table (not declared locally).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub inherited: bool,
    /// `COMMENT ON COLUMN`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A table constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Constraint {
    /// Its name.
    pub name: String,
    /// What kind.
    pub kind: ConstraintKind,
    /// `pg_get_constraintdef`: columns, references, actions, `DEFERRABLE`.
    pub definition: String,
    /// `COMMENT ON CONSTRAINT`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Kinds of table constraint (`pg_constraint.contype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConstraintKind {
    /// `PRIMARY KEY`.
    PrimaryKey,
    /// `UNIQUE`.
    Unique,
    /// `CHECK`.
    Check,
    /// `EXCLUDE`.
    Exclusion,
    /// `FOREIGN KEY`.
    ForeignKey,
}

impl ConstraintKind {
    /// From `pg_constraint.contype`; `None` for kinds not modelled here.
    pub fn from_contype(contype: &str) -> Option<Self> {
        Some(match contype {
            "p" => ConstraintKind::PrimaryKey,
            "u" => ConstraintKind::Unique,
            "c" => ConstraintKind::Check,
            "x" => ConstraintKind::Exclusion,
            "f" => ConstraintKind::ForeignKey,
            _ => return None,
        })
    }
}

/// An index that does not back a constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Index {
    /// Its schema.
    pub schema: String,
    /// Its name.
    pub name: String,
    /// The table or materialized view it indexes (qualified).
    pub table: String,
    /// `pg_get_indexdef`.
    pub definition: String,
    /// Access method (`btree`, `gin`, …).
    pub method: String,
    /// `UNIQUE`.
    pub unique: bool,
    /// `WHERE` predicate of a partial index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate: Option<String>,
    /// `COMMENT ON INDEX`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A view or materialized view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct View {
    /// Its schema.
    pub schema: String,
    /// Its name.
    pub name: String,
    /// `MATERIALIZED`.
    pub materialized: bool,
    /// The query (`pg_get_viewdef`), without a trailing semicolon.
    pub definition: String,
    /// Other views this one reads (qualified): creation order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// `COMMENT ON VIEW`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A function or procedure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Function {
    /// Its schema.
    pub schema: String,
    /// Its name.
    pub name: String,
    /// Input argument types (`oidvectortypes`), which identify it.
    pub arguments: String,
    /// `function` or `procedure`.
    pub kind: String,
    /// The whole `CREATE OR REPLACE …` statement (`pg_get_functiondef`).
    pub definition: String,
    /// `COMMENT ON ROUTINE`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A user trigger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trigger {
    /// Its name.
    pub name: String,
    /// The table or view it is on (qualified).
    pub table: String,
    /// `pg_get_triggerdef`.
    pub definition: String,
    /// `COMMENT ON TRIGGER`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}
