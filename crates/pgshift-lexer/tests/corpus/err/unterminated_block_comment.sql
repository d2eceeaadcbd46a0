SELECT 1;
SELECT 2 /* nested /* closed */ but outer never;
SELECT 3;
