SELECT :foo, :'bar', :"baz", :{?qux};
SELECT arr[1:2], arr[lo:hi], x::int, y := 3;
SELECT ':not_a_var;', ":not_either;";
