//! The byte-level tokenizer.
//!
//! This file owns the character classes and the rules that decide where one
//! token ends and the next begins. The rules follow psql's lexer,
//! `src/fe_utils/psqlscan.l` (PostgreSQL 16), which in turn copies the
//! backend's `src/backend/parser/scan.l` "lock, stock, and barrel" so that
//! psql finds the same token boundaries as the server. Where flex's
//! longest-match rule matters, the comments say which rule wins and why.
//!
//! Assumptions, matching a modern server and psql's defaults:
//! - `standard_conforming_strings` is on, so a plain `'...'` string has no
//!   backslash escapes (psqlscan.l's `{xqstart}` picks `<xq>` then).
//! - The encoding is UTF-8 (or any "safe" encoding): every byte >= 0x80 is
//!   treated as a letter, exactly like flex's `\200-\377` ranges.
//!
//! The lexer works on bytes. Every token ends either at the end of the input
//! or next to an ASCII byte, so token spans always fall on `char` boundaries.

use crate::meta;
use crate::{Span, Token, TokenKind, Unclosed, UnclosedKind};

/// `{space}` in psqlscan.l (PG16 added `\v`).
#[inline]
pub(crate) fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0c | 0x0b)
}

/// `{ident_start}`: letters, underscore and any high-bit byte.
#[inline]
pub(crate) fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

/// `{ident_cont}`: identifier characters, which include digits and `$`.
#[inline]
pub(crate) fn is_ident_cont(c: u8) -> bool {
    is_ident_start(c) || c.is_ascii_digit() || c == b'$'
}

/// `{dolq_cont}`: like `{ident_cont}` but without `$`.
#[inline]
fn is_dolq_cont(c: u8) -> bool {
    is_ident_start(c) || c.is_ascii_digit()
}

/// `{variable_char}`: characters of a psql variable name.
#[inline]
pub(crate) fn is_variable_char(c: u8) -> bool {
    is_ident_start(c) || c.is_ascii_digit()
}

/// `{op_chars}`: characters that may form a multi-character operator.
#[inline]
fn is_op_char(c: u8) -> bool {
    matches!(
        c,
        b'~' | b'!'
            | b'@'
            | b'#'
            | b'^'
            | b'&'
            | b'|'
            | b'`'
            | b'?'
            | b'+'
            | b'-'
            | b'*'
            | b'/'
            | b'%'
            | b'<'
            | b'>'
            | b'='
    )
}

/// How the body of a single-quoted string is scanned.
#[derive(Clone, Copy, PartialEq, Eq)]
enum StrMode {
    /// `<xq>`, `<xus>`, `<xb>`, `<xh>`: only `''` is special.
    Standard,
    /// `<xe>`: a backslash escapes the next byte, so `\'` does not end it.
    Escape,
}

/// A tokenizer over `src[start..end]`, producing tokens with absolute offsets.
///
/// The splitter drives it one token at a time, which lets it stop the lexer
/// at a line boundary and resume after `COPY ... FROM STDIN` data.
pub(crate) struct Lexer<'a> {
    /// The input bytes, cut at the lexer's end.
    b: &'a [u8],
    /// Offset of the next token.
    pos: usize,
    /// End of a run of `+`/`-` characters known to lex as one-character
    /// operators (see [`Lexer::operator`]); avoids rescanning the run.
    pm_until: usize,
}

impl<'a> Lexer<'a> {
    /// A lexer over the whole of `src`.
    pub(crate) fn new(src: &'a str) -> Self {
        Lexer {
            b: src.as_bytes(),
            pos: 0,
            pm_until: 0,
        }
    }

    /// A lexer over `src[start..end]`; offsets stay relative to `src`.
    /// Out-of-range bounds are clamped, so this never panics.
    pub(crate) fn with_range(src: &'a str, start: usize, end: usize) -> Self {
        let end = end.min(src.len());
        Lexer {
            b: &src.as_bytes()[..end],
            pos: start.min(end),
            pm_until: 0,
        }
    }

    /// Offset where the lexer's input ends.
    pub(crate) fn end(&self) -> usize {
        self.b.len()
    }

    /// Stops the lexer at `end` (which must not be before the current
    /// position; it is clamped if it is).
    pub(crate) fn limit(&mut self, end: usize) {
        let end = end.clamp(self.pos, self.b.len());
        self.b = &self.b[..end];
    }

    #[inline]
    fn at(&self, i: usize) -> Option<u8> {
        self.b.get(i).copied()
    }

    /// Produces the next token, or `None` at the end of the input.
    pub(crate) fn next_token(&mut self) -> Option<Token> {
        let start = self.pos;
        let c = self.at(start)?;
        let (kind, end, unterminated) = self.scan(start, c);
        // Every branch of `scan` consumes at least one byte; guard anyway so
        // that a mistake can never turn into an endless loop.
        let end = end.clamp(start + 1, self.b.len());
        self.pos = end;
        Some(Token {
            kind,
            span: Span::new(start, end),
            unterminated,
        })
    }

    fn scan(&mut self, start: usize, c: u8) -> (TokenKind, usize, bool) {
        use TokenKind as K;
        let b = self.b;
        let n = b.len();
        let next = self.at(start + 1);
        match c {
            _ if is_space(c) => {
                let mut i = start + 1;
                while i < n && is_space(b[i]) {
                    i += 1;
                }
                (K::Whitespace, i, false)
            }
            // A UTF-8 byte-order mark at the very start of a file is treated
            // as whitespace (psql itself would send it to the server).
            0xEF if start == 0 && b.get(1..3) == Some(&[0xBB, 0xBF][..]) => {
                (K::Whitespace, 3, false)
            }
            // `{comment}`: it always wins against `{operator}` because it is
            // at least as long and is listed first.
            b'-' if next == Some(b'-') => (K::LineComment, self.line_end(start + 2), false),
            // `{xcstart}`: likewise wins against `{operator}` by rule order.
            b'/' if next == Some(b'*') => {
                let (end, unterminated) = self.block_comment(start + 2);
                (K::BlockComment, end, unterminated)
            }
            b'\'' => {
                let (end, open) = self.string(start + 1, StrMode::Standard);
                (K::String, end, open.is_some())
            }
            b'"' => {
                let (end, u) = self.quoted_ident(start + 1);
                (K::QuotedIdent, end, u)
            }
            b'$' => self.dollar(start),
            b'0'..=b'9' => (K::Number, self.number(start), false),
            b'.' => match next {
                Some(d) if d.is_ascii_digit() => (K::Number, self.number(start), false),
                // `{dot_dot}`
                Some(b'.') => (K::Operator, start + 2, false),
                _ => (K::Operator, start + 1, false),
            },
            b'(' => (K::OpenParen, start + 1, false),
            b')' => (K::CloseParen, start + 1, false),
            b';' => (K::Semicolon, start + 1, false),
            b':' => self.colon(start),
            b'\\' => match next {
                // psqlscan.l `"\\"[;:]`: force a `;` or `:` into the query
                // buffer without its special meaning. Not a meta-command.
                Some(b';') | Some(b':') => (K::Operator, start + 2, false),
                _ => {
                    let (end, u) = meta::extent(b, start);
                    (K::MetaCommand, end, u)
                }
            },
            b',' | b'[' | b']' => (K::Operator, start + 1, false),
            _ if is_op_char(c) => (K::Operator, self.operator(start), false),
            _ if is_ident_start(c) => self.word_or_prefixed(start, c),
            // `{other}`: any other single (ASCII) byte.
            _ => (K::Operator, start + 1, false),
        }
    }

    /// Offset of the next `\n` or `\r` at or after `i` (`{non_newline}*`).
    fn line_end(&self, mut i: usize) -> usize {
        while i < self.b.len() && !matches!(self.b[i], b'\n' | b'\r') {
            i += 1;
        }
        i
    }

    /// `<xc>`: block comments nest (`xcdepth`). `i` is just past `/*`.
    fn block_comment(&self, mut i: usize) -> (usize, bool) {
        let b = self.b;
        let n = b.len();
        let mut depth = 0usize;
        while i < n {
            match (b[i], b.get(i + 1)) {
                // `{xcstop}` is `\*+\/`; checking each `*` for a following
                // `/` finds the same end.
                (b'*', Some(b'/')) => {
                    if depth == 0 {
                        return (i + 2, false);
                    }
                    depth -= 1;
                    i += 2;
                }
                // `{xcstart}` inside `<xc>` opens a nested level.
                (b'/', Some(b'*')) => {
                    depth += 1;
                    i += 2;
                }
                _ => i += 1,
            }
        }
        (n, true)
    }

    /// The first `/*` nested inside the block comment whose body starts at
    /// `i`, as [`Lexer::block_comment`] scans it.
    fn first_nested_comment(&self, mut i: usize) -> Option<Span> {
        let b = self.b;
        while i + 1 < b.len() {
            match (b[i], b[i + 1]) {
                (b'*', b'/') => return None,
                (b'/', b'*') => return Some(Span::new(i, i + 2)),
                _ => i += 1,
            }
        }
        None
    }

    /// A single-quoted string body starting at `i` (just past the opening
    /// quote), including any continuation segments. Returns the end offset
    /// and, when the input ended inside the string, the offset of the quote
    /// that opened the segment left open.
    fn string(&self, mut i: usize, mode: StrMode) -> (usize, Option<usize>) {
        let b = self.b;
        let n = b.len();
        let mut open = i - 1;
        loop {
            // Scan the body up to the closing quote.
            loop {
                if i >= n {
                    return (n, Some(open));
                }
                match b[i] {
                    b'\'' => {
                        // `{xqdouble}` is longer than `{quote}`, so `''` is
                        // an embedded quote. (In `<xb>`/`<xh>` psql ends the
                        // string and starts a new one instead; the end offset
                        // comes out the same.)
                        if b.get(i + 1) == Some(&b'\'') {
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    }
                    // `{xeescape}` and friends: the byte after a backslash
                    // never ends an E'' string. `<xe>.` handles `\` at EOF.
                    b'\\' if mode == StrMode::Escape => i = (i + 2).min(n),
                    _ => i += 1,
                }
            }
            // `<xqs>`: after the closing quote, look for `{quotecontinue}`.
            match self.quote_continue(i) {
                Some(q) => {
                    open = q;
                    i = q + 1;
                }
                None => return (i, None),
            }
        }
    }

    /// `{quotecontinue}` = `{whitespace_with_newline}{quote}`: whitespace that
    /// contains at least one newline (comments allowed), then a quote. The
    /// string literal then continues in the same mode. Returns the offset of
    /// that quote.
    fn quote_continue(&self, mut i: usize) -> Option<usize> {
        let b = self.b;
        let n = b.len();
        // `{non_newline_whitespace}*`
        loop {
            match b.get(i) {
                Some(b' ' | b'\t' | 0x0c | 0x0b) => i += 1,
                Some(b'-') if b.get(i + 1) == Some(&b'-') => i = self.line_end(i + 2),
                _ => break,
            }
        }
        // `{newline}`
        if !matches!(b.get(i), Some(b'\n' | b'\r')) {
            return None;
        }
        i += 1;
        // `{special_whitespace}*`: spaces, or a comment followed by a newline.
        // A comment that runs to the end of input cannot be followed by a
        // quote, so skipping it greedily is safe.
        while i < n {
            if is_space(b[i]) {
                i += 1;
            } else if b[i] == b'-' && b.get(i + 1) == Some(&b'-') {
                i = self.line_end(i + 2);
            } else {
                break;
            }
        }
        (b.get(i) == Some(&b'\'')).then_some(i)
    }

    /// `<xd>`/`<xui>`: a quoted identifier body starting at `i`.
    fn quoted_ident(&self, mut i: usize) -> (usize, bool) {
        let b = self.b;
        while i < b.len() {
            if b[i] == b'"' {
                if b.get(i + 1) == Some(&b'"') {
                    i += 2; // `{xddouble}`
                    continue;
                }
                return (i + 1, false);
            }
            i += 1;
        }
        (b.len(), true)
    }

    /// `{dolqdelim}`: `$` + optional tag + `$`. Returns the delimiter end.
    fn dollar_delim(&self, start: usize) -> Option<usize> {
        let b = self.b;
        let mut j = start + 1;
        if j < b.len() && is_ident_start(b[j]) {
            j += 1;
            while j < b.len() && is_dolq_cont(b[j]) {
                j += 1;
            }
        }
        (b.get(j) == Some(&b'$')).then_some(j + 1)
    }

    /// Tokens that start with `$`: a parameter, a dollar-quoted string, or a
    /// lone `$`.
    fn dollar(&self, start: usize) -> (TokenKind, usize, bool) {
        let b = self.b;
        let n = b.len();
        if b.get(start + 1).is_some_and(u8::is_ascii_digit) {
            // `{param}` and `{param_junk}` (`$1abc` is one token in PG16).
            let mut j = start + 1;
            while j < n && b[j].is_ascii_digit() {
                j += 1;
            }
            if j < n && is_ident_start(b[j]) {
                j = self.ident_rest(j + 1);
            }
            return (TokenKind::Param, j, false);
        }
        let Some(open_end) = self.dollar_delim(start) else {
            // `{dolqfailed}` puts back all but the `$`; a bare `$` is `{other}`.
            return (TokenKind::Operator, start + 1, false);
        };
        // `<xdolq>`: the body ends at the first occurrence of the exact
        // opening delimiter. psqlscan.l scans `$...$` candidates and puts
        // back the last `$` of a mismatch ("$delim$...$junk$delim$"); since a
        // tag cannot contain `$`, that finds the same place as a plain
        // substring search.
        let tag = &b[start..open_end];
        let mut i = open_end;
        while i < n {
            match b[i..].iter().position(|&x| x == b'$') {
                None => break,
                Some(off) => {
                    let at = i + off;
                    if b[at..].starts_with(tag) {
                        return (TokenKind::DollarString, at + tag.len(), false);
                    }
                    i = at + 1;
                }
            }
        }
        (TokenKind::DollarString, n, true)
    }

    /// Continues an identifier: `{ident_cont}*` from `i`.
    fn ident_rest(&self, mut i: usize) -> usize {
        while i < self.b.len() && is_ident_cont(self.b[i]) {
            i += 1;
        }
        i
    }

    /// `{decinteger}` = `{decdigit}(_?{decdigit})*`, starting at a digit.
    fn decinteger(&self, mut i: usize) -> usize {
        let b = self.b;
        i += 1;
        loop {
            match (b.get(i), b.get(i + 1)) {
                (Some(d), _) if d.is_ascii_digit() => i += 1,
                (Some(b'_'), Some(d)) if d.is_ascii_digit() => i += 2,
                _ => return i,
            }
        }
    }

    /// Numeric literals (PG16 rules: `{decinteger}`, `{hexinteger}`...,
    /// `{numeric}`, `{real}`, their `fail` rules and the `*_junk` rules that
    /// glue a trailing identifier onto the number).
    fn number(&self, start: usize) -> usize {
        let b = self.b;
        if b[start] == b'0'
            && matches!(
                b.get(start + 1),
                Some(b'x' | b'X' | b'o' | b'O' | b'b' | b'B')
            )
        {
            // `0x1F`, `0x`, `0xZZ`: `{integer_junk}` (`0` + identifier) is
            // always at least as long as the radix forms and ends where the
            // identifier run ends.
            return self.ident_rest(start + 2);
        }
        let mut j = if b[start] == b'.' {
            self.decinteger(start + 1)
        } else {
            let mut j = self.decinteger(start);
            if b.get(j) == Some(&b'.') {
                if b.get(j + 1) == Some(&b'.') {
                    // `{numericfail}`: "1..10" is 1, `..`, 10.
                    return j;
                }
                j += 1;
                if b.get(j).is_some_and(u8::is_ascii_digit) {
                    j = self.decinteger(j);
                }
            }
            j
        };
        if matches!(b.get(j), Some(b'e' | b'E')) {
            let mut k = j + 1;
            let signed = matches!(b.get(k), Some(b'+' | b'-'));
            if signed {
                k += 1;
            }
            if b.get(k).is_some_and(u8::is_ascii_digit) {
                j = self.decinteger(k); // `{real}`
            } else if signed {
                return k; // `{realfail}`: "1e+" is one token
            }
            // Otherwise the `e` starts an identifier: `{integer_junk}`.
        }
        if j < b.len() && is_ident_start(b[j]) {
            j = self.ident_rest(j + 1);
        }
        j
    }

    /// `:` and the psql variable forms `:name`, `:'name'`, `:"name"`,
    /// `:{?name}`; also `::` and `:=`.
    fn colon(&self, start: usize) -> (TokenKind, usize, bool) {
        let b = self.b;
        let vars_from = |mut j: usize| {
            while j < b.len() && is_variable_char(b[j]) {
                j += 1;
            }
            j
        };
        match b.get(start + 1) {
            Some(b':') | Some(b'=') => (TokenKind::Operator, start + 2, false),
            Some(&c) if is_variable_char(c) => (TokenKind::Variable, vars_from(start + 2), false),
            Some(&q @ (b'\'' | b'"')) => {
                let j = vars_from(start + 2);
                if j > start + 2 && b.get(j) == Some(&q) {
                    (TokenKind::Variable, j + 1, false)
                } else {
                    // The "fail" rules throw back everything but the colon.
                    (TokenKind::Operator, start + 1, false)
                }
            }
            Some(b'{') if b.get(start + 2) == Some(&b'?') => {
                let j = vars_from(start + 3);
                if j > start + 3 && b.get(j) == Some(&b'}') {
                    (TokenKind::Variable, j + 1, false)
                } else {
                    (TokenKind::Operator, start + 1, false)
                }
            }
            _ => (TokenKind::Operator, start + 1, false),
        }
    }

    /// `{operator}`: a run of op chars, cut before an embedded `/*` or `--`,
    /// and with trailing `+`/`-` removed unless the operator contains one of
    /// `~ ! @ # ^ & | \` ? %` (so that `=-` lexes as `=` then `-`).
    fn operator(&mut self, start: usize) -> usize {
        if start < self.pm_until {
            return start + 1;
        }
        let b = self.b;
        let mut end = start;
        while end < b.len() && is_op_char(b[end]) {
            end += 1;
        }
        let run = &b[start..end];
        let mut nchars = run.len();
        if let Some(k) = run.windows(2).position(|w| w == b"/*" || w == b"--") {
            nchars = k;
        }
        if nchars > 1 && matches!(run[nchars - 1], b'+' | b'-') {
            let qualifies = run[..nchars - 1].iter().any(|c| {
                matches!(
                    c,
                    b'~' | b'!' | b'@' | b'#' | b'^' | b'&' | b'|' | b'`' | b'?' | b'%'
                )
            });
            if !qualifies {
                let cut = nchars;
                while nchars > 1 && matches!(run[nchars - 1], b'+' | b'-') {
                    nchars -= 1;
                }
                // What was stripped is all `+`/`-`, holds no comment start
                // and no qualifying character, so every token starting in
                // it is a single character. Remember that instead of
                // rescanning the run for each of them (quadratic on "+-+-...").
                self.pm_until = start + cut;
            }
        }
        // `nchars` is never 0: the first byte cannot start `/*` or `--`
        // because those cases were taken earlier.
        start + nchars.max(1)
    }

    /// Identifiers, and the string forms introduced by a letter: `B'..'`,
    /// `X'..'`, `N'..'`, `E'..'`, `U&'..'`, `U&".."`. These win over
    /// `{identifier}` only when the letter stands alone, because flex picks
    /// the longest match (`b'` is longer than the identifier `b`, but `bx` is
    /// an identifier followed by a plain string).
    fn word_or_prefixed(&self, start: usize, c: u8) -> (TokenKind, usize, bool) {
        let next = self.at(start + 1);
        match (c, next) {
            (b'b' | b'B' | b'x' | b'X' | b'n' | b'N', Some(b'\'')) => {
                let (end, open) = self.string(start + 2, StrMode::Standard);
                (TokenKind::String, end, open.is_some())
            }
            (b'e' | b'E', Some(b'\'')) => {
                let (end, open) = self.string(start + 2, StrMode::Escape);
                (TokenKind::String, end, open.is_some())
            }
            (b'u' | b'U', Some(b'&')) => match self.at(start + 2) {
                Some(b'\'') => {
                    let (end, open) = self.string(start + 3, StrMode::Standard);
                    (TokenKind::String, end, open.is_some())
                }
                Some(b'"') => {
                    let (end, u) = self.quoted_ident(start + 3);
                    (TokenKind::QuotedIdent, end, u)
                }
                // `{xufailed}`: just the letter; psql does not count it as
                // an identifier (see `split`).
                _ => (TokenKind::Word, start + 1, false),
            },
            _ => (TokenKind::Word, self.ident_rest(start + 1), false),
        }
    }
}

/// What the unterminated token `tok` of `src` leaves open (see
/// [`Token::unclosed`](crate::Token::unclosed)). Lexes the token again, this
/// time keeping the offsets a message needs.
pub(crate) fn unclosed(src: &str, tok: Token) -> Option<Unclosed> {
    let start = tok.span.start;
    let lx = Lexer::with_range(src, 0, tok.span.end);
    let b = lx.b;
    let find = |c: u8| {
        b.get(start..)?
            .iter()
            .position(|&x| x == c)
            .map(|p| start + p)
    };
    let (kind, open) = match tok.kind {
        TokenKind::BlockComment => {
            let nested = lx.first_nested_comment(start + 2);
            (
                UnclosedKind::BlockComment { nested },
                Span::new(start, start + 2),
            )
        }
        TokenKind::String => {
            let quote = find(b'\'')?;
            let escapes = matches!(b[start], b'e' | b'E');
            let mode = if escapes {
                StrMode::Escape
            } else {
                StrMode::Standard
            };
            let open = lx.string(quote + 1, mode).1?;
            // The first segment's delimiter includes its prefix (`E'`).
            let from = if open == quote { start } else { open };
            (UnclosedKind::String { escapes }, Span::new(from, open + 1))
        }
        TokenKind::QuotedIdent => (UnclosedKind::QuotedIdent, Span::new(start, find(b'"')? + 1)),
        TokenKind::DollarString => (
            UnclosedKind::DollarQuote,
            Span::new(start, lx.dollar_delim(start)?),
        ),
        TokenKind::MetaCommand => {
            let quote = meta::scan(b, start).open_quote?;
            (UnclosedKind::MetaArgument, Span::new(quote, quote + 1))
        }
        _ => return None,
    };
    Some(Unclosed { kind, open })
}

/// Tokenizes all of `src`.
pub(crate) fn tokenize(src: &str) -> Vec<Token> {
    let mut lx = Lexer::new(src);
    // A rough guess that avoids most re-allocations for typical SQL.
    let mut out = Vec::with_capacity(src.len() / 4 + 1);
    while let Some(t) = lx.next_token() {
        out.push(t);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use TokenKind as K;

    fn toks(src: &str) -> Vec<(K, &str)> {
        tokenize(src)
            .into_iter()
            .map(|t| (t.kind, &src[t.span.start..t.span.end]))
            .collect()
    }

    fn sig(src: &str) -> Vec<(K, &str)> {
        toks(src)
            .into_iter()
            .filter(|(k, _)| !matches!(k, K::Whitespace | K::LineComment | K::BlockComment))
            .collect()
    }

    #[test]
    fn identifiers_may_contain_dollar() {
        assert_eq!(
            sig("a$$b foo$bar"),
            vec![(K::Word, "a$$b"), (K::Word, "foo$bar")]
        );
    }

    #[test]
    fn dollar_quotes() {
        assert_eq!(sig("$$a;b$$"), vec![(K::DollarString, "$$a;b$$")]);
        assert_eq!(
            sig("$f$ $$ $g$ $f$x"),
            vec![(K::DollarString, "$f$ $$ $g$ $f$"), (K::Word, "x")]
        );
        // "$delim$...$junk$delim$"
        assert_eq!(sig("$a$x$ba$a$"), vec![(K::DollarString, "$a$x$ba$a$")]);
        assert_eq!(
            sig("$1$$ $$"),
            vec![(K::Param, "$1"), (K::DollarString, "$$ $$")]
        );
        assert_eq!(sig("$1abc"), vec![(K::Param, "$1abc")]);
        assert_eq!(
            sig("$foo bar"),
            vec![(K::Operator, "$"), (K::Word, "foo"), (K::Word, "bar")]
        );
        assert_eq!(sig("$_1$x$_1$"), vec![(K::DollarString, "$_1$x$_1$")]);
        let t = tokenize("$x$ never closed $y$");
        assert_eq!(t.len(), 1);
        assert!(t[0].unterminated);
    }

    #[test]
    fn strings() {
        assert_eq!(sig("'it''s'"), vec![(K::String, "'it''s'")]);
        assert_eq!(
            sig(r"E'a\'b' x"),
            vec![(K::String, r"E'a\'b'"), (K::Word, "x")]
        );
        assert_eq!(sig(r"'a\' x"), vec![(K::String, r"'a\'"), (K::Word, "x")]);
        assert_eq!(
            sig("U&'d\\0061t' UESCAPE '!'"),
            vec![
                (K::String, "U&'d\\0061t'"),
                (K::Word, "UESCAPE"),
                (K::String, "'!'")
            ]
        );
        assert_eq!(
            sig("u&x"),
            vec![(K::Word, "u"), (K::Operator, "&"), (K::Word, "x")]
        );
        assert_eq!(sig("bx'1'"), vec![(K::Word, "bx"), (K::String, "'1'")]);
        assert_eq!(
            sig("B'01' X'ff' N'n'"),
            vec![
                (K::String, "B'01'"),
                (K::String, "X'ff'"),
                (K::String, "N'n'")
            ]
        );
        // Continuation needs a newline between the parts.
        assert_eq!(sig("'a'\n  'b'"), vec![(K::String, "'a'\n  'b'")]);
        assert_eq!(
            sig("'a' -- c\n-- d\n'b'"),
            vec![(K::String, "'a' -- c\n-- d\n'b'")]
        );
        assert_eq!(sig("'a' 'b'"), vec![(K::String, "'a'"), (K::String, "'b'")]);
        // An E'' string continues as E'': `\'` stays escaped.
        assert_eq!(
            sig("E'a'\n'\\'' x"),
            vec![(K::String, "E'a'\n'\\''"), (K::Word, "x")]
        );
        let t = tokenize("'abc");
        assert!(t[0].unterminated);
        let t = tokenize("E'abc\\");
        assert!(t[0].unterminated && t.len() == 1);
    }

    #[test]
    fn quoted_identifiers() {
        assert_eq!(
            sig(r#""a""b" U&"x""#),
            vec![(K::QuotedIdent, r#""a""b""#), (K::QuotedIdent, r#"U&"x""#)]
        );
        assert!(tokenize("\"abc")[0].unterminated);
    }

    #[test]
    fn comments() {
        assert_eq!(
            toks("/* a /* b */ c */x"),
            vec![(K::BlockComment, "/* a /* b */ c */"), (K::Word, "x")]
        );
        assert!(tokenize("/* a /* b */")[0].unterminated);
        assert_eq!(
            toks("--x\r\ny"),
            vec![
                (K::LineComment, "--x"),
                (K::Whitespace, "\r\n"),
                (K::Word, "y")
            ]
        );
        assert_eq!(toks("-- at eof"), vec![(K::LineComment, "-- at eof")]);
        assert_eq!(toks("/*/ */"), vec![(K::BlockComment, "/*/ */")]);
        assert_eq!(toks("/**/"), vec![(K::BlockComment, "/**/")]);
    }

    #[test]
    fn operators() {
        assert_eq!(
            sig("a+-b"),
            vec![
                (K::Word, "a"),
                (K::Operator, "+"),
                (K::Operator, "-"),
                (K::Word, "b")
            ]
        );
        assert_eq!(
            sig("a@-b"),
            vec![(K::Word, "a"), (K::Operator, "@-"), (K::Word, "b")]
        );
        assert_eq!(
            sig("a+/*c*/b"),
            vec![(K::Word, "a"), (K::Operator, "+"), (K::Word, "b")]
        );
        assert_eq!(sig("1--c\n"), vec![(K::Number, "1")]);
        assert_eq!(
            sig("<+-+-=-+"),
            vec![
                (K::Operator, "<+-+-="),
                (K::Operator, "-"),
                (K::Operator, "+")
            ]
        );
        assert_eq!(
            sig("<+-+-"),
            vec![
                (K::Operator, "<"),
                (K::Operator, "+"),
                (K::Operator, "-"),
                (K::Operator, "+"),
                (K::Operator, "-"),
            ]
        );
        assert_eq!(sig("@+-+-"), vec![(K::Operator, "@+-+-")]);
        assert_eq!(
            sig("+-+--x"),
            vec![(K::Operator, "+"), (K::Operator, "-"), (K::Operator, "+")]
        );
        assert_eq!(
            sig("x::int"),
            vec![(K::Word, "x"), (K::Operator, "::"), (K::Word, "int")]
        );
        assert_eq!(
            sig("a := 1 .. 2"),
            vec![
                (K::Word, "a"),
                (K::Operator, ":="),
                (K::Number, "1"),
                (K::Operator, ".."),
                (K::Number, "2")
            ]
        );
    }

    /// psqlscan.l's `{operator}` action, written the plain way, applied to a
    /// string of operator characters without `/` and `*` (so the only
    /// comment start is `--`, which runs to the end).
    fn naive_ops(s: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut rest = s;
        while !rest.is_empty() {
            if rest.starts_with("--") {
                out.push(rest);
                break;
            }
            let mut n = rest.find("--").unwrap_or(rest.len());
            let b = rest.as_bytes();
            if n > 1
                && matches!(b[n - 1], b'+' | b'-')
                && !b[..n - 1].iter().any(|c| b"~!@#^&|`?%".contains(c))
            {
                while n > 1 && matches!(b[n - 1], b'+' | b'-') {
                    n -= 1;
                }
            }
            out.push(&rest[..n]);
            rest = &rest[n..];
        }
        out
    }

    #[test]
    fn operator_rule_matches_psql_exhaustively() {
        let alphabet = ['+', '-', '<', '@', '='];
        let mut s = String::new();
        for len in 1..=7u32 {
            for mut code in 0..5usize.pow(len) {
                s.clear();
                for _ in 0..len {
                    s.push(alphabet[code % 5]);
                    code /= 5;
                }
                let got: Vec<&str> = toks(&s).into_iter().map(|(_, t)| t).collect();
                assert_eq!(got, naive_ops(&s), "{s:?}");
            }
        }
    }

    /// Inputs that would take minutes if some rule rescanned text for every
    /// token (operator runs, many meta-commands on one line).
    #[test]
    fn no_quadratic_blowup() {
        let ops = "<".to_string() + &"+-".repeat(200_000);
        assert_eq!(tokenize(&ops).len(), 400_001);
        let metas = "\\echo a ".repeat(50_000);
        assert_eq!(tokenize(&metas).len(), 50_000);
        let dollars = format!("$a$ {} $a$", "$a $ a$ $$ ".repeat(50_000));
        assert_eq!(tokenize(&dollars).len(), 1);
    }

    #[test]
    fn numbers() {
        assert_eq!(
            sig("1..10"),
            vec![(K::Number, "1"), (K::Operator, ".."), (K::Number, "10")]
        );
        assert_eq!(
            sig("1.5e-3 .5 1e+ 1_000 0x1F 0b'1' 12abc"),
            vec![
                (K::Number, "1.5e-3"),
                (K::Number, ".5"),
                (K::Number, "1e+"),
                (K::Number, "1_000"),
                (K::Number, "0x1F"),
                (K::Number, "0b"),
                (K::String, "'1'"),
                (K::Number, "12abc"),
            ]
        );
    }

    #[test]
    fn variables() {
        assert_eq!(
            sig(":foo :'bar' :\"baz\" :{?qux}"),
            vec![
                (K::Variable, ":foo"),
                (K::Variable, ":'bar'"),
                (K::Variable, ":\"baz\""),
                (K::Variable, ":{?qux}"),
            ]
        );
        // psqlscan.l treats `:2` in an array slice as a variable reference
        // (left as-is when no such variable exists).
        assert_eq!(
            sig("a[1:2]"),
            vec![
                (K::Word, "a"),
                (K::Operator, "["),
                (K::Number, "1"),
                (K::Variable, ":2"),
                (K::Operator, "]"),
            ]
        );
        assert_eq!(
            sig(":'x y'"),
            vec![(K::Operator, ":"), (K::String, "'x y'")]
        );
    }

    #[test]
    fn backslashes() {
        assert_eq!(
            sig("a \\; b"),
            vec![(K::Word, "a"), (K::Operator, "\\;"), (K::Word, "b")]
        );
        assert_eq!(
            toks("\\echo hi\nx"),
            vec![
                (K::MetaCommand, "\\echo hi"),
                (K::Whitespace, "\n"),
                (K::Word, "x")
            ]
        );
    }

    #[test]
    fn bom_and_whitespace() {
        assert_eq!(
            toks("\u{feff}x"),
            vec![(K::Whitespace, "\u{feff}"), (K::Word, "x")]
        );
        assert_eq!(
            toks("\u{feff}\u{feff}"),
            vec![(K::Whitespace, "\u{feff}"), (K::Word, "\u{feff}")]
        );
        assert_eq!(
            toks(" \t\x0b\x0c\r\n"),
            vec![(K::Whitespace, " \t\x0b\x0c\r\n")]
        );
        assert_eq!(toks("é$x"), vec![(K::Word, "é$x")]);
    }
}
