-- Migration: 004
-- Description: Add API keys
-- Author: Database Specialist
-- Date: 2026-11-27
--
-- Adds api_keys: long-lived credentials a user creates for scripts and
-- integrations. Key format handed to the user once, at creation:
--     <key_prefix>.<secret>
-- key_prefix is random, unique and stored in clear so a presented key can
-- be found with one index lookup; the API then compares SHA-256 of the
-- whole key with key_hash in constant time. The secret is never stored.
-- A key acts with (its scopes) INTERSECT (its owner's current permissions),
-- so revoking a role from the owner also narrows every key they hold.
--
-- Keys expire: 90 days after creation unless the API asks for less, and
-- never later than 366 days after creation (CHECK).
--
-- Requires: 001. Transactional, idempotent (re-running takes no lock the
-- application would wait for: index and trigger are created only when
-- missing), records its own schema_migrations row. Ownership and grants
-- are set up on first application only (no '004' row).
-- Rollback: rollback_004.sql (invalidates every API key).

\set ON_ERROR_STOP on

BEGIN;

-- Creating the foreign key to users locks users briefly (first
-- application only); fail fast, don't queue.
SET LOCAL lock_timeout = '5s';

DO $$
BEGIN
    IF to_regclass('users') IS NULL
       OR to_regclass('permissions') IS NULL
       OR to_regclass('schema_migrations') IS NULL THEN
        RAISE EXCEPTION 'migration 004 requires migration 001 (users, permissions, schema_migrations)'
            USING HINT = 'Apply 001_initial_schema.sql first.';
    END IF;
END;
$$;

CREATE TABLE IF NOT EXISTS api_keys (
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    -- CASCADE: a key is a credential of its owner; when the account is
    -- purged the key must stop existing, never outlive it as an orphan.
    -- (Soft-deleting or suspending a user does not touch keys; the API
    -- refuses keys whose owner is not active.)
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text        NOT NULL,
    key_prefix   text        NOT NULL,
    -- Lowercase hex SHA-256 of the full key. A fast hash is right here: the
    -- key is random with >= 128 bits of entropy, unlike a password.
    key_hash     text        NOT NULL,
    -- Permission names (permissions.name); checked on write by trigger.
    scopes       text[]      NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    -- Every key expires; 90 days (2160 hours) unless the API sets less.
    expires_at   timestamptz NOT NULL DEFAULT now() + interval '2160 hours',
    revoked_at   timestamptz,

    CONSTRAINT api_keys_pkey PRIMARY KEY (id),
    -- Also the lookup index: WHERE key_prefix = $1.
    CONSTRAINT api_keys_key_prefix_key UNIQUE (key_prefix),
    CONSTRAINT api_keys_name_length_chk CHECK (char_length(btrim(name)) BETWEEN 1 AND 100),
    CONSTRAINT api_keys_key_prefix_format_chk CHECK (key_prefix ~ '^[A-Za-z0-9_]{8,32}$'),
    CONSTRAINT api_keys_key_hash_format_chk CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    -- No NULL elements (they would make scope checks three-valued).
    CONSTRAINT api_keys_scopes_chk CHECK (
        cardinality(scopes) <= 64 AND array_position(scopes, NULL) IS NULL
    ),
    -- At most 366 days (8784 hours; hours, not days, so the bound does
    -- not depend on the session's TimeZone).
    CONSTRAINT api_keys_expiry_chk CHECK (
        expires_at > created_at AND expires_at <= created_at + interval '8784 hours'
    ),
    CONSTRAINT api_keys_revoked_chk CHECK (revoked_at IS NULL OR revoked_at >= created_at)
);

COMMENT ON TABLE api_keys IS
    'User API keys. Usable while revoked_at IS NULL AND expires_at > now(); at most 366 days.';
COMMENT ON COLUMN api_keys.key_hash IS
    'Lowercase hex SHA-256 of the full key; the key itself is never stored.';
COMMENT ON COLUMN api_keys.scopes IS
    'Permission names the key may use, further limited to the owner''s current permissions.';


-- Scope names must be known permissions. A CHECK cannot look at another
-- table and a foreign key cannot point from array elements, so a trigger
-- validates scopes on write. This is deliberately a write-time check only:
-- deleting a permission later leaves the name in existing keys, where it
-- grants nothing because the owner can no longer hold it.
CREATE OR REPLACE FUNCTION api_keys_validate_scopes() RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
DECLARE
    unknown text;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.scopes IS NOT DISTINCT FROM OLD.scopes THEN
        RETURN NEW;
    END IF;
    SELECT string_agg(DISTINCT s, ', ') INTO unknown
    FROM unnest(NEW.scopes) AS s
    WHERE NOT EXISTS (SELECT 1 FROM public.permissions p WHERE p.name = s);
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown API key scopes: %', unknown
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'api_keys_scopes_known',
                  TABLE = 'api_keys',
                  COLUMN = 'scopes',
                  HINT = 'Scopes must be permission names, e.g. users:read.';
    END IF;
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION api_keys_validate_scopes() IS
    'BEFORE INSERT/UPDATE trigger function: every scope must be a permissions.name.';

-- Indexes and trigger only when missing: CREATE INDEX IF NOT EXISTS and
-- CREATE TRIGGER lock api_keys even when there is nothing to do.
DO $$
BEGIN
    -- "Keys of user X" (settings page, revoke-all) and the ON DELETE CASCADE.
    IF to_regclass('api_keys_user_id_idx') IS NULL THEN
        CREATE INDEX api_keys_user_id_idx ON api_keys (user_id);
    END IF;
    -- Cleanup job: DELETE ... WHERE expires_at < now() - interval '...'.
    IF to_regclass('api_keys_expires_at_idx') IS NULL THEN
        CREATE INDEX api_keys_expires_at_idx ON api_keys (expires_at);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                   WHERE tgrelid = 'api_keys'::regclass AND tgname = 'api_keys_validate_scopes') THEN
        CREATE TRIGGER api_keys_validate_scopes
            BEFORE INSERT OR UPDATE OF scopes ON api_keys
            FOR EACH ROW
            EXECUTE FUNCTION api_keys_validate_scopes();
    END IF;
END;
$$;

-- First application only (no '004' row yet).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM schema_migrations WHERE version = '004') THEN
        RETURN;
    END IF;
    ALTER TABLE api_keys OWNER TO user_mgmt_owner;
    ALTER FUNCTION api_keys_validate_scopes() OWNER TO user_mgmt_owner;
    GRANT SELECT, INSERT, UPDATE, DELETE ON api_keys TO user_mgmt_app;
    -- Reporting sees which keys exist, not their hashes.
    GRANT SELECT (id, user_id, name, key_prefix, scopes, created_at, last_used_at,
                  expires_at, revoked_at)
        ON api_keys TO user_mgmt_readonly;
END;
$$;

INSERT INTO schema_migrations (version, description)
VALUES ('004', 'Add API keys')
ON CONFLICT (version) DO NOTHING;

-- Verification.
DO $$
BEGIN
    IF to_regclass('api_keys') IS NULL
       OR to_regclass('api_keys_key_prefix_key') IS NULL
       OR to_regclass('api_keys_user_id_idx') IS NULL
       OR to_regclass('api_keys_expires_at_idx') IS NULL THEN
        RAISE EXCEPTION 'migration 004 verification failed: api_keys or its indexes missing';
    END IF;
    IF NOT EXISTS (
        SELECT 1 FROM pg_trigger
        WHERE tgrelid = 'api_keys'::regclass AND tgname = 'api_keys_validate_scopes'
    ) THEN
        RAISE EXCEPTION 'migration 004 verification failed: trigger api_keys_validate_scopes missing';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM schema_migrations WHERE version = '004') THEN
        RAISE EXCEPTION 'migration 004 verification failed: schema_migrations row 004 missing';
    END IF;
END;
$$;

COMMIT;
