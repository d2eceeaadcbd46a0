CREATE OR REPLACE FUNCTION add_one(i integer) RETURNS integer AS $$
BEGIN
    RETURN i + 1;
END;
$$ LANGUAGE plpgsql;

DO $$
BEGIN
    RAISE NOTICE 'in a DO block; semicolons are content';
END
$$;

CREATE FUNCTION classify(n int) RETURNS text
LANGUAGE SQL
BEGIN ATOMIC
    SELECT CASE WHEN n < 0 THEN 'negative' ELSE 'non-negative' END;
    SELECT 'second statement in the body';
END;

CREATE OR REPLACE PROCEDURE insert_two(a int, b int)
LANGUAGE SQL
BEGIN ATOMIC
  INSERT INTO t VALUES (a);
  INSERT INTO t VALUES (b);
END;

create procedure lower_case()
language sql
begin atomic
  select 1;
  select case 1 when 1 then 2 end;
end;

-- Not a function: BEGIN here is transaction control.
BEGIN;
SELECT 1;
END;

-- CREATE TABLE ... does not enable BEGIN/END tracking.
CREATE TABLE begin_end (begin int, "end" int);
