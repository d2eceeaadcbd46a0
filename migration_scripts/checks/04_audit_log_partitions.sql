-- Health check: audit_log has a partition for this month and the next.
--
-- audit_log is partitioned by month (001). Rows for a month without its
-- partition land in audit_log_default, which retention never drops, and
-- creating that month's partition later fails once the default holds
-- rows of it. Each missing month fails the check; the fix is the monthly
-- job it names (it runs as user_mgmt_owner):
--   SELECT audit_log_create_partitions();
-- Skipped before 001 and after rolling it back.
DO $$
DECLARE
    missing text;
BEGIN
    IF to_regclass('public.audit_log') IS NULL THEN
        RETURN;
    END IF;
    SELECT string_agg(expected, ', ') INTO missing
    FROM (
        SELECT 'audit_log_p' || to_char(date_trunc('month', now() AT TIME ZONE 'UTC')
                                        + make_interval(months => m), 'YYYYMM') AS expected
        FROM generate_series(0, 1) AS m
    ) AS months
    WHERE NOT EXISTS (
        SELECT 1
        FROM pg_catalog.pg_inherits i
        JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'public.audit_log'::regclass AND c.relname = months.expected
    );
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'audit_log has no partition for: %', missing
            USING HINT = 'Run SELECT audit_log_create_partitions(); and schedule it monthly.';
    END IF;
END
$$;
