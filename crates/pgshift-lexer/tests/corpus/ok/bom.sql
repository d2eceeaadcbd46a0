CREATE TABLE bom (id int);
SELECT 1;
