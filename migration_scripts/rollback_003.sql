-- Migration: 003
-- Description: Rollback of 003 (Drop the last-login index so login updates stay HOT)
-- Author: Database Specialist
-- Date: 2026-11-27
-- pgshift:no-transaction
--
-- NON-TRANSACTIONAL ROLLBACK, like 003 itself; with psql: no -1 /
-- --single-transaction.
--
-- 003 only drops users_last_login_at_idx, which the schema before 003 does
-- not have either (001 never creates it), so there is no object to bring
-- back: this rollback only forgets the migration. It deliberately does not
-- re-create the index, which would make every login a non-HOT update.
--
-- Idempotent. The history row is deleted last.

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

DO $$
BEGIN
    IF to_regclass('schema_migrations') IS NOT NULL THEN
        DELETE FROM schema_migrations WHERE version = '003';
    END IF;
END;
$$;
