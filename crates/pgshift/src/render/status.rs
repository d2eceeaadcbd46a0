//! The status table and its JSON form.

use crate::output::{Output, Style};
use comfy_table::{presets, ContentArrangement, Table};
use pgshift_core::plan::{Entry, Plan, State};

/// A short state word.
pub fn state_word(state: &State) -> &'static str {
    match state {
        State::Applied => "applied",
        State::Pending => "pending",
        State::Modified { .. } => "modified",
        State::Unverified => "unverified",
        State::Missing => "missing",
        State::Failed => "failed",
    }
}

fn state_style(state: &State) -> Style {
    match state {
        State::Applied => Style::Ok,
        State::Pending => Style::Bold,
        State::Modified { .. } | State::Unverified | State::Missing => Style::Warn,
        State::Failed => Style::Error,
    }
}

/// The table `status` prints.
pub fn table(plan: &Plan, out: &Output) -> String {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(120)
        .set_header([
            "Version",
            "Description",
            "State",
            "Applied at",
            "By",
            "ms",
            "Checksum",
        ]);
    if !out.color {
        table.force_no_tty();
    }
    for entry in &plan.entries {
        table.add_row(row(entry, out));
    }
    table.to_string()
}

fn row(entry: &Entry, out: &Output) -> Vec<String> {
    let applied = entry.applied.as_ref();
    let state = match (&entry.state, &entry.failed) {
        (State::Failed, Some(f)) => format!(
            "failed at statement {}/{}",
            f.statements_done + 1,
            f.statements_total
        ),
        (state, _) => state_word(state).to_string(),
    };
    let checksum = match &entry.state {
        State::Modified { recorded, current } => {
            format!("{} → {}", recorded.short(), current.short())
        }
        _ => applied
            .and_then(|a| a.checksum.as_ref())
            .map(|c| c.short().to_string())
            .unwrap_or_else(|| {
                if applied.is_some() {
                    "(none recorded)".into()
                } else {
                    String::new()
                }
            }),
    };
    vec![
        entry.version.to_string(),
        entry.description.clone(),
        out.paint(state_style(&entry.state), state),
        applied
            .and_then(|a| a.applied_at)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default(),
        applied
            .and_then(|a| a.applied_by.clone())
            .unwrap_or_default(),
        applied
            .and_then(|a| a.execution_time_ms)
            .map(|ms| ms.to_string())
            .unwrap_or_default(),
        checksum,
    ]
}

/// One line summarising the plan: `3 applied, 1 pending`.
pub fn summary(plan: &Plan) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for entry in &plan.entries {
        let word = state_word(&entry.state);
        match counts.iter_mut().find(|(w, _)| *w == word) {
            Some((_, n)) => *n += 1,
            None => counts.push((word, 1)),
        }
    }
    if counts.is_empty() {
        return "no migrations".into();
    }
    counts
        .iter()
        .map(|(w, n)| format!("{n} {w}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `status --json`.
pub fn json(plan: &Plan, database: &str) -> serde_json::Value {
    serde_json::json!({
        "database": database,
        "migrations": plan.entries,
    })
}
