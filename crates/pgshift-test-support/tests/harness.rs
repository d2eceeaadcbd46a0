//! The harness used the way pgshift's tests use it: many tests in one process,
//! in parallel, sharing one cluster.

use std::net::{Ipv4Addr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::Duration;

use pgshift_test_support::{admin_url, cluster, test_db_or_skip, TestDb};

fn exists(name: &str) -> bool {
    let mut admin = postgres::Client::connect(&admin_url(), postgres::NoTls).unwrap();
    let row = admin
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = $1",
            &[&name],
        )
        .unwrap();
    row.get::<_, i64>(0) == 1
}

#[test]
fn gives_each_test_its_own_database() {
    let Some(db) = test_db_or_skip!() else { return };
    assert!(
        db.name().starts_with(&format!("t_{}_", std::process::id())),
        "{}",
        db.name()
    );
    assert!(
        db.url().starts_with("postgresql://postgres@127.0.0.1:"),
        "{}",
        db.url()
    );
    assert!(db.url().ends_with(&format!("/{}", db.name())));
    let current: String = db
        .client()
        .query_one("SELECT current_database()::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(current, db.name());
}

#[test]
fn databases_are_isolated() {
    let Some(a) = test_db_or_skip!() else { return };
    let Some(b) = test_db_or_skip!() else { return };
    assert_ne!(a.name(), b.name());
    a.client()
        .batch_execute("CREATE TABLE only_in_a (id int)")
        .unwrap();
    let found: i64 = b
        .client()
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(found, 0);
}

#[test]
fn dropping_removes_the_database_even_with_open_connections() {
    let Some(db) = test_db_or_skip!() else { return };
    let name = db.name().to_owned();
    let open = db.client();
    assert!(exists(&name));
    drop(db);
    assert!(!exists(&name));
    drop(open);
}

#[test]
fn parallel_creation_from_many_threads() {
    if pgshift_test_support::try_cluster().is_err() {
        return;
    }
    let names: Vec<String> = thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                scope.spawn(move || {
                    let db = TestDb::new();
                    let mut client = db.client();
                    client.batch_execute("CREATE TABLE t (v int)").unwrap();
                    client.execute("INSERT INTO t VALUES ($1)", &[&i]).unwrap();
                    let v: i32 = client.query_one("SELECT v FROM t", &[]).unwrap().get(0);
                    assert_eq!(v, i);
                    db.name().to_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len());
}

#[test]
fn admin_url_reaches_the_shared_cluster() {
    if pgshift_test_support::try_cluster().is_err() {
        return;
    }
    assert_eq!(admin_url(), cluster().url("postgres"));
    assert!(admin_url().contains(&format!(":{}/", cluster().port())));
    let mut admin = postgres::Client::connect(&admin_url(), postgres::NoTls).unwrap();
    let superuser: String = admin.query_one("SHOW is_superuser", &[]).unwrap().get(0);
    assert_eq!(superuser, "on");
}

/// Run by [`cluster_is_stopped_and_removed_at_process_exit`] in a child process
/// (ignored when run directly): uses the shared cluster, reports where it is,
/// then ends normally or by failing, as asked.
#[test]
#[ignore = "helper, run by cluster_is_stopped_and_removed_at_process_exit"]
fn exit_helper() {
    let Some(report) = std::env::var_os("PGSHIFT_TS_EXIT_REPORT") else {
        return;
    };
    let db = TestDb::new();
    let cluster = cluster();
    let text = format!(
        "{}\n{}\n",
        cluster.port(),
        cluster.cluster().dir().display()
    );
    std::fs::write(report, text).unwrap();
    // Leak a database and a connection: exit cleanup must cope.
    std::mem::forget(db.client());
    std::mem::forget(db);
    assert!(
        std::env::var_os("PGSHIFT_TS_EXIT_FAIL").is_none(),
        "failing on purpose"
    );
}

#[test]
fn cluster_is_stopped_and_removed_at_process_exit() {
    if pgshift_test_support::try_cluster().is_err() {
        return;
    }
    for fail in [false, true] {
        let scratch = tempfile::tempdir().unwrap();
        let report = scratch.path().join("report");
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args(["--exact", "exit_helper", "--ignored", "--quiet"])
            .env("PGSHIFT_TS_EXIT_REPORT", &report);
        if fail {
            cmd.env("PGSHIFT_TS_EXIT_FAIL", "1");
        }
        let out = cmd.output().unwrap();
        assert_eq!(
            out.status.success(),
            !fail,
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );

        let text = std::fs::read_to_string(&report).unwrap();
        let mut lines = text.lines();
        let port: u16 = lines.next().unwrap().parse().unwrap();
        let dir = PathBuf::from(lines.next().unwrap());
        // The handler runs before the process is gone, so this holds as soon
        // as the child has exited; no waiting.
        let accepts =
            TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), Duration::from_secs(2))
                .is_ok();
        assert!(
            !accepts,
            "server on port {port} outlived its test process (fail={fail})"
        );
        assert!(
            !dir.exists(),
            "{} outlived its test process (fail={fail})",
            dir.display()
        );
    }
}
