-- Migration: seed
-- Description: Development and test sample data (not a migration; never recorded in schema_migrations)
-- Author: Database Specialist
-- Date: 2026-11-27
--
-- Requires: migrations 001 and 002 applied.
--
-- ###########################################################################
-- ##  DEVELOPMENT / TEST ONLY. This file creates accounts whose passwords  ##
-- ##  are published below. It must never be loaded into production.       ##
-- ###########################################################################
--
-- Guard (first statement of the transaction). The file runs only where
-- the database says it is a development or test database, and otherwise
-- refuses, changing nothing. It runs when:
--   1. the setting app.environment is 'development' or 'test', from the
--      database or role (ALTER DATABASE / ALTER ROLE ... SET, the durable
--      way), or for the session (SET, or PGOPTIONS='-c app.environment=test'),
--      and no database- or role-level marking says 'production' or 'prod'
--      (that marking wins over any session setting); or
--   2. app.environment is not set at all and the database is a pgshift
--      scratch database (its comment starts with "pgshift scratch
--      database:"; `pgshift test` creates it, seeds it and drops it).
-- Anything else, an unmarked database in particular, is refused: a guard
-- that guesses from the data fails open on a new production database.
--
-- Development accounts (all @example.com, a domain reserved by RFC 2606).
-- Hashes are bcrypt, cost 12, generated with pgcrypto's
-- crypt(password, gen_salt('bf', 12)).
--   username  email                password         status / role
--   admin     admin@example.com    DevPass!admin    active, role admin
--   support   support@example.com  DevPass!support  active, role support
--   alice     alice@example.com    DevPass!alice    active, role user
--   bob       bob@example.com      DevPass!bob      suspended (locked), role user
--   carol     carol@example.com    DevPass!carol    pending_verification, role user
--   dave      dave@example.com     DevPass!dave     deactivated + soft-deleted, role user
--
-- Raw development tokens (only their SHA-256 is stored, as the API does):
--   refresh tokens:  dev-refresh-alice-laptop (active), dev-refresh-alice-phone
--                    (revoked), dev-refresh-admin-desktop (active),
--                    dev-refresh-bob-laptop (revoked), dev-refresh-support-old
--                    (expired)
--   email verification (carol, unused): dev-verify-carol
--   password reset (alice, already used): dev-reset-alice
-- Sessions last at most 90 days and verification tokens 7 days (CHECKs in
-- 001), so the active sessions and carol's token are created relative to
-- the time of the first load: 30 days and 7 days from then.
--
-- Idempotent: fixed UUIDs; fixed timestamps except those above. Users and
-- profiles are upserted (re-running resets them to the state documented
-- here; unchanged rows are not touched, so updated_at stays put); role
-- assignments, sessions and tokens use ON CONFLICT DO NOTHING (a re-run
-- keeps the first load's times); audit events are inserted only if their
-- details->>'seed_ref' is not already present (audit_log ids come from an
-- identity column, so they are not fixed). Running it twice leaves the same
-- rows. Audit events dated 2025 land in audit_log_default.
--
-- Usage:
--   psql -X -v ON_ERROR_STOP=1 -d user_management_dev -f migration_scripts/seed_data.sql
-- after, once per development database:
--   ALTER DATABASE user_management_dev SET app.environment = 'development';

\set ON_ERROR_STOP on

BEGIN;

-- ---------------------------------------------------------------------------
-- Guard: development or test databases only.
-- ---------------------------------------------------------------------------
DO $$
DECLARE
    env text := lower(btrim(coalesce(current_setting('app.environment', true), '')));
    scratch boolean;
BEGIN
    -- A database- or role-level 'production' marking wins even if this
    -- session overrides the setting (PGOPTIONS, SET): the marking is the
    -- deliberate, durable statement about what this database is.
    IF EXISTS (
        SELECT 1
        FROM pg_catalog.pg_db_role_setting s, unnest(s.setconfig) AS c (setting)
        WHERE s.setdatabase IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()))
          AND s.setrole IN (0, (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user))
          AND lower(c.setting) IN ('app.environment=production', 'app.environment=prod')
    ) THEN
        env := 'production';
    END IF;

    IF env IN ('development', 'test') THEN
        RETURN;
    END IF;

    IF env IN ('production', 'prod') THEN
        RAISE EXCEPTION 'seed_data.sql refused: this database is marked as production (app.environment = %)', env
            USING DETAIL = 'The seed creates accounts with published development passwords. Nothing was changed.',
                  HINT = 'Load sample data only into development or test databases.';
    END IF;

    IF env = '' THEN
        SELECT coalesce(pg_catalog.shobj_description(d.oid, 'pg_database'), '') LIKE 'pgshift scratch database:%'
        INTO scratch
        FROM pg_catalog.pg_database d
        WHERE d.datname = current_database();
        IF scratch THEN
            RETURN;
        END IF;
        RAISE EXCEPTION 'seed_data.sql refused: this database is not marked as a development or test database (app.environment is not set)'
            USING DETAIL = 'The seed creates accounts with published development passwords. Nothing was changed.',
                  HINT = format('Mark a development database once: ALTER DATABASE %I SET app.environment = ''development''; (or run with PGOPTIONS=''-c app.environment=development'').', current_database());
    END IF;

    RAISE EXCEPTION 'seed_data.sql refused: app.environment is %, not development or test', env
        USING DETAIL = 'The seed creates accounts with published development passwords. Nothing was changed.',
              HINT = 'Load sample data only into databases marked app.environment = ''development'' or ''test''.';
END;
$$;

-- ---------------------------------------------------------------------------
-- Prerequisites.
-- ---------------------------------------------------------------------------
DO $$
BEGIN
    IF to_regclass('users') IS NULL OR to_regclass('roles') IS NULL
       OR to_regclass('user_sessions') IS NULL OR to_regclass('audit_log') IS NULL THEN
        RAISE EXCEPTION 'seed_data.sql requires migration 001'
            USING HINT = 'Apply the migrations first (pgshift up, or psql -f each numbered file in order).';
    END IF;
    IF to_regclass('user_profiles') IS NULL THEN
        RAISE EXCEPTION 'seed_data.sql requires migration 002 (user_profiles)'
            USING HINT = 'Apply the migrations first (pgshift up, or psql -f each numbered file in order).';
    END IF;
    IF (SELECT count(*) FROM roles WHERE name IN ('admin', 'support', 'user')) <> 3 THEN
        RAISE EXCEPTION 'seed_data.sql requires the default roles admin, support and user (created by 001)';
    END IF;
END;
$$;

-- ---------------------------------------------------------------------------
-- Users. Seed UUIDs all start with 5eed0000-0000-4000-8000- (the guard
-- above relies on that prefix).
-- ---------------------------------------------------------------------------
INSERT INTO users (
    id, email, username, password_hash, display_name, status,
    email_verified_at, last_login_at, failed_login_count, locked_until,
    created_at, updated_at, deleted_at
) VALUES
    -- password: DevPass!admin
    ('5eed0000-0000-4000-8000-000000000001', 'admin@example.com', 'admin',
     '$2a$12$yblLy.Q7RwMrE0S9jhMlOOUsi6MBv5tyO.EZzNvrMItoc9Ghxp4Wq',
     'Ada Admin', 'active',
     '2025-10-12 09:00:30+00', '2025-10-14 07:55:00+00', 0, NULL,
     '2025-10-12 09:00:00+00', '2025-10-14 07:55:00+00', NULL),
    -- password: DevPass!support
    ('5eed0000-0000-4000-8000-000000000002', 'support@example.com', 'support',
     '$2a$12$cklBy4rQaVACUETHbW8sReL7fRR/HIdxVHMJVRnevCW8zZh2ugBDS',
     'Sam Support', 'active',
     '2025-10-12 09:15:00+00', '2025-10-14 10:10:00+00', 0, NULL,
     '2025-10-12 09:10:00+00', '2025-10-14 10:10:00+00', NULL),
    -- password: DevPass!alice
    ('5eed0000-0000-4000-8000-000000000003', 'alice@example.com', 'alice',
     '$2a$12$mwElEOe4e.z8rmAAoPXu6O1cJbPjjRnfttWKb1lzyfu6gdx6z4OF.',
     'Alice Example', 'active',
     '2025-10-12 10:05:00+00', '2025-10-14 08:00:00+00', 0, NULL,
     '2025-10-12 10:00:00+00', '2025-10-14 08:00:00+00', NULL),
    -- password: DevPass!bob  (suspended after repeated failed logins)
    ('5eed0000-0000-4000-8000-000000000004', 'bob@example.com', 'bob',
     '$2a$12$z4Xqko4aobC9mNTG3sGWyOvSdLYc0654pUM3P6vB.7uQFYtKhNo6O',
     'Bob Example', 'suspended',
     '2025-10-12 11:05:00+00', '2025-10-13 17:00:00+00', 5, '2025-10-14 10:30:00+00',
     '2025-10-12 11:00:00+00', '2025-10-14 10:20:00+00', NULL),
    -- password: DevPass!carol  (has not verified her email yet)
    ('5eed0000-0000-4000-8000-000000000005', 'carol@example.com', 'carol',
     '$2a$12$gOuOTQHnJF88E4JHhTgTtuO7zqAVSMnQufkrekACqGv5uTEgipctW',
     'Carol Example', 'pending_verification',
     NULL, NULL, 0, NULL,
     '2025-10-13 09:00:00+00', '2025-10-13 09:00:00+00', NULL),
    -- password: DevPass!dave  (closed his account: deactivated and soft-deleted)
    ('5eed0000-0000-4000-8000-000000000006', 'dave@example.com', 'dave',
     '$2a$12$rgoXLTx3B4D3sqEUUhQGzu64ndEeQxVkX9OgqDQ8UO2XKdXChKvwq',
     'Dave Example', 'deactivated',
     '2025-10-12 12:05:00+00', '2025-10-15 11:55:00+00', 0, NULL,
     '2025-10-12 12:00:00+00', '2025-10-15 12:00:00+00', '2025-10-15 12:00:00+00')
ON CONFLICT (id) DO UPDATE SET
    email              = EXCLUDED.email,
    username           = EXCLUDED.username,
    password_hash      = EXCLUDED.password_hash,
    display_name       = EXCLUDED.display_name,
    status             = EXCLUDED.status,
    email_verified_at  = EXCLUDED.email_verified_at,
    last_login_at      = EXCLUDED.last_login_at,
    failed_login_count = EXCLUDED.failed_login_count,
    locked_until       = EXCLUDED.locked_until,
    created_at         = EXCLUDED.created_at,
    deleted_at         = EXCLUDED.deleted_at;

-- ---------------------------------------------------------------------------
-- Role assignments. granted_by NULL = granted by the system at bootstrap.
-- ---------------------------------------------------------------------------
INSERT INTO user_roles (user_id, role_id, granted_at, granted_by)
SELECT v.user_id, r.id, v.granted_at, v.granted_by
FROM (VALUES
    ('5eed0000-0000-4000-8000-000000000001'::uuid, 'admin',   '2025-10-12 09:01:00+00'::timestamptz, NULL::uuid),
    ('5eed0000-0000-4000-8000-000000000002'::uuid, 'support', '2025-10-12 09:11:00+00'::timestamptz, '5eed0000-0000-4000-8000-000000000001'::uuid),
    ('5eed0000-0000-4000-8000-000000000003'::uuid, 'user',    '2025-10-12 10:00:00+00'::timestamptz, NULL::uuid),
    ('5eed0000-0000-4000-8000-000000000004'::uuid, 'user',    '2025-10-12 11:00:00+00'::timestamptz, NULL::uuid),
    ('5eed0000-0000-4000-8000-000000000005'::uuid, 'user',    '2025-10-13 09:00:00+00'::timestamptz, NULL::uuid),
    ('5eed0000-0000-4000-8000-000000000006'::uuid, 'user',    '2025-10-12 12:00:00+00'::timestamptz, NULL::uuid)
) AS v (user_id, role_name, granted_at, granted_by)
JOIN roles r ON r.name = v.role_name
ON CONFLICT (user_id, role_id) DO NOTHING;

-- ---------------------------------------------------------------------------
-- Profiles (migration 002). Users without a row get the defaults.
-- ---------------------------------------------------------------------------
INSERT INTO user_profiles (
    user_id, avatar_url, bio, locale, time_zone, date_format, time_format,
    first_day_of_week, created_at, updated_at
) VALUES
    ('5eed0000-0000-4000-8000-000000000001', NULL, 'Keeps the lights on.',
     'en-GB', 'Europe/London', 'DD/MM/YYYY', '24h', 1, '2025-10-12 09:00:00+00', '2025-10-12 09:00:00+00'),
    ('5eed0000-0000-4000-8000-000000000002', NULL, NULL,
     'de-DE', 'Europe/Berlin', 'DD.MM.YYYY', '24h', 1, '2025-10-12 09:10:00+00', '2025-10-12 09:10:00+00'),
    ('5eed0000-0000-4000-8000-000000000003', 'https://example.com/avatars/alice.png',
     'Hello, I am Alice.',
     'en-US', 'America/New_York', 'MM/DD/YYYY', '12h', 7, '2025-10-12 10:00:00+00', '2025-10-12 10:00:00+00')
ON CONFLICT (user_id) DO UPDATE SET
    avatar_url        = EXCLUDED.avatar_url,
    bio               = EXCLUDED.bio,
    locale            = EXCLUDED.locale,
    time_zone         = EXCLUDED.time_zone,
    date_format       = EXCLUDED.date_format,
    time_format       = EXCLUDED.time_format,
    first_day_of_week = EXCLUDED.first_day_of_week,
    created_at        = EXCLUDED.created_at;

-- ---------------------------------------------------------------------------
-- Sessions. Addresses are from the documentation ranges (RFC 5737 / 3849).
-- The active ones start at the first load and last 30 days (sessions may
-- last at most 90); the others are fixed and long over. A re-run leaves
-- them as the first load wrote them (ON CONFLICT DO NOTHING).
-- ---------------------------------------------------------------------------
INSERT INTO user_sessions (
    id, user_id, refresh_token_hash, created_at, last_used_at, expires_at,
    revoked_at, ip_address, user_agent
) VALUES
    ('5eed0001-0000-4000-8000-000000000001', '5eed0000-0000-4000-8000-000000000003',
     encode(sha256(convert_to('dev-refresh-alice-laptop', 'UTF8')), 'hex'),
     now(), now(), now() + interval '720 hours',
     NULL, '192.0.2.10', 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'),
    ('5eed0001-0000-4000-8000-000000000002', '5eed0000-0000-4000-8000-000000000003',
     encode(sha256(convert_to('dev-refresh-alice-phone', 'UTF8')), 'hex'),
     '2025-10-12 10:10:00+00', '2025-10-13 18:00:00+00', '2025-11-11 10:10:00+00',
     '2025-10-13 18:05:00+00', '2001:db8::10', 'UserManagementApp/1.4 (iPhone; iOS 18.0)'),
    ('5eed0001-0000-4000-8000-000000000003', '5eed0000-0000-4000-8000-000000000001',
     encode(sha256(convert_to('dev-refresh-admin-desktop', 'UTF8')), 'hex'),
     now(), now(), now() + interval '720 hours',
     NULL, '198.51.100.7', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15'),
    ('5eed0001-0000-4000-8000-000000000004', '5eed0000-0000-4000-8000-000000000004',
     encode(sha256(convert_to('dev-refresh-bob-laptop', 'UTF8')), 'hex'),
     '2025-10-13 17:00:00+00', '2025-10-13 17:30:00+00', '2025-11-12 17:00:00+00',
     '2025-10-14 10:20:00+00', '203.0.113.45', 'curl/8.5.0'),
    ('5eed0001-0000-4000-8000-000000000005', '5eed0000-0000-4000-8000-000000000002',
     encode(sha256(convert_to('dev-refresh-support-old', 'UTF8')), 'hex'),
     '2025-09-01 09:00:00+00', '2025-09-02 09:00:00+00', '2025-10-01 09:00:00+00',
     NULL, '198.51.100.20', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Gecko/20100101 Firefox/128.0')
ON CONFLICT (id) DO NOTHING;

-- ---------------------------------------------------------------------------
-- One-time tokens.
-- ---------------------------------------------------------------------------
INSERT INTO email_verification_tokens (id, user_id, email, token_hash, created_at, expires_at, used_at)
VALUES
    ('5eed0002-0000-4000-8000-000000000001', '5eed0000-0000-4000-8000-000000000005',
     'carol@example.com', encode(sha256(convert_to('dev-verify-carol', 'UTF8')), 'hex'),
     now(), now() + interval '168 hours', NULL)
ON CONFLICT (id) DO NOTHING;

INSERT INTO password_reset_tokens (id, user_id, token_hash, created_at, expires_at, used_at, requested_ip)
VALUES
    ('5eed0003-0000-4000-8000-000000000001', '5eed0000-0000-4000-8000-000000000003',
     encode(sha256(convert_to('dev-reset-alice', 'UTF8')), 'hex'),
     '2025-10-13 17:50:00+00', '2025-10-13 18:50:00+00', '2025-10-13 17:58:00+00', '2001:db8::10')
ON CONFLICT (id) DO NOTHING;

-- ---------------------------------------------------------------------------
-- Audit events. Each carries a unique details.seed_ref so that a re-run
-- inserts nothing new (ids come from an identity column and cannot be fixed
-- without skewing its sequence).
-- ---------------------------------------------------------------------------
INSERT INTO audit_log (
    occurred_at, actor_user_id, action, target_user_id, target_type, target_id,
    ip_address, user_agent, details
)
SELECT v.occurred_at, v.actor_user_id, v.action, v.target_user_id, v.target_type,
       v.target_id, v.ip_address, v.user_agent, v.details
FROM (VALUES
    ('2025-10-12 09:00:00+00'::timestamptz, NULL::uuid, 'user.created',
     '5eed0000-0000-4000-8000-000000000001'::uuid, NULL::text, NULL::text, NULL::inet, NULL::text,
     '{"seed_ref": "seed-audit-01", "via": "bootstrap"}'::jsonb),
    ('2025-10-12 09:01:00+00', NULL, 'role.granted',
     '5eed0000-0000-4000-8000-000000000001', 'role', 'admin', NULL, NULL,
     '{"seed_ref": "seed-audit-02", "via": "bootstrap"}'),
    ('2025-10-12 09:10:00+00', '5eed0000-0000-4000-8000-000000000001', 'user.created',
     '5eed0000-0000-4000-8000-000000000002', NULL, NULL, '198.51.100.7', NULL,
     '{"seed_ref": "seed-audit-03"}'),
    ('2025-10-12 09:11:00+00', '5eed0000-0000-4000-8000-000000000001', 'role.granted',
     '5eed0000-0000-4000-8000-000000000002', 'role', 'support', '198.51.100.7', NULL,
     '{"seed_ref": "seed-audit-04"}'),
    ('2025-10-12 10:00:00+00', '5eed0000-0000-4000-8000-000000000003', 'user.registered',
     '5eed0000-0000-4000-8000-000000000003', NULL, NULL, '192.0.2.10', NULL,
     '{"seed_ref": "seed-audit-05"}'),
    ('2025-10-12 10:05:00+00', '5eed0000-0000-4000-8000-000000000003', 'user.email_verified',
     '5eed0000-0000-4000-8000-000000000003', NULL, NULL, '192.0.2.10', NULL,
     '{"seed_ref": "seed-audit-06", "email": "alice@example.com"}'),
    ('2025-10-13 17:58:00+00', '5eed0000-0000-4000-8000-000000000003', 'user.password_reset_completed',
     '5eed0000-0000-4000-8000-000000000003', NULL, NULL, '2001:db8::10', NULL,
     '{"seed_ref": "seed-audit-07"}'),
    ('2025-10-13 18:05:00+00', '5eed0000-0000-4000-8000-000000000003', 'session.revoked',
     '5eed0000-0000-4000-8000-000000000003', 'session', '5eed0001-0000-4000-8000-000000000002',
     '2001:db8::10', NULL,
     '{"seed_ref": "seed-audit-08", "reason": "password_reset"}'),
    ('2025-10-14 08:00:00+00', '5eed0000-0000-4000-8000-000000000003', 'user.login_succeeded',
     '5eed0000-0000-4000-8000-000000000003', 'session', '5eed0001-0000-4000-8000-000000000001',
     '192.0.2.10', 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
     '{"seed_ref": "seed-audit-09"}'),
    ('2025-10-14 10:00:00+00', NULL, 'user.login_failed',
     '5eed0000-0000-4000-8000-000000000004', NULL, NULL, '203.0.113.45', 'curl/8.5.0',
     '{"seed_ref": "seed-audit-10", "reason": "bad_password", "failed_login_count": 5}'),
    ('2025-10-14 10:20:00+00', '5eed0000-0000-4000-8000-000000000002', 'user.suspended',
     '5eed0000-0000-4000-8000-000000000004', NULL, NULL, '198.51.100.20', NULL,
     '{"seed_ref": "seed-audit-11", "reason": "suspected credential stuffing"}'),
    ('2025-10-14 10:20:00+00', '5eed0000-0000-4000-8000-000000000002', 'session.revoked',
     '5eed0000-0000-4000-8000-000000000004', 'session', '5eed0001-0000-4000-8000-000000000004',
     '198.51.100.20', NULL,
     '{"seed_ref": "seed-audit-12", "reason": "account_suspended"}'),
    ('2025-10-15 12:00:00+00', '5eed0000-0000-4000-8000-000000000006', 'user.deactivated',
     '5eed0000-0000-4000-8000-000000000006', NULL, NULL, '192.0.2.77', NULL,
     '{"seed_ref": "seed-audit-13", "reason": "user_request"}')
) AS v (occurred_at, actor_user_id, action, target_user_id, target_type, target_id,
        ip_address, user_agent, details)
WHERE NOT EXISTS (
    SELECT 1 FROM audit_log a WHERE a.details ->> 'seed_ref' = v.details ->> 'seed_ref'
)
ORDER BY v.occurred_at, v.details ->> 'seed_ref';

-- ---------------------------------------------------------------------------
-- Verification.
-- ---------------------------------------------------------------------------
DO $$
BEGIN
    IF (SELECT count(*) FROM users WHERE id::text LIKE '5eed0000-0000-4000-8000-%') <> 6 THEN
        RAISE EXCEPTION 'seed verification failed: expected 6 seed users';
    END IF;
    IF (SELECT count(*) FROM user_roles WHERE user_id::text LIKE '5eed0000-0000-4000-8000-%') <> 6 THEN
        RAISE EXCEPTION 'seed verification failed: expected 6 seed role assignments';
    END IF;
    IF (SELECT count(*) FROM audit_log WHERE details ->> 'seed_ref' LIKE 'seed-audit-%') <> 13 THEN
        RAISE EXCEPTION 'seed verification failed: expected 13 seed audit events';
    END IF;
END;
$$;

COMMIT;
