//! `--role`: migrations run after `SET ROLE`, with the rights of a role
//! made for them (the seed's "limit migration permissions to DBA role")
//! rather than those of whoever logs in.
//!
//! Whether the login may assume the role is checked as each session is
//! set up, before anything runs, so a typo or a missing grant is a clear
//! error rather than a failure half-way through a run.

use crate::error::db_message;
use postgres::Client;

/// Why the role cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RoleError {
    /// No role of that name.
    #[error("role `{role}` does not exist on this server")]
    Missing {
        /// The role asked for.
        role: String,
    },
    /// The login is not a member of it.
    #[error("`{user}` cannot assume role `{role}`: it is not a member of that role")]
    NotMember {
        /// The role asked for.
        role: String,
        /// The login (`session_user`).
        user: String,
    },
    /// The check itself failed.
    #[error("cannot check role `{role}`: {}", db_message(.source))]
    Db {
        /// The role asked for.
        role: String,
        /// The server's error.
        #[source]
        source: postgres::Error,
    },
}

/// Checks that this session's login may `SET ROLE role`.
///
/// # Errors
/// [`RoleError::Missing`] or [`RoleError::NotMember`], naming the login.
pub fn check(client: &mut Client, role: &str) -> Result<(), RoleError> {
    let db = |source| RoleError::Db {
        role: role.to_string(),
        source,
    };
    let row = client
        .query_one(
            "SELECT session_user::text, r.oid IS NOT NULL, \
             r.oid IS NOT NULL AND pg_has_role(session_user, r.oid, 'MEMBER') \
             FROM (SELECT 1) AS one LEFT JOIN pg_roles r ON r.rolname = $1",
            &[&role],
        )
        .map_err(db)?;
    let (user, exists, member): (String, bool, bool) = (row.get(0), row.get(1), row.get(2));
    if !exists {
        return Err(RoleError::Missing {
            role: role.to_string(),
        });
    }
    if !member {
        return Err(RoleError::NotMember {
            role: role.to_string(),
            user,
        });
    }
    Ok(())
}
