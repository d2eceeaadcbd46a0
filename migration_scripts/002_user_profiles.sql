-- Migration: 002
-- Description: Add user profiles
-- Author: Database Specialist
-- Date: 2026-11-27
--
-- Adds user_profiles, a 1:1 extension of users holding presentation
-- preferences (avatar, bio, locale, time zone, date/time format), and
-- time_zones, the reference list its time_zone column points to.
--
-- No backfill: a user without a profile row simply has the defaults
-- (locale en-US, time zone UTC, ...). The API reads with a LEFT JOIN and
-- writes with INSERT ... ON CONFLICT (user_id) DO UPDATE. This keeps the
-- migration a quick DDL-only transaction instead of a write over every
-- users row while holding locks.
--
-- Requires: 001. Transactional, idempotent (re-running takes no lock the
-- application would wait for: the trigger is created only when missing),
-- records its own schema_migrations row. Ownership, grants and the
-- time_zones rows are set up on first application only (no '002' row).
-- Rollback: rollback_002.sql (destroys all profile data).

\set ON_ERROR_STOP on

BEGIN;

-- The foreign key to users takes a SHARE ROW EXCLUSIVE lock on users when
-- user_profiles is first created; give up quickly rather than stall
-- logins behind a long transaction. A re-run takes no such lock.
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

-- Time zones a profile may use: the IANA names this server knew when 002
-- was first applied (pg_timezone_names, case-sensitive). A foreign key
-- checks a write with one primary-key lookup; the former trigger read the
-- whole tz database through pg_timezone_names on every write (~86 ms).
-- Rows are loaded once, on first application. After a tz database update
-- adds zones, add them with
--   INSERT INTO time_zones (name) SELECT name FROM pg_timezone_names
--   ON CONFLICT (name) DO NOTHING;
-- A zone still in use cannot be deleted (the foreign key refuses).
CREATE TABLE IF NOT EXISTS time_zones (
    name text NOT NULL,

    CONSTRAINT time_zones_pkey PRIMARY KEY (name),
    CONSTRAINT time_zones_name_length_chk CHECK (char_length(name) BETWEEN 1 AND 64)
);

COMMENT ON TABLE time_zones IS
    'IANA time zone names accepted for user_profiles.time_zone; loaded from pg_timezone_names by migration 002.';

CREATE TABLE IF NOT EXISTS user_profiles (
    -- The primary key is the foreign key: at most one profile per user.
    -- CASCADE: a profile is part of the account; purging the account
    -- (erasure request) must purge the profile with it.
    user_id           uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    avatar_url        text,
    bio               text,
    locale            text        NOT NULL DEFAULT 'en-US',
    -- Accepted: exactly the names in time_zones (IANA, case-sensitive).
    -- Refused with foreign_key_violation (23503, constraint
    -- user_profiles_time_zone_fkey): POSIX-style specs ('UTC+3'),
    -- abbreviations ('CEST'), wrong case ('utc').
    time_zone         text        NOT NULL DEFAULT 'UTC'
                                  CONSTRAINT user_profiles_time_zone_fkey REFERENCES time_zones (name),
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
    CONSTRAINT user_profiles_date_format_chk CHECK (
        date_format IN ('YYYY-MM-DD', 'DD/MM/YYYY', 'MM/DD/YYYY', 'DD.MM.YYYY')
    ),
    CONSTRAINT user_profiles_time_format_chk CHECK (time_format IN ('12h', '24h')),
    CONSTRAINT user_profiles_first_day_of_week_chk CHECK (first_day_of_week BETWEEN 1 AND 7)
);

COMMENT ON TABLE user_profiles IS
    '1:1 display preferences for users; a missing row means all defaults.';
COMMENT ON COLUMN user_profiles.time_zone IS
    'IANA time zone name; must be listed in time_zones (foreign key).';

DO $$
BEGIN
    -- The foreign key to time_zones: deleting a zone looks up its users.
    IF to_regclass('user_profiles_time_zone_idx') IS NULL THEN
        CREATE INDEX user_profiles_time_zone_idx ON user_profiles (time_zone);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgrelid = 'user_profiles'::regclass
                     AND tgname = 'user_profiles_set_updated_at') THEN
        CREATE TRIGGER user_profiles_set_updated_at
            BEFORE UPDATE ON user_profiles
            FOR EACH ROW
            WHEN (OLD.* IS DISTINCT FROM NEW.*)
            EXECUTE FUNCTION set_updated_at();
    END IF;
END;
$$;

-- First application only (no '002' row yet).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM schema_migrations WHERE version = '002') THEN
        RETURN;
    END IF;
    INSERT INTO time_zones (name)
    SELECT name FROM pg_catalog.pg_timezone_names
    WHERE char_length(name) BETWEEN 1 AND 64
    ON CONFLICT (name) DO NOTHING;

    ALTER TABLE time_zones OWNER TO user_mgmt_owner;
    ALTER TABLE user_profiles OWNER TO user_mgmt_owner;
    GRANT SELECT ON time_zones TO user_mgmt_app, user_mgmt_readonly;
    GRANT SELECT, INSERT, UPDATE, DELETE ON user_profiles TO user_mgmt_app;
    GRANT SELECT ON user_profiles TO user_mgmt_readonly;
END;
$$;

INSERT INTO schema_migrations (version, description)
VALUES ('002', 'Add user profiles')
ON CONFLICT (version) DO NOTHING;

-- Verification.
DO $$
BEGIN
    IF to_regclass('user_profiles') IS NULL THEN
        RAISE EXCEPTION 'migration 002 verification failed: user_profiles missing';
    END IF;

    IF to_regclass('time_zones') IS NULL OR to_regclass('user_profiles_time_zone_idx') IS NULL THEN
        RAISE EXCEPTION 'migration 002 verification failed: time_zones or user_profiles_time_zone_idx missing';
    END IF;

    IF NOT EXISTS (
        SELECT 1 FROM pg_trigger
        WHERE tgrelid = 'user_profiles'::regclass AND tgname = 'user_profiles_set_updated_at'
    ) THEN
        RAISE EXCEPTION 'migration 002 verification failed: missing trigger user_profiles_set_updated_at';
    END IF;

    -- The default time zone must itself pass validation.
    IF NOT EXISTS (SELECT 1 FROM time_zones WHERE name = 'UTC') THEN
        RAISE EXCEPTION 'migration 002 verification failed: time_zones lacks UTC, the default';
    END IF;

    IF NOT EXISTS (SELECT 1 FROM schema_migrations WHERE version = '002') THEN
        RAISE EXCEPTION 'migration 002 verification failed: schema_migrations row 002 missing';
    END IF;
END;
$$;

COMMIT;
