\\ swallowed line; SELECT 0;
SELECT 1 \
SELECT 2;
\
