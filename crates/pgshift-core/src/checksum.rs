//! The checksum pgshift records for every applied migration.
//!
//! Persisted format (a compatibility promise: changing it would make every
//! applied migration look modified): lowercase hex SHA-256 of the file's
//! text after normalisation, followed by the normalised text of each file it
//! includes with `\i`/`\ir`, in the order they are first included.
//! Normalisation removes a leading UTF-8 byte order mark and turns every
//! CRLF into LF, so a Windows checkout (git `autocrlf`) does not look
//! modified. Nothing else changes: a comment edit is a change.

use sha2::{Digest, Sha256};
use std::fmt;

/// SHA-256 of a migration's normalised text, as 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Checksum(String);

impl Checksum {
    /// Checksum of one text (a migration without includes).
    pub fn of(text: &str) -> Self {
        Self::of_parts([text])
    }

    /// Checksum of a file followed by the files it includes.
    pub fn of_parts<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut hasher = Sha256::new();
        for text in texts {
            let text = text.strip_prefix('\u{feff}').unwrap_or(text);
            // Feed the text with every CRLF folded into LF, without copying it.
            let mut rest = text;
            while let Some(i) = rest.find("\r\n") {
                hasher.update(&rest.as_bytes()[..i]);
                hasher.update(b"\n");
                rest = &rest[i + 2..];
            }
            hasher.update(rest.as_bytes());
        }
        Checksum::finish(hasher)
    }

    /// Checksum of what a migration *says*, ignoring how it is laid out:
    /// SHA-256 over the text of every token that is not whitespace or a
    /// comment (as psql's lexer splits them), each followed by a NUL, with
    /// a 0x01 byte between files. Two versions of a file that differ only
    /// in comments and whitespace have the same statements checksum.
    ///
    /// Persisted format: recorded in the audit trail's
    /// `statements_checksum` column at apply time, and compared by
    /// `pgshift accept`. CRLF inside a token counts as LF, as for
    /// [`Checksum::of_parts`].
    pub fn of_statements<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut hasher = Sha256::new();
        for text in texts {
            for token in pgshift_lexer::tokens(text) {
                if token.is_trivia() {
                    continue;
                }
                let mut rest = token.text(text);
                while let Some(i) = rest.find("\r\n") {
                    hasher.update(&rest.as_bytes()[..i]);
                    hasher.update(b"\n");
                    rest = &rest[i + 2..];
                }
                hasher.update(rest.as_bytes());
                hasher.update(b"\0");
            }
            hasher.update(b"\x01");
        }
        Checksum::finish(hasher)
    }

    fn finish(hasher: Sha256) -> Self {
        // generic-array's LowerHex writes all 64 digits at once; a
        // `write!` per byte was 4% of a no-op `up` at 1,000 migrations.
        Checksum(format!("{:x}", hasher.finalize()))
    }

    /// Wraps a checksum read from the tracking table.
    pub fn from_recorded(hex: impl Into<String>) -> Self {
        Checksum(hex.into())
    }

    /// The hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 hex digits, for tables.
    pub fn short(&self) -> &str {
        &self.0[..self.0.len().min(12)]
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_checksum_ignores_comments_and_layout_only() {
        let a = Checksum::of_statements(["-- users\nCREATE TABLE t (id int);\n"]);
        let b = Checksum::of_statements([
            "/* fixed typo */ CREATE TABLE t (\r\n  id int\r\n) ; -- x\n",
        ]);
        let c = Checksum::of_statements(["CREATE TABLE t (id bigint);\n"]);
        let d = Checksum::of_statements(["CREATE TABLE t (id int); SELECT '--not a comment';"]);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert_ne!(
            Checksum::of_statements(["SELECT 'a  b';"]),
            Checksum::of_statements(["SELECT 'a b';"]),
            "whitespace inside a string literal is data"
        );
        assert_eq!(
            Checksum::of_statements(["SELECT 'a\r\nb\r\n';"]),
            Checksum::of_statements(["SELECT 'a\nb\n';"]),
            "CRLF inside a token counts as LF"
        );
    }

    /// Golden: the statements checksum is persisted in the audit trail.
    #[test]
    fn golden_statements_checksum() {
        assert_eq!(
            Checksum::of_statements(["CREATE TABLE IF NOT EXISTS t (id int);\n"]).as_str(),
            // sha256 of each token + NUL, then 0x01, computed independently.
            "e26ef43297eea82dff667824238613b10dc388a67a95e4f49ea02badf3cbd7a3"
        );
    }

    /// Golden value: this is what existing databases store. Never change it.
    #[test]
    fn golden_checksum_of_known_text() {
        let text = "CREATE TABLE IF NOT EXISTS t (id int);\n";
        assert_eq!(
            Checksum::of(text).as_str(),
            "b3c133340683afe6badedf7e80077c16dd37fc7e2d547bd8c3f88fb4ef1c4814"
        );
    }

    #[test]
    fn crlf_and_bom_do_not_change_the_checksum() {
        let unix = "SELECT 1;\nSELECT 2;\n";
        assert_eq!(
            Checksum::of(unix),
            Checksum::of("SELECT 1;\r\nSELECT 2;\r\n")
        );
        assert_eq!(
            Checksum::of(unix),
            Checksum::of("\u{feff}SELECT 1;\nSELECT 2;\n")
        );
        assert_ne!(Checksum::of(unix), Checksum::of("SELECT 1;\nSELECT 3;\n"));
    }

    #[test]
    fn includes_are_part_of_the_checksum() {
        assert_ne!(Checksum::of_parts(["a", "b"]), Checksum::of("a"));
        assert_eq!(Checksum::of_parts(["a", "b"]), Checksum::of("ab"));
    }
}
