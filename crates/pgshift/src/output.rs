//! Where text goes: results on stdout, progress and diagnostics on stderr,
//! colour only on a terminal and never with `NO_COLOR`.

use crate::args::{ColorChoice, GlobalArgs};
use std::io::{IsTerminal, Write};

/// The run's output channels and style.
pub struct Output {
    /// `--json`: stdout carries one JSON document; stderr stays quiet.
    pub json: bool,
    /// `--quiet`: no progress lines.
    pub quiet: bool,
    /// Colour on stderr.
    pub color: bool,
    /// stdin is a terminal (a confirmation can be asked).
    pub interactive: bool,
    /// Put before every progress line (e.g. while rehearsing on a copy).
    pub progress_prefix: &'static str,
}

impl Output {
    /// Decides colour and modes from the flags and the environment.
    pub fn new(args: &GlobalArgs) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match args.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                !no_color
                    && std::io::stderr().is_terminal()
                    && std::env::var("TERM").map_or(true, |t| t != "dumb")
            }
        };
        Output {
            json: args.json,
            quiet: args.quiet,
            color,
            interactive: std::io::stdin().is_terminal(),
            progress_prefix: "",
        }
    }

    /// A result line on stdout (suppressed in JSON mode).
    pub fn line(&mut self, text: impl AsRef<str>) {
        if !self.json {
            let _ = writeln!(std::io::stdout().lock(), "{}", text.as_ref());
        }
    }

    /// Text on stdout exactly as given (dry-run SQL, URLs).
    pub fn raw(&mut self, text: impl AsRef<str>) {
        let _ = write!(std::io::stdout().lock(), "{}", text.as_ref());
    }

    /// A JSON document on stdout.
    pub fn json_value(&mut self, value: &serde_json::Value) {
        let mut stdout = std::io::stdout().lock();
        let _ = serde_json::to_writer_pretty(&mut stdout, value);
        let _ = writeln!(stdout);
    }

    /// A progress or status line on stderr.
    pub fn progress(&mut self, text: impl AsRef<str>) {
        if !self.quiet && !self.json {
            // One write per line: stderr is unbuffered, and `up` prints two
            // lines per migration.
            let line = format!("{}{}\n", self.progress_prefix, text.as_ref());
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
    }

    /// A warning or diagnostic on stderr (shown even with `--quiet`).
    pub fn diagnostic(&mut self, text: impl AsRef<str>) {
        if !self.json {
            let _ = write!(std::io::stderr().lock(), "{}", text.as_ref());
        }
    }

    /// Asks a question on stderr and reads a line from stdin.
    pub fn ask(&mut self, question: &str) -> Option<String> {
        let _ = write!(std::io::stderr().lock(), "{question}");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer).ok()?;
        Some(answer.trim().to_string())
    }

    /// Wraps text in an SGR colour when colour is on.
    pub fn paint(&self, style: Style, text: impl std::fmt::Display) -> String {
        if !self.color {
            return text.to_string();
        }
        let code = match style {
            Style::Ok => "32",
            Style::Warn => "33",
            Style::Error => "31;1",
            Style::Dim => "2",
            Style::Bold => "1",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

/// Text styles.
#[derive(Debug, Clone, Copy)]
pub enum Style {
    /// Success (green).
    Ok,
    /// Attention (yellow).
    Warn,
    /// Failure (bold red).
    Error,
    /// Secondary (dim).
    Dim,
    /// Emphasis.
    Bold,
}
