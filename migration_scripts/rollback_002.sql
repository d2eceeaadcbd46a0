-- Migration: 002
-- Description: Rollback of 002 (Add user profiles)
-- Author: Database Specialist
-- Date: 2026-11-27
--
-- ###########################################################################
-- ##  WARNING: DESTRUCTIVE. Drops user_profiles WITH ALL PROFILE DATA      ##
-- ##  (avatars, bios, locale/time zone/format preferences of every user)  ##
-- ##  and the time_zones reference list.                                  ##
-- ##  It cannot be recovered except from a backup. Back up first.         ##
-- ###########################################################################
--
-- User accounts (001) are untouched. Refuses to run while a later migration
-- is still recorded as applied. Idempotent (DROP ... IF EXISTS).

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
        WHERE version > '002';
        IF later IS NOT NULL THEN
            RAISE EXCEPTION 'cannot roll back 002: later migrations are still applied: %', later
                USING HINT = 'Run their rollback scripts first, newest first.';
        END IF;
    END IF;
END;
$$;

-- Its trigger and indexes go with the table; then the zone list it
-- referenced. set_updated_at() belongs to 001 and stays.
DROP TABLE IF EXISTS user_profiles;
DROP TABLE IF EXISTS time_zones;

DO $$
BEGIN
    IF to_regclass('schema_migrations') IS NOT NULL THEN
        DELETE FROM schema_migrations WHERE version = '002';
    END IF;
END;
$$;

-- Verification.
DO $$
BEGIN
    IF to_regclass('user_profiles') IS NOT NULL OR to_regclass('time_zones') IS NOT NULL THEN
        RAISE EXCEPTION 'rollback 002 verification failed: user_profiles or time_zones still present';
    END IF;
END;
$$;

COMMIT;
