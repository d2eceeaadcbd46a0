//! The project's own migration set (`migration_scripts/` at the repository
//! root), run the two ways its README promises: plain `psql -f`, one file at
//! a time, and `pgshift`. Schemas are compared as `pg_dump` output.

use crate::common::*;
use pgshift_test_support::{test_db_or_skip, TestDb};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// pgshift keeps its own bookkeeping next to the tracking table, in objects
/// named `schema_migrations_<suffix>` (the progress table of no-transaction
/// migrations such as 003, the audit trail, ...). Plain psql never creates
/// them, so they are left out when a pgshift-built schema is compared with a
/// psql-built one.
const BOOKKEEPING_PREFIX: &str = "schema_migrations_";

/// The progress table of no-transaction migrations.
const PROGRESS_TABLE: &str = "schema_migrations_progress";

// ---------------------------------------------------------------------------
// The migration set on disk
// ---------------------------------------------------------------------------

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migration_scripts")
}

/// One numbered forward migration and its rollback.
struct Script {
    version: String,
    forward: PathBuf,
    rollback: PathBuf,
}

/// `NNN_*.sql` in version order, each with its `rollback_NNN.sql`.
fn scripts() -> Vec<Script> {
    let dir = scripts_dir();
    let mut found: Vec<Script> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("dir entry").path())
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.to_string();
            let (version, _) = name.split_once('_')?;
            let numbered = !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit());
            (numbered && name.ends_with(".sql")).then(|| Script {
                version: version.to_string(),
                rollback: dir.join(format!("rollback_{version}.sql")),
                forward: path,
            })
        })
        .collect();
    found.sort_by_key(|s| s.version.parse::<u64>().expect("numeric version"));
    assert!(
        found.len() >= 2,
        "expected the project's migrations in {}",
        dir.display()
    );
    for script in &found {
        assert!(
            script.rollback.is_file(),
            "{} has no rollback file",
            script.forward.display()
        );
    }
    found
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The `-- Description:` header line of a migration.
fn header_description(path: &Path) -> String {
    read(path)
        .lines()
        .take_while(|line| line.starts_with("--"))
        .find_map(|line| line.strip_prefix("-- Description:"))
        .unwrap_or_else(|| panic!("{} has no Description header", path.display()))
        .trim()
        .to_string()
}

/// What pgshift must record: SHA-256 (lowercase hex) of the text with a
/// leading BOM removed and CRLF folded to LF.
fn expected_checksum(path: &Path) -> String {
    let text = read(path);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let normalised = text.replace("\r\n", "\n");
    format!("{:x}", Sha256::digest(normalised.as_bytes()))
}

/// The tracking table exactly as 001 declares it (the README's DDL), so a
/// baseline can have it before any migration ran: rollbacks keep it.
fn tracking_table_ddl() -> String {
    let text = read(&scripts()[0].forward);
    let start = text
        .find("CREATE TABLE IF NOT EXISTS schema_migrations (")
        .expect("001 creates schema_migrations");
    let end = start + text[start..].find(");").expect("end of the DDL") + 2;
    text[start..end].to_string()
}

// ---------------------------------------------------------------------------
// psql and pg_dump
// ---------------------------------------------------------------------------

fn client_tool(program: &str, url: &str) -> Command {
    let mut cmd = Command::new(program);
    for var in client_vars() {
        cmd.env_remove(var);
    }
    cmd.env("PGCONNECT_TIMEOUT", "10").arg("-d").arg(url);
    cmd
}

/// `psql -X -v ON_ERROR_STOP=1 -d URL`.
fn psql(url: &str) -> Command {
    let mut cmd = client_tool("psql", url);
    cmd.args(["-X", "-v", "ON_ERROR_STOP=1"]);
    cmd
}

fn output_text(output: &Output) -> String {
    format!(
        "exit: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `psql … -f FILE`, which must succeed.
#[track_caller]
fn psql_file(url: &str, file: &Path) {
    let output = psql(url).arg("-f").arg(file).output().expect("run psql");
    assert!(
        output.status.success(),
        "psql -f {} failed\n{}",
        file.display(),
        output_text(&output)
    );
}

/// `psql … -f seed_data.sql` in a session that says it is a test database
/// (the seed refuses any other), which must succeed.
#[track_caller]
fn seed(url: &str) {
    let file = scripts_dir().join("seed_data.sql");
    let output = psql(url)
        .env("PGOPTIONS", "-c app.environment=test")
        .arg("-f")
        .arg(&file)
        .output()
        .expect("run psql");
    assert!(
        output.status.success(),
        "psql -f {} failed\n{}",
        file.display(),
        output_text(&output)
    );
}

/// `psql … -c SQL`, which must succeed.
#[track_caller]
fn psql_command(url: &str, sql: &str) {
    let output = psql(url).args(["-c", sql]).output().expect("run psql");
    assert!(
        output.status.success(),
        "psql -c {sql:?} failed\n{}",
        output_text(&output)
    );
}

/// `pg_dump --no-owner ARGS`, without the `\restrict` / `\unrestrict` lines
/// (pg_dump 15.14+ puts a random key there).
#[track_caller]
fn pg_dump(url: &str, args: &[&str]) -> String {
    let output = client_tool("pg_dump", url)
        .arg("--no-owner")
        .args(args)
        .output()
        .expect("run pg_dump");
    assert!(
        output.status.success(),
        "pg_dump {args:?} failed\n{}",
        output_text(&output)
    );
    String::from_utf8(output.stdout)
        .expect("pg_dump prints UTF-8")
        .lines()
        .filter(|line| !line.starts_with("\\restrict") && !line.starts_with("\\unrestrict"))
        .map(|line| format!("{line}\n"))
        .collect()
}

#[track_caller]
fn schema_dump(url: &str) -> String {
    pg_dump(url, &["--schema-only"])
}

/// The schema without pgshift's bookkeeping objects, to compare with psql
/// runs: every `-- Name: schema_migrations_…` entry of the dump (its header
/// and body, up to the two blank lines that end it) is dropped. The tracking
/// table itself, `schema_migrations`, stays.
#[track_caller]
fn schema_dump_without_bookkeeping(url: &str) -> String {
    const HEADER: &str = "--\n-- Name: ";
    let dump = schema_dump(url);
    let mut out = String::new();
    let mut kept_from = 0;
    for (start, _) in dump.match_indices(HEADER) {
        let at_line_start = start == 0 || dump.as_bytes()[start - 1] == b'\n';
        if start < kept_from
            || !at_line_start
            || !dump[start + HEADER.len()..].starts_with(BOOKKEEPING_PREFIX)
        {
            continue;
        }
        let end = dump[start..]
            .find("\n\n\n")
            .map_or(dump.len(), |i| start + i + 3);
        out.push_str(&dump[kept_from..start]);
        kept_from = end;
    }
    out.push_str(&dump[kept_from..]);
    out
}

/// `pg_dump --data-only`, with the rows of each COPY block sorted: a table's
/// physical row order (which an upsert may change) is not its content.
#[track_caller]
fn data_dump(url: &str) -> String {
    let dump = pg_dump(url, &["--data-only"]);
    let mut out = String::new();
    let mut rows: Option<Vec<&str>> = None;
    for line in dump.lines() {
        match &mut rows {
            Some(block) if line == "\\." => {
                block.sort_unstable();
                for row in block.iter() {
                    out.push_str(row);
                    out.push('\n');
                }
                out.push_str("\\.\n");
                rows = None;
            }
            Some(block) => block.push(line),
            None => {
                out.push_str(line);
                out.push('\n');
                if line.starts_with("COPY ") && line.ends_with("FROM stdin;") {
                    rows = Some(Vec::new());
                }
            }
        }
    }
    assert!(rows.is_none(), "unterminated COPY block in\n{dump}");
    out
}

/// Row count of every table in `public`, by name.
fn row_counts(db: &TestDb) -> Vec<(String, i64)> {
    let mut client = db.client();
    let tables: Vec<String> = client
        .query(
            "SELECT relname::text FROM pg_class \
             WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') \
             ORDER BY relname",
            &[],
        )
        .expect("list tables")
        .iter()
        .map(|row| row.get(0))
        .collect();
    tables
        .into_iter()
        .map(|table| {
            let count: i64 = client
                .query_one(&format!("SELECT count(*) FROM public.\"{table}\""), &[])
                .expect("count rows")
                .get(0);
            (table, count)
        })
        .collect()
}

fn count_of(counts: &[(String, i64)], table: &str) -> i64 {
    counts
        .iter()
        .find(|(name, _)| name == table)
        .unwrap_or_else(|| panic!("no table {table} in {counts:?}"))
        .1
}

/// Every tracking row, as text, including the timestamps.
fn tracking_rows(db: &TestDb) -> Vec<String> {
    column(
        db,
        "SELECT concat_ws('|', version, description, applied_at, applied_by, \
         coalesce(execution_time_ms::text, 'NULL'), coalesce(checksum, 'NULL')) \
         FROM schema_migrations ORDER BY version",
    )
}

/// Rows left in pgshift's progress table (0 when it does not exist).
fn progress_rows(db: &TestDb) -> i64 {
    if !exists(db, PROGRESS_TABLE) {
        return 0;
    }
    column(db, &format!("SELECT count(*) FROM {PROGRESS_TABLE}"))[0]
        .parse()
        .expect("count")
}

// ---------------------------------------------------------------------------
// Comparing dumps
// ---------------------------------------------------------------------------

/// A line diff of two texts (`-` only in `expected`, `+` only in `actual`),
/// with three lines of context and line numbers of `expected`.
fn line_diff(expected: &str, actual: &str) -> String {
    const CONTEXT: usize = 3;
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (am, bm) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);

    // (marker, line) for the differing middle: LCS when it is small enough.
    let mut ops: Vec<(char, &str)> = Vec::new();
    if am.len().saturating_mul(bm.len()) <= 4_000_000 {
        let width = bm.len() + 1;
        let mut lcs = vec![0u32; (am.len() + 1) * width];
        for i in (0..am.len()).rev() {
            for j in (0..bm.len()).rev() {
                lcs[i * width + j] = if am[i] == bm[j] {
                    lcs[(i + 1) * width + j + 1] + 1
                } else {
                    lcs[(i + 1) * width + j].max(lcs[i * width + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < am.len() || j < bm.len() {
            if i < am.len() && j < bm.len() && am[i] == bm[j] {
                ops.push((' ', am[i]));
                i += 1;
                j += 1;
            } else if i < am.len()
                && (j == bm.len() || lcs[(i + 1) * width + j] >= lcs[i * width + j + 1])
            {
                ops.push(('-', am[i]));
                i += 1;
            } else {
                ops.push(('+', bm[j]));
                j += 1;
            }
        }
    } else {
        ops.extend(am.iter().map(|line| ('-', *line)));
        ops.extend(bm.iter().map(|line| ('+', *line)));
    }

    let mut out = format!("@@ from line {} of expected @@\n", prefix + 1);
    for line in &a[prefix.saturating_sub(CONTEXT)..prefix] {
        out.push_str(&format!("  {line}\n"));
    }
    // Long unchanged runs inside the middle are shortened.
    let mut k = 0;
    while k < ops.len() {
        let run = ops[k..].iter().take_while(|(m, _)| *m == ' ').count();
        if run > 2 * CONTEXT + 1 {
            for (_, line) in &ops[k..k + CONTEXT] {
                out.push_str(&format!("  {line}\n"));
            }
            out.push_str(&format!("  … {} unchanged lines …\n", run - 2 * CONTEXT));
            for (_, line) in &ops[k + run - CONTEXT..k + run] {
                out.push_str(&format!("  {line}\n"));
            }
            k += run;
        } else if run > 0 {
            for (_, line) in &ops[k..k + run] {
                out.push_str(&format!("  {line}\n"));
            }
            k += run;
        } else {
            out.push_str(&format!("{} {}\n", ops[k].0, ops[k].1));
            k += 1;
        }
    }
    for line in &a[a.len() - suffix..(a.len() - suffix + CONTEXT).min(a.len())] {
        out.push_str(&format!("  {line}\n"));
    }
    out
}

#[track_caller]
fn assert_same(what: &str, expected: &str, actual: &str) {
    if expected != actual {
        panic!(
            "{what}: output differs (- expected, + actual)\n{}",
            line_diff(expected, actual)
        );
    }
}

// ---------------------------------------------------------------------------
// Building reference schemas with psql
// ---------------------------------------------------------------------------

/// On an empty database: creates the tracking table (the baseline, since
/// rollbacks keep it), then applies each forward file with psql. Returns the
/// schema dump of the baseline and after each migration (`[0]` = baseline,
/// `[k]` = after the k-th migration).
fn apply_with_snapshots(db: &TestDb, scripts: &[Script]) -> Vec<String> {
    psql_command(db.url(), &tracking_table_ddl());
    let mut snapshots = vec![schema_dump(db.url())];
    for script in scripts {
        psql_file(db.url(), &script.forward);
        snapshots.push(schema_dump(db.url()));
    }
    snapshots
}

fn versions_of(scripts: &[Script]) -> Vec<String> {
    scripts.iter().map(|s| s.version.clone()).collect()
}

/// Copies the whole `migration_scripts/` folder into the project.
fn copy_scripts_into(project: &Project) {
    for entry in std::fs::read_dir(scripts_dir()).expect("read migration_scripts") {
        let path = entry.expect("dir entry").path();
        if path.is_file() {
            let target = project
                .migrations()
                .join(path.file_name().expect("file name"));
            std::fs::copy(&path, &target).expect("copy migration script");
        }
    }
}

/// `pgshift status --json`, parsed.
fn status_json(project: &Project, db: &TestDb) -> serde_json::Value {
    let run = Run::of(project.cmd(db).args(["status", "--json"]));
    run.assert_code(0);
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("status --json is not JSON ({e}):\n{}", run.stdout))
}

fn status_entries(status: &serde_json::Value) -> &Vec<serde_json::Value> {
    status["migrations"]
        .as_array()
        .unwrap_or_else(|| panic!("no migrations array in {status:#}"))
}

/// Every script is listed by `status --json` as applied, in order, with the
/// description from its header.
fn assert_applied_as_described(
    status: &serde_json::Value,
    entries: &[serde_json::Value],
    scripts: &[Script],
    state: &str,
) {
    assert_eq!(entries.len(), scripts.len(), "{status:#}");
    for (entry, script) in entries.iter().zip(scripts) {
        let context = format!("{entry:#}");
        assert_eq!(entry["version"], script.version.as_str(), "{context}");
        assert_eq!(entry["state"], state, "{context}");
        assert_eq!(
            entry["description"],
            header_description(&script.forward).as_str(),
            "{context}"
        );
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn forward_scripts_run_twice_under_psql_without_changing_anything() {
    let Some(db) = test_db_or_skip!() else { return };
    let scripts = scripts();

    for script in &scripts {
        psql_file(db.url(), &script.forward);
    }
    assert_eq!(applied_versions(&db), versions_of(&scripts));
    let schema_first = schema_dump(db.url());
    let data_first = data_dump(db.url());
    for table in ["users", "user_profiles", "api_keys"] {
        assert!(exists(&db, table), "{table} missing after the first run");
    }

    // The second run of every file succeeds and is a no-op: same schema, same
    // default roles/permissions, same tracking rows (applied_at included).
    for script in &scripts {
        psql_file(db.url(), &script.forward);
    }
    assert_same(
        "schema after the second psql run",
        &schema_first,
        &schema_dump(db.url()),
    );
    assert_same(
        "data after the second psql run",
        &data_first,
        &data_dump(db.url()),
    );

    // psql leaves the tool's columns empty.
    let rows = column(
        &db,
        "SELECT version || '|' || (checksum IS NULL) || '|' || (execution_time_ms IS NULL) \
         FROM schema_migrations ORDER BY version",
    );
    let expected: Vec<String> = scripts
        .iter()
        .map(|s| format!("{}|true|true", s.version))
        .collect();
    assert_eq!(rows, expected);
}

#[test]
fn psql_rollbacks_restore_each_previous_schema_and_reapply_identically() {
    let Some(db) = test_db_or_skip!() else { return };
    let scripts = scripts();
    let versions = versions_of(&scripts);
    let snapshots = apply_with_snapshots(&db, &scripts);
    assert_eq!(applied_versions(&db), versions);

    // Rolling back the oldest while later ones are applied is refused.
    let refused = psql(db.url())
        .arg("-f")
        .arg(&scripts[0].rollback)
        .output()
        .expect("run psql");
    assert!(
        !refused.status.success(),
        "rollback_001 ran while later migrations were applied\n{}",
        output_text(&refused)
    );
    let later = versions[1..].join(", ");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains(&format!(
            "cannot roll back {}: later migrations are still applied: {later}",
            versions[0]
        )),
        "{}",
        output_text(&refused)
    );
    assert_same(
        "schema after the refused rollback",
        &snapshots[scripts.len()],
        &schema_dump(db.url()),
    );
    assert_eq!(applied_versions(&db), versions);

    // Newest first: each rollback restores the schema from before its
    // migration and forgets exactly its row.
    for k in (0..scripts.len()).rev() {
        psql_file(db.url(), &scripts[k].rollback);
        assert_same(
            &format!("schema after rollback_{}.sql", scripts[k].version),
            &snapshots[k],
            &schema_dump(db.url()),
        );
        assert_eq!(
            applied_versions(&db),
            versions[..k],
            "tracking rows after rollback_{}.sql",
            scripts[k].version
        );
    }
    assert!(exists(&db, "schema_migrations"), "a rollback dropped it");

    // Applying again gives the same schema at every step.
    for (k, script) in scripts.iter().enumerate() {
        psql_file(db.url(), &script.forward);
        assert_same(
            &format!(
                "schema after re-applying {}",
                script.forward.file_name().unwrap().to_string_lossy()
            ),
            &snapshots[k + 1],
            &schema_dump(db.url()),
        );
    }
    assert_eq!(applied_versions(&db), versions);
}

#[test]
fn seed_data_twice_leaves_the_same_rows() {
    let Some(db) = test_db_or_skip!() else { return };
    for script in &scripts() {
        psql_file(db.url(), &script.forward);
    }
    let tracking_before = tracking_rows(&db);

    seed(db.url());
    let counts = row_counts(&db);
    let data = data_dump(db.url());
    // What the seed documents.
    for (table, rows) in [
        ("users", 6),
        ("user_roles", 6),
        ("user_profiles", 3),
        ("user_sessions", 5),
        ("email_verification_tokens", 1),
        ("password_reset_tokens", 1),
        ("audit_log", 13),
    ] {
        assert_eq!(
            count_of(&counts, table),
            rows,
            "rows in {table}: {counts:?}"
        );
    }
    assert_eq!(
        tracking_rows(&db),
        tracking_before,
        "the seed wrote to schema_migrations"
    );

    seed(db.url());
    assert_eq!(
        row_counts(&db),
        counts,
        "row counts after the second seed run"
    );
    assert_same(
        "pg_dump --data-only after the second seed run",
        &data,
        &data_dump(db.url()),
    );
}

#[test]
fn seed_data_refuses_a_database_marked_production_and_changes_nothing() {
    let Some(db) = test_db_or_skip!() else { return };
    for script in &scripts() {
        psql_file(db.url(), &script.forward);
    }
    db.client()
        .batch_execute(&format!(
            "ALTER DATABASE \"{}\" SET app.environment = 'production'",
            db.name()
        ))
        .expect("mark the database as production");
    let data_before = data_dump(db.url());
    let seed = scripts_dir().join("seed_data.sql");

    // A new session picks up the marking; a session-level override does
    // not get around it.
    for pgoptions in [None, Some("-c app.environment=development")] {
        let mut cmd = psql(db.url());
        cmd.arg("-f").arg(&seed);
        if let Some(options) = pgoptions {
            cmd.env("PGOPTIONS", options);
        }
        let output = cmd.output().expect("run psql");
        let text = output_text(&output);
        assert_eq!(
            output.status.code(),
            Some(3),
            "seed was not refused (PGOPTIONS {pgoptions:?})\n{text}"
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(
                "seed_data.sql refused: this database is marked as production (app.environment = production)"
            ),
            "{text}"
        );
        assert!(stderr.contains("Nothing was changed."), "{text}");
        assert_same(
            &format!("data after the refused seed (PGOPTIONS {pgoptions:?})"),
            &data_before,
            &data_dump(db.url()),
        );
    }
    assert_eq!(column(&db, "SELECT count(*) FROM users"), ["0"]);
}

#[test]
fn pgshift_applies_verifies_and_rolls_back_the_project_migrations() {
    let Some(db) = test_db_or_skip!() else { return };
    let scripts = scripts();
    let versions = versions_of(&scripts);
    let n = scripts.len();

    // The psql-built schema at every step, in a second database.
    let reference = TestDb::new();
    let snapshots = apply_with_snapshots(&reference, &scripts);

    let project = Project::new();
    copy_scripts_into(&project);

    // up: everything, in order.
    let up = Run::of(project.cmd(&db).arg("up"));
    up.assert_code(0);
    assert!(
        up.stdout.contains(&format!("Applied {n} migration(s)")),
        "{}",
        up.all()
    );
    assert_eq!(applied_versions(&db), versions);
    assert_eq!(progress_rows(&db), 0, "progress rows left after a clean up");
    assert_same(
        "schema after `pgshift up` vs. the psql-applied schema",
        &snapshots[n],
        &schema_dump_without_bookkeeping(db.url()),
    );
    let first_full_apply = schema_dump(db.url());

    // status --json: applied, described by the headers, checksummed, timed.
    let status = status_json(&project, &db);
    let entries = status_entries(&status);
    assert_applied_as_described(&status, entries, &scripts, "applied");
    for (entry, script) in entries.iter().zip(&scripts) {
        let context = format!("{entry:#}");
        let checksum = entry["applied"]["checksum"]
            .as_str()
            .unwrap_or_else(|| panic!("no checksum: {context}"));
        assert!(
            checksum.len() == 64 && checksum.bytes().all(|b| b.is_ascii_hexdigit()),
            "{context}"
        );
        assert_eq!(
            checksum,
            expected_checksum(&script.forward),
            "checksum of {}",
            script.forward.display()
        );
        assert!(
            entry["applied"]["execution_time_ms"].is_i64(),
            "no execution time: {context}"
        );
    }
    assert_eq!(entries[0]["description"], "Initial schema creation");

    // The tracking table agrees, with the header descriptions.
    let rows = column(
        &db,
        "SELECT version || '|' || description || '|' || checksum || '|' || (execution_time_ms >= 0) \
         FROM schema_migrations ORDER BY version",
    );
    let expected: Vec<String> = scripts
        .iter()
        .map(|s| {
            format!(
                "{}|{}|{}|true",
                s.version,
                header_description(&s.forward),
                expected_checksum(&s.forward)
            )
        })
        .collect();
    assert_eq!(rows, expected);

    Run::of(project.cmd(&db).arg("verify")).assert_code(0);

    // up again: nothing to do, nothing changes.
    let again = Run::of(project.cmd(&db).arg("up"));
    again.assert_code(0);
    assert!(again.stdout.contains("Nothing to apply"), "{}", again.all());
    assert_same(
        "schema after a second `pgshift up`",
        &first_full_apply,
        &schema_dump(db.url()),
    );

    // rollback: the newest only.
    let newest = Run::of(project.cmd(&db).args(["rollback", "--yes"]));
    newest.assert_code(0);
    assert!(
        newest
            .stdout
            .contains(&format!("Rolled back 1 migration(s): {}", versions[n - 1])),
        "{}",
        newest.all()
    );
    assert_eq!(applied_versions(&db), versions[..n - 1]);
    assert_same(
        &format!(
            "schema after `pgshift rollback` vs. psql after {}",
            versions[n - 2]
        ),
        &snapshots[n - 1],
        &schema_dump_without_bookkeeping(db.url()),
    );

    // rollback the rest: back to the baseline, history empty.
    let steps = (n - 1).to_string();
    let rest = Run::of(
        project
            .cmd(&db)
            .args(["rollback", "--steps", &steps, "--yes"]),
    );
    rest.assert_code(0);
    assert!(applied_versions(&db).is_empty(), "{}", rest.all());
    assert!(exists(&db, "schema_migrations"));
    assert_eq!(progress_rows(&db), 0, "progress rows left after rollback");
    assert_same(
        "schema after rolling everything back vs. the baseline",
        &snapshots[0],
        &schema_dump_without_bookkeeping(db.url()),
    );

    // up once more: the same schema as the first time, recorded the same way.
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    assert_eq!(applied_versions(&db), versions);
    assert_same(
        "schema after re-applying with pgshift",
        &first_full_apply,
        &schema_dump(db.url()),
    );
    assert_eq!(
        column(
            &db,
            "SELECT version || '|' || description || '|' || checksum || '|' || (execution_time_ms >= 0) \
             FROM schema_migrations ORDER BY version",
        ),
        expected
    );
    Run::of(project.cmd(&db).arg("verify")).assert_code(0);
}

#[test]
fn pgshift_recognises_a_database_migrated_with_psql() {
    let Some(db) = test_db_or_skip!() else { return };
    let scripts = scripts();
    for script in &scripts {
        psql_file(db.url(), &script.forward);
    }
    let schema = schema_dump(db.url());
    let tracking = tracking_rows(&db);

    let project = Project::new();
    copy_scripts_into(&project);

    let status = status_json(&project, &db);
    let entries = status_entries(&status);
    assert_applied_as_described(&status, entries, &scripts, "unverified");
    for entry in entries {
        let context = format!("{entry:#}");
        // psql records neither.
        assert!(entry["applied"]["checksum"].is_null(), "{context}");
        assert!(entry["applied"]["execution_time_ms"].is_null(), "{context}");
    }

    // Without checksums, an edit to a file since psql ran it cannot be
    // seen: pgshift says so and changes nothing until they are accepted.
    Run::of(project.cmd(&db).arg("verify")).assert_code(3);
    let refused = Run::of(project.cmd(&db).arg("up"));
    refused.assert_code(3);
    assert!(
        refused.stderr.contains("--all-unverified"),
        "{}",
        refused.all()
    );
    assert_eq!(
        tracking_rows(&db),
        tracking,
        "a refused `up` changed schema_migrations"
    );
    Run::of(project.cmd(&db).args([
        "accept",
        "--all-unverified",
        "--reason",
        "the files are the ones psql ran",
    ]))
    .assert_code(0);

    let up = Run::of(project.cmd(&db).arg("up"));
    up.assert_code(0);
    assert!(up.stdout.contains("Nothing to apply"), "{}", up.all());
    Run::of(project.cmd(&db).arg("verify")).assert_code(0);
    let status = status_json(&project, &db);
    assert_applied_as_described(&status, status_entries(&status), &scripts, "applied");

    // Nothing was re-run: the migrations' objects are exactly as psql left
    // them (pgshift may have added its own bookkeeping next to the tracking
    // table; that is not compared here).
    assert_same(
        "schema after `pgshift up` on a psql-migrated database",
        &schema,
        &schema_dump_without_bookkeeping(db.url()),
    );
}

// ---------------------------------------------------------------------------
// Issue 15: what a production review asks of the set
// ---------------------------------------------------------------------------

/// A valid bcrypt hash (cost 12) of a development password.
const BCRYPT: &str = "$2a$12$yblLy.Q7RwMrE0S9jhMlOOUsi6MBv5tyO.EZzNvrMItoc9Ghxp4Wq";

/// Applies every forward migration with psql.
fn apply_all(db: &TestDb) {
    for script in &scripts() {
        psql_file(db.url(), &script.forward);
    }
}

/// One text value of a query that returns one row.
#[track_caller]
fn value(client: &mut postgres::Client, sql: &str) -> String {
    let rows = client
        .simple_query(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.into_iter()
        .find_map(|m| match m {
            postgres::SimpleQueryMessage::Row(row) => {
                Some(row.get(0).unwrap_or("NULL").to_string())
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("{sql} returned no row"))
}

/// Runs a statement that must fail; its SQLSTATE and constraint name.
#[track_caller]
fn refused(client: &mut postgres::Client, sql: &str) -> (String, String) {
    let error = match client.batch_execute(sql) {
        Ok(()) => panic!("{sql} succeeded"),
        Err(e) => e,
    };
    let server = error
        .as_db_error()
        .unwrap_or_else(|| panic!("{sql}: {error}"));
    (
        server.code().code().to_string(),
        server.constraint().unwrap_or_default().to_string(),
    )
}

/// Runs statements that must succeed.
#[track_caller]
fn run(client: &mut postgres::Client, sql: &str) {
    client
        .batch_execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Inserts an active user; its id.
fn insert_user(client: &mut postgres::Client, n: u32) -> String {
    value(
        client,
        &format!(
            "INSERT INTO users (email, username, password_hash, status) \
             VALUES ('u{n}@example.com', 'user{n}', '{BCRYPT}', 'active') RETURNING id"
        ),
    )
}

/// A session of the shared cluster acting as `role` (`SET ROLE`).
fn client_as(db: &TestDb, role: &str) -> postgres::Client {
    let mut client = db.client();
    run(&mut client, &format!("SET ROLE {role}"));
    client
}

/// `pgshift check` on the set as it is in the repository.
fn check_run(db: &TestDb) -> Run {
    let project = Project::new();
    copy_scripts_into(&project);
    for entry in std::fs::read_dir(scripts_dir().join("checks")).expect("read checks") {
        let path = entry.expect("dir entry").path();
        let sql = read(&path);
        project.check(
            path.file_name().and_then(|n| n.to_str()).expect("name"),
            &sql,
        );
    }
    Run::of(project.cmd(db).arg("check"))
}

/// Item 1: a re-run of any migration (the seed's deploy loop re-runs every
/// file) takes no lock that waits for an application transaction. Before
/// the fix, `DROP TRIGGER`/`CREATE TRIGGER` and `CREATE INDEX IF NOT
/// EXISTS` queued behind it until `lock_timeout` (5 s) and failed.
#[test]
fn a_rerun_completes_while_an_application_transaction_holds_its_tables() {
    let Some(db) = test_db_or_skip!() else { return };
    apply_all(&db);
    let mut setup = db.client();
    let user = insert_user(&mut setup, 1);

    // Reads and writes on every table the migrations touch, left open.
    let mut open = db.client();
    run(
        &mut open,
        &format!(
            "BEGIN;
             SELECT count(*) FROM users;
             UPDATE users SET last_login_at = now() WHERE id = '{user}';
             UPDATE roles SET description = description;
             SELECT count(*) FROM permissions, role_permissions, user_roles;
             INSERT INTO user_sessions (user_id, refresh_token_hash, expires_at)
                 VALUES ('{user}', repeat('a', 64), now() + interval '1 hour');
             INSERT INTO password_reset_tokens (user_id, token_hash, expires_at)
                 VALUES ('{user}', repeat('b', 64), now() + interval '1 hour');
             SELECT count(*) FROM email_verification_tokens;
             INSERT INTO audit_log (action, target_user_id) VALUES ('user.login_succeeded', '{user}');
             INSERT INTO user_profiles (user_id, time_zone) VALUES ('{user}', 'Europe/Paris');
             INSERT INTO api_keys (user_id, name, key_prefix, key_hash)
                 VALUES ('{user}', 'ci', 'abcdefgh', repeat('c', 64));"
        ),
    );

    // The open transaction really holds locks the old statements (and
    // CREATE OR REPLACE TRIGGER) wait for; each is rolled back anyway.
    for old in [
        "CREATE INDEX IF NOT EXISTS users_email_lower_key ON users (lower(email)) WHERE deleted_at IS NULL",
        "DROP TRIGGER IF EXISTS users_set_updated_at ON users",
        "CREATE OR REPLACE TRIGGER users_set_updated_at BEFORE UPDATE ON users FOR EACH ROW \
         WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION set_updated_at()",
    ] {
        let mut control = db.client();
        let sql = format!("BEGIN; SET LOCAL lock_timeout = '1s'; {old}; ROLLBACK");
        assert_eq!(refused(&mut control, &sql).0, "55P03", "{old}");
    }

    // Every file again: a wait would end in a lock timeout (5 s set by the
    // transactional files, 2 s for the no-transaction one).
    let schema = schema_dump(db.url());
    for script in &scripts() {
        let output = psql(db.url())
            .env("PGOPTIONS", "-c lock_timeout=2s")
            .arg("-f")
            .arg(&script.forward)
            .output()
            .expect("run psql");
        assert!(
            output.status.success(),
            "re-running {} waited for the open transaction\n{}",
            script.forward.display(),
            output_text(&output)
        );
    }
    run(&mut open, "COMMIT");
    assert_same("schema after the re-run", &schema, &schema_dump(db.url()));
}

/// Item 2: defaults (RBAC rows and SQL privileges) are set on first
/// application only; a re-run leaves what an operator revoked revoked.
#[test]
fn a_revoked_grant_stays_revoked_after_a_rerun() {
    let Some(db) = test_db_or_skip!() else { return };
    apply_all(&db);
    let mut client = db.client();
    let support_can_suspend = "SELECT count(*) FROM role_permissions rp \
         JOIN roles r ON r.id = rp.role_id JOIN permissions p ON p.id = rp.permission_id \
         WHERE r.name = 'support' AND p.name = 'users:suspend'";
    assert_eq!(value(&mut client, support_can_suspend), "1");
    assert_eq!(
        value(
            &mut client,
            "SELECT has_table_privilege('user_mgmt_app', 'user_sessions', 'UPDATE')"
        ),
        "t"
    );

    run(
        &mut client,
        "DELETE FROM role_permissions
          WHERE role_id = (SELECT id FROM roles WHERE name = 'support')
            AND permission_id = (SELECT id FROM permissions WHERE name = 'users:suspend');
         DELETE FROM permissions WHERE name = 'roles:manage';
         REVOKE UPDATE ON user_sessions FROM user_mgmt_app;
         REVOKE SELECT ON user_profiles FROM user_mgmt_readonly;
         REVOKE SELECT ON api_keys FROM user_mgmt_readonly;",
    );
    let data = data_dump(db.url());
    let schema = schema_dump(db.url());

    apply_all(&db);
    assert_eq!(value(&mut client, support_can_suspend), "0");
    assert_eq!(
        value(
            &mut client,
            "SELECT count(*) FROM permissions WHERE name = 'roles:manage'"
        ),
        "0"
    );
    for (role, table, privilege) in [
        ("user_mgmt_app", "user_sessions", "UPDATE"),
        ("user_mgmt_readonly", "user_profiles", "SELECT"),
        ("user_mgmt_readonly", "api_keys", "SELECT"),
    ] {
        assert_eq!(
            value(
                &mut client,
                &format!("SELECT has_table_privilege('{role}', '{table}', '{privilege}')")
            ),
            "f",
            "{role} got {privilege} on {table} back"
        );
    }
    assert_same("data after the re-run", &data, &data_dump(db.url()));
    assert_same("schema after the re-run", &schema, &schema_dump(db.url()));
}

/// Item 3: the application role does what the API needs and cannot alter,
/// delete, truncate or switch off the audit trail; the read-only role
/// reads everything but password hashes; the health check catches a
/// role that got too much.
#[test]
fn the_application_role_cannot_alter_the_audit_log() {
    let Some(db) = test_db_or_skip!() else { return };
    apply_all(&db);
    let mut owner = db.client();
    let victim = insert_user(&mut owner, 1);
    let partition = value(
        &mut owner,
        "SELECT 'audit_log_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMM')",
    );

    // What the API does, as the application role.
    let mut app = client_as(&db, "user_mgmt_app");
    let user = insert_user(&mut app, 2);
    run(
        &mut app,
        &format!(
            "UPDATE users SET last_login_at = now(), status = 'active' WHERE id = '{user}';
             INSERT INTO user_profiles (user_id, time_zone) VALUES ('{user}', 'Europe/Paris');
             INSERT INTO user_roles (user_id, role_id) SELECT '{user}', id FROM roles WHERE name = 'user';
             INSERT INTO user_sessions (user_id, refresh_token_hash, expires_at)
                 VALUES ('{user}', repeat('a', 64), now() + interval '1 hour');
             UPDATE user_sessions SET previous_refresh_token_hash = refresh_token_hash,
                                      refresh_token_hash = repeat('d', 64)
              WHERE user_id = '{user}';
             INSERT INTO password_reset_tokens (user_id, token_hash, expires_at)
                 VALUES ('{user}', repeat('b', 64), now() + interval '1 hour');
             INSERT INTO email_verification_tokens (user_id, email, token_hash, expires_at)
                 VALUES ('{user}', 'u2@example.com', repeat('e', 64), now() + interval '1 day');
             INSERT INTO api_keys (user_id, name, key_prefix, key_hash, scopes)
                 VALUES ('{user}', 'ci', 'abcdefgh', repeat('c', 64), '{{account:read}}');
             INSERT INTO audit_log (actor_user_id, action, target_user_id, ip_address)
                 VALUES ('{user}', 'user.login_succeeded', '{victim}', '192.0.2.1');
             SELECT count(*) FROM audit_log;
             SELECT audit_log_create_partitions();
             SELECT audit_log_redact_user('{victim}');"
        ),
    );

    // What it must not do to the audit trail.
    for sql in [
        "UPDATE audit_log SET action = 'user.forged'".to_string(),
        "DELETE FROM audit_log".to_string(),
        "TRUNCATE audit_log".to_string(),
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_reject_update".to_string(),
        "ALTER TABLE audit_log DISABLE TRIGGER ALL".to_string(),
        "ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_format_chk".to_string(),
        format!("DELETE FROM {partition}"),
        format!("TRUNCATE {partition}"),
        format!("ALTER TABLE audit_log DETACH PARTITION {partition}"),
        "DROP TABLE audit_log_default".to_string(),
        "ALTER TABLE users DISABLE TRIGGER users_set_updated_at".to_string(),
        "DELETE FROM users".to_string(),
        "TRUNCATE users CASCADE".to_string(),
        "CREATE TABLE app_scratch (id int)".to_string(),
    ] {
        assert_eq!(refused(&mut app, &sql).0, "42501", "{sql}");
    }
    // Retention cannot be used to wipe recent events.
    assert_eq!(
        refused(&mut app, "SELECT audit_log_drop_partitions('1 day')").0,
        "22023"
    );

    let mut readonly = client_as(&db, "user_mgmt_readonly");
    run(
        &mut readonly,
        "SELECT id, email, last_login_at FROM users; SELECT count(*) FROM audit_log;
         SELECT name, expires_at FROM api_keys; SELECT count(*) FROM user_profiles",
    );
    for sql in [
        "SELECT password_hash FROM users",
        "SELECT key_hash FROM api_keys",
        "INSERT INTO audit_log (action) VALUES ('user.login_failed')",
        "UPDATE users SET status = 'active'",
        "SELECT audit_log_redact_user(gen_random_uuid())",
    ] {
        assert_eq!(refused(&mut readonly, sql).0, "42501", "{sql}");
    }

    // Every object is owned by user_mgmt_owner.
    assert_eq!(
        column(
            &db,
            "SELECT DISTINCT relowner::regrole::text FROM pg_class \
             WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') \
               AND relname <> 'schema_migrations'"
        ),
        ["user_mgmt_owner"]
    );

    // The health check holds, and fails when the application role may
    // delete audit rows or owns a table.
    check_run(&db).assert_code(0);
    run(&mut owner, "GRANT DELETE ON audit_log TO user_mgmt_app");
    let failed = check_run(&db);
    failed.assert_code(8);
    assert!(
        failed
            .stderr
            .contains("user_mgmt_app can UPDATE, DELETE or TRUNCATE audit_log"),
        "{}",
        failed.all()
    );
    run(
        &mut owner,
        "REVOKE DELETE ON audit_log FROM user_mgmt_app;
         CREATE TABLE stray (id int); ALTER TABLE stray OWNER TO user_mgmt_app;",
    );
    let failed = check_run(&db);
    failed.assert_code(8);
    assert!(
        failed.stderr.contains("user_mgmt_app owns stray"),
        "{}",
        failed.all()
    );
    // ... or when anyone may call a SECURITY DEFINER function, or one of
    // them can be steered through search_path.
    run(
        &mut owner,
        "DROP TABLE stray;
         GRANT EXECUTE ON FUNCTION audit_log_drop_partitions(interval) TO PUBLIC;
         ALTER FUNCTION audit_log_redact_user(uuid) RESET search_path;",
    );
    let failed = check_run(&db);
    failed.assert_code(8);
    for problem in [
        "PUBLIC may call SECURITY DEFINER function audit_log_drop_partitions(interval)",
        "SECURITY DEFINER function audit_log_redact_user(uuid) does not SET search_path",
    ] {
        assert!(failed.stderr.contains(problem), "{}", failed.all());
    }
}

/// `n_tup_upd` and `n_tup_hot_upd` of users after one login (an UPDATE of
/// last_login_at and failed_login_count, in its own transaction as the API
/// does it) of every `step`-th user in physical order.
///
/// Spread out, so that each page gets two logins: an update is HOT when
/// the page has room for the new row version, and fillfactor 90 leaves
/// room for a few. Page pruning would make room for more, but only once no
/// snapshot anywhere on the cluster (other tests included) predates the
/// earlier updates, which a test cannot promise.
fn login_updates(db: &TestDb, step: usize) -> (i64, i64) {
    let stats = |db: &TestDb| -> (i64, i64) {
        let row = db
            .client()
            .query_one(
                "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables \
                 WHERE relid = 'users'::regclass",
                &[],
            )
            .expect("read pg_stat_user_tables");
        (row.get(0), row.get(1))
    };
    let before = stats(db);
    let mut client = db.client();
    let ids = column(db, "SELECT id FROM users ORDER BY ctid");
    for id in ids.iter().step_by(step) {
        run(
            &mut client,
            &format!(
                "UPDATE users SET last_login_at = clock_timestamp(), failed_login_count = 0 \
                 WHERE id = '{id}'"
            ),
        );
    }
    // Statistics reach the shared counters when the session goes idle;
    // this makes the next report unconditional (PostgreSQL 15).
    run(&mut client, "SELECT pg_stat_force_next_flush()");
    let after = stats(db);
    (after.0 - before.0, after.1 - before.1)
}

/// Item 4: login updates are HOT (no index entries written); an index on
/// last_login_at, as the first 003 built, makes none of them HOT, the
/// health check names it, and re-running 003 drops it.
#[test]
fn login_updates_are_hot_updates() {
    let Some(db) = test_db_or_skip!() else { return };
    apply_all(&db);
    let mut client = db.client();
    run(
        &mut client,
        &format!(
            "INSERT INTO users (email, username, password_hash, status) \
             SELECT 'u' || g || '@example.com', 'user' || g, '{BCRYPT}', 'active' \
             FROM generate_series(1, 800) AS g"
        ),
    );

    let (updates, hot) = login_updates(&db, 20);
    assert_eq!(updates, 40, "login updates counted");
    assert_eq!(
        hot, updates,
        "only {hot} of {updates} login updates were HOT"
    );

    // The index the first 003 built.
    run(
        &mut client,
        "CREATE INDEX users_last_login_at_idx ON users (last_login_at) WHERE deleted_at IS NULL",
    );
    let (updates, hot) = login_updates(&db, 20);
    assert_eq!((updates, hot), (40, 0), "with users_last_login_at_idx");
    let failed = check_run(&db);
    failed.assert_code(8);
    assert!(
        failed.all().contains("users_last_login_at_idx"),
        "{}",
        failed.all()
    );

    psql_file(
        db.url(),
        &scripts_dir().join("003_add_activity_indexes.sql"),
    );
    assert!(!exists(&db, "users_last_login_at_idx"));
    check_run(&db).assert_code(0);
}

/// Item 5: the seed runs only where the database says development or
/// test; an unmarked database, or one marked anything else, is refused
/// and left as it was.
#[test]
fn seed_data_refuses_an_unmarked_database_and_changes_nothing() {
    let Some(db) = test_db_or_skip!() else { return };
    apply_all(&db);
    let data_before = data_dump(db.url());
    let seed_file = scripts_dir().join("seed_data.sql");

    for (pgoptions, message) in [
        (
            None,
            "seed_data.sql refused: this database is not marked as a development or test database (app.environment is not set)",
        ),
        (
            Some("-c app.environment=staging"),
            "seed_data.sql refused: app.environment is staging, not development or test",
        ),
    ] {
        let mut cmd = psql(db.url());
        cmd.arg("-f").arg(&seed_file);
        if let Some(options) = pgoptions {
            cmd.env("PGOPTIONS", options);
        }
        let output = cmd.output().expect("run psql");
        let text = output_text(&output);
        assert_eq!(output.status.code(), Some(3), "not refused\n{text}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{text}");
        assert!(stderr.contains("Nothing was changed."), "{text}");
        assert_same(
            &format!("data after the refused seed ({pgoptions:?})"),
            &data_before,
            &data_dump(db.url()),
        );
    }
    assert_eq!(column(&db, "SELECT count(*) FROM users"), ["0"]);

    // Marked once, as the README says: every new session may seed.
    db.client()
        .batch_execute(&format!(
            "ALTER DATABASE \"{}\" SET app.environment = 'development'",
            db.name()
        ))
        .expect("mark the database");
    psql_file(db.url(), &seed_file);
    assert_eq!(column(&db, "SELECT count(*) FROM users"), ["6"]);
}

/// Item 6: audit_log is partitioned by month; retention drops whole
/// months (never recent ones, never the default partition); redaction
/// clears the personal data of a user's events and nothing else.
#[test]
fn audit_log_is_partitioned_and_redacts_on_erasure() {
    let Some(db) = test_db_or_skip!() else { return };
    apply_all(&db);
    seed(db.url());
    let mut owner = db.client();
    assert_eq!(
        value(
            &mut owner,
            "SELECT relkind FROM pg_class WHERE oid = 'audit_log'::regclass"
        ),
        "p"
    );
    assert_eq!(
        column(
            &db,
            "SELECT i.indisunique || ':' || string_agg(a.attname, ',' ORDER BY a.attnum) \
             FROM pg_index i \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) \
             WHERE i.indexrelid = 'audit_log_id_occurred_at_key'::regclass \
             GROUP BY i.indisunique"
        ),
        ["true:id,occurred_at"]
    );
    let months = column(
        &db,
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'audit_log'::regclass ORDER BY 1",
    );
    assert_eq!(months.len(), 5, "default + this month + 3: {months:?}");
    assert_eq!(months[0], "audit_log_default");

    // Without next month's partition the health check fails; the monthly
    // job puts it back.
    run(&mut owner, &format!("DROP TABLE {}", months[2]));
    let failed = check_run(&db);
    failed.assert_code(8);
    assert!(
        failed
            .stderr
            .contains(&format!("audit_log has no partition for: {}", months[2])),
        "{}",
        failed.all()
    );
    assert_eq!(
        value(&mut owner, "SELECT audit_log_create_partitions()"),
        "1"
    );
    check_run(&db).assert_code(0);

    // An old month, as the monthly job would have made it, with one event.
    run(
        &mut owner,
        "SET ROLE user_mgmt_owner;
         CREATE TABLE audit_log_p202401 PARTITION OF audit_log
             FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2024-02-01 00:00:00+00');
         RESET ROLE;
         INSERT INTO audit_log (occurred_at, action) VALUES ('2024-01-15 12:00:00+00', 'user.login_failed');",
    );
    let mut app = client_as(&db, "user_mgmt_app");
    assert_eq!(column(&db, "SELECT count(*) FROM audit_log"), ["14"]);
    assert_eq!(
        value(
            &mut app,
            "SELECT string_agg(p, ',') FROM audit_log_drop_partitions('13 months') AS p"
        ),
        "audit_log_p202401"
    );
    assert!(!exists(&db, "audit_log_p202401"));
    assert_eq!(column(&db, "SELECT count(*) FROM audit_log"), ["13"]);
    // Nothing recent goes; the default partition never does.
    assert_eq!(
        value(
            &mut app,
            "SELECT count(*) FROM audit_log_drop_partitions('90 days')"
        ),
        "0"
    );
    assert!(exists(&db, "audit_log_default"));

    // Erasure of alice (seed user 3): her events keep who, what and when.
    let alice = "5eed0000-0000-4000-8000-000000000003";
    let events = |db: &TestDb| {
        column(
            db,
            &format!(
                "SELECT concat_ws('|', id, occurred_at, actor_user_id, action, target_user_id, \
                 target_type, target_id) FROM audit_log \
                 WHERE '{alice}' IN (actor_user_id, target_user_id) AND action <> 'audit.redacted' \
                 ORDER BY id"
            ),
        )
    };
    let others = |db: &TestDb| {
        column(
            db,
            &format!(
                "SELECT concat_ws('|', id, ip_address, user_agent, details) FROM audit_log \
                 WHERE '{alice}' NOT IN (coalesce(actor_user_id, gen_random_uuid()), \
                                         coalesce(target_user_id, gen_random_uuid())) \
                 ORDER BY id"
            ),
        )
    };
    let (facts, untouched) = (events(&db), others(&db));
    assert!(
        column(
            &db,
            "SELECT count(*) FROM audit_log WHERE details::text LIKE '%alice@example.com%'"
        ) == ["1"]
    );
    assert_eq!(
        value(
            &mut app,
            &format!("SELECT audit_log_redact_user('{alice}')")
        ),
        facts.len().to_string()
    );
    assert_eq!(events(&db), facts, "redaction changed who, what or when");
    assert_eq!(
        others(&db),
        untouched,
        "redaction touched other users' events"
    );
    assert_eq!(
        column(
            &db,
            &format!(
                "SELECT count(*) FROM audit_log WHERE '{alice}' IN (actor_user_id, target_user_id) \
                 AND action <> 'audit.redacted' \
                 AND (ip_address IS NOT NULL OR user_agent IS NOT NULL OR details <> '{{\"redacted\": true}}')"
            )
        ),
        ["0"]
    );
    assert_eq!(
        column(
            &db,
            "SELECT count(*) FROM audit_log WHERE details::text LIKE '%alice@example.com%'"
        ),
        ["0"]
    );
    assert_eq!(
        column(
            &db,
            &format!("SELECT details FROM audit_log WHERE action = 'audit.redacted' AND target_user_id = '{alice}'")
        ),
        [format!("{{\"events\": {}}}", facts.len())]
    );
    // Even the owner cannot rewrite an event, only redact it.
    assert_eq!(
        refused(
            &mut owner,
            &format!(
                "UPDATE audit_log SET action = 'user.forged' WHERE target_user_id = '{alice}'"
            )
        )
        .0,
        "23001"
    );
}

/// Item 7: token lifetimes are capped, one unused reset token per user,
/// API keys expire by default, refresh rotation keeps the previous hash.
#[test]
fn token_lifetimes_are_capped() {
    let Some(db) = test_db_or_skip!() else { return };
    apply_all(&db);
    let mut client = db.client();
    let user = insert_user(&mut client, 1);
    let token = |c: char| c.to_string().repeat(64);

    for (sql, constraint) in [
        (
            format!("INSERT INTO password_reset_tokens (user_id, token_hash, created_at, expires_at) \
                     VALUES ('{user}', '{}', now(), now() + interval '2 hours 1 second')", token('a')),
            "password_reset_tokens_expiry_chk",
        ),
        (
            format!("INSERT INTO email_verification_tokens (user_id, email, token_hash, expires_at) \
                     VALUES ('{user}', 'u1@example.com', '{}', now() + interval '8 days')", token('b')),
            "email_verification_tokens_expiry_chk",
        ),
        (
            format!("INSERT INTO user_sessions (user_id, refresh_token_hash, expires_at) \
                     VALUES ('{user}', '{}', now() + interval '91 days')", token('c')),
            "user_sessions_expiry_chk",
        ),
        (
            format!("INSERT INTO user_sessions (user_id, refresh_token_hash, previous_refresh_token_hash, expires_at) \
                     VALUES ('{user}', '{0}', '{0}', now() + interval '1 day')", token('c')),
            "user_sessions_previous_refresh_token_hash_chk",
        ),
        (
            format!("INSERT INTO api_keys (user_id, name, key_prefix, key_hash, expires_at) \
                     VALUES ('{user}', 'ci', 'abcdefgh', '{}', now() + interval '367 days')", token('d')),
            "api_keys_expiry_chk",
        ),
    ] {
        assert_eq!(
            refused(&mut client, &sql),
            ("23514".to_string(), constraint.to_string()),
            "{sql}"
        );
    }
    assert_eq!(
        refused(
            &mut client,
            &format!(
                "INSERT INTO api_keys (user_id, name, key_prefix, key_hash, expires_at) \
                      VALUES ('{user}', 'ci', 'abcdefgh', '{}', NULL)",
                token('d')
            )
        )
        .0,
        "23502"
    );

    // At the caps, fine. One unused reset token per user.
    run(
        &mut client,
        &format!(
            "INSERT INTO password_reset_tokens (user_id, token_hash, expires_at) \
                 VALUES ('{user}', '{}', now() + interval '2 hours');
             INSERT INTO api_keys (user_id, name, key_prefix, key_hash) \
                 VALUES ('{user}', 'ci', 'abcdefgh', '{}');
             INSERT INTO user_sessions (user_id, refresh_token_hash, expires_at) \
                 VALUES ('{user}', '{}', now() + interval '90 days');",
            token('e'),
            token('d'),
            token('f')
        ),
    );
    assert_eq!(
        refused(
            &mut client,
            &format!(
                "INSERT INTO password_reset_tokens (user_id, token_hash, expires_at) \
                      VALUES ('{user}', '{}', now() + interval '1 hour')",
                token('9')
            )
        ),
        (
            "23505".to_string(),
            "password_reset_tokens_one_unused_per_user_key".to_string()
        )
    );
    assert_eq!(
        value(&mut client, "SELECT expires_at - created_at FROM api_keys"),
        "90 days"
    );

    // Rotation: the replaced token is found by its hash (replay detection).
    run(
        &mut client,
        &format!(
            "UPDATE user_sessions SET previous_refresh_token_hash = refresh_token_hash, \
                                      refresh_token_hash = '{}'",
            token('7')
        ),
    );
    assert_eq!(
        value(
            &mut client,
            &format!(
                "SELECT count(*) FROM user_sessions WHERE previous_refresh_token_hash = '{}'",
                token('f')
            )
        ),
        "1"
    );

    // Cleanup jobs find expired rows by index.
    for index in [
        "user_sessions_expires_at_idx",
        "password_reset_tokens_expires_at_idx",
        "email_verification_tokens_expires_at_idx",
        "api_keys_expires_at_idx",
    ] {
        assert!(exists(&db, index), "{index} missing");
    }
}

/// Item 8: only strong password hashes are stored.
#[test]
fn weak_password_hashes_are_refused() {
    let Some(db) = test_db_or_skip!() else { return };
    apply_all(&db);
    let mut client = db.client();
    let salt_and_hash = &BCRYPT[7..];
    let argon = |params: &str, variant: &str| {
        format!("$argon2{variant}$v=19${params}$c29tZXNhbHRzb21lc2FsdA$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A")
    };
    let insert = |hash: &str| {
        format!(
            "INSERT INTO users (email, username, password_hash) \
             VALUES ('probe@example.com', 'probe', '{hash}')"
        )
    };
    for weak in [
        format!("$2x$12${salt_and_hash}"),
        format!("$2b$09${salt_and_hash}"),
        format!("$2b$04${salt_and_hash}"),
        argon("m=1,t=1,p=1", "id"),
        argon("m=19456,t=1,p=1", "id"),
        argon("m=47103,t=1,p=1", "id"),
        argon("m=65536,t=0,p=1", "id"),
        argon("m=65536,t=3,p=1", "i"),
        argon("m=65536,t=3,p=1", "d"),
        "hunter2".to_string(),
    ] {
        assert_eq!(
            refused(&mut client, &insert(&weak)),
            (
                "23514".to_string(),
                "users_password_hash_format_chk".to_string()
            ),
            "{weak} was accepted"
        );
    }
    for strong in [
        format!("$2b$10${salt_and_hash}"),
        format!("$2y$31${salt_and_hash}"),
        argon("m=19456,t=2,p=1", "id"),
        argon("m=47104,t=1,p=1", "id"),
    ] {
        run(
            &mut client,
            &format!("BEGIN; {}; ROLLBACK", insert(&strong)),
        );
    }
}

/// Item 9: time zones are checked by a foreign key to a reference table
/// loaded from pg_timezone_names, not by a trigger reading the tz database.
#[test]
fn time_zones_are_checked_by_a_foreign_key() {
    let Some(db) = test_db_or_skip!() else { return };
    apply_all(&db);
    let mut client = db.client();
    assert_eq!(
        value(
            &mut client,
            "SELECT (SELECT count(*) FROM time_zones) = (SELECT count(*) FROM pg_timezone_names)"
        ),
        "t"
    );
    assert_eq!(
        column(
            &db,
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'user_profiles'::regclass \
             AND NOT tgisinternal ORDER BY 1"
        ),
        ["user_profiles_set_updated_at"]
    );
    let user = insert_user(&mut client, 1);
    for zone in ["utc", "CEST", "UTC+3", "Mars/Olympus_Mons"] {
        assert_eq!(
            refused(
                &mut client,
                &format!(
                    "INSERT INTO user_profiles (user_id, time_zone) VALUES ('{user}', '{zone}')"
                )
            ),
            (
                "23503".to_string(),
                "user_profiles_time_zone_fkey".to_string()
            ),
            "{zone}"
        );
    }
    run(
        &mut client,
        &format!(
            "INSERT INTO user_profiles (user_id) VALUES ('{user}');
             UPDATE user_profiles SET time_zone = 'Europe/Paris' WHERE user_id = '{user}';"
        ),
    );
    // A zone in use cannot be deleted.
    assert_eq!(
        refused(
            &mut client,
            "DELETE FROM time_zones WHERE name = 'Europe/Paris'"
        )
        .0,
        "23503"
    );
}

/// Item 10: every file of the set opens with the seed README's four
/// header keys, in order; the README says what rollback_001 leaves.
#[test]
fn every_file_has_the_four_header_keys_and_the_readme_says_what_rollback_001_keeps() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scripts_dir())
        .expect("read migration_scripts")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    assert!(files.iter().any(|f| f.ends_with("seed_data.sql")));
    for file in &files {
        let keys: Vec<String> = read(file)
            .lines()
            .take(4)
            .map(|line| {
                line.strip_prefix("-- ")
                    .and_then(|rest| rest.split_once(':'))
                    .map(|(key, value)| {
                        assert!(!value.trim().is_empty(), "{}: empty {key}", file.display());
                        key.to_string()
                    })
                    .unwrap_or_else(|| panic!("{}: not a header line: {line}", file.display()))
            })
            .collect();
        assert_eq!(
            keys,
            ["Migration", "Description", "Author", "Date"],
            "{}",
            file.display()
        );
    }

    let readme = read(&scripts_dir().join("README.md"));
    let row = readme
        .lines()
        .find(|line| line.starts_with("| `rollback_001.sql` |"))
        .expect("the rollback table lists rollback_001.sql");
    assert!(
        row.contains("schema_migrations") && row.contains("roles"),
        "{row}"
    );
}

/// rollback_001 keeps what it says it keeps: the tracking table and the
/// cluster-wide roles; it gives back the schema privilege it took.
#[test]
fn rollback_001_keeps_schema_migrations_and_the_cluster_roles() {
    let Some(db) = test_db_or_skip!() else { return };
    let scripts = scripts();
    apply_all(&db);
    for script in scripts.iter().rev() {
        psql_file(db.url(), &script.rollback);
    }
    assert!(exists(&db, "schema_migrations"));
    assert_eq!(
        column(
            &db,
            "SELECT count(*) FROM pg_roles \
             WHERE rolname IN ('user_mgmt_owner', 'user_mgmt_app', 'user_mgmt_readonly')"
        ),
        ["3"]
    );
    assert_eq!(
        column(
            &db,
            "SELECT has_schema_privilege('user_mgmt_owner', 'public', 'CREATE')"
        ),
        ["f"]
    );
    assert_eq!(
        column(
            &db,
            "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace \
             AND relname <> 'schema_migrations' AND relname NOT LIKE 'schema_migrations%'"
        ),
        ["0"]
    );
}

/// Roles are cluster-wide: 001 running in two databases at once must not
/// fail in the one that loses the race to create a role. The second
/// CREATE ROLE waits for the first transaction and then hits the unique
/// index on role names; 001 catches that. Run with role names of this
/// test's own, so other tests on the cluster are not touched.
#[test]
fn role_creation_survives_two_databases_running_001_at_once() {
    let Some(db) = test_db_or_skip!() else { return };
    let text = read(&scripts()[0].forward);
    let start = text
        .find("DO $$\nDECLARE\n    role_name text;")
        .expect("001 creates its roles in a DO block");
    let end = start + text[start..].find("\n$$;").expect("end of the DO block") + 4;
    let prefix = format!("t15_{}_", std::process::id());
    let block = text[start..end].replace("user_mgmt_", &prefix);
    let other = TestDb::new();

    let mut first = db.client();
    run(&mut first, &format!("BEGIN; {block}"));
    let application = format!("{prefix}second");
    let mut second = other.client();
    let second_sql = format!("SET application_name = '{application}'; {block}");
    let racing = std::thread::spawn(move || second.batch_execute(&second_sql));

    // Wait (bounded) until the second one is blocked on the first.
    let mut watcher = db.client();
    let waiting = (0..400).any(|_| {
        let blocked = value(
            &mut watcher,
            &format!(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE application_name = '{application}' AND wait_event_type = 'Lock'"
            ),
        ) == "1";
        if !blocked {
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        blocked
    });
    run(&mut first, "COMMIT");
    let raced = racing.join().expect("the second session");
    let cleanup = format!("DROP ROLE IF EXISTS {prefix}owner, {prefix}app, {prefix}readonly");
    run(&mut watcher, &cleanup);
    assert!(waiting, "the second CREATE ROLE never waited for the first");
    if let Err(e) = raced {
        panic!("001's role creation failed when it lost the race: {e}");
    }
}
