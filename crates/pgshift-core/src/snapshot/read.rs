//! Reading the model from the catalogs: one query per object kind.
//!
//! Each query reads every object of its kind at once (never one query per
//! table), so a snapshot costs a dozen round trips whatever the schema's
//! size. The session's `search_path` is `pg_catalog` for the duration, so
//! `format_type`, `regclass` and the `pg_get_*def` functions qualify every
//! user object's name (as `pg_dump` does).
//!
//! Everything outside user schemas (`pg_catalog`, `information_schema`,
//! `pg_toast*`, `pg_temp*`) and everything an extension owns (`pg_depend`
//! with `deptype = 'e'`) is left out; OIDs are never read into the model.

use super::model::*;
use super::{SnapshotError, SnapshotOptions};
use postgres::{GenericClient, Row};
use std::collections::BTreeMap;

/// PostgreSQL 13 added `pg_trigger.tgparentid`.
const MIN_SERVER_VERSION: i32 = 130000;

/// `alias`'s namespace is a user schema.
fn user_schema(ns: &str) -> String {
    format!(
        "{ns}.nspname NOT IN ('pg_catalog', 'information_schema') \
         AND {ns}.nspname NOT LIKE 'pg\\_toast%' AND {ns}.nspname NOT LIKE 'pg\\_temp%'"
    )
}

/// The object `oid` of `catalog` does not belong to an extension.
fn not_extension_member(catalog: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = '{catalog}'::regclass \
         AND e.objid = {oid} AND e.deptype = 'e')"
    )
}

/// A user relation: in a user schema and not an extension's.
fn user_relation(class: &str, ns: &str) -> String {
    format!(
        "{} AND {}",
        user_schema(ns),
        not_extension_member("pg_class", &format!("{class}.oid"))
    )
}

// Comments are read with a scalar subquery on pg_description's index
// rather than obj_description(), a SQL function call per row that costs
// more than the rest of the row on large schemas.

/// Non-default collation of `coll` against the type's `typcoll`, qualified.
fn collation(coll: &str, typcoll: &str) -> String {
    format!(
        "CASE WHEN {coll} <> {typcoll} THEN (SELECT quote_ident(cn.nspname) || '.' || \
         quote_ident(co.collname) FROM pg_collation co JOIN pg_namespace cn ON cn.oid = \
         co.collnamespace WHERE co.oid = {coll}) END"
    )
}

struct Reader<'a, C: GenericClient> {
    client: &'a mut C,
}

impl<C: GenericClient> Reader<'_, C> {
    fn query(&mut self, what: &'static str, sql: &str) -> Result<Vec<Row>, SnapshotError> {
        self.client
            .query(sql, &[])
            .map_err(|source| SnapshotError::Query { what, source })
    }
}

/// Reads everything; see [`super::snapshot`].
pub(super) fn read(
    client: &mut impl GenericClient,
    options: &SnapshotOptions,
) -> Result<Schema, SnapshotError> {
    let mut tx = client
        .transaction()
        .map_err(|source| SnapshotError::Query {
            what: "session",
            source,
        })?;
    tx.batch_execute("SET LOCAL search_path = pg_catalog")
        .map_err(|source| SnapshotError::Query {
            what: "session",
            source,
        })?;
    let mut r = Reader { client: &mut tx };

    let row = r
        .client
        .query_one(
            "SELECT current_setting('server_version_num')::int, \
             quote_ident($1) || '.' || quote_ident($2), \
             quote_ident($1) || '.' || quote_ident($2 || '_progress'), \
             quote_ident($1) || '.' || quote_ident($2 || '_audit'), \
             quote_ident($1) || '.' || quote_ident($2 || '_audit_append_only') || '()'",
            &[&options.tracking.schema(), &options.tracking.table()],
        )
        .map_err(|source| SnapshotError::Query {
            what: "server version",
            source,
        })?;
    let version: i32 = row.get(0);
    if version < MIN_SERVER_VERSION {
        return Err(SnapshotError::UnsupportedServer { version });
    }
    // The tracking table and its companions: progress, audit trail, and
    // the audit trail's append-only guard function.
    let tracking: [String; 3] = [row.get(1), row.get(2), row.get(3)];
    let guard: String = row.get(4);

    let mut schema = Schema {
        extensions: extensions(&mut r)?,
        schemas: schemas(&mut r)?,
        types: types(&mut r)?,
        sequences: sequences(&mut r)?,
        tables: tables(&mut r)?,
        indexes: indexes(&mut r)?,
        views: views(&mut r)?,
        functions: functions(&mut r)?,
        triggers: triggers(&mut r)?,
        privileges: BTreeMap::new(),
    };
    if options.include_privileges {
        schema.privileges = privileges(&mut r)?;
    }
    columns(&mut r, &mut schema.tables)?;
    constraints(&mut r, &mut schema.tables)?;
    // Nothing was changed; ending the transaction restores the search_path.
    tx.rollback().map_err(|source| SnapshotError::Query {
        what: "session",
        source,
    })?;

    if !schema.privileges.is_empty() {
        let s = &schema;
        let known = |key: &String| {
            s.tables.contains_key(key)
                || s.views.contains_key(key)
                || s.sequences.contains_key(key)
                || s.functions.contains_key(key)
                || s.schemas.contains_key(key)
                || s.types.contains_key(key)
        };
        let kept: BTreeMap<String, Privileges> = schema
            .privileges
            .iter()
            .filter(|(k, _)| known(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        schema.privileges = kept;
    }
    if !options.include_tracking {
        schema.functions.remove(&guard);
        schema.privileges.remove(&guard);
        for key in &tracking {
            schema.privileges.remove(key);
            schema.tables.remove(key);
            schema.indexes.retain(|_, i| &i.table != key);
            schema.triggers.retain(|_, t| &t.table != key);
            let prefix = format!("{key}.");
            schema.sequences.retain(|_, s| {
                !s.owned_by
                    .as_deref()
                    .is_some_and(|owner| owner.starts_with(&prefix))
            });
            let sequences = &schema.sequences;
            schema
                .privileges
                .retain(|k, p| p.kind != "sequence" || sequences.contains_key(k));
        }
    }
    Ok(schema)
}

fn extensions(
    r: &mut Reader<'_, impl GenericClient>,
) -> Result<BTreeMap<String, Extension>, SnapshotError> {
    let rows = r.query(
        "extensions",
        "SELECT quote_ident(x.extname), quote_ident(n.nspname), x.extversion, \
         (SELECT d.description FROM pg_description d WHERE d.objoid = x.oid AND d.classoid = 'pg_extension'::regclass AND d.objsubid = 0) \
         FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace",
    )?;
    Ok(rows
        .iter()
        .map(|row| {
            let name: String = row.get(0);
            let ext = Extension {
                name: name.clone(),
                schema: row.get(1),
                version: row.get(2),
                comment: row.get(3),
            };
            (name, ext)
        })
        .collect())
}

fn schemas(
    r: &mut Reader<'_, impl GenericClient>,
) -> Result<BTreeMap<String, Namespace>, SnapshotError> {
    let sql = format!(
        "SELECT quote_ident(n.nspname), (SELECT d.description FROM pg_description d WHERE d.objoid = n.oid AND d.classoid = 'pg_namespace'::regclass AND d.objsubid = 0) \
         FROM pg_namespace n WHERE {} AND {}",
        user_schema("n"),
        not_extension_member("pg_namespace", "n.oid")
    );
    Ok(r.query("schemas", &sql)?
        .iter()
        .map(|row| {
            let name: String = row.get(0);
            let ns = Namespace {
                name: name.clone(),
                comment: row.get(1),
            };
            (name, ns)
        })
        .collect())
}

fn types(r: &mut Reader<'_, impl GenericClient>) -> Result<BTreeMap<String, Type>, SnapshotError> {
    let sql = format!(
        "SELECT format_type(t.oid, NULL), quote_ident(n.nspname), quote_ident(t.typname), \
         t.typtype::text, \
         ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder), \
         format_type(t.typbasetype, t.typtypmod), \
         CASE WHEN t.typtype = 'd' THEN {coll} END, \
         pg_get_expr(t.typdefaultbin, 0), t.typnotnull, \
         ARRAY(SELECT quote_ident(co.conname) FROM pg_constraint co WHERE co.contypid = t.oid \
               AND co.contype = 'c' ORDER BY co.conname), \
         ARRAY(SELECT pg_get_constraintdef(co.oid) FROM pg_constraint co WHERE co.contypid = t.oid \
               AND co.contype = 'c' ORDER BY co.conname), \
         ARRAY(SELECT quote_ident(a.attname) FROM pg_attribute a WHERE a.attrelid = t.typrelid \
               AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum), \
         ARRAY(SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
               WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum), \
         (SELECT d.description FROM pg_description d WHERE d.objoid = t.oid AND d.classoid = 'pg_type'::regclass AND d.objsubid = 0) \
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
         LEFT JOIN pg_type bt ON bt.oid = t.typbasetype \
         WHERE (t.typtype IN ('e', 'd') OR (t.typtype = 'c' AND \
                (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')) \
         AND {} AND {}",
        user_schema("n"),
        not_extension_member("pg_type", "t.oid"),
        coll = collation("t.typcollation", "bt.typcollation"),
    );
    let mut out = BTreeMap::new();
    for row in r.query("types", &sql)? {
        let kind = match row.get::<_, String>(3).as_str() {
            "e" => TypeKind::Enum { values: row.get(4) },
            "d" => {
                let names: Vec<String> = row.get(9);
                let defs: Vec<String> = row.get(10);
                TypeKind::Domain {
                    base: row.get(5),
                    collation: row.get(6),
                    default: row.get(7),
                    not_null: row.get(8),
                    constraints: names.into_iter().zip(defs).collect(),
                }
            }
            _ => {
                let names: Vec<String> = row.get(11);
                let types: Vec<String> = row.get(12);
                TypeKind::Composite {
                    attributes: names.into_iter().zip(types).collect(),
                }
            }
        };
        out.insert(
            row.get(0),
            Type {
                schema: row.get(1),
                name: row.get(2),
                kind,
                comment: row.get(13),
            },
        );
    }
    Ok(out)
}

fn sequences(
    r: &mut Reader<'_, impl GenericClient>,
) -> Result<BTreeMap<String, Sequence>, SnapshotError> {
    // Identity columns' sequences (deptype 'i') belong to their column.
    let sql = format!(
        "SELECT c.oid::regclass::text, quote_ident(n.nspname), quote_ident(c.relname), \
         format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax, \
         s.seqcache, s.seqcycle, \
         (SELECT d.refobjid::regclass::text || '.' || quote_ident(a.attname) FROM pg_depend d \
          JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
          WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid \
          AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a' LIMIT 1), \
         (SELECT d.description FROM pg_description d WHERE d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0) \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_sequence s ON s.seqrelid = c.oid \
         WHERE c.relkind = 'S' AND {} AND NOT EXISTS (SELECT 1 FROM pg_depend d \
           WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i')",
        user_relation("c", "n")
    );
    Ok(r.query("sequences", &sql)?
        .iter()
        .map(|row| {
            let seq = Sequence {
                schema: row.get(1),
                name: row.get(2),
                data_type: row.get(3),
                start: row.get(4),
                increment: row.get(5),
                min: row.get(6),
                max: row.get(7),
                cache: row.get(8),
                cycle: row.get(9),
                owned_by: row.get(10),
                comment: row.get(11),
            };
            (row.get(0), seq)
        })
        .collect())
}

fn tables(
    r: &mut Reader<'_, impl GenericClient>,
) -> Result<BTreeMap<String, Table>, SnapshotError> {
    let sql = format!(
        "SELECT c.oid::regclass::text, quote_ident(n.nspname), quote_ident(c.relname), \
         c.relpersistence = 'u', \
         CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END, \
         CASE WHEN c.relispartition THEN (SELECT i.inhparent::regclass::text FROM pg_inherits i \
              WHERE i.inhrelid = c.oid) END, \
         CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END, \
         CASE WHEN c.relispartition THEN '{{}}'::text[] ELSE ARRAY(SELECT i.inhparent::regclass::text \
              FROM pg_inherits i WHERE i.inhrelid = c.oid ORDER BY i.inhseqno) END, \
         coalesce(c.reloptions, '{{}}'), c.relrowsecurity, c.relforcerowsecurity, \
         (SELECT d.description FROM pg_description d WHERE d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0) \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND {}",
        user_relation("c", "n")
    );
    Ok(r.query("tables", &sql)?
        .iter()
        .map(|row| {
            let parent: Option<String> = row.get(5);
            let bound: Option<String> = row.get(6);
            let table = Table {
                schema: row.get(1),
                name: row.get(2),
                unlogged: row.get(3),
                partition_key: row.get(4),
                partition_of: parent.zip(bound),
                inherits: row.get(7),
                options: row.get(8),
                row_security: row.get(9),
                force_row_security: row.get(10),
                columns: Vec::new(),
                constraints: BTreeMap::new(),
                comment: row.get(11),
            };
            (row.get(0), table)
        })
        .collect())
}

fn columns(
    r: &mut Reader<'_, impl GenericClient>,
    tables: &mut BTreeMap<String, Table>,
) -> Result<(), SnapshotError> {
    let sql = format!(
        "SELECT c.oid::regclass::text, quote_ident(a.attname), \
         format_type(a.atttypid, a.atttypmod), a.attnotnull, \
         CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END, \
         CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END, \
         CASE WHEN a.attgenerated <> '' THEN pg_get_expr(ad.adbin, ad.adrelid) END, \
         {coll}, NOT a.attislocal, (SELECT d.description FROM pg_description d WHERE d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = a.attnum) \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_type t ON t.oid = a.atttypid \
         LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum \
         WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND {} \
         ORDER BY a.attrelid, a.attnum",
        user_relation("c", "n"),
        coll = collation("a.attcollation", "t.typcollation"),
    );
    for row in r.query("columns", &sql)? {
        let Some(table) = tables.get_mut(row.get::<_, &str>(0)) else {
            continue;
        };
        table.columns.push(Column {
            name: row.get(1),
            data_type: row.get(2),
            not_null: row.get(3),
            default: row.get(4),
            identity: row.get(5),
            generated: row.get(6),
            collation: row.get(7),
            inherited: row.get(8),
            comment: row.get(9),
        });
    }
    Ok(())
}

fn constraints(
    r: &mut Reader<'_, impl GenericClient>,
    tables: &mut BTreeMap<String, Table>,
) -> Result<(), SnapshotError> {
    // Constraints cloned onto partitions (conparentid) or inherited from a
    // parent (not conislocal) are recreated by the parent's.
    let sql = format!(
        "SELECT c.oid::regclass::text, quote_ident(co.conname), co.contype::text, \
         pg_get_constraintdef(co.oid), (SELECT d.description FROM pg_description d WHERE d.objoid = co.oid AND d.classoid = 'pg_constraint'::regclass AND d.objsubid = 0) \
         FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND co.contype IN ('p', 'u', 'c', 'x', 'f') \
         AND co.conislocal AND co.conparentid = 0 AND {}",
        user_relation("c", "n")
    );
    for row in r.query("constraints", &sql)? {
        let Some(table) = tables.get_mut(row.get::<_, &str>(0)) else {
            continue;
        };
        let Some(kind) = ConstraintKind::from_contype(row.get(2)) else {
            continue;
        };
        let name: String = row.get(1);
        table.constraints.insert(
            name.clone(),
            Constraint {
                name,
                kind,
                definition: row.get(3),
                comment: row.get(4),
            },
        );
    }
    Ok(())
}

fn indexes(
    r: &mut Reader<'_, impl GenericClient>,
) -> Result<BTreeMap<String, Index>, SnapshotError> {
    // Left out: indexes behind a primary key, unique or exclusion constraint
    // (the constraint covers them) and partitions' indexes attached to a
    // partitioned index (the parent index creates them).
    let sql = format!(
        "SELECT ic.oid::regclass::text, quote_ident(n.nspname), quote_ident(ic.relname), \
         c.oid::regclass::text, pg_get_indexdef(ic.oid), am.amname::text, i.indisunique, \
         pg_get_expr(i.indpred, i.indrelid), (SELECT d.description FROM pg_description d WHERE d.objoid = ic.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0) \
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid \
         JOIN pg_class c ON c.oid = i.indrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_am am ON am.oid = ic.relam \
         WHERE c.relkind IN ('r', 'p', 'm') AND {} \
         AND NOT EXISTS (SELECT 1 FROM pg_constraint co WHERE co.conindid = ic.oid \
                         AND co.contype IN ('p', 'u', 'x')) \
         AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = ic.oid)",
        user_relation("c", "n")
    );
    Ok(r.query("indexes", &sql)?
        .iter()
        .map(|row| {
            let index = Index {
                schema: row.get(1),
                name: row.get(2),
                table: row.get(3),
                definition: row.get(4),
                method: row.get(5),
                unique: row.get(6),
                predicate: row.get(7),
                comment: row.get(8),
            };
            (row.get(0), index)
        })
        .collect())
}

fn views(r: &mut Reader<'_, impl GenericClient>) -> Result<BTreeMap<String, View>, SnapshotError> {
    let sql = format!(
        "SELECT c.oid::regclass::text, quote_ident(n.nspname), quote_ident(c.relname), \
         c.relkind = 'm', pg_get_viewdef(c.oid, true), \
         ARRAY(SELECT DISTINCT d.refobjid::regclass::text FROM pg_rewrite rw \
               JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid \
               JOIN pg_class rc ON rc.oid = d.refobjid \
               WHERE rw.ev_class = c.oid AND d.refclassid = 'pg_class'::regclass \
               AND d.refobjid <> c.oid AND rc.relkind IN ('v', 'm') ORDER BY 1), \
         (SELECT d.description FROM pg_description d WHERE d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0) \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('v', 'm') AND {}",
        user_relation("c", "n")
    );
    Ok(r.query("views", &sql)?
        .iter()
        .map(|row| {
            let definition: String = row.get(4);
            let view = View {
                schema: row.get(1),
                name: row.get(2),
                materialized: row.get(3),
                definition: definition.trim_end().trim_end_matches(';').to_string(),
                depends_on: row.get(5),
                comment: row.get(6),
            };
            (row.get(0), view)
        })
        .collect())
}

fn functions(
    r: &mut Reader<'_, impl GenericClient>,
) -> Result<BTreeMap<String, Function>, SnapshotError> {
    // Aggregates and window functions are not covered (pg_get_functiondef
    // refuses aggregates).
    let sql = format!(
        "SELECT p.oid::regprocedure::text, quote_ident(n.nspname), quote_ident(p.proname), \
         oidvectortypes(p.proargtypes), \
         CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END, \
         pg_get_functiondef(p.oid), (SELECT d.description FROM pg_description d WHERE d.objoid = p.oid AND d.classoid = 'pg_proc'::regclass AND d.objsubid = 0) \
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE p.prokind IN ('f', 'p') AND {} AND {}",
        user_schema("n"),
        not_extension_member("pg_proc", "p.oid")
    );
    Ok(r.query("functions", &sql)?
        .iter()
        .map(|row| {
            let f = Function {
                schema: row.get(1),
                name: row.get(2),
                arguments: row.get(3),
                kind: row.get(4),
                definition: row.get(5),
                comment: row.get(6),
            };
            (row.get(0), f)
        })
        .collect())
}

fn triggers(
    r: &mut Reader<'_, impl GenericClient>,
) -> Result<BTreeMap<String, Trigger>, SnapshotError> {
    // Internal triggers (foreign keys) and clones on partitions are left out.
    let sql = format!(
        "SELECT c.oid::regclass::text || '.' || quote_ident(t.tgname), quote_ident(t.tgname), \
         c.oid::regclass::text, pg_get_triggerdef(t.oid), (SELECT d.description FROM pg_description d WHERE d.objoid = t.oid AND d.classoid = 'pg_trigger'::regclass AND d.objsubid = 0) \
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND {}",
        user_relation("c", "n")
    );
    Ok(r.query("triggers", &sql)?
        .iter()
        .map(|row| {
            let t = Trigger {
                name: row.get(1),
                table: row.get(2),
                definition: row.get(3),
                comment: row.get(4),
            };
            (row.get(0), t)
        })
        .collect())
}

/// `acl` (NULL: the kind's default, `acldefault(kind, owner)`) as sorted
/// `PRIVILEGE TO grantee[ WITH GRANT OPTION]` items, the owner's left out.
fn acl_items(acl: &str, kind: &str, owner: &str) -> String {
    format!(
        "ARRAY(SELECT a.privilege_type || ' TO ' || CASE WHEN a.grantee = 0 THEN 'PUBLIC' \
         ELSE quote_ident(pg_get_userbyid(a.grantee)) END || CASE WHEN a.is_grantable \
         THEN ' WITH GRANT OPTION' ELSE '' END \
         FROM aclexplode(coalesce({acl}, acldefault({kind}, {owner}))) a \
         WHERE a.grantee <> {owner} ORDER BY 1)"
    )
}

fn privileges(
    r: &mut Reader<'_, impl GenericClient>,
) -> Result<BTreeMap<String, Privileges>, SnapshotError> {
    let queries = [
        format!(
            "SELECT c.oid::regclass::text, CASE c.relkind WHEN 'S' THEN 'sequence' \
             WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' ELSE 'table' END, \
             quote_ident(pg_get_userbyid(c.relowner)), {} \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND {}",
            acl_items(
                "c.relacl",
                "CASE WHEN c.relkind = 'S' THEN 's'::\"char\" ELSE 'r'::\"char\" END",
                "c.relowner"
            ),
            user_relation("c", "n")
        ),
        format!(
            "SELECT p.oid::regprocedure::text, CASE p.prokind WHEN 'p' THEN 'procedure' \
             ELSE 'function' END, quote_ident(pg_get_userbyid(p.proowner)), {} \
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE p.prokind IN ('f', 'p') AND {} AND {}",
            acl_items("p.proacl", "'f'::\"char\"", "p.proowner"),
            user_schema("n"),
            not_extension_member("pg_proc", "p.oid")
        ),
        format!(
            "SELECT quote_ident(n.nspname), 'schema', quote_ident(pg_get_userbyid(n.nspowner)), {} \
             FROM pg_namespace n WHERE {} AND {}",
            acl_items("n.nspacl", "'n'::\"char\"", "n.nspowner"),
            user_schema("n"),
            not_extension_member("pg_namespace", "n.oid")
        ),
        format!(
            "SELECT format_type(t.oid, NULL), CASE t.typtype WHEN 'e' THEN 'enum' \
             WHEN 'd' THEN 'domain' ELSE 'type' END, \
             quote_ident(pg_get_userbyid(t.typowner)), {} \
             FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
             WHERE (t.typtype IN ('e', 'd') OR (t.typtype = 'c' AND \
                    (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')) \
             AND {} AND {}",
            acl_items("t.typacl", "'T'::\"char\"", "t.typowner"),
            user_schema("n"),
            not_extension_member("pg_type", "t.oid")
        ),
    ];
    let mut out = BTreeMap::new();
    for sql in &queries {
        for row in r.query("privileges", sql)? {
            out.insert(
                row.get::<_, String>(0),
                Privileges {
                    kind: row.get(1),
                    owner: row.get(2),
                    grants: row.get(3),
                },
            );
        }
    }
    Ok(out)
}
