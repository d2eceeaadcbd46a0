-- Migration: 001
-- Description: Initial schema creation
-- Author: Database Specialist
-- Date: 2025-10-12
--
-- Creates the User Management API schema:
--   users, roles, permissions, role_permissions, user_roles,
--   user_sessions, password_reset_tokens, email_verification_tokens,
--   audit_log (partitioned by month), the schema_migrations tracking
--   table, the default roles and permissions, and three cluster roles:
--     user_mgmt_owner     owns every object of this set (NOLOGIN)
--     user_mgmt_app       what the API needs, nothing more (NOLOGIN)
--     user_mgmt_readonly  SELECT for reporting, no password hashes (NOLOGIN)
--   Log in as a role that is a member of one of them; see README.md.
--
-- Requirements: PostgreSQL 13 or later (gen_random_uuid() is built in
-- since 13, BEFORE row triggers on partitioned tables since 13); tested
-- on 15. No extensions are needed. Objects live in schema public.
-- Run it as a superuser, or as a role with CREATEROLE (unless the three
-- roles exist already) that is a member of user_mgmt_owner.
--
-- Properties:
--   * Transactional: everything runs between BEGIN and the final COMMIT,
--     so a failure leaves the database exactly as it was.
--   * Idempotent: every statement can run again (IF NOT EXISTS,
--     CREATE OR REPLACE, ON CONFLICT, indexes and triggers created only
--     when missing).
--   * Lock-free when re-run: re-running takes no lock that waits for, or
--     blocks, the application's reads and writes. CREATE INDEX IF NOT
--     EXISTS and CREATE TRIGGER both lock the table (SHARE / SHARE ROW
--     EXCLUSIVE) even when they end up doing nothing, so each index and
--     trigger is created in a DO block only when the catalog lacks it.
--   * First application only: ownership, GRANTs, the default roles,
--     permissions and role grants, and the first audit_log partitions are
--     set up only while schema_migrations has no '001' row. A re-run
--     never restores a grant or permission an operator revoked.
--   * Self-recording: it inserts its own schema_migrations row, so
--     `psql -f` alone leaves the same history as a migration tool.
--
-- Rollback: rollback_001.sql (destroys every user account; keeps
-- schema_migrations and the cluster roles).

\set ON_ERROR_STOP on

BEGIN;

-- Do not queue behind a long-running transaction while holding locks
-- that would block the application; fail fast and retry instead.
SET LOCAL lock_timeout = '5s';

-- ---------------------------------------------------------------------------
-- Cluster roles. Roles are cluster-wide: other databases on the same server
-- may create them at the same moment. A concurrent CREATE ROLE waits for
-- the other transaction and then fails with unique_violation (or
-- duplicate_object once it is visible); either way the role exists and is
-- what we want. They are NOLOGIN group roles: no password lives here.
-- ---------------------------------------------------------------------------
DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['user_mgmt_owner', 'user_mgmt_app', 'user_mgmt_readonly'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = role_name) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created by a concurrent migration in another database
            END;
        END IF;
    END LOOP;
END;
$$;

-- ---------------------------------------------------------------------------
-- Migration tracking table (shared with pgshift; never dropped by rollbacks).
-- The DDL must stay exactly as documented in README.md.
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS schema_migrations (
    version VARCHAR(20) PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    applied_by VARCHAR(100) DEFAULT CURRENT_USER,
    execution_time_ms INTEGER,
    checksum VARCHAR(64)
);

-- ---------------------------------------------------------------------------
-- Shared trigger function: keep updated_at current on every real change.
-- The triggers below only fire when the row actually changed
-- (WHEN (OLD.* IS DISTINCT FROM NEW.*)), so a no-op UPDATE, or an upsert
-- that writes identical values, leaves updated_at alone.
-- now() is the transaction start time, consistent with created_at defaults.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION set_updated_at() IS
    'BEFORE UPDATE trigger function: sets NEW.updated_at to now().';

-- ---------------------------------------------------------------------------
-- users
-- Accounts are soft-deleted (deleted_at); hard deletes are reserved for
-- data-erasure requests and are deliberately hard (see audit_log FKs).
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS users (
    id                  uuid        NOT NULL DEFAULT gen_random_uuid(),
    email               text        NOT NULL,
    username            text        NOT NULL,
    password_hash       text        NOT NULL,
    display_name        text,
    status              text        NOT NULL DEFAULT 'pending_verification',
    email_verified_at   timestamptz,
    last_login_at       timestamptz,
    failed_login_count  integer     NOT NULL DEFAULT 0,
    locked_until        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    deleted_at          timestamptz,

    CONSTRAINT users_pkey PRIMARY KEY (id),
    -- 254 is the longest address that fits in an SMTP path (RFC 5321).
    -- The pattern is a sanity check, not full RFC 5322 validation; the API
    -- proves ownership with an email_verification_tokens round trip.
    CONSTRAINT users_email_format_chk CHECK (
        char_length(email) <= 254
        AND email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$'
    ),
    CONSTRAINT users_username_format_chk CHECK (
        username ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$'
    ),
    -- Only password *hashes* are stored, and only strong ones. Accepted:
    --   * bcrypt $2a$/$2b$/$2y$ with cost 10-31 (53 chars of salt+hash).
    --     $2x$ marks hashes from the buggy pre-2011 crypt_blowfish and is
    --     refused, as are costs below 10 (OWASP's floor).
    --   * argon2id v=19 in PHC string format with OWASP's minimum
    --     parameters: m >= 19456 KiB (19 MiB) with t >= 2, or m >= 47104
    --     KiB (46 MiB) with t >= 1; p >= 1. argon2i/argon2d are refused.
    -- Anything else (a plain password written by a buggy client, a weak
    -- hash) is rejected by the database. substring() is only reached when
    -- the regex matched, so it never yields NULL (which a CHECK passes).
    CONSTRAINT users_password_hash_format_chk CHECK (
        password_hash ~ '^\$2[aby]\$(1[0-9]|2[0-9]|3[01])\$[./A-Za-z0-9]{53}$'
        OR (
            password_hash ~ '^\$argon2id\$v=19\$m=[0-9]{1,8},t=[1-9][0-9]{0,3},p=[1-9][0-9]{0,2}\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}$'
            AND (
                (substring(password_hash FROM ',t=([0-9]+),')::int >= 2
                 AND substring(password_hash FROM '\$m=([0-9]+),')::int >= 19456)
                OR substring(password_hash FROM '\$m=([0-9]+),')::int >= 47104
            )
        )
    ),
    CONSTRAINT users_display_name_length_chk CHECK (
        char_length(btrim(display_name)) BETWEEN 1 AND 100
    ),
    CONSTRAINT users_status_chk CHECK (
        status IN ('pending_verification', 'active', 'suspended', 'deactivated')
    ),
    CONSTRAINT users_failed_login_count_chk CHECK (failed_login_count >= 0),
    -- A soft-deleted account can never be usable.
    CONSTRAINT users_deleted_status_chk CHECK (
        deleted_at IS NULL OR status = 'deactivated'
    ),
    CONSTRAINT users_deleted_after_created_chk CHECK (
        deleted_at IS NULL OR deleted_at >= created_at
    )
)
-- Every login updates last_login_at (and failed_login_count/locked_until).
-- Those columns are in no index, so the update can be HOT (heap-only: no
-- index entries written) when the page has room for the new row version;
-- fillfactor 90 keeps that room. Never index a login column (see
-- checks/05_login_updates_stay_hot.sql).
WITH (fillfactor = 90);

COMMENT ON TABLE users IS
    'User accounts. Soft-deleted via deleted_at; email and username are unique (case-insensitively) among non-deleted users only.';
COMMENT ON COLUMN users.password_hash IS
    'bcrypt (cost >= 10) or argon2id (OWASP minimum parameters) hash; never a plain password (enforced by users_password_hash_format_chk).';
COMMENT ON COLUMN users.locked_until IS
    'Set after too many failed logins; login is refused while now() < locked_until.';
COMMENT ON COLUMN users.deleted_at IS
    'Soft delete marker; a deleted account must be deactivated.';

-- Case-insensitive uniqueness among live accounts. A partial unique index on
-- lower(email) is used instead of the citext extension (no extension
-- dependency), and the WHERE clause lets a soft-deleted user's address be
-- registered again. Lookups must use the same expression:
--   WHERE lower(email) = lower($1) AND deleted_at IS NULL
-- Created only when missing: CREATE INDEX IF NOT EXISTS takes a SHARE lock
-- on users before it looks, and would queue behind any open write.
DO $$
BEGIN
    IF to_regclass('users_email_lower_key') IS NULL THEN
        CREATE UNIQUE INDEX users_email_lower_key
            ON users (lower(email))
            WHERE deleted_at IS NULL;
    END IF;
    IF to_regclass('users_username_lower_key') IS NULL THEN
        CREATE UNIQUE INDEX users_username_lower_key
            ON users (lower(username))
            WHERE deleted_at IS NULL;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgrelid = 'users'::regclass AND tgname = 'users_set_updated_at') THEN
        CREATE TRIGGER users_set_updated_at
            BEFORE UPDATE ON users
            FOR EACH ROW
            WHEN (OLD.* IS DISTINCT FROM NEW.*)
            EXECUTE FUNCTION set_updated_at();
    END IF;
END;
$$;

-- ---------------------------------------------------------------------------
-- roles and permissions (RBAC)
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS roles (
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    name        text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT roles_pkey PRIMARY KEY (id),
    CONSTRAINT roles_name_key UNIQUE (name),
    CONSTRAINT roles_name_format_chk CHECK (name ~ '^[a-z][a-z0-9_]{1,49}$'),
    CONSTRAINT roles_description_length_chk CHECK (char_length(description) <= 500)
);

COMMENT ON TABLE roles IS 'Named sets of permissions granted to users through user_roles.';

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgrelid = 'roles'::regclass AND tgname = 'roles_set_updated_at') THEN
        CREATE TRIGGER roles_set_updated_at
            BEFORE UPDATE ON roles
            FOR EACH ROW
            WHEN (OLD.* IS DISTINCT FROM NEW.*)
            EXECUTE FUNCTION set_updated_at();
    END IF;
END;
$$;

CREATE TABLE IF NOT EXISTS permissions (
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    name        text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT permissions_pkey PRIMARY KEY (id),
    CONSTRAINT permissions_name_key UNIQUE (name),
    -- "resource:action", e.g. users:read
    CONSTRAINT permissions_name_format_chk CHECK (
        name ~ '^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$' AND char_length(name) <= 100
    ),
    CONSTRAINT permissions_description_length_chk CHECK (char_length(description) <= 500)
);

COMMENT ON TABLE permissions IS 'Atomic capabilities named resource:action; checked by the API.';

CREATE TABLE IF NOT EXISTS role_permissions (
    -- CASCADE: a grant row means nothing without its role or permission;
    -- deleting either one must remove the grants, not be blocked by them.
    role_id       uuid        NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission_id uuid        NOT NULL REFERENCES permissions (id) ON DELETE CASCADE,
    granted_at    timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT role_permissions_pkey PRIMARY KEY (role_id, permission_id)
);

COMMENT ON TABLE role_permissions IS 'Which permissions each role carries.';

CREATE TABLE IF NOT EXISTS user_roles (
    -- CASCADE: when an account is hard-deleted (erasure), its role
    -- assignments go with it; they have no meaning on their own.
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- RESTRICT: deleting a role that is still assigned would silently strip
    -- access from every holder. Make that an explicit step: unassign (or
    -- reassign) first, then delete the role.
    role_id    uuid        NOT NULL REFERENCES roles (id) ON DELETE RESTRICT,
    granted_at timestamptz NOT NULL DEFAULT now(),
    -- SET NULL: the grant stays valid when the granting administrator's
    -- account is purged; who granted it remains in audit_log.
    granted_by uuid        REFERENCES users (id) ON DELETE SET NULL,

    CONSTRAINT user_roles_pkey PRIMARY KEY (user_id, role_id)
);

COMMENT ON TABLE user_roles IS 'Role assignments; granted_by is NULL for system grants or purged granters.';

DO $$
BEGIN
    -- The primary key serves lookups by role_id; this one serves
    -- "which roles carry permission X" and the ON DELETE CASCADE from permissions.
    IF to_regclass('role_permissions_permission_id_idx') IS NULL THEN
        CREATE INDEX role_permissions_permission_id_idx ON role_permissions (permission_id);
    END IF;
    -- "Who holds role X" and the RESTRICT check when a role is deleted.
    IF to_regclass('user_roles_role_id_idx') IS NULL THEN
        CREATE INDEX user_roles_role_id_idx ON user_roles (role_id);
    END IF;
    -- Without this, hard-deleting any user seq-scans user_roles for the SET NULL.
    IF to_regclass('user_roles_granted_by_idx') IS NULL THEN
        CREATE INDEX user_roles_granted_by_idx ON user_roles (granted_by);
    END IF;
END;
$$;

-- ---------------------------------------------------------------------------
-- Sessions and one-time tokens.
-- Only SHA-256 digests (lowercase hex) of the random tokens are stored: a
-- leaked table (or backup) must not yield usable tokens. Tokens are
-- high-entropy random values, so a fast hash is appropriate here (unlike
-- passwords). All of these CASCADE from users: they are credentials of the
-- account and must disappear with it.
--
-- Lifetimes are capped by CHECK constraints, relative to created_at. The
-- caps are written in hours: timestamptz + '90 days' depends on the
-- session's TimeZone (a day across a DST change is 23 or 25 hours), while
-- timestamptz + hours does not, so the constraint means the same for
-- every session.
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS user_sessions (
    id                 uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id            uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_token_hash text        NOT NULL,
    -- Rotation: each refresh hands out a new token; the one it replaces is
    -- kept here. A request presenting the previous token is a replay (the
    -- token was copied): the API revokes the session, which ends both the
    -- thief's and the user's copy.
    previous_refresh_token_hash text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    last_used_at       timestamptz,
    expires_at         timestamptz NOT NULL,
    revoked_at         timestamptz,
    ip_address         inet,
    user_agent         text,

    CONSTRAINT user_sessions_pkey PRIMARY KEY (id),
    -- Also the lookup index for refresh: WHERE refresh_token_hash = $1.
    CONSTRAINT user_sessions_refresh_token_hash_key UNIQUE (refresh_token_hash),
    CONSTRAINT user_sessions_refresh_token_hash_format_chk CHECK (
        refresh_token_hash ~ '^[0-9a-f]{64}$'
    ),
    CONSTRAINT user_sessions_previous_refresh_token_hash_chk CHECK (
        previous_refresh_token_hash ~ '^[0-9a-f]{64}$'
        AND previous_refresh_token_hash <> refresh_token_hash
    ),
    -- At most 90 days (2160 hours) from sign-in; refreshing does not
    -- extend a session past that.
    CONSTRAINT user_sessions_expiry_chk CHECK (
        expires_at > created_at AND expires_at <= created_at + interval '2160 hours'
    ),
    CONSTRAINT user_sessions_revoked_chk CHECK (revoked_at IS NULL OR revoked_at >= created_at),
    CONSTRAINT user_sessions_user_agent_length_chk CHECK (char_length(user_agent) <= 512)
);

COMMENT ON TABLE user_sessions IS
    'Refresh-token sessions. A session is usable while revoked_at IS NULL AND expires_at > now().';
COMMENT ON COLUMN user_sessions.refresh_token_hash IS
    'Lowercase hex SHA-256 of the refresh token; the token itself is never stored.';
COMMENT ON COLUMN user_sessions.previous_refresh_token_hash IS
    'SHA-256 of the refresh token this one replaced; presenting it again is a replay and revokes the session.';

-- Single use: the API consumes a token atomically with
--   UPDATE password_reset_tokens SET used_at = now()
--    WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
--   RETURNING user_id;
-- so two concurrent requests cannot both succeed.
CREATE TABLE IF NOT EXISTS password_reset_tokens (
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    requested_ip inet,

    CONSTRAINT password_reset_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT password_reset_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT password_reset_tokens_token_hash_format_chk CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    -- At most 2 hours: a reset link is a password-equivalent in a mailbox.
    CONSTRAINT password_reset_tokens_expiry_chk CHECK (
        expires_at > created_at AND expires_at <= created_at + interval '2 hours'
    ),
    CONSTRAINT password_reset_tokens_used_chk CHECK (used_at IS NULL OR used_at >= created_at)
);

COMMENT ON TABLE password_reset_tokens IS
    'Hashed single-use password reset tokens (at most 2 hours, one unused per user); used_at marks consumption.';

-- Same single-use pattern as password_reset_tokens. email records the
-- address being verified, so an email change is only applied to the
-- address the token was sent to.
CREATE TABLE IF NOT EXISTS email_verification_tokens (
    id         uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      text        NOT NULL,
    token_hash text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,

    CONSTRAINT email_verification_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT email_verification_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT email_verification_tokens_token_hash_format_chk CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT email_verification_tokens_email_length_chk CHECK (char_length(email) <= 254),
    -- At most 7 days (168 hours).
    CONSTRAINT email_verification_tokens_expiry_chk CHECK (
        expires_at > created_at AND expires_at <= created_at + interval '168 hours'
    ),
    CONSTRAINT email_verification_tokens_used_chk CHECK (used_at IS NULL OR used_at >= created_at)
);

COMMENT ON TABLE email_verification_tokens IS
    'Hashed single-use email verification tokens (at most 7 days); used_at marks consumption.';

DO $$
BEGIN
    -- "Sessions of user X", "revoke all sessions of user X", and the CASCADE.
    IF to_regclass('user_sessions_user_id_idx') IS NULL THEN
        CREATE INDEX user_sessions_user_id_idx ON user_sessions (user_id);
    END IF;
    -- Cleanup job: DELETE ... WHERE expires_at < now() - interval '...'.
    IF to_regclass('user_sessions_expires_at_idx') IS NULL THEN
        CREATE INDEX user_sessions_expires_at_idx ON user_sessions (expires_at);
    END IF;
    -- Replay detection: WHERE previous_refresh_token_hash = $1.
    IF to_regclass('user_sessions_previous_refresh_token_hash_key') IS NULL THEN
        CREATE UNIQUE INDEX user_sessions_previous_refresh_token_hash_key
            ON user_sessions (previous_refresh_token_hash)
            WHERE previous_refresh_token_hash IS NOT NULL;
    END IF;
    IF to_regclass('password_reset_tokens_user_id_idx') IS NULL THEN
        CREATE INDEX password_reset_tokens_user_id_idx ON password_reset_tokens (user_id);
    END IF;
    -- One unused reset token per user: issuing a new one means consuming
    -- or deleting the old one first, so an old link in a mailbox dies.
    IF to_regclass('password_reset_tokens_one_unused_per_user_key') IS NULL THEN
        CREATE UNIQUE INDEX password_reset_tokens_one_unused_per_user_key
            ON password_reset_tokens (user_id)
            WHERE used_at IS NULL;
    END IF;
    IF to_regclass('password_reset_tokens_expires_at_idx') IS NULL THEN
        CREATE INDEX password_reset_tokens_expires_at_idx ON password_reset_tokens (expires_at);
    END IF;
    IF to_regclass('email_verification_tokens_user_id_idx') IS NULL THEN
        CREATE INDEX email_verification_tokens_user_id_idx ON email_verification_tokens (user_id);
    END IF;
    IF to_regclass('email_verification_tokens_expires_at_idx') IS NULL THEN
        CREATE INDEX email_verification_tokens_expires_at_idx ON email_verification_tokens (expires_at);
    END IF;
END;
$$;

-- ---------------------------------------------------------------------------
-- audit_log: user-facing security events (logins, password changes, role
-- grants, suspensions...). Append-only, partitioned by month of
-- occurred_at (UTC), so retention drops whole partitions instead of
-- deleting rows.
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS audit_log (
    -- bigint identity rather than uuid: compact, and insertion order is
    -- a tie-breaker for events with the same occurred_at.
    id             bigint      GENERATED ALWAYS AS IDENTITY,
    occurred_at    timestamptz NOT NULL DEFAULT now(),
    -- RESTRICT (both user references): the audit trail must always be able
    -- to say who did what to whom, so hard-deleting a user who appears here
    -- fails loudly. Accounts are soft-deleted; an erasure request anonymises
    -- the users row in place and redacts its events (audit_log_redact_user).
    -- Compare user_roles.granted_by, which is SET NULL because there the
    -- audit trail, not the grant, is the record of who acted.
    -- NULL actor = the system or an unauthenticated request (e.g. a failed
    -- login for an unknown address).
    actor_user_id  uuid        REFERENCES users (id) ON DELETE RESTRICT,
    action         text        NOT NULL,
    -- The user the event is about, if any.
    target_user_id uuid        REFERENCES users (id) ON DELETE RESTRICT,
    -- Another affected object, if any (e.g. 'role' / 'admin', 'session' / <uuid>).
    target_type    text,
    target_id      text,
    ip_address     inet,
    user_agent     text,
    details        jsonb       NOT NULL DEFAULT '{}'::jsonb,

    -- Dotted lowercase names: user.login_succeeded, role.granted, ...
    CONSTRAINT audit_log_action_format_chk CHECK (
        action ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$' AND char_length(action) <= 100
    ),
    CONSTRAINT audit_log_target_pair_chk CHECK ((target_type IS NULL) = (target_id IS NULL)),
    CONSTRAINT audit_log_target_type_format_chk CHECK (target_type ~ '^[a-z][a-z0-9_]{0,49}$'),
    CONSTRAINT audit_log_target_id_length_chk CHECK (char_length(target_id) <= 200),
    CONSTRAINT audit_log_user_agent_length_chk CHECK (char_length(user_agent) <= 512),
    CONSTRAINT audit_log_details_object_chk CHECK (jsonb_typeof(details) = 'object')
) PARTITION BY RANGE (occurred_at);

COMMENT ON TABLE audit_log IS
    'Append-only log of user-facing security events, partitioned by month (audit_log_pYYYYMM, UTC, plus audit_log_default). UPDATE is rejected by trigger except redaction; rows leave only when audit_log_drop_partitions drops their month.';
COMMENT ON COLUMN audit_log.details IS
    'Event-specific JSON object. Never put passwords, tokens or hashes here; personal data in it is erased by audit_log_redact_user.';

DO $$
BEGIN
    -- The key. A unique key of a partitioned table must contain the
    -- partition key, hence (id, occurred_at). A unique index rather than a
    -- PRIMARY KEY constraint: with a constraint, every partition carries an
    -- inherited copy, and `pg_restore --clean` (pgshift restore, PostgreSQL
    -- 15) fails on it ("cannot drop inherited constraint"). Over NOT NULL
    -- columns the index guarantees the same.
    IF to_regclass('audit_log_id_occurred_at_key') IS NULL THEN
        CREATE UNIQUE INDEX audit_log_id_occurred_at_key ON audit_log (id, occurred_at);
    END IF;
    -- "Events of user X, newest first":
    --   WHERE target_user_id = $1 ORDER BY occurred_at DESC, id DESC LIMIT n
    -- The partial predicates keep system-wide events out of the indexes; an
    -- equality lookup still matches them, including for the RESTRICT checks.
    IF to_regclass('audit_log_target_user_occurred_at_idx') IS NULL THEN
        CREATE INDEX audit_log_target_user_occurred_at_idx
            ON audit_log (target_user_id, occurred_at DESC, id DESC)
            WHERE target_user_id IS NOT NULL;
    END IF;
    -- "What did user X do, newest first".
    IF to_regclass('audit_log_actor_user_occurred_at_idx') IS NULL THEN
        CREATE INDEX audit_log_actor_user_occurred_at_idx
            ON audit_log (actor_user_id, occurred_at DESC, id DESC)
            WHERE actor_user_id IS NOT NULL;
    END IF;
    -- Security monitoring across all users, newest first, and dormant
    -- accounts (last user.login_succeeded per user):
    --   WHERE action = 'user.login_failed' AND occurred_at > now() - interval '1 hour'
    -- Built here, on the new and empty table: PostgreSQL cannot build an
    -- index CONCURRENTLY on a partitioned table.
    IF to_regclass('audit_log_action_occurred_at_idx') IS NULL THEN
        CREATE INDEX audit_log_action_occurred_at_idx
            ON audit_log (action, occurred_at DESC);
    END IF;
    -- Time-range scans inside a month. Rows are only ever appended (no
    -- DELETE: retention drops partitions), so occurred_at follows physical
    -- order and a tiny BRIN index suffices.
    IF to_regclass('audit_log_occurred_at_brin_idx') IS NULL THEN
        CREATE INDEX audit_log_occurred_at_brin_idx
            ON audit_log USING brin (occurred_at);
    END IF;
END;
$$;

-- Audit rows are evidence: reject edits. The one change allowed is
-- redaction for an erasure request, which only clears personal data
-- (ip_address, user_agent, details) and leaves who, what and when intact;
-- audit_log_redact_user() makes exactly that change.
CREATE OR REPLACE FUNCTION audit_log_reject_update() RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
BEGIN
    IF (NEW.id, NEW.occurred_at, NEW.actor_user_id, NEW.action,
        NEW.target_user_id, NEW.target_type, NEW.target_id)
       IS NOT DISTINCT FROM
       (OLD.id, OLD.occurred_at, OLD.actor_user_id, OLD.action,
        OLD.target_user_id, OLD.target_type, OLD.target_id)
       AND NEW.ip_address IS NULL
       AND NEW.user_agent IS NULL
       AND NEW.details = '{"redacted": true}'::jsonb THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_log rows cannot be updated (id %)', OLD.id
        USING ERRCODE = 'restrict_violation',
              HINT = 'The audit log is append-only; insert a new event instead. Erasure requests: SELECT audit_log_redact_user(user_id).';
END;
$$;

COMMENT ON FUNCTION audit_log_reject_update() IS
    'BEFORE UPDATE trigger function that makes audit_log append-only, except for redaction.';

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgrelid = 'audit_log'::regclass AND tgname = 'audit_log_reject_update') THEN
        CREATE TRIGGER audit_log_reject_update
            BEFORE UPDATE ON audit_log
            FOR EACH ROW
            EXECUTE FUNCTION audit_log_reject_update();
    END IF;
END;
$$;

-- Partitions: audit_log_default catches rows outside every month
-- partition (nothing is ever refused), and one partition per month,
-- audit_log_pYYYYMM, bounded in UTC. Run
--   SELECT audit_log_create_partitions();
-- monthly (the health check checks/04_audit_log_partitions.sql fails when
-- next month has no partition). Creating a partition takes an ACCESS
-- EXCLUSIVE lock on audit_log and a SHARE ROW EXCLUSIVE lock on users (the
-- foreign keys), each for milliseconds; lock_timeout makes it give up
-- rather than queue, so retry at a quieter moment. SECURITY DEFINER: it
-- runs as user_mgmt_owner, so the application role can call it without
-- owning anything.
CREATE OR REPLACE FUNCTION audit_log_create_partitions(months_ahead integer DEFAULT 3)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
SET lock_timeout = '2s'
AS $$
DECLARE
    -- Month arithmetic on timestamp (UTC wall clock), not timestamptz:
    -- timestamptz + '1 month' would follow the session's TimeZone.
    this_month timestamp := date_trunc('month', now() AT TIME ZONE 'UTC');
    month_start timestamp;
    partition_name text;
    created integer := 0;
BEGIN
    IF months_ahead IS NULL OR months_ahead NOT BETWEEN 0 AND 24 THEN
        RAISE EXCEPTION 'months_ahead must be between 0 and 24, not %', months_ahead;
    END IF;
    IF to_regclass('public.audit_log_default') IS NULL THEN
        CREATE TABLE public.audit_log_default PARTITION OF public.audit_log DEFAULT;
        created := created + 1;
    END IF;
    FOR i IN 0..months_ahead LOOP
        month_start := this_month + make_interval(months => i);
        partition_name := 'audit_log_p' || to_char(month_start, 'YYYYMM');
        IF to_regclass('public.' || partition_name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE public.%I PARTITION OF public.audit_log FOR VALUES FROM (%L) TO (%L)',
                partition_name,
                to_char(month_start, 'YYYY-MM-DD "00:00:00+00"'),
                to_char(month_start + interval '1 month', 'YYYY-MM-DD "00:00:00+00"'));
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END;
$$;

COMMENT ON FUNCTION audit_log_create_partitions(integer) IS
    'Creates audit_log_default and the monthly partitions from this month (UTC) to months_ahead months ahead, if missing; returns how many it created.';

-- Retention: drops the month partitions that ended at least `keep` ago and
-- returns their names. Never touches audit_log_default, and refuses to
-- keep less than 90 days, so the application role (which may call it)
-- cannot use it to wipe recent evidence. DROP of a partition takes an
-- ACCESS EXCLUSIVE lock on audit_log for milliseconds; lock_timeout makes
-- it give up rather than queue.
CREATE OR REPLACE FUNCTION audit_log_drop_partitions(keep interval DEFAULT interval '13 months')
RETURNS SETOF text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
SET lock_timeout = '2s'
AS $$
DECLARE
    part record;
BEGIN
    IF keep IS NULL OR keep < interval '90 days' THEN
        RAISE EXCEPTION 'audit_log retention must keep at least 90 days, not %', keep
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR part IN
        SELECT c.relname::text AS name,
               (to_date(substring(c.relname FROM '^audit_log_p([0-9]{6})$'), 'YYYYMM')::timestamp
                + interval '1 month') AT TIME ZONE 'UTC' AS ends_at
        FROM pg_catalog.pg_inherits i
        JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'public.audit_log'::regclass
          AND c.relname ~ '^audit_log_p[0-9]{6}$'
        ORDER BY c.relname
    LOOP
        IF part.ends_at <= now() - keep THEN
            EXECUTE format('DROP TABLE public.%I', part.name);
            RETURN NEXT part.name;
        END IF;
    END LOOP;
END;
$$;

COMMENT ON FUNCTION audit_log_drop_partitions(interval) IS
    'Retention: drops monthly audit_log partitions that ended at least keep (>= 90 days) ago; returns their names.';

-- Erasure requests: clears the personal data of every event by or about
-- the user (ip_address, user_agent, details) and records that it did. The
-- events themselves (who, what, when) stay: they are the security record.
-- Anonymise the users row in the same transaction.
CREATE OR REPLACE FUNCTION audit_log_redact_user(user_id uuid)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    redacted bigint;
BEGIN
    IF user_id IS NULL THEN
        RAISE EXCEPTION 'audit_log_redact_user needs a user id'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    UPDATE public.audit_log a
       SET ip_address = NULL, user_agent = NULL, details = '{"redacted": true}'::jsonb
     WHERE (a.actor_user_id = audit_log_redact_user.user_id
            OR a.target_user_id = audit_log_redact_user.user_id)
       AND (a.ip_address IS NOT NULL OR a.user_agent IS NOT NULL
            OR a.details <> '{"redacted": true}'::jsonb);
    GET DIAGNOSTICS redacted = ROW_COUNT;
    INSERT INTO public.audit_log (action, target_user_id, details)
    VALUES ('audit.redacted', audit_log_redact_user.user_id, jsonb_build_object('events', redacted));
    RETURN redacted;
END;
$$;

COMMENT ON FUNCTION audit_log_redact_user(uuid) IS
    'Erasure: clears ip_address, user_agent and details of every audit event by or about the user; logs audit.redacted; returns how many events it redacted.';

-- ---------------------------------------------------------------------------
-- First application only (no '001' row yet): ownership, privileges,
-- default data, partitions. A re-run leaves all of these as an operator
-- may have changed them: it never restores a revoked grant or permission.
-- Everything here touches objects this transaction just created, so its
-- locks wait for nobody.
-- ---------------------------------------------------------------------------
DO $$
DECLARE
    object_name text;
BEGIN
    IF EXISTS (SELECT 1 FROM schema_migrations WHERE version = '001') THEN
        RETURN;
    END IF;

    -- Ownership: user_mgmt_owner owns every object, so the application
    -- role owns none (an owner can ALTER, TRUNCATE and DISABLE TRIGGER).
    -- It may create tables in public (monthly audit_log partitions,
    -- created by its SECURITY DEFINER function).
    GRANT CREATE ON SCHEMA public TO user_mgmt_owner;
    FOREACH object_name IN ARRAY ARRAY[
        'users', 'roles', 'permissions', 'role_permissions', 'user_roles',
        'user_sessions', 'password_reset_tokens', 'email_verification_tokens',
        'audit_log'
    ] LOOP
        EXECUTE format('ALTER TABLE %I OWNER TO user_mgmt_owner', object_name);
    END LOOP;
    FOREACH object_name IN ARRAY ARRAY[
        'set_updated_at()', 'audit_log_reject_update()',
        'audit_log_create_partitions(integer)', 'audit_log_drop_partitions(interval)',
        'audit_log_redact_user(uuid)'
    ] LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO user_mgmt_owner', object_name);
    END LOOP;

    -- The application: what the API does, nothing more. No DELETE on
    -- users (accounts are soft-deleted; erasure anonymises) and only
    -- SELECT and INSERT on audit_log.
    GRANT SELECT, INSERT, UPDATE ON users TO user_mgmt_app;
    GRANT SELECT, INSERT, UPDATE, DELETE ON roles, role_permissions TO user_mgmt_app;
    GRANT SELECT ON permissions TO user_mgmt_app;
    GRANT SELECT, INSERT, DELETE ON user_roles TO user_mgmt_app;
    GRANT SELECT, INSERT, UPDATE, DELETE
        ON user_sessions, password_reset_tokens, email_verification_tokens TO user_mgmt_app;
    GRANT SELECT, INSERT ON audit_log TO user_mgmt_app;
    -- SECURITY DEFINER functions: nobody but the application may call them.
    REVOKE EXECUTE ON FUNCTION audit_log_create_partitions(integer),
        audit_log_drop_partitions(interval), audit_log_redact_user(uuid) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION audit_log_create_partitions(integer),
        audit_log_drop_partitions(interval), audit_log_redact_user(uuid) TO user_mgmt_app;

    -- Reporting: read everything except password hashes.
    GRANT SELECT (id, email, username, display_name, status, email_verified_at,
                  last_login_at, failed_login_count, locked_until,
                  created_at, updated_at, deleted_at)
        ON users TO user_mgmt_readonly;
    GRANT SELECT ON roles, permissions, role_permissions, user_roles, user_sessions,
        password_reset_tokens, email_verification_tokens, audit_log TO user_mgmt_readonly;

    -- Default roles and permissions.
    INSERT INTO roles (name, description) VALUES
        ('admin',   'Full administrative access to users, roles and the audit log'),
        ('support', 'Customer support: view and suspend users, revoke sessions, read the audit log'),
        ('user',    'Standard account: manage own account and profile')
    ON CONFLICT (name) DO NOTHING;

    INSERT INTO permissions (name, description) VALUES
        ('users:read',      'View any user account'),
        ('users:create',    'Create user accounts'),
        ('users:update',    'Edit any user account'),
        ('users:delete',    'Deactivate or delete any user account'),
        ('users:suspend',   'Suspend or reinstate a user account'),
        ('roles:read',      'View roles and their permissions'),
        ('roles:manage',    'Create, edit and delete roles and their permissions'),
        ('roles:assign',    'Grant roles to and revoke roles from users'),
        ('sessions:revoke', 'Revoke the sessions of any user'),
        ('audit:read',      'Read the audit log'),
        ('account:read',    'View own account'),
        ('account:update',  'Update own account, profile and password')
    ON CONFLICT (name) DO NOTHING;

    -- Explicit list (not "admin gets every permission").
    INSERT INTO role_permissions (role_id, permission_id)
    SELECT r.id, p.id
    FROM (VALUES
        ('admin',   'users:read'),
        ('admin',   'users:create'),
        ('admin',   'users:update'),
        ('admin',   'users:delete'),
        ('admin',   'users:suspend'),
        ('admin',   'roles:read'),
        ('admin',   'roles:manage'),
        ('admin',   'roles:assign'),
        ('admin',   'sessions:revoke'),
        ('admin',   'audit:read'),
        ('admin',   'account:read'),
        ('admin',   'account:update'),
        ('support', 'users:read'),
        ('support', 'users:suspend'),
        ('support', 'roles:read'),
        ('support', 'sessions:revoke'),
        ('support', 'audit:read'),
        ('support', 'account:read'),
        ('support', 'account:update'),
        ('user',    'account:read'),
        ('user',    'account:update')
    ) AS grants (role_name, permission_name)
    JOIN roles r ON r.name = grants.role_name
    JOIN permissions p ON p.name = grants.permission_name
    ON CONFLICT (role_id, permission_id) DO NOTHING;

    -- The default partition and this month plus the next three, created
    -- by the function now owned by user_mgmt_owner, so it owns them.
    PERFORM audit_log_create_partitions(3);
END;
$$;

-- ---------------------------------------------------------------------------
-- Record this migration (no-op if already recorded, e.g. by pgshift or by
-- an earlier psql run). execution_time_ms and checksum are left to the tool.
-- ---------------------------------------------------------------------------
INSERT INTO schema_migrations (version, description)
VALUES ('001', 'Initial schema creation')
ON CONFLICT (version) DO NOTHING;

-- ---------------------------------------------------------------------------
-- Verification: fail (and roll everything back) unless the expected objects
-- exist and the key constraints behave.
-- ---------------------------------------------------------------------------
DO $$
DECLARE
    missing    text;
    violated   text;
    probe      text;
BEGIN
    SELECT string_agg(t, ', ') INTO missing
    FROM unnest(ARRAY[
        'schema_migrations', 'users', 'roles', 'permissions', 'role_permissions',
        'user_roles', 'user_sessions', 'password_reset_tokens',
        'email_verification_tokens', 'audit_log', 'audit_log_default'
    ]) AS t
    WHERE to_regclass(t) IS NULL;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'migration 001 verification failed: missing tables: %', missing;
    END IF;

    SELECT string_agg(i, ', ') INTO missing
    FROM unnest(ARRAY[
        'users_email_lower_key', 'users_username_lower_key',
        'role_permissions_permission_id_idx',
        'user_roles_role_id_idx', 'user_roles_granted_by_idx',
        'user_sessions_user_id_idx', 'user_sessions_expires_at_idx',
        'user_sessions_refresh_token_hash_key',
        'user_sessions_previous_refresh_token_hash_key',
        'password_reset_tokens_token_hash_key',
        'password_reset_tokens_user_id_idx',
        'password_reset_tokens_one_unused_per_user_key',
        'password_reset_tokens_expires_at_idx',
        'email_verification_tokens_token_hash_key',
        'email_verification_tokens_user_id_idx',
        'email_verification_tokens_expires_at_idx',
        'audit_log_id_occurred_at_key',
        'audit_log_target_user_occurred_at_idx',
        'audit_log_actor_user_occurred_at_idx',
        'audit_log_action_occurred_at_idx',
        'audit_log_occurred_at_brin_idx'
    ]) AS i
    WHERE to_regclass(i) IS NULL;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'migration 001 verification failed: missing indexes: %', missing;
    END IF;

    IF NOT EXISTS (
        SELECT 1 FROM pg_index
        WHERE indexrelid = 'users_email_lower_key'::regclass
          AND indisunique AND indpred IS NOT NULL
    ) THEN
        RAISE EXCEPTION 'migration 001 verification failed: users_email_lower_key must be a partial unique index';
    END IF;

    IF (SELECT relkind FROM pg_class WHERE oid = 'audit_log'::regclass) <> 'p' THEN
        RAISE EXCEPTION 'migration 001 verification failed: audit_log is not partitioned'
            USING HINT = 'A database built by an earlier 001 needs rebuilding; see README.md, "Databases built from the earlier files".';
    END IF;

    SELECT string_agg(tg, ', ') INTO missing
    FROM (VALUES
        ('users', 'users_set_updated_at'),
        ('roles', 'roles_set_updated_at'),
        ('audit_log', 'audit_log_reject_update')
    ) AS expected (tbl, tg)
    WHERE NOT EXISTS (
        SELECT 1 FROM pg_trigger
        WHERE tgrelid = to_regclass(expected.tbl) AND tgname = expected.tg
    );
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'migration 001 verification failed: missing triggers: %', missing;
    END IF;

    SELECT string_agg(r, ', ') INTO missing
    FROM unnest(ARRAY['user_mgmt_owner', 'user_mgmt_app', 'user_mgmt_readonly']) AS r
    WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'migration 001 verification failed: missing cluster roles: %', missing;
    END IF;

    IF NOT EXISTS (SELECT 1 FROM schema_migrations WHERE version = '001') THEN
        RAISE EXCEPTION 'migration 001 verification failed: schema_migrations row 001 missing';
    END IF;

    -- Plain-text and weak password hashes must be rejected by the CHECK
    -- constraint. The probe rows live only inside this sub-block and are
    -- always rolled back.
    FOREACH probe IN ARRAY ARRAY[
        'hunter2',
        '$2b$04$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui',
        '$argon2id$v=19$m=1,t=1,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A'
    ] LOOP
        BEGIN
            INSERT INTO users (email, username, password_hash)
            VALUES ('probe@example.invalid', 'migration_probe', probe);
            RAISE EXCEPTION 'migration 001 verification failed: users accepted the password hash %', probe;
        EXCEPTION WHEN check_violation THEN
            GET STACKED DIAGNOSTICS violated = CONSTRAINT_NAME;
            IF violated IS DISTINCT FROM 'users_password_hash_format_chk' THEN
                RAISE EXCEPTION 'migration 001 verification failed: probe hit % instead of users_password_hash_format_chk', violated;
            END IF;
        END;
    END LOOP;
END;
$$;

COMMIT;
