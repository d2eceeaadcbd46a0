//! The informed confirmation before anything that can lose data: what will
//! run, every destructive statement in it, and how many rows each touches
//! now. The user types `yes`; without a terminal, `--yes` is required.

use crate::exit::ExitStatus;
use crate::output::{Output, Style};
use crate::render::failure::Failure;
use crate::render::problem::Problem;
use pgshift_core::destructive::{self, Stake};
use pgshift_core::migration::Migration;
use pgshift_core::migrator::Migrator;
use pgshift_core::script::Script;

/// What a confirmation is about.
pub struct Confirmation<'a> {
    /// `roll back` or `apply`.
    pub verb: &'a str,
    /// The migrations and the script of each that will run.
    pub scripts: Vec<(&'a Migration, &'a Script)>,
    /// Ask even when nothing is destructive (rollbacks always ask).
    pub always: bool,
}

/// Asks, unless `yes`. `Ok(true)` to go ahead, `Ok(false)` if the user
/// said no; an error when no one can be asked.
pub fn confirm(
    out: &mut Output,
    migrator: &Migrator,
    confirmation: &Confirmation<'_>,
    yes: bool,
) -> Result<bool, Failure> {
    let destructive = confirmation
        .scripts
        .iter()
        .any(|(_, script)| !destructive::find(script).is_empty());
    if yes || (!destructive && !confirmation.always) {
        return Ok(true);
    }
    let stakes = migrator
        .stakes(confirmation.scripts.iter().map(|(_, script)| *script))
        .map_err(Failure::from)?;
    let versions: Vec<&str> = confirmation
        .scripts
        .iter()
        .map(|(m, _)| m.version.as_str())
        .collect();
    // One line per destructive statement, the same `--dry-run` writes
    // above it.
    let line = |stake: &Stake| {
        let d = &stake.destructive;
        format!(
            "{stake}  ({}:{})",
            d.file.path().display(),
            d.file.line_col(d.span.start).line
        )
    };
    if !out.interactive || out.json {
        let what = if stakes.is_empty() {
            String::new()
        } else {
            format!(" ({} destructive statement(s))", stakes.len())
        };
        let mut problem = Problem::error(format!(
            "to {} {}{what} pgshift needs a confirmation, and stdin is not a terminal",
            confirmation.verb,
            versions.join(", ")
        ));
        for stake in &stakes {
            problem = problem.with_help(format!("destructive: {}", line(stake)));
        }
        return Err(Failure::new(
            ExitStatus::Declined,
            problem.with_help("review with --dry-run (it shows these lines above their statements), then pass --yes to confirm"),
        ));
    }

    out.diagnostic(format!(
        "{} this will {} on {}:\n",
        out.paint(Style::Warn, "warning:"),
        confirmation.verb,
        migrator.connection().redacted()
    ));
    for (migration, script) in &confirmation.scripts {
        out.diagnostic(format!(
            "  {} {}  ({})\n",
            migration.version,
            migration.description,
            script.file().path().display()
        ));
    }
    if !stakes.is_empty() {
        out.diagnostic(format!(
            "{}\n",
            out.paint(Style::Bold, "Destructive statements:")
        ));
        for stake in &stakes {
            out.diagnostic(format!("  {}\n", out.paint(Style::Error, line(stake))));
        }
    }
    let answer = out.ask("Type `yes` to continue: ");
    Ok(answer.as_deref() == Some("yes"))
}
