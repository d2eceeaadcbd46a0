//! `pgshift completions` and `pgshift man`: generated from the clap
//! definitions in `args.rs`, so they cannot fall out of step with the
//! commands.

use super::Failure;
use crate::args::{Cli, CompletionsArgs, ManArgs};
use crate::exit::ExitStatus;
use crate::output::Output;
use crate::render::problem::Problem;
use clap::CommandFactory;
use std::path::{Path, PathBuf};

/// Writes the completion script for one shell on stdout.
pub fn completions(args: &CompletionsArgs, out: &mut Output) -> ExitStatus {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "pgshift", &mut script);
    out.raw(String::from_utf8_lossy(&script));
    ExitStatus::Success
}

/// Writes `pgshift.1` and one page per subcommand (`pgshift-up.1`,
/// `pgshift-dev-start.1`, …) into the folder.
pub fn man(args: &ManArgs, out: &mut Output) -> ExitStatus {
    let result = std::fs::create_dir_all(&args.out)
        .map_err(|e| write_failure(&args.out, &e))
        .and_then(|()| {
            let mut written = Vec::new();
            let mut command = Cli::command();
            // Copies the global options into every subcommand's page.
            command.build();
            write_pages(command, &args.out, &mut written)?;
            Ok(written)
        });
    match result {
        Ok(written) => {
            if out.json {
                out.json_value(&serde_json::json!({ "ok": true, "pages": written }));
            } else {
                for path in &written {
                    out.line(path.display().to_string());
                }
            }
            ExitStatus::Success
        }
        Err(failure) => {
            super::report(out, &failure);
            failure.status
        }
    }
}

/// Renders the command's page, then its subcommands' pages, named after the
/// path that invokes them (`pgshift dev start` → `pgshift-dev-start.1`).
fn write_pages(
    command: clap::Command,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> Result<(), Failure> {
    let command = command.disable_help_subcommand(true);
    let name = command.get_name().to_owned();
    let path = dir.join(format!("{name}.1"));
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .render(&mut page)
        .and_then(|()| std::fs::write(&path, page))
        .map_err(|e| write_failure(&path, &e))?;
    written.push(path);
    for sub in command.get_subcommands() {
        let sub_name = format!("{name}-{}", sub.get_name());
        write_pages(sub.clone().name(sub_name), dir, written)?;
    }
    Ok(())
}

fn write_failure(path: &Path, error: &std::io::Error) -> Failure {
    Failure::new(
        ExitStatus::Internal,
        Problem::error(format!("cannot write {}: {error}", path.display())),
    )
}
