-- Migration: 001
-- Description: Rollback of 001 (Initial schema creation)
-- Author: Database Specialist
-- Date: 2025-10-12
--
-- ###########################################################################
-- ##  WARNING: DESTRUCTIVE AND IRREVERSIBLE.                               ##
-- ##  This drops every table created by 001 WITH ALL OF ITS DATA:          ##
-- ##  all user accounts and password hashes, roles and permissions, role   ##
-- ##  assignments, sessions, reset/verification tokens and the ENTIRE      ##
-- ##  AUDIT LOG. Nothing can be recovered afterwards except from a backup. ##
-- ##  Take a backup (pg_dump) first. Never run this against production     ##
-- ##  unless you are deliberately decommissioning the service.             ##
-- ###########################################################################
--
-- Reverses 001_initial_schema.sql in dependency order (referencing tables
-- before referenced ones) and removes the '001' row from schema_migrations.
--
-- NOT removed, on purpose:
--   * schema_migrations: it is shared with pgshift and records the history
--     of every other migration (pgshift's own schema_migrations_* tables
--     stay too);
--   * the cluster roles user_mgmt_owner, user_mgmt_app and
--     user_mgmt_readonly: roles belong to the whole server, and other
--     databases on it may use them. Drop them by hand once no database
--     needs them (DROP ROLE fails while a role owns or may use anything).
-- The CREATE privilege 001 granted user_mgmt_owner on schema public is
-- revoked, so the schema is as it was before 001.
--
-- Refuses to run while a later migration (002, 003, ...) is still recorded
-- as applied: roll those back first, newest first.
--
-- Idempotent: every DROP uses IF EXISTS, so re-running is harmless. No
-- DROP ... CASCADE: if an object outside this migration set depends on
-- these tables, the rollback stops instead of silently destroying it.

\set ON_ERROR_STOP on

BEGIN;

SET LOCAL lock_timeout = '5s';

-- Refuse while later migrations are still applied (their objects depend on
-- these tables). Static SQL in an untaken PL/pgSQL branch is never planned,
-- so this also works when schema_migrations does not exist.
DO $$
DECLARE
    later text;
BEGIN
    IF to_regclass('schema_migrations') IS NOT NULL THEN
        SELECT string_agg(version, ', ' ORDER BY version) INTO later
        FROM schema_migrations
        WHERE version > '001';
        IF later IS NOT NULL THEN
            RAISE EXCEPTION 'cannot roll back 001: later migrations are still applied: %', later
                USING HINT = 'Run their rollback scripts first, newest first.';
        END IF;
    END IF;
END;
$$;

-- Leaf tables first. Their triggers and indexes go with them.
DROP TABLE IF EXISTS audit_log;
DROP TABLE IF EXISTS email_verification_tokens;
DROP TABLE IF EXISTS password_reset_tokens;
DROP TABLE IF EXISTS user_sessions;
DROP TABLE IF EXISTS user_roles;
DROP TABLE IF EXISTS role_permissions;
DROP TABLE IF EXISTS permissions;
DROP TABLE IF EXISTS roles;
DROP TABLE IF EXISTS users;

-- Functions, now that no trigger uses them. audit_log's partitions went
-- with it.
DROP FUNCTION IF EXISTS audit_log_redact_user(uuid);
DROP FUNCTION IF EXISTS audit_log_drop_partitions(interval);
DROP FUNCTION IF EXISTS audit_log_create_partitions(integer);
DROP FUNCTION IF EXISTS audit_log_reject_update();
DROP FUNCTION IF EXISTS set_updated_at();

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'user_mgmt_owner') THEN
        REVOKE CREATE ON SCHEMA public FROM user_mgmt_owner;
    END IF;
END;
$$;

-- Forget this migration (guarded: the table may not exist).
DO $$
BEGIN
    IF to_regclass('schema_migrations') IS NOT NULL THEN
        DELETE FROM schema_migrations WHERE version = '001';
    END IF;
END;
$$;

-- Verification.
DO $$
DECLARE
    remaining text;
BEGIN
    SELECT string_agg(t, ', ') INTO remaining
    FROM unnest(ARRAY[
        'users', 'roles', 'permissions', 'role_permissions', 'user_roles',
        'user_sessions', 'password_reset_tokens', 'email_verification_tokens',
        'audit_log'
    ]) AS t
    WHERE to_regclass(t) IS NOT NULL;
    IF remaining IS NOT NULL THEN
        RAISE EXCEPTION 'rollback 001 verification failed: tables still present: %', remaining;
    END IF;

    SELECT string_agg(f, ', ') INTO remaining
    FROM unnest(ARRAY[
        'set_updated_at()', 'audit_log_reject_update()',
        'audit_log_create_partitions(integer)', 'audit_log_drop_partitions(interval)',
        'audit_log_redact_user(uuid)'
    ]) AS f
    WHERE to_regprocedure(f) IS NOT NULL;
    IF remaining IS NOT NULL THEN
        RAISE EXCEPTION 'rollback 001 verification failed: functions still present: %', remaining;
    END IF;
END;
$$;

COMMIT;
