-- Migration: 20240101_001_create_accounts
-- pgshift: transaction = per-file

\set ON_ERROR_STOP on

CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE TABLE accounts (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email       text NOT NULL UNIQUE CHECK (email ~* '^[^@;]+@[^@;]+$'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    "Display Name" text
);

COMMENT ON TABLE accounts IS 'User accounts; one row per login.';

CREATE OR REPLACE FUNCTION touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    NEW.updated_at := now();  -- keep in sync; see $other$ docs
    RETURN NEW;
END;
$fn$;

CREATE TRIGGER accounts_touch BEFORE UPDATE ON accounts
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

INSERT INTO accounts (email) VALUES
    ('a@example.com'),
    ('b@example.com');

CREATE INDEX CONCURRENTLY IF NOT EXISTS accounts_created_idx
    ON accounts (created_at);
