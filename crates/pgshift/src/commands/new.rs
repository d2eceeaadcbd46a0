//! `pgshift new`: write the next migration and its rollback from templates.

use crate::args::NewArgs;
use crate::exit::ExitStatus;
use crate::output::{Output, Style};
use crate::render::failure::Failure;
use crate::render::problem::Problem;
use crate::settings::Settings;
use pgshift_core::migration::MigrationSet;
use pgshift_core::template;

pub fn run(settings: &Settings, args: &NewArgs, out: &mut Output) -> Result<ExitStatus, Failure> {
    let dir = &settings.dir;
    let version = if dir.exists() {
        super::load_set(settings)?.next_version()
    } else {
        std::fs::create_dir_all(dir).map_err(|e| {
            Failure::new(
                ExitStatus::Internal,
                Problem::error(format!("cannot create `{}`: {e}", dir.display())),
            )
        })?;
        MigrationSet::load(dir)
            .map(|set| set.next_version())
            .unwrap_or_else(|_| "001".into())
    };
    let author = template::author(&settings.env);
    let files = template::render(&version, &args.description, &author, args.no_transaction)
        .map_err(|e| Failure::new(ExitStatus::Validation, Problem::error(e.to_string())))?;
    let written = files
        .write_into(dir)
        .map_err(|e| Failure::new(ExitStatus::Internal, Problem::error(e.to_string())))?;
    if out.json {
        out.json_value(&serde_json::json!({ "ok": true, "version": version, "files": written }));
    } else {
        for path in &written {
            out.line(format!(
                "{} {}",
                out.paint(Style::Ok, "created"),
                path.display()
            ));
        }
    }
    Ok(ExitStatus::Success)
}
