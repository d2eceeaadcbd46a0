//! Loading refuses what psql would send differently from the text (issue
//! 11, section 1): each case names the file, the place and what is wrong.

use super::*;
use crate::migration::{MigrationSet, NotAFileKind, PsqlEscape};
use pgshift_lexer::UnclosedKind;

fn parse(text: &str) -> Result<Script, LoadError> {
    Script::parse(
        SourceFile::new("m.sql", text),
        TransactionMode::Transactional,
    )
}

/// The error for `text`, and the line:column and text it points at.
fn refused(text: &str) -> (LoadError, (usize, usize), String) {
    let err = parse(text).expect_err("refused");
    let (_, span) = err.location().expect("the error has a location");
    let at = pgshift_lexer::line_col(text, span.start);
    (err, at, span.text(text).to_string())
}

fn sent(text: &str) -> Vec<String> {
    let script = parse(text).expect("accepted");
    script
        .sql_steps()
        .map(|(file, span)| file.slice(span).to_string())
        .collect()
}

#[test]
fn issue_11_nested_comment_that_swallows_the_rest_is_refused() {
    let text = "CREATE TABLE a (i int);\n/* see /* old note */\nCREATE TABLE b (i int);\n";
    let (err, at, delimiter) = refused(text);
    assert_eq!(at, (2, 1));
    assert_eq!(delimiter, "/*");
    let LoadError::Unclosed { kind, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(kind, UnclosedKind::BlockComment { nested: Some(n) } if n.start == 31),
        "{kind:?}"
    );
    assert_eq!(
        err.to_string(),
        "unterminated block comment: `/*` is never closed by `*/`, so the rest of the file would be part of it"
    );
}

#[test]
fn everything_left_open_at_the_end_is_refused_at_its_opening() {
    for (text, at, delimiter, what) in [
        (
            "SELECT 1;\nSELECT 'abc;\nSELECT 2;\n",
            (2, 8),
            "'",
            "string",
        ),
        ("SELECT E'a\\';\nSELECT 2;\n", (1, 8), "E'", "escape string"),
        ("SELECT U&'d\\0061t;\n", (1, 8), "U&'", "string"),
        ("SELECT B'01;\n", (1, 8), "B'", "string"),
        ("SELECT X'ff;\n", (1, 8), "X'", "string"),
        ("SELECT N'n;\n", (1, 8), "N'", "string"),
        ("SELECT 'a'\n  'b;\n", (2, 3), "'", "string"),
        ("SELECT \"col;\n", (1, 8), "\"", "quoted identifier"),
        ("SELECT U&\"col;\n", (1, 8), "U&\"", "quoted identifier"),
        (
            "DO $body$ BEGIN END $$;\nSELECT 2;\n",
            (1, 4),
            "$body$",
            "dollar quote",
        ),
        (
            "SELECT 1;\n/* never closed\n",
            (2, 1),
            "/*",
            "block comment",
        ),
        ("SELECT 1 /* open", (1, 10), "/*", "block comment"),
    ] {
        let (err, got_at, got) = refused(text);
        assert_eq!((got_at, got.as_str()), (at, delimiter), "{text:?}");
        assert!(
            err.to_string()
                .starts_with(&format!("unterminated {what}: `{delimiter}`")),
            "{text:?}: {err}"
        );
    }
}

#[test]
fn an_unclosed_quote_in_a_psql_argument_is_refused() {
    let (err, at, _) = refused("\\echo 'half\nSELECT 1;\n");
    assert_eq!(at, (1, 7));
    assert!(matches!(
        err,
        LoadError::Unclosed {
            kind: UnclosedKind::MetaArgument,
            ..
        }
    ));
}

#[test]
fn a_statement_without_final_semicolon_is_still_sent() {
    assert_eq!(sent("SELECT 1;\nSELECT 2\n"), ["SELECT 1;", "SELECT 2"]);
}

#[test]
fn psql_variables_are_refused() {
    for (text, at, reference) in [
        ("SELECT :foo;", (1, 8), ":foo"),
        ("CREATE SCHEMA :\"schema\";", (1, 15), ":\"schema\""),
        ("INSERT INTO t VALUES (:'v');", (1, 23), ":'v'"),
        ("SELECT :{?x};", (1, 8), ":{?x}"),
        ("SELECT a[1:'2'] FROM t;", (1, 11), ":'2'"),
    ] {
        let (err, got_at, got) = refused(text);
        assert_eq!((got_at, got.as_str()), (at, reference), "{text:?}");
        assert!(
            matches!(&err, LoadError::PsqlVariable { reference: r, .. } if r == reference),
            "{err:?}"
        );
    }
}

#[test]
fn psql_variables_in_commands_pgshift_runs_are_refused() {
    for (text, at, reference) in [
        ("\\echo version :v\n", (1, 15), ":v"),
        ("\\ir :'dir'/x.sql\n", (1, 5), ":'dir'"),
    ] {
        let (err, got_at, got) = refused(text);
        assert_eq!((got_at, got.as_str()), (at, reference), "{text:?}");
        assert!(matches!(err, LoadError::PsqlVariable { .. }), "{err:?}");
    }
    let script = parse("\\echo 'costs :money'\n").expect("accepted");
    assert!(matches!(&script.steps[..], [Step::Echo { text }] if text == "costs :money"));
}

#[test]
fn colons_that_are_not_psql_variables_are_sent() {
    let text = "SELECT a[1:2], a[lo:hi], a[:n], x::text FROM t;\n\
                SELECT ':no', \":no\", $$ :no $$ /* :no */; -- :no\n\
                DO $$ DECLARE v int; BEGIN v := 1; END $$;\n\
                SELECT a[1: n];\n";
    assert_eq!(sent(text).len(), 4);
}

#[test]
fn psql_backslash_escapes_are_refused() {
    let (err, at, _) = refused("SELECT 1\\; COMMIT\\; VACUUM;\n");
    assert_eq!(at, (1, 9));
    assert!(matches!(
        err,
        LoadError::PsqlEscape {
            escape: PsqlEscape::JoinedQuery,
            ..
        }
    ));
    let (err, at, _) = refused("SELECT 'a'\\:\\:text;\n");
    assert_eq!(at, (1, 11));
    assert!(matches!(
        err,
        LoadError::PsqlEscape {
            escape: PsqlEscape::LiteralColon,
            ..
        }
    ));
}

#[test]
fn turning_standard_conforming_strings_off_is_refused() {
    for text in [
        "SET standard_conforming_strings = off;\nSELECT 'a\\\\b\\'cd';\n",
        "set session standard_conforming_strings to 'off';",
        "SET LOCAL standard_conforming_strings = false;",
        "SET \"standard_conforming_strings\" = 0;",
        "SELECT set_config('standard_conforming_strings', 'off', false);",
    ] {
        let (err, at, _) = refused(text);
        assert_eq!(at, (1, 1), "{text:?}");
        assert!(
            matches!(err, LoadError::StandardConformingStrings { .. }),
            "{text:?}: {err:?}"
        );
    }
    for text in [
        "SET standard_conforming_strings = on;",
        "SET standard_conforming_strings TO DEFAULT;",
        "SET standard_conforming_strings = 'true';",
        "ALTER TABLE t SET (fillfactor = 70);",
    ] {
        assert_eq!(sent(text).len(), 1, "{text:?}");
    }
}

#[test]
fn copy_from_stdin_is_named_for_what_it_is() {
    let (err, at, _) = refused("COPY t (a) FROM stdin;\n1\n\\.\n");
    assert_eq!(at, (1, 1));
    assert!(matches!(err, LoadError::CopyFromStdin { meta: false, .. }));
    assert!(
        err.to_string()
            .starts_with("`COPY … FROM STDIN` reads its data"),
        "{err}"
    );
    let (err, _, _) = refused("\\copy t from stdin\n1\n\\.\n");
    assert!(matches!(err, LoadError::CopyFromStdin { meta: true, .. }));
    assert!(
        err.to_string().starts_with("`\\copy … from stdin`"),
        "{err}"
    );
}

fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn load_errors(dir: &Path) -> Vec<LoadError> {
    MigrationSet::load(dir).expect_err("refused").0
}

#[test]
fn a_nul_byte_is_refused_with_its_place() {
    let dir = folder(&[("001_a.sql", "SELECT 1;\nSELECT '\0';\n")]);
    let errors = load_errors(dir.path());
    let [LoadError::NulByte { path, span }] = &errors[..] else {
        panic!("{errors:?}")
    };
    assert!(path.ends_with("001_a.sql"));
    assert_eq!(span.start, 18);
}

#[test]
fn unreadable_migration_entries_are_refused_not_skipped() {
    let dir = folder(&[("001_a.sql", "SELECT 1;\n")]);
    let d = dir.path();
    std::fs::create_dir(d.join("002_dir.sql")).unwrap();
    std::os::unix::fs::symlink(d.join("missing.sql"), d.join("003_dangling.sql")).unwrap();
    std::os::unix::fs::symlink(d.join("004_loop.sql"), d.join("004_loop.sql")).unwrap();
    nix::unistd::mkfifo(&d.join("005_fifo.sql"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    std::os::unix::fs::symlink(d.join("missing.sql"), d.join("rollback_001.sql")).unwrap();
    // Not named like migrations: still ignored.
    std::fs::create_dir(d.join("helpers")).unwrap();
    std::os::unix::fs::symlink(d.join("missing"), d.join("notes.txt")).unwrap();

    let mut errors: Vec<String> = load_errors(d)
        .iter()
        .map(|e| {
            let name = e.path().unwrap().file_name().unwrap().to_str().unwrap();
            let kind = match e {
                LoadError::NotAFile { kind, .. } => format!("{kind:?}"),
                LoadError::BrokenSymlink { .. } => "BrokenSymlink".into(),
                other => format!("{other:?}"),
            };
            format!("{name}: {kind}")
        })
        .collect();
    errors.sort();
    assert_eq!(
        errors,
        [
            "002_dir.sql: Directory",
            "003_dangling.sql: BrokenSymlink",
            "004_loop.sql: BrokenSymlink",
            "005_fifo.sql: Fifo",
            "rollback_001.sql: BrokenSymlink",
        ]
    );
    let fifo = LoadError::NotAFile {
        path: d.join("005_fifo.sql"),
        kind: NotAFileKind::Fifo,
    };
    assert!(fifo
        .to_string()
        .ends_with("005_fifo.sql` is a named pipe (FIFO), not a regular file; pgshift reads migrations from regular files"));
}

#[test]
fn included_and_rollback_files_get_the_same_checks() {
    let dir = folder(&[
        ("001_a.sql", "\\ir part.sql\n"),
        ("part.sql", "SELECT 1;\n/* open\n"),
        ("002_b.sql", "\\ir pipe.sql\n"),
        ("003_c.sql", "SELECT 1;\n"),
        ("rollback_003.sql", "SELECT 'open;\n"),
    ]);
    nix::unistd::mkfifo(&dir.path().join("pipe.sql"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let errors = load_errors(dir.path());
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors.iter().any(|e| matches!(
            e,
            LoadError::Unclosed { path, .. } if path.ends_with("rollback_003.sql")
        )),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| matches!(e, LoadError::Unclosed { path, .. } if path.ends_with("part.sql"))),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| matches!(
            e,
            LoadError::Include { path, source, .. }
                if path.ends_with("002_b.sql")
                    && matches!(**source, LoadError::NotAFile { kind: NotAFileKind::Fifo, .. })
        )),
        "{errors:?}"
    );
}
