SELECT E'escaped quote does not close: \';
SELECT 2;
