//! Helpers shared by the integration tests: invariant checks on
//! `tokenize`/`split_script` output, and a readable rendering of a split.

#![allow(dead_code)]

use std::fmt::Write as _;

use pgshift_lexer::{line_col, split_script, tokenize, Item, Span, TokenKind};

/// Checks everything that must hold for any input; panics with a message
/// naming the broken rule.
pub fn check_invariants(src: &str) {
    // Tokens cover the input exactly: contiguous, non-empty, rejoin to it.
    let tokens = tokenize(src);
    let mut pos = 0;
    let mut joined = String::with_capacity(src.len());
    for t in &tokens {
        assert_eq!(t.span.start, pos, "token spans must be contiguous: {t:?}");
        assert!(t.span.end > t.span.start, "empty token {t:?}");
        assert!(
            src.get(t.span.start..t.span.end).is_some(),
            "token not on char boundaries: {t:?}"
        );
        joined.push_str(t.text(src));
        pos = t.span.end;
    }
    assert_eq!(pos, src.len(), "tokens must reach the end of input");
    assert_eq!(joined, src, "tokens must rejoin to the input");

    let script = split_script(src);
    let in_input =
        |s: Span| s.start < s.end && s.end <= src.len() && src.get(s.start..s.end).is_some();

    // Statements: ordered, non-overlapping, inside the input, starting on a
    // significant token, and (unless unterminated) ending with `;` or
    // followed by the meta-command that sent them.
    let mut prev_end = 0;
    let statements: Vec<_> = script
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Statement(s) => Some(s),
            Item::Meta(_) => None,
        })
        .collect();
    for st in &statements {
        assert!(in_input(st.span), "statement span outside input: {st:?}");
        assert!(
            st.span.start >= prev_end,
            "statements overlap or are out of order: {st:?}"
        );
        prev_end = st.span.end;
        let toks = st.tokens(src);
        let first = toks.first().expect("statement has tokens");
        assert_eq!(first.span.start, st.span.start);
        assert!(
            !first.is_trivia() && first.kind != TokenKind::MetaCommand,
            "statement must start on a significant token: {st:?} {first:?}"
        );
    }

    // Meta-commands: ordered, non-overlapping, start with a backslash, and
    // either outside every statement or inside exactly one.
    let mut prev_end = 0;
    for item in &script.items {
        let Item::Meta(m) = item else { continue };
        assert!(in_input(m.span), "meta span outside input: {m:?}");
        assert!(
            m.span.start >= prev_end,
            "metas overlap or are out of order: {m:?}"
        );
        prev_end = m.span.end;
        assert!(m.text(src).starts_with('\\'));
        let containing = statements
            .iter()
            .filter(|s| s.span.contains(m.span))
            .count();
        let overlapping = statements
            .iter()
            .filter(|s| s.span.start < m.span.end && m.span.start < s.span.end)
            .count();
        assert_eq!(
            containing, overlapping,
            "meta partly overlaps a statement: {m:?}"
        );
        assert!(containing <= 1);
    }

    // Items are in execution order: a statement is listed once complete, so
    // everything listed after it starts after it.
    for (i, item) in script.items.iter().enumerate() {
        if let Item::Statement(st) = item {
            for later in &script.items[i + 1..] {
                assert!(
                    st.span.end <= later.span().start,
                    "item listed after {st:?} starts before it ends: {later:?}"
                );
            }
        }
    }

    // Unterminated tokens reported by the splitter are in order and real.
    for w in script.unterminated.windows(2) {
        assert!(w[0].span.end <= w[1].span.start);
    }
    assert!(script
        .unterminated
        .iter()
        .all(|t| t.unterminated && in_input(t.span)));

    // COPY data: ordered, after its item, and not overlapping any item.
    let mut prev_end = 0;
    for cd in &script.copy_data {
        assert!(cd.span.start >= prev_end && cd.span.end <= src.len());
        prev_end = cd.span.end;
        let owner = &script.items[cd.item];
        assert!(
            owner.span().end <= cd.span.start,
            "copy data before its command: {cd:?}"
        );
        for item in &script.items {
            let s = item.span();
            assert!(
                s.end <= cd.span.start || s.start >= cd.span.end,
                "item overlaps copy data: {item:?} {cd:?}"
            );
        }
    }
}

/// Makes control characters visible in snapshots.
fn visible(s: &str) -> String {
    s.replace('\r', "\\r").replace('\u{feff}', "<BOM>")
}

fn indent(out: &mut String, text: &str) {
    for line in text.split('\n') {
        let _ = writeln!(out, "    | {}", visible(line));
    }
}

fn pos(src: &str, offset: usize) -> String {
    let (l, c) = line_col(src, offset);
    format!("{l}:{c}")
}

/// A readable rendering of `split_script(src)` for snapshots.
pub fn render(src: &str) -> String {
    let script = split_script(src);
    let mut out = String::new();
    for (i, item) in script.items.iter().enumerate() {
        match item {
            Item::Statement(st) => {
                let eof = if st.unterminated_at_eof {
                    " (unterminated at EOF)"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "#{i} statement {:?} at {}{eof}",
                    st.kind,
                    pos(src, st.span.start)
                );
                indent(&mut out, st.text(src));
                let sql = st.sql(src);
                if sql != st.text(src) {
                    let _ = writeln!(out, "  sent as:");
                    indent(&mut out, &sql);
                }
            }
            Item::Meta(m) => {
                let _ = writeln!(
                    out,
                    "#{i} meta \\{} at {} args={:?}",
                    m.name,
                    pos(src, m.span.start),
                    m.args
                );
                indent(&mut out, m.text(src));
            }
        }
    }
    for cd in &script.copy_data {
        let _ = writeln!(
            out,
            "copy data for #{} at {}",
            cd.item,
            pos(src, cd.span.start)
        );
        indent(&mut out, cd.span.text(src));
    }
    for t in &script.unterminated {
        let _ = writeln!(
            out,
            "unterminated {:?} token at {}",
            t.kind,
            pos(src, t.span.start)
        );
    }
    if script.items.is_empty() {
        out.push_str("(no items)\n");
    }
    out
}
