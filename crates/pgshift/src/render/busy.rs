//! A busy database in words: who blocks a migration and what it waits for.

use pgshift_core::executor::{Blockage, Blocker};
use std::time::Duration;

/// `AccessExclusiveLock on public.t (ACCESS EXCLUSIVE)`-like phrase: what
/// the migration waited for.
pub fn wanted(b: &Blockage) -> String {
    let on = match &b.relation {
        Some(relation) => format!("on table {relation}"),
        None => format!("on a {}", b.lock_type),
    };
    format!("{} {on}", lock_mode(&b.mode))
}

/// `AccessExclusiveLock` → `ACCESS EXCLUSIVE` (as `LOCK TABLE` spells it).
fn lock_mode(mode: &str) -> String {
    let words = mode.strip_suffix("Lock").unwrap_or(mode);
    let mut out = String::new();
    for (i, c) in words.char_indices() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// `pid 123 (application psql, idle in transaction, in a transaction since
/// 12:00:01 UTC: SELECT * FROM t)`.
pub fn blocker(b: &Blocker) -> String {
    let mut parts = Vec::new();
    if let Some(app) = &b.application_name {
        parts.push(format!("application {app}"));
    }
    if let Some(state) = &b.state {
        parts.push(state.clone());
    }
    if let Some(since) = b.transaction_since {
        parts.push(format!(
            "in a transaction since {}",
            since.format("%Y-%m-%d %H:%M:%S UTC")
        ));
    }
    let mut text = format!("pid {}", b.pid);
    if !parts.is_empty() {
        text.push_str(&format!(" ({})", parts.join(", ")));
    }
    if !b.query.is_empty() {
        text.push_str(&format!(": {}", b.query));
    }
    text
}

/// `wants ACCESS EXCLUSIVE on table t, blocked by pid 1 (…); pid 2 (…)`
pub fn blockage(b: &Blockage) -> String {
    let who: Vec<String> = b.blockers.iter().map(blocker).collect();
    format!("wants {}, blocked by {}", wanted(b), who.join("; "))
}

/// `1m 30.0s`, `4.2s`.
pub fn seconds(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 60.0 {
        format!("{}m {:.1}s", (secs / 60.0).floor(), secs % 60.0)
    } else {
        format!("{secs:.1}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_modes_read_as_lock_table_spells_them() {
        assert_eq!(lock_mode("AccessExclusiveLock"), "ACCESS EXCLUSIVE");
        assert_eq!(lock_mode("ShareRowExclusiveLock"), "SHARE ROW EXCLUSIVE");
        assert_eq!(lock_mode("ExclusiveLock"), "EXCLUSIVE");
    }

    #[test]
    fn durations_read_in_minutes_past_a_minute() {
        assert_eq!(seconds(Duration::from_millis(4200)), "4.2s");
        assert_eq!(seconds(Duration::from_secs(90)), "1m 30.0s");
    }
}
