//! Several statements of a migration sent as one query.
//!
//! The first attempt of a transactional migration sends runs of consecutive
//! statements of one file together, `BEGIN;` in front of the first: one
//! round trip where one per statement would be several. The server counts
//! the positions it reports (of an error, of a notice) in characters of the
//! whole text sent, so each statement's character offset is kept to map a
//! position back to its statement and file.
//!
//! A batch holds the migration's text only: pgshift's tracking row and
//! `COMMIT` follow in a query of their own, so a statement left open at
//! the end of the file cannot swallow them.
//!
//! What a batch cannot tell is which of its statements failed when the
//! error carries no position (a constraint violation, "already exists"):
//! the synchronous client reports the error but not how many statements
//! completed before it. The executor then rolls back and runs the
//! migration again one statement at a time (see `Executor::run_transactional`).
//! Written by hand because no client crate maps positions in a
//! multi-statement query back to the statements it was built from.
//!
//! A statement of [`MAX_BYTES`] or more is a batch of its own, sent as the
//! file holds it rather than copied into a query text (its `BEGIN` goes
//! first, on its own): a 50 MB `INSERT` would otherwise be held twice.

use crate::script::{Script, Step};
use crate::source::{SourceFile, Span};
use std::sync::Arc;

/// At most this many statements go in one query, so the interactive
/// "statement N/M" progress still moves on a long file.
const MAX_STATEMENTS: usize = 100;

/// A batch stops growing once its text reaches this size.
const MAX_BYTES: usize = 256 * 1024;

/// Sent in front of a transaction's first statement: one round trip less
/// than a `BEGIN` of its own.
const BEGIN_PREFIX: &str = "BEGIN;";

/// True for `SET` and `RESET`. The server reads a whole query before it
/// runs any of it, so a setting that changes how SQL is read
/// (`standard_conforming_strings`, `backslash_quote`) would not apply to
/// the statements after it in the same query, as it does under psql: such
/// a statement ends its batch.
fn changes_settings(sql: &str) -> bool {
    first_word_is(sql, "set") || first_word_is(sql, "reset")
}

/// True when `sql` starts with the keyword `word` (any case).
fn first_word_is(sql: &str, word: &str) -> bool {
    let first = sql
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("");
    first.eq_ignore_ascii_case(word)
}

/// Consecutive statements of one file, joined into one query text.
#[derive(Debug)]
pub(super) struct Batch {
    /// Index into [`Script::files`].
    pub file: usize,
    /// Index into [`Script::steps`] of the first statement.
    pub first_step: usize,
    /// 1-based number of the first statement among the script's statements.
    pub first_statement: usize,
    /// Each statement's span in the file, and the character offsets at
    /// which it starts and ends in the query.
    parts: Vec<Part>,
    /// The query sent.
    query: Query,
    /// `BEGIN` must be sent before the query (a large statement's, which
    /// is sent as it is).
    pub begin_first: bool,
}

/// What a batch sends.
#[derive(Debug)]
enum Query {
    /// Statements joined into one text, with what goes around them.
    Joined(String),
    /// One large statement, as its file holds it.
    Whole(Arc<SourceFile>, Span),
}

#[derive(Debug, Clone, Copy)]
struct Part {
    span: Span,
    start: usize,
    end: usize,
}

/// Where a position the server reported for a batch falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Located {
    /// 0-based index of the statement within the batch.
    pub index: usize,
    /// The statement's span in its file.
    pub span: Span,
    /// The position counted within that statement's own text (1-based),
    /// as the server would have reported it had the statement been sent
    /// alone.
    pub position: u32,
}

impl Batch {
    /// The batch that starts at `script.steps[first_step]`, which must be a
    /// SQL step: it and the SQL steps right after it from the same file,
    /// within the size limits. `first_statement` is the statement number of
    /// that first step; `begin` puts [`BEGIN_PREFIX`] in front.
    pub fn collect(
        script: &Script,
        first_step: usize,
        first_statement: usize,
        begin: bool,
    ) -> Batch {
        Batch::up_to(MAX_STATEMENTS, script, first_step, first_statement, begin)
    }

    /// The statement at `script.steps[step]` alone, as [`Self::collect`].
    pub fn single(script: &Script, step: usize, statement: usize, begin: bool) -> Batch {
        Batch::up_to(1, script, step, statement, begin)
    }

    fn up_to(
        max_statements: usize,
        script: &Script,
        first_step: usize,
        first_statement: usize,
        begin: bool,
    ) -> Batch {
        let mut batch = Batch {
            file: 0,
            first_step,
            first_statement,
            parts: Vec::new(),
            query: Query::Joined(String::new()),
            begin_first: false,
        };
        if let Some(Step::Sql { file, span, .. }) = script.steps.get(first_step) {
            if span.len() >= MAX_BYTES {
                let source = &script.files[*file];
                batch.file = *file;
                batch.parts.push(Part {
                    span: *span,
                    start: 0,
                    end: source.slice(*span).chars().count(),
                });
                batch.query = Query::Whole(Arc::clone(source), *span);
                batch.begin_first = begin;
                return batch;
            }
        }
        let mut text = String::new();
        if begin {
            text.push_str(BEGIN_PREFIX);
        }
        let mut chars = text.chars().count();
        for step in &script.steps[first_step..] {
            let Step::Sql { file, span, .. } = step else {
                break;
            };
            if batch.parts.is_empty() {
                batch.file = *file;
            } else if *file != batch.file
                || batch.parts.len() == max_statements
                || text.len() >= MAX_BYTES
                || span.len() >= MAX_BYTES
            {
                break;
            } else {
                // Statements end at their semicolon (the last one of a
                // file may have none); a line break keeps them apart.
                text.push('\n');
                chars += 1;
            }
            let sql = script.files[*file].slice(*span);
            let start = chars;
            text.push_str(sql);
            chars += sql.chars().count();
            batch.parts.push(Part {
                span: *span,
                start,
                end: chars,
            });
            if changes_settings(sql) {
                break;
            }
        }
        assert!(
            !batch.parts.is_empty(),
            "a batch starts at a SQL step ({first_step})"
        );
        batch.query = Query::Joined(text);
        batch
    }

    /// The query to send.
    pub fn text(&self) -> &str {
        match &self.query {
            Query::Joined(text) => text,
            Query::Whole(file, span) => file.slice(*span),
        }
    }

    /// True when an error without a position can only have come from the
    /// batch's one statement.
    pub fn is_lone_statement(&self) -> bool {
        self.parts.len() == 1
    }

    /// Statements in the batch.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    /// 1-based number of the last statement among the script's statements.
    pub fn last_statement(&self) -> usize {
        self.first_statement + self.parts.len() - 1
    }

    /// From the first statement's start to the last one's end.
    pub fn span(&self) -> Span {
        let first = self.parts[0].span;
        let last = self.parts[self.parts.len() - 1].span;
        Span::new(first.start, last.end)
    }

    /// The batch's one `DO` statement, if it has exactly one: where a
    /// notice raised by an anonymous code block (its CONTEXT names
    /// `inline_code_block`) came from, though it carries no position.
    pub fn lone_do_block(&self, file: &SourceFile) -> Option<Span> {
        let mut blocks = self
            .parts
            .iter()
            .filter(|part| first_word_is(file.slice(part.span), "do"));
        let block = blocks.next()?;
        blocks.next().is_none().then_some(block.span)
    }

    /// The statement holding `position` (1-based, in characters of
    /// [`Self::text`]), or `None` when it points at no statement of the
    /// script (`BEGIN;`).
    pub fn locate(&self, position: u32) -> Option<Located> {
        let at = (position as usize).checked_sub(1)?;
        let index = self
            .parts
            .partition_point(|part| part.start <= at)
            .checked_sub(1)?;
        let part = self.parts[index];
        (at < part.end).then(|| Located {
            index,
            span: part.span,
            position: u32::try_from(at - part.start + 1).unwrap_or(u32::MAX),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::TransactionMode;

    fn script(text: &str) -> Script {
        Script::parse(
            SourceFile::new("m.sql", text),
            TransactionMode::Transactional,
        )
        .unwrap()
    }

    #[test]
    fn joins_statements_with_begin_in_front() {
        let text = "CREATE TABLE t (id int);\nINSERT INTO t -- one row\n  VALUES (1);\nSELECT 1";
        let s = script(text);
        let batch = Batch::collect(&s, 0, 1, true);
        assert_eq!(batch.len(), 3);
        assert_eq!(batch.text(), format!("BEGIN;{text}"));
        assert_eq!(batch.last_statement(), 3);
        assert_eq!(
            s.files[0].slice(batch.span()),
            text,
            "the batch spans the whole file"
        );
    }

    #[test]
    fn positions_map_back_to_their_statement_in_characters() {
        // 'é' is one character of two bytes: positions count characters.
        let s = script("SELECT 'é';\nSELECT nope;\n");
        let batch = Batch::collect(&s, 0, 1, true);
        let nope = batch.text().chars().position(|c| c == 'n').unwrap() as u32 + 1;
        let located = batch.locate(nope).unwrap();
        assert_eq!(located.index, 1);
        assert_eq!(
            located.position, 8,
            "`nope` is character 8 of `SELECT nope;`"
        );
        let file = &s.files[0];
        let at = file.offset_of_char_position(located.span, located.position);
        assert_eq!(&file.text()[at..at + 4], "nope");
        assert_eq!(
            batch.locate(1),
            None,
            "a position inside BEGIN; is no statement's"
        );
        assert_eq!(batch.locate(0), None);
        assert!(!batch.is_lone_statement());

        let batch = Batch::collect(&s, 1, 2, false);
        assert!(batch.is_lone_statement());
        assert_eq!(batch.text(), "SELECT nope;", "the migration's text alone");
    }

    #[test]
    fn a_lone_do_block_is_found() {
        let one =
            script("CREATE TABLE t (id int);\ndo $$ BEGIN RAISE NOTICE 'x'; END $$;\nSELECT 1;\n");
        let batch = Batch::collect(&one, 0, 1, true);
        let span = batch.lone_do_block(&one.files[0]).unwrap();
        assert!(one.files[0].slice(span).starts_with("do $$"));
        let two = script("DO $$ BEGIN NULL; END $$;\nDO $$ BEGIN NULL; END $$;\n");
        assert_eq!(
            Batch::collect(&two, 0, 1, true).lone_do_block(&two.files[0]),
            None
        );
        let none = script("SELECT 'do';\nDOMAIN_LIKE_NAME;\n");
        assert_eq!(
            Batch::collect(&none, 0, 1, true).lone_do_block(&none.files[0]),
            None
        );
    }

    #[test]
    fn a_setting_ends_its_batch() {
        let s = script("SET lock_timeout = '1s';\nSELECT 1;\n  reset lock_timeout;\nSELECT 2;\n");
        let first = Batch::collect(&s, 0, 1, true);
        assert_eq!(first.len(), 1);
        let second = Batch::collect(&s, 1, 2, false);
        assert_eq!(second.len(), 2, "{}", second.text());
        assert_eq!(Batch::collect(&s, 3, 4, false).len(), 1);
        // A comment in front of the SET is not part of the statement.
        let commented =
            script("SELECT 0;\n-- shorter waits\n/* here */ SET lock_timeout = '1s';\nSELECT 1;\n");
        assert_eq!(Batch::collect(&commented, 0, 1, true).len(), 2);
        let settings = script("SELECT set_config('a.b', '1', true);\nSELECT 2;\n");
        assert_eq!(Batch::collect(&settings, 0, 1, false).len(), 2);
    }

    #[test]
    fn issue_11_a_large_statement_is_sent_as_the_file_holds_it() {
        let rows = "(1), ".repeat(MAX_BYTES / 5);
        let text = format!("SELECT 1;\nINSERT INTO t VALUES {rows}(2);\nSELECT 2;\n");
        let s = script(&text);
        let first = Batch::collect(&s, 0, 1, true);
        assert_eq!(first.len(), 1, "the small statement goes alone");
        assert_eq!(first.text(), "BEGIN;SELECT 1;");
        let large = Batch::collect(&s, 1, 2, true);
        assert_eq!(large.len(), 1);
        assert!(large.begin_first, "BEGIN goes first, on its own");
        let file = &s.files[0];
        let Step::Sql { span, .. } = &s.steps[1] else {
            panic!("step 1 is SQL")
        };
        let held = file.slice(*span);
        assert_eq!(
            large.text().as_ptr(),
            held.as_ptr(),
            "the query is the file's text, not a copy"
        );
        let nope = large.text().find("(2)").unwrap() as u32 + 1;
        let located = large.locate(nope).unwrap();
        assert_eq!(
            &file.text()[file.offset_of_char_position(located.span, located.position)..][..3],
            "(2)"
        );
        let last = Batch::collect(&s, 2, 3, false);
        assert_eq!(last.text(), "SELECT 2;");
    }

    #[test]
    fn stops_at_an_echo_and_at_the_size_limit() {
        let s = script("SELECT 1;\n\\echo hi\nSELECT 2;\n");
        let first = Batch::collect(&s, 0, 1, true);
        assert_eq!(first.len(), 1);
        let second = Batch::collect(&s, 2, 2, false);
        assert_eq!((second.first_statement, second.text()), (2, "SELECT 2;"));

        let many: String = (0..MAX_STATEMENTS + 5)
            .map(|i| format!("SELECT {i};\n"))
            .collect();
        let s = script(&many);
        let batch = Batch::collect(&s, 0, 1, false);
        assert_eq!(batch.len(), MAX_STATEMENTS);
        let rest = Batch::collect(&s, MAX_STATEMENTS, MAX_STATEMENTS + 1, false);
        assert_eq!((rest.len(), rest.last_statement()), (5, MAX_STATEMENTS + 5));
    }
}
