//! Targeted tests of the public API: statement boundaries, classification,
//! meta-command arguments and placement, COPY data and the helpers.

use pgshift_lexer::{
    leading_keywords, line_col, split, split_script, statement_kind, tokenize, Item, MetaCommand,
    Statement, StatementKind, TokenKind,
};

fn statements(src: &str) -> Vec<(&str, StatementKind, bool)> {
    split(src)
        .into_iter()
        .filter_map(|i| match i {
            Item::Statement(s) => Some((s.span.text(src), s.kind, s.unterminated_at_eof)),
            Item::Meta(_) => None,
        })
        .collect()
}

fn texts(src: &str) -> Vec<&str> {
    statements(src).into_iter().map(|s| s.0).collect()
}

fn metas(src: &str) -> Vec<MetaCommand> {
    split(src)
        .into_iter()
        .filter_map(|i| match i {
            Item::Meta(m) => Some(m),
            Item::Statement(_) => None,
        })
        .collect()
}

fn only_statement(src: &str) -> Statement {
    match split(src).as_slice() {
        [Item::Statement(s)] => s.clone(),
        other => panic!("expected one statement, got {other:?}"),
    }
}

#[test]
fn basic_splitting() {
    assert_eq!(texts("SELECT 1; SELECT 2;"), ["SELECT 1;", "SELECT 2;"]);
    assert_eq!(texts("  -- c\n /* d */ SELECT 1 ;  "), ["SELECT 1 ;"]);
    assert_eq!(texts(";;  ; \n"), Vec::<&str>::new());
    assert_eq!(texts("-- only\n/* comments */"), Vec::<&str>::new());
    assert_eq!(texts(""), Vec::<&str>::new());
    assert_eq!(
        statements("SELECT 1\n-- trailing\n"),
        [("SELECT 1", StatementKind::Other, true)]
    );
}

#[test]
fn quotes_and_comments_hide_semicolons() {
    assert_eq!(
        texts("SELECT ';', \";\", $$;$$, $t$;$t$ /*;*/ -- ;\n;"),
        ["SELECT ';', \";\", $$;$$, $t$;$t$ /*;*/ -- ;\n;"]
    );
    assert_eq!(
        texts("SELECT E'\\';'; SELECT 2;"),
        ["SELECT E'\\';';", "SELECT 2;"]
    );
    assert_eq!(
        texts("SELECT 'a\\'; SELECT 2;"),
        ["SELECT 'a\\';", "SELECT 2;"]
    );
    assert_eq!(
        texts("SELECT a$$b; SELECT 2;"),
        ["SELECT a$$b;", "SELECT 2;"]
    );
    assert_eq!(
        texts("SELECT (1; 2); SELECT 3;"),
        ["SELECT (1; 2);", "SELECT 3;"]
    );
}

#[test]
fn begin_atomic_heuristic() {
    let f = "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 1 END; END;";
    assert_eq!(texts(&format!("{f} SELECT 2;")), [f, "SELECT 2;"]);
    let p = "create or replace procedure p() begin atomic select 1; end;";
    assert_eq!(texts(&format!("{p}select 2;")), [p, "select 2;"]);
    // Only CREATE [OR REPLACE] FUNCTION|PROCEDURE enables tracking.
    assert_eq!(
        texts("CREATE TABLE t (a int); BEGIN; END;"),
        ["CREATE TABLE t (a int);", "BEGIN;", "END;"]
    );
    assert_eq!(
        texts("CREATE OR REPLACE VIEW v AS SELECT 1; BEGIN;"),
        ["CREATE OR REPLACE VIEW v AS SELECT 1;", "BEGIN;"]
    );
    // Inside parentheses BEGIN/END are not counted.
    let g = "CREATE FUNCTION g(begin int) RETURNS int AS 'select 1' LANGUAGE sql;";
    assert_eq!(texts(&format!("{g} SELECT 2;")), [g, "SELECT 2;"]);
    // CASE outside BEGIN is not counted.
    let h = "CREATE FUNCTION h() RETURNS int RETURN CASE WHEN true THEN 1 END;";
    assert_eq!(texts(&format!("{h} SELECT 2;")), [h, "SELECT 2;"]);
    // Quoted identifiers and dollar bodies do not count.
    let q = "CREATE FUNCTION q() RETURNS int AS $$ begin $$ LANGUAGE sql;";
    assert_eq!(
        texts(&format!("{q} SELECT \"begin\";")),
        [q, "SELECT \"begin\";"]
    );
    // A lone `u` before `&` is not an identifier for psql (`{xufailed}`), so
    // FUNCTION is the second identifier here and BEGIN is tracked; a real
    // identifier in that place turns tracking off.
    let src = "CREATE u&FUNCTION BEGIN; SELECT 1;";
    assert_eq!(statements(src), [(src, StatementKind::Other, true)]);
    assert_eq!(
        texts("CREATE uu&FUNCTION BEGIN; SELECT 1;"),
        ["CREATE uu&FUNCTION BEGIN;", "SELECT 1;"]
    );
}

#[test]
fn classification_via_split() {
    use StatementKind::*;
    let kinds: Vec<_> = statements(
        "BEGIN; START TRANSACTION; COMMIT; END WORK; ROLLBACK; ABORT; ROLLBACK TO SAVEPOINT a; \
         ROLLBACK TO a; COMMIT PREPARED 'x'; ROLLBACK PREPARED 'x'; /* c */ begin isolation level serializable; \
         SELECT 1; \"BEGIN\";",
    )
    .into_iter()
    .map(|s| s.1)
    .collect();
    assert_eq!(
        kinds,
        [
            Begin, Begin, Commit, Commit, Rollback, Rollback, Other, Other, Other, Other, Begin,
            Other, Other
        ]
    );
    assert_eq!(statement_kind("  -- x\n  Commit  "), Commit);
    assert_eq!(statement_kind("rollback work to savepoint s"), Other);
}

#[test]
fn meta_commands_and_arguments() {
    let m = metas("\\set ON_ERROR_STOP on\n\\echo 'hello world'\n\\i other.sql\n\\ir sub/x.sql\n");
    let got: Vec<(&str, Vec<&str>)> = m
        .iter()
        .map(|m| (m.name.as_str(), m.args.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        got,
        [
            ("set", vec!["ON_ERROR_STOP", "on"]),
            ("echo", vec!["hello world"]),
            ("i", vec!["other.sql"]),
            ("ir", vec!["sub/x.sql"]),
        ]
    );
    let src = "\\echo 'it''s' \"dq\" `cmd`\r\nSELECT 1;";
    let m = &metas(src)[0];
    assert_eq!(m.args, ["it's", "\"dq\"", "`cmd`"]);
    assert_eq!(m.text(src), "\\echo 'it''s' \"dq\" `cmd`");
}

#[test]
fn meta_in_the_middle_of_a_statement() {
    let src = "SELECT 1,\n\\echo hi\n2;";
    let items = split(src);
    assert_eq!(items.len(), 2);
    let Item::Meta(m) = &items[0] else {
        panic!("meta first: {items:?}")
    };
    let Item::Statement(s) = &items[1] else {
        panic!()
    };
    assert_eq!(m.name, "echo");
    assert!(s.span.contains(m.span));
    assert_eq!(s.text(src), src);
    // psql drops the newline before a line that holds only a meta-command.
    assert_eq!(s.sql(src), "SELECT 1,\n2;");
    let src = "SELECT 1, \\echo hi\n  \\echo ho\n2;";
    let Some(Item::Statement(s)) = split(src).pop() else {
        panic!()
    };
    assert_eq!(s.sql(src), "SELECT 1, \n  \n2;");
    let src = "SELECT 1,\r\n\\echo hi\r\n2 \\echo ho\r\n;";
    let Some(Item::Statement(s)) = split(src).pop() else {
        panic!()
    };
    assert_eq!(s.sql(src), "SELECT 1,\r\n2 \n;");
    assert_eq!(s.leading_keywords(src, 5), ["SELECT"]);
}

#[test]
fn send_and_reset_meta_commands() {
    let src = "SELECT (1 \\g\nSELECT 2;";
    let items = split(src);
    assert!(
        matches!(&items[0], Item::Statement(s) if s.text(src) == "SELECT (1" && !s.unterminated_at_eof)
    );
    assert!(matches!(&items[1], Item::Meta(m) if m.name == "g"));
    // The paren depth was reset by \g.
    assert!(matches!(&items[2], Item::Statement(s) if s.text(src) == "SELECT 2;"));

    let src = "SELECT 'gone' \\r\nSELECT 'kept';";
    assert_eq!(texts(src), ["SELECT 'kept';"]);
    assert_eq!(metas(src)[0].name, "r");

    // `\\` separates a meta-command from SQL on the same line.
    let src = "\\set x 1 \\\\ SELECT 1;";
    assert_eq!(texts(src), ["SELECT 1;"]);
    assert_eq!(metas(src)[0].text(src), "\\set x 1 \\\\");
}

#[test]
fn copy_from_stdin_data_is_skipped() {
    let src = "COPY t FROM stdin;\n'a;\t\"b\n\\.\nSELECT 1;\n";
    let script = split_script(src);
    assert_eq!(script.items.len(), 2);
    assert_eq!(script.copy_data.len(), 1);
    assert_eq!(script.copy_data[0].item, 0);
    assert_eq!(script.copy_data[0].span.text(src), "'a;\t\"b\n\\.\n");
    assert!(matches!(&script.items[1], Item::Statement(s) if s.text(src) == "SELECT 1;"));
    assert!(script.unterminated.is_empty());

    // Two COPYs on one line read consecutive data blocks.
    let src = "COPY a FROM STDIN; COPY b FROM STDIN;\n1\n\\.\n2\n\\.\nSELECT 1;";
    let script = split_script(src);
    let data: Vec<_> = script
        .copy_data
        .iter()
        .map(|c| (c.item, c.span.text(src)))
        .collect();
    assert_eq!(data, [(0, "1\n\\.\n"), (1, "2\n\\.\n")]);
    assert_eq!(script.items.len(), 3);

    // COPY ... TO STDOUT and COPY FROM a file read nothing.
    assert!(split_script("COPY t TO STDOUT;\n'x\n").copy_data.is_empty());
    assert!(split_script("COPY t FROM '/tmp/f';\n1\n")
        .copy_data
        .is_empty());
    // Without a trailing newline there is no data (it would start at EOF).
    let s = split_script("COPY t FROM STDIN;");
    assert_eq!(s.copy_data.len(), 1);
    assert!(s.copy_data[0].span.is_empty());
}

#[test]
fn unterminated_reporting() {
    let script = split_script("SELECT 1; SELECT 'abc");
    assert_eq!(script.unterminated.len(), 1);
    assert_eq!(script.unterminated[0].kind, TokenKind::String);
    assert!(matches!(&script.items[1], Item::Statement(s) if s.unterminated_at_eof));
    let script = split_script("SELECT 1; /* open");
    assert_eq!(script.items.len(), 1);
    assert_eq!(script.unterminated[0].kind, TokenKind::BlockComment);
}

#[test]
fn helpers() {
    let src = "/* x */ CREATE UNIQUE INDEX CONCURRENTLY \"ix\" ON t (a);";
    let st = only_statement(src);
    assert_eq!(
        st.leading_keywords(src, 10),
        ["CREATE", "UNIQUE", "INDEX", "CONCURRENTLY"]
    );
    assert_eq!(st.leading_keywords(src, 2), ["CREATE", "UNIQUE"]);
    assert_eq!(leading_keywords("vacuum (verbose) t", 3), ["VACUUM"]);
    assert_eq!(line_col("ab\r\ncd\né", 5), (2, 2));
    assert_eq!(line_col("ab\ncé", 100), (2, 3));
    assert_eq!(line_col("é", 1), (1, 1));
    let toks = tokenize("a;");
    assert_eq!(toks[1].kind, TokenKind::Semicolon);
    assert_eq!(toks[1].text("a;"), ";");
}
