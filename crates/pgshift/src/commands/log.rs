//! `pgshift log` (the audit trail) and `pgshift history` (the seed's
//! Version History table).

use super::migrator;
use crate::args::{HistoryArgs, HistoryFormat, LogArgs};
use crate::exit::ExitStatus;
use crate::output::{Output, Style};
use crate::render::failure::Failure;
use crate::settings::Settings;
use comfy_table::{presets, Table};

pub fn log(settings: &Settings, args: &LogArgs, out: &mut Output) -> Result<ExitStatus, Failure> {
    let migrator = migrator(settings, out)?;
    let records = migrator
        .audit_log(args.limit.max(1))
        .map_err(Failure::from)?;
    if out.json {
        out.json_value(&serde_json::json!({ "ok": true, "entries": records }));
        return Ok(ExitStatus::Success);
    }
    if records.is_empty() {
        out.line("The audit trail is empty.");
        return Ok(ExitStatus::Success);
    }
    let mut table = Table::new();
    table.load_preset(presets::UTF8_FULL_CONDENSED).set_header([
        "#",
        "When (UTC)",
        "Action",
        "Version",
        "Outcome",
        "ms",
        "Database user",
        "OS user@host",
        "pgshift",
        "Error / detail",
    ]);
    for r in &records {
        let outcome = if r.outcome == "ok" {
            out.paint(Style::Ok, &r.outcome)
        } else {
            out.paint(Style::Error, &r.outcome)
        };
        let database_user = if r.session_user == r.current_user {
            r.session_user.clone()
        } else {
            format!("{} as {}", r.session_user, r.current_user)
        };
        table.add_row(vec![
            r.id.to_string(),
            r.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            r.action.clone(),
            r.version.clone().unwrap_or_default(),
            outcome,
            r.duration_ms.map(|ms| ms.to_string()).unwrap_or_default(),
            database_user,
            format!(
                "{}@{}",
                r.os_user.as_deref().unwrap_or("?"),
                r.host.as_deref().unwrap_or("?")
            ),
            r.tool_version.clone().unwrap_or_default(),
            [r.error.as_deref(), r.detail.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; "),
        ]);
    }
    out.line(table.to_string());
    Ok(ExitStatus::Success)
}

pub fn history(
    settings: &Settings,
    args: &HistoryArgs,
    out: &mut Output,
) -> Result<ExitStatus, Failure> {
    let migrator = migrator(settings, out)?;
    let (_, history) = migrator.plan().map_err(Failure::from)?;
    let rows: Vec<[String; 4]> = history
        .applied
        .iter()
        .map(|a| {
            [
                a.version.to_string(),
                a.applied_at
                    .map(|t| t.format("%Y-%m-%d").to_string())
                    .unwrap_or_default(),
                a.description.clone(),
                a.applied_by.clone().unwrap_or_default(),
            ]
        })
        .collect();
    const HEADER: [&str; 4] = ["Version", "Date", "Description", "Applied By"];
    match (args.format, out.json) {
        (HistoryFormat::Json, _) | (_, true) => {
            let entries: Vec<_> = rows
                .iter()
                .map(|[version, date, description, by]| {
                    serde_json::json!({ "version": version, "date": date, "description": description, "applied_by": by })
                })
                .collect();
            out.json_value(&serde_json::json!(entries));
        }
        (HistoryFormat::Markdown, _) => {
            let mut text = format!(
                "| {} |\n|---------|------|-------------|------------|\n",
                HEADER.join(" | ")
            );
            for row in &rows {
                let cells: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
                text.push_str(&format!("| {} |\n", cells.join(" | ")));
            }
            out.raw(text);
        }
        (HistoryFormat::Table, _) => {
            let mut table = Table::new();
            table
                .load_preset(presets::UTF8_FULL_CONDENSED)
                .set_header(HEADER);
            for row in rows {
                table.add_row(row.to_vec());
            }
            out.line(table.to_string());
        }
    }
    Ok(ExitStatus::Success)
}
