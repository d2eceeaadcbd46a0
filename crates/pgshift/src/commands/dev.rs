//! `pgshift dev start|stop|status|url`: the local development database.

use crate::args::DevCommand;
use crate::exit::ExitStatus;
use crate::output::{Output, Style};
use crate::render::failure::Failure;
use crate::render::problem::Problem;
use crate::settings::Settings;
use pgshift_core::cluster::Status;
use pgshift_core::dev::DevDatabase;

pub fn run(
    settings: &Settings,
    command: &DevCommand,
    out: &mut Output,
) -> Result<ExitStatus, Failure> {
    let dev = DevDatabase::new(&settings.project_dir);
    let fail = |e: pgshift_core::dev::DevError| {
        Failure::new(ExitStatus::Internal, Problem::error(e.to_string()))
    };
    match command {
        DevCommand::Start | DevCommand::Url => {
            let url = dev.url().map_err(fail)?;
            if out.json {
                out.json_value(&serde_json::json!({ "ok": true, "running": true, "url": url }));
            } else if matches!(command, DevCommand::Url) {
                out.line(url);
            } else {
                out.line(format!(
                    "{} local development database at {url}",
                    out.paint(Style::Ok, "running:")
                ));
            }
        }
        DevCommand::Stop => {
            let was_running = dev.stop().map_err(fail)?;
            if out.json {
                out.json_value(&serde_json::json!({ "ok": true, "was_running": was_running }));
            } else if was_running {
                out.line("stopped the local development database");
            } else {
                out.line("the local development database was not running");
            }
        }
        DevCommand::Status => {
            let status = dev.status().map_err(fail)?;
            let dir = dev.dir().map_err(fail)?;
            let (word, detail) = match &status {
                Status::Running(r) => (
                    "running",
                    format!("pid {}, port {}, in {}", r.pid(), r.port(), dir.display()),
                ),
                Status::Stopped => ("stopped", format!("in {}", dir.display())),
                Status::NotInitialised => (
                    "not created",
                    "`pgshift dev start` or any command creates it".to_string(),
                ),
                _ => ("unknown", String::new()),
            };
            if out.json {
                out.json_value(&serde_json::json!({ "ok": true, "status": word, "dir": dir }));
            } else {
                out.line(format!("{word}: {detail}"));
            }
        }
    }
    Ok(ExitStatus::Success)
}
