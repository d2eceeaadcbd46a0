//! Helpers shared by the integration tests: invariant checks on
//! `tokenize`/`split_script` output, and a readable rendering of a split.

#![allow(dead_code)]

use std::fmt::Write as _;

use pgshift_lexer::{line_col, split_script, tokenize, Item, Span, TokenKind, UnclosedKind};

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
        let first = st.tokens(src).next().expect("statement has tokens");
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

/// Nothing is dropped: every byte of `src` is inside a statement (sent to
/// the server), a meta-command, COPY data or a statement discarded by `\r`,
/// or it lies between them in whitespace, comments and empty statements
/// (`;`). A comment (or any
/// other token) that runs to the end of input unterminated is listed in
/// `Script::unterminated`, so a caller can refuse the file instead of
/// losing what the comment swallowed.
pub fn check_nothing_dropped(src: &str) {
    let script = split_script(src);
    let mut covered: Vec<Span> = script
        .items
        .iter()
        .map(Item::span)
        .chain(script.copy_data.iter().map(|c| c.span))
        .chain(script.discarded.iter().copied())
        .collect();
    covered.sort();
    let mut gaps = Vec::new();
    let mut pos = 0;
    for span in covered {
        if span.start > pos {
            gaps.push(Span::new(pos, span.start));
        }
        pos = pos.max(span.end);
    }
    if pos < src.len() {
        gaps.push(Span::new(pos, src.len()));
    }
    for gap in gaps {
        // Lex the gap on its own. A leading space keeps a byte-order mark
        // that is not at offset 0 of the file from counting as whitespace.
        let pad = usize::from(gap.start > 0);
        let text = format!("{}{}", " ".repeat(pad), gap.text(src));
        for t in tokenize(&text) {
            let at = Span::new(
                gap.start + t.span.start.saturating_sub(pad),
                gap.start + t.span.end - pad,
            );
            let what = &text[t.span.start..t.span.end];
            // A `;` with nothing before it is an empty statement.
            assert!(
                t.is_trivia() || t.kind == TokenKind::Semicolon,
                "{what:?} at {at:?} is in no statement or meta-command: it would be dropped"
            );
            if t.unterminated {
                assert!(
                    script.unterminated.iter().any(|u| u.span.start == at.start),
                    "unterminated {what:?} at {at:?} is not reported"
                );
            }
        }
    }
    // Every unterminated token can say what it leaves open.
    for t in &script.unterminated {
        let open = t
            .unclosed(src)
            .unwrap_or_else(|| panic!("{t:?} says nothing about what is open"));
        assert!(
            t.span.contains(open.open) && !open.open.is_empty(),
            "{open:?} not inside {t:?}"
        );
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
    for t in &script.discarded {
        let _ = writeln!(out, "discarded at {}", pos(src, t.start));
        indent(&mut out, t.text(src));
    }
    for t in &script.unterminated {
        let _ = writeln!(
            out,
            "unterminated {:?} token at {}",
            t.kind,
            pos(src, t.span.start)
        );
        if let Some(open) = t.unclosed(src) {
            let kind = match open.kind {
                UnclosedKind::BlockComment {
                    nested: Some(nested),
                } => format!("BlockComment, nested `/*` at {}", pos(src, nested.start)),
                other => format!("{other:?}"),
            };
            let _ = writeln!(
                out,
                "  open: {kind} `{}` at {}",
                visible(open.open.text(src)),
                pos(src, open.open.start)
            );
        }
    }
    if script.items.is_empty() {
        out.push_str("(no items)\n");
    }
    out
}
