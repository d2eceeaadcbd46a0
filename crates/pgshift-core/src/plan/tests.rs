//! Database-free tests of planning: sets built in a temp folder, histories
//! built by hand.

use super::*;
use crate::history::AppliedMigration;
use proptest::prelude::*;

fn set_of(files: &[(&str, &str)]) -> (tempfile::TempDir, MigrationSet) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let set = MigrationSet::load(dir.path()).unwrap();
    (dir, set)
}

fn applied(set: &MigrationSet, versions: &[&str]) -> History {
    History {
        table_exists: true,
        applied: versions
            .iter()
            .map(|v| {
                let m = set.get(v).unwrap();
                AppliedMigration {
                    version: m.version.clone(),
                    description: m.description.clone(),
                    applied_at: None,
                    applied_by: None,
                    execution_time_ms: Some(1),
                    checksum: Some(m.checksum.clone()),
                }
            })
            .collect(),
        failed: vec![],
    }
}

fn three() -> (tempfile::TempDir, MigrationSet) {
    set_of(&[
        ("001_a.sql", "SELECT 1;"),
        ("rollback_001.sql", "SELECT -1;"),
        ("002_b.sql", "SELECT 2;"),
        ("rollback_002.sql", "SELECT -2;"),
        ("003_c.sql", "SELECT 3;"),
    ])
}

fn versions(set: &MigrationSet, steps: &[UpStep]) -> Vec<String> {
    steps
        .iter()
        .map(|s| set.migrations()[s.migration].version.to_string())
        .collect()
}

#[test]
fn pending_migrations_are_applied_in_order_up_to_the_target() {
    let (_d, set) = three();
    let plan = Plan::new(&set, &applied(&set, &["001"]));
    let steps = plan.up_steps(&set, &UpOptions::default()).unwrap();
    assert_eq!(versions(&set, &steps), ["002", "003"]);
    let to_two = UpOptions {
        target: Some("2".into()),
        ..UpOptions::default()
    };
    assert_eq!(
        versions(&set, &plan.up_steps(&set, &to_two).unwrap()),
        ["002"]
    );
    let unknown = UpOptions {
        target: Some("9".into()),
        ..UpOptions::default()
    };
    assert!(matches!(
        plan.up_steps(&set, &unknown),
        Err(PlanError::UnknownTarget { .. })
    ));
}

#[test]
fn an_edited_applied_migration_blocks_up_unless_allowed() {
    let (_d, set) = three();
    let mut history = applied(&set, &["001"]);
    history.applied[0].checksum = Some(Checksum::of("something else"));
    let plan = Plan::new(&set, &history);
    assert!(matches!(plan.entries[0].state, State::Modified { .. }));
    assert_eq!(plan.problems().len(), 1);
    assert!(matches!(
        plan.up_steps(&set, &UpOptions::default()),
        Err(PlanError::Modified { .. })
    ));
    let allow = UpOptions {
        allow_modified: true,
        ..UpOptions::default()
    };
    assert_eq!(
        versions(&set, &plan.up_steps(&set, &allow).unwrap()),
        ["002", "003"]
    );
}

#[test]
fn a_row_without_checksum_is_unverified_and_blocks_up() {
    let (_d, set) = three();
    let mut history = applied(&set, &["001"]);
    history.applied[0].checksum = None;
    let plan = Plan::new(&set, &history);
    assert_eq!(plan.entries[0].state, State::Unverified);
    assert_eq!(plan.problems().len(), 1);
    assert!(matches!(
        plan.up_steps(&set, &UpOptions::default()),
        Err(PlanError::Unverified { versions }) if versions == [Version::recorded("001")]
    ));
    let allow = UpOptions {
        allow_unverified: true,
        ..UpOptions::default()
    };
    assert_eq!(
        versions(&set, &plan.up_steps(&set, &allow).unwrap()),
        ["002", "003"]
    );
}

#[test]
fn applied_but_missing_on_disk_is_reported_and_blocks_up() {
    let (_d, set) = three();
    let mut history = applied(&set, &["001"]);
    history.applied.push(AppliedMigration {
        version: Version::recorded("000"),
        description: "gone".into(),
        applied_at: None,
        applied_by: None,
        execution_time_ms: None,
        checksum: None,
    });
    let plan = Plan::new(&set, &history);
    assert_eq!(plan.entries[0].state, State::Missing);
    assert!(matches!(
        plan.up_steps(&set, &UpOptions::default()),
        Err(PlanError::Missing { .. })
    ));
}

#[test]
fn out_of_order_pending_is_refused_unless_allowed() {
    let (_d, set) = three();
    let plan = Plan::new(&set, &applied(&set, &["001", "003"]));
    assert!(matches!(
        plan.up_steps(&set, &UpOptions::default()),
        Err(PlanError::OutOfOrder { .. })
    ));
    let allow = UpOptions {
        allow_out_of_order: true,
        ..UpOptions::default()
    };
    assert_eq!(
        versions(&set, &plan.up_steps(&set, &allow).unwrap()),
        ["002"]
    );
}

#[test]
fn rollback_goes_newest_first_and_needs_every_rollback_file() {
    let (_d, set) = three();
    let plan = Plan::new(&set, &applied(&set, &["001", "002"]));
    let one = plan
        .rollback_steps(&set, &RollbackTarget::Steps(1))
        .unwrap();
    assert_eq!(one, [1]);
    let all = plan
        .rollback_steps(&set, &RollbackTarget::Steps(5))
        .unwrap();
    assert_eq!(all, [1, 0]);
    let to = plan
        .rollback_steps(&set, &RollbackTarget::To("001".into()))
        .unwrap();
    assert_eq!(to, [1]);
    let plan = Plan::new(&set, &applied(&set, &["001", "002", "003"]));
    assert!(matches!(
        plan.rollback_steps(&set, &RollbackTarget::Steps(1)),
        Err(PlanError::NoRollback { .. })
    ));
    assert!(matches!(
        plan.rollback_steps(&set, &RollbackTarget::To("7".into())),
        Err(PlanError::TargetNotApplied { .. })
    ));
}

#[test]
fn an_irreversible_migration_in_range_refuses_the_rollback() {
    let (_d, set) = set_of(&[
        ("001_a.sql", "SELECT 1;"),
        ("rollback_001.sql", "SELECT -1;"),
        ("002_b.sql", "-- pgshift:irreversible\nSELECT 2;"),
        ("003_c.sql", "SELECT 3;"),
        ("rollback_003.sql", "SELECT -3;"),
    ]);
    let plan = Plan::new(&set, &applied(&set, &["001", "002", "003"]));
    assert_eq!(
        plan.rollback_steps(&set, &RollbackTarget::Steps(1))
            .unwrap(),
        [2]
    );
    match plan.rollback_steps(&set, &RollbackTarget::Steps(3)) {
        Err(PlanError::Irreversible { migrations }) => {
            assert_eq!(migrations.len(), 1);
            assert_eq!(migrations[0].0.to_string(), "002");
            assert!(migrations[0].1.ends_with("002_b.sql"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_failed_migration_blocks_up_and_resumes_where_it_stopped() {
    let (_d, set) = set_of(&[
        ("001_a.sql", "SELECT 1;"),
        (
            "002_idx.sql",
            "-- pgshift:no-transaction\nSELECT 1;\nSELECT 2;\nSELECT 3;\n",
        ),
    ]);
    let mut history = applied(&set, &["001"]);
    let m = set.get("002").unwrap();
    history.failed.push(crate::history::FailedMigration {
        version: m.version.clone(),
        checksum: m.checksum.clone(),
        statements_total: 3,
        statements_done: 1,
        done_digest: done_digest(m, 1),
        error: Some("boom".into()),
        sqlstate: Some("XX000".into()),
        failed_at: chrono::Utc::now(),
    });
    let plan = Plan::new(&set, &history);
    assert_eq!(plan.entries[1].state, State::Failed);
    let err = plan.up_steps(&set, &UpOptions::default()).unwrap_err();
    assert!(err.to_string().contains("statement 2 of 3"), "{err}");
    assert!(err.to_string().contains("--resume"), "{err}");
    let resume = UpOptions {
        resume: true,
        ..UpOptions::default()
    };
    let steps = plan.up_steps(&set, &resume).unwrap();
    assert_eq!(
        steps,
        [UpStep {
            migration: 1,
            resume_at: Some(1)
        }]
    );

    // Editing a statement that already ran makes resuming unsafe.
    history.failed[0].done_digest = "0".repeat(64);
    let plan = Plan::new(&set, &history);
    assert!(matches!(
        plan.up_steps(&set, &resume),
        Err(PlanError::ResumeEdited { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever subset is applied, up never re-applies a migration and
    /// always runs the rest in version order.
    #[test]
    fn up_never_reapplies_and_keeps_order(applied_mask in proptest::collection::vec(any::<bool>(), 6)) {
        let files: Vec<(String, String)> = (1..=6)
            .map(|i| (format!("{i:03}_m{i}.sql"), format!("SELECT {i};")))
            .collect();
        let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let (_d, set) = set_of(&refs);
        let chosen: Vec<String> = (1..=6)
            .filter(|i| applied_mask[i - 1])
            .map(|i| format!("{i:03}"))
            .collect();
        let chosen_refs: Vec<&str> = chosen.iter().map(String::as_str).collect();
        let plan = Plan::new(&set, &applied(&set, &chosen_refs));
        let options = UpOptions { allow_out_of_order: true, ..UpOptions::default() };
        let steps = plan.up_steps(&set, &options).unwrap();
        let got = versions(&set, &steps);
        for v in &got {
            prop_assert!(!chosen.contains(v));
        }
        let mut sorted = got.clone();
        sorted.sort();
        prop_assert_eq!(&got, &sorted);
        prop_assert_eq!(got.len() + chosen.len(), 6);
    }
}
