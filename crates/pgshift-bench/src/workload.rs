//! The generated migrations, the equivalent psql scripts, and the checks
//! that a run really did all the work.

use anyhow::{ensure, Context, Result};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// Files of one generated workload, all under one folder.
#[derive(Debug)]
pub struct Workload {
    /// How many migrations.
    pub count: u32,
    /// The migration folder for `pgshift --dir` (and the per-file loop).
    pub migrations_dir: PathBuf,
    /// One session, each migration wrapped in `BEGIN; … COMMIT;`.
    pub session_script: PathBuf,
    /// All migrations concatenated, for `psql -1`.
    pub single_script: PathBuf,
    /// `sh` script running one `psql` per migration file.
    pub loop_script: PathBuf,
}

/// The SQL of migration `i` (1-based).
pub fn migration_sql(i: u32) -> String {
    format!(
        "CREATE TABLE t{i} (id int primary key, name text);\n\
         CREATE INDEX t{i}_name_idx ON t{i} (name);\n\
         INSERT INTO t{i} VALUES (1, 'x');\n"
    )
}

/// The file name of migration `i`: `NNNN_tN.sql`, zero-padded so that the
/// shell's glob order is the numeric order.
pub fn file_name(i: u32) -> String {
    format!("{i:04}_t{i}.sql")
}

/// The loop of the seed's `migrate.sh`: one psql process per file, in
/// order, stopping at the first failure. Each seed file carries its own
/// `BEGIN; … COMMIT;`; the generated files do not, so `-1` gives each the
/// same one transaction.
const LOOP_SCRIPT: &str = r#"#!/bin/sh
# Usage: loop.sh MIGRATIONS_DIR DATABASE_URL [PSQL]
set -eu
psql=${3:-psql}
for f in "$1"/*.sql; do
    "$psql" -X -q -v ON_ERROR_STOP=1 -1 -d "$2" -f "$f"
done
"#;

/// Writes the workload of `count` migrations into `root`.
pub fn generate(root: &Path, count: u32) -> Result<Workload> {
    let migrations_dir = root.join("migrations");
    fs::create_dir_all(&migrations_dir)
        .with_context(|| format!("cannot create {}", migrations_dir.display()))?;
    let mut session = String::new();
    let mut single = String::new();
    for i in 1..=count {
        let sql = migration_sql(i);
        let path = migrations_dir.join(file_name(i));
        fs::write(&path, &sql).with_context(|| format!("cannot write {}", path.display()))?;
        let _ = write!(session, "BEGIN;\n{sql}COMMIT;\n");
        single.push_str(&sql);
    }
    let workload = Workload {
        count,
        migrations_dir,
        session_script: root.join("session.sql"),
        single_script: root.join("all.sql"),
        loop_script: root.join("loop.sh"),
    };
    for (path, text) in [
        (&workload.session_script, session.as_str()),
        (&workload.single_script, single.as_str()),
        (&workload.loop_script, LOOP_SCRIPT),
    ] {
        fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(workload)
}

/// Checks that database `url` holds the complete result of the workload:
/// every table, every index, every row, and (when `tracked`) a tracking row
/// per migration in `public.schema_migrations`.
pub fn verify(url: &str, count: u32, tracked: bool) -> Result<()> {
    let mut client = postgres::Client::connect(url, postgres::NoTls)
        .with_context(|| format!("cannot connect to {url} to verify"))?;
    let expected = i64::from(count);
    let row = client.query_one(
        "SELECT \
           count(*) FILTER (WHERE c.relkind = 'r' AND c.relname ~ '^t[0-9]+$'), \
           count(*) FILTER (WHERE c.relkind = 'i' AND c.relname ~ '^t[0-9]+_name_idx$') \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public'",
        &[],
    )?;
    let (tables, indexes): (i64, i64) = (row.get(0), row.get(1));
    ensure!(
        tables == expected && indexes == expected,
        "incomplete run: {tables} tables and {indexes} indexes, expected {expected} of each"
    );
    // In chunks: one query locks every table it counts, and the shared lock
    // table holds only a few thousand locks by default.
    let mut rows = 0i64;
    for chunk in (1..=count).collect::<Vec<_>>().chunks(500) {
        let parts: Vec<String> = chunk
            .iter()
            .map(|i| format!("SELECT count(*) AS c FROM t{i}"))
            .collect();
        let sql = format!("SELECT sum(c)::int8 FROM ({}) s", parts.join(" UNION ALL "));
        rows += client.query_one(&sql, &[])?.get::<_, i64>(0);
    }
    ensure!(
        rows == expected,
        "incomplete run: {rows} rows, expected {expected}"
    );
    if tracked {
        let recorded: i64 = client
            .query_one("SELECT count(*) FROM public.schema_migrations", &[])?
            .get(0);
        ensure!(
            recorded == expected,
            "incomplete run: {recorded} tracking rows, expected {expected}"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_sort_in_numeric_order_and_scripts_match_them() {
        let dir = tempfile::tempdir().unwrap();
        let w = generate(dir.path(), 12).unwrap();
        let mut names: Vec<String> = fs::read_dir(&w.migrations_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        let expected: Vec<String> = (1..=12).map(file_name).collect();
        assert_eq!(names, expected);
        assert_eq!(names[9], "0010_t10.sql");

        let one = fs::read_to_string(w.migrations_dir.join("0007_t7.sql")).unwrap();
        assert_eq!(one, migration_sql(7));
        assert!(one.contains("CREATE INDEX t7_name_idx ON t7 (name);"));

        let session = fs::read_to_string(&w.session_script).unwrap();
        assert_eq!(session.matches("BEGIN;\n").count(), 12);
        assert_eq!(session.matches("COMMIT;\n").count(), 12);
        assert!(session.starts_with(&format!("BEGIN;\n{}COMMIT;\n", migration_sql(1))));

        let single = fs::read_to_string(&w.single_script).unwrap();
        assert!(!single.contains("BEGIN"));
        assert_eq!(single, (1..=12).map(migration_sql).collect::<String>());
        assert!(fs::read_to_string(&w.loop_script)
            .unwrap()
            .contains("\"$psql\" -X -q -v ON_ERROR_STOP=1 -1"));
    }
}
