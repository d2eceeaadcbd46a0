\echo 'oops
SELECT 1;
\i "missing
SELECT 2;
