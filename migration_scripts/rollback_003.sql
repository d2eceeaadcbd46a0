-- Migration: 003
-- Description: Rollback of 003 (Drop the last-login index so login updates stay HOT)
-- Author: Database Specialist
-- Date: 2026-11-27
--
-- 003 only drops users_last_login_at_idx, which the schema before 003 does
-- not have either (001 never creates it), so there is no object to bring
-- back: this rollback only forgets the migration. It deliberately does not
-- re-create the index, which would make every login a non-HOT update.
--
-- Transactional (unlike 003: it drops nothing, so nothing needs to run
-- outside a transaction) and idempotent.

\set ON_ERROR_STOP on

BEGIN;

SET LOCAL lock_timeout = '5s';

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

COMMIT;
