//! `pgshift lint`: static checks of migration files, rendered as
//! diagnostics, JSON or GitHub Actions annotations.

use super::{load_set, migrator};
use crate::args::{LintArgs, LintFormat};
use crate::exit::ExitStatus;
use crate::output::{Output, Style};
use crate::render::failure::Failure;
use crate::render::problem::{Problem, Snippet};
use crate::settings::Settings;
use pgshift_core::lint::{self, LintOptions, RuleSelector, Severity, Violation};

pub fn run(settings: &Settings, args: &LintArgs, out: &mut Output) -> Result<ExitStatus, Failure> {
    let mut options = options(settings, args)?;
    let violations = if args.pending {
        let migrator = migrator(settings, out)?;
        judge_for_server(&mut options, &migrator)?;
        let (_plan, steps) = migrator
            .up_preview(&Default::default())
            .map_err(Failure::from)?;
        let set = migrator.set();
        lint::lint_migrations(
            steps.iter().map(|s| &set.migrations()[s.migration]),
            &options,
        )
    } else {
        let set = load_set(settings)?;
        if args.files.is_empty() {
            lint::lint(&set, &options)
        } else {
            lint::lint_paths(&set, &args.files, &options)
                .map_err(|e| Failure::new(ExitStatus::Validation, Problem::error(e.to_string())))?
        }
    };
    let errors = violations.iter().filter(|v| v.is_error()).count();
    let format = if out.json {
        LintFormat::Json
    } else {
        args.format
    };
    match format {
        LintFormat::Json => out.json_value(&json(&violations)),
        LintFormat::Github => out.raw(github(&violations)),
        LintFormat::Text => {
            for violation in &violations {
                out.diagnostic(problem(violation).render(out.color));
            }
            let warnings = violations.len() - errors;
            out.line(if violations.is_empty() {
                format!("{} no lint findings", out.paint(Style::Ok, "ok:"))
            } else {
                format!(
                    "{} {errors} error(s), {warnings} warning(s)",
                    out.paint(
                        if errors > 0 {
                            Style::Error
                        } else {
                            Style::Warn
                        },
                        "lint:"
                    )
                )
            });
        }
    }
    Ok(if errors > 0 {
        ExitStatus::Findings
    } else {
        ExitStatus::Success
    })
}

/// `[lint]` from the config file, then `--rule` and `--exclude`.
fn options(settings: &Settings, args: &LintArgs) -> Result<LintOptions, Failure> {
    let mut options = configured(settings)?;
    let parse = |names: &[String]| -> Result<Vec<RuleSelector>, Failure> {
        names
            .iter()
            .map(|n| {
                n.parse::<RuleSelector>().map_err(|e: lint::UnknownRule| {
                    Failure::new(ExitStatus::Usage, Problem::error(e.to_string()))
                })
            })
            .collect()
    };
    options.only = parse(&args.rules)?;
    options.disable.extend(parse(&args.exclude)?);
    Ok(options)
}

/// The rules `pgshift.toml` enables: what `up` checks pending migrations with.
pub(super) fn configured(settings: &Settings) -> Result<LintOptions, Failure> {
    let config = settings.config.lint.clone().unwrap_or_default();
    let mut options =
        LintOptions::from_names(&[], &config.enable, &config.disable).map_err(|e| {
            Failure::new(
                ExitStatus::Validation,
                Problem::error(format!("pgshift.toml [lint]: {e}")),
            )
        })?;
    options.postgres_version = config.postgres_version;
    Ok(options)
}

/// Without `[lint] postgres_version`, version-dependent rules judge for
/// the connected server's major version.
pub(super) fn judge_for_server(
    options: &mut LintOptions,
    migrator: &pgshift_core::migrator::Migrator,
) -> Result<(), Failure> {
    if options.postgres_version.is_none() {
        options.postgres_version = Some(migrator.server_major_version().map_err(Failure::from)?);
    }
    Ok(())
}

pub(super) fn problem(violation: &Violation) -> Problem {
    let mut problem = Problem::error(&violation.message)
        .with_code(violation.rule.name())
        .with_snippet(Snippet::new(
            &violation.file,
            violation.span,
            label(violation),
        ));
    if let Some(help) = &violation.help {
        problem = problem.with_help(help);
    }
    problem.warning = violation.severity == Severity::Warning;
    problem
}

fn label(violation: &Violation) -> &'static str {
    if violation.span.is_empty() && violation.span.start == 0 {
        "in this file"
    } else {
        "here"
    }
}

fn json(violations: &[Violation]) -> serde_json::Value {
    let errors = violations.iter().filter(|v| v.is_error()).count();
    serde_json::json!({
        "ok": errors == 0,
        "errors": errors,
        "warnings": violations.len() - errors,
        "violations": violations.iter().map(|v| {
            let start = v.file.line_col(v.span.start);
            let end = v.file.line_col(v.span.end);
            serde_json::json!({
                "rule": v.rule.name(),
                "severity": v.severity,
                "file": v.file.path().display().to_string(),
                "line": start.line,
                "column": start.column,
                "end_line": end.line,
                "end_column": end.column,
                "message": v.message,
                "help": v.help,
            })
        }).collect::<Vec<_>>(),
    })
}

/// GitHub Actions workflow commands, one per finding
/// (docs.github.com: "Workflow commands for GitHub Actions").
fn github(violations: &[Violation]) -> String {
    let data = |s: &str| {
        s.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let property = |s: &str| data(s).replace(':', "%3A").replace(',', "%2C");
    let mut text = String::new();
    for v in violations {
        let start = v.file.line_col(v.span.start);
        let end = v.file.line_col(v.span.end);
        let level = match v.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut message = v.message.clone();
        if let Some(help) = &v.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        text.push_str(&format!(
            "::{level} file={},line={},col={},endLine={},endColumn={},title={}::{}\n",
            property(&v.file.path().display().to_string()),
            start.line,
            start.column,
            end.line,
            end.column,
            property(&v.rule.name()),
            data(&message),
        ));
    }
    text
}
