//! A diagnostic the user reads: message, SQLSTATE or rule as code, a
//! snippet of the file with a caret, and what to do. Rendered by miette.

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError,
    MietteSpanContents, NamedSource, SourceCode, SourceSpan, SpanContents,
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
    source: NamedSource<Excerpt>,
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

/// Lines shown around a label, besides its own (the renderer's
/// `with_context_lines`).
const CONTEXT_LINES: usize = 2;

/// At most this many lines of a long label are kept: a statement of
/// thousands of lines is pointed at, not printed whole.
const MAX_LABEL_LINES: usize = 40;

impl Snippet {
    /// Points at `span` in `file`.
    pub fn new(file: &SourceFile, span: Span, label: impl Into<String>) -> Snippet {
        let name = file.path().display().to_string();
        let pos = file.line_col(span.start);
        let excerpt = Excerpt::around(file, span, pos.line);
        let end = span
            .end
            .min(excerpt.offset + excerpt.text.len())
            .max(span.start);
        Snippet {
            source: NamedSource::new(name.clone(), excerpt).with_language("sql"),
            span: SourceSpan::new(span.start.into(), end - span.start),
            label: label.into(),
            location: Location {
                file: name,
                line: pos.line,
                column: pos.column,
            },
        }
    }
}

/// The lines of a file around a label, with where they start: what the
/// renderer reads instead of a copy of the whole file, which made
/// rendering many findings in a large file take time and memory in
/// proportion to the file's size each (quadratic overall). Hand-written
/// because miette's own sources hold the whole text.
#[derive(Debug)]
struct Excerpt {
    text: String,
    /// Byte offset of `text` in the file.
    offset: usize,
    /// 0-based line of the file `text` starts on.
    first_line: usize,
}

impl Excerpt {
    /// The lines from [`CONTEXT_LINES`] before `span` (which starts on
    /// 1-based `line`) to as many after it, the span cut at
    /// [`MAX_LABEL_LINES`].
    fn around(file: &SourceFile, span: Span, line: usize) -> Excerpt {
        let text = file.text();
        let start_at = span.start.min(text.len());
        let mut offset = text[..start_at].rfind('\n').map_or(0, |i| i + 1);
        let mut first_line = line - 1;
        for _ in 0..CONTEXT_LINES {
            if offset == 0 {
                break;
            }
            offset = text[..offset - 1].rfind('\n').map_or(0, |i| i + 1);
            first_line -= 1;
        }
        // The end of the label's last line (at most MAX_LABEL_LINES in),
        // then of the lines after it.
        let line_end = |from: usize| text[from..].find('\n').map_or(text.len(), |i| from + i);
        let mut end = line_end(start_at);
        let mut label_lines = 1;
        while end < text.len() && end < span.end && label_lines < MAX_LABEL_LINES {
            end = line_end(end + 1);
            label_lines += 1;
        }
        for _ in 0..CONTEXT_LINES {
            if end < text.len() {
                end = line_end(end + 1);
            }
        }
        Excerpt {
            text: text[offset..end].to_string(),
            offset,
            first_line,
        }
    }
}

impl SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let local = SourceSpan::new(
            span.offset()
                .checked_sub(self.offset)
                .ok_or(MietteError::OutOfBounds)?
                .into(),
            span.len(),
        );
        let inner =
            self.text
                .as_str()
                .read_span(&local, context_lines_before, context_lines_after)?;
        Ok(Box::new(MietteSpanContents::new(
            inner.data(),
            SourceSpan::new(
                (inner.span().offset() + self.offset).into(),
                inner.span().len(),
            ),
            inner.line() + self.first_line,
            inner.column(),
            inner.line_count(),
        )))
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
            // Unwrapped output needs no line breaking, which was most of
            // the cost of printing many findings.
            .with_wrap_lines(color)
            .with_context_lines(CONTEXT_LINES);
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

#[cfg(test)]
mod excerpt_tests {
    use super::*;

    #[test]
    fn issue_11_a_snippet_holds_only_the_lines_it_shows() {
        let text: String = (1..=10_000).map(|i| format!("SELECT {i};\n")).collect();
        let file = SourceFile::new("big.sql", text.clone());
        let at = text.find("SELECT 5000;").unwrap();
        let snippet = Snippet::new(&file, Span::new(at, at + 6), "here");
        assert_eq!(snippet.location.line, 5000);
        let excerpt = snippet.source.inner();
        assert_eq!(
            excerpt.text,
            "SELECT 4998;\nSELECT 4999;\nSELECT 5000;\nSELECT 5001;\nSELECT 5002;"
        );
        let rendered = Problem::error("bad").with_snippet(snippet).render(false);
        assert!(rendered.contains("[big.sql:5000:1]"), "{rendered}");
        assert!(rendered.contains(" 4998 │ SELECT 4998;"), "{rendered}");
        assert!(rendered.contains(" 5002 │ SELECT 5002;"), "{rendered}");
        // At the very start and end of the file.
        let first = Problem::error("bad")
            .with_snippet(Snippet::new(&file, Span::new(0, 6), "here"))
            .render(false);
        assert!(first.contains("[big.sql:1:1]"), "{first}");
        let end = text.len();
        let last = Problem::error("bad")
            .with_snippet(Snippet::new(&file, Span::new(end, end), "here"))
            .render(false);
        assert!(last.contains("10000 │ SELECT 10000;"), "{last}");
    }
}
