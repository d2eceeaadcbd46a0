-- Migration: 003
-- Description: Add last-login and audit action indexes concurrently
-- Author: Database Specialist
-- Date: 2026-11-27
-- pgshift:no-transaction
--
-- NON-TRANSACTIONAL MIGRATION. CREATE INDEX CONCURRENTLY builds an index
-- without blocking writes to the table, but it cannot run inside a
-- transaction block. So this file has no BEGIN/COMMIT, and the
-- `pgshift:no-transaction` directive above tells pgshift to run it
-- statement by statement, outside a transaction.
--
-- With psql, run it as usual (`psql -f`), but NEVER with -1 /
-- --single-transaction, and keep ON_ERROR_STOP on (set below): without it,
-- psql would carry on after a failed statement and still record the
-- migration as applied.
--
-- If it fails midway: a failed concurrent build leaves an INVALID index
-- behind, which `IF NOT EXISTS` would then silently skip. The verification
-- block below catches that and names the index to drop; then re-run.
--
-- Idempotent: IF NOT EXISTS on each index, ON CONFLICT on the history row.
-- The history row is the LAST statement, so it is only written once
-- everything before it has succeeded.
-- Requires: 001. Rollback: rollback_003.sql.

\set ON_ERROR_STOP on

DO $$
BEGIN
    IF to_regclass('users') IS NULL
       OR to_regclass('audit_log') IS NULL
       OR to_regclass('schema_migrations') IS NULL THEN
        RAISE EXCEPTION 'migration 003 requires migration 001 (users, audit_log, schema_migrations)'
            USING HINT = 'Apply 001_initial_schema.sql first.';
    END IF;
END;
$$;

-- Dormant-account reports and cleanup jobs:
--   WHERE deleted_at IS NULL AND last_login_at < now() - interval '1 year'
-- Partial on live accounts, matching how every such query filters.
-- (NULL last_login_at, i.e. never logged in, is indexed too.)
CREATE INDEX CONCURRENTLY IF NOT EXISTS users_last_login_at_idx
    ON users (last_login_at)
    WHERE deleted_at IS NULL;

-- Security monitoring across all users, newest first:
--   WHERE action = 'user.login_failed' AND occurred_at > now() - interval '1 hour'
-- audit_log is the busiest table; a plain CREATE INDEX would block every
-- audited request for the duration of the build.
CREATE INDEX CONCURRENTLY IF NOT EXISTS audit_log_action_occurred_at_idx
    ON audit_log (action, occurred_at DESC);

-- Verification: both indexes exist and are valid.
DO $$
DECLARE
    idx text;
BEGIN
    FOREACH idx IN ARRAY ARRAY['users_last_login_at_idx', 'audit_log_action_occurred_at_idx'] LOOP
        IF to_regclass(idx) IS NULL THEN
            RAISE EXCEPTION 'migration 003 verification failed: index % missing', idx;
        END IF;
        IF NOT EXISTS (
            SELECT 1 FROM pg_index
            WHERE indexrelid = to_regclass(idx) AND indisvalid AND indisready
        ) THEN
            RAISE EXCEPTION 'migration 003 verification failed: index % is INVALID (an earlier concurrent build failed)', idx
                USING HINT = format('Run DROP INDEX CONCURRENTLY %I; then apply this migration again.', idx);
        END IF;
    END LOOP;
END;
$$;

-- Last statement: record the migration only after everything succeeded.
INSERT INTO schema_migrations (version, description)
VALUES ('003', 'Add last-login and audit action indexes concurrently')
ON CONFLICT (version) DO NOTHING;
