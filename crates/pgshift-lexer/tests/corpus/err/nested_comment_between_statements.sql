CREATE TABLE a (i int);
/* see /* old note */
CREATE TABLE b (i int);
