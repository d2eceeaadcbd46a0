//! Backups and the restore preview, through the library.

use super::{folder, migrator};
use pgshift_core::backup::{BackupOptions, ToolPaths};
use pgshift_core::migrator::RunOptions;
use pgshift_core::plan::UpOptions;
use pgshift_test_support::{test_db_or_skip, TestDb};

/// The users table both tests start from.
const USERS: &str = "CREATE TABLE IF NOT EXISTS users (id int PRIMARY KEY);\n";

#[test]
fn the_restore_preview_counts_rows_and_marks_tables_the_backup_lacks() {
    let Some(db) = test_db_or_skip!() else { return };
    let dir = folder("users", USERS);
    let migrator = migrator(&db, dir.path(), RunOptions::default());
    migrator.up(&UpOptions::default(), &mut |_| {}).unwrap();
    db.client()
        .batch_execute("INSERT INTO users VALUES (1), (2), (3)")
        .unwrap();
    let backups = tempfile::tempdir().unwrap();
    let backup = migrator
        .backup(&BackupOptions {
            dir: backups.path().join("nested"),
            tools: ToolPaths::default(),
        })
        .unwrap();
    assert_eq!(backup.version.as_deref(), Some("001"));
    assert!(backup.bytes > 0);
    assert!(backup.path.starts_with(backups.path().join("nested")));

    db.client()
        .batch_execute("CREATE TABLE later (id int); INSERT INTO later VALUES (1); INSERT INTO users VALUES (4)")
        .unwrap();
    let preview = migrator
        .restore_preview(&backup.path, &ToolPaths::default())
        .unwrap();
    assert_eq!(preview.archive.database.as_deref(), Some(db.name()));
    assert!(preview
        .archive
        .tables
        .contains(&("public".to_string(), "users".to_string())));
    let find = |name: &str| {
        preview
            .tables
            .iter()
            .find(|(t, _, _)| t == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {:?}", preview.tables))
    };
    assert_eq!(find("public.users"), ("public.users".into(), Some(4), true));
    assert_eq!(
        find("public.later"),
        ("public.later".into(), Some(1), false)
    );
    assert!(
        find("public.schema_migrations_audit").2,
        "the audit trail is in the backup"
    );
}

/// Waits (bounded) until no session is connected to `db`, as after the
/// sessions a previous call closed have really ended on the server.
fn wait_until_idle(db: &TestDb) {
    let mut admin =
        postgres::Client::connect(&pgshift_test_support::admin_url(), postgres::NoTls).unwrap();
    for _ in 0..200 {
        let n: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
                &[&db.name()],
            )
            .unwrap()
            .get(0);
        if n == 0 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("sessions stayed connected to {}", db.name());
}

#[test]
fn a_rehearsal_copies_by_template_when_nobody_is_connected_and_drops_the_copy() {
    use pgshift_core::check::HealthChecks;
    use pgshift_core::rehearsal::CopyMethod;
    let Some(db) = test_db_or_skip!() else { return };
    let dir = folder("users", USERS);
    let migrator = migrator(&db, dir.path(), RunOptions::default());
    wait_until_idle(&db);
    let rehearsal = migrator
        .rehearse(
            &UpOptions::default(),
            &HealthChecks::default(),
            &ToolPaths::default(),
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(rehearsal.method, CopyMethod::Template);
    assert_eq!(rehearsal.report.done.len(), 1);
    let mut admin =
        postgres::Client::connect(&pgshift_test_support::admin_url(), postgres::NoTls).unwrap();
    let left: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = $1",
            &[&rehearsal.copy],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "the copy {} was dropped", rehearsal.copy);
    // The real database is untouched: no tracking table yet.
    let exists: bool = db
        .client()
        .query_one("SELECT to_regclass('users') IS NOT NULL", &[])
        .unwrap()
        .get(0);
    assert!(!exists);
}
