//! `pgshift completions` and `pgshift man` cover every subcommand that
//! `pgshift --help` lists.

use crate::common::{Project, Run};

/// The subcommands `pgshift --help` lists (without `help` itself).
fn subcommands(project: &Project) -> Vec<String> {
    let run = Run::of(project.bare().arg("--help"));
    run.assert_code(0);
    let listing = run
        .stdout
        .split("Commands:\n")
        .nth(1)
        .expect("--help lists commands");
    let names: Vec<String> = listing
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect();
    assert!(names.len() > 20, "too few subcommands parsed: {names:?}");
    names
}

#[test]
fn completions_name_every_subcommand_in_every_shell() {
    let project = Project::new();
    let names = subcommands(&project);
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = Run::of(project.bare().args(["completions", shell]));
        run.assert_code(0);
        for name in &names {
            assert!(
                run.stdout.contains(name.as_str()),
                "{shell} completions lack `{name}`"
            );
        }
        assert!(
            run.stdout.contains("database-url"),
            "{shell}: no global option"
        );
    }
}

#[test]
fn completions_refuse_an_unknown_shell() {
    let project = Project::new();
    let run = Run::of(project.bare().args(["completions", "tcsh"]));
    run.assert_code(2);
    assert!(run.stderr.contains("possible values"), "{}", run.stderr);
}

#[test]
fn man_writes_a_page_per_subcommand_with_its_options_and_examples() {
    let project = Project::new();
    let out = project.path().join("man1");
    let run = Run::of(project.bare().args(["man", "--out"]).arg(&out));
    run.assert_code(0);
    let main_page = std::fs::read_to_string(out.join("pgshift.1")).expect("pgshift.1");
    assert!(main_page.starts_with(".ie"), "not roff: {main_page:.80}");
    for name in subcommands(&project) {
        let path = out.join(format!("pgshift-{name}.1"));
        let page = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}\nstdout:\n{}", path.display(), run.stdout));
        assert!(
            page.contains(&format!(".TH pgshift-{name}")),
            "{name}: no title"
        );
        // Global options are on every page, and so are the examples.
        assert!(page.contains("database\\-url"), "{name}: no global options");
        assert!(page.contains("Examples"), "{name}: no examples");
    }
    // Nested subcommands get their own pages too.
    assert!(out.join("pgshift-dev-start.1").is_file());
}
