//! SQL tokens and statement splitting that agree with `psql`.
//!
//! This crate is pure and std-only, and it never fails: any input, even
//! malformed SQL, produces tokens that rejoin to the input. Problems such as
//! an unterminated string are reported as flags on the result, not errors
//! ([`Script::unterminated`], [`Token::unclosed`]), and no text is dropped
//! silently: every byte of a script is in a statement, a meta-command, COPY
//! data, whitespace or a comment, an unterminated token, or a statement
//! discarded by `\r` ([`Script::discarded`]).
//!
//! API:
//! - [`tokenize`] turns text into [`Token`]s.
//! - [`split`](fn@split) turns a script into [`Item`]s: SQL statements and psql
//!   meta-commands, in the order psql would run them, each with its byte
//!   [`Span`]. [`split_script`] also reports `COPY ... FROM STDIN` data.
//! - Helpers: [`Statement::sql`] (the text psql would send),
//!   [`Statement::leading_keywords`], [`statement_kind`], [`line_col`].
//!
//! ```
//! use pgshift_lexer::{split, Item, StatementKind};
//!
//! let src = "\\set ON_ERROR_STOP on\nBEGIN;\nCREATE FUNCTION f() RETURNS int\n\
//!            LANGUAGE sql BEGIN ATOMIC SELECT 1; END;\nCOMMIT;\n";
//! let items = split(src);
//! assert_eq!(items.len(), 4);
//! assert!(matches!(&items[0], Item::Meta(m) if m.name == "set" && m.args == ["ON_ERROR_STOP", "on"]));
//! assert!(matches!(&items[1], Item::Statement(s) if s.kind == StatementKind::Begin));
//! assert!(matches!(&items[2], Item::Statement(s) if s.text(src).ends_with("END;")));
//! assert!(matches!(&items[3], Item::Statement(s) if s.kind == StatementKind::Commit));
//! ```
//!
//! The reference is psql (PostgreSQL 16): its SQL lexer
//! `src/fe_utils/psqlscan.l` (which mirrors the server's
//! `src/backend/parser/scan.l`), its backslash-command lexer
//! `src/bin/psql/psqlscanslash.l`, and `src/bin/psql/mainloop.c`.
//! Module map:
//! - `lexer`: token rules (psqlscan.l).
//! - `meta`: backslash-command extent and arguments (psqlscanslash.l).
//! - `split`: statement boundaries, `BEGIN ATOMIC` tracking, meta-command
//!   effects, COPY data, classification.
//!
//! Assumptions: `standard_conforming_strings` is on (a plain `'...'` string
//! has no backslash escapes), and the text is UTF-8. psql variables are not
//! substituted: `:name` stays a [`TokenKind::Variable`] token.
//!
//! Known, deliberate differences from psql:
//! - Statements start at their first significant token. psql also sends a
//!   block comment that precedes a statement, and sends a comment-only tail
//!   at end of file; both are harmless there and dropped here. A lone
//!   unterminated block comment at the end (which psql would send, making
//!   the server fail) is only listed in [`Script::unterminated`].
//! - A UTF-8 byte-order mark at offset 0 is whitespace.
//! - `COPY ... FROM STDIN` data is recognised lexically (the word `COPY`
//!   first, `FROM STDIN` outside parentheses); psql goes by the server's
//!   answer, so if the server rejects the COPY it lexes the data as SQL.
//! - Unknown meta-commands: psql discards the rest of their line after the
//!   error; here their arguments are parsed like any other command's.
//! - Numbers follow PG16 (`12abc` is one token; PG15 made `abc` a separate
//!   identifier, which only matters to the `BEGIN ATOMIC` heuristic in
//!   contrived input).

use std::borrow::Cow;

mod lexer;
mod meta;
mod split;

/// A half-open byte range `start..end` into the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
}

impl Span {
    /// Creates a span; `start <= end` is expected.
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
    /// Number of bytes covered.
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }
    /// True for an empty span.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
    /// The text this span covers in `src`, or `""` if the span does not fit
    /// `src` (out of range or not on `char` boundaries). Never panics.
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        src.get(self.start..self.end).unwrap_or("")
    }
    /// True if `other` lies entirely inside this span.
    pub fn contains(&self, other: Span) -> bool {
        self.start <= other.start && other.end <= self.end
    }
}

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Spaces, tabs, newlines (CR and LF), form feed, vertical tab; also a
    /// UTF-8 byte-order mark at the very start of the input.
    Whitespace,
    /// `-- ...` up to (not including) the newline (LF or CR), or to the end
    /// of input.
    LineComment,
    /// `/* ... */`, nesting allowed.
    BlockComment,
    /// An unquoted identifier or keyword (may contain `$` after the first char).
    /// Any non-ASCII character counts as a letter, as in psql.
    Word,
    /// `"..."` or `U&"..."`, with doubled quotes inside.
    QuotedIdent,
    /// `'...'`, `E'...'`, `U&'...'`, `B'...'`, `X'...'`, `N'...'`, with the
    /// continuation rule (string, whitespace with a newline, string).
    String,
    /// `$$...$$` or `$tag$...$tag$`.
    DollarString,
    /// Numeric literal, including PG16 forms (`0x1F`, `1_000`) and, like the
    /// server's lexer, any identifier characters glued to it (`12abc`).
    Number,
    /// `$1`-style positional parameter.
    Param,
    /// `;`
    Semicolon,
    /// `(`
    OpenParen,
    /// `)`
    CloseParen,
    /// psql variable reference such as `:name`, `:'name'`, `:"name"`,
    /// `:{?name}`. Like psql, `:2` in `a[1:2]` is lexed as a variable
    /// reference (psql leaves unknown variables as they are).
    Variable,
    /// A backslash meta-command (psql): from the `\` to the end of its line,
    /// or through a `\\` separator, or up to the `\` of a following
    /// meta-command on the same line. See [`MetaCommand`].
    MetaCommand,
    /// Any other operator or punctuation character run: operators (`::`,
    /// `<>`, `+`), `,`, `.`, `[`, `]`, a lone `$` or `:`, and psql's `\;` and
    /// `\:` (which put a literal `;`/`:` into the statement without their
    /// special meaning).
    Operator,
}

/// One token: its kind, where it is, and whether it was left unterminated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// What this token is.
    pub kind: TokenKind,
    /// Where it is in the input.
    pub span: Span,
    /// True for a string, quoted identifier, dollar string or block comment
    /// that reached the end of input without its closing delimiter, and for
    /// a meta-command with a quoted argument left open at the end of its line.
    pub unterminated: bool,
}

impl Token {
    /// The token's text in `src` (the string it was produced from).
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        self.span.text(src)
    }
    /// True for whitespace and comments.
    pub fn is_trivia(&self) -> bool {
        matches!(
            self.kind,
            TokenKind::Whitespace | TokenKind::LineComment | TokenKind::BlockComment
        )
    }

    /// For an [`unterminated`](Token::unterminated) token, what it leaves
    /// open and where that was opened; `None` for any other token. `src`
    /// is the string the token was produced from. Only meant for error
    /// messages: it lexes the token again.
    ///
    /// ```
    /// use pgshift_lexer::{tokenize, UnclosedKind};
    ///
    /// let src = "SELECT 1;\n/* see /* old note */\nSELECT 2;\n";
    /// let comment = tokenize(src).into_iter().find(|t| t.unterminated).unwrap();
    /// let open = comment.unclosed(src).unwrap();
    /// assert_eq!(open.open.text(src), "/*");
    /// assert_eq!(open.open.start, 10);
    /// // Comments nest: the inner `/*` took the `*/` the author meant for the outer one.
    /// assert!(matches!(open.kind, UnclosedKind::BlockComment { nested: Some(at) } if at.start == 17));
    /// ```
    pub fn unclosed(&self, src: &str) -> Option<Unclosed> {
        if self.unterminated {
            lexer::unclosed(src, *self)
        } else {
            None
        }
    }
}

/// What an unterminated token leaves open; see [`Token::unclosed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unclosed {
    /// What is open.
    pub kind: UnclosedKind,
    /// The opening delimiter that is never closed: `/*`; `'`, `E'`, `B'`,
    /// `X'`, `N'` or `U&'` (for a string continued over lines, the `'` of
    /// the segment left open); `"` or `U&"`; `$tag$`; or the quote of a
    /// meta-command argument.
    pub open: Span,
}

/// The kinds of [`Unclosed`] constructs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnclosedKind {
    /// `/*` without its `*/`. `nested` is the first `/*` inside it, if
    /// any: block comments nest, so each `/*` needs its own `*/`.
    BlockComment {
        /// The first `/*` nested inside the open comment.
        nested: Option<Span>,
    },
    /// A string literal. `escapes` for `E'...'`, where a backslash escapes
    /// the next character, so `\'` does not close it.
    String {
        /// True for an `E'...'` string.
        escapes: bool,
    },
    /// A double-quoted identifier (`"..."` or `U&"..."`).
    QuotedIdent,
    /// A dollar-quoted string (`$$...$$`, `$tag$...$tag$`).
    DollarQuote,
    /// A quoted argument of a psql meta-command, open at the end of its line
    /// (psql drops the argument).
    MetaArgument,
}

/// What kind of SQL statement this is, as far as transactions are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    /// `BEGIN [WORK|TRANSACTION] ...` or `START TRANSACTION ...` at top level
    /// (not `BEGIN ATOMIC`).
    Begin,
    /// `COMMIT [WORK|TRANSACTION]` or `END [WORK|TRANSACTION]`, also with
    /// `AND [NO] CHAIN` (not `COMMIT PREPARED`).
    Commit,
    /// `ROLLBACK [WORK|TRANSACTION]` or `ABORT` (not `ROLLBACK TO SAVEPOINT`, not `ROLLBACK PREPARED`).
    Rollback,
    /// Anything else.
    Other,
}

/// A SQL statement found by [`split`](fn@split).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// From the first token that is not whitespace or comment up to and
    /// including the terminating `;`. Without a `;` (end of input, or a `\g`
    /// style meta-command that sent the statement), it ends with the last
    /// token that is not whitespace or a comment; an unterminated block
    /// comment counts, so it then runs to the end of input.
    ///
    /// A meta-command met while the statement was being collected lies
    /// inside this span; see [`Statement::sql`].
    pub span: Span,
    /// Transaction-control classification.
    pub kind: StatementKind,
    /// True when no `;` terminated the statement (it ran to end of input).
    /// A statement sent by a `\g`-style meta-command has no `;` either but
    /// is not flagged. psql sends such a statement at end of input anyway;
    /// an unterminated string or comment inside it is listed in
    /// [`Script::unterminated`].
    pub unterminated_at_eof: bool,
}

/// A psql backslash command, such as `\i other.sql` or `\set ON_ERROR_STOP on`.
///
/// Argument rules (psqlscanslash.l): arguments are separated by unquoted
/// whitespace; `'...'` quotes are removed (`''` becomes `'`, and `\n`,
/// `\t`, `\b`, `\r`, `\f`, octal and `\xHH` escapes are decoded);
/// `"..."` and `` `...` `` are kept verbatim with their quotes (backquotes
/// are never executed); variable references like `:name` are kept as
/// written. `\!`, `\copy`, `\ef`, `\ev`, `\sf`, `\sv`, `\h`/`\help`
/// take the rest of the line as one argument. For `\i`, `\ir`,
/// `\include`, `\include_relative`, `\c`/`\connect`, `\cd`, `\o`, `\w`
/// and `\d...`, unquoted trailing semicolons are stripped as psql does.
/// A quoted argument left open at the end of the line is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaCommand {
    /// The whole command from the backslash to the end of its line (newline
    /// and a CR before it excluded). Exceptions, as in psql: a `\\`
    /// separator ends the command (and is included), and a single `\`
    /// after the arguments starts the next meta-command. An empty name (a
    /// stray `\\` or `\ `) is an invalid command that takes its whole line.
    pub span: Span,
    /// The command name without the backslash, e.g. `i`, `ir`, `set`, `echo`.
    pub name: String,
    /// Arguments as psql would split them (see the rules above). Variable
    /// references are not substituted.
    pub args: Vec<String>,
    /// Where the arguments hold variable references that psql would
    /// substitute (`:name`, `:'name'`, `:"name"`, `:{?name}` outside quotes).
    pub variables: Vec<Span>,
}

/// A piece of a script, in the order psql runs them.
///
/// That is source order, with one exception: psql runs a meta-command as
/// soon as it reads it, even in the middle of a statement, and sends the
/// statement only when its `;` arrives (or at end of input). So a
/// meta-command met while a statement is being collected comes *before*
/// that statement; its span lies inside the statement's span (or after the
/// statement's last token, when the statement only ends at end of input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A SQL statement to send to the server.
    Statement(Statement),
    /// A psql meta-command.
    Meta(MetaCommand),
}

impl Item {
    /// The item's span.
    pub fn span(&self) -> Span {
        match self {
            Item::Statement(s) => s.span,
            Item::Meta(m) => m.span,
        }
    }
}

impl MetaCommand {
    /// The command's text in `src`, from the backslash.
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        self.span.text(src)
    }
}

impl Statement {
    /// The statement's text in `src`, exactly as written (including any
    /// meta-command that appeared inside it).
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        self.span.text(src)
    }

    /// The tokens of the statement, with spans relative to `src`.
    /// Lazy, so that a statement of many megabytes costs no token list.
    pub fn tokens<'a>(&self, src: &'a str) -> impl Iterator<Item = Token> + 'a {
        let mut lx = lexer::Lexer::with_range(src, self.span.start, self.span.end);
        std::iter::from_fn(move || lx.next_token())
    }

    /// The text psql would send to the server: the statement's text without
    /// meta-command tokens inside it, and with psql's `\;` / `\:` turned
    /// into `;` / `:`. Borrowed when nothing needs removing (the usual case).
    ///
    /// Like psql's `MainLoop`, a meta-command at the start of a line also
    /// takes the preceding newline with it, so a line holding only a
    /// meta-command leaves no trace (nor does the CR of a CRLF ending it).
    /// psql variables are not substituted. Unlike psql, empty lines are
    /// kept (psql skips empty input lines outside quotes and comments); that
    /// only changes whitespace between tokens, and keeps the text equal to
    /// the file's so that server error positions map back to it.
    pub fn sql<'a>(&self, src: &'a str) -> Cow<'a, str> {
        let text = self.text(src);
        if !text.contains('\\') {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        // End of the last meta-command: psql reads lines without their `\n`
        // but with the `\r` of a CRLF, and the command eats that `\r` as
        // whitespace, while our meta-command spans stop before it.
        let mut after_meta = None;
        for t in self.tokens(src) {
            let mut s = t.text(src);
            if after_meta == Some(t.span.start) && s.starts_with("\r\n") {
                s = &s[1..];
            }
            match t.kind {
                TokenKind::MetaCommand => {
                    // mainloop.c: "If we added a newline to query_buf, and
                    // nothing else has been inserted in query_buf by the
                    // lexer, then strip off the newline again."
                    if t.span.start > 0
                        && src.as_bytes()[t.span.start - 1] == b'\n'
                        && out.ends_with('\n')
                    {
                        out.pop();
                    }
                    after_meta = Some(t.span.end);
                }
                TokenKind::Operator if s == "\\;" || s == "\\:" => out.push_str(&s[1..]),
                _ => out.push_str(s),
            }
        }
        Cow::Owned(out)
    }

    /// The first `n` keywords of the statement, uppercased (ASCII only):
    /// the leading [`TokenKind::Word`] tokens, skipping whitespace, comments
    /// and meta-commands, and stopping at the first other token. For
    /// `CREATE UNIQUE INDEX CONCURRENTLY "ix" ON t (a)` and `n = 10` this is
    /// `["CREATE", "UNIQUE", "INDEX", "CONCURRENTLY"]`.
    pub fn leading_keywords(&self, src: &str, n: usize) -> Vec<String> {
        let lx = lexer::Lexer::with_range(src, self.span.start, self.span.end);
        keywords_from(lx, src, n)
    }
}

/// The first `n` keywords of `sql`, uppercased; see
/// [`Statement::leading_keywords`].
pub fn leading_keywords(sql: &str, n: usize) -> Vec<String> {
    keywords_from(lexer::Lexer::new(sql), sql, n)
}

fn keywords_from(mut lx: lexer::Lexer<'_>, src: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    while out.len() < n {
        let Some(t) = lx.next_token() else { break };
        match t.kind {
            TokenKind::Word => out.push(t.text(src).to_ascii_uppercase()),
            TokenKind::MetaCommand => {}
            _ if t.is_trivia() => {}
            _ => break,
        }
    }
    out
}

/// The transaction-control kind of one statement's text (leading
/// whitespace and comments are skipped). [`split`](fn@split) uses the same rules.
pub fn statement_kind(sql: &str) -> StatementKind {
    let words = leading_keywords(sql, 3);
    let words: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
    split::classify(&words)
}

/// 1-based line and column (in characters) of byte `offset` in `src`.
/// Lines end at `\n` (so CRLF counts once). An offset past the end or
/// inside a character is moved back to the nearest character start.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line = before.bytes().filter(|&c| c == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |p| p + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// `COPY ... FROM STDIN` data that psql reads from the script itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyData {
    /// Index into [`Script::items`] of the `COPY` statement or `\copy`
    /// meta-command that reads this data.
    pub item: usize,
    /// The data lines: from the start of the line after the command up to
    /// and including the `\.` line (or to the end of input). May be empty.
    pub span: Span,
}

/// A split script: its items plus the COPY data regions between them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Script {
    /// Statements and meta-commands, as returned by [`split`](fn@split).
    pub items: Vec<Item>,
    /// Data for `COPY ... FROM STDIN` / `\copy ... from stdin`, in order.
    pub copy_data: Vec<CopyData>,
    /// Tokens left unterminated (see [`Token::unterminated`]), as lexed by
    /// the splitter: unlike [`tokenize`], this skips COPY data. A string,
    /// comment, quoted identifier or dollar quote open at the end of input
    /// shows up here; the statement holding it (if any) has
    /// `unterminated_at_eof` set. A lone unterminated block comment yields
    /// no statement, only an entry here.
    pub unterminated: Vec<Token>,
    /// Statements psql collects and then throws away at a `\r` or
    /// `\reset`: from their first significant token to the last one before
    /// the meta-command. They are not in [`Script::items`].
    pub discarded: Vec<Span>,
}

/// Splits text into tokens. The spans cover the input exactly, in order.
///
/// This is pure lexing: unlike [`split`](fn@split), it does not know that the lines
/// after a `COPY ... FROM STDIN` are data, and lexes them as SQL.
pub fn tokenize(src: &str) -> Vec<Token> {
    lexer::tokenize(src)
}

/// [`tokenize`] one token at a time, for callers that look at each token
/// once: nothing is held (`tokenize` reserves room for a token per four
/// bytes, six times the text's size).
pub fn tokens(src: &str) -> impl Iterator<Item = Token> + '_ {
    let mut lexer = lexer::Lexer::new(src);
    std::iter::from_fn(move || lexer.next_token())
}

/// Splits a script into statements and meta-commands the way psql does.
///
/// Semicolons inside strings, quoted identifiers, dollar quotes, comments,
/// parentheses and `BEGIN ... END` bodies of `CREATE FUNCTION/PROCEDURE`
/// (`BEGIN ATOMIC`) do not end a statement. Statements contain no leading
/// whitespace or comments; text with only whitespace/comments yields nothing.
///
/// Meta-commands (psql `MainLoop` behaviour):
/// - Most leave a statement in progress alone; it continues after them
///   (see [`Item`] for the resulting order).
/// - `\g`, `\gx`, `\gset`, `\gexec`, `\gdesc`, `\crosstabview` and
///   `\watch` send the statement in progress: it ends before the
///   meta-command (with `unterminated_at_eof = false`), and the meta item
///   follows it. With nothing in progress psql would re-send the previous
///   statement; that is left to the caller.
/// - `\r` and `\reset` discard the statement in progress.
/// - Everything else, including `\i`, `\if`/`\endif` and `\q`, is only
///   reported: conditionals, includes and quitting are up to the caller
///   (psql stops reading the script at `\q`).
///
/// Lines after `COPY ... FROM STDIN;` (and `\copy ... from stdin`) up to a
/// `\.` line are data, not SQL: they are skipped here and reported by
/// [`split_script`].
pub fn split(src: &str) -> Vec<Item> {
    split::split_script(src).items
}

/// Like [`split`](fn@split), but also returns where `COPY ... FROM STDIN` data is.
pub fn split_script(src: &str) -> Script {
    split::split_script(src)
}
