# Operator precedence and every kind of term. `or` binds tighter than
# `and` in Polar: a and b or c is a and (b or c).
f(x) if a(x) and b(x) or c(x);
f(x) if (a(x) and b(x)) or c(x);
f(x) if a(x) or b(x) and c(x) or d(x);
f(x) if not a(x) or not (b(x) and c(x));
f(x) if not not a(x);
f(x) if x = 1 or x == 2 or x != 3 or x < 4 or x <= 5 or x > 6 or x >= 7;
f(x) if x in [1, 2, 3] and not x in [] and [x, 1] = [2, y];
f(x) if x matches User or x matches Integer;
f(x) if x = User{"alice"} or x = Integer{-3} or x = Boolean{false} or x = String{"s"};
f(x) if x = "quote \" backslash \\ newline \n tab \t" and x = "";
f(x) if x = -9223372036854775808 or x = 9223372036854775807 or x = +5;
f(x) if x < @current_unix_time;
f(_x, _) if g(_x, _);
g("literal", 42, true, false, User{"bob"}, ["list", 1], nested);
h(x) if
  # a comment inside a rule moves to its own line after the rule
  a(x) and b(x);
