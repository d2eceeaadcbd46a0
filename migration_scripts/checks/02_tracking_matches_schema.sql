-- Health check: what schema_migrations says is applied really exists.
--
-- For each applied version, the main object it creates must be there (003
-- creates nothing: it only drops an index). A
-- row without its objects means the tracking table and the schema drifted
-- apart (a table dropped by hand, a rollback run with plain psql that
-- forgot its row, a restore of only part of a backup). Versions that are
-- not applied are not checked: the migrations are idempotent and may have
-- been applied by hand ahead of the table.
DO $$
DECLARE
    expected record;
    missing text[] := '{}';
BEGIN
    IF to_regclass('public.schema_migrations') IS NULL THEN
        RETURN;  -- nothing applied yet
    END IF;
    FOR expected IN
        SELECT * FROM (VALUES
            ('001', 'public.users'),
            ('001', 'public.roles'),
            ('001', 'public.audit_log'),
            ('001', 'public.audit_log_default'),
            ('002', 'public.user_profiles'),
            ('002', 'public.time_zones'),
            ('004', 'public.api_keys')
        ) AS v(version, relation)
    LOOP
        IF EXISTS (SELECT 1 FROM public.schema_migrations
                   WHERE ltrim(version, '0') = ltrim(expected.version, '0'))
           AND to_regclass(expected.relation) IS NULL THEN
            missing := missing || format('%s (migration %s)', expected.relation, expected.version);
        END IF;
    END LOOP;
    IF cardinality(missing) > 0 THEN
        RAISE EXCEPTION 'applied migrations are missing their objects: %', array_to_string(missing, ', ')
            USING HINT = 'restore the objects, or roll the migration back and apply it again';
    END IF;
END
$$;
