//! Running the PostgreSQL programs: as which user, with which environment, and
//! turning their exit status into [`ClusterError`]s.
//!
//! `initdb`, `pg_ctl` and `postgres` refuse to run as root. When we are root we
//! therefore run them as an unprivileged user (the data directory's owner if
//! that is not root, else the `postgres` system user) and hand that user the
//! directories it writes to. Owns nothing else: which commands to run is
//! `cluster.rs`'s business.

use std::ffi::{CString, OsStr};
use std::fs;
use std::os::unix::fs::{chown, MetadataExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use nix::unistd::{getegid, geteuid, getgrouplist, Gid, Uid, User};

use crate::ClusterError;

/// Environment variables that would change what the PostgreSQL programs do
/// behind our back (we always pass `-D` and write the port and socket settings
/// ourselves), so they are removed from every child's environment.
const SCRUBBED_ENV: &[&str] = &["PGDATA", "PGPORT", "PGHOST", "PGOPTIONS", "PGCTLTIMEOUT"];

/// The user the PostgreSQL programs run as.
#[derive(Debug, Clone)]
pub(crate) struct RunAs {
    name: String,
    uid: Uid,
    gid: Gid,
    /// True when that is not us, i.e. we are root and drop privileges.
    switch: bool,
}

impl RunAs {
    /// Decides who runs the server for `data_dir`.
    ///
    /// Not root: ourselves. Root: the owner of an existing, non-root-owned data
    /// directory (so a cluster made by a normal user keeps working when root
    /// runs pgshift), else the `postgres` system user.
    pub(crate) fn for_data_dir(data_dir: &Path) -> Result<Self, ClusterError> {
        let euid = geteuid();
        if !euid.is_root() {
            let name = lookup_uid(euid)?
                .map(|u| u.name)
                .unwrap_or_else(|| euid.to_string());
            return Ok(Self {
                name,
                uid: euid,
                gid: getegid(),
                switch: false,
            });
        }
        if let Ok(meta) = fs::metadata(data_dir) {
            if meta.uid() != 0 {
                let uid = Uid::from_raw(meta.uid());
                return Ok(match lookup_uid(uid)? {
                    Some(user) => Self::switch_to(user),
                    // An owner without a passwd entry: still a valid uid to run as.
                    None => Self {
                        name: uid.to_string(),
                        uid,
                        gid: Gid::from_raw(meta.gid()),
                        switch: true,
                    },
                });
            }
        }
        match User::from_name("postgres") {
            Ok(Some(user)) => Ok(Self::switch_to(user)),
            Ok(None) => Err(ClusterError::NoUnprivilegedUser),
            Err(source) => Err(ClusterError::UserLookup {
                name: "postgres".to_owned(),
                source,
            }),
        }
    }

    fn switch_to(user: User) -> Self {
        Self {
            name: user.name,
            uid: user.uid,
            gid: user.gid,
            switch: true,
        }
    }

    /// The user's name (or uid, if it has no name).
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The user's uid.
    pub(crate) fn uid(&self) -> u32 {
        self.uid.as_raw()
    }

    /// A command for `program`, set up to run as this user.
    ///
    /// The working directory is `/`: ours may not be readable by the
    /// unprivileged user, and every path we pass is absolute. Stdin is null so
    /// nothing ever waits for input.
    pub(crate) fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir("/").stdin(Stdio::null());
        for var in SCRUBBED_ENV {
            cmd.env_remove(var);
        }
        if self.switch {
            // std drops supplementary groups (setgroups(0)) before setuid when
            // it has the privilege to, so the child keeps none of root's groups.
            cmd.uid(self.uid.as_raw()).gid(self.gid.as_raw());
        }
        cmd
    }

    /// Gives `path` to this user, if we are running programs as someone else.
    pub(crate) fn give(&self, path: &Path) -> Result<(), ClusterError> {
        if !self.switch {
            return Ok(());
        }
        chown(path, Some(self.uid.as_raw()), Some(self.gid.as_raw()))
            .map_err(|e| ClusterError::io("change owner of", path, e))
    }

    /// Checks this user can search (traverse) every ancestor directory of `path`.
    ///
    /// Only matters when we switch users: root can always reach everything, and
    /// an unprivileged user would simply get a clear "permission denied" from the
    /// file operation itself. Without this check the server fails with a less
    /// obvious message in its log. Only classic mode bits are considered (not ACLs).
    pub(crate) fn check_can_reach(&self, path: &Path) -> Result<(), ClusterError> {
        if !self.switch {
            return Ok(());
        }
        let groups = self.groups();
        for ancestor in path.ancestors().skip(1) {
            if ancestor.as_os_str().is_empty() {
                continue;
            }
            let meta = match fs::metadata(ancestor) {
                Ok(meta) => meta,
                // Not created yet: we create it ourselves, with a suitable mode.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(ClusterError::io("inspect", ancestor, e)),
            };
            let bit = if meta.uid() == self.uid.as_raw() {
                0o100
            } else if groups.contains(&Gid::from_raw(meta.gid())) {
                0o010
            } else {
                0o001
            };
            if meta.mode() & bit == 0 {
                return Err(ClusterError::NotTraversable {
                    user: self.name.clone(),
                    path: path.to_path_buf(),
                    blocking: ancestor.to_path_buf(),
                });
            }
        }
        Ok(())
    }

    fn groups(&self) -> Vec<Gid> {
        CString::new(self.name.as_bytes())
            .ok()
            .and_then(|name| getgrouplist(&name, self.gid).ok())
            .unwrap_or_else(|| vec![self.gid])
    }
}

fn lookup_uid(uid: Uid) -> Result<Option<User>, ClusterError> {
    User::from_uid(uid).map_err(|source| ClusterError::UserLookup {
        name: uid.to_string(),
        source,
    })
}

/// Runs `cmd` to completion, capturing its output, without judging the exit status.
pub(crate) fn output(cmd: &mut Command) -> Result<Output, ClusterError> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.output().map_err(|source| ClusterError::Spawn {
        command: describe(cmd),
        source,
    })
}

/// Runs `cmd` to completion and fails unless it exited with status 0.
pub(crate) fn run(cmd: &mut Command) -> Result<Output, ClusterError> {
    let out = output(cmd)?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(failed(cmd, &out))
    }
}

/// The [`ClusterError::Command`] for a command that exited unsuccessfully.
pub(crate) fn failed(cmd: &Command, out: &Output) -> ClusterError {
    ClusterError::Command {
        command: describe(cmd),
        status: out.status,
        stderr: diagnostics(out),
    }
}

/// What a failed command said: stderr, or stdout if stderr was empty, trimmed
/// to its last lines so an error message stays readable.
pub(crate) fn diagnostics(out: &Output) -> String {
    let text = if out.stderr.iter().all(u8::is_ascii_whitespace) {
        &out.stdout
    } else {
        &out.stderr
    };
    last_lines(&String::from_utf8_lossy(text), 20)
}

/// The last `n` lines of `text`, trimmed.
pub(crate) fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .join("\n")
        .trim()
        .to_owned()
}

/// A command line for messages: the program and arguments, each quoted when it
/// contains anything a shell would treat specially.
pub(crate) fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ")
}

fn quote(arg: &OsStr) -> String {
    let s = arg.to_string_lossy();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_quotes_only_what_needs_it() {
        let mut cmd = Command::new("/usr/bin/pg_ctl");
        cmd.args(["start", "-D", "/tmp/a b", "-o", "it's"]);
        assert_eq!(
            describe(&cmd),
            r"/usr/bin/pg_ctl start -D '/tmp/a b' -o 'it'\''s'"
        );
    }

    #[test]
    fn last_lines_keeps_the_tail() {
        assert_eq!(last_lines("a\nb\nc\n\n", 2), "b\nc");
        assert_eq!(last_lines("a\n", 5), "a");
        assert_eq!(last_lines("", 5), "");
    }

    #[test]
    fn failing_command_reports_command_status_and_stderr() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo oops >&2; exit 3"]);
        let err = run(&mut cmd).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("`sh -c 'echo oops >&2; exit 3'` failed (exit status: 3): oops"),
            "{msg}"
        );
    }

    #[test]
    fn missing_program_is_a_spawn_error() {
        let mut cmd = Command::new("/nonexistent/pgshift-no-such-program");
        let err = run(&mut cmd).unwrap_err();
        assert!(matches!(err, ClusterError::Spawn { .. }), "{err:?}");
    }
}
