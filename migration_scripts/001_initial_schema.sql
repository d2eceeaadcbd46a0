-- Migration: 001
-- Description: Initial schema creation
-- Author: Database Specialist
-- Date: 2025-10-12
--
-- Creates the User Management API schema:
--   users, roles, permissions, role_permissions, user_roles,
--   user_sessions, password_reset_tokens, email_verification_tokens,
--   audit_log, the schema_migrations tracking table, and the default
--   roles and permissions.
--
-- Requirements: PostgreSQL 13 or later (gen_random_uuid() is built in
-- since 13; tested on 15). No extensions are needed.
--
-- Properties:
--   * Transactional: everything runs between BEGIN and the final COMMIT,
--     so a failure leaves the database exactly as it was.
--   * Idempotent: every statement can run again (IF NOT EXISTS,
--     CREATE OR REPLACE, ON CONFLICT, DROP TRIGGER IF EXISTS before
--     CREATE TRIGGER). Re-running also re-inserts any default role,
--     permission or default grant that was deleted by hand.
--   * Self-recording: it inserts its own schema_migrations row, so
--     `psql -f` alone leaves the same history as a migration tool.
--
-- Rollback: rollback_001.sql (destroys every user account).

\set ON_ERROR_STOP on

BEGIN;

-- Do not queue behind a long-running transaction while holding locks
-- that would block the application; fail fast and retry instead.
SET LOCAL lock_timeout = '5s';

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
    -- Only password *hashes* are stored. Accept the two formats the API
    -- writes: bcrypt ($2a$/$2b$/$2y$, cost 04-31, 53 chars of salt+hash)
    -- and argon2 in PHC string format. Anything else (for example a plain
    -- password written by a buggy client) is rejected by the database.
    CONSTRAINT users_password_hash_format_chk CHECK (
        password_hash ~ '^\$2[abxy]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$'
        OR password_hash ~ '^\$argon2(id|i|d)\$v=[0-9]+\$m=[0-9]+,t=[0-9]+,p=[0-9]+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$'
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
);

COMMENT ON TABLE users IS
    'User accounts. Soft-deleted via deleted_at; email and username are unique (case-insensitively) among non-deleted users only.';
COMMENT ON COLUMN users.password_hash IS
    'bcrypt or argon2 (PHC) hash; never a plain password (enforced by users_password_hash_format_chk).';
COMMENT ON COLUMN users.locked_until IS
    'Set after too many failed logins; login is refused while now() < locked_until.';
COMMENT ON COLUMN users.deleted_at IS
    'Soft delete marker; a deleted account must be deactivated.';

-- Case-insensitive uniqueness among live accounts. A partial unique index on
-- lower(email) is used instead of the citext extension (no extension
-- dependency), and the WHERE clause lets a soft-deleted user's address be
-- registered again. Lookups must use the same expression:
--   WHERE lower(email) = lower($1) AND deleted_at IS NULL
CREATE UNIQUE INDEX IF NOT EXISTS users_email_lower_key
    ON users (lower(email))
    WHERE deleted_at IS NULL;

CREATE UNIQUE INDEX IF NOT EXISTS users_username_lower_key
    ON users (lower(username))
    WHERE deleted_at IS NULL;

DROP TRIGGER IF EXISTS users_set_updated_at ON users;
CREATE TRIGGER users_set_updated_at
    BEFORE UPDATE ON users
    FOR EACH ROW
    WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION set_updated_at();

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

DROP TRIGGER IF EXISTS roles_set_updated_at ON roles;
CREATE TRIGGER roles_set_updated_at
    BEFORE UPDATE ON roles
    FOR EACH ROW
    WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION set_updated_at();

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

-- The primary key serves lookups by role_id; this one serves
-- "which roles carry permission X" and the ON DELETE CASCADE from permissions.
CREATE INDEX IF NOT EXISTS role_permissions_permission_id_idx
    ON role_permissions (permission_id);

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

-- "Who holds role X" and the RESTRICT check when a role is deleted.
CREATE INDEX IF NOT EXISTS user_roles_role_id_idx ON user_roles (role_id);
-- Without this, hard-deleting any user seq-scans user_roles for the SET NULL.
CREATE INDEX IF NOT EXISTS user_roles_granted_by_idx ON user_roles (granted_by);

-- ---------------------------------------------------------------------------
-- Sessions and one-time tokens.
-- Only SHA-256 digests (lowercase hex) of the random tokens are stored: a
-- leaked table (or backup) must not yield usable tokens. Tokens are
-- high-entropy random values, so a fast hash is appropriate here (unlike
-- passwords). All of these CASCADE from users: they are credentials of the
-- account and must disappear with it.
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS user_sessions (
    id                 uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id            uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_token_hash text        NOT NULL,
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
    CONSTRAINT user_sessions_expiry_chk CHECK (expires_at > created_at),
    CONSTRAINT user_sessions_revoked_chk CHECK (revoked_at IS NULL OR revoked_at >= created_at),
    CONSTRAINT user_sessions_user_agent_length_chk CHECK (char_length(user_agent) <= 512)
);

COMMENT ON TABLE user_sessions IS
    'Refresh-token sessions. A session is usable while revoked_at IS NULL AND expires_at > now().';
COMMENT ON COLUMN user_sessions.refresh_token_hash IS
    'Lowercase hex SHA-256 of the refresh token; the token itself is never stored.';

-- "Sessions of user X", "revoke all sessions of user X", and the CASCADE.
CREATE INDEX IF NOT EXISTS user_sessions_user_id_idx ON user_sessions (user_id);
-- Cleanup job: DELETE ... WHERE expires_at < now() - interval '...'.
CREATE INDEX IF NOT EXISTS user_sessions_expires_at_idx ON user_sessions (expires_at);

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
    CONSTRAINT password_reset_tokens_expiry_chk CHECK (expires_at > created_at),
    CONSTRAINT password_reset_tokens_used_chk CHECK (used_at IS NULL OR used_at >= created_at)
);

COMMENT ON TABLE password_reset_tokens IS
    'Hashed single-use password reset tokens; used_at marks consumption.';

CREATE INDEX IF NOT EXISTS password_reset_tokens_user_id_idx
    ON password_reset_tokens (user_id);

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
    CONSTRAINT email_verification_tokens_expiry_chk CHECK (expires_at > created_at),
    CONSTRAINT email_verification_tokens_used_chk CHECK (used_at IS NULL OR used_at >= created_at)
);

COMMENT ON TABLE email_verification_tokens IS
    'Hashed single-use email verification tokens; used_at marks consumption.';

CREATE INDEX IF NOT EXISTS email_verification_tokens_user_id_idx
    ON email_verification_tokens (user_id);

-- ---------------------------------------------------------------------------
-- audit_log: user-facing security events (logins, password changes, role
-- grants, suspensions...). Append-only.
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS audit_log (
    -- bigint identity rather than uuid: compact, and insertion order is
    -- a tie-breaker for events with the same occurred_at.
    id             bigint      GENERATED ALWAYS AS IDENTITY,
    occurred_at    timestamptz NOT NULL DEFAULT now(),
    -- RESTRICT (both user references): the audit trail must always be able
    -- to say who did what to whom, so hard-deleting a user who appears here
    -- fails loudly. Accounts are soft-deleted; an erasure request anonymises
    -- the users row in place instead of deleting it. Compare
    -- user_roles.granted_by, which is SET NULL because there the audit
    -- trail, not the grant, is the record of who acted.
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

    CONSTRAINT audit_log_pkey PRIMARY KEY (id),
    -- Dotted lowercase names: user.login_succeeded, role.granted, ...
    CONSTRAINT audit_log_action_format_chk CHECK (
        action ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$' AND char_length(action) <= 100
    ),
    CONSTRAINT audit_log_target_pair_chk CHECK ((target_type IS NULL) = (target_id IS NULL)),
    CONSTRAINT audit_log_target_type_format_chk CHECK (target_type ~ '^[a-z][a-z0-9_]{0,49}$'),
    CONSTRAINT audit_log_target_id_length_chk CHECK (char_length(target_id) <= 200),
    CONSTRAINT audit_log_user_agent_length_chk CHECK (char_length(user_agent) <= 512),
    CONSTRAINT audit_log_details_object_chk CHECK (jsonb_typeof(details) = 'object')
);

COMMENT ON TABLE audit_log IS
    'Append-only log of user-facing security events. UPDATE is rejected by trigger; DELETE is allowed for retention purges.';
COMMENT ON COLUMN audit_log.details IS
    'Event-specific JSON object. Never put passwords, tokens or hashes here.';

-- "Events of user X, newest first":
--   WHERE target_user_id = $1 ORDER BY occurred_at DESC, id DESC LIMIT n
-- The partial predicates keep system-wide events out of the indexes; an
-- equality lookup still matches them, including for the RESTRICT checks.
CREATE INDEX IF NOT EXISTS audit_log_target_user_occurred_at_idx
    ON audit_log (target_user_id, occurred_at DESC, id DESC)
    WHERE target_user_id IS NOT NULL;

-- "What did user X do, newest first".
CREATE INDEX IF NOT EXISTS audit_log_actor_user_occurred_at_idx
    ON audit_log (actor_user_id, occurred_at DESC, id DESC)
    WHERE actor_user_id IS NOT NULL;

-- Time-range scans and retention purges. The table is append-only, so
-- occurred_at follows physical order and a tiny BRIN index suffices.
CREATE INDEX IF NOT EXISTS audit_log_occurred_at_brin_idx
    ON audit_log USING brin (occurred_at);

-- Audit rows are evidence: reject edits. (DELETE stays possible for
-- retention; restrict it further with privileges on the application role.)
CREATE OR REPLACE FUNCTION audit_log_reject_update() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'audit_log rows cannot be updated (id %)', OLD.id
        USING ERRCODE = 'restrict_violation',
              HINT = 'The audit log is append-only; insert a new event instead.';
END;
$$;

COMMENT ON FUNCTION audit_log_reject_update() IS
    'BEFORE UPDATE trigger function that makes audit_log append-only.';

DROP TRIGGER IF EXISTS audit_log_reject_update ON audit_log;
CREATE TRIGGER audit_log_reject_update
    BEFORE UPDATE ON audit_log
    FOR EACH ROW
    EXECUTE FUNCTION audit_log_reject_update();

-- ---------------------------------------------------------------------------
-- Default roles and permissions.
-- ON CONFLICT DO NOTHING: re-running never overwrites descriptions that an
-- operator has since edited, and never duplicates rows.
-- ---------------------------------------------------------------------------
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

-- Explicit list (not "admin gets every permission"), so re-running this file
-- never grants permissions that were added later by someone else.
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
BEGIN
    SELECT string_agg(t, ', ') INTO missing
    FROM unnest(ARRAY[
        'schema_migrations', 'users', 'roles', 'permissions', 'role_permissions',
        'user_roles', 'user_sessions', 'password_reset_tokens',
        'email_verification_tokens', 'audit_log'
    ]) AS t
    WHERE to_regclass(t) IS NULL;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'migration 001 verification failed: missing tables: %', missing;
    END IF;

    SELECT string_agg(i, ', ') INTO missing
    FROM unnest(ARRAY[
        'users_email_lower_key', 'users_username_lower_key',
        'user_roles_role_id_idx', 'user_sessions_user_id_idx',
        'user_sessions_refresh_token_hash_key',
        'password_reset_tokens_token_hash_key',
        'email_verification_tokens_token_hash_key',
        'audit_log_target_user_occurred_at_idx',
        'audit_log_actor_user_occurred_at_idx'
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
    FROM unnest(ARRAY['admin', 'support', 'user']) AS r
    WHERE NOT EXISTS (SELECT 1 FROM roles WHERE name = r);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'migration 001 verification failed: missing default roles: %', missing;
    END IF;

    IF (SELECT count(*) FROM role_permissions rp JOIN roles r ON r.id = rp.role_id
        WHERE r.name = 'admin') < 12 THEN
        RAISE EXCEPTION 'migration 001 verification failed: admin role lacks default permissions';
    END IF;

    IF NOT EXISTS (SELECT 1 FROM schema_migrations WHERE version = '001') THEN
        RAISE EXCEPTION 'migration 001 verification failed: schema_migrations row 001 missing';
    END IF;

    -- A plain-text password must be rejected by the CHECK constraint. The
    -- probe row lives only inside this sub-block and is always rolled back.
    BEGIN
        INSERT INTO users (email, username, password_hash)
        VALUES ('probe@example.invalid', 'migration_probe', 'hunter2');
        RAISE EXCEPTION 'migration 001 verification failed: users accepted a plain-text password';
    EXCEPTION WHEN check_violation THEN
        GET STACKED DIAGNOSTICS violated = CONSTRAINT_NAME;
        IF violated IS DISTINCT FROM 'users_password_hash_format_chk' THEN
            RAISE EXCEPTION 'migration 001 verification failed: probe hit % instead of users_password_hash_format_chk', violated;
        END IF;
    END;
END;
$$;

COMMIT;
