;;
  ;  -- nothing here

SELECT 1;;
SELECT 'no semicolon at the end'
-- trailing comment
