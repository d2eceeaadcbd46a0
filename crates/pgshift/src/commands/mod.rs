//! One file per command: take settings and the output, make one or two core
//! calls, render the result. Logic that loops over migrations belongs in
//! `pgshift-core`, not here.

mod backup;
mod check;
mod confirm;
mod dev;
mod diff;
mod drift;
mod dump;
mod lint;
mod log;
mod new;
mod resolve;
mod rollback;
mod shell;
mod status;
mod test;
mod up;

use crate::args::{Cli, Command};
use crate::exit::ExitStatus;
use crate::output::{Output, Style};
use crate::render::busy;
use crate::render::failure::Failure;
use crate::render::problem::Problem;
use crate::settings::Settings;
use pgshift_core::connect::ConnectionSettings;
use pgshift_core::dev::DevDatabase;
use pgshift_core::executor::{Direction, Event, NextAttempt};
use pgshift_core::migration::MigrationSet;
use pgshift_core::migrator::{Migrator, Progress};

/// Runs the command and reports any failure; returns the exit status.
pub fn run(cli: Cli, out: &mut Output) -> ExitStatus {
    // Completions and man pages come from the argument definitions alone:
    // they work without a configuration, a folder or a database.
    match &cli.command {
        Command::Completions(args) => return shell::completions(args, out),
        Command::Man(args) => return shell::man(args, out),
        _ => {}
    }
    install_interrupt_handler();
    let result = Settings::resolve(&cli.global)
        .map_err(|e| Failure::new(ExitStatus::Validation, Problem::error(format!("{:#}", e.0))))
        .and_then(|settings| match cli.command {
            Command::Up(args) => up::run(&settings, &args, out),
            Command::Status => status::status(&settings, out),
            Command::Verify => status::verify(&settings, out),
            Command::Rollback(args) => rollback::run(&settings, &args, out),
            Command::New(args) => new::run(&settings, &args, out),
            Command::Redo(args) => rollback::redo(&settings, &args, out),
            Command::Baseline(args) => rollback::baseline(&settings, &args, out),
            Command::Log(args) => log::log(&settings, &args, out),
            Command::History(args) => log::history(&settings, &args, out),
            Command::Lint(args) => lint::run(&settings, &args, out),
            Command::Dev(command) => dev::run(&settings, &command, out),
            Command::Dump(args) => dump::run(&settings, &args, out),
            Command::Diff(args) => diff::run(&settings, &args, out),
            Command::Backup(args) => backup::backup(&settings, &args, out),
            Command::Restore(args) => backup::restore(&settings, &args, out),
            Command::Check => check::run(&settings, out),
            Command::Repair(args) => resolve::repair(&settings, &args, out),
            Command::Accept(args) => resolve::accept(&settings, &args, out),
            Command::Test(args) => test::run(&settings, &args, out),
            Command::Drift(args) => drift::run(&settings, &args, out),
            Command::Completions(_) | Command::Man(_) => unreachable!("handled above"),
        });
    // Interrupted: the handler is dropping the scratch databases (which may
    // be what made this command fail) and exits 130; wait for it.
    if INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
        loop {
            std::thread::park();
        }
    }
    match result {
        Ok(status) => status,
        Err(mut failure) => {
            // A failure after Ctrl-C is the cancelled statement's (or the
            // run stopping before the next migration): the interruption.
            if pgshift_core::interrupt::requested() {
                failure.status = ExitStatus::Interrupted;
            }
            report(out, &failure);
            failure.status
        }
    }
}

/// Prints a failure: diagnostics on stderr, or a JSON document on stdout.
fn report(out: &mut Output, failure: &Failure) {
    if out.json {
        out.json_value(&serde_json::json!({
            "ok": false,
            "exit_code": failure.status as u8,
            "completed": failure.completed,
            "errors": failure.problems.iter().map(Problem::to_json).collect::<Vec<_>>(),
        }));
        return;
    }
    for problem in &failure.problems {
        out.diagnostic(problem.render(out.color));
    }
    let done = |direction: Direction| -> Vec<String> {
        failure
            .completed
            .iter()
            .filter(|o| o.direction == direction)
            .map(|o| o.version.to_string())
            .collect()
    };
    let rolled_back = done(Direction::Down);
    if !rolled_back.is_empty() {
        out.diagnostic(format!(
            "{} migration(s) were rolled back before the failure and are no longer applied: {}; {}\n",
            rolled_back.len(),
            rolled_back.join(", "),
            match &failure.failed_rollback {
                Some(version) => format!("{version} and the migrations before it stay applied"),
                None => "the migrations before them stay applied".to_string(),
            }
        ));
    }
    let applied = done(Direction::Up);
    if !applied.is_empty() {
        out.diagnostic(format!(
            "{} migration(s) completed before the failure and stay applied: {}\n",
            applied.len(),
            applied.join(", ")
        ));
    }
}

/// Loads the migration folder; nothing touches a database before this.
fn load_set(settings: &Settings) -> Result<MigrationSet, Failure> {
    MigrationSet::load(&settings.dir).map_err(|e| Failure::from(pgshift_core::Error::from(e)))
}

/// Resolves where to connect; with nothing configured, starts the local
/// development database and says so on stderr.
fn connection(settings: &Settings, out: &mut Output) -> Result<ConnectionSettings, Failure> {
    let config_url = settings
        .config
        .database_url
        .as_deref()
        .zip(settings.config.path.as_deref());
    let resolved =
        ConnectionSettings::resolve(settings.database_url.as_deref(), config_url, &settings.env)
            .map_err(|e| Failure::from(pgshift_core::Error::from(e)))?;
    if let Some(connection) = resolved {
        for warning in connection.warnings() {
            out.diagnostic(format!(
                "{} {warning}\n",
                out.paint(Style::Warn, "warning:")
            ));
        }
        return Ok(connection);
    }
    let dev = DevDatabase::new(&settings.project_dir);
    let connection = dev.ensure().map_err(|e| {
        Failure::new(
            ExitStatus::Internal,
            Problem::error(e.to_string()).with_help(
                "no database is configured (--database-url, DATABASE_URL, PG* variables), so pgshift tried its local development database",
            ),
        )
    })?;
    out.progress(format!(
        "{} no database configured; using the local development database {}",
        out.paint(Style::Dim, "note:"),
        connection.redacted()
    ));
    Ok(connection)
}

/// Loads the set, then connects: the two steps every database command takes.
fn migrator(settings: &Settings, out: &mut Output) -> Result<Migrator, Failure> {
    let set = load_set(settings)?;
    let connection = connection(settings, out)?;
    Ok(Migrator::new(
        set,
        settings.table.clone(),
        connection,
        settings.run.clone(),
    ))
}

/// `database: postgresql://user@host:port/db` (never the password): which
/// database a command talks to, so a run against the wrong one (a stray
/// `PGDATABASE`) shows. On stdout for the commands whose result is a
/// report of it (`status`, `verify`), else as a progress line.
fn name_database(out: &mut Output, migrator: &Migrator, on_stdout: bool) {
    if out.json {
        return;
    }
    let line = format!("database: {}", migrator.connection().redacted());
    if on_stdout {
        out.line(line);
    } else {
        out.progress(line);
    }
}

/// Shows progress events as lines on stderr.
fn show_progress(out: &mut Output, progress: Progress<'_>) {
    match progress {
        Progress::LockWait { holder } => out.progress(format!(
            "waiting for another migration run to finish{}",
            holder
                .map(pgshift_core::lock::describe_holder)
                .unwrap_or_default()
        )),
        Progress::Exec(event) => match event {
            Event::Started {
                migration,
                direction,
                position,
                total,
            } => {
                let verb = match direction {
                    Direction::Up => "applying",
                    Direction::Down => "rolling back",
                };
                out.progress(format!(
                    "[{position}/{total}] {verb} {} {}",
                    out.paint(Style::Bold, &migration.version),
                    migration.description
                ));
            }
            Event::Echo { text } => out.progress(format!("  {text}")),
            Event::Notice {
                notice,
                file,
                span,
                among,
            } => {
                let start = file.line_col(span.start);
                // A notice from statements sent together, without a
                // position, is shown against their lines.
                let at = if among > 1 {
                    format!("{}-{}", start.line, file.line_col(span.end).line)
                } else {
                    format!("{}:{}", start.line, start.column)
                };
                out.progress(format!(
                    "  {} {}:{at}: {}",
                    out.paint(Style::Warn, format!("{}:", notice.severity.to_lowercase())),
                    file.path().display(),
                    notice.message
                ));
            }
            Event::Statement { done, total } if total > 1 && out.interactive => {
                out.progress(format!(
                    "  {}",
                    out.paint(Style::Dim, format!("statement {done}/{total}"))
                ));
            }
            Event::Retry {
                attempt,
                max_attempts,
                next,
                error,
                blockage,
                budget_left,
            } => {
                let of = max_attempts.map(|m| format!("/{m}")).unwrap_or_default();
                let who = blockage
                    .map(|b| format!("; it {}", busy::blockage(b)))
                    .unwrap_or_default();
                let when = match next {
                    NextAttempt::After(delay) => format!("retrying in {:.1}s", delay.as_secs_f64()),
                    NextAttempt::WhenBlockersFinish => "retrying as soon as it ends".to_string(),
                    _ => "retrying".to_string(),
                };
                out.progress(format!(
                    "  {} attempt {attempt}{of} failed: {} ({}){who}; {when} ({} of the retry budget left)",
                    out.paint(Style::Warn, "busy:"),
                    error.message,
                    error.code,
                    busy::seconds(budget_left),
                ));
            }
            Event::Blocked {
                blockage,
                waited,
                budget_left,
            } => out.progress(format!(
                "  {} for {}: it {}; {} of the retry budget left",
                out.paint(Style::Warn, "still waiting"),
                busy::seconds(waited),
                busy::blockage(blockage),
                busy::seconds(budget_left),
            )),
            Event::Finished {
                migration,
                direction,
                elapsed,
                attempts,
                total,
            } => {
                let verb = match direction {
                    Direction::Up => "applied",
                    Direction::Down => "rolled back",
                };
                let retried = if attempts > 1 {
                    format!(
                        " (attempt {attempts}; {} since the first, the database was busy)",
                        busy::seconds(total)
                    )
                } else {
                    String::new()
                };
                out.progress(format!(
                    "  {} {verb} {} in {} ms{retried}",
                    out.paint(Style::Ok, "✓"),
                    migration.version,
                    elapsed.as_millis()
                ));
            }
            _ => {}
        },
        Progress::BackedUp { backup } => out.progress(backup::describe(backup)),
        _ => {}
    }
}

/// Where scratch databases go: `--dev-url` (or `PGSHIFT_DEV_URL`), else the
/// local development cluster.
fn scratch_server(
    settings: &Settings,
    args: &crate::args::ScratchArgs,
    out: &mut Output,
) -> Result<pgshift_core::scratch::ScratchServer, Failure> {
    use pgshift_core::scratch::ScratchServer;
    let url = args
        .dev_url
        .clone()
        .or_else(|| settings.env.get("PGSHIFT_DEV_URL").map(|(v, _)| v));
    let server = match url {
        Some(url) => ScratchServer::from_url(&url, &settings.env),
        None => ScratchServer::dev(&settings.project_dir),
    };
    let server = server.map_err(|e| {
        Failure::new(
            ExitStatus::Connection,
            Problem::error(e.to_string()).with_code("scratch"),
        )
    })?;
    if let Ok(dropped) = server.sweep_stale() {
        for name in dropped {
            out.progress(format!(
                "{} dropped stale scratch database {name} (its pgshift process is gone)",
                out.paint(Style::Dim, "note:")
            ));
        }
    }
    Ok(server)
}

/// Creates a scratch database and says where.
fn create_scratch(
    server: &pgshift_core::scratch::ScratchServer,
    out: &mut Output,
) -> Result<pgshift_core::scratch::ScratchDb, Failure> {
    let db = server.create().map_err(|e| {
        Failure::new(
            ExitStatus::Connection,
            Problem::error(e.to_string())
                .with_code("scratch")
                .with_help("scratch databases need a role that may CREATE DATABASE; give another server with --dev-url"),
        )
    })?;
    out.progress(format!(
        "{} scratch database {} on {}",
        out.paint(Style::Dim, "using"),
        db.name(),
        server.admin().redacted()
    ));
    Ok(db)
}

/// On SIGINT/SIGTERM while migrations run: cancel the running statement
/// and let the run end like a failure (its migration rolls back), then exit
/// 130; a second signal exits at once. Otherwise: drop this process's
/// scratch databases, then exit 130 (a signal's default action would skip
/// the destructors that drop them).
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn install_interrupt_handler() {
    use std::sync::atomic::Ordering;
    use std::sync::Once;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            #[allow(clippy::print_stderr)]
            if pgshift_core::interrupt::running() && !pgshift_core::interrupt::requested() {
                eprintln!(
                    "interrupted: cancelling the running statement; the migration in progress \
                     rolls back (press Ctrl-C again to quit at once)"
                );
                pgshift_core::interrupt::request();
                return;
            }
            INTERRUPTED.store(true, Ordering::SeqCst);
            let dropped = pgshift_core::scratch::drop_active();
            #[allow(clippy::print_stderr)]
            if !dropped.is_empty() {
                eprintln!(
                    "interrupted; dropped {} scratch database(s): {}",
                    dropped.len(),
                    dropped.join(", ")
                );
            }
            std::process::exit(130);
        });
    });
}
