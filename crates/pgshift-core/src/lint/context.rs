//! One file prepared for the rules: its statements as tokens, and the
//! `-- pgshift:` directives of its header and above each statement.

use super::sql::Stmt;
use super::{Rule, RuleSelector};
use crate::script::{Script, Step, TransactionMode};
use crate::source::{SourceFile, Span};
use pgshift_lexer::TokenKind;
use std::borrow::Cow;
use std::sync::Arc;

/// Directives found in a comment block.
#[derive(Debug, Clone, Default)]
pub(crate) struct Directives {
    /// `-- pgshift:ignore …`
    pub ignores: Vec<RuleSelector>,
    /// `-- pgshift:destructive-ok`
    pub destructive_ok: bool,
    /// `-- pgshift:` comments that name no known rule or directive: the
    /// comment's span and the word not understood.
    pub unknown: Vec<(Span, String)>,
}

/// Statements whose tokens are kept, up to this many bytes of statement
/// text per file; the rest are read again each time a rule looks at them.
/// Tokens take several times the text's size: keeping every statement's
/// made `up` of a 200 MB bulk-data file peak at 1.9 GB.
const KEPT_TOKENS_BUDGET: usize = 4 * 1024 * 1024;

/// A statement with the directives on the comment lines directly above it.
#[derive(Debug, Clone)]
pub(crate) struct StatementContext {
    /// Where it is in the file.
    pub span: Span,
    /// Its tokens, when within the file's [`KEPT_TOKENS_BUDGET`].
    kept: Option<Stmt>,
    pub directives: Directives,
}

/// A migration or rollback file, ready for the rules.
#[derive(Debug)]
pub(crate) struct FileContext {
    file: Arc<SourceFile>,
    /// The file's transaction mode, from its header.
    pub mode: TransactionMode,
    /// Statements of the main file, in order (a psql-style wrapping
    /// `BEGIN`/`COMMIT` pair is not among them).
    pub statements: Vec<StatementContext>,
    /// Directives of the header comment block (apply to the whole file).
    pub header: Directives,
    /// A non-empty `-- Description:` line in the header.
    pub has_description: bool,
    /// Where `-- pgshift:no-transaction` is, if present.
    pub no_transaction_at: Option<Span>,
}

impl FileContext {
    /// The script's main file.
    pub fn new(script: &Script, mode: TransactionMode) -> FileContext {
        FileContext::of_file(script, 0, mode)
    }

    /// Every file the script includes with `\i`/`\ir`, each run in `mode`.
    pub fn included(script: &Script, mode: TransactionMode) -> Vec<FileContext> {
        (1..script.files.len())
            .map(|index| FileContext::of_file(script, index, mode))
            .collect()
    }

    fn of_file(script: &Script, index: usize, mode: TransactionMode) -> FileContext {
        let file = Arc::clone(&script.files[index]);
        let text = file.text();
        let mut statements = Vec::new();
        let mut previous_end = 0;
        let mut budget = KEPT_TOKENS_BUDGET;
        for step in &script.steps {
            let Step::Sql {
                file: in_file,
                span,
                ..
            } = step
            else {
                continue;
            };
            if *in_file != index {
                continue;
            }
            let directives = directives_above(text, previous_end, span.start);
            previous_end = span.end;
            let kept = (span.len() <= budget).then(|| {
                budget -= span.len();
                Stmt::new(&file, *span)
            });
            statements.push(StatementContext {
                span: *span,
                kept,
                directives,
            });
        }
        let mut context = FileContext {
            file,
            mode,
            statements,
            header: Directives::default(),
            has_description: false,
            no_transaction_at: None,
        };
        context.read_header();
        context
    }

    pub fn file(&self) -> &Arc<SourceFile> {
        &self.file
    }

    /// Each statement with its tokens (read now when not kept).
    pub fn each(&self) -> impl Iterator<Item = (&StatementContext, Cow<'_, Stmt>)> {
        self.statements.iter().map(|statement| {
            let stmt = match &statement.kept {
                Some(stmt) => Cow::Borrowed(stmt),
                None => Cow::Owned(Stmt::new(&self.file, statement.span)),
            };
            (statement, stmt)
        })
    }

    /// The file's text as squawk should see it: the statements pgshift
    /// sends, with their comments; everything else that is not a comment
    /// (psql meta-commands, and a wrapping `BEGIN;`/`COMMIT;` pgshift folds
    /// into its own transaction) blanked out, keeping every byte offset
    /// and line in place. The statements at the indices in `skip` are
    /// blanked out too, and so are the rows of a multi-row
    /// `INSERT … VALUES` after its first: no squawk rule looks at them, and
    /// parsing them was most of the time and memory of linting a bulk-data
    /// migration.
    pub fn sql_only_text(&self, skip: &[usize]) -> String {
        let text = self.file.text();
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (i, (statement, stmt)) in self.each().enumerate() {
            let span = statement.span;
            blank_all_but_comments(&text[at..span.start], &mut out);
            if skip.contains(&i) {
                blank(&text[span.start..span.end], &mut out);
            } else {
                let rows = stmt
                    .later_values_rows()
                    .unwrap_or(Span::new(span.end, span.end));
                out.push_str(&text[span.start..rows.start]);
                blank(&text[rows.start..rows.end], &mut out);
                out.push_str(&text[rows.end..span.end]);
            }
            at = span.end;
        }
        blank_all_but_comments(&text[at..], &mut out);
        out
    }

    /// True when `rule` is silenced for a finding at `span`.
    pub fn is_ignored(&self, rule: Rule, span: Span) -> bool {
        if self.header.ignores.iter().any(|s| s.matches(rule)) {
            return true;
        }
        self.statement_at(span.start)
            .is_some_and(|s| s.directives.ignores.iter().any(|sel| sel.matches(rule)))
    }

    /// The statement containing byte `offset`.
    pub fn statement_at(&self, offset: usize) -> Option<&StatementContext> {
        let i = self.statements.partition_point(|s| s.span.start <= offset);
        let candidate = self.statements.get(i.checked_sub(1)?)?;
        (offset < candidate.span.end).then_some(candidate)
    }

    /// Reads the header comment block, as `Header::parse` delimits it: the
    /// leading lines that are blank or `--` comments.
    fn read_header(&mut self) {
        let text = self.file.text();
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let start = offset;
            offset += line.len();
            let trimmed = line.trim().trim_start_matches('\u{feff}');
            if trimmed.is_empty() {
                continue;
            }
            let Some(comment) = trimmed.strip_prefix("--") else {
                break;
            };
            let comment = comment.trim();
            let line_span = Span::new(
                start + (line.len() - line.trim_start().len()),
                start + line.trim_end().len(),
            );
            if comment.strip_prefix("pgshift:").map(str::trim) == Some("no-transaction") {
                let col = line.find("pgshift:").unwrap_or(0);
                self.no_transaction_at =
                    Some(Span::new(start + col, start + line.trim_end().len()));
            } else if let Some((key, value)) = comment.split_once(':') {
                if key.trim().eq_ignore_ascii_case("description") && !value.trim().is_empty() {
                    self.has_description = true;
                }
            }
            read_directive(comment, line_span, &mut self.header);
        }
    }
}

/// Reads `pgshift:ignore …` / `pgshift:destructive-ok` from one comment's
/// text (after `--`), found at `at` in the file. A rule name or directive
/// it does not know is kept in `unknown`, for the `unknown-directive` rule.
fn read_directive(comment: &str, at: Span, into: &mut Directives) {
    let Some(directive) = comment.trim().strip_prefix("pgshift:") else {
        return;
    };
    let directive = directive.trim();
    let word = directive.split_whitespace().next().unwrap_or_default();
    match word {
        "destructive-ok" => into.destructive_ok = true,
        // Header directives, read by `Header::parse`.
        "no-transaction" | "irreversible" => {}
        "ignore" => {
            let names = directive["ignore".len()..]
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|n| !n.is_empty());
            for name in names {
                match name.parse::<RuleSelector>() {
                    Ok(selector) => into.ignores.push(selector),
                    Err(_) => into.unknown.push((at, name.to_string())),
                }
            }
        }
        _ => into.unknown.push((at, format!("pgshift:{word}"))),
    }
}

/// Appends `gap` (text between statements) to `out` with everything but
/// comments and whitespace turned into spaces, line breaks kept.
pub(crate) fn blank_all_but_comments(gap: &str, out: &mut String) {
    for token in pgshift_lexer::tokens(gap) {
        let piece = token.text(gap);
        if token.is_trivia() {
            out.push_str(piece);
        } else {
            blank(piece, out);
        }
    }
}

/// Appends `text` to `out` as spaces, one per byte so the offsets of what
/// follows stay, line breaks kept.
fn blank(text: &str, out: &mut String) {
    out.extend(text.bytes().map(|b| if b == b'\n' { '\n' } else { ' ' }));
}

/// Directives in the `--` comment lines directly above `start`: the
/// comments between the previous statement and this one, going back from
/// the statement until a blank line or anything that is not a comment.
fn directives_above(text: &str, from: usize, start: usize) -> Directives {
    let gap = &text[from..start];
    let mut directives = Directives::default();
    for token in pgshift_lexer::tokenize(gap).iter().rev() {
        match token.kind {
            TokenKind::LineComment => read_directive(
                token.text(gap).trim_start_matches('-'),
                Span::new(from + token.span.start, from + token.span.end),
                &mut directives,
            ),
            TokenKind::Whitespace if token.text(gap).matches('\n').count() < 2 => {}
            _ => break,
        }
    }
    directives
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_11_tokens_are_kept_within_a_budget_and_read_again_past_it() {
        let rows = "(1, 'x'), ".repeat(KEPT_TOKENS_BUDGET / 10);
        let text = format!(
            "INSERT INTO t VALUES {rows}(2, 'y');\nINSERT INTO t VALUES (3, 'z');\nDROP TABLE t;\n"
        );
        let script = Script::parse(
            SourceFile::new("001_x.sql", text),
            TransactionMode::Transactional,
        )
        .expect("parses");
        let context = FileContext::new(&script, TransactionMode::Transactional);
        let kept: Vec<bool> = context
            .statements
            .iter()
            .map(|s| s.kept.is_some())
            .collect();
        assert_eq!(kept, [false, true, true]);
        let firsts: Vec<String> = context
            .each()
            .map(|(_, stmt)| stmt.first().unwrap_or_default())
            .collect();
        assert_eq!(firsts, ["INSERT", "INSERT", "DROP"]);
        let mut found = Vec::new();
        super::super::rules::non_idempotent::check(&context, &mut found);
        assert_eq!(found.len(), 3, "both INSERTs and the DROP: {found:#?}");
    }

    #[test]
    fn directives_stop_at_a_blank_line() {
        let text = "SELECT 1;\n-- pgshift:ignore non-idempotent\n\n-- pgshift:destructive-ok\n-- note\nDROP TABLE t;";
        let start = text.find("DROP").unwrap();
        let d = directives_above(text, 9, start);
        assert!(d.destructive_ok);
        assert!(d.ignores.is_empty());
        let text = "-- pgshift:ignore non-idempotent, squawk\nDROP TABLE t;";
        let d = directives_above(text, 0, text.find("DROP").unwrap());
        assert_eq!(
            d.ignores,
            [
                RuleSelector::Rule(Rule::NonIdempotent),
                RuleSelector::Squawk
            ]
        );
    }
}
