//! Comparing two schema snapshots: a typed list of changes, object by object.
//!
//! [`diff`] walks both [`Schema`]s kind by kind, in the model's key order,
//! and reports each object only in the second as [`Change::Added`], only in
//! the first as [`Change::Removed`], and each attribute that differs as
//! [`Change::Changed`]. Columns and constraints are objects of their own
//! (`users.email`), so a changed column is not reported as a changed table.
//! Turning changes into text is [`render`]'s job (or `Display`); turning
//! them into SQL is not done yet.
//!
//! To compare a new attribute, add it to the kind's `*_attributes`
//! function below; long values (definitions, bodies) go in [`LONG`] so they
//! render as "differs" instead of both texts.

use crate::snapshot::{Column, Constraint, Schema, TypeKind};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// What kind of object a change is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ObjectKind {
    /// An extension.
    Extension,
    /// A schema (namespace).
    Schema,
    /// An enum.
    Enum,
    /// A domain.
    Domain,
    /// A composite type.
    CompositeType,
    /// A sequence.
    Sequence,
    /// A table.
    Table,
    /// A table's column.
    Column,
    /// A table's constraint.
    Constraint,
    /// An index.
    Index,
    /// A view.
    View,
    /// A materialized view.
    MaterializedView,
    /// A function.
    Function,
    /// A procedure.
    Procedure,
    /// A trigger.
    Trigger,
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ObjectKind::Extension => "extension",
            ObjectKind::Schema => "schema",
            ObjectKind::Enum => "enum",
            ObjectKind::Domain => "domain",
            ObjectKind::CompositeType => "type",
            ObjectKind::Sequence => "sequence",
            ObjectKind::Table => "table",
            ObjectKind::Column => "column",
            ObjectKind::Constraint => "constraint",
            ObjectKind::Index => "index",
            ObjectKind::View => "view",
            ObjectKind::MaterializedView => "materialized view",
            ObjectKind::Function => "function",
            ObjectKind::Procedure => "procedure",
            ObjectKind::Trigger => "trigger",
        })
    }
}

/// An object: its kind and qualified name (the snapshot's key; a column or
/// constraint is `table.name`, a trigger `table.trigger`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Object {
    /// What kind of object.
    pub kind: ObjectKind,
    /// Its qualified name.
    pub name: String,
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `public.` is implied, as it is for most people reading this.
        let name = self.name.strip_prefix("public.").unwrap_or(&self.name);
        write!(f, "{} {name}", self.kind)
    }
}

/// One difference between two snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "change")]
#[non_exhaustive]
pub enum Change {
    /// In the second schema only.
    Added {
        /// The object.
        object: Object,
    },
    /// In the first schema only.
    Removed {
        /// The object.
        object: Object,
    },
    /// In both, with an attribute that differs.
    Changed {
        /// The object.
        object: Object,
        /// Which attribute (`type`, `default`, `definition`, …).
        attribute: String,
        /// The value in the first schema (`None`: not set).
        from: Option<String>,
        /// The value in the second schema (`None`: not set).
        to: Option<String>,
    },
}

/// Attributes whose values are too long to show: rendered as "differs".
pub const LONG: &[&str] = &["definition", "body"];

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Added { object } => write!(f, "added {object}"),
            Change::Removed { object } => write!(f, "removed {object}"),
            Change::Changed {
                object,
                attribute,
                from,
                to,
            } => {
                let long = LONG.contains(&attribute.as_str())
                    || [from, to].iter().any(|v| {
                        v.as_deref()
                            .is_some_and(|v| v.contains('\n') || v.len() > 80)
                    });
                if long {
                    write!(f, "{object}: {attribute} differs")
                } else {
                    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
                    write!(f, "{object}: {attribute} {} → {}", show(from), show(to))
                }
            }
        }
    }
}

/// The changes as text, one per line (empty when there are none).
pub fn render(changes: &[Change]) -> String {
    changes.iter().map(|c| format!("{c}\n")).collect()
}

type Attributes = Vec<(&'static str, Option<String>)>;

fn yes_no(value: bool) -> Option<String> {
    Some(if value { "yes" } else { "no" }.to_string())
}

fn list(values: &[String]) -> Option<String> {
    (!values.is_empty()).then(|| values.join(", "))
}

/// Compares `a` with `b` (`a` is "from", `b` is "to").
pub fn diff(a: &Schema, b: &Schema) -> Vec<Change> {
    let mut out = Vec::new();
    objects(
        &mut out,
        &a.extensions,
        &b.extensions,
        |_| ObjectKind::Extension,
        |e| {
            vec![
                ("schema", Some(e.schema.clone())),
                ("version", Some(e.version.clone())),
                ("comment", e.comment.clone()),
            ]
        },
    );
    objects(
        &mut out,
        &a.schemas,
        &b.schemas,
        |_| ObjectKind::Schema,
        |s| vec![("comment", s.comment.clone())],
    );
    objects(
        &mut out,
        &a.types,
        &b.types,
        |t| match t.kind {
            TypeKind::Enum { .. } => ObjectKind::Enum,
            TypeKind::Domain { .. } => ObjectKind::Domain,
            TypeKind::Composite { .. } => ObjectKind::CompositeType,
        },
        |t| {
            let mut attrs: Attributes = match &t.kind {
                TypeKind::Enum { values } => vec![("values", list(values))],
                TypeKind::Domain {
                    base,
                    collation,
                    default,
                    not_null,
                    constraints,
                } => vec![
                    ("type", Some(base.clone())),
                    ("collation", collation.clone()),
                    ("default", default.clone()),
                    ("not null", yes_no(*not_null)),
                    (
                        "constraints",
                        list(
                            &constraints
                                .iter()
                                .map(|(n, d)| format!("{n} {d}"))
                                .collect::<Vec<_>>(),
                        ),
                    ),
                ],
                TypeKind::Composite { attributes } => vec![(
                    "attributes",
                    list(
                        &attributes
                            .iter()
                            .map(|(n, t)| format!("{n} {t}"))
                            .collect::<Vec<_>>(),
                    ),
                )],
            };
            attrs.push(("comment", t.comment.clone()));
            attrs
        },
    );
    objects(
        &mut out,
        &a.sequences,
        &b.sequences,
        |_| ObjectKind::Sequence,
        |s| {
            vec![
                ("type", Some(s.data_type.clone())),
                ("start", Some(s.start.to_string())),
                ("increment", Some(s.increment.to_string())),
                ("min", Some(s.min.to_string())),
                ("max", Some(s.max.to_string())),
                ("cache", Some(s.cache.to_string())),
                ("cycle", yes_no(s.cycle)),
                ("owned by", s.owned_by.clone()),
                ("comment", s.comment.clone()),
            ]
        },
    );
    objects(
        &mut out,
        &a.tables,
        &b.tables,
        |_| ObjectKind::Table,
        |t| {
            vec![
                ("unlogged", yes_no(t.unlogged)),
                ("partition key", t.partition_key.clone()),
                (
                    "partition of",
                    t.partition_of
                        .as_ref()
                        .map(|(p, bound)| format!("{p} {bound}")),
                ),
                ("inherits", list(&t.inherits)),
                ("options", list(&t.options)),
                ("row level security", yes_no(t.row_security)),
                ("force row level security", yes_no(t.force_row_security)),
                ("comment", t.comment.clone()),
            ]
        },
    );
    for (name, ta) in &a.tables {
        let Some(tb) = b.tables.get(name) else {
            continue;
        };
        column_order(&mut out, name, &ta.columns, &tb.columns);
        let columns = |t: &[Column]| -> BTreeMap<String, Column> {
            t.iter()
                .map(|c| (format!("{name}.{}", c.name), c.clone()))
                .collect()
        };
        objects(
            &mut out,
            &columns(&ta.columns),
            &columns(&tb.columns),
            |_| ObjectKind::Column,
            |c| {
                vec![
                    ("type", Some(c.data_type.clone())),
                    ("not null", yes_no(c.not_null)),
                    ("default", c.default.clone()),
                    ("identity", c.identity.clone()),
                    ("generated", c.generated.clone()),
                    ("collation", c.collation.clone()),
                    ("inherited", yes_no(c.inherited)),
                    ("comment", c.comment.clone()),
                ]
            },
        );
        let constraints = |t: &BTreeMap<String, Constraint>| -> BTreeMap<String, Constraint> {
            t.iter()
                .map(|(n, c)| (format!("{name}.{n}"), c.clone()))
                .collect()
        };
        objects(
            &mut out,
            &constraints(&ta.constraints),
            &constraints(&tb.constraints),
            |_| ObjectKind::Constraint,
            |c| {
                vec![
                    ("definition", Some(c.definition.clone())),
                    ("comment", c.comment.clone()),
                ]
            },
        );
    }
    let first_index = out.len();
    objects(
        &mut out,
        &a.indexes,
        &b.indexes,
        |_| ObjectKind::Index,
        |i| {
            vec![
                ("table", Some(i.table.clone())),
                ("method", Some(i.method.clone())),
                ("unique", yes_no(i.unique)),
                ("predicate", i.predicate.clone()),
                ("definition", Some(i.definition.clone())),
                ("comment", i.comment.clone()),
            ]
        },
    );
    // The definition holds the other attributes: name it only when none of
    // them says what differs (columns, expressions, options).
    let named: BTreeSet<String> = out[first_index..]
        .iter()
        .filter_map(|c| match c {
            Change::Changed {
                object, attribute, ..
            } if attribute != "definition" && attribute != "comment" => Some(object.name.clone()),
            _ => None,
        })
        .collect();
    let mut i = first_index;
    while i < out.len() {
        let redundant = matches!(&out[i], Change::Changed { object, attribute, .. }
            if attribute == "definition" && named.contains(&object.name));
        if redundant {
            out.remove(i);
        } else {
            i += 1;
        }
    }
    objects(
        &mut out,
        &a.views,
        &b.views,
        |v| {
            if v.materialized {
                ObjectKind::MaterializedView
            } else {
                ObjectKind::View
            }
        },
        |v| {
            vec![
                ("materialized", yes_no(v.materialized)),
                ("definition", Some(v.definition.clone())),
                ("comment", v.comment.clone()),
            ]
        },
    );
    objects(
        &mut out,
        &a.functions,
        &b.functions,
        |f| {
            if f.kind == "procedure" {
                ObjectKind::Procedure
            } else {
                ObjectKind::Function
            }
        },
        |f| {
            vec![
                ("body", Some(f.definition.clone())),
                ("comment", f.comment.clone()),
            ]
        },
    );
    // Owners and grants of objects in both (an added or removed object is
    // reported as such already).
    let both = |x: &Schema, y: &Schema| -> BTreeMap<String, crate::snapshot::Privileges> {
        x.privileges
            .iter()
            .filter(|(k, _)| y.privileges.contains_key(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let privileges = (both(a, b), both(b, a));
    objects(
        &mut out,
        &a.triggers,
        &b.triggers,
        |_| ObjectKind::Trigger,
        |t| {
            vec![
                ("definition", Some(t.definition.clone())),
                ("comment", t.comment.clone()),
            ]
        },
    );
    objects(
        &mut out,
        &privileges.0,
        &privileges.1,
        |p| match p.kind.as_str() {
            "schema" => ObjectKind::Schema,
            "enum" => ObjectKind::Enum,
            "domain" => ObjectKind::Domain,
            "type" => ObjectKind::CompositeType,
            "sequence" => ObjectKind::Sequence,
            "view" => ObjectKind::View,
            "materialized view" => ObjectKind::MaterializedView,
            "function" => ObjectKind::Function,
            "procedure" => ObjectKind::Procedure,
            _ => ObjectKind::Table,
        },
        |p| {
            vec![
                ("owner", Some(p.owner.clone())),
                ("grants", list(&p.grants)),
            ]
        },
    );
    out
}

/// Added, removed and changed objects of one kind.
fn objects<T>(
    out: &mut Vec<Change>,
    a: &BTreeMap<String, T>,
    b: &BTreeMap<String, T>,
    kind: impl Fn(&T) -> ObjectKind,
    attributes: impl Fn(&T) -> Attributes,
) {
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for name in names {
        let object = |t: &T| Object {
            kind: kind(t),
            name: name.clone(),
        };
        match (a.get(name), b.get(name)) {
            (Some(x), None) => out.push(Change::Removed { object: object(x) }),
            (None, Some(y)) => out.push(Change::Added { object: object(y) }),
            (Some(x), Some(y)) => {
                for ((attribute, from), (_, to)) in attributes(x).into_iter().zip(attributes(y)) {
                    if from != to {
                        out.push(Change::Changed {
                            object: object(y),
                            attribute: attribute.to_string(),
                            from,
                            to,
                        });
                    }
                }
            }
            (None, None) => {}
        }
    }
}

/// The columns both tables have, when they are in a different order.
fn column_order(out: &mut Vec<Change>, table: &str, a: &[Column], b: &[Column]) {
    let in_a: BTreeSet<&String> = a.iter().map(|c| &c.name).collect();
    let in_b: BTreeSet<&String> = b.iter().map(|c| &c.name).collect();
    let order = |cols: &[Column]| -> Vec<String> {
        cols.iter()
            .filter(|c| in_a.contains(&c.name) && in_b.contains(&c.name))
            .map(|c| c.name.clone())
            .collect()
    };
    let (from, to) = (order(a), order(b));
    if from != to {
        out.push(Change::Changed {
            object: Object {
                kind: ObjectKind::Table,
                name: table.to_string(),
            },
            attribute: "column order".into(),
            from: list(&from),
            to: list(&to),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::fixtures::{column, users_schema};

    fn schema(data_type: &str, body: &str, index: Option<&str>) -> Schema {
        users_schema(vec![column("email", data_type)], "integer", body, index)
    }

    #[test]
    fn equal_schemas_have_no_changes() {
        let a = schema("text", "SELECT 1", Some("CREATE INDEX …"));
        assert_eq!(diff(&a, &a.clone()), vec![]);
        assert_eq!(render(&[]), "");
    }

    #[test]
    fn changes_render_one_line_each() {
        let a = schema("text", "SELECT 1", Some("CREATE INDEX a"));
        let b = schema("character varying(255)", "SELECT 2", Some("CREATE INDEX b"));
        assert_eq!(
            render(&diff(&a, &b)),
            "column users.email: type text → character varying(255)\n\
             index users_email_idx: definition differs\n\
             function f(integer): body differs\n"
        );
        let c = schema("text", "SELECT 1", None);
        assert_eq!(render(&diff(&a, &c)), "removed index users_email_idx\n");
        assert_eq!(render(&diff(&c, &a)), "added index users_email_idx\n");
    }
}
