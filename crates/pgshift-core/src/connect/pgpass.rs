//! The libpq password file (`~/.pgpass`, `PGPASSFILE`, `passfile=`), read
//! exactly as libpq reads it (PostgreSQL docs, section "libpq-pgpass").
//!
//! Format: one `hostname:port:database:username:password` entry per line;
//! each of the first four fields may be a literal or `*` (matches anything);
//! `\:` and `\\` escape a colon and a backslash; lines starting with `#` are
//! comments; the first matching line wins. Lines with too few fields simply
//! never match (libpq does not complain about them either).

use std::path::{Path, PathBuf};

use super::{ConnectError, ConnectWarning};

/// What to match a password file entry against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PgPassKey<'a> {
    /// Host names an entry's host field may match (for a unix socket: the
    /// socket directory and `localhost`).
    pub hosts: Vec<&'a str>,
    pub port: &'a str,
    pub database: &'a str,
    pub user: &'a str,
}

/// A password found in the file, with the 1-based line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PgPassMatch {
    pub password: String,
    pub line: usize,
}

/// Looks up a password in the file at `path`.
///
/// A missing file is `Ok(None)`. As in libpq, a file that is not a plain file
/// or that grants any access to group or others (on unix) is ignored, and a
/// warning saying so is returned instead of the password. A file that exists
/// but cannot be read, or is not UTF-8, is an error.
pub(crate) fn lookup(
    path: &Path,
    key: &PgPassKey<'_>,
    warnings: &mut Vec<ConnectWarning>,
) -> Result<Option<PgPassMatch>, ConnectError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(pgpass_error(path, None, e.to_string())),
    };
    if !meta.is_file() {
        warnings.push(ConnectWarning::PgPassNotAFile {
            path: path.to_owned(),
        });
        return Ok(None);
    }
    if let Some(mode) = insecure_mode(&meta) {
        warnings.push(ConnectWarning::PgPassPermissions {
            path: path.to_owned(),
            mode,
        });
        return Ok(None);
    }
    let bytes = std::fs::read(path).map_err(|e| pgpass_error(path, None, e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        pgpass_error(path, Some(line), "not valid UTF-8".to_owned())
    })?;
    Ok(find(&text, key))
}

fn pgpass_error(path: &Path, line: Option<usize>, reason: String) -> ConnectError {
    ConnectError::PgPass {
        path: PathBuf::from(path),
        line,
        reason,
    }
}

/// libpq: "On Unix systems, the permissions on a password file must disallow
/// any access to world or group (chmod 0600); if the permissions are less
/// strict than this, the file will be ignored."
#[cfg(unix)]
fn insecure_mode(meta: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn insecure_mode(_meta: &std::fs::Metadata) -> Option<u32> {
    None
}

/// Finds the first entry matching `key` in password-file content.
pub(crate) fn find(text: &str, key: &PgPassKey<'_>) -> Option<PgPassMatch> {
    // A line matches when its host field matches any of the names (for a
    // unix socket: the directory or `localhost`); the first such line wins.
    text.split('\n').enumerate().find_map(|(i, raw)| {
        // libpq: comments only when `#` is the first character; trailing
        // CR/LF are stripped.
        if raw.starts_with('#') {
            return None;
        }
        let line = raw.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            return None;
        }
        let rest = key.hosts.iter().find_map(|host| match_field(line, host))?;
        let rest = match_field(rest, key.port)?;
        let rest = match_field(rest, key.database)?;
        let rest = match_field(rest, key.user)?;
        Some(PgPassMatch {
            password: unescape_password(rest),
            line: i + 1,
        })
    })
}

/// libpq's `pwdfMatchesString`: if the field at the start of `field_and_rest`
/// is `*` or equals `token` (after unescaping), returns what follows its
/// terminating colon.
fn match_field<'a>(field_and_rest: &'a str, token: &str) -> Option<&'a str> {
    if let Some(rest) = field_and_rest.strip_prefix("*:") {
        return Some(rest);
    }
    let mut chars = field_and_rest.char_indices();
    let mut expected = token.chars();
    while let Some((i, c)) = chars.next() {
        let (c, escaped) = if c == '\\' {
            match chars.next() {
                Some((_, next)) => (next, true),
                // A trailing lone backslash: the field never terminates.
                None => return None,
            }
        } else {
            (c, false)
        };
        if c == ':' && !escaped {
            // End of field: a match only if the whole token was consumed.
            return expected.next().is_none().then(|| &field_and_rest[i + 1..]);
        }
        if expected.next() != Some(c) {
            return None;
        }
    }
    None
}

/// libpq de-escapes the password field and stops at the first unescaped
/// colon.
fn unescape_password(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ':' => break,
            '\\' if chars.peek().is_some() => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key<'a>(hosts: &[&'a str], port: &'a str, db: &'a str, user: &'a str) -> PgPassKey<'a> {
        PgPassKey {
            hosts: hosts.to_vec(),
            port,
            database: db,
            user,
        }
    }

    const FILE: &str = "\
# host:port:db:user:password
db.example.com:5432:app:alice:alice-pw
*:5432:*:bob:bob-pw
/tmp/sock:6000:*:carol:carol-sock
localhost:*:*:carol:carol-local
we\\:ird:5432:d\\\\b:dave:pa\\:ss\\\\word:ignored
short:line
*:*:*:*:fallback-pw
";

    #[test]
    fn exact_match_and_first_line_wins() {
        let m = find(FILE, &key(&["db.example.com"], "5432", "app", "alice")).unwrap();
        assert_eq!(m.password, "alice-pw");
        assert_eq!(m.line, 2);
    }

    #[test]
    fn wildcards() {
        let m = find(FILE, &key(&["anything"], "5432", "other", "bob")).unwrap();
        assert_eq!(m.password, "bob-pw");
        // Port differs from bob's line: falls through to the catch-all.
        let m = find(FILE, &key(&["anything"], "6543", "other", "bob")).unwrap();
        assert_eq!((m.password.as_str(), m.line), ("fallback-pw", 8));
    }

    #[test]
    fn star_is_a_wildcard_only_as_the_whole_field() {
        let text = "db*:5432:app:u:pw\n";
        assert_eq!(find(text, &key(&["db1"], "5432", "app", "u")), None);
        assert!(find(text, &key(&["db*"], "5432", "app", "u")).is_some());
        // An escaped star is a literal star.
        let text = "\\*:5432:app:u:pw\n";
        assert_eq!(find(text, &key(&["db1"], "5432", "app", "u")), None);
        assert!(find(text, &key(&["*"], "5432", "app", "u")).is_some());
    }

    #[test]
    fn escapes_in_fields_and_password() {
        let m = find(FILE, &key(&["we:ird"], "5432", "d\\b", "dave")).unwrap();
        assert_eq!(m.password, "pa:ss\\word");
    }

    #[test]
    fn unix_socket_matches_localhost_after_its_path() {
        let m = find(
            FILE,
            &key(&["/tmp/sock", "localhost"], "6000", "x", "carol"),
        )
        .unwrap();
        assert_eq!(m.password, "carol-sock");
        let m = find(
            FILE,
            &key(&["/var/run/postgresql", "localhost"], "5432", "x", "carol"),
        )
        .unwrap();
        assert_eq!(m.password, "carol-local");
    }

    #[test]
    fn no_match_and_short_lines() {
        assert_eq!(
            find(
                "short:line\n#*:*:*:*:c\n",
                &key(&["short"], "line", "x", "y")
            ),
            None
        );
        assert_eq!(find("", &key(&["h"], "1", "d", "u")), None);
        // A prefix of the token is not a match.
        assert_eq!(
            find(
                "db:5432:app:alice:pw",
                &key(&["db2"], "5432", "app", "alice")
            ),
            None
        );
        assert_eq!(
            find(
                "db2:5432:app:alice:pw",
                &key(&["db"], "5432", "app", "alice")
            ),
            None
        );
    }

    #[test]
    fn crlf_and_empty_password() {
        let m = find("h:1:d:u:pw\r\n", &key(&["h"], "1", "d", "u")).unwrap();
        assert_eq!(m.password, "pw");
        let m = find("h:1:d:u:\n", &key(&["h"], "1", "d", "u")).unwrap();
        assert_eq!(m.password, "");
    }

    #[cfg(unix)]
    #[test]
    fn file_with_group_or_world_access_is_ignored_with_a_warning() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        std::fs::write(&path, "*:*:*:*:secret\n").unwrap();
        let k = key(&["h"], "5432", "d", "u");

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut warnings = Vec::new();
        let m = lookup(&path, &k, &mut warnings).unwrap().unwrap();
        assert_eq!(m.password, "secret");
        assert!(warnings.is_empty());

        for mode in [0o640, 0o604, 0o660, 0o610] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let mut warnings = Vec::new();
            assert_eq!(lookup(&path, &k, &mut warnings).unwrap(), None, "{mode:o}");
            assert_eq!(
                warnings,
                vec![ConnectWarning::PgPassPermissions {
                    path: path.clone(),
                    mode
                }]
            );
            let text = warnings[0].to_string();
            assert!(text.contains("0600"), "{text}");
            assert!(!text.contains("secret"));
        }
    }

    #[test]
    fn missing_file_and_directory() {
        let dir = tempfile::tempdir().unwrap();
        let k = key(&["h"], "5432", "d", "u");
        let mut warnings = Vec::new();
        assert_eq!(
            lookup(&dir.path().join("nope"), &k, &mut warnings).unwrap(),
            None
        );
        assert!(warnings.is_empty());
        assert_eq!(lookup(dir.path(), &k, &mut warnings).unwrap(), None);
        assert!(matches!(
            warnings[..],
            [ConnectWarning::PgPassNotAFile { .. }]
        ));
    }

    #[cfg(unix)]
    #[test]
    fn invalid_utf8_is_an_error_with_a_line() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        std::fs::write(&path, b"a:1:d:u:pw\nb:1:d:u:\xff\xfe\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = lookup(&path, &key(&["h"], "1", "d", "u"), &mut Vec::new()).unwrap_err();
        assert!(
            matches!(err, ConnectError::PgPass { line: Some(2), .. }),
            "{err:?}"
        );
    }
}
