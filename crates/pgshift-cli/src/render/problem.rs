//! A diagnostic the user reads: message, SQLSTATE or rule as code, a
//! snippet of the file with a caret, and what to do. Rendered by miette.

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan,
};
use pgshift_core::connect::redact_url;
use pgshift_core::source::{SourceFile, Span};
use std::fmt;

/// One thing to tell the user.
#[derive(Debug)]
pub struct Problem {
    /// The main message (lowercase phrase).
    pub message: String,
    /// SQLSTATE or another stable code.
    pub code: Option<String>,
    /// Lines shown after the snippet: detail, context, what to do.
    pub help: Option<String>,
    /// The file and span to show.
    pub snippet: Option<Snippet>,
    /// Warning rather than error.
    pub warning: bool,
}

/// A file excerpt with a label.
#[derive(Debug)]
pub struct Snippet {
    source: NamedSource<String>,
    span: SourceSpan,
    label: String,
    /// `file:line:column`, for JSON and plain output.
    pub location: Location,
}

/// Where a problem is, for machines.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Location {
    /// The file as given.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl Snippet {
    /// Points at `span` in `file`.
    pub fn new(file: &SourceFile, span: Span, label: impl Into<String>) -> Snippet {
        let name = file.path().display().to_string();
        let pos = file.line_col(span.start);
        Snippet {
            source: NamedSource::new(name.clone(), file.text().to_string()).with_language("sql"),
            span: SourceSpan::new(span.start.into(), span.len()),
            label: label.into(),
            location: Location {
                file: name,
                line: pos.line,
                column: pos.column,
            },
        }
    }
}

impl Problem {
    /// An error with just a message.
    pub fn error(message: impl Into<String>) -> Problem {
        Problem {
            message: redact_url(&message.into()),
            code: None,
            help: None,
            snippet: None,
            warning: false,
        }
    }

    /// Adds what to do.
    pub fn with_help(mut self, help: impl Into<String>) -> Problem {
        let help = redact_url(&help.into());
        self.help = Some(match self.help.take() {
            Some(existing) => format!("{existing}\n{help}"),
            None => help,
        });
        self
    }

    /// Adds a code.
    pub fn with_code(mut self, code: impl Into<String>) -> Problem {
        self.code = Some(code.into());
        self
    }

    /// Adds a snippet.
    pub fn with_snippet(mut self, snippet: Snippet) -> Problem {
        self.snippet = Some(snippet);
        self
    }

    /// Renders for a terminal or a log: miette's graphical report. On a
    /// terminal (`color`), in colour and wrapped to 100 columns; otherwise
    /// plain and unwrapped, so a log line can be searched for whole.
    pub fn render(&self, color: bool) -> String {
        let (theme, width) = if color {
            (GraphicalTheme::unicode(), 100)
        } else {
            (GraphicalTheme::unicode_nocolor(), 10_000)
        };
        let mut out = String::new();
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(width)
            .with_context_lines(2);
        if handler.render_report(&mut out, self).is_err() {
            out = format!("error: {}\n", self.message);
        }
        out
    }

    /// A JSON object for `--json`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "message": self.message,
            "code": self.code,
            "help": self.help,
            "location": self.snippet.as_ref().map(|s| &s.location),
            "severity": if self.warning { "warning" } else { "error" },
        })
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Problem {}

impl Diagnostic for Problem {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.code
            .as_ref()
            .map(|c| Box::new(c) as Box<dyn fmt::Display>)
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(if self.warning {
            miette::Severity::Warning
        } else {
            miette::Severity::Error
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.snippet
            .as_ref()
            .map(|s| &s.source as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let snippet = self.snippet.as_ref()?;
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            Some(snippet.label.clone()),
            snippet.span,
        ))))
    }
}
