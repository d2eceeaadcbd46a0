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
    let seed = scripts_dir().join("seed_data.sql");

    psql_file(db.url(), &seed);
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

    psql_file(db.url(), &seed);
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
