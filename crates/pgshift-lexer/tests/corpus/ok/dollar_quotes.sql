-- Untagged dollar quote with semicolons and quotes inside.
SELECT $$a; 'b'; "c"$$;

-- Tagged, with an untagged and a different tag inside (just content).
SELECT $body$ x $$ y $other$ z; $body$;

-- Mismatched closing tag is content: only $a$ ends it ("$delim$...$junk$delim$").
SELECT $a$ one $b$ two; $ba$a$;

-- $1 is a parameter, right next to a tagged dollar quote.
PREPARE q(text) AS SELECT $1$t$;$t$;

-- Identifiers may contain $, so a$$b and foo$bar do not start dollar quotes.
SELECT a$$b, foo$bar, x$ FROM t$1;

-- A $ followed by an identifier without a closing $ is just "$" then a word.
SELECT $foo + 1;

-- Tags follow identifier rules: $_t1$ is a tag, $1t$ is not.
SELECT $_t1$;$_t1$, $1t;
