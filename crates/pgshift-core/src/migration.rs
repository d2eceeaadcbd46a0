//! Migration sets: a `migration_scripts/` folder, loaded and validated.
//!
//! File names follow the seed's conventions:
//! - `NNN_description.sql`: a forward migration. `NNN` is any number of
//!   digits (zero padding allowed); versions sort numerically and keep the
//!   text as written (`001`) for the tracking table.
//! - `rollback_NNN.sql`: the rollback of migration `NNN`.
//! - `seed_data.sql`: optional sample data, never applied by `up`.
//! - Anything else (README, other `.sql` files used with `\i`, folders) is
//!   ignored.
//!
//! A file that looks like a migration but is malformed is an error, and
//! loading collects every error in the folder before returning, so a user
//! fixes them all in one pass. All of this happens before connecting.

use crate::checksum::Checksum;
use crate::script::{Header, Script, TransactionMode, TransactionProblem};
use crate::source::{SourceFile, Span};
pub use pgshift_lexer::UnclosedKind;
use rayon::prelude::*;
use std::cmp::Ordering;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

/// The tracking table stores versions in a `VARCHAR(20)`.
pub const MAX_VERSION_LEN: usize = 20;

/// The name of the optional sample-data file.
pub const SEED_FILE: &str = "seed_data.sql";

/// A migration version: digits, kept exactly as written, ordered by value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Version(String);

impl Version {
    /// Parses a version: one or more ASCII digits, at most
    /// [`MAX_VERSION_LEN`] of them.
    pub fn parse(text: &str) -> Option<Version> {
        (!text.is_empty()
            && text.len() <= MAX_VERSION_LEN
            && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| Version(text.to_string()))
    }

    /// Wraps a version read from the tracking table, whatever its form.
    pub fn recorded(text: impl Into<String>) -> Version {
        Version(text.into())
    }

    /// The version as written in the file name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without zero padding: equal for `002` and `0002`, so it
    /// is the key to index versions by number.
    pub fn significant(&self) -> &str {
        let trimmed = self.0.trim_start_matches('0');
        if trimmed.is_empty() && !self.0.is_empty() {
            "0"
        } else {
            trimmed
        }
    }

    /// True when both name the same number (`002` and `0002`).
    pub fn same_number(&self, other: &Version) -> bool {
        self.significant() == other.significant()
    }
}

impl Ord for Version {
    /// Numeric order for digit strings (by length of the unpadded number,
    /// then digits); non-numeric recorded versions sort after, by text.
    fn cmp(&self, other: &Self) -> Ordering {
        let numeric = |v: &Version| v.0.bytes().all(|b| b.is_ascii_digit()) && !v.0.is_empty();
        match (numeric(self), numeric(other)) {
            (true, true) => {
                let (a, b) = (self.significant(), other.significant());
                a.len()
                    .cmp(&b.len())
                    .then_with(|| a.cmp(b))
                    .then_with(|| self.0.cmp(&other.0))
            }
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => self.0.cmp(&other.0),
        }
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One forward migration and, if present, its rollback.
#[derive(Debug, Clone)]
pub struct Migration {
    /// The version from the file name.
    pub version: Version,
    /// From the `-- Description:` header, else from the file name.
    pub description: String,
    /// The forward script.
    pub script: Script,
    /// Checksum of the forward script (see [`crate::checksum`]).
    pub checksum: Checksum,
    /// Transactional unless the header says `-- pgshift:no-transaction`.
    pub transaction: TransactionMode,
    /// The rollback script and its own transaction mode, if the file exists.
    pub rollback: Option<Rollback>,
    /// `-- pgshift:irreversible` in the header: it cannot be undone, so
    /// `rollback` refuses it and `test` does not try.
    pub irreversible: bool,
}

/// A `rollback_NNN.sql` file.
#[derive(Debug, Clone)]
pub struct Rollback {
    /// The parsed script.
    pub script: Script,
    /// Its transaction mode, from its own header.
    pub transaction: TransactionMode,
}

impl Migration {
    /// The forward file's path.
    pub fn path(&self) -> &Path {
        self.script.file().path()
    }
}

/// A loaded, validated migration folder, sorted by version.
#[derive(Debug, Clone)]
pub struct MigrationSet {
    dir: PathBuf,
    migrations: Vec<Migration>,
    seed: Option<PathBuf>,
}

impl MigrationSet {
    /// Loads every migration in `dir`.
    ///
    /// # Errors
    /// Every malformed file is reported, not just the first; see
    /// [`LoadError`] for what is checked.
    pub fn load(dir: &Path) -> Result<MigrationSet, LoadErrors> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(source) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(LoadError::MissingDir {
                    path: dir.to_path_buf(),
                }
                .into())
            }
            Err(source) => {
                return Err(LoadError::Io {
                    path: dir.to_path_buf(),
                    source,
                }
                .into())
            }
        };
        let mut names = Vec::new();
        let mut errors = Vec::new();
        for entry in entries {
            match entry {
                Ok(entry) => {
                    let path = entry.path();
                    // Every name is classified, whatever the entry is: one
                    // named like a migration that is not a readable regular
                    // file (a directory, a FIFO, a dangling link) is refused
                    // when it is read, never skipped.
                    if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
                        names.push(name.to_string());
                    } else if path.is_file() {
                        errors.push(LoadError::BadFileName {
                            path,
                            problem: FileNameProblem::NotUtf8,
                        });
                    }
                }
                Err(source) => errors.push(LoadError::Io {
                    path: dir.to_path_buf(),
                    source,
                }),
            }
        }
        names.sort();

        let mut forward: BTreeMap<Version, PathBuf> = BTreeMap::new();
        // Forward versions by number, so `0002` finds `002` without a scan.
        let mut by_number: HashMap<String, Version> = HashMap::new();
        let mut rollbacks: Vec<(Version, PathBuf)> = Vec::new();
        let mut seed = None;
        for name in names {
            let path = dir.join(&name);
            match classify(&name) {
                Ok(FileRole::Forward(version)) => {
                    match by_number.entry(version.significant().to_string()) {
                        Entry::Occupied(existing) => {
                            let existing = existing.get();
                            errors.push(LoadError::DuplicateVersion {
                                version: existing.clone(),
                                first: forward[existing].clone(),
                                second: path,
                            });
                        }
                        Entry::Vacant(slot) => {
                            slot.insert(version.clone());
                            forward.insert(version, path);
                        }
                    }
                }
                Ok(FileRole::Rollback(version)) => rollbacks.push((version, path)),
                Ok(FileRole::Seed) => seed = Some(path),
                Ok(FileRole::Ignored) => {}
                Err(problem) => errors.push(LoadError::BadFileName { path, problem }),
            }
        }

        let mut paired: BTreeMap<Version, PathBuf> = BTreeMap::new();
        for (version, path) in rollbacks {
            match by_number.get(version.significant()) {
                Some(owner) => {
                    if let Some(first) = paired.get(owner) {
                        errors.push(LoadError::DuplicateRollback {
                            version: owner.clone(),
                            first: first.clone(),
                            second: path,
                        });
                    } else {
                        paired.insert(owner.clone(), path);
                    }
                }
                None => errors.push(LoadError::OrphanRollback { path, version }),
            }
        }

        let files: Vec<(Version, PathBuf, Option<PathBuf>)> = forward
            .into_iter()
            .map(|(version, path)| {
                let rollback = paired.remove(&version);
                (version, path, rollback)
            })
            .collect();
        // Every command reads the whole folder first: use every core.
        let loaded: Vec<_> = files
            .par_iter()
            .map(|(version, path, rollback)| {
                load_migration(version.clone(), path, rollback.as_deref())
            })
            .collect();
        let mut migrations = Vec::with_capacity(files.len());
        for loaded in loaded {
            match loaded {
                Ok(migration) => migrations.push(migration),
                Err(mut errs) => errors.append(&mut errs),
            }
        }
        if !errors.is_empty() {
            return Err(LoadErrors(errors));
        }
        Ok(MigrationSet {
            dir: dir.to_path_buf(),
            migrations,
            seed,
        })
    }

    /// The folder this set was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Migrations in version order.
    pub fn migrations(&self) -> &[Migration] {
        &self.migrations
    }

    /// The migration with exactly this version text, or the same number.
    pub fn get(&self, version: &str) -> Option<&Migration> {
        let wanted = Version::recorded(version);
        self.migrations
            .iter()
            .find(|m| m.version == wanted || m.version.same_number(&wanted))
    }

    /// `seed_data.sql`, if the folder has one.
    pub fn seed(&self) -> Option<&Path> {
        self.seed.as_deref()
    }

    /// The version a new migration should get: one more than the highest,
    /// zero-padded like the highest (three digits for an empty folder).
    pub fn next_version(&self) -> String {
        match self.migrations.last() {
            None => "001".to_string(),
            Some(last) => {
                let width = last.version.as_str().len();
                let next = last.version.significant().parse::<u128>().unwrap_or(0) + 1;
                format!("{next:0width$}")
            }
        }
    }
}

fn load_migration(
    version: Version,
    path: &Path,
    rollback: Option<&Path>,
) -> Result<Migration, Vec<LoadError>> {
    let mut errors = Vec::new();
    let forward = read_script(path).map_err(|e| errors.push(e)).ok();
    let rollback = match rollback {
        Some(p) => read_script(p).map_err(|e| errors.push(e)).ok(),
        None => None,
    };
    let Some((script, header, transaction)) = forward else {
        return Err(errors);
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let description = header
        .description
        .unwrap_or_else(|| description_from_name(path));
    Ok(Migration {
        checksum: Checksum::of_parts(script.texts()),
        version,
        description,
        script,
        transaction,
        irreversible: header.irreversible,
        rollback: rollback.map(|(script, _, transaction)| Rollback {
            script,
            transaction,
        }),
    })
}

fn read_script(path: &Path) -> Result<(Script, Header, TransactionMode), LoadError> {
    let source = read_source(path)?;
    let header = Header::parse(&source)?;
    let mode = if header.no_transaction {
        TransactionMode::NoTransaction
    } else {
        TransactionMode::Transactional
    };
    let script = Script::parse(source, mode)?;
    Ok((script, header, mode))
}

/// Reads a regular file as UTF-8 text without NUL bytes.
///
/// The file type is checked before opening: opening a FIFO would block
/// until something writes to it.
pub(crate) fn read_source(path: &Path) -> Result<SourceFile, LoadError> {
    check_regular_file(path)?;
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| LoadError::NotUtf8 {
        path: path.to_path_buf(),
        offset: e.utf8_error().valid_up_to(),
    })?;
    if let Some(at) = text.find('\0') {
        return Err(LoadError::NulByte {
            path: path.to_path_buf(),
            span: Span::new(at, at + 1),
        });
    }
    Ok(SourceFile::new(path, text))
}

/// Refuses anything but a regular file (after following symbolic links).
fn check_regular_file(path: &Path) -> Result<(), LoadError> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        // The path itself exists, so the link it is leads nowhere.
        Err(source) if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_symlink()) => {
            return Err(LoadError::BrokenSymlink {
                path: path.to_path_buf(),
                source,
            })
        }
        Err(source) => {
            return Err(LoadError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let file_type = meta.file_type();
    if file_type.is_file() {
        return Ok(());
    }
    let kind = if file_type.is_dir() {
        NotAFileKind::Directory
    } else {
        special_kind(&file_type)
    };
    Err(LoadError::NotAFile {
        path: path.to_path_buf(),
        kind,
    })
}

#[cfg(unix)]
fn special_kind(file_type: &std::fs::FileType) -> NotAFileKind {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_fifo() {
        NotAFileKind::Fifo
    } else if file_type.is_socket() {
        NotAFileKind::Socket
    } else if file_type.is_char_device() || file_type.is_block_device() {
        NotAFileKind::Device
    } else {
        NotAFileKind::Other
    }
}

#[cfg(not(unix))]
fn special_kind(_: &std::fs::FileType) -> NotAFileKind {
    NotAFileKind::Other
}

/// `001_initial_schema.sql` → `initial schema`.
fn description_from_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let rest = stem.split_once('_').map(|(_, rest)| rest).unwrap_or(stem);
    rest.replace('_', " ")
}

enum FileRole {
    Forward(Version),
    Rollback(Version),
    Seed,
    Ignored,
}

/// Decides what a file name means. A `.sql` name that starts with a digit
/// or with `rollback` is meant as a migration, so a malformed one is an
/// error rather than silently skipped.
fn classify(name: &str) -> Result<FileRole, FileNameProblem> {
    let Some(stem) = name.strip_suffix(".sql") else {
        return Ok(FileRole::Ignored);
    };
    if name == SEED_FILE {
        return Ok(FileRole::Seed);
    }
    if let Some(rest) = stem.strip_prefix("rollback") {
        let Some(rest) = rest.strip_prefix('_') else {
            return Err(FileNameProblem::Rollback);
        };
        let digits = rest.split('_').next().unwrap_or_default();
        return match Version::parse(digits) {
            Some(v) => Ok(FileRole::Rollback(v)),
            None if digits.len() > MAX_VERSION_LEN
                && digits.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Err(FileNameProblem::VersionTooLong)
            }
            None => Err(FileNameProblem::Rollback),
        };
    }
    if !stem.starts_with(|c: char| c.is_ascii_digit()) {
        return Ok(FileRole::Ignored);
    }
    let digits_end = stem
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(stem.len());
    let (digits, rest) = stem.split_at(digits_end);
    let Some(description) = rest.strip_prefix('_') else {
        return Err(FileNameProblem::NoUnderscore);
    };
    if description.trim_matches('_').trim().is_empty() {
        return Err(FileNameProblem::NoDescription);
    }
    match Version::parse(digits) {
        Some(v) => Ok(FileRole::Forward(v)),
        None => Err(FileNameProblem::VersionTooLong),
    }
}

/// Why a file name that looks like a migration is not a valid one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileNameProblem {
    /// `1-init.sql`: the version must be followed by `_`.
    NoUnderscore,
    /// `002_.sql`: nothing after the version.
    NoDescription,
    /// More digits than the tracking table's `VARCHAR(20)` holds.
    VersionTooLong,
    /// `rollback-1.sql`, `rollback_x.sql`: not `rollback_NNN.sql`.
    Rollback,
    /// The file name is not valid UTF-8.
    NotUtf8,
}

impl fmt::Display for FileNameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileNameProblem::NoUnderscore => {
                "expected `NNN_description.sql`: the version must be followed by `_`"
            }
            FileNameProblem::NoDescription => {
                "expected `NNN_description.sql`: the description after the version is empty"
            }
            FileNameProblem::VersionTooLong => "the version has more than 20 digits",
            FileNameProblem::Rollback => "expected `rollback_NNN.sql` with a numeric version",
            FileNameProblem::NotUtf8 => "the file name is not valid UTF-8",
        })
    }
}

/// A problem found while loading a migration folder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The folder does not exist.
    #[error("migration folder `{}` not found; create it or point --dir (or PGSHIFT_DIR) at your migrations", path.display())]
    MissingDir {
        /// The folder looked for.
        path: PathBuf,
    },
    /// Reading a file or folder failed.
    #[error("cannot read `{}`: {source}", path.display())]
    Io {
        /// What was being read.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file is not UTF-8 text.
    #[error("`{}` is not valid UTF-8 (first bad byte at offset {offset}); save it as UTF-8", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// A name that looks like a migration but is malformed.
    #[error("`{}`: {problem}", path.display())]
    BadFileName {
        /// The file.
        path: PathBuf,
        /// What is wrong with its name.
        problem: FileNameProblem,
    },
    /// Two files share one version number.
    #[error("version {version} is used twice: `{}` and `{}`; renumber one of them", first.display(), second.display())]
    DuplicateVersion {
        /// The version.
        version: Version,
        /// The first file (in name order).
        first: PathBuf,
        /// The second.
        second: PathBuf,
    },
    /// Two rollback files for one version.
    #[error("migration {version} has two rollback files: `{}` and `{}`", first.display(), second.display())]
    DuplicateRollback {
        /// The version.
        version: Version,
        /// The first rollback file.
        first: PathBuf,
        /// The second.
        second: PathBuf,
    },
    /// `rollback_NNN.sql` without `NNN_*.sql`.
    #[error("`{}` rolls back migration {version}, but there is no `{version}_*.sql`", path.display())]
    OrphanRollback {
        /// The rollback file.
        path: PathBuf,
        /// The version it names.
        version: Version,
    },
    /// A `-- pgshift:` directive pgshift does not know.
    #[error(
        "unknown directive `pgshift:{directive}`; known: `no-transaction`, `irreversible`, `destructive-ok`, `ignore <rule>`"
    )]
    UnknownDirective {
        /// The file.
        path: PathBuf,
        /// Where the directive is.
        span: Span,
        /// The directive text after `pgshift:`.
        directive: String,
    },
    /// A psql meta-command pgshift cannot run.
    #[error("unsupported psql command `\\{command}`: {reason}")]
    MetaCommand {
        /// The file.
        path: PathBuf,
        /// The whole command line.
        span: Span,
        /// The command name without backslash.
        command: String,
        /// Why it is refused.
        reason: String,
    },
    /// An included file could not be loaded.
    #[error("cannot include: {source}")]
    Include {
        /// The including file.
        path: PathBuf,
        /// The `\i` line.
        span: Span,
        /// What went wrong with the included file.
        source: Box<LoadError>,
    },
    /// A file includes itself, directly or not.
    #[error("`\\i {}` includes a file that is already being included", target.display())]
    IncludeCycle {
        /// The including file.
        path: PathBuf,
        /// The `\i` line.
        span: Span,
        /// The file that closes the cycle.
        target: PathBuf,
    },
    /// Transaction control where it would break atomicity.
    #[error("{problem}")]
    TransactionControl {
        /// The file.
        path: PathBuf,
        /// The statement.
        span: Span,
        /// What is wrong.
        problem: TransactionProblem,
    },
    /// A file named like a migration (or a `\i` target) that is not a
    /// regular file: a directory, a FIFO, a socket, a device.
    #[error("`{}` is {kind}, not a regular file; pgshift reads migrations from regular files", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is instead.
        kind: NotAFileKind,
    },
    /// A symbolic link that does not lead to a file: dangling, or a loop.
    #[error("`{}` is a symbolic link that cannot be followed: {source}; fix or remove the link", path.display())]
    BrokenSymlink {
        /// The link.
        path: PathBuf,
        /// Why following it failed.
        source: std::io::Error,
    },
    /// A NUL byte, which PostgreSQL cannot receive in a query.
    #[error("the file contains a NUL byte, which PostgreSQL cannot receive in SQL; remove it")]
    NulByte {
        /// The file.
        path: PathBuf,
        /// The byte.
        span: Span,
    },
    /// A string, comment, quoted identifier or dollar quote (or a quoted
    /// psql argument) still open at the end of the file (or line).
    #[error("{}", UnclosedMessage(kind, delimiter))]
    Unclosed {
        /// The file.
        path: PathBuf,
        /// The opening delimiter that is never closed.
        span: Span,
        /// What is open.
        kind: UnclosedKind,
        /// The opening delimiter's text: `/*`, `E'`, `$body$`…
        delimiter: String,
    },
    /// `COPY … FROM STDIN` or `\copy … from stdin`: data in the script.
    #[error("{} reads its data from the lines after it, which pgshift does not send; use INSERT, or load the data outside the migration", if *meta { "`\\copy … from stdin`" } else { "`COPY … FROM STDIN`" })]
    CopyFromStdin {
        /// The file.
        path: PathBuf,
        /// The COPY statement or `\copy` line.
        span: Span,
        /// True for psql's `\copy`, false for SQL `COPY`.
        meta: bool,
    },
    /// A psql variable reference (`:name`, `:'name'`, `:"name"`), which
    /// psql would substitute and pgshift cannot.
    #[error("psql variable `{reference}` would be sent as written: pgshift does not implement psql variables (`\\set`, `-v`)")]
    PsqlVariable {
        /// The file.
        path: PathBuf,
        /// The reference.
        span: Span,
        /// The reference as written.
        reference: String,
    },
    /// psql's `\;` or `\:` outside strings and comments.
    #[error("{escape}")]
    PsqlEscape {
        /// The file.
        path: PathBuf,
        /// The two characters.
        span: Span,
        /// Which escape.
        escape: PsqlEscape,
    },
    /// A statement that turns `standard_conforming_strings` off, which
    /// changes how the rest of the file must be read.
    #[error("turning standard_conforming_strings off changes how the rest of the file is read (a backslash in '…' would escape the quote), and pgshift reads migrations with it on")]
    StandardConformingStrings {
        /// The file.
        path: PathBuf,
        /// The statement.
        span: Span,
    },
}

/// What a [`LoadError::NotAFile`] path is instead of a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotAFileKind {
    /// A directory.
    Directory,
    /// A named pipe: reading it would wait for a writer.
    Fifo,
    /// A Unix socket.
    Socket,
    /// A character or block device.
    Device,
    /// Anything else.
    Other,
}

impl fmt::Display for NotAFileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotAFileKind::Directory => "a directory",
            NotAFileKind::Fifo => "a named pipe (FIFO)",
            NotAFileKind::Socket => "a socket",
            NotAFileKind::Device => "a device",
            NotAFileKind::Other => "not a file",
        })
    }
}

/// psql's backslash escapes inside SQL, which pgshift refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PsqlEscape {
    /// `\;`: psql joins the statements around it into one query.
    JoinedQuery,
    /// `\:`: psql sends a literal `:` that is not a variable.
    LiteralColon,
}

impl fmt::Display for PsqlEscape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PsqlEscape::JoinedQuery => {
                "`\\;` joins statements into one query in psql; pgshift sends and checks each statement on its own, so write `;`"
            }
            PsqlEscape::LiteralColon => {
                "`\\:` is psql's escaped colon, which pgshift would send with its backslash; write `:`"
            }
        })
    }
}

/// The message of [`LoadError::Unclosed`].
struct UnclosedMessage<'a>(&'a UnclosedKind, &'a str);

impl fmt::Display for UnclosedMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let UnclosedMessage(kind, delimiter) = *self;
        let (what, closer) = match kind {
            UnclosedKind::BlockComment { .. } => ("block comment", "`*/`".to_string()),
            UnclosedKind::String { escapes: true } => ("escape string", "`'`".to_string()),
            UnclosedKind::String { .. } => ("string", "`'`".to_string()),
            UnclosedKind::QuotedIdent => ("quoted identifier", "`\"`".to_string()),
            UnclosedKind::DollarQuote => ("dollar quote", format!("`{delimiter}`")),
            UnclosedKind::MetaArgument => {
                return write!(
                f,
                "unterminated quote `{delimiter}` in a psql command: psql would drop the argument"
            )
            }
            _ => ("token", "its closing delimiter".to_string()),
        };
        write!(
            f,
            "unterminated {what}: `{delimiter}` is never closed by {closer}, so the rest of the file would be part of it"
        )
    }
}

impl LoadError {
    /// The file and span this error points at, when there is one.
    pub fn location(&self) -> Option<(&Path, Span)> {
        match self {
            LoadError::UnknownDirective { path, span, .. }
            | LoadError::MetaCommand { path, span, .. }
            | LoadError::Include { path, span, .. }
            | LoadError::IncludeCycle { path, span, .. }
            | LoadError::TransactionControl { path, span, .. }
            | LoadError::NulByte { path, span }
            | LoadError::Unclosed { path, span, .. }
            | LoadError::CopyFromStdin { path, span, .. }
            | LoadError::PsqlVariable { path, span, .. }
            | LoadError::PsqlEscape { path, span, .. }
            | LoadError::StandardConformingStrings { path, span } => Some((path, *span)),
            _ => None,
        }
    }

    /// The file this error is about, when there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            LoadError::MissingDir { path }
            | LoadError::Io { path, .. }
            | LoadError::NotUtf8 { path, .. }
            | LoadError::BadFileName { path, .. }
            | LoadError::OrphanRollback { path, .. }
            | LoadError::NotAFile { path, .. }
            | LoadError::BrokenSymlink { path, .. } => Some(path),
            LoadError::DuplicateVersion { second, .. }
            | LoadError::DuplicateRollback { second, .. } => Some(second),
            _ => self.location().map(|(p, _)| p),
        }
    }
}

/// Every problem found in a folder.
#[derive(Debug, thiserror::Error)]
#[error("{} problem(s) in the migration folder", .0.len())]
pub struct LoadErrors(pub Vec<LoadError>);

impl From<LoadError> for LoadErrors {
    fn from(e: LoadError) -> Self {
        LoadErrors(vec![e])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_numerically_and_keep_their_text() {
        let mut v: Vec<Version> = ["10", "002", "1", "0003"]
            .iter()
            .map(|s| Version::parse(s).unwrap())
            .collect();
        v.sort();
        let texts: Vec<&str> = v.iter().map(Version::as_str).collect();
        assert_eq!(texts, ["1", "002", "0003", "10"]);
        assert!(Version::parse("002")
            .unwrap()
            .same_number(&Version::parse("0002").unwrap()));
        assert!(Version::parse("").is_none());
        assert!(Version::parse("1a").is_none());
        assert!(Version::parse(&"1".repeat(21)).is_none());
    }

    #[test]
    fn file_names_are_classified() {
        assert!(
            matches!(classify("001_initial_schema.sql"), Ok(FileRole::Forward(v)) if v.as_str() == "001")
        );
        assert!(
            matches!(classify("rollback_001.sql"), Ok(FileRole::Rollback(v)) if v.as_str() == "001")
        );
        assert!(matches!(classify("seed_data.sql"), Ok(FileRole::Seed)));
        assert!(matches!(classify("README.md"), Ok(FileRole::Ignored)));
        assert!(matches!(classify("helpers.sql"), Ok(FileRole::Ignored)));
        assert_eq!(
            classify("1-init.sql").err(),
            Some(FileNameProblem::NoUnderscore)
        );
        assert_eq!(
            classify("002_.sql").err(),
            Some(FileNameProblem::NoDescription)
        );
        assert_eq!(
            classify("rollback-1.sql").err(),
            Some(FileNameProblem::Rollback)
        );
        assert_eq!(
            classify("rollback_x.sql").err(),
            Some(FileNameProblem::Rollback)
        );
    }

    #[test]
    fn description_falls_back_to_the_file_name() {
        assert_eq!(
            description_from_name(Path::new("x/001_initial_schema.sql")),
            "initial schema"
        );
    }
}
