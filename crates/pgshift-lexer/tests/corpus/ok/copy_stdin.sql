COPY t (a, b) FROM stdin;
1	it's; not SQL
2	$$ /* -- \N
\.
SELECT 'after copy';
\copy t from stdin with csv
3,"x;y"
\.
copy t to stdout;
COPY (SELECT 1) TO STDOUT;
SELECT 'end';
