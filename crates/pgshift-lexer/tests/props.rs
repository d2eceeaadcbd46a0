//! Property tests: for arbitrary text, and for text glued together from
//! SQL-ish fragments (quotes, `$`, `;`, comment markers, backslashes,
//! keywords that drive the `BEGIN ATOMIC` heuristic, COPY...), the lexer
//! never panics, tokens rejoin to the input, and split results are
//! well-formed (see `common::check_invariants`).

mod common;

use pgshift_lexer::{split, split_script, tokenize, Item};
use proptest::prelude::*;

const FRAGMENTS: &[&str] = &[
    "'",
    "''",
    "\"",
    "$",
    "$$",
    "$a$",
    "$b$",
    "$1",
    ";",
    ";",
    "--",
    "/*",
    "*/",
    "\\",
    "\\\\",
    "\\;",
    "\n",
    "\r\n",
    "\r",
    " ",
    "\t",
    "(",
    ")",
    "E'",
    "e'",
    "U&'",
    "U&\"",
    "u&",
    "B'",
    "X'",
    "N'",
    ":",
    "::",
    ":'v'",
    ":v",
    "a",
    "x$",
    "1",
    ".5",
    "1e",
    "é",
    "\u{feff}",
    "begin",
    "BEGIN",
    "end",
    "case",
    "create",
    "or",
    "replace",
    "function",
    "procedure",
    "atomic",
    "commit",
    "rollback",
    "to",
    "copy",
    "from",
    "stdin",
    "\\.",
    "\\g",
    "\\r",
    "\\echo",
    "\\copy",
    "\\i",
    "select",
    "+",
    "-",
    "*",
    "/",
    "=",
];

fn sqlish() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..48).prop_map(|parts| parts.concat())
}

/// Fragments without backslashes, COPY or a byte-order mark (which is only
/// whitespace at offset 0), for the re-split check.
fn plain_sqlish() -> impl Strategy<Value = String> {
    let plain: Vec<&str> = FRAGMENTS
        .iter()
        .copied()
        .filter(|f| !f.contains('\\') && *f != "copy" && *f != "\u{feff}")
        .collect();
    prop::collection::vec(prop::sample::select(plain), 0..48).prop_map(|parts| parts.concat())
}

/// 300 cases per property by default (fast); set `PROPTEST_CASES` for a
/// longer local run.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_keeps_invariants(src in any::<String>()) {
        common::check_invariants(&src);
    }

    /// The lexer never returns less than the file: see
    /// `common::check_nothing_dropped`.
    #[test]
    fn arbitrary_text_drops_nothing(src in any::<String>()) {
        common::check_nothing_dropped(&src);
    }

    #[test]
    fn ascii_soup_drops_nothing(src in "[ -~\t\n\r]{0,80}") {
        common::check_nothing_dropped(&src);
    }

    #[test]
    fn sqlish_text_drops_nothing(src in sqlish()) {
        common::check_nothing_dropped(&src);
    }

    #[test]
    fn ascii_soup_keeps_invariants(src in "[ -~\t\n\r]{0,80}") {
        common::check_invariants(&src);
    }

    #[test]
    fn sqlish_text_keeps_invariants(src in sqlish()) {
        common::check_invariants(&src);
    }

    /// Each `;`-terminated statement of a script without meta-commands or
    /// COPY, split on its own, is exactly one statement with the same text
    /// and kind: the splitter's state is fully reset at every `;`.
    #[test]
    fn statements_resplit_alone(src in plain_sqlish()) {
        let script = split_script(&src);
        prop_assume!(script.copy_data.is_empty());
        for item in &script.items {
            let Item::Statement(st) = item else { panic!("no metas expected") };
            if st.unterminated_at_eof {
                continue;
            }
            let text = st.text(&src);
            let again = split(text);
            prop_assert_eq!(again.len(), 1, "{:?} re-split as {:?}", text, again);
            let Item::Statement(st2) = &again[0] else { panic!() };
            prop_assert_eq!(st2.text(text), text);
            prop_assert_eq!(st2.kind, st.kind);
            prop_assert!(!st2.unterminated_at_eof);
        }
    }

    /// `Statement::sql` only differs from the text when a backslash is in it.
    #[test]
    fn sql_is_text_without_backslashes(src in sqlish()) {
        for item in split(&src) {
            if let Item::Statement(st) = item {
                let text = st.text(&src);
                if !text.contains('\\') {
                    prop_assert_eq!(st.sql(&src), text);
                }
            }
        }
    }

    /// Tokenizing never panics on text cut at any char boundary.
    #[test]
    fn prefixes_tokenize(src in sqlish(), cut in 0usize..200) {
        let mut cut = cut.min(src.len());
        while !src.is_char_boundary(cut) {
            cut -= 1;
        }
        let prefix = &src[..cut];
        let joined: String = tokenize(prefix).iter().map(|t| t.text(prefix)).collect();
        prop_assert_eq!(joined, prefix);
    }
}
