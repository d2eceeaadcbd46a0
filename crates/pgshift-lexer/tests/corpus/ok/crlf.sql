-- Windows line endings
CREATE TABLE t (
  id int
);
\echo 'done'
INSERT INTO t VALUES (1);
SELECT 'a'
  'b';
