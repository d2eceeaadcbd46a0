-- Migration: 003
-- Description: Drop the last-login index so login updates stay HOT
-- Author: Database Specialist
-- Date: 2026-11-27
-- pgshift:no-transaction
--
-- NON-TRANSACTIONAL MIGRATION. DROP INDEX CONCURRENTLY removes an index
-- without blocking reads or writes, but it cannot run inside a transaction
-- block. So this file has no BEGIN/COMMIT, and the `pgshift:no-transaction`
-- directive above tells pgshift to run it statement by statement, outside
-- a transaction.
--
-- With psql, run it as usual (`psql -f`), but NEVER with -1 /
-- --single-transaction, and keep ON_ERROR_STOP on (set below): without it,
-- psql would carry on after a failed statement and still record the
-- migration as applied.
--
-- Why: the first version of this file built two indexes concurrently.
--   * users_last_login_at_idx put last_login_at in an index, so every
--     login's UPDATE of users had to write new index entries and could no
--     longer be a HOT (heap-only) update: 193 of 200 login updates were
--     HOT before it, 0 after. Dormant-account reports now read the last
--     user.login_succeeded event per user from audit_log (through
--     audit_log_action_occurred_at_idx). This file drops the index where
--     the first version created it; on a new database it does nothing.
--   * audit_log_action_occurred_at_idx moved to 001: audit_log is now
--     partitioned, and PostgreSQL cannot build an index CONCURRENTLY on a
--     partitioned table. 001 creates it with the (empty) table.
-- The file keeps its name so the version history stays readable.
--
-- Idempotent: IF EXISTS on the drop, ON CONFLICT on the history row.
-- The history row is the LAST statement, so it is only written once
-- everything before it has succeeded.
-- Requires: 001. Rollback: rollback_003.sql.

\set ON_ERROR_STOP on

DO $$
BEGIN
    IF to_regclass('users') IS NULL
       OR to_regclass('schema_migrations') IS NULL THEN
        RAISE EXCEPTION 'migration 003 requires migration 001 (users, schema_migrations)'
            USING HINT = 'Apply 001_initial_schema.sql first.';
    END IF;
END;
$$;

DROP INDEX CONCURRENTLY IF EXISTS users_last_login_at_idx;

-- Verification: no index on users covers a column that every login
-- updates (the same rule as checks/05_login_updates_stay_hot.sql).
DO $$
DECLARE
    hot_breakers text;
BEGIN
    SELECT string_agg(DISTINCT i.indexrelid::regclass::text, ', ') INTO hot_breakers
    FROM pg_index i
    JOIN pg_attribute a ON a.attrelid = i.indrelid
    WHERE i.indrelid = 'users'::regclass
      AND a.attname IN ('last_login_at', 'failed_login_count', 'locked_until', 'updated_at')
      AND (a.attnum = ANY (i.indkey)
           OR pg_get_expr(i.indexprs, i.indrelid) ~ ('\m' || a.attname || '\M')
           OR pg_get_expr(i.indpred, i.indrelid) ~ ('\m' || a.attname || '\M'));
    IF hot_breakers IS NOT NULL THEN
        RAISE EXCEPTION 'migration 003 verification failed: indexes on login columns of users: %', hot_breakers
            USING HINT = 'Each makes every login a non-HOT update; drop them with DROP INDEX CONCURRENTLY.';
    END IF;
END;
$$;

-- Last statement: record the migration only after everything succeeded.
INSERT INTO schema_migrations (version, description)
VALUES ('003', 'Drop the last-login index so login updates stay HOT')
ON CONFLICT (version) DO NOTHING;
