-- Health check: the roles of this set have no more rights than they need.
--
-- Fails when:
--   * user_mgmt_app can UPDATE, DELETE or TRUNCATE audit_log or any of its
--     partitions (audit rows are evidence; retention and redaction go
--     through SECURITY DEFINER functions);
--   * user_mgmt_app or user_mgmt_readonly owns a table, view, sequence or
--     function in public, or is a member of a role that does (an owner can
--     ALTER, TRUNCATE and DISABLE TRIGGER whatever its grants say);
--   * user_mgmt_readonly can write to any table in public;
--   * a SECURITY DEFINER function in public can be called by PUBLIC, or
--     does not pin its search_path.
-- Roles that do not exist (before 001 ever ran) are skipped.
DO $$
DECLARE
    problems text[] := '{}';
    found record;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'user_mgmt_app')
       AND to_regclass('public.audit_log') IS NOT NULL THEN
        FOR found IN
            SELECT c.oid::regclass::text AS rel
            FROM pg_catalog.pg_class c
            WHERE c.oid = 'public.audit_log'::regclass
               OR c.oid IN (SELECT inhrelid FROM pg_catalog.pg_inherits
                            WHERE inhparent = 'public.audit_log'::regclass)
            ORDER BY 1
        LOOP
            IF has_table_privilege('user_mgmt_app', found.rel, 'UPDATE')
               OR has_table_privilege('user_mgmt_app', found.rel, 'DELETE')
               OR has_table_privilege('user_mgmt_app', found.rel, 'TRUNCATE') THEN
                problems := problems || format('user_mgmt_app can UPDATE, DELETE or TRUNCATE %s', found.rel);
            END IF;
        END LOOP;
    END IF;

    FOR found IN
        SELECT r.rolname::text AS role_name, c.oid::regclass::text AS rel, c.relowner::regrole::text AS owner
        FROM pg_catalog.pg_roles r
        CROSS JOIN pg_catalog.pg_class c
        WHERE r.rolname IN ('user_mgmt_app', 'user_mgmt_readonly')
          AND c.relnamespace = 'public'::regnamespace
          AND pg_has_role(r.oid, c.relowner, 'USAGE')
        UNION ALL
        SELECT r.rolname::text, p.oid::regprocedure::text, p.proowner::regrole::text
        FROM pg_catalog.pg_roles r
        CROSS JOIN pg_catalog.pg_proc p
        WHERE r.rolname IN ('user_mgmt_app', 'user_mgmt_readonly')
          AND p.pronamespace = 'public'::regnamespace
          AND pg_has_role(r.oid, p.proowner, 'USAGE')
        ORDER BY 1, 2
    LOOP
        problems := problems || format('%s owns %s (owner %s)', found.role_name, found.rel, found.owner);
    END LOOP;

    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'user_mgmt_readonly') THEN
        FOR found IN
            SELECT c.oid::regclass::text AS rel
            FROM pg_catalog.pg_class c
            WHERE c.relnamespace = 'public'::regnamespace
              AND c.relkind IN ('r', 'p')
              AND has_table_privilege('user_mgmt_readonly', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')
            ORDER BY 1
        LOOP
            problems := problems || format('user_mgmt_readonly can write to %s', found.rel);
        END LOOP;
    END IF;

    FOR found IN
        SELECT p.oid::regprocedure::text AS fn,
               has_function_privilege('public', p.oid, 'EXECUTE') AS public_may_call,
               NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) AS c (setting)
                           WHERE c.setting LIKE 'search_path=%') AS open_search_path
        FROM pg_catalog.pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND p.prosecdef
        ORDER BY 1
    LOOP
        IF found.public_may_call THEN
            problems := problems || format('PUBLIC may call SECURITY DEFINER function %s', found.fn);
        END IF;
        IF found.open_search_path THEN
            problems := problems || format('SECURITY DEFINER function %s does not SET search_path', found.fn);
        END IF;
    END LOOP;

    IF cardinality(problems) > 0 THEN
        RAISE EXCEPTION 'least privilege violated: %', array_to_string(problems, '; ')
            USING HINT = 'Revoke the extra rights (see migration_scripts/README.md, "Roles and privileges").';
    END IF;
END
$$;
