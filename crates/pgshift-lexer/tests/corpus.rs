//! Corpus tests: every file under `tests/corpus/{ok,err}` is checked for the
//! structural invariants and its split is compared with a reviewed snapshot
//! in `tests/snapshots/` (`corpus__ok@NAME.snap`, `corpus__err@NAME.snap`).
//! `err` holds malformed input: unterminated strings, comments, quotes...

mod common;

use std::fs;
use std::path::Path;

/// Checks the invariants and returns the rendering to snapshot.
fn check_and_render(path: &Path) -> String {
    let src = fs::read_to_string(path).expect("corpus files are UTF-8");
    common::check_invariants(&src);
    common::check_nothing_dropped(&src);
    common::render(&src)
}

#[test]
fn ok() {
    insta::glob!("corpus/ok/*.sql", |path| {
        insta::assert_snapshot!(check_and_render(path));
    });
}

#[test]
fn err() {
    insta::glob!("corpus/err/*.sql", |path| {
        insta::assert_snapshot!(check_and_render(path));
    });
}
