//! The informed confirmation before anything that can lose data: what will
//! run, every destructive statement in it, and how many rows each touches
//! now. The user types `yes`; without a terminal, `--yes` is required.

use crate::exit::ExitStatus;
use crate::output::{Output, Style};
use crate::render::failure::Failure;
use crate::render::problem::Problem;
use pgshift_core::destructive::{self, Destructive};
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
    let found: Vec<Destructive> = confirmation
        .scripts
        .iter()
        .flat_map(|(_, script)| destructive::find(script))
        .collect();
    if yes || (found.is_empty() && !confirmation.always) {
        return Ok(true);
    }
    let versions: Vec<&str> = confirmation
        .scripts
        .iter()
        .map(|(m, _)| m.version.as_str())
        .collect();
    if !out.interactive || out.json {
        let what = if found.is_empty() {
            String::new()
        } else {
            format!(" ({} destructive statement(s))", found.len())
        };
        return Err(Failure::new(
            ExitStatus::Declined,
            Problem::error(format!(
                "to {} {}{what} pgshift needs a confirmation, and stdin is not a terminal",
                confirmation.verb,
                versions.join(", ")
            ))
            .with_help("review with --dry-run, then pass --yes to confirm"),
        ));
    }
    let tables: Vec<&str> = found.iter().filter_map(|d| d.loss.table()).collect();
    let counts = migrator.row_counts(&tables).map_err(Failure::from)?;
    let mut counts = counts.into_iter();

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
    if !found.is_empty() {
        out.diagnostic(format!(
            "{}\n",
            out.paint(Style::Bold, "Destructive statements:")
        ));
        for d in &found {
            let at = d.file.line_col(d.span.start);
            let stake = match d.loss.table() {
                Some(_) => match counts.next().flatten() {
                    Some(n) => format!(" — {} row(s) will be lost", group_thousands(n)),
                    None => " — table not found now".to_string(),
                },
                None => String::new(),
            };
            out.diagnostic(format!(
                "  {}{}  ({}:{})\n",
                out.paint(Style::Error, &d.loss),
                stake,
                d.file.path().display(),
                at.line
            ));
        }
    }
    let answer = out.ask("Type `yes` to continue: ");
    Ok(answer.as_deref() == Some("yes"))
}

/// `1204` → `1,204`.
pub fn group_thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_are_grouped() {
        assert_eq!(super::group_thousands(1204), "1,204");
        assert_eq!(super::group_thousands(999), "999");
        assert_eq!(super::group_thousands(1_000_000), "1,000,000");
    }
}
