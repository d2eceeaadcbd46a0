-- psql does not end a statement at a ; inside parentheses.
CREATE RULE log_insert AS ON INSERT TO t DO ALSO (
    INSERT INTO log VALUES (1);
    INSERT INTO log VALUES (2)
);

SELECT ((1);
SELECT 2));
SELECT 3;
