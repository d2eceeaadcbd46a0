-- Health check: no index is left INVALID.
--
-- A CREATE INDEX CONCURRENTLY that fails (003_add_activity_indexes.sql
-- builds its indexes that way) leaves an INVALID index behind: it costs
-- writes on every insert and update but is never used for reads. Each row
-- returned is one such index and fails the check; drop it with the
-- statement shown, then run the migration again.
SELECT n.nspname AS schema,
       c.relname AS index,
       format('DROP INDEX CONCURRENTLY IF EXISTS %I.%I;', n.nspname, c.relname) AS fix
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT i.indisvalid
ORDER BY 1, 2;
