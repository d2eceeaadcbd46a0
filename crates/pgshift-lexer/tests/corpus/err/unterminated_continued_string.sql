SELECT 'first part'
  'second part;
SELECT 2;
