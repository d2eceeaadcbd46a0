-- Health check: no index on users covers a column every login writes.
--
-- A login updates last_login_at (and failed_login_count, locked_until;
-- the trigger sets updated_at). While none of these is in an index (as a
-- key, in an expression or in a partial-index predicate), the update is
-- HOT: no index entries are written. One such index makes every login
-- write every index of users (issue 15: 193 of 200 login updates were HOT
-- before users_last_login_at_idx, 0 after). Each row returned is one such
-- index and fails the check; drop it with the statement shown.
SELECT i.indexrelid::regclass::text AS index,
       a.attname::text AS login_column,
       format('DROP INDEX CONCURRENTLY IF EXISTS %s;', i.indexrelid::regclass) AS fix
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid
WHERE i.indrelid = to_regclass('public.users')
  AND a.attname IN ('last_login_at', 'failed_login_count', 'locked_until', 'updated_at')
  AND (a.attnum = ANY (i.indkey)
       OR pg_catalog.pg_get_expr(i.indexprs, i.indrelid) ~ ('\m' || a.attname || '\M')
       OR pg_catalog.pg_get_expr(i.indpred, i.indrelid) ~ ('\m' || a.attname || '\M'))
ORDER BY 1, 2;
