\set ON_ERROR_STOP on
\echo 'hello world'
\i other.sql
\ir sub/x.sql
\include_relative 'dir with space/y.sql';
\set greeting 'it''s' "quoted ident" `date`
SELECT :'greeting', :"ident", :plain;
\if :is_prod
\echo production
\endif

-- A meta-command in the middle of a statement: psql runs it at once and
-- keeps collecting the statement.
SELECT 1,
\echo in the middle
  2;

-- \\ separates a meta-command from SQL on the same line.
\set x 1 \\ SELECT :x;

-- Two meta-commands on one line.
\echo a \echo b

-- \g sends the statement collected so far.
SELECT 42 \g
SELECT 'abc' AS col \gset pre_

-- \r discards the statement collected so far.
SELECT 'discarded'
\r
SELECT 'kept';

-- \; puts a literal semicolon into the statement without ending it.
SELECT 1 \; SELECT 2;

\copy t (a, b) to 'out.csv' with csv
\! echo "shell; not run" \\ not a separator here
