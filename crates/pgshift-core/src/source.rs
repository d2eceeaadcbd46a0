//! Source files and positions in them.
//!
//! A [`SourceFile`] owns a file's text exactly as read (after UTF-8
//! validation). Positions are byte [`Span`]s; line and column are computed
//! only when something is displayed, from a line index built on first use.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use pgshift_lexer::Span;

/// A text file pgshift read: a migration, a rollback, an included file.
#[derive(Debug)]
pub struct SourceFile {
    path: PathBuf,
    text: String,
    line_starts: OnceLock<Vec<usize>>,
}

/// A 1-based line and column. The column counts characters, not bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct LineCol {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl SourceFile {
    /// Wraps text already read from `path`.
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        SourceFile {
            path: path.into(),
            text: text.into(),
            line_starts: OnceLock::new(),
        }
    }

    /// The path the file was read from, as given to the loader.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The whole text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text covered by `span`.
    pub fn slice(&self, span: Span) -> &str {
        &self.text[span.start..span.end]
    }

    /// Line and column of a byte offset (clamped to the text).
    pub fn line_col(&self, offset: usize) -> LineCol {
        let offset = offset.min(self.text.len());
        let starts = self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        });
        let line = starts.partition_point(|&s| s <= offset);
        let start = starts[line - 1];
        let column = self.text[start..offset].chars().count() + 1;
        LineCol { line, column }
    }

    /// Converts PostgreSQL's error position (1-based, counted in characters
    /// of the text that was sent) within the statement at `statement` into a
    /// byte offset in this file.
    pub fn offset_of_char_position(&self, statement: Span, position: u32) -> usize {
        let sent = self.slice(statement);
        let chars = (position as usize).saturating_sub(1);
        let within = sent
            .char_indices()
            .nth(chars)
            .map(|(i, _)| i)
            .unwrap_or(sent.len());
        statement.start + within
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let f = SourceFile::new("x.sql", "ab\ncé;d\n");
        assert_eq!(f.line_col(0), LineCol { line: 1, column: 1 });
        assert_eq!(f.line_col(3), LineCol { line: 2, column: 1 });
        // 'é' is two bytes; ';' is at byte 6, the third character of line 2.
        assert_eq!(f.line_col(6), LineCol { line: 2, column: 3 });
        assert_eq!(f.line_col(100), LineCol { line: 3, column: 1 });
    }

    #[test]
    fn error_position_maps_to_byte_offset() {
        let f = SourceFile::new("x.sql", "-- é\nSELECT 'é', nope;");
        let stmt = Span::new(f.text().find("SELECT").unwrap(), f.text().len());
        // PostgreSQL reports `nope` at character 13 of the statement text
        // (`é` is one character but two bytes).
        let at = f.offset_of_char_position(stmt, 13);
        assert_eq!(&f.text()[at..at + 4], "nope");
    }
}
