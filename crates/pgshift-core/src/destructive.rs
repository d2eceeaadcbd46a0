//! Statements that destroy data, found before they run.
//!
//! `rollback` (and `up`, for a pending migration that contains one) lists
//! these with the number of rows at stake and asks the user to confirm. The
//! analysis reads the lexer's tokens of each top-level statement, so text in
//! comments, strings and function bodies never counts. It knows the
//! statements the seed warns about: `DROP TABLE`, `DROP SCHEMA`, `DROP
//! TYPE`, `ALTER TABLE … DROP [COLUMN]`, `TRUNCATE` and `DELETE` without
//! `WHERE`. Add a pattern by extending [`classify`].

use crate::script::Script;
use crate::source::{SourceFile, Span};
use pgshift_lexer::{Token, TokenKind};
use std::sync::Arc;

/// What a destructive statement does.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Loss {
    /// `DROP TABLE t`: every row of `t`.
    DropTable {
        /// The table as written.
        table: String,
    },
    /// `DROP SCHEMA s`: everything in it (with CASCADE) or nothing.
    DropSchema {
        /// The schema as written.
        schema: String,
    },
    /// `DROP TYPE t`.
    DropType {
        /// The type as written.
        name: String,
    },
    /// `ALTER TABLE t DROP COLUMN c`: the column's values in every row.
    DropColumn {
        /// The table as written.
        table: String,
        /// The column.
        column: String,
    },
    /// `TRUNCATE t`: every row.
    Truncate {
        /// The table as written.
        table: String,
    },
    /// `DELETE FROM t` without `WHERE`: every row.
    DeleteAll {
        /// The table as written.
        table: String,
    },
}

impl Loss {
    /// The table whose rows are at stake, if any.
    pub fn table(&self) -> Option<&str> {
        match self {
            Loss::DropTable { table }
            | Loss::DropColumn { table, .. }
            | Loss::Truncate { table }
            | Loss::DeleteAll { table } => Some(table),
            Loss::DropSchema { .. } | Loss::DropType { .. } => None,
        }
    }
}

impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Loss::DropTable { table } => write!(f, "DROP TABLE {table}"),
            Loss::DropSchema { schema } => write!(f, "DROP SCHEMA {schema}"),
            Loss::DropType { name } => write!(f, "DROP TYPE {name}"),
            Loss::DropColumn { table, column } => write!(f, "DROP COLUMN {table}.{column}"),
            Loss::Truncate { table } => write!(f, "TRUNCATE {table}"),
            Loss::DeleteAll { table } => write!(f, "DELETE FROM {table} (no WHERE)"),
        }
    }
}

/// A destructive statement and where it is.
#[derive(Debug, Clone)]
pub struct Destructive {
    /// What it destroys.
    pub loss: Loss,
    /// The file holding the statement.
    pub file: Arc<SourceFile>,
    /// The statement.
    pub span: Span,
}

/// A destructive statement and how many rows are at stake now: what the
/// confirmation lists and `--dry-run` writes above the statement.
#[derive(Debug, Clone)]
pub struct Stake {
    /// The statement.
    pub destructive: Destructive,
    /// Live rows of its table; `None` when the statement names no table,
    /// the table does not exist, or counting took too long.
    pub rows: Option<i64>,
}

impl std::fmt::Display for Stake {
    /// `DROP TABLE users — 1,204 row(s) will be lost`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.destructive.loss)?;
        match (self.destructive.loss.table(), self.rows) {
            (Some(_), Some(n)) => write!(f, " — {} row(s) will be lost", group_thousands(n)),
            (Some(_), None) => write!(f, " — table not found now"),
            (None, _) => Ok(()),
        }
    }
}

/// `1204` → `1,204`.
pub fn group_thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

/// Every destructive statement of a script, in order.
pub fn find(script: &Script) -> Vec<Destructive> {
    let mut found = Vec::new();
    for step in &script.steps {
        if let crate::script::Step::Sql { file, span, .. } = step {
            let source = &script.files[*file];
            let text = source.slice(*span);
            for loss in classify(text) {
                found.push(Destructive {
                    loss,
                    file: Arc::clone(source),
                    span: *span,
                });
            }
        }
    }
    found
}

/// The losses one statement causes.
pub fn classify(sql: &str) -> Vec<Loss> {
    let mut significant = pgshift_lexer::tokens(sql)
        .filter(|t| !t.is_trivia())
        .peekable();
    let first = significant.peek().map(|t| t.text(sql).to_ascii_uppercase());
    if !matches!(
        first.as_deref(),
        Some("DROP" | "TRUNCATE" | "DELETE" | "ALTER")
    ) {
        // Not one of the statements below: no need to hold the tokens of,
        // say, a bulk INSERT.
        return Vec::new();
    }
    let tokens: Vec<Token> = significant.collect();
    let mut cursor = Cursor {
        sql,
        tokens: &tokens,
        at: 0,
    };
    match cursor.word().as_deref() {
        Some("DROP") => match cursor.word().as_deref() {
            Some("TABLE") => {
                cursor.skip_words(&["IF", "EXISTS"]);
                cursor
                    .names()
                    .into_iter()
                    .map(|table| Loss::DropTable { table })
                    .collect()
            }
            Some("SCHEMA") => {
                cursor.skip_words(&["IF", "EXISTS"]);
                cursor
                    .names()
                    .into_iter()
                    .map(|schema| Loss::DropSchema { schema })
                    .collect()
            }
            Some("TYPE") => {
                cursor.skip_words(&["IF", "EXISTS"]);
                cursor
                    .names()
                    .into_iter()
                    .map(|name| Loss::DropType { name })
                    .collect()
            }
            _ => Vec::new(),
        },
        Some("TRUNCATE") => {
            cursor.skip_words(&["TABLE"]);
            cursor.skip_words(&["ONLY"]);
            cursor
                .names()
                .into_iter()
                .map(|table| Loss::Truncate { table })
                .collect()
        }
        Some("DELETE") => {
            if cursor.word().as_deref() != Some("FROM") {
                return Vec::new();
            }
            cursor.skip_words(&["ONLY"]);
            let Some(table) = cursor.name() else {
                return Vec::new();
            };
            // `WHERE` at parenthesis depth 0 (not in a subquery or CTE).
            let mut depth = 0i32;
            let has_where = tokens[cursor.at..].iter().any(|t| {
                match t.kind {
                    TokenKind::OpenParen => depth += 1,
                    TokenKind::CloseParen => depth -= 1,
                    _ => {}
                }
                depth == 0 && t.kind == TokenKind::Word && t.text(sql).eq_ignore_ascii_case("WHERE")
            });
            if has_where {
                Vec::new()
            } else {
                vec![Loss::DeleteAll { table }]
            }
        }
        Some("ALTER") => {
            if cursor.word().as_deref() != Some("TABLE") {
                return Vec::new();
            }
            cursor.skip_words(&["IF", "EXISTS"]);
            cursor.skip_words(&["ONLY"]);
            let Some(table) = cursor.name() else {
                return Vec::new();
            };
            let mut losses = Vec::new();
            // Each comma-separated action: `DROP [COLUMN] [IF EXISTS] c`.
            while cursor.at < tokens.len() {
                if cursor.peek_word().as_deref() == Some("DROP") {
                    cursor.at += 1;
                    let word = cursor.peek_word();
                    if word.as_deref() != Some("CONSTRAINT") {
                        if word.as_deref() == Some("COLUMN") {
                            cursor.at += 1;
                        }
                        cursor.skip_words(&["IF", "EXISTS"]);
                        if let Some(column) = cursor.name() {
                            losses.push(Loss::DropColumn {
                                table: table.clone(),
                                column,
                            });
                        }
                    }
                }
                cursor.at += 1;
            }
            losses
        }
        _ => Vec::new(),
    }
}

/// Reads words and names off a statement's tokens.
struct Cursor<'a> {
    sql: &'a str,
    tokens: &'a [Token],
    at: usize,
}

impl Cursor<'_> {
    fn peek_word(&self) -> Option<String> {
        let t = self.tokens.get(self.at)?;
        (t.kind == TokenKind::Word).then(|| t.text(self.sql).to_ascii_uppercase())
    }

    fn word(&mut self) -> Option<String> {
        let word = self.peek_word()?;
        self.at += 1;
        Some(word)
    }

    /// Skips `words` if they come next, in order, all of them.
    fn skip_words(&mut self, words: &[&str]) {
        let matches = words.iter().enumerate().all(|(i, w)| {
            self.tokens.get(self.at + i).is_some_and(|t| {
                t.kind == TokenKind::Word && t.text(self.sql).eq_ignore_ascii_case(w)
            })
        });
        if matches {
            self.at += words.len();
        }
    }

    /// A possibly qualified name, as written (`public.users`, `"Odd"."T"`).
    fn name(&mut self) -> Option<String> {
        let mut name = String::new();
        loop {
            let t = self.tokens.get(self.at)?;
            if !matches!(t.kind, TokenKind::Word | TokenKind::QuotedIdent) {
                return (!name.is_empty()).then_some(name);
            }
            name.push_str(t.text(self.sql));
            self.at += 1;
            match self.tokens.get(self.at) {
                Some(dot) if dot.kind == TokenKind::Operator && dot.text(self.sql) == "." => {
                    name.push('.');
                    self.at += 1;
                }
                _ => return Some(name),
            }
        }
    }

    /// A comma-separated list of names.
    fn names(&mut self) -> Vec<String> {
        let mut names = Vec::new();
        while let Some(name) = self.name() {
            names.push(name);
            match self.tokens.get(self.at) {
                Some(t) if t.kind == TokenKind::Operator && t.text(self.sql) == "," => self.at += 1,
                _ => break,
            }
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn losses(sql: &str) -> Vec<String> {
        classify(sql).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(group_thousands(1204), "1,204");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1_000_000), "1,000,000");
        assert_eq!(group_thousands(-1234), "-1,234");
    }

    #[test]
    fn destructive_statements_are_recognised() {
        assert_eq!(
            losses("DROP TABLE IF EXISTS a, public.b CASCADE;"),
            ["DROP TABLE a", "DROP TABLE public.b"]
        );
        assert_eq!(losses("drop schema app cascade"), ["DROP SCHEMA app"]);
        assert_eq!(losses("DROP TYPE IF EXISTS status;"), ["DROP TYPE status"]);
        assert_eq!(
            losses("TRUNCATE TABLE ONLY \"Users\";"),
            ["TRUNCATE \"Users\""]
        );
        assert_eq!(
            losses("DELETE FROM sessions;"),
            ["DELETE FROM sessions (no WHERE)"]
        );
        assert_eq!(
            losses(
                "ALTER TABLE users DROP COLUMN IF EXISTS avatar, DROP nickname, DROP CONSTRAINT c;"
            ),
            ["DROP COLUMN users.avatar", "DROP COLUMN users.nickname"]
        );
    }

    #[test]
    fn harmless_look_alikes_are_not() {
        assert!(losses("DELETE FROM sessions WHERE expires_at < now();").is_empty());
        assert!(losses("DELETE FROM t USING (SELECT 1) s WHERE true").is_empty());
        assert!(losses("DROP INDEX IF EXISTS users_email_idx;").is_empty());
        assert!(losses("DROP TRIGGER IF EXISTS t ON users;").is_empty());
        assert!(losses("ALTER TABLE users DROP CONSTRAINT users_pkey;").is_empty());
        assert!(losses("-- DROP TABLE users;\nSELECT 'DROP TABLE users';").is_empty());
        assert!(losses("DO $$ BEGIN DROP TABLE users; END $$;").is_empty());
    }
}
