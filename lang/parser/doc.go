// Package parser turns Polar source (the Oso Cloud dialect) into an ast.File.
//
// The pipeline is: scan (a hand-written scanner producing participle tokens
// and collecting comments), split (the tokens are cut into top-level items:
// blocks, rules, declarations, tests and fixtures), then one participle/v2
// grammar per kind of item, with block bodies and the expression language
// (rule bodies, arguments, lists) parsed by hand through participle's
// Parseable interface for speed, and the result converted into the
// lang/ast tree with positions. Splitting first is what lets Parse report
// one error per broken item instead of stopping at the first: after a
// syntax error it resynchronises at the next item (the ';' or '}' that ends
// the item at depth 0, or a line that can only start a new item, such as
// `resource Name {`).
//
// Operator precedence follows Polar, loosest first:
//
//	and  <  or  <  not  <  = == != < <= > >= in matches
//
// so `a and b or c` is `a and (b or c)`. Conjunctions and disjunctions are
// n-ary and flattened; parentheses are not kept in the tree.
//
// Every error is an *ast.Error (`file:line:col: message`, often with a
// hint) collected in a sorted ast.ErrorList. Constructs of open-source Polar
// that Oso Cloud does not support (`type`, `cut`, `forall`, `debug`,
// `print`, `?=`, field access, arithmetic, floats, dictionaries) get an error
// saying so. Nesting deeper than Config.MaxDepth is an error, and no input
// makes Parse panic (it is fuzzed by FuzzParse).
//
// The inverse is package lang/printer: parsing what it prints gives back the
// same tree.
package parser
