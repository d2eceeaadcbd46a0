-- Migration: 002
-- Description: Add user profiles
-- Author: Database Specialist
-- Date: 2026-11-27
--
-- Adds user_profiles, a 1:1 extension of users holding presentation
-- preferences (avatar, bio, locale, time zone, date/time format).
--
-- No backfill: a user without a profile row simply has the defaults
-- (locale en-US, time zone UTC, ...). The API reads with a LEFT JOIN and
-- writes with INSERT ... ON CONFLICT (user_id) DO UPDATE. This keeps the
-- migration a quick DDL-only transaction instead of a write over every
-- users row while holding locks.
--
-- Requires: 001. Transactional, idempotent, records its own
-- schema_migrations row.
-- Rollback: rollback_002.sql (destroys all profile data).

\set ON_ERROR_STOP on

BEGIN;

-- The foreign key to users takes a SHARE ROW EXCLUSIVE lock on users;
-- give up quickly rather than stall logins behind a long transaction.
SET LOCAL lock_timeout = '5s';

DO $$
BEGIN
    IF to_regclass('users') IS NULL
       OR to_regprocedure('set_updated_at()') IS NULL
       OR to_regclass('schema_migrations') IS NULL THEN
        RAISE EXCEPTION 'migration 002 requires migration 001 (users, set_updated_at(), schema_migrations)'
            USING HINT = 'Apply 001_initial_schema.sql first.';
    END IF;
END;
$$;

CREATE TABLE IF NOT EXISTS user_profiles (
    -- The primary key is the foreign key: at most one profile per user.
    -- CASCADE: a profile is part of the account; purging the account
    -- (erasure request) must purge the profile with it.
    user_id           uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    avatar_url        text,
    bio               text,
    locale            text        NOT NULL DEFAULT 'en-US',
    time_zone         text        NOT NULL DEFAULT 'UTC',
    date_format       text        NOT NULL DEFAULT 'YYYY-MM-DD',
    time_format       text        NOT NULL DEFAULT '24h',
    -- ISO 8601 numbering: 1 = Monday ... 7 = Sunday.
    first_day_of_week smallint    NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT user_profiles_pkey PRIMARY KEY (user_id),
    -- https only: avatars are rendered in the web client, and mixed content
    -- or javascript:/data: URLs must never get that far.
    CONSTRAINT user_profiles_avatar_url_chk CHECK (
        char_length(avatar_url) <= 2048 AND avatar_url ~ '^https://[^[:space:]]+$'
    ),
    CONSTRAINT user_profiles_bio_length_chk CHECK (char_length(bio) <= 1000),
    -- BCP 47 subset: language[-Script][-REGION], e.g. en, en-US, zh-Hant-TW,
    -- es-419. Full BCP 47 validation belongs in the API.
    CONSTRAINT user_profiles_locale_format_chk CHECK (
        locale ~ '^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$'
    ),
    -- Cheap bound only; the zone name is validated by the trigger below.
    CONSTRAINT user_profiles_time_zone_length_chk CHECK (
        char_length(time_zone) BETWEEN 1 AND 64
    ),
    CONSTRAINT user_profiles_date_format_chk CHECK (
        date_format IN ('YYYY-MM-DD', 'DD/MM/YYYY', 'MM/DD/YYYY', 'DD.MM.YYYY')
    ),
    CONSTRAINT user_profiles_time_format_chk CHECK (time_format IN ('12h', '24h')),
    CONSTRAINT user_profiles_first_day_of_week_chk CHECK (first_day_of_week BETWEEN 1 AND 7)
);

COMMENT ON TABLE user_profiles IS
    '1:1 display preferences for users; a missing row means all defaults.';
COMMENT ON COLUMN user_profiles.time_zone IS
    'IANA time zone name (see pg_timezone_names), checked on write by trigger user_profiles_validate_time_zone.';

DROP TRIGGER IF EXISTS user_profiles_set_updated_at ON user_profiles;
CREATE TRIGGER user_profiles_set_updated_at
    BEFORE UPDATE ON user_profiles
    FOR EACH ROW
    WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION set_updated_at();

-- Time zone validation is a trigger, not a CHECK, because:
--   * a CHECK expression cannot run a query, and pg_timezone_names is a view;
--   * wrapping the lookup in a function falsely marked IMMUTABLE would be
--     unsafe: the zone list comes from the server's tz database, which
--     changes with OS/PostgreSQL updates, and a CHECK that stops holding for
--     existing rows makes pg_dump/restore fail.
-- A trigger checks only on write, which is what we want: existing rows stay
-- loadable even if a zone is later retired.
-- Accepted: exactly the names in pg_timezone_names (IANA tz database, case
-- sensitive). Refused: POSIX-style specs ('UTC+3'), abbreviations ('CEST')
-- and wrong case ('utc'). Legacy zone files such as 'EST' are in the tz
-- database and therefore accepted.
-- Cost: pg_timezone_names reads the whole tz database on every call (about
-- 40-60 ms measured on PostgreSQL 15), so the lookup is skipped for the
-- default 'UTC' and when an UPDATE leaves time_zone unchanged. Profile
-- writes are rare; a bulk load of non-UTC profiles will feel it.
-- The error uses SQLSTATE 23514 (check_violation) with a constraint name,
-- so the API maps it like any other CHECK failure.
CREATE OR REPLACE FUNCTION user_profiles_validate_time_zone() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.time_zone = 'UTC'
       OR (TG_OP = 'UPDATE' AND NEW.time_zone IS NOT DISTINCT FROM OLD.time_zone) THEN
        RETURN NEW;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names WHERE name = NEW.time_zone) THEN
        RAISE EXCEPTION 'invalid time zone "%"', NEW.time_zone
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'user_profiles_time_zone_valid',
                  TABLE = 'user_profiles',
                  COLUMN = 'time_zone',
                  HINT = 'Use an IANA time zone name such as UTC or Europe/Paris.';
    END IF;
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION user_profiles_validate_time_zone() IS
    'BEFORE INSERT/UPDATE trigger function: rejects time zones not listed in pg_timezone_names.';

DROP TRIGGER IF EXISTS user_profiles_validate_time_zone ON user_profiles;
CREATE TRIGGER user_profiles_validate_time_zone
    BEFORE INSERT OR UPDATE OF time_zone ON user_profiles
    FOR EACH ROW
    EXECUTE FUNCTION user_profiles_validate_time_zone();

INSERT INTO schema_migrations (version, description)
VALUES ('002', 'Add user profiles')
ON CONFLICT (version) DO NOTHING;

-- Verification.
DO $$
DECLARE
    missing text;
BEGIN
    IF to_regclass('user_profiles') IS NULL THEN
        RAISE EXCEPTION 'migration 002 verification failed: user_profiles missing';
    END IF;

    SELECT string_agg(tg, ', ') INTO missing
    FROM unnest(ARRAY['user_profiles_set_updated_at', 'user_profiles_validate_time_zone']) AS tg
    WHERE NOT EXISTS (
        SELECT 1 FROM pg_trigger
        WHERE tgrelid = 'user_profiles'::regclass AND tgname = tg
    );
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'migration 002 verification failed: missing triggers: %', missing;
    END IF;

    -- The default time zone must itself pass validation.
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names WHERE name = 'UTC') THEN
        RAISE EXCEPTION 'migration 002 verification failed: this server does not know time zone UTC';
    END IF;

    IF NOT EXISTS (SELECT 1 FROM schema_migrations WHERE version = '002') THEN
        RAISE EXCEPTION 'migration 002 verification failed: schema_migrations row 002 missing';
    END IF;
END;
$$;

COMMIT;
