// Package parser turns Polar source (the Oso Cloud dialect) into an ast.File.
//
// The pipeline is:
//
//  1. scan (lexer.go): a hand-written scanner produces participle tokens,
//     collects comments and reports lexical errors;
//  2. split (parser.go): the tokens are cut into top-level items (blocks,
//     rules, declarations, tests and fixtures) by counting brackets and
//     ';' and by the words that can only start an item; the splitter does
//     not parse;
//  3. parse: each item goes through the participle/v2 parser for its kind,
//     built from the one grammar in grammar.go (struct tags, LL(1), no
//     lookahead; the expression and value productions, condition, atom,
//     term, arguments and list, are participle Parseable nodes in
//     values.go, for speed, and parsed nowhere else);
//  4. convert (convert.go): the grammar's structs become the lang/ast tree
//     with positions, and what the grammar lets through but Polar does not
//     (a missing ',', a call used as a value, an unknown declaration, ...)
//     is reported.
//
// Splitting first is what lets Parse report one error per broken item
// instead of stopping at the first: after a syntax error it resynchronises
// at the next item (the ';' or '}' that ends the item at depth 0, or a line
// that can only start a new item, such as `resource Name {`). Inside an
// actor, resource or global block, the broken block item is dropped and the
// block parsed again, so each broken block item gets its own error.
//
// Syntax errors come from participle's typed errors: the unexpected token
// of a participle.UnexpectedTokenError, and what the grammar expected
// there, learnt by asking the grammar itself (errors.go puts probe tokens
// in place of the unexpected one and parses again). The message names the
// token found and what was expected, and a hint is added where one helps
// (a forgotten ';', a misspelt keyword, a reserved word used as a name).
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
