//! Reading the tracking table: typed errors for a table pgshift cannot use,
//! never a panic, and the session that bookkeeping uses.

use super::{folder, migrator};
use pgshift_core::error::Error;
use pgshift_core::history::{HistoryError, Layout, ShapeDifference, TrackingTable};
use pgshift_core::migrator::RunOptions;
use pgshift_core::plan::UpOptions;
use pgshift_test_support::test_db_or_skip;

#[test]
fn other_tools_tables_are_named_with_what_differs() {
    let Some(db) = test_db_or_skip!() else { return };
    let table = TrackingTable::default();
    let mut client = db.client();
    client
        .batch_execute(
            "CREATE TABLE schema_migrations (version bigint PRIMARY KEY, dirty boolean NOT NULL)",
        )
        .unwrap();
    let Err(HistoryError::Shape {
        table: name,
        layout,
        differences,
    }) = table.read(&mut client)
    else {
        panic!("a golang-migrate table was read as pgshift's");
    };
    assert_eq!(name, r#""public"."schema_migrations""#);
    assert_eq!(layout, Layout::GolangMigrate);
    assert!(differences.contains(&ShapeDifference::WrongType {
        column: "version".into(),
        found: "bigint".into(),
        expected: "VARCHAR(20)".into(),
    }));
    assert!(differences.contains(&ShapeDifference::RequiredColumn {
        column: "dirty".into()
    }));
    // `ensure` creates nothing next to it either.
    assert!(matches!(
        table.ensure(&mut client),
        Err(HistoryError::Shape { .. })
    ));
    let audit: bool = client
        .query_one(
            "SELECT to_regclass('schema_migrations_audit') IS NOT NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(!audit);
}

#[test]
fn a_timestamp_without_time_zone_is_a_typed_error_not_a_panic() {
    let Some(db) = test_db_or_skip!() else { return };
    let table = TrackingTable::default();
    let mut client = db.client();
    client.batch_execute(&table.create_sql()).unwrap();
    client
        .batch_execute(
            "ALTER TABLE schema_migrations ALTER applied_at TYPE timestamp; \
             INSERT INTO schema_migrations (version, description) VALUES ('001', 'a')",
        )
        .unwrap();
    let dir = folder("a", "CREATE TABLE a (id int);\n");
    let error = migrator(&db, dir.path(), RunOptions::default())
        .up(&UpOptions::default(), &mut |_| {})
        .expect_err("refused");
    let Error::History(HistoryError::Shape {
        layout,
        differences,
        ..
    }) = error
    else {
        panic!("not a shape error: {error}");
    };
    assert_eq!(layout, Layout::PgshiftAltered);
    assert_eq!(
        differences,
        [ShapeDifference::WrongType {
            column: "applied_at".into(),
            found: "timestamp without time zone".into(),
            expected: "TIMESTAMP WITH TIME ZONE".into(),
        }]
    );
}

#[test]
fn duplicate_and_null_versions_are_typed_errors() {
    let Some(db) = test_db_or_skip!() else { return };
    let table = TrackingTable::default();
    let mut client = db.client();
    client.batch_execute(&table.create_sql()).unwrap();
    client
        .batch_execute(
            "ALTER TABLE schema_migrations DROP CONSTRAINT schema_migrations_pkey; \
             INSERT INTO schema_migrations (version, description) VALUES ('002', 'b'), ('2', 'b')",
        )
        .unwrap();
    let Err(HistoryError::Duplicates { versions, .. }) = table.read(&mut client) else {
        panic!("duplicates were read");
    };
    let versions: Vec<Vec<&str>> = versions
        .iter()
        .map(|g| g.iter().map(|v| v.as_str()).collect())
        .collect();
    assert_eq!(versions, [["002", "2"]]);

    client
        .batch_execute(
            "DELETE FROM schema_migrations; ALTER TABLE schema_migrations ALTER version DROP NOT NULL; \
             CREATE UNIQUE INDEX ON schema_migrations (version); \
             INSERT INTO schema_migrations (version, description) VALUES (NULL, 'x')",
        )
        .unwrap();
    assert!(matches!(
        table.read(&mut client),
        Err(HistoryError::BadRow { .. })
    ));
}
