//! Rule names, severities and selection.
//!
//! A rule's name is part of pgshift's interface: it appears in output, in
//! `pgshift.toml`, in `--rule`/`--exclude` and in `-- pgshift:ignore`
//! comments, so a released name never changes. pgshift's own rules have
//! plain kebab-case names; rules from squawk are `squawk/<squawk's name>`.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// A lint rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// `missing-rollback`: see [`super::rules::missing_rollback`].
    MissingRollback,
    /// `non-idempotent`: see [`super::rules::non_idempotent`].
    NonIdempotent,
    /// `transaction-misuse`: see [`super::rules::transaction_misuse`].
    TransactionMisuse,
    /// `rollback-incomplete`: see [`super::rules::rollback_incomplete`].
    RollbackIncomplete,
    /// `unacknowledged-destructive`: see
    /// [`super::rules::unacknowledged_destructive`].
    UnacknowledgedDestructive,
    /// `missing-description`: see [`super::rules::missing_description`].
    MissingDescription,
    /// `version-gap`: see [`super::rules::version_gap`].
    VersionGap,
    /// `unknown-directive`: see [`super::rules::unknown_directive`].
    UnknownDirective,
    /// `deep-nesting`: see [`super::rules::deep_nesting`].
    DeepNesting,
    /// A rule of the squawk linter, named `squawk/<name>`.
    Squawk(SquawkRule),
}

/// A squawk rule (<https://squawkhq.com/docs/rules>).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SquawkRule(pub(crate) squawk_linter::Rule);

impl SquawkRule {
    /// squawk's own name for the rule, such as `adding-required-field`.
    pub fn name(&self) -> String {
        self.0.to_string()
    }
}

/// How serious a finding is. Errors fail `pgshift lint` and stop `up`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth a look; does not fail the run.
    Warning,
    /// Must be fixed or ignored explicitly.
    Error,
}

impl Rule {
    /// pgshift's own rules, in documentation order.
    pub const OWN: [Rule; 9] = [
        Rule::MissingRollback,
        Rule::NonIdempotent,
        Rule::TransactionMisuse,
        Rule::RollbackIncomplete,
        Rule::UnacknowledgedDestructive,
        Rule::MissingDescription,
        Rule::VersionGap,
        Rule::UnknownDirective,
        Rule::DeepNesting,
    ];

    /// The stable name, e.g. `non-idempotent` or `squawk/adding-required-field`.
    pub fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Rule::MissingRollback => "missing-rollback",
            Rule::NonIdempotent => "non-idempotent",
            Rule::TransactionMisuse => "transaction-misuse",
            Rule::RollbackIncomplete => "rollback-incomplete",
            Rule::UnacknowledgedDestructive => "unacknowledged-destructive",
            Rule::MissingDescription => "missing-description",
            Rule::VersionGap => "version-gap",
            Rule::UnknownDirective => "unknown-directive",
            Rule::DeepNesting => "deep-nesting",
            Rule::Squawk(rule) => return Cow::Owned(format!("squawk/{}", rule.name())),
        })
    }

    /// The severity a finding of this rule has.
    pub fn severity(&self) -> Severity {
        match self {
            Rule::TransactionMisuse | Rule::UnacknowledgedDestructive => Severity::Error,
            // A warning: `up` refuses error-level findings, and a migration
            // without a rollback is still safe to apply; `rollback` itself
            // refuses a version whose file is missing, before anything runs.
            Rule::MissingRollback
            | Rule::NonIdempotent
            | Rule::RollbackIncomplete
            | Rule::MissingDescription
            | Rule::VersionGap
            | Rule::UnknownDirective
            | Rule::DeepNesting => Severity::Warning,
            Rule::Squawk(rule) => super::squawk::severity(rule.0),
        }
    }

    /// True when naming this rule names `other`: the same rule, or a
    /// squawk alias (`squawk/require-timeout-settings`) of which `other`
    /// is a part.
    pub fn covers(&self, other: Rule) -> bool {
        match (self, other) {
            (Rule::Squawk(alias), Rule::Squawk(part)) if alias.0.expands_to().contains(&part.0) => {
                true
            }
            _ => *self == other,
        }
    }

    /// True when the rule runs without being enabled explicitly.
    pub fn is_default(&self) -> bool {
        match self {
            Rule::Squawk(rule) => super::squawk::is_default(rule.0),
            _ => true,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for Rule {
    type Err = UnknownRule;

    fn from_str(s: &str) -> Result<Rule, UnknownRule> {
        if let Some(rule) = Rule::OWN.iter().find(|r| r.name() == s) {
            return Ok(*rule);
        }
        s.strip_prefix("squawk/")
            .and_then(|name| squawk_linter::Rule::from_str(name).ok())
            .map(|rule| Rule::Squawk(SquawkRule(rule)))
            .ok_or_else(|| UnknownRule(s.to_string()))
    }
}

/// A rule name nobody knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown lint rule `{0}`; known: {known}, `squawk/<rule>` (https://squawkhq.com/docs/rules), `squawk` and `all`", known = Rule::OWN.map(|r| format!("`{r}`")).join(", "))]
pub struct UnknownRule(pub String);

/// What a `--rule`, `--exclude`, `[lint]` entry or ignore comment names:
/// one rule, every squawk rule (`squawk`), or every rule (`all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleSelector {
    /// One rule.
    Rule(Rule),
    /// `squawk`: every squawk rule.
    Squawk,
    /// `all`: every rule.
    All,
}

impl RuleSelector {
    /// True when `rule` is selected.
    pub fn matches(&self, rule: Rule) -> bool {
        match self {
            RuleSelector::Rule(r) => r.covers(rule),
            RuleSelector::Squawk => matches!(rule, Rule::Squawk(_)),
            RuleSelector::All => true,
        }
    }
}

impl FromStr for RuleSelector {
    type Err = UnknownRule;

    fn from_str(s: &str) -> Result<RuleSelector, UnknownRule> {
        match s.trim() {
            "all" => Ok(RuleSelector::All),
            "squawk" => Ok(RuleSelector::Squawk),
            other => other.parse().map(RuleSelector::Rule),
        }
    }
}

/// Which rules run.
///
/// By default every pgshift rule and squawk's default rules run (minus the
/// few squawk rules that contradict how pgshift runs migrations; see
/// [`super::squawk`]). `enable` adds rules that are off by default,
/// `disable` removes rules, and a non-empty `only` replaces the default set.
#[derive(Debug, Clone, Default)]
pub struct LintOptions {
    /// When non-empty, only these rules run (`--rule`).
    pub only: Vec<RuleSelector>,
    /// Rules to run in addition to the defaults (`[lint] enable`).
    pub enable: Vec<RuleSelector>,
    /// Rules never to run (`--exclude`, `[lint] disable`).
    pub disable: Vec<RuleSelector>,
    /// Run only the selected rules whose findings are errors: what `up`
    /// checks before it applies anything.
    pub errors_only: bool,
    /// The PostgreSQL major version the migrations will run on, for the
    /// squawk rules whose verdict depends on it (a column added with a
    /// default rewrites the table before 11, for one). `None`:
    /// [`DEFAULT_POSTGRES_VERSION`]. The CLI passes `[lint]
    /// postgres_version`, else the server's version when it is connected.
    pub postgres_version: Option<u32>,
}

/// The PostgreSQL major version lint judges for when neither `[lint]
/// postgres_version` nor a connected server says: the oldest major version
/// the PostgreSQL project still supports (15, as of November 2026), so a
/// version-dependent rule errs on the side of warning.
pub const DEFAULT_POSTGRES_VERSION: u32 = 15;

impl LintOptions {
    /// Builds options from rule names.
    ///
    /// # Errors
    /// The first name that is not a rule, `squawk` or `all`.
    pub fn from_names<S: AsRef<str>>(
        only: &[S],
        enable: &[S],
        disable: &[S],
    ) -> Result<LintOptions, UnknownRule> {
        let parse = |names: &[S]| -> Result<Vec<RuleSelector>, UnknownRule> {
            names.iter().map(|n| n.as_ref().parse()).collect()
        };
        Ok(LintOptions {
            only: parse(only)?,
            enable: parse(enable)?,
            disable: parse(disable)?,
            errors_only: false,
            postgres_version: None,
        })
    }

    /// True when `rule` runs under these options.
    pub fn is_enabled(&self, rule: Rule) -> bool {
        // A group (`squawk`, `all`) never turns on a rule that is off by
        // default; only its own name does.
        let picks = |s: &RuleSelector| match s {
            RuleSelector::Rule(r) => r.covers(rule),
            group => group.matches(rule) && rule.is_default(),
        };
        let on = if self.only.is_empty() {
            rule.is_default() || self.enable.iter().any(picks)
        } else {
            self.only.iter().any(picks)
        };
        on && !self.disable.iter().any(|s| s.matches(rule))
            && (!self.errors_only || rule.severity() == Severity::Error)
    }
}
