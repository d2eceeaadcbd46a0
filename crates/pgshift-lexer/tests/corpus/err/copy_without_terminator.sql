COPY t FROM STDIN;
1	x
2	y; SELECT 'swallowed as data';
