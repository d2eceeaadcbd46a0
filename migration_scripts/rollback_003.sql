-- Migration: 003
-- Description: Rollback of 003 (Add last-login and audit action indexes concurrently)
-- Author: Database Specialist
-- Date: 2026-11-27
-- pgshift:no-transaction
--
-- NON-TRANSACTIONAL ROLLBACK: DROP INDEX CONCURRENTLY cannot run inside a
-- transaction block, so there is no BEGIN/COMMIT; pgshift runs it statement
-- by statement. With psql: no -1 / --single-transaction.
--
-- Drops the two indexes added by 003 without blocking reads or writes. No
-- data is lost, but dormant-account reports and audit queries by action
-- will fall back to slower plans.
--
-- Idempotent (IF EXISTS). The history row is deleted last, so a failed run
-- still shows 003 as applied and can simply be re-run.

\set ON_ERROR_STOP on

DO $$
DECLARE
    later text;
BEGIN
    IF to_regclass('schema_migrations') IS NOT NULL THEN
        SELECT string_agg(version, ', ' ORDER BY version) INTO later
        FROM schema_migrations
        WHERE version > '003';
        IF later IS NOT NULL THEN
            RAISE EXCEPTION 'cannot roll back 003: later migrations are still applied: %', later
                USING HINT = 'Run their rollback scripts first, newest first.';
        END IF;
    END IF;
END;
$$;

-- One index per statement: DROP INDEX CONCURRENTLY accepts only one name.
DROP INDEX CONCURRENTLY IF EXISTS users_last_login_at_idx;
DROP INDEX CONCURRENTLY IF EXISTS audit_log_action_occurred_at_idx;

DO $$
BEGIN
    IF to_regclass('users_last_login_at_idx') IS NOT NULL
       OR to_regclass('audit_log_action_occurred_at_idx') IS NOT NULL THEN
        RAISE EXCEPTION 'rollback 003 verification failed: indexes still present';
    END IF;
    IF to_regclass('schema_migrations') IS NOT NULL THEN
        DELETE FROM schema_migrations WHERE version = '003';
    END IF;
END;
$$;
