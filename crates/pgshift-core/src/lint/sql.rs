//! A statement seen as significant tokens, and the small amount of shape
//! recognition the rules need (what a `CREATE` or `DROP` names, the
//! actions of an `ALTER TABLE`).
//!
//! This is deliberately not a parser: it reads the lexer's tokens, so text
//! in comments, strings and dollar-quoted bodies never matches, and it
//! only looks at the top level of the statement (parenthesis depth 0) where
//! it matters. Anything it does not recognise yields `None`, and rules treat
//! that as "nothing to report".
//!
//! Only top-level tokens are kept, as spans into the file: the rows of a
//! bulk `INSERT … VALUES` are never held, so a statement's tokens take a
//! small fraction of its text.

use crate::source::{SourceFile, Span};
use pgshift_lexer::TokenKind;
use std::sync::Arc;

/// One significant top-level token (parenthesis depth 0, the outermost
/// parentheses included): trivia, meta-commands and everything inside
/// parentheses removed.
#[derive(Debug, Clone)]
pub(crate) struct Tok {
    pub kind: TokenKind,
    pub span: Span,
}

/// A statement's significant top-level tokens, spans relative to the file.
#[derive(Debug, Clone)]
pub(crate) struct Stmt {
    pub span: Span,
    pub toks: Vec<Tok>,
    /// How deep its parentheses nest (0: none).
    pub nesting: u32,
    file: Arc<SourceFile>,
}

/// A possibly qualified object name, normalised like PostgreSQL does
/// (unquoted identifiers fold to lower case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Name {
    pub schema: Option<String>,
    pub name: String,
    pub span: Span,
}

impl Name {
    /// Same object, as far as a static check can tell: equal names, and
    /// equal schemas when both are given.
    pub fn same(&self, other: &Name) -> bool {
        self.name == other.name
            && match (&self.schema, &other.schema) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

/// Kinds of objects the rules track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjKind {
    Table,
    Index,
    Schema,
    Sequence,
    Extension,
    Type,
    Domain,
    Function,
    Procedure,
    View,
    MaterializedView,
    Trigger,
    Policy,
    Database,
    Other,
}

impl ObjKind {
    pub fn label(self) -> &'static str {
        match self {
            ObjKind::Table => "table",
            ObjKind::Index => "index",
            ObjKind::Schema => "schema",
            ObjKind::Sequence => "sequence",
            ObjKind::Extension => "extension",
            ObjKind::Type => "type",
            ObjKind::Domain => "domain",
            ObjKind::Function => "function",
            ObjKind::Procedure => "procedure",
            ObjKind::View => "view",
            ObjKind::MaterializedView => "materialized view",
            ObjKind::Trigger => "trigger",
            ObjKind::Policy => "policy",
            ObjKind::Database => "database",
            ObjKind::Other => "object",
        }
    }
}

/// What a `CREATE` statement creates.
#[derive(Debug, Clone)]
pub(crate) struct Create {
    pub kind: ObjKind,
    pub or_replace: bool,
    pub if_not_exists: bool,
    pub concurrently: bool,
    pub name: Option<Name>,
    /// `ON table` of an index, trigger or policy.
    pub on: Option<Name>,
}

/// What a `DROP` statement drops.
#[derive(Debug, Clone)]
pub(crate) struct Drop {
    pub kind: ObjKind,
    pub if_exists: bool,
    pub concurrently: bool,
    pub names: Vec<Name>,
    pub cascade: bool,
    /// The index of the first token after the object kind, for spans.
    pub kind_span: Span,
}

/// One comma-separated action of `ALTER TABLE`.
#[derive(Debug, Clone)]
pub(crate) struct AlterAction {
    /// `ADD`/`DROP` of a column (not a constraint).
    pub column: Option<ColumnChange>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnChange {
    Add { if_not_exists: bool },
    Drop { if_exists: bool },
}

impl Stmt {
    /// Tokenizes `span` of `file` (a statement found by the splitter).
    pub fn new(file: &Arc<SourceFile>, span: Span) -> Stmt {
        let body = file.slice(span);
        let mut depth = 0u32;
        let mut nesting = 0;
        let mut toks = Vec::new();
        for t in pgshift_lexer::tokens(body) {
            if t.is_trivia() || t.kind == TokenKind::MetaCommand {
                continue;
            }
            // Both parentheses of a pair are at the depth outside them.
            let at = match t.kind {
                TokenKind::OpenParen => {
                    depth += 1;
                    nesting = nesting.max(depth);
                    depth - 1
                }
                TokenKind::CloseParen => {
                    depth = depth.saturating_sub(1);
                    depth
                }
                _ => depth,
            };
            if at == 0 {
                toks.push(Tok {
                    kind: t.kind,
                    span: Span::new(span.start + t.span.start, span.start + t.span.end),
                });
            }
        }
        Stmt {
            span,
            toks,
            nesting,
            file: Arc::clone(file),
        }
    }

    /// The token's text as written.
    pub fn text(&self, tok: &Tok) -> &str {
        self.file.slice(tok.span)
    }

    /// True when `tok` is the keyword `word` (uppercase).
    fn is(&self, tok: &Tok, word: &str) -> bool {
        tok.kind == TokenKind::Word && self.text(tok).eq_ignore_ascii_case(word)
    }

    /// The first keyword, uppercased.
    pub fn first(&self) -> Option<String> {
        self.toks
            .first()
            .filter(|t| t.kind == TokenKind::Word)
            .map(|t| self.text(t).to_ascii_uppercase())
    }

    /// True when top-level words `seq` appear consecutively from `from`.
    pub fn words_at(&self, from: usize, seq: &[&str]) -> bool {
        seq.iter()
            .enumerate()
            .all(|(i, w)| self.toks.get(from + i).is_some_and(|t| self.is(t, w)))
    }

    /// Position of the first top-level `seq` at or after `from`.
    pub fn find_top(&self, from: usize, seq: &[&str]) -> Option<usize> {
        (from..self.toks.len()).find(|&i| self.words_at(i, seq))
    }

    /// In `INSERT … VALUES (…), (…), …`, the rows after the first, from
    /// the comma after the first row to the end of the last.
    pub fn later_values_rows(&self) -> Option<Span> {
        if !self.words_at(0, &["INSERT"]) {
            return None;
        }
        let values = self.find_top(1, &["VALUES"])?;
        let is = |i: usize, kind: TokenKind| self.toks.get(i).is_some_and(|t| t.kind == kind);
        let row_at = |i: usize| is(i, TokenKind::OpenParen) && is(i + 1, TokenKind::CloseParen);
        if !row_at(values + 1) {
            return None;
        }
        let first_end = self.toks[values + 2].span.end;
        let mut i = values + 3;
        while self.toks.get(i).is_some_and(|t| self.text(t) == ",") && row_at(i + 1) {
            i += 3;
        }
        let end = self.toks[i - 1].span.end;
        (end > first_end).then(|| Span::new(first_end, end))
    }

    /// The span from the first token up to and including token `i`.
    pub fn head_span(&self, i: usize) -> Span {
        let end = self
            .toks
            .get(i)
            .or(self.toks.last())
            .map_or(self.span.end, |t| t.span.end);
        Span::new(self.span.start, end)
    }

    /// Reads a qualified name at `i`; returns it and the index after it.
    fn name_at(&self, mut i: usize) -> Option<(Name, usize)> {
        let mut parts = Vec::new();
        let start = self.toks.get(i)?.span.start;
        loop {
            let t = self.toks.get(i)?;
            let part = match t.kind {
                TokenKind::Word => self.text(t).to_ascii_lowercase(),
                TokenKind::QuotedIdent => self
                    .text(t)
                    .trim_start_matches(['U', 'u', '&'])
                    .trim_matches('"')
                    .replace("\"\"", "\""),
                _ => return None,
            };
            parts.push(part);
            i += 1;
            match self.toks.get(i) {
                Some(dot) if dot.kind == TokenKind::Operator && self.text(dot) == "." => i += 1,
                _ => break,
            }
        }
        let end = self.toks[i - 1].span.end;
        let name = parts.pop()?;
        let schema = parts.pop();
        Some((
            Name {
                schema,
                name,
                span: Span::new(start, end),
            },
            i,
        ))
    }

    /// Recognises `CREATE [OR REPLACE] [modifiers] kind …`.
    pub fn create(&self) -> Option<Create> {
        if !self.words_at(0, &["CREATE"]) {
            return None;
        }
        let mut i = 1;
        let mut or_replace = false;
        if self.words_at(i, &["OR", "REPLACE"]) {
            or_replace = true;
            i += 2;
        }
        while self.toks.get(i).is_some_and(|t| {
            [
                "TEMP",
                "TEMPORARY",
                "UNLOGGED",
                "GLOBAL",
                "LOCAL",
                "UNIQUE",
                "RECURSIVE",
                "CONSTRAINT",
                "TRUSTED",
                "PROCEDURAL",
            ]
            .iter()
            .any(|w| self.is(t, w))
        }) {
            i += 1;
        }
        let (kind, width) = kind_at(self, i)?;
        i += width;
        let mut concurrently = false;
        if self.words_at(i, &["CONCURRENTLY"]) {
            concurrently = true;
            i += 1;
        }
        let mut if_not_exists = false;
        if self.words_at(i, &["IF", "NOT", "EXISTS"]) {
            if_not_exists = true;
            i += 3;
        }
        if kind == ObjKind::Schema && self.words_at(i, &["AUTHORIZATION"]) {
            i += 1;
        }
        let name = if self.words_at(i, &["ON"]) {
            None
        } else {
            self.name_at(i).map(|(n, next)| {
                i = next;
                n
            })
        };
        let on = match kind {
            ObjKind::Index | ObjKind::Trigger | ObjKind::Policy => {
                let on = self.find_top(i, &["ON"])?;
                let at = if self.words_at(on + 1, &["ONLY"]) {
                    on + 2
                } else {
                    on + 1
                };
                self.name_at(at).map(|(n, _)| n)
            }
            _ => None,
        };
        Some(Create {
            kind,
            or_replace,
            if_not_exists,
            concurrently,
            name,
            on,
        })
    }

    /// Recognises `DROP kind [CONCURRENTLY] [IF EXISTS] name[, …]`.
    pub fn drop(&self) -> Option<Drop> {
        if !self.words_at(0, &["DROP"]) {
            return None;
        }
        let (kind, width) = kind_at(self, 1)?;
        let mut i = 1 + width;
        let kind_span = Span::new(self.span.start, self.toks[i - 1].span.end);
        let mut concurrently = false;
        if self.words_at(i, &["CONCURRENTLY"]) {
            concurrently = true;
            i += 1;
        }
        let mut if_exists = false;
        if self.words_at(i, &["IF", "EXISTS"]) {
            if_exists = true;
            i += 2;
        }
        let mut names = Vec::new();
        while let Some((name, next)) = self.name_at(i) {
            names.push(name);
            i = next;
            // Skip a function's argument list (its parentheses).
            if self
                .toks
                .get(i)
                .is_some_and(|t| t.kind == TokenKind::OpenParen)
            {
                i += 1;
                while self
                    .toks
                    .get(i)
                    .is_some_and(|t| t.kind != TokenKind::CloseParen)
                {
                    i += 1;
                }
                i += 1;
            }
            if matches!(kind, ObjKind::Trigger | ObjKind::Policy) {
                break;
            }
            match self.toks.get(i) {
                Some(t) if self.text(t) == "," => i += 1,
                _ => break,
            }
        }
        let cascade = self.find_top(i, &["CASCADE"]).is_some();
        Some(Drop {
            kind,
            if_exists,
            concurrently,
            names,
            cascade,
            kind_span,
        })
    }

    /// The target and actions of `ALTER TABLE`, or `None`.
    pub fn alter_table(&self) -> Option<(Name, Vec<AlterAction>)> {
        if !self.words_at(0, &["ALTER", "TABLE"]) {
            return None;
        }
        let mut i = 2;
        if self.words_at(i, &["IF", "EXISTS"]) {
            i += 2;
        }
        if self.words_at(i, &["ONLY"]) {
            i += 1;
        }
        let (table, mut i) = self.name_at(i)?;
        if self.toks.get(i).is_some_and(|t| self.text(t) == "*") {
            i += 1;
        }
        let mut actions = Vec::new();
        while i < self.toks.len() {
            let start = i;
            while i < self.toks.len() && !matches!(self.text(&self.toks[i]), "," | ";") {
                i += 1;
            }
            if start < i {
                let span = Span::new(self.toks[start].span.start, self.toks[i - 1].span.end);
                actions.push(AlterAction {
                    column: self.column_change(start),
                    span,
                });
            }
            i += 1;
        }
        Some((table, actions))
    }

    fn column_change(&self, i: usize) -> Option<ColumnChange> {
        const CONSTRAINTS: [&str; 6] = [
            "CONSTRAINT",
            "PRIMARY",
            "UNIQUE",
            "CHECK",
            "FOREIGN",
            "EXCLUDE",
        ];
        let add = self.words_at(i, &["ADD"]);
        if !add && !self.words_at(i, &["DROP"]) {
            return None;
        }
        let mut j = i + 1;
        if self.words_at(j, &["COLUMN"]) {
            j += 1;
        } else if CONSTRAINTS.iter().any(|w| self.words_at(j, &[w])) {
            return None;
        }
        Some(if add {
            ColumnChange::Add {
                if_not_exists: self.words_at(j, &["IF", "NOT", "EXISTS"]),
            }
        } else {
            ColumnChange::Drop {
                if_exists: self.words_at(j, &["IF", "EXISTS"]),
            }
        })
    }
}

/// The object kind at `i` and how many words it takes.
fn kind_at(stmt: &Stmt, i: usize) -> Option<(ObjKind, usize)> {
    let word = stmt.toks.get(i).filter(|t| t.kind == TokenKind::Word)?;
    Some(match stmt.text(word).to_ascii_uppercase().as_str() {
        "TABLE" => (ObjKind::Table, 1),
        "INDEX" => (ObjKind::Index, 1),
        "SCHEMA" => (ObjKind::Schema, 1),
        "SEQUENCE" => (ObjKind::Sequence, 1),
        "EXTENSION" => (ObjKind::Extension, 1),
        "TYPE" => (ObjKind::Type, 1),
        "DOMAIN" => (ObjKind::Domain, 1),
        "FUNCTION" => (ObjKind::Function, 1),
        "PROCEDURE" => (ObjKind::Procedure, 1),
        "VIEW" => (ObjKind::View, 1),
        "TRIGGER" => (ObjKind::Trigger, 1),
        "POLICY" => (ObjKind::Policy, 1),
        "DATABASE" => (ObjKind::Database, 1),
        "MATERIALIZED" if stmt.words_at(i + 1, &["VIEW"]) => (ObjKind::MaterializedView, 2),
        "FOREIGN" if stmt.words_at(i + 1, &["TABLE"]) => (ObjKind::Table, 2),
        "OWNED" | "OPERATOR" => return None,
        "ROLE" | "USER" | "GROUP" | "AGGREGATE" | "ROUTINE" | "RULE" | "SERVER" | "COLLATION"
        | "CONVERSION" | "STATISTICS" | "TABLESPACE" | "PUBLICATION" | "SUBSCRIPTION" | "CAST"
        | "LANGUAGE" | "TRANSFORM" | "ACCESS" | "EVENT" | "TEXT" => (ObjKind::Other, 1),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt(sql: &str) -> Stmt {
        Stmt::new(
            &Arc::new(SourceFile::new("t.sql", sql)),
            Span::new(0, sql.len()),
        )
    }

    #[test]
    fn only_top_level_tokens_are_kept() {
        let s = stmt("INSERT INTO t (a, b) VALUES (1, (2)), (3, 4) ON CONFLICT DO NOTHING;");
        let texts: Vec<&str> = s.toks.iter().map(|t| s.text(t)).collect();
        assert_eq!(
            texts,
            [
                "INSERT", "INTO", "t", "(", ")", "VALUES", "(", ")", ",", "(", ")", "ON",
                "CONFLICT", "DO", "NOTHING", ";"
            ]
        );
        assert_eq!(s.nesting, 2);
        let rows = s.later_values_rows().expect("two rows");
        let sql = "INSERT INTO t (a, b) VALUES (1, (2)), (3, 4) ON CONFLICT DO NOTHING;";
        assert_eq!(&sql[rows.start..rows.end], ", (3, 4)");
        assert!(stmt("INSERT INTO t VALUES (1);")
            .later_values_rows()
            .is_none());
        assert!(stmt("INSERT INTO t SELECT 1, 2;")
            .later_values_rows()
            .is_none());
        assert!(s.find_top(0, &["ON", "CONFLICT"]).is_some());
    }

    #[test]
    fn create_index_shapes() {
        let c = stmt("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS \"Ix\" ON public.t (a);")
            .create()
            .unwrap();
        assert_eq!(c.kind, ObjKind::Index);
        assert!(c.concurrently && c.if_not_exists);
        assert_eq!(c.name.unwrap().name, "Ix");
        assert_eq!(c.on.unwrap().schema.as_deref(), Some("public"));
        let c = stmt("create index on T (a)").create().unwrap();
        assert!(c.name.is_none());
        assert_eq!(c.on.unwrap().name, "t");
    }

    #[test]
    fn drop_lists_names() {
        let d = stmt("DROP FUNCTION IF EXISTS f(int, text), s.g() CASCADE;")
            .drop()
            .unwrap();
        assert!(d.if_exists && d.cascade);
        let names: Vec<_> = d.names.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["f", "g"]);
        let d = stmt("DROP TRIGGER t ON users;").drop().unwrap();
        assert_eq!(d.names.len(), 1);
    }

    #[test]
    fn alter_table_actions() {
        let (t, actions) = stmt(
            "ALTER TABLE ONLY users ADD COLUMN IF NOT EXISTS a int, ADD b int DEFAULT f(1, 2), \
             ADD CONSTRAINT c CHECK (a > 0), DROP COLUMN d, ALTER COLUMN e DROP NOT NULL;",
        )
        .alter_table()
        .unwrap();
        assert_eq!(t.name, "users");
        let changes: Vec<_> = actions.iter().map(|a| a.column).collect();
        assert_eq!(
            changes,
            [
                Some(ColumnChange::Add {
                    if_not_exists: true
                }),
                Some(ColumnChange::Add {
                    if_not_exists: false
                }),
                None,
                Some(ColumnChange::Drop { if_exists: false }),
                None,
            ]
        );
    }
}
