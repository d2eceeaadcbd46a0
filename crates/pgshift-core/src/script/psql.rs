//! The psql behaviour pgshift does not reproduce, refused before connecting.
//!
//! pgshift sends each statement's text exactly as written. Wherever psql
//! would send something else (or less), running the file would silently
//! differ from `psql -f`, so the file is refused with its location:
//! - a string, comment, quoted identifier or dollar quote still open at the
//!   end of the file: psql sends the rest of the file inside it;
//! - `COPY … FROM STDIN` data in the script;
//! - psql variables (`:name`, `:'name'`, `:"name"`), which psql substitutes;
//! - `\;` and `\:`, which psql turns into `;` and `:` (and `\;` joins
//!   statements into one query, out of reach of the transaction checks);
//! - turning `standard_conforming_strings` off, after which psql lexes the
//!   following lines differently (backslashes escape in `'…'`).
//!
//! Lexing rules are the lexer's ([`pgshift_lexer`], after psqlscan.l); this
//! module decides what pgshift accepts.

use crate::migration::{LoadError, PsqlEscape};
use crate::source::SourceFile;
use pgshift_lexer::{Item, MetaCommand, Script as Split, Statement, Token, TokenKind};

/// Refuses what the lexer found open at the end of the file (or, for a
/// psql command's argument, of its line).
pub(super) fn check_unclosed(file: &SourceFile, split: &Split) -> Result<(), LoadError> {
    let text = file.text();
    match split.unterminated.iter().find_map(|t| t.unclosed(text)) {
        Some(open) => Err(LoadError::Unclosed {
            path: file.path().to_path_buf(),
            span: open.open,
            kind: open.kind,
            delimiter: open.open.text(text).to_string(),
        }),
        None => Ok(()),
    }
}

/// Refuses `COPY … FROM STDIN` and `\copy … from stdin`: their data lines
/// are not SQL.
pub(super) fn check_copy(file: &SourceFile, split: &Split) -> Result<(), LoadError> {
    if let Some(copy) = split.copy_data.first() {
        let item = &split.items[copy.item];
        return Err(LoadError::CopyFromStdin {
            path: file.path().to_path_buf(),
            span: item.span(),
            meta: matches!(item, Item::Meta(_)),
        });
    }
    Ok(())
}

/// Refuses psql syntax inside one statement: meta-commands, variables,
/// `\;` / `\:`, and turning `standard_conforming_strings` off. One pass
/// over the tokens, keeping nothing but a few leading ones: a bulk INSERT
/// of many megabytes costs no token list.
pub(super) fn check_statement(file: &SourceFile, statement: &Statement) -> Result<(), LoadError> {
    let text = file.text();
    let path = || file.path().to_path_buf();
    let mut brackets = 0usize;
    let mut standard_strings = StandardStrings::new(text);
    for token in statement.tokens(text) {
        let span = token.span;
        let written = token.text(text);
        if !token.is_trivia() {
            standard_strings.push(token);
        }
        match token.kind {
            TokenKind::MetaCommand => {
                // psql drops a meta-command found inside a statement before
                // sending it; sending the text as written would be a syntax
                // error, and rewriting it would break the mapping of server
                // error positions back to the file.
                return Err(LoadError::MetaCommand {
                    path: path(),
                    span,
                    command: written
                        .trim_start_matches('\\')
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                    reason: "psql commands inside a statement are not supported; put it on its own line between statements".into(),
                });
            }
            TokenKind::Operator => match written {
                "[" => brackets += 1,
                "]" => brackets = brackets.saturating_sub(1),
                "\\;" | "\\:" => {
                    return Err(LoadError::PsqlEscape {
                        path: path(),
                        span,
                        escape: if written == "\\;" {
                            PsqlEscape::JoinedQuery
                        } else {
                            PsqlEscape::LiteralColon
                        },
                    })
                }
                _ => {}
            },
            // psql's lexer takes `:name` for a variable everywhere outside
            // quotes and comments, and sends it unchanged only when no such
            // variable is set. Inside `[…]` a bare `:name` is an array
            // slice bound (`a[1:n]`), which is what psql sends without
            // `-v n=…`; anywhere else, and in its quoted forms, it can only
            // be meant for psql.
            TokenKind::Variable if !(brackets > 0 && is_bare_variable(written)) => {
                return Err(LoadError::PsqlVariable {
                    path: path(),
                    span,
                    reference: written.to_string(),
                });
            }
            _ => {}
        }
    }
    if standard_strings.turned_off() {
        return Err(LoadError::StandardConformingStrings {
            path: path(),
            span: statement.span,
        });
    }
    Ok(())
}

/// Refuses variable references in the arguments of a psql command pgshift
/// runs (`\echo :x`, `\i :dir/file.sql`): psql would substitute them.
pub(super) fn check_meta(file: &SourceFile, meta: &MetaCommand) -> Result<(), LoadError> {
    match meta.variables.first() {
        Some(span) => Err(LoadError::PsqlVariable {
            path: file.path().to_path_buf(),
            span: *span,
            reference: span.text(file.text()).to_string(),
        }),
        None => Ok(()),
    }
}

/// `:name`, as opposed to `:'name'`, `:"name"` and `:{?name}`.
fn is_bare_variable(written: &str) -> bool {
    !matches!(written.as_bytes().get(1), Some(b'\'' | b'"' | b'{'))
}

const SCS: &str = "standard_conforming_strings";

/// Watches a statement's significant tokens for `SET [SESSION | LOCAL]
/// standard_conforming_strings {TO | =} <not on>`, or for
/// `set_config('standard_conforming_strings', …)` anywhere.
///
/// psql learns the new value from the server after the statement and lexes
/// the following lines by it (psqlscan.l's `std_strings`); pgshift always
/// lexes with it on, so anything that may turn it off is refused. Values
/// that keep it on (`on`, `true`, `yes`, `1`, `DEFAULT` and the prefixes
/// PostgreSQL's `parse_bool` accepts) are allowed.
struct StandardStrings<'a> {
    text: &'a str,
    /// The first five significant tokens: `SET LOCAL scs = value`.
    head: Vec<Token>,
    /// The two significant tokens before the current one.
    previous: [Option<Token>; 2],
    set_config: bool,
}

impl<'a> StandardStrings<'a> {
    fn new(text: &'a str) -> Self {
        StandardStrings {
            text,
            head: Vec::with_capacity(5),
            previous: [None; 2],
            set_config: false,
        }
    }

    fn push(&mut self, token: Token) {
        if self.head.len() < 5 {
            self.head.push(token);
        }
        if let [Some(name), Some(paren)] = self.previous {
            self.set_config |= name.kind == TokenKind::Word
                && name.text(self.text).eq_ignore_ascii_case("set_config")
                && paren.kind == TokenKind::OpenParen
                && token.kind == TokenKind::String
                && token
                    .text(self.text)
                    .trim_matches('\'')
                    .eq_ignore_ascii_case(SCS);
        }
        self.previous = [self.previous[1], Some(token)];
    }

    /// A keyword or identifier at `i` of the head, lowercased unless quoted.
    fn word(&self, i: usize) -> Option<String> {
        let t = self.head.get(i)?;
        match t.kind {
            TokenKind::Word => Some(t.text(self.text).to_ascii_lowercase()),
            TokenKind::QuotedIdent => Some(t.text(self.text).trim_matches('"').to_string()),
            _ => None,
        }
    }

    fn turned_off(&self) -> bool {
        if self.set_config {
            return true;
        }
        if self.word(0).as_deref() != Some("set") {
            return false;
        }
        let mut i = 1;
        if matches!(self.word(i).as_deref(), Some("session" | "local")) {
            i += 1;
        }
        if self.word(i).as_deref() != Some(SCS) {
            return false;
        }
        i += 1;
        if self.word(i).as_deref() == Some("to")
            || self.head.get(i).is_some_and(|t| t.text(self.text) == "=")
        {
            i += 1;
        }
        let Some(value) = self.head.get(i) else {
            return true;
        };
        let value = value
            .text(self.text)
            .trim_matches('\'')
            .to_ascii_lowercase();
        !matches!(
            value.as_str(),
            "on" | "t" | "tr" | "tru" | "true" | "y" | "ye" | "yes" | "1" | "default"
        )
    }
}
