/* leading block comment; with a semicolon */
-- line comment; with a semicolon
SELECT 1 /* inline; */ + 2; -- trailing; comment

/* nested /* comments /* three deep; */ still; */ inside; */
SELECT 'after nested';

SELECT 3 +/* an operator followed by a comment start */4;
SELECT 4 --- three dashes start a comment too
;
/**/SELECT/**/5;
-- comment at end of file without a newline; SELECT 6;