-- Doubled quotes in strings and identifiers.
SELECT 'it''s; fine' AS "say ""hi""; ok";

-- E'' strings: \' does not end the string.
SELECT E'don\'t; stop', e'back\\slash';

-- Without E, a backslash is ordinary (standard_conforming_strings = on).
SELECT 'C:\path\';

-- Unicode escapes, with UESCAPE as separate tokens.
SELECT U&'d\0061t\+000061; x', U&'d!0061t' UESCAPE '!', U&"d\0061t";

-- Bit, hex and national strings.
SELECT B'1010', X'1F;', N'national; text';

-- Adjacent string literals separated by a newline are one literal.
SELECT 'first; part'
  'second; part' -- comment between is allowed
-- and on its own line
  'third';

-- Without a newline they are two literals (a syntax error for the server).
SELECT 'a' 'b';
