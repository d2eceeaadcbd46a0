//! Statement splitting: turning the token stream into [`Item`]s.
//!
//! This file owns the psql-specific state that decides whether a `;` ends a
//! statement (psqlscan.l's `paren_depth`, `begin_depth`, `identifier_count`
//! and `identifiers[4]`), what happens around backslash commands
//! (`MainLoop` in `src/bin/psql/mainloop.c`), transaction-control
//! classification, and skipping `COPY ... FROM STDIN` data.
//!
//! Order of items: psql runs a meta-command as soon as it has read it, and
//! sends a statement when it reads the terminating `;`. Items come out in
//! that order. A meta-command found while a statement is being collected
//! does not end the statement (psql keeps its query buffer); the meta item is
//! emitted right away and the statement later, so its span contains the
//! meta-command's text. [`Statement::sql`](crate::Statement::sql) gives the
//! text without it.

use crate::lexer::Lexer;
use crate::meta;
use crate::{
    CopyData, Item, MetaCommand, Script, Span, Statement, StatementKind, Token, TokenKind,
};

/// Meta-commands that send the query buffer and then reset the lexer
/// (`PSQL_CMD_SEND` in mainloop.c; `\watch` resets "as though for \r").
fn sends_buffer(name: &str) -> bool {
    matches!(
        name,
        "g" | "gx" | "gset" | "gexec" | "gdesc" | "crosstabview" | "watch"
    )
}

/// Meta-commands that discard the query buffer (`\r`, `\reset`).
fn resets_buffer(name: &str) -> bool {
    matches!(name, "r" | "reset")
}

/// The statement being collected.
struct Pending {
    /// Start of its first significant token.
    start: usize,
    /// End of its last significant token.
    last_end: usize,
    /// The first few `Word` tokens, stopping at the first other significant
    /// token: enough to classify it.
    words: [Span; 3],
    nwords: usize,
    words_done: bool,
    /// The previous significant token was the word FROM at paren depth 0.
    after_from: bool,
    /// Saw `FROM STDIN` at paren depth 0.
    from_stdin: bool,
}

impl Pending {
    fn new(start: usize) -> Self {
        Pending {
            start,
            last_end: start,
            words: [Span::default(); 3],
            nwords: 0,
            words_done: false,
            after_from: false,
            from_stdin: false,
        }
    }
}

struct Splitter<'a> {
    src: &'a str,
    items: Vec<Item>,
    copy_data: Vec<CopyData>,
    /// psqlscan.l `paren_depth`.
    paren_depth: u32,
    /// psqlscan.l `begin_depth`.
    begin_depth: u32,
    /// psqlscan.l `identifier_count`.
    identifier_count: usize,
    /// psqlscan.l `identifiers[4]`: first letters of the leading keywords
    /// CREATE / OR / REPLACE / FUNCTION / PROCEDURE, by position.
    identifiers: [u8; 4],
    stmt: Option<Pending>,
    /// Items whose `COPY ... FROM STDIN` data follows the current line.
    copy_waiting: Vec<usize>,
    unterminated: Vec<Token>,
    discarded: Vec<Span>,
}

/// Splits `src` into items and COPY data regions.
pub(crate) fn split_script(src: &str) -> Script {
    let mut sp = Splitter {
        src,
        items: Vec::new(),
        copy_data: Vec::new(),
        paren_depth: 0,
        begin_depth: 0,
        identifier_count: 0,
        identifiers: [0; 4],
        stmt: None,
        copy_waiting: Vec::new(),
        unterminated: Vec::new(),
        discarded: Vec::new(),
    };
    let mut lx = Lexer::new(src);
    loop {
        match lx.next_token() {
            Some(tok) => sp.token(tok, &mut lx),
            None if sp.copy_waiting.is_empty() => break,
            None => {
                // The lexer was stopped at the line after a COPY FROM STDIN.
                // psql's handleCopyIn now reads data lines until `\.`, once
                // per waiting COPY, and then goes back to lexing.
                let mut at = lx.end();
                for item in std::mem::take(&mut sp.copy_waiting) {
                    let end = copy_data_end(src.as_bytes(), at);
                    sp.copy_data.push(CopyData {
                        item,
                        span: Span::new(at, end),
                    });
                    at = end;
                }
                lx = Lexer::with_range(src, at, src.len());
            }
        }
    }
    if let Some(st) = sp.stmt.take() {
        // psql sends a non-empty buffer at end of file even without `;`.
        sp.emit(st, true, src.len(), &mut lx);
    }
    Script {
        items: sp.items,
        copy_data: sp.copy_data,
        unterminated: sp.unterminated,
        discarded: sp.discarded,
    }
}

/// End of the COPY data that starts at `start`: just past the line that is
/// exactly `\.` (psql's `copy.c` checks for `"\\.\n"` or `"\\.\r\n"` at the
/// start of a line), or the end of input.
fn copy_data_end(b: &[u8], mut start: usize) -> usize {
    let n = b.len();
    while start < n {
        let nl = b[start..].iter().position(|&c| c == b'\n');
        let line_end = nl.map_or(n, |p| start + p);
        let next = nl.map_or(n, |p| start + p + 1);
        let line = &b[start..line_end];
        if line == b"\\." || line == b"\\.\r" {
            return next;
        }
        start = next;
    }
    n
}

/// Offset just past the newline that ends the line containing `pos`.
fn next_line_start(b: &[u8], pos: usize) -> usize {
    b.get(pos..)
        .and_then(|rest| rest.iter().position(|&c| c == b'\n'))
        .map_or(b.len(), |p| pos + p + 1)
}

impl Splitter<'_> {
    fn text(&self, span: Span) -> &[u8] {
        self.src
            .as_bytes()
            .get(span.start..span.end)
            .unwrap_or_default()
    }

    fn token(&mut self, tok: Token, lx: &mut Lexer<'_>) {
        if tok.unterminated {
            self.unterminated.push(tok);
        }
        match tok.kind {
            TokenKind::Whitespace | TokenKind::LineComment => {}
            TokenKind::BlockComment => {
                // An unterminated comment swallows the rest of the input;
                // keep it in the statement so the server sees what psql
                // would send (and reports the error).
                if tok.unterminated {
                    if let Some(st) = &mut self.stmt {
                        st.last_end = tok.span.end;
                    }
                }
            }
            TokenKind::MetaCommand => self.meta(tok, lx),
            TokenKind::Semicolon if self.paren_depth == 0 && self.begin_depth == 0 => {
                // psqlscan.l `";"`: end of statement; `identifier_count = 0`.
                self.identifier_count = 0;
                if let Some(mut st) = self.stmt.take() {
                    st.last_end = tok.span.end;
                    self.emit(st, false, tok.span.end, lx);
                }
                // A `;` with nothing before it is an empty statement: nothing.
            }
            _ => self.significant(tok),
        }
    }

    fn significant(&mut self, tok: Token) {
        let span = tok.span;
        let is_word = tok.kind == TokenKind::Word;
        let depth0 = self.paren_depth == 0;
        let word_is = |kw: &str| is_word && self.text(span).eq_ignore_ascii_case(kw.as_bytes());
        let (is_from, is_stdin) = (word_is("from"), word_is("stdin"));

        let st = self.stmt.get_or_insert_with(|| Pending::new(span.start));
        st.last_end = span.end;
        if !st.words_done {
            if is_word && st.nwords < st.words.len() {
                st.words[st.nwords] = span;
                st.nwords += 1;
            } else {
                st.words_done = true;
            }
        }
        if depth0 && st.after_from && is_stdin {
            st.from_stdin = true;
        }
        st.after_from = depth0 && is_from;

        match tok.kind {
            TokenKind::OpenParen => self.paren_depth += 1,
            TokenKind::CloseParen => self.paren_depth = self.paren_depth.saturating_sub(1),
            TokenKind::Word => {
                // `{xufailed}`: a lone `u&` letter is not an `{identifier}`
                // in psqlscan.l, so it does not count.
                let b = self.src.as_bytes();
                let xufailed = span.len() == 1
                    && matches!(b.get(span.start), Some(b'u' | b'U'))
                    && b.get(span.end) == Some(&b'&');
                if !xufailed {
                    self.identifier(span);
                }
            }
            // psqlscan.l `"\\"[;:]`: `\;` resets `identifier_count`.
            TokenKind::Operator if self.text(span) == b"\\;" => self.identifier_count = 0,
            _ => {}
        }
    }

    /// psqlscan.l's `{identifier}` rule: track whether the statement starts
    /// with `CREATE [OR REPLACE] FUNCTION|PROCEDURE` and, if so, count
    /// `BEGIN` / `CASE` / `END` outside parentheses so that semicolons in a
    /// `BEGIN ATOMIC ... END` body do not end the statement.
    fn identifier(&mut self, span: Span) {
        let word = self
            .src
            .as_bytes()
            .get(span.start..span.end)
            .unwrap_or_default();
        let is = |kw: &str| word.eq_ignore_ascii_case(kw.as_bytes());
        if self.identifier_count == 0 {
            self.identifiers = [0; 4];
        }
        if is("create") || is("function") || is("procedure") || is("or") || is("replace") {
            if let Some(slot) = self.identifiers.get_mut(self.identifier_count) {
                *slot = word[0].to_ascii_lowercase();
            }
        }
        self.identifier_count += 1;
        let ids = self.identifiers;
        if ids[0] == b'c'
            && (ids[1] == b'f'
                || ids[1] == b'p'
                || (ids[1] == b'o' && ids[2] == b'r' && (ids[3] == b'f' || ids[3] == b'p')))
            && self.paren_depth == 0
        {
            if is("begin") {
                self.begin_depth += 1;
            } else if is("case") {
                // "CASE also ends with END. We only need to track this if we
                // are already inside a BEGIN."
                if self.begin_depth >= 1 {
                    self.begin_depth += 1;
                }
            } else if is("end") {
                self.begin_depth = self.begin_depth.saturating_sub(1);
            }
        }
    }

    /// psql_scan_reset(): what psql does after `\r` or a forced send.
    fn reset(&mut self) {
        self.paren_depth = 0;
        self.begin_depth = 0;
        self.identifier_count = 0;
    }

    fn meta(&mut self, tok: Token, lx: &mut Lexer<'_>) {
        // Parse with the lexer's own bound so the result matches the token.
        let bytes = &self.src.as_bytes()[..lx.end()];
        let scan = meta::scan(bytes, tok.span.start);
        let name = String::from_utf8_lossy(&bytes[scan.name.clone()]).into_owned();
        let reads_stdin = name.eq_ignore_ascii_case("copy")
            && scan.args.first().is_some_and(|a| meta::copy_reads_stdin(a));
        let item = MetaCommand {
            span: tok.span,
            name,
            args: scan.args,
            variables: scan.variables,
        };
        if sends_buffer(&item.name) {
            // `\g` and friends send what has been collected so far (psql
            // re-sends the previous query if the buffer is empty; that is
            // left to the caller) and reset the lexer state.
            if let Some(st) = self.stmt.take() {
                self.emit(st, false, tok.span.end, lx);
            }
            self.reset();
        } else if resets_buffer(&item.name) {
            if let Some(st) = self.stmt.take() {
                self.discarded.push(Span::new(st.start, st.last_end));
            }
            self.reset();
        }
        let idx = self.items.len();
        self.items.push(Item::Meta(item));
        if reads_stdin {
            self.wait_for_copy(idx, tok.span.end, lx);
        }
    }

    fn emit(&mut self, st: Pending, unterminated_at_eof: bool, done_at: usize, lx: &mut Lexer<'_>) {
        let words: Vec<&[u8]> = st.words[..st.nwords]
            .iter()
            .map(|w| self.text(*w))
            .collect();
        let kind = classify(&words);
        let is_copy = words
            .first()
            .is_some_and(|w| w.eq_ignore_ascii_case(b"copy"));
        let idx = self.items.len();
        self.items.push(Item::Statement(Statement {
            span: Span::new(st.start, st.last_end),
            kind,
            unterminated_at_eof,
        }));
        if is_copy && st.from_stdin && !unterminated_at_eof {
            self.wait_for_copy(idx, done_at, lx);
        }
    }

    /// Registers a COPY that reads data from the script, starting with the
    /// line after the one where the command completed.
    fn wait_for_copy(&mut self, idx: usize, done_at: usize, lx: &mut Lexer<'_>) {
        if self.copy_waiting.is_empty() {
            lx.limit(next_line_start(self.src.as_bytes(), done_at));
        }
        self.copy_waiting.push(idx);
    }
}

/// Classifies a statement by its leading words (already stripped of
/// whitespace and comments; stops at the first non-word token).
pub(crate) fn classify(words: &[&[u8]]) -> StatementKind {
    let w = |i: usize| words.get(i).copied().unwrap_or_default();
    let is = |i: usize, kw: &str| w(i).eq_ignore_ascii_case(kw.as_bytes());
    let first = w(0);
    let is_first = |kw: &str| first.eq_ignore_ascii_case(kw.as_bytes());
    if is_first("begin") {
        // `BEGIN ATOMIC` only makes sense inside CREATE FUNCTION; as a
        // statement of its own it is not transaction control.
        if is(1, "atomic") {
            StatementKind::Other
        } else {
            StatementKind::Begin
        }
    } else if is_first("start") {
        if is(1, "transaction") {
            StatementKind::Begin
        } else {
            StatementKind::Other
        }
    } else if is_first("commit") || is_first("end") {
        if is(1, "prepared") {
            StatementKind::Other
        } else {
            StatementKind::Commit
        }
    } else if is_first("abort") {
        StatementKind::Rollback
    } else if is_first("rollback") {
        // ROLLBACK PREPARED 'id'; ROLLBACK [WORK|TRANSACTION] TO [SAVEPOINT] x
        let next = if is(1, "work") || is(1, "transaction") {
            2
        } else {
            1
        };
        if is(1, "prepared") || is(next, "to") {
            StatementKind::Other
        } else {
            StatementKind::Rollback
        }
    } else {
        StatementKind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(sql: &str) -> StatementKind {
        let words: Vec<&[u8]> = sql.split_whitespace().map(str::as_bytes).collect();
        classify(&words)
    }

    #[test]
    fn classification() {
        use StatementKind::*;
        for (sql, want) in [
            ("BEGIN", Begin),
            ("begin work", Begin),
            ("BEGIN TRANSACTION ISOLATION LEVEL SERIALIZABLE", Begin),
            ("BEGIN ATOMIC", Other),
            ("START TRANSACTION", Begin),
            ("start transaction read only", Begin),
            ("START", Other),
            ("COMMIT", Commit),
            ("commit work", Commit),
            ("COMMIT AND CHAIN", Commit),
            ("END", Commit),
            ("END TRANSACTION", Commit),
            ("COMMIT PREPARED", Other),
            ("ROLLBACK", Rollback),
            ("ROLLBACK WORK", Rollback),
            ("ROLLBACK AND NO CHAIN", Rollback),
            ("ABORT", Rollback),
            ("abort transaction", Rollback),
            ("ROLLBACK TO SAVEPOINT", Other),
            ("ROLLBACK TO", Other),
            ("ROLLBACK WORK TO", Other),
            ("ROLLBACK TRANSACTION TO SAVEPOINT", Other),
            ("ROLLBACK PREPARED", Other),
            ("SAVEPOINT", Other),
            ("RELEASE SAVEPOINT", Other),
            ("SELECT", Other),
            ("", Other),
        ] {
            assert_eq!(kind(sql), want, "{sql:?}");
        }
    }

    #[test]
    fn copy_data_lines() {
        let b = b"1\tx\n\\.\nSELECT";
        assert_eq!(copy_data_end(b, 0), 7);
        assert_eq!(copy_data_end(b"a\r\n\\.\r\nX", 0), 7);
        assert_eq!(copy_data_end(b"a\n\\.x\n", 0), 6);
        assert_eq!(copy_data_end(b"a\n\\.", 0), 4);
        assert_eq!(next_line_start(b"ab\ncd", 1), 3);
        assert_eq!(next_line_start(b"ab", 1), 2);
    }
}
