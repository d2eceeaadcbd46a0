//! Command-line definitions (clap only; no behaviour here).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// PostgreSQL schema migrations: numbered SQL files, applied in order,
/// each in a transaction with its tracking row, one runner at a time.
#[derive(Debug, Parser)]
#[command(name = "pgshift", version, about, max_term_width = 100)]
#[command(after_help = "Examples:
  pgshift up                       apply pending migrations (local dev database if none is configured)
  pgshift status                   show every version and its state
  pgshift --database-url postgresql://app@db.internal/users verify
  pgshift new \"add user avatars\"   write the next migration and its rollback

Connection precedence: --database-url, DATABASE_URL, pgshift.toml database_url, PG* variables,
then the local development database. A .env file in the working folder is read but never
overrides the real environment.")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command understands.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Migration folder [env: PGSHIFT_DIR] [default: migration_scripts]
    #[arg(long, global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Database URL, e.g. postgresql://user@host:5432/db [env: DATABASE_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,

    /// Config file [env: PGSHIFT_CONFIG] [default: ./pgshift.toml if present]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Schema of the tracking table [env: PGSHIFT_SCHEMA] [default: public]
    #[arg(long, global = true)]
    pub schema: Option<String>,

    /// Name of the tracking table [env: PGSHIFT_TABLE] [default: schema_migrations]
    #[arg(long, global = true)]
    pub table: Option<String>,

    /// How long to wait for another run's lock, e.g. 60s, 2m [default: 60s]
    #[arg(long, global = true, value_name = "DURATION")]
    pub lock_wait: Option<String>,

    /// lock_timeout for migration statements; 0 disables [default: 200ms]
    #[arg(long, global = true, value_name = "DURATION")]
    pub lock_timeout: Option<String>,

    /// statement_timeout for migration statements; 0 disables [default: server's]
    #[arg(long, global = true, value_name = "DURATION")]
    pub statement_timeout: Option<String>,

    /// How long to keep retrying a migration that hits a lock timeout or
    /// deadlock, from its first attempt, e.g. 30s, 2m, 0 [default: 2m]
    #[arg(long, global = true, value_name = "DURATION")]
    pub lock_retry_for: Option<String>,

    /// Also stop after N retries, even with --lock-retry-for left [default: no cap]
    #[arg(long, global = true, value_name = "N")]
    pub max_retries: Option<u32>,

    /// Run migrations after SET ROLE NAME, with that role's rights [env: PGSHIFT_ROLE]
    #[arg(long, global = true, value_name = "NAME")]
    pub role: Option<String>,

    /// Print machine-readable JSON on stdout
    #[arg(long, global = true)]
    pub json: bool,

    /// When to use colour (NO_COLOR is respected)
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Print only results and errors
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

/// Colour choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and NO_COLOR is unset.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations in order
    #[command(after_help = "Examples:
  pgshift up                     apply everything pending
  pgshift up --to 003            apply up to and including 003
  pgshift up --dry-run > plan.sql   print the SQL (psql-runnable), change nothing
  pgshift up --resume            continue a failed no-transaction migration
  pgshift up --backup            pg_dump into backups/ first; nothing runs if that fails
  pgshift up --rehearse          apply on a copy of the database first, with health checks")]
    Up(UpArgs),

    /// Show every migration: applied, pending, modified, unverified, missing, failed
    #[command(after_help = "Examples:
  pgshift status
  pgshift status --json | jq '.migrations[] | select(.state == \"pending\")'")]
    Status,

    /// Check applied migrations against the files; non-zero exit on any difference
    #[command(after_help = "Examples:
  pgshift verify                 exit 3 if an applied migration was edited, is unverified or missing
  pgshift verify --json")]
    Verify,

    /// Roll back the newest applied migrations with their rollback_NNN.sql files
    #[command(after_help = "Examples:
  pgshift rollback               roll back the newest migration (asks to confirm)
  pgshift rollback --steps 2 --yes
  pgshift rollback --to 001      roll back everything after 001
  pgshift rollback --dry-run
  pgshift rollback --backup=/var/backups/users --yes

A migration whose header says `-- pgshift:irreversible` cannot be rolled back: a range that
contains it is refused before anything runs (exit 3).")]
    Rollback(RollbackArgs),

    /// Roll back the newest migration and apply it again (test its rollback)
    #[command(after_help = "Examples:
  pgshift redo                   asks before running the rollback
  pgshift redo --yes
  pgshift redo --backup --yes")]
    Redo(RedoArgs),

    /// Mark migrations up to VERSION as applied without running them (adopt an existing database)
    #[command(after_help = "Examples:
  pgshift baseline 003           the database already has 001..003 (built by hand or by psql)")]
    Baseline(BaselineArgs),

    /// Show the audit trail: every apply, rollback and failed attempt
    #[command(after_help = "Examples:
  pgshift log
  pgshift log --limit 5 --json")]
    Log(LogArgs),

    /// Print the seed's Version History table from the database
    #[command(after_help = "Examples:
  pgshift history
  pgshift history --format markdown >> migration_scripts/README.md")]
    History(HistoryArgs),

    /// Write the next-numbered migration and its rollback
    #[command(after_help = "Examples:
  pgshift new \"add user avatars\"
  pgshift new \"index users by last login\" --no-transaction")]
    New(NewArgs),

    /// Check migration files for risky or non-idempotent SQL (no database needed)
    #[command(after_help = "Examples:
  pgshift lint                         check every migration and rollback in the folder
  pgshift lint migration_scripts/004_api_keys.sql
  pgshift lint --exclude squawk        only pgshift's own rules
  pgshift lint --rule non-idempotent --rule transaction-misuse
  pgshift lint --format github         annotations for GitHub Actions
  pgshift lint --pending               only what `up` would apply (connects)

Rules: missing-rollback, non-idempotent, transaction-misuse, rollback-incomplete,
unacknowledged-destructive, missing-description, version-gap, unknown-directive,
deep-nesting, and squawk/<rule> (https://squawkhq.com/docs/rules). `squawk` and `all` name groups.
Silence one statement with `-- pgshift:ignore rule-name` on the line above it (in the
header comment block: the whole file). Configure in pgshift.toml:
  [lint]
  disable = [\"squawk/prefer-bigint-over-int\"]
  enable = [\"squawk/require-timeout-settings\"]
  postgres_version = 13   # squawk's version-dependent rules [default: the server's, else 15]
Exit 7 when an error-level finding remains.")]
    Lint(LintArgs),

    /// Print the database's schema (no data) as SQL or JSON, read from the catalogs
    #[command(after_help = "Examples:
  pgshift dump > schema.sql        schema-only SQL that recreates the database's objects
  pgshift dump --format json       the schema model as JSON
  pgshift dump --include-tracking  keep schema_migrations in the output")]
    Dump(DumpArgs),

    /// Compare two databases' schemas; exit 7 when they differ
    #[command(after_help = "Examples:
  pgshift diff postgresql://localhost/app_dev postgresql://db.internal/app
  pgshift diff \"$(pgshift dev url)\" \"$DATABASE_URL\" --json")]
    Diff(DiffArgs),

    /// Prove every migration on a scratch database: apply, idempotent re-run, exact
    /// rollback, re-apply; then seed_data.sql twice
    #[command(after_help = "Examples:
  pgshift test                          on a scratch database of the local development cluster
  pgshift test --dev-url postgresql://ci@localhost/postgres
  pgshift test --json
  pgshift test --no-idempotency         skip the second run of each file
  pgshift test --only 042               prove 042 alone, on top of 001..041 applied plainly
  pgshift test --from 040               prove 040 and everything after it

For each migration, in order, on one scratch database: snapshot S0; apply (tracking row
included) -> S1; run the same file again outside tracking (must succeed and leave S1);
run rollback_NNN.sql (must give S0 exactly); apply again (must give S1). Then seed_data.sql
twice (same row counts). The re-run is skipped with --no-idempotency or `[test]
idempotent = false` in pgshift.toml; the rollback and re-apply of a migration marked
`-- pgshift:irreversible` (or without a rollback file) are skipped with a warning. The
scratch database is dropped at the end, on failure and on Ctrl-C. Exit 7 when a check fails, 1 when a migration or rollback itself fails.")]
    Test(TestArgs),

    /// Compare the database with the schema its applied migrations build; exit 7 on drift
    #[command(after_help = "Examples:
  pgshift drift                         replay applied migrations on a scratch database, compare
  pgshift drift --json
  pgshift drift --write-correction      also write NNN_drift_correction.sql and its rollback

The expected schema is built by replaying the migrations recorded in the tracking table,
from their files, on a scratch database (local development cluster, or --dev-url). The
correction migration makes the database match its migrations again; it is marked
`-- REVIEW:` and must be read before it is applied.")]
    Drift(DriftArgs),

    /// Manage the local development database under .pgshift/
    #[command(
        subcommand,
        after_help = "Examples:
  pgshift dev start
  psql \"$(pgshift dev url)\"
  pgshift dev stop"
    )]
    Dev(DevCommand),

    /// Back up the database with pg_dump (custom format)
    #[command(after_help = "Examples:
  pgshift backup                       backups/<db>-<UTC time>-v<version>.dump
  pgshift backup --backup-dir /var/backups/users --json

pg_dump is found via PGSHIFT_PG_DUMP, then PATH, then the PostgreSQL installation; it must be
at least the server's major version. The password is passed in the environment, never on the
command line. Exit 9 when the backup fails.")]
    Backup(BackupArgs),

    /// Restore a backup into the configured database (after confirmation) or into a new one
    #[command(after_help = "Examples:
  pgshift restore backups/users_api-20261127T190102Z-v003.dump --into users_api_copy
  pgshift restore backups/users_api-20261127T190102Z-v003.dump          asks, then replaces
  pgshift restore backups/users_api-20261127T190102Z-v003.dump --yes

Into the configured database: every object in the backup is dropped and recreated with the
backup's data, in one transaction (all or nothing); tables created after the backup stay.
--into creates the database and drops it again if the restore fails. Exit 6 when not
confirmed, 9 when pg_restore fails.")]
    Restore(RestoreArgs),

    /// Run the health checks (migration_scripts/checks/*.sql) now
    #[command(after_help = "Examples:
  pgshift check
  pgshift check --json

A check is a .sql file: it fails when a statement returns rows or raises an error (a DO
block that RAISEs). Checks run read-only and are rolled back. Exit 8 when one fails.")]
    Check,

    /// Resolve a failed no-transaction migration after cleaning up by hand
    #[command(after_help = "Examples:
  pgshift repair 003 --mark rolled-back --reason \"dropped the invalid index\"
  pgshift repair 003 --mark applied --reason \"created the last index by hand\"

rolled-back: the statements that ran were undone; the next `up` runs the migration again.
applied: the rest was done by hand; the migration is recorded as applied. Either way the
audit trail records it.")]
    Repair(RepairArgs),

    /// Accept the edited or unverified file of an applied migration (records its checksum)
    #[command(after_help = "Examples:
  pgshift accept 002 --reason \"fixed a typo in a comment\"
  pgshift accept 002 --reason \"reformatted after review\" --json
  pgshift accept 002 --reason \"hotfix already applied by hand\" --force
  pgshift accept --all-unverified --reason \"compared with production\"

Unverified: applied without a recorded checksum (by plain psql); accept records the file's
checksum as it is now, on your word. Several versions are accepted all or none.

Without --force only a change of comments and whitespace is accepted: pgshift compares the
file's statements with those recorded when it was applied. The old and new checksums, the
reason and who ran it go to the audit trail.")]
    Accept(AcceptArgs),

    /// Print a shell completion script
    #[command(after_help = "Examples:
  pgshift completions bash > /etc/bash_completion.d/pgshift
  pgshift completions zsh > \"${fpath[1]}/_pgshift\"
  pgshift completions fish > ~/.config/fish/completions/pgshift.fish
  pgshift completions powershell >> $PROFILE")]
    Completions(CompletionsArgs),

    /// Write man pages for pgshift and every subcommand
    #[command(after_help = "Examples:
  pgshift man --out /usr/local/share/man/man1     pgshift.1, pgshift-up.1, pgshift-dev-start.1, ...
  man pgshift-up")]
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write completions for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Folder to write the pages into (created if missing)
    #[arg(long, value_name = "DIR", default_value = "man")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Apply up to and including this version
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,
    /// Print the SQL that would run (psql-runnable) and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Run even though an applied migration's file changed
    #[arg(long)]
    pub allow_modified: bool,
    /// Run even though applied migrations have no file
    #[arg(long)]
    pub allow_missing: bool,
    /// Run even though applied migrations have no recorded checksum
    /// (unverified; see `pgshift accept --all-unverified`)
    #[arg(long)]
    pub allow_unverified: bool,
    /// Apply pending migrations older than the newest applied one
    #[arg(long)]
    pub allow_out_of_order: bool,
    /// Continue a failed no-transaction migration at the statement that failed
    #[arg(long)]
    pub resume: bool,
    /// Do not ask before migrations with destructive statements (DROP TABLE, TRUNCATE, …)
    #[arg(long, short)]
    pub yes: bool,
    /// Apply even when pending migrations have lint errors
    #[arg(long)]
    pub no_lint: bool,
    /// First apply the pending migrations and health checks on a copy of the database
    #[arg(long, conflicts_with = "dry_run")]
    pub rehearse: bool,
    #[command(flatten)]
    pub safety: SafetyArgs,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// How many of the newest applied migrations to roll back [default: 1]
    #[arg(long, value_name = "N", conflicts_with = "to")]
    pub steps: Option<usize>,
    /// Roll back every migration applied after this version
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,
    /// Print the SQL that would run and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation
    #[arg(long, short)]
    pub yes: bool,
    #[command(flatten)]
    pub safety: SafetyArgs,
}

#[derive(Debug, Args)]
pub struct RedoArgs {
    /// Do not ask for confirmation
    #[arg(long, short)]
    pub yes: bool,
    #[command(flatten)]
    pub safety: SafetyArgs,
}

#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// The newest version the database already has
    pub version: String,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// How many of the newest entries to show
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = HistoryFormat::Table)]
    pub format: HistoryFormat,
}

/// How `history` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HistoryFormat {
    /// A terminal table.
    Table,
    /// A Markdown table, like the seed's Version History.
    Markdown,
    /// JSON.
    Json,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// What the migration does, e.g. "add user avatars"
    pub description: String,
    /// Mark it to run outside a transaction (CREATE INDEX CONCURRENTLY)
    #[arg(long)]
    pub no_transaction: bool,
}

#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Create (first time) and start the local development database
    Start,
    /// Stop it
    Stop,
    /// Say whether it is running, and where
    Status,
    /// Print its URL (starting it if needed)
    Url,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Files to check (default: the whole migration folder)
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Check only this rule (repeatable); `squawk` or `all` for groups
    #[arg(long = "rule", value_name = "NAME")]
    pub rules: Vec<String>,
    /// Skip this rule (repeatable); `squawk` for every squawk rule
    #[arg(long = "exclude", value_name = "NAME")]
    pub exclude: Vec<String>,
    /// Check only the migrations `up` would apply (connects to the database)
    #[arg(long, conflicts_with = "files")]
    pub pending: bool,
    /// Output format (`--json` is the same as `--format json`)
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
}

/// How `lint` prints its findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    /// Diagnostics with a snippet of the file.
    Text,
    /// One JSON document.
    Json,
    /// GitHub Actions workflow commands (`::error file=…`).
    Github,
}

#[derive(Debug, Args)]
pub struct DumpArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = DumpFormat::Sql)]
    pub format: DumpFormat,
    /// Include the tracking tables (schema_migrations and its _progress table)
    #[arg(long)]
    pub include_tracking: bool,
    /// Include owners and grants (ALTER … OWNER TO, GRANT); the roles must exist
    /// where the SQL is loaded
    #[arg(long)]
    pub include_privileges: bool,
}

/// What `pgshift dump` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DumpFormat {
    /// SQL that recreates the schema on an empty database.
    Sql,
    /// The schema model as JSON.
    Json,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The database to compare from, as a URL
    #[arg(value_name = "URL_A")]
    pub from: String,
    /// The database to compare to, as a URL
    #[arg(value_name = "URL_B")]
    pub to: String,
    /// Include the tracking tables in the comparison
    #[arg(long)]
    pub include_tracking: bool,
    /// Compare owners and grants too
    #[arg(long)]
    pub include_privileges: bool,
}

/// Where scratch databases go.
#[derive(Debug, Args)]
pub struct ScratchArgs {
    /// Server for scratch databases, as a URL to a database pgshift may run
    /// CREATE DATABASE from [env: PGSHIFT_DEV_URL] [default: the local development
    /// cluster]
    #[arg(long, value_name = "URL")]
    pub dev_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    #[command(flatten)]
    pub scratch: ScratchArgs,
    /// Do not run each migration a second time (for projects that never re-run a file;
    /// also `[test] idempotent = false` in pgshift.toml)
    #[arg(long)]
    pub no_idempotency: bool,
    /// Check VERSION and the migrations after it; the ones before are applied without checks
    #[arg(long, value_name = "VERSION", conflicts_with = "only")]
    pub from: Option<String>,
    /// Check VERSION alone; the ones before are applied without checks, later ones and
    /// seed_data.sql are not run
    #[arg(long, value_name = "VERSION")]
    pub only: Option<String>,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    #[command(flatten)]
    pub scratch: ScratchArgs,
    /// Write a suggested correction migration (next number) and its rollback
    #[arg(long)]
    pub write_correction: bool,
}

/// `--backup` and `--no-checks`, shared by `up`, `rollback` and `redo`.
#[derive(Debug, Args)]
pub struct SafetyArgs {
    /// Back up with pg_dump first, into DIR [default: backups/]; if that fails nothing runs
    #[arg(long, value_name = "DIR", num_args = 0..=1, require_equals = true)]
    pub backup: Option<Option<PathBuf>>,
    /// Do not run the health checks afterwards
    #[arg(long)]
    pub no_checks: bool,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Folder for the backup file [default: backups/, or backup_dir in pgshift.toml]
    /// (`--dir` is the migration folder)
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup file (pg_dump custom format)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Restore into this new database instead of the configured one
    #[arg(long, value_name = "NEW_DB")]
    pub into: Option<String>,
    /// Do not ask for confirmation
    #[arg(long, short)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct RepairArgs {
    /// The failed migration
    pub version: String,
    /// What the database looks like now
    #[arg(long, value_enum)]
    pub mark: RepairMarkArg,
    /// Why, for the audit trail
    #[arg(long)]
    pub reason: Option<String>,
}

/// `repair --mark`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RepairMarkArg {
    /// The statements that ran were undone; `up` will run it again.
    RolledBack,
    /// The remaining statements were done by hand.
    Applied,
}

#[derive(Debug, Args)]
pub struct AcceptArgs {
    /// The applied migration(s) whose file changed, or whose row has no
    /// checksum (unverified)
    #[arg(
        required_unless_present = "all_unverified",
        conflicts_with = "all_unverified"
    )]
    pub versions: Vec<String>,
    /// Every applied migration without a recorded checksum
    #[arg(long)]
    pub all_unverified: bool,
    /// Why, for the audit trail
    #[arg(long)]
    pub reason: String,
    /// Accept even a change beyond comments and whitespace
    #[arg(long)]
    pub force: bool,
}
