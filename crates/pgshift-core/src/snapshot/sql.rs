//! Rendering a [`Schema`] as SQL that recreates it on an empty database.
//!
//! The script creates objects in an order that satisfies their
//! dependencies without a dependency graph of its own: extensions and
//! schemas; enums, domains and composite types; sequences; tables (parents
//! before partitions and children) without defaults; functions (with
//! `check_function_bodies` off, so bodies may name anything); column
//! defaults (they may call those functions); primary key, unique, check and
//! exclusion constraints; views (in dependency order); indexes; foreign
//! keys (which may need a unique index); sequence ownership; row-level
//! security flags; triggers; comments.
//!
//! Every name in the model is already quoted and qualified, so this module
//! only assembles statements. A new object kind goes into [`Schema::to_sql`]
//! at the first point where everything it can depend on exists.

use super::model::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// `'text'` for SQL, with `standard_conforming_strings` on (set at the top
/// of every script).
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

impl Schema {
    /// A script that recreates this schema on an empty database: one
    /// statement per line group, runnable by `psql` or as one simple query.
    ///
    /// Objects the model leaves out (see the [module docs](super)) are not
    /// recreated; a materialized view is created with data (its tables are
    /// empty).
    pub fn to_sql(&self) -> String {
        let mut out = self.objects_sql();
        self.privileges_sql(&mut out);
        out
    }

    /// Owners and grants, when the snapshot has them: the roles must exist.
    fn privileges_sql(&self, out: &mut String) {
        for (name, p) in &self.privileges {
            let (alter, on) = match p.kind.as_str() {
                "table" => ("TABLE", "TABLE"),
                "view" => ("VIEW", "TABLE"),
                "materialized view" => ("MATERIALIZED VIEW", "TABLE"),
                "sequence" => ("SEQUENCE", "SEQUENCE"),
                "function" => ("FUNCTION", "FUNCTION"),
                "procedure" => ("PROCEDURE", "PROCEDURE"),
                "schema" => ("SCHEMA", "SCHEMA"),
                "domain" => ("DOMAIN", "DOMAIN"),
                _ => ("TYPE", "TYPE"),
            };
            let _ = writeln!(out, "ALTER {alter} {name} OWNER TO {};", p.owner);
            let _ = writeln!(out, "REVOKE ALL ON {on} {name} FROM PUBLIC;");
            for grant in &p.grants {
                if let Some((privilege, rest)) = grant.split_once(" TO ") {
                    let _ = writeln!(out, "GRANT {privilege} ON {on} {name} TO {rest};");
                }
            }
        }
    }

    fn objects_sql(&self) -> String {
        let mut out = String::new();
        // `writeln!` into a String cannot fail.
        macro_rules! w {
            ($($arg:tt)*) => { let _ = writeln!(out, $($arg)*); };
        }
        w!("-- Schema recreated by pgshift dump.");
        w!("SET standard_conforming_strings = on;");
        w!("SET check_function_bodies = false;");
        w!("SET client_min_messages = warning;");
        w!("SELECT pg_catalog.set_config('search_path', '', false);");

        // `public` exists in every new database (and creating it needs the
        // CREATE privilege on the database, even with IF NOT EXISTS).
        for name in self.schemas.keys().filter(|n| *n != "public") {
            w!("CREATE SCHEMA IF NOT EXISTS {name};");
        }
        for (name, ext) in &self.extensions {
            w!(
                "CREATE EXTENSION IF NOT EXISTS {name} WITH SCHEMA {} VERSION {};",
                ext.schema,
                literal(&ext.version)
            );
        }

        self.types_sql(&mut out);

        for (name, s) in &self.sequences {
            w!(
                "CREATE SEQUENCE {name} AS {} START WITH {} INCREMENT BY {} MINVALUE {} MAXVALUE {} CACHE {}{};",
                s.data_type,
                s.start,
                s.increment,
                s.min,
                s.max,
                s.cache,
                if s.cycle { " CYCLE" } else { " NO CYCLE" }
            );
        }

        for name in self.tables_in_order() {
            out.push_str(&table_sql(name, &self.tables[name]));
        }

        for f in self.functions.values() {
            w!("{};", f.definition.trim_end());
        }

        for (name, table) in &self.tables {
            for c in &table.columns {
                if let Some(default) = &c.default {
                    w!(
                        "ALTER TABLE ONLY {name} ALTER COLUMN {} SET DEFAULT {default};",
                        c.name
                    );
                }
            }
        }

        self.constraints_sql(&mut out, |kind| kind != ConstraintKind::ForeignKey);

        for name in self.views_in_order() {
            let v = &self.views[name];
            let kind = if v.materialized {
                "MATERIALIZED VIEW"
            } else {
                "VIEW"
            };
            w!("CREATE {kind} {name} AS\n{};", v.definition);
        }

        for index in self.indexes.values() {
            // A partitioned table's index reads `ON ONLY`, which would leave
            // it invalid with no partition indexes; without ONLY the
            // partitions' indexes are created as the original's were.
            let partitioned = self
                .tables
                .get(&index.table)
                .is_some_and(|t| t.partition_key.is_some());
            let definition = if partitioned {
                index.definition.replacen(" ON ONLY ", " ON ", 1)
            } else {
                index.definition.clone()
            };
            w!("{definition};");
        }

        self.constraints_sql(&mut out, |kind| kind == ConstraintKind::ForeignKey);

        for (name, s) in &self.sequences {
            if let Some(owner) = &s.owned_by {
                w!("ALTER SEQUENCE {name} OWNED BY {owner};");
            }
        }

        for (name, t) in &self.tables {
            if t.row_security {
                w!("ALTER TABLE {name} ENABLE ROW LEVEL SECURITY;");
            }
            if t.force_row_security {
                w!("ALTER TABLE {name} FORCE ROW LEVEL SECURITY;");
            }
        }

        for t in self.triggers.values() {
            w!("{};", t.definition);
        }

        self.comments_sql(&mut out);
        out
    }

    fn types_sql(&self, out: &mut String) {
        // Enums first (domains and composites may use them), then domains
        // (composites may use them), then composites.
        for (name, t) in &self.types {
            if let TypeKind::Enum { values } = &t.kind {
                let values: Vec<String> = values.iter().map(|v| literal(v)).collect();
                let _ = writeln!(out, "CREATE TYPE {name} AS ENUM ({});", values.join(", "));
            }
        }
        for (name, t) in &self.types {
            if let TypeKind::Domain {
                base,
                collation,
                default,
                not_null,
                constraints,
            } = &t.kind
            {
                let mut sql = format!("CREATE DOMAIN {name} AS {base}");
                if let Some(c) = collation {
                    let _ = write!(sql, " COLLATE {c}");
                }
                if let Some(d) = default {
                    let _ = write!(sql, " DEFAULT {d}");
                }
                if *not_null {
                    sql.push_str(" NOT NULL");
                }
                let _ = writeln!(out, "{sql};");
                for (constraint, definition) in constraints {
                    let _ = writeln!(
                        out,
                        "ALTER DOMAIN {name} ADD CONSTRAINT {constraint} {definition};"
                    );
                }
            }
        }
        for (name, t) in &self.types {
            if let TypeKind::Composite { attributes } = &t.kind {
                let attributes: Vec<String> = attributes
                    .iter()
                    .map(|(a, ty)| format!("{a} {ty}"))
                    .collect();
                let _ = writeln!(out, "CREATE TYPE {name} AS ({});", attributes.join(", "));
            }
        }
    }

    fn constraints_sql(&self, out: &mut String, which: impl Fn(ConstraintKind) -> bool) {
        for (name, table) in &self.tables {
            let mut constraints: Vec<&Constraint> = table
                .constraints
                .values()
                .filter(|c| which(c.kind))
                .collect();
            constraints.sort_by_key(|c| c.kind);
            for c in constraints {
                // Without ONLY: partitions and children get the clones the
                // model leaves out, as they did in the original.
                let _ = writeln!(
                    out,
                    "ALTER TABLE {name} ADD CONSTRAINT {} {};",
                    c.name, c.definition
                );
            }
        }
    }

    fn comments_sql(&self, out: &mut String) {
        let mut comment = |what: String, text: &Option<String>| {
            if let Some(text) = text {
                let _ = writeln!(out, "COMMENT ON {what} IS {};", literal(text));
            }
        };
        // Extensions bring their own comments, and only their owner may
        // change them; so does `public` (owned by pg_database_owner).
        for (name, s) in &self.schemas {
            if name == "public" && s.comment.as_deref() == Some("standard public schema") {
                continue;
            }
            comment(format!("SCHEMA {name}"), &s.comment);
        }
        for (name, t) in &self.types {
            let kind = match t.kind {
                TypeKind::Domain { .. } => "DOMAIN",
                _ => "TYPE",
            };
            comment(format!("{kind} {name}"), &t.comment);
        }
        for (name, s) in &self.sequences {
            comment(format!("SEQUENCE {name}"), &s.comment);
        }
        for (name, t) in &self.tables {
            comment(format!("TABLE {name}"), &t.comment);
            for c in &t.columns {
                comment(format!("COLUMN {name}.{}", c.name), &c.comment);
            }
            for c in t.constraints.values() {
                comment(format!("CONSTRAINT {} ON {name}", c.name), &c.comment);
            }
        }
        for (name, i) in &self.indexes {
            comment(format!("INDEX {name}"), &i.comment);
        }
        for (name, v) in &self.views {
            let kind = if v.materialized {
                "MATERIALIZED VIEW"
            } else {
                "VIEW"
            };
            comment(format!("{kind} {name}"), &v.comment);
        }
        for (name, f) in &self.functions {
            comment(format!("{} {name}", f.kind.to_uppercase()), &f.comment);
        }
        for t in self.triggers.values() {
            comment(format!("TRIGGER {} ON {}", t.name, t.table), &t.comment);
        }
    }

    /// Table names with every parent (partitioned or inherited) before its
    /// children, otherwise by name.
    fn tables_in_order(&self) -> Vec<&String> {
        fn depth(tables: &BTreeMap<String, Table>, name: &str, seen: usize) -> usize {
            let Some(t) = tables.get(name) else { return 0 };
            if seen > tables.len() {
                return 0; // a cycle is impossible in the catalogs
            }
            let parents = t
                .partition_of
                .iter()
                .map(|(p, _)| p)
                .chain(t.inherits.iter());
            parents
                .map(|p| depth(tables, p, seen + 1) + 1)
                .max()
                .unwrap_or(0)
        }
        let mut names: Vec<(usize, &String)> = self
            .tables
            .keys()
            .map(|k| (depth(&self.tables, k, 0), k))
            .collect();
        names.sort();
        names.into_iter().map(|(_, k)| k).collect()
    }

    /// View names with every view before those that read it.
    fn views_in_order(&self) -> Vec<&String> {
        fn visit<'a>(
            views: &'a BTreeMap<String, View>,
            name: &'a String,
            done: &mut BTreeSet<&'a String>,
            order: &mut Vec<&'a String>,
        ) {
            if !done.insert(name) {
                return;
            }
            for dep in &views[name].depends_on {
                if let Some((key, _)) = views.get_key_value(dep) {
                    visit(views, key, done, order);
                }
            }
            order.push(name);
        }
        let mut done = BTreeSet::new();
        let mut order = Vec::new();
        for name in self.views.keys() {
            visit(&self.views, name, &mut done, &mut order);
        }
        order
    }
}

pub(crate) fn table_sql(name: &str, t: &Table) -> String {
    let unlogged = if t.unlogged { "UNLOGGED " } else { "" };
    let mut sql = format!("CREATE {unlogged}TABLE {name}");
    if let Some((parent, bound)) = &t.partition_of {
        let _ = write!(sql, " PARTITION OF {parent} {bound}");
    } else {
        let columns: Vec<String> = t
            .columns
            .iter()
            .filter(|c| !c.inherited)
            .map(|c| {
                let mut col = format!("    {} {}", c.name, c.data_type);
                if let Some(coll) = &c.collation {
                    let _ = write!(col, " COLLATE {coll}");
                }
                if let Some(expr) = &c.generated {
                    let _ = write!(col, " GENERATED ALWAYS AS ({expr}) STORED");
                }
                if let Some(identity) = &c.identity {
                    let _ = write!(col, " GENERATED {} AS IDENTITY", identity.to_uppercase());
                }
                if c.not_null {
                    col.push_str(" NOT NULL");
                }
                col
            })
            .collect();
        if columns.is_empty() {
            sql.push_str(" ()");
        } else {
            let _ = write!(sql, " (\n{}\n)", columns.join(",\n"));
        }
        if !t.inherits.is_empty() {
            let _ = write!(sql, " INHERITS ({})", t.inherits.join(", "));
        }
    }
    if let Some(key) = &t.partition_key {
        let _ = write!(sql, " PARTITION BY {key}");
    }
    if !t.options.is_empty() {
        let _ = write!(sql, " WITH ({})", t.options.join(", "));
    }
    sql.push_str(";\n");
    sql
}
