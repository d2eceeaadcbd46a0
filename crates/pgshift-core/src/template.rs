//! The files `pgshift new` writes: a forward migration and its rollback,
//! with the seed's header and conventions as comments.

use crate::connect::Environment;
use std::path::{Path, PathBuf};

/// A forward file and its rollback, ready to write.
#[derive(Debug)]
pub struct NewFiles {
    /// `NNN_slug.sql` and its text.
    pub forward: (String, String),
    /// `rollback_NNN.sql` and its text.
    pub rollback: (String, String),
}

/// Why the files could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The description has no letters or digits to name the file after.
    #[error("the description `{0}` has no letters or digits to name the file after")]
    EmptyDescription(String),
    /// A file of that name exists.
    #[error("`{}` already exists; nothing was written", .0.display())]
    Exists(PathBuf),
    /// Writing failed.
    #[error("cannot write `{}`: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The author for the header: git's `user.name`, else `$USER`.
pub fn author(env: &Environment) -> String {
    std::process::Command::new("git")
        .args(["config", "user.name"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| env.get("USER").map(|(v, _)| v))
        .unwrap_or_else(|| "unknown".into())
}

/// `Add user avatars!` → `add_user_avatars`.
fn slug(description: &str) -> String {
    let mut slug = String::new();
    for c in description.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('_') && !slug.is_empty() {
            slug.push('_');
        }
    }
    slug.trim_end_matches('_').to_string()
}

/// Renders both files for `version`.
pub fn render(
    version: &str,
    description: &str,
    author: &str,
    no_transaction: bool,
) -> Result<NewFiles, TemplateError> {
    let slug = slug(description);
    if slug.is_empty() {
        return Err(TemplateError::EmptyDescription(description.to_string()));
    }
    let description = description.trim().replace(['\n', '\r'], " ");
    let date = chrono::Local::now().format("%Y-%m-%d");
    let forward_body = if no_transaction {
        concat!(
            "-- pgshift:no-transaction\n",
            "--\n",
            "-- Runs outside a transaction, statement by statement (needed for\n",
            "-- CREATE INDEX CONCURRENTLY). If a statement fails, the ones before it\n",
            "-- stay applied: fix the cause, then `pgshift up --resume`.\n",
            "-- Keep every statement idempotent (IF NOT EXISTS), e.g.:\n",
            "--\n",
            "-- CREATE INDEX CONCURRENTLY IF NOT EXISTS users_last_login_idx ON users (last_login_at);\n"
        )
        .to_string()
    } else {
        format!(
            "--\n\
             -- pgshift runs this file in one transaction together with its\n\
             -- schema_migrations row; BEGIN/COMMIT keep it atomic under plain psql too.\n\
             -- Keep every statement idempotent: IF NOT EXISTS, CREATE OR REPLACE,\n\
             -- ON CONFLICT DO NOTHING.\n\
             \n\
             BEGIN;\n\
             \n\
             -- Your change, e.g.:\n\
             -- ALTER TABLE users ADD COLUMN IF NOT EXISTS avatar_url TEXT;\n\
             \n\
             -- Verify the expected state, e.g.:\n\
             -- DO $$\n\
             -- BEGIN\n\
             --     IF NOT EXISTS (SELECT 1 FROM information_schema.columns\n\
             --                    WHERE table_name = 'users' AND column_name = 'avatar_url') THEN\n\
             --         RAISE EXCEPTION 'Migration {version} verification failed';\n\
             --     END IF;\n\
             -- END $$;\n\
             \n\
             COMMIT;\n"
        )
    };
    let forward = format!(
        "-- Migration: {version}\n-- Description: {description}\n-- Author: {author}\n-- Date: {date}\n{forward_body}"
    );
    let (begin, commit, directive) = if no_transaction {
        ("", "", "-- pgshift:no-transaction\n")
    } else {
        ("BEGIN;\n\n", "\nCOMMIT;\n", "")
    };
    let rollback = format!(
        "-- Rollback: {version}\n-- Description: Roll back: {description}\n-- Author: {author}\n-- Date: {date}\n{directive}\
         --\n\
         -- WARNING: reverses migration {version}. Anything it created is dropped,\n\
         -- with the data in it. Undo every change, in reverse dependency order,\n\
         -- with IF EXISTS so a re-run is harmless.\n\
         \n\
         {begin}-- e.g. ALTER TABLE users DROP COLUMN IF EXISTS avatar_url;\n{commit}"
    );
    Ok(NewFiles {
        forward: (format!("{version}_{slug}.sql"), forward),
        rollback: (format!("rollback_{version}.sql"), rollback),
    })
}

impl NewFiles {
    /// Writes both files into `dir`; refuses to overwrite anything.
    pub fn write_into(&self, dir: &Path) -> Result<Vec<PathBuf>, TemplateError> {
        let paths = [dir.join(&self.forward.0), dir.join(&self.rollback.0)];
        if let Some(existing) = paths.iter().find(|p| p.exists()) {
            return Err(TemplateError::Exists(existing.clone()));
        }
        for (path, text) in paths.iter().zip([&self.forward.1, &self.rollback.1]) {
            std::fs::write(path, text).map_err(|source| TemplateError::Io {
                path: path.clone(),
                source,
            })?;
        }
        Ok(paths.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_file_name_safe() {
        assert_eq!(slug("Add user avatars!"), "add_user_avatars");
        assert_eq!(slug("  --x--y  "), "x_y");
        assert_eq!(slug("é"), "");
    }

    #[test]
    fn rendered_files_load_as_a_valid_migration() {
        let dir = tempfile::tempdir().unwrap();
        for no_tx in [false, true] {
            let files = render(
                if no_tx { "002" } else { "001" },
                "add user avatars",
                "Ada",
                no_tx,
            )
            .unwrap();
            files.write_into(dir.path()).unwrap();
        }
        let set = crate::migration::MigrationSet::load(dir.path()).unwrap();
        assert_eq!(set.migrations().len(), 2);
        assert_eq!(set.migrations()[0].description, "add user avatars");
        assert!(set.migrations()[0].script.self_wrapped);
        assert_eq!(
            set.migrations()[1].transaction,
            crate::script::TransactionMode::NoTransaction
        );
        assert!(set.migrations().iter().all(|m| m.rollback.is_some()));
        let again = render("001", "add user avatars", "Ada", false).unwrap();
        assert!(matches!(
            again.write_into(dir.path()),
            Err(TemplateError::Exists(_))
        ));
    }
}
