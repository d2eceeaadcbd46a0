-- Migration: 004
-- Description: Rollback of 004 (Add API keys)
-- Author: Database Specialist
-- Date: 2026-11-27
--
-- ###########################################################################
-- ##  WARNING: DESTRUCTIVE. Drops api_keys WITH ALL KEYS. Every API key    ##
-- ##  ever issued stops working at once, and re-applying 004 does NOT      ##
-- ##  bring them back (only hashes were stored). Integrations using keys   ##
-- ##  will fail until users create new ones. Back up first.                ##
-- ###########################################################################
--
-- Refuses to run while a later migration is still recorded as applied.
-- Idempotent (DROP ... IF EXISTS).

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
        WHERE version > '004';
        IF later IS NOT NULL THEN
            RAISE EXCEPTION 'cannot roll back 004: later migrations are still applied: %', later
                USING HINT = 'Run their rollback scripts first, newest first.';
        END IF;
    END IF;
END;
$$;

-- Its trigger and indexes go with the table.
DROP TABLE IF EXISTS api_keys;
DROP FUNCTION IF EXISTS api_keys_validate_scopes();

DO $$
BEGIN
    IF to_regclass('schema_migrations') IS NOT NULL THEN
        DELETE FROM schema_migrations WHERE version = '004';
    END IF;
END;
$$;

-- Verification.
DO $$
BEGIN
    IF to_regclass('api_keys') IS NOT NULL
       OR to_regprocedure('api_keys_validate_scopes()') IS NOT NULL THEN
        RAISE EXCEPTION 'rollback 004 verification failed: api_keys or its trigger function still present';
    END IF;
END;
$$;

COMMIT;
