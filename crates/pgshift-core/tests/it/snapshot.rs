//! Snapshots, diffs and `to_sql` against real databases: every object kind
//! is read, a difference in it is named, and a dump recreates the schema.

use pgshift_core::diff::{diff, render, Change};
use pgshift_core::history::TrackingTable;
use pgshift_core::snapshot::{snapshot, Schema, SnapshotOptions};
use pgshift_test_support::{test_db_or_skip, TestDb};

/// One of every object kind the model covers.
const RICH: &str = r#"
CREATE EXTENSION IF NOT EXISTS citext;
CREATE SCHEMA app;
COMMENT ON SCHEMA app IS 'application objects';
CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN app.posint AS integer DEFAULT 1 NOT NULL CONSTRAINT posint_positive CHECK (VALUE > 0);
CREATE TYPE app.pair AS (a integer, b text);
CREATE SEQUENCE app.ticket_seq AS integer START WITH 100 INCREMENT BY 5 CACHE 2 CYCLE;
CREATE TABLE users (
    id bigserial PRIMARY KEY,
    email citext NOT NULL UNIQUE,
    name text COLLATE "C",
    mood app.mood DEFAULT 'ok',
    score app.posint,
    name_len integer GENERATED ALWAYS AS (length(name)) STORED,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_name_check CHECK (name <> '')
);
COMMENT ON TABLE users IS 'people';
COMMENT ON COLUMN users.email IS 'login';
CREATE TABLE "Orders" (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id bigint REFERENCES users (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    during tstzrange,
    ticket integer DEFAULT nextval('app.ticket_seq'),
    EXCLUDE USING gist (during WITH &&)
) WITH (fillfactor = 90);
CREATE SEQUENCE order_no_seq;
ALTER TABLE "Orders" ADD COLUMN order_no bigint DEFAULT nextval('order_no_seq');
ALTER SEQUENCE order_no_seq OWNED BY "Orders".order_no;
CREATE UNLOGGED TABLE scratch (k text);
CREATE TABLE events (at date NOT NULL, kind text) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE INDEX events_at_idx ON events (at);
CREATE TABLE base (id int, CONSTRAINT base_id_check CHECK (id > 0));
CREATE TABLE derived (extra text) INHERITS (base);
ALTER TABLE scratch ENABLE ROW LEVEL SECURITY;
CREATE INDEX users_lower_name_idx ON users (lower(name)) WHERE name IS NOT NULL;
CREATE UNIQUE INDEX users_created_idx ON users USING btree (created_at DESC);
COMMENT ON INDEX users_created_idx IS 'recent first';
CREATE FUNCTION app.bump(x integer) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT x + 1 $$;
COMMENT ON FUNCTION app.bump(integer) IS 'adds one';
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.created_at := now(); RETURN NEW; END $$;
CREATE PROCEDURE app.noop(a integer) LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION app.touch();
CREATE VIEW app.user_names AS SELECT id, name FROM users;
CREATE VIEW app.a_user_name_lengths AS SELECT id, app.bump(length(name)) AS n FROM app.user_names;
CREATE MATERIALIZED VIEW app.mood_counts AS SELECT mood, count(*) AS n FROM users GROUP BY mood;
CREATE INDEX mood_counts_mood_idx ON app.mood_counts (mood);
COMMENT ON VIEW app.user_names IS 'names only';
"#;

fn take(db: &TestDb) -> Schema {
    snapshot(&mut db.client(), &SnapshotOptions::default()).expect("snapshot")
}

fn db_with(sql: &str) -> Option<TestDb> {
    let db = test_db_or_skip!()?;
    db.client()
        .batch_execute(sql)
        .unwrap_or_else(|e| panic!("apply fixture: {:?}\n{sql}", e.as_db_error()));
    Some(db)
}

/// The rendered diff between `base + a` and `base + b`.
fn differs(base: &str, a: &str, b: &str) -> Option<String> {
    let da = db_with(&format!("{base}\n{a}"))?;
    let db = db_with(&format!("{base}\n{b}"))?;
    let changes = diff(&take(&da), &take(&db));
    assert!(!changes.is_empty(), "no difference found for\n{a}\nvs\n{b}");
    Some(render(&changes))
}

#[test]
fn a_rich_schema_is_read() {
    let Some(db) = db_with(RICH) else { return };
    let s = take(&db);
    assert!(s.extensions.contains_key("citext"));
    assert!(s.schemas.contains_key("app") && s.schemas.contains_key("public"));
    for t in ["app.mood", "app.posint", "app.pair"] {
        assert!(s.types.contains_key(t), "{t}: {:?}", s.types.keys());
    }
    assert!(s.sequences.contains_key("app.ticket_seq"));
    assert!(s.sequences.contains_key("public.users_id_seq"));
    // The identity column's sequence belongs to its column.
    assert_eq!(s.sequences.len(), 3, "{:?}", s.sequences.keys());
    assert_eq!(
        s.sequences["public.order_no_seq"].owned_by.as_deref(),
        Some("public.\"Orders\".order_no")
    );
    let users = &s.tables["public.users"];
    let email = users.columns.iter().find(|c| c.name == "email").unwrap();
    assert_eq!(email.data_type, "public.citext");
    assert_eq!(email.comment.as_deref(), Some("login"));
    let name = users.columns.iter().find(|c| c.name == "name").unwrap();
    assert_eq!(name.collation.as_deref(), Some("pg_catalog.\"C\""));
    let len = users.columns.iter().find(|c| c.name == "name_len").unwrap();
    assert!(len.generated.is_some() && len.default.is_none());
    let orders = &s.tables["public.\"Orders\""];
    assert_eq!(orders.columns[0].identity.as_deref(), Some("always"));
    assert_eq!(orders.options, ["fillfactor=90"]);
    let fk = &orders.constraints["\"Orders_user_id_fkey\""];
    assert!(fk
        .definition
        .contains("ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED"));
    assert!(s.tables["public.scratch"].unlogged && s.tables["public.scratch"].row_security);
    assert!(s.tables["public.events_2024"].partition_of.is_some());
    // Constraint-backed and attached partition indexes are left out.
    let indexes: Vec<&String> = s.indexes.keys().collect();
    assert_eq!(
        indexes,
        [
            "app.mood_counts_mood_idx",
            "public.events_at_idx",
            "public.users_created_idx",
            "public.users_lower_name_idx"
        ]
    );
    assert!(s.functions.contains_key("app.bump(integer)"));
    assert_eq!(s.functions["app.noop(integer)"].kind, "procedure");
    // Nothing of citext's own.
    assert!(
        s.functions.keys().all(|k| k.starts_with("app.")),
        "{:?}",
        s.functions.keys()
    );
    assert_eq!(
        s.triggers.keys().collect::<Vec<_>>(),
        ["public.users.users_touch"]
    );
    assert!(s.views["app.mood_counts"].materialized);
    assert_eq!(
        s.views["app.a_user_name_lengths"].depends_on,
        ["app.user_names"]
    );
    let json = serde_json::to_string(&s).unwrap();
    assert!(!json.contains("oid"), "no OIDs in the output");
}

#[test]
fn identical_databases_have_no_difference_and_identical_dumps() {
    let Some(a) = db_with(RICH) else { return };
    let Some(b) = db_with(RICH) else { return };
    let (sa, sb) = (take(&a), take(&b));
    assert_eq!(diff(&sa, &sb), Vec::<Change>::new());
    assert_eq!(sa, sb);
    assert_eq!(
        serde_json::to_string_pretty(&sa).unwrap(),
        serde_json::to_string_pretty(&sb).unwrap()
    );
    assert_eq!(sa.to_sql(), sb.to_sql());
}

#[test]
fn the_sql_dump_recreates_the_schema() {
    let Some(source) = db_with(RICH) else { return };
    let Some(target) = test_db_or_skip!() else {
        return;
    };
    let original = take(&source);
    let sql = original.to_sql();
    target
        .client()
        .batch_execute(&sql)
        .unwrap_or_else(|e| panic!("apply dump: {:?}\n{sql}", e.as_db_error()));
    let recreated = take(&target);
    assert_eq!(render(&diff(&original, &recreated)), "");
    assert_eq!(original, recreated);
    assert_eq!(sql, recreated.to_sql());
}

#[test]
fn the_tracking_tables_are_left_out_unless_asked_for() {
    let Some(db) = test_db_or_skip!() else { return };
    let table = TrackingTable::default();
    let mut client = db.client();
    client
        .batch_execute(&format!(
            "{}\n{}\n{}\nCREATE TABLE kept (id int);",
            table.create_sql(),
            table.create_progress_sql(),
            table.create_audit_sql()
        ))
        .unwrap();
    let without = snapshot(&mut client, &SnapshotOptions::default()).unwrap();
    assert_eq!(without.tables.keys().collect::<Vec<_>>(), ["public.kept"]);
    assert!(without.functions.is_empty() && without.triggers.is_empty());
    assert!(without.sequences.is_empty() && without.indexes.is_empty());
    let with = snapshot(
        &mut client,
        &SnapshotOptions {
            include_tracking: true,
            ..SnapshotOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        with.tables.keys().collect::<Vec<_>>(),
        [
            "public.kept",
            "public.schema_migrations",
            "public.schema_migrations_audit",
            "public.schema_migrations_progress"
        ]
    );
}

#[test]
fn the_session_search_path_is_restored() {
    let Some(db) = test_db_or_skip!() else { return };
    let mut client = db.client();
    client.batch_execute("SET search_path = public").unwrap();
    snapshot(&mut client, &SnapshotOptions::default()).unwrap();
    let path: String = client.query_one("SHOW search_path", &[]).unwrap().get(0);
    assert_eq!(path, "public");
}

macro_rules! differs_in {
    ($name:ident, $base:expr, $a:expr, $b:expr, $expect:expr) => {
        #[test]
        fn $name() {
            let Some(text) = differs($base, $a, $b) else {
                return;
            };
            assert!(text.contains($expect), "expected {:?} in:\n{text}", $expect);
        }
    };
}

const T: &str = "CREATE TABLE users (id int PRIMARY KEY, email text, n int);";

differs_in!(
    an_extension,
    "",
    "",
    "CREATE EXTENSION citext;",
    "added extension citext"
);
differs_in!(a_schema, "", "CREATE SCHEMA s;", "", "removed schema s");
differs_in!(
    an_enum_value_order,
    "",
    "CREATE TYPE m AS ENUM ('a', 'b');",
    "CREATE TYPE m AS ENUM ('b', 'a');",
    "enum m: values a, b → b, a"
);
differs_in!(
    a_domain,
    "",
    "CREATE DOMAIN d AS int CHECK (VALUE > 0);",
    "CREATE DOMAIN d AS int CHECK (VALUE > 1);",
    "domain d: constraints"
);
differs_in!(
    a_composite_type,
    "",
    "CREATE TYPE p AS (a int);",
    "CREATE TYPE p AS (a bigint);",
    "type p: attributes a integer → a bigint"
);
differs_in!(
    a_sequence,
    "",
    "CREATE SEQUENCE s;",
    "CREATE SEQUENCE s INCREMENT BY 2;",
    "sequence s: increment 1 → 2"
);
differs_in!(a_table, "", "", T, "added table users");
differs_in!(
    a_column_type,
    "",
    "CREATE TABLE users (email text);",
    "CREATE TABLE users (email varchar(255));",
    "column users.email: type text → character varying(255)"
);
differs_in!(
    a_column_nullability,
    T,
    "",
    "ALTER TABLE users ALTER email SET NOT NULL;",
    "column users.email: not null no → yes"
);
differs_in!(
    a_column_default,
    T,
    "",
    "ALTER TABLE users ALTER n SET DEFAULT 7;",
    "column users.n: default (none) → 7"
);
differs_in!(
    an_identity_column,
    "",
    "CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY);",
    "CREATE TABLE t (id int GENERATED BY DEFAULT AS IDENTITY);",
    "column t.id: identity always → by default"
);
differs_in!(
    a_generated_column,
    "",
    "CREATE TABLE t (a int, b int GENERATED ALWAYS AS (a * 2) STORED);",
    "CREATE TABLE t (a int, b int GENERATED ALWAYS AS (a * 3) STORED);",
    "column t.b: generated (a * 2) → (a * 3)"
);
differs_in!(
    a_column_collation,
    "",
    "CREATE TABLE t (a text);",
    "CREATE TABLE t (a text COLLATE \"C\");",
    "column t.a: collation (none) → pg_catalog.\"C\""
);
differs_in!(
    a_column_order,
    "",
    "CREATE TABLE t (a int, b int);",
    "CREATE TABLE t (b int, a int);",
    "table t: column order a, b → b, a"
);
differs_in!(
    a_unique_constraint,
    T,
    "",
    "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);",
    "added constraint users.users_email_key"
);
differs_in!(
    a_primary_key,
    "CREATE TABLE t (a int, b int);",
    "ALTER TABLE t ADD PRIMARY KEY (a);",
    "ALTER TABLE t ADD PRIMARY KEY (b);",
    "constraint t.t_pkey: definition differs"
);
differs_in!(
    a_foreign_key_action,
    "CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c (p int);",
    "ALTER TABLE c ADD CONSTRAINT c_p_fkey FOREIGN KEY (p) REFERENCES p;",
    "ALTER TABLE c ADD CONSTRAINT c_p_fkey FOREIGN KEY (p) REFERENCES p ON DELETE CASCADE;",
    "constraint c.c_p_fkey: definition differs"
);
differs_in!(
    a_deferrable_constraint,
    T,
    "ALTER TABLE users ADD CONSTRAINT u UNIQUE (n);",
    "ALTER TABLE users ADD CONSTRAINT u UNIQUE (n) DEFERRABLE;",
    "constraint users.u: definition differs"
);
differs_in!(
    a_check_constraint,
    T,
    "ALTER TABLE users ADD CONSTRAINT n_positive CHECK (n > 0);",
    "ALTER TABLE users ADD CONSTRAINT n_positive CHECK (n >= 0);",
    "constraint users.n_positive: definition differs"
);
differs_in!(
    an_exclusion_constraint,
    "CREATE TABLE r (d int4range);",
    "",
    "ALTER TABLE r ADD CONSTRAINT r_d_excl EXCLUDE USING gist (d WITH &&);",
    "added constraint r.r_d_excl"
);
differs_in!(
    an_index,
    T,
    "CREATE INDEX users_email_idx ON users (email);",
    "CREATE INDEX users_email_idx ON users (lower(email));",
    "index users_email_idx: definition differs"
);
differs_in!(
    a_partial_index,
    T,
    "CREATE INDEX i ON users (n);",
    "CREATE INDEX i ON users (n) WHERE n > 0;",
    "index i: predicate (none) → (n > 0)"
);
differs_in!(
    an_index_method,
    T,
    "CREATE INDEX i ON users (n);",
    "CREATE INDEX i ON users USING hash (n);",
    "index i: method btree → hash"
);
differs_in!(
    an_index_uniqueness,
    T,
    "CREATE INDEX i ON users (n);",
    "CREATE UNIQUE INDEX i ON users (n);",
    "index i: unique no → yes"
);
differs_in!(
    a_column,
    T,
    "",
    "ALTER TABLE users ADD COLUMN nickname text;",
    "added column users.nickname"
);
differs_in!(
    a_domain_default,
    "",
    "CREATE DOMAIN d AS int DEFAULT 1;",
    "CREATE DOMAIN d AS int DEFAULT 2;",
    "domain d: default 1 → 2"
);
differs_in!(
    forced_row_level_security,
    T,
    "",
    "ALTER TABLE users FORCE ROW LEVEL SECURITY;",
    "table users: force row level security no → yes"
);
differs_in!(
    a_trigger_function_body,
    "CREATE TABLE t (a int);",
    "CREATE FUNCTION tf() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';",
    "CREATE FUNCTION tf() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN OLD; END';",
    "function tf(): body differs"
);
differs_in!(
    a_view,
    T,
    "CREATE VIEW v AS SELECT id FROM users;",
    "CREATE VIEW v AS SELECT id, email FROM users;",
    "view v: definition differs"
);
differs_in!(
    a_materialized_view,
    T,
    "",
    "CREATE MATERIALIZED VIEW mv AS SELECT id FROM users;",
    "added materialized view mv"
);
differs_in!(
    a_function_body,
    "",
    "CREATE FUNCTION f(a integer) RETURNS int LANGUAGE sql AS 'SELECT a';",
    "CREATE FUNCTION f(a integer) RETURNS int LANGUAGE sql AS 'SELECT a + 1';",
    "function f(integer): body differs"
);
differs_in!(
    a_function_overload,
    "CREATE FUNCTION f(a integer) RETURNS int LANGUAGE sql AS 'SELECT a';",
    "",
    "CREATE FUNCTION f(a text) RETURNS int LANGUAGE sql AS 'SELECT 1';",
    "added function f(text)"
);
differs_in!(
    a_procedure,
    "",
    "CREATE PROCEDURE p() LANGUAGE sql AS 'SELECT 1';",
    "",
    "removed procedure p()"
);
differs_in!(
    a_trigger,
    "CREATE TABLE t (a int); CREATE FUNCTION tf() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';",
    "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION tf();",
    "CREATE TRIGGER tr BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION tf();",
    "trigger t.tr: definition differs"
);
differs_in!(
    a_comment,
    T,
    "COMMENT ON COLUMN users.email IS 'old';",
    "COMMENT ON COLUMN users.email IS 'new';",
    "column users.email: comment old → new"
);
differs_in!(
    unlogged,
    "",
    "CREATE TABLE t (a int);",
    "CREATE UNLOGGED TABLE t (a int);",
    "table t: unlogged no → yes"
);
differs_in!(
    partitioning,
    "",
    "CREATE TABLE t (a int) PARTITION BY RANGE (a);",
    "CREATE TABLE t (a int) PARTITION BY LIST (a);",
    "table t: partition key RANGE (a) → LIST (a)"
);
differs_in!(
    row_level_security,
    T,
    "",
    "ALTER TABLE users ENABLE ROW LEVEL SECURITY;",
    "table users: row level security no → yes"
);

/// A snapshot with owners and grants.
fn take_with_privileges(db: &TestDb) -> Schema {
    let options = SnapshotOptions {
        include_privileges: true,
        ..SnapshotOptions::default()
    };
    snapshot(&mut db.client(), &options).expect("snapshot")
}

#[test]
fn privileges_are_compared_and_dumped_only_when_asked_for() {
    let Some(a) = test_db_or_skip!() else { return };
    let Some(b) = test_db_or_skip!() else { return };
    let Some(c) = test_db_or_skip!() else { return };
    // Roles are cluster-wide: one per test process.
    let role = format!("pgshift_reader_{}", std::process::id());
    let mut admin =
        postgres::Client::connect(&pgshift_test_support::admin_url(), postgres::NoTls).unwrap();
    let _ = admin.batch_execute(&format!("CREATE ROLE {role}"));
    let base = "CREATE SCHEMA app; CREATE TABLE app.users (id int, email text); \
                CREATE SEQUENCE app.s; CREATE VIEW app.v AS SELECT id FROM app.users; \
                CREATE FUNCTION app.f() RETURNS int LANGUAGE sql AS 'SELECT 1'; \
                CREATE TYPE app.mood AS ENUM ('a');";
    a.client().batch_execute(base).unwrap();
    b.client().batch_execute(base).unwrap();
    a.client()
        .batch_execute(&format!(
            "GRANT USAGE ON SCHEMA app TO {role}; GRANT SELECT, UPDATE ON app.users TO {role}; \
             GRANT SELECT ON app.v TO {role} WITH GRANT OPTION; GRANT USAGE ON SEQUENCE app.s TO {role}; \
             REVOKE EXECUTE ON FUNCTION app.f() FROM PUBLIC; GRANT EXECUTE ON FUNCTION app.f() TO {role}; \
             ALTER TYPE app.mood OWNER TO {role};"
        ))
        .unwrap();

    // Left out by default.
    assert_eq!(render(&diff(&take(&a), &take(&b))), "");
    assert!(take(&a).privileges.is_empty());

    let (pa, pb) = (take_with_privileges(&a), take_with_privileges(&b));
    assert_eq!(
        pa.privileges["app.users"].grants,
        [format!("SELECT TO {role}"), format!("UPDATE TO {role}")]
    );
    assert_eq!(pb.privileges["app.f()"].grants, ["EXECUTE TO PUBLIC"]);
    assert_eq!(pb.privileges["app.mood"].grants, ["USAGE TO PUBLIC"]);
    let text = render(&diff(&pb, &pa));
    for expected in [
        format!("enum app.mood: owner postgres → {role}"),
        format!("table app.users: grants (none) → SELECT TO {role}, UPDATE TO {role}"),
        format!("view app.v: grants (none) → SELECT TO {role} WITH GRANT OPTION"),
        format!("function app.f(): grants EXECUTE TO PUBLIC → EXECUTE TO {role}"),
        format!("schema app: grants (none) → USAGE TO {role}"),
        format!("sequence app.s: grants (none) → USAGE TO {role}"),
    ] {
        assert!(text.contains(&expected), "expected {expected:?} in\n{text}");
    }

    // The SQL form recreates them.
    let sql = pa.to_sql();
    c.client()
        .batch_execute(&sql)
        .unwrap_or_else(|e| panic!("apply dump: {:?}\n{sql}", e.as_db_error()));
    let recreated = take_with_privileges(&c);
    assert_eq!(render(&diff(&pa, &recreated)), "");
    assert_eq!(pa, recreated);
}
