//! psql backslash meta-commands: where one ends, its name and its arguments.
//!
//! This file owns the rules of psql's second lexer,
//! `src/bin/psql/psqlscanslash.l`, and the bits of `src/bin/psql/command.c`
//! (`HandleSlashCmds`) that decide how much of the line a command consumes.
//!
//! psql reads its input one line at a time, and a backslash command only
//! ever sees the rest of its own line:
//! - The name runs from after the `\` up to whitespace or another `\`
//!   (`<xslashcmd>`).
//! - Arguments are separated by unquoted whitespace and end at an unquoted
//!   `\` (`<xslasharg>`). Inside an argument, `'...'` is removed with `''`
//!   turned into `'` and the escapes `\n \t \b \r \f`, octal and `\xHH`
//!   interpreted (`<xslashquote>`); `"..."` is kept verbatim with its quotes
//!   (`<xslashdquote>`); `` `...` `` is kept verbatim with its backquotes
//!   (psql would run it as a shell command; we never do). Variable
//!   references (`:name`, `:'name'`, `:"name"`, `:{?name}`) are kept as
//!   written, since no variables are known here.
//! - A few commands take the whole rest of the line as one argument
//!   (`OT_WHOLE_LINE`): `\!`, `\copy`, `\ef`, `\ev`, `\sf`, `\sv`, `\h`/`\help`.
//!   `\o`, `\w`, `\g`, `\gx` do the same for an argument starting with `|`
//!   (`OT_FILEPIPE`).
//! - After the arguments, a `\\` separator is eaten as part of the command
//!   (`psql_scan_slash_command_end`), and the rest of the line is read as SQL
//!   again. A single `\` instead starts the next meta-command.
//! - An empty command name (`\` followed by a space, `\` or end of line) is
//!   an invalid command, and psql throws away the rest of its line.
//!
//! A quoted argument left open at the end of the line is dropped, as psql
//! does ("unterminated quoted string"), and the token is flagged
//! `unterminated`.

use crate::Span;
use std::ops::Range;

/// Whitespace inside a backslash command (`{space}` in psqlscanslash.l).
#[inline]
fn is_slash_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0c)
}

/// Commands whose argument is the whole rest of the line (`OT_WHOLE_LINE`).
fn is_whole_line(name: &[u8]) -> bool {
    matches!(name, b"!" | b"ef" | b"ev" | b"sf" | b"sf+" | b"sv" | b"sv+" | b"h" | b"help")
        // command.c compares "copy" case-insensitively.
        || name.eq_ignore_ascii_case(b"copy")
}

/// Commands that read an argument with `OT_FILEPIPE`, where a leading `|`
/// makes the rest of the line one argument (a shell pipe).
fn is_filepipe(name: &[u8]) -> bool {
    matches!(name, b"o" | b"out" | b"w" | b"write" | b"g" | b"gx")
}

/// Commands that ask `psql_scan_slash_option` to strip unquoted trailing
/// semicolons (`semicolon = true`), so `\i file.sql;` reads `file.sql`.
fn strips_semicolons(name: &[u8]) -> bool {
    matches!(
        name,
        b"i" | b"include"
            | b"ir"
            | b"include_relative"
            | b"c"
            | b"connect"
            | b"cd"
            | b"o"
            | b"out"
            | b"w"
            | b"write"
    ) || name.first() == Some(&b'd')
}

/// The result of scanning one meta-command.
pub(crate) struct Scan {
    /// Offset just past the command (see [`scan`]).
    pub end: usize,
    /// The quote that opened an argument left open at the end of the line.
    pub open_quote: Option<usize>,
    /// Byte range of the command name (after the backslash).
    pub name: Range<usize>,
    /// The arguments, as psql would hand them to the command.
    pub args: Vec<String>,
    /// Variable references psql would substitute in the arguments.
    pub variables: Vec<Span>,
}

/// Where the meta-command starting with the `\` at `start` ends, and whether
/// it has an unterminated quoted argument.
pub(crate) fn extent(b: &[u8], start: usize) -> (usize, bool) {
    let s = scan(b, start);
    (s.end, s.open_quote.is_some())
}

/// Scans the meta-command whose `\` is at `b[start]`.
///
/// The command ends at the end of its line (before `\n` or `\r\n`), just
/// after a `\\` separator, or just before another `\` that starts the next
/// command on the same line.
pub(crate) fn scan(b: &[u8], start: usize) -> Scan {
    // Nothing here looks for the end of the line ahead of time: a long line
    // holding many meta-commands must not be rescanned for each of them.
    let mut i = start + 1;
    while in_line(b, i) && !is_slash_space(b[i]) && b[i] != b'\\' {
        i += 1;
    }
    let name = start + 1..i;
    let name_bytes = &b[name.clone()];

    if name.is_empty() {
        // exec_command("") is an unknown command: HandleSlashCmds then
        // "silently throws away rest of line after an erroneous command".
        return Scan {
            end: line_end(b, start, eol_from(b, i)),
            open_quote: None,
            name,
            args: Vec::new(),
            variables: Vec::new(),
        };
    }

    if is_whole_line(name_bytes) {
        // `<xslashwholeline>`: leading whitespace suppressed, the rest kept.
        let end = line_end(b, start, eol_from(b, i));
        while i < end && is_slash_space(b[i]) {
            i += 1;
        }
        let args = if i < end {
            vec![lossy(&b[i..end])]
        } else {
            Vec::new()
        };
        return Scan {
            end,
            open_quote: None,
            name,
            args,
            variables: Vec::new(),
        };
    }

    let strip = strips_semicolons(name_bytes);
    let filepipe = is_filepipe(name_bytes);
    let mut args = Vec::new();
    let mut open_quote = None;
    let mut variables = Vec::new();
    loop {
        // `<xslashargstart>`: discard whitespace before an argument.
        while in_line(b, i) && is_slash_space(b[i]) {
            i += 1;
        }
        if !in_line(b, i) || b[i] == b'\\' {
            break;
        }
        if filepipe && b[i] == b'|' {
            let eol = eol_from(b, i);
            args.push(lossy(&b[i..line_end(b, start, eol)]));
            i = eol;
            break;
        }
        match arg(b, i, strip, &mut variables) {
            Arg::Value { end, value, quoted } => {
                i = end;
                // "An unquoted empty argument isn't possible unless we are at
                // end of command": psql returns NULL for it (this happens when
                // only semicolons were stripped).
                if !value.is_empty() || quoted {
                    args.push(lossy(&value));
                }
            }
            Arg::Unterminated { eol, open } => {
                open_quote = Some(open);
                i = eol;
                break;
            }
        }
    }
    let end = if in_line(b, i) && b[i] == b'\\' {
        if b.get(i + 1) == Some(&b'\\') {
            i + 2
        } else {
            i
        }
    } else {
        // Here `i` is at the end of the line.
        line_end(b, start, i)
    };
    Scan {
        end,
        open_quote,
        name,
        args,
        variables,
    }
}

/// True if `i` is inside the current line (before its `\n` and the end).
#[inline]
fn in_line(b: &[u8], i: usize) -> bool {
    i < b.len() && b[i] != b'\n'
}

/// Offset of the `\n` ending the line that contains `i`, or the input end.
fn eol_from(b: &[u8], i: usize) -> usize {
    let i = i.min(b.len());
    b[i..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |p| i + p)
}

/// Where a command starting at `start` ends if it runs to `eol`. psql keeps
/// a CR of a CRLF line in the line (it is whitespace to both lexers); we
/// leave it out of the span so that it ends where the visible text ends.
fn line_end(b: &[u8], start: usize, eol: usize) -> usize {
    if eol > start + 1 && b[eol - 1] == b'\r' {
        eol - 1
    } else {
        eol
    }
}

enum Arg {
    Value {
        end: usize,
        value: Vec<u8>,
        quoted: bool,
    },
    /// The quote at `open` was still open at `eol`, the end of the line.
    Unterminated { eol: usize, open: usize },
}

/// One argument starting at `i` (`<xslasharg>` and the quote states).
/// Variable references in it are added to `variables`.
fn arg(b: &[u8], mut i: usize, strip: bool, variables: &mut Vec<Span>) -> Arg {
    let mut out = Vec::new();
    // psqlscanslash.l's `unquoted_option_chars`: how many characters at the
    // end of the argument were not quoted. Only those may be stripped.
    let mut unquoted_tail = 0usize;
    let mut quoted = false;
    while in_line(b, i) {
        let c = b[i];
        if is_slash_space(c) || c == b'\\' {
            break;
        }
        match c {
            b'\'' => {
                quoted = true;
                unquoted_tail = 0;
                let open = i;
                i += 1;
                loop {
                    if !in_line(b, i) {
                        return Arg::Unterminated { eol: i, open };
                    }
                    match b[i] {
                        b'\'' if in_line(b, i + 1) && b[i + 1] == b'\'' => {
                            out.push(b'\'');
                            i += 2;
                        }
                        b'\'' => {
                            i += 1;
                            break;
                        }
                        b'\\' if in_line(b, i + 1) => i = escape(b, i + 1, &mut out),
                        other => {
                            out.push(other);
                            i += 1;
                        }
                    }
                }
            }
            b'"' | b'`' => {
                quoted = true;
                unquoted_tail = 0;
                let open = i;
                out.push(c);
                i += 1;
                loop {
                    if !in_line(b, i) {
                        return Arg::Unterminated { eol: i, open };
                    }
                    let d = b[i];
                    out.push(d);
                    i += 1;
                    if d == c {
                        break;
                    }
                }
            }
            b':' => match variable_ref(b, i) {
                Some(end) => {
                    variables.push(Span::new(i, end));
                    out.extend_from_slice(&b[i..end]);
                    i = end;
                    quoted = true;
                    unquoted_tail = 0;
                }
                None => {
                    out.push(b':');
                    unquoted_tail += 1;
                    i += 1;
                }
            },
            _ => {
                out.push(c);
                unquoted_tail += 1;
                i += 1;
            }
        }
    }
    if strip {
        while unquoted_tail > 0 && out.last() == Some(&b';') {
            out.pop();
            unquoted_tail -= 1;
        }
    }
    Arg::Value {
        end: i,
        value: out,
        quoted,
    }
}

/// A backslash escape inside a single-quoted argument; `i` is just past the
/// backslash. Returns the offset after the escape.
fn escape(b: &[u8], i: usize, out: &mut Vec<u8>) -> usize {
    let c = b[i];
    let simple = match c {
        b'n' => Some(b'\n'),
        b't' => Some(b'\t'),
        b'b' => Some(0x08),
        b'r' => Some(b'\r'),
        b'f' => Some(0x0c),
        _ => None,
    };
    if let Some(v) = simple {
        out.push(v);
        return i + 1;
    }
    if (b'0'..=b'7').contains(&c) {
        // `{xeoctesc}`: up to three octal digits; the value is cast to char.
        let mut v: u32 = 0;
        let mut j = i;
        while j < i + 3 && in_line(b, j) && (b'0'..=b'7').contains(&b[j]) {
            v = v * 8 + u32::from(b[j] - b'0');
            j += 1;
        }
        out.push((v & 0xff) as u8);
        return j;
    }
    if c == b'x' && in_line(b, i + 1) && b[i + 1].is_ascii_hexdigit() {
        // `{xehexesc}`: one or two hex digits.
        let mut v: u32 = 0;
        let mut j = i + 1;
        while j < i + 3 && in_line(b, j) && b[j].is_ascii_hexdigit() {
            v = v * 16 + (b[j] as char).to_digit(16).unwrap_or(0);
            j += 1;
        }
        out.push((v & 0xff) as u8);
        return j;
    }
    // `"\\".`: any other escaped byte stands for itself.
    out.push(c);
    i + 1
}

/// `:name`, `:'name'`, `:"name"` or `:{?name}` at `i`: returns its end.
fn variable_ref(b: &[u8], i: usize) -> Option<usize> {
    use crate::lexer::is_variable_char;
    let vars_from = |mut j: usize| {
        while in_line(b, j) && is_variable_char(b[j]) {
            j += 1;
        }
        j
    };
    let next = *b.get(i + 1).filter(|_| in_line(b, i + 1))?;
    match next {
        c if is_variable_char(c) => Some(vars_from(i + 2)),
        q @ (b'\'' | b'"') => {
            let j = vars_from(i + 2);
            (j > i + 2 && in_line(b, j) && b[j] == q).then_some(j + 1)
        }
        b'{' if in_line(b, i + 2) && b[i + 2] == b'?' => {
            let j = vars_from(i + 3);
            (j > i + 3 && in_line(b, j) && b[j] == b'}').then_some(j + 1)
        }
        _ => None,
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Whether a `\copy` argument line reads its data from the script
/// (`... FROM STDIN`). Mirrors `parse_slash_copy` in psql's `copy.c`
/// loosely: the first `from` outside parentheses, then the source word.
pub(crate) fn copy_reads_stdin(arg: &str) -> bool {
    let mut depth = 0i32;
    let mut words = arg.split_ascii_whitespace();
    while let Some(w) = words.next() {
        if depth == 0 && w.eq_ignore_ascii_case("from") {
            return words
                .next()
                .and_then(|src| src.split(';').next())
                .is_some_and(|src| src.eq_ignore_ascii_case("stdin"));
        }
        for c in w.bytes() {
            match c {
                b'(' => depth += 1,
                b')' => depth -= 1,
                _ => {}
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> (String, Vec<String>, &str, bool) {
        let s = scan(line.as_bytes(), 0);
        (
            line[s.name.clone()].to_string(),
            s.args,
            &line[..s.end],
            s.open_quote.is_some(),
        )
    }

    fn args(line: &str) -> Vec<String> {
        parse(line).1
    }

    #[test]
    fn names_and_plain_args() {
        let (name, a, text, u) = parse("\\set ON_ERROR_STOP on\nSELECT 1;");
        assert_eq!(name, "set");
        assert_eq!(a, ["ON_ERROR_STOP", "on"]);
        assert_eq!(text, "\\set ON_ERROR_STOP on");
        assert!(!u);
        assert_eq!(parse("\\q").0, "q");
        assert_eq!(parse("\\d+ foo").0, "d+");
        assert_eq!(args("\\set   a\t b  \r\n"), ["a", "b"]);
        assert_eq!(parse("\\set a b\r\n").2, "\\set a b");
    }

    #[test]
    fn single_quotes() {
        assert_eq!(args("\\echo 'hello world'"), ["hello world"]);
        assert_eq!(args("\\echo 'it''s'"), ["it's"]);
        assert_eq!(
            args("\\echo 'a\\tb\\nc' '\\101\\x42\\q'"),
            ["a\tb\nc", "ABq"]
        );
        assert_eq!(args("\\echo foo'bar baz'qux"), ["foobar bazqux"]);
        assert_eq!(args("\\echo ''"), [""]);
        assert_eq!(args("\\echo 'a\\\\b'"), ["a\\b"]);
    }

    #[test]
    fn double_and_back_quotes_are_kept() {
        assert_eq!(args("\\echo \"a b\" `date +%s`"), ["\"a b\"", "`date +%s`"]);
    }

    #[test]
    fn variables_are_kept_verbatim() {
        assert_eq!(
            args("\\echo :foo :'bar' :\"baz\" :{?x} :x;"),
            [":foo", ":'bar'", ":\"baz\"", ":{?x}", ":x;"]
        );
        // A failed `:'` form is a plain colon followed by a quoted string.
        assert_eq!(args("\\echo :'a b'"), [":a b"]);
        let line = "\\echo ':no' :yes x:'v'";
        let found: Vec<&str> = scan(line.as_bytes(), 0)
            .variables
            .iter()
            .map(|v| v.text(line))
            .collect();
        assert_eq!(found, [":yes", ":'v'"]);
    }

    #[test]
    fn unterminated_quote_drops_the_argument() {
        let (_, a, text, u) = parse("\\i 'foo.sql\nnext");
        assert!(a.is_empty());
        assert_eq!(text, "\\i 'foo.sql");
        assert!(u);
        let (_, a, _, u) = parse("\\echo ok \"bad");
        assert_eq!(a, ["ok"]);
        assert!(u);
    }

    #[test]
    fn semicolons_stripped_only_where_psql_does() {
        assert_eq!(args("\\i other.sql;"), ["other.sql"]);
        assert_eq!(args("\\ir 'sub/x.sql;'"), ["sub/x.sql;"]);
        assert_eq!(args("\\i ;"), Vec::<String>::new());
        assert_eq!(args("\\set x 1;"), ["x", "1;"]);
    }

    #[test]
    fn separators_and_following_commands() {
        let (_, a, text, _) = parse("\\set x 1 \\\\ SELECT 1;");
        assert_eq!(a, ["x", "1"]);
        assert_eq!(text, "\\set x 1 \\\\");
        let (_, a, text, _) = parse("\\echo a \\echo b");
        assert_eq!(a, ["a"]);
        assert_eq!(text, "\\echo a ");
        let (_, a, text, _) = parse("\\echo a\\echo b");
        assert_eq!(a, ["a"]);
        assert_eq!(text, "\\echo a");
        // A backslash inside quotes does not end the argument.
        assert_eq!(args("\\echo 'a \\\\ b'"), ["a \\ b"]);
    }

    #[test]
    fn empty_name_swallows_the_line() {
        let (name, a, text, _) = parse("\\\\ foo bar\nx");
        assert_eq!(name, "");
        assert!(a.is_empty());
        assert_eq!(text, "\\\\ foo bar");
        assert_eq!(parse("\\").2, "\\");
        assert_eq!(parse("\\\r\n").2, "\\");
    }

    #[test]
    fn whole_line_commands() {
        assert_eq!(args("\\! echo 'a b' \\\\ c"), ["echo 'a b' \\\\ c"]);
        assert_eq!(
            args("\\copy t (a, b) from stdin with csv\r\n"),
            ["t (a, b) from stdin with csv"]
        );
        assert_eq!(args("\\o | grep x"), ["| grep x"]);
        assert_eq!(args("\\o out.txt"), ["out.txt"]);
        assert_eq!(args("\\!"), Vec::<String>::new());
    }

    #[test]
    fn copy_stdin_detection() {
        assert!(copy_reads_stdin("t (a, b) FROM STDIN with csv"));
        assert!(copy_reads_stdin("t from stdin;"));
        assert!(!copy_reads_stdin("t from 'file.csv'"));
        assert!(!copy_reads_stdin("(select 1 from stdin) to stdout"));
        assert!(!copy_reads_stdin("t to stdout"));
    }
}
