// Package printer prints an ast.File as canonical Polar.
//
// The canonical form: two-space indentation; a blank line between top-level
// items; inside a block the declarations (roles, permissions, relations)
// come as written, then a blank line, then the shorthand rules; rule bodies
// on one line unless the line would be long, when each conjunct of a
// top-level `and` gets its own line. Parentheses appear where precedence
// needs them (`and` < `or` < `not`: `(a and b) or c`, `not (a or b)`) and
// around an `or` inside an `and`: Polar reads `a and b or c` as
// `a and (b or c)`, and the parentheses say so to readers who expect
// otherwise. Comments keep their order: each is printed on its own
// line before the first item or line that followed it in the source,
// except that a comment at the end of a one-line item stays at the end of
// its line; a comment inside an item that spans lines moves after the
// item. Blank lines around comments between top-level items are kept, and
// so is a blank line between two items of a block or a test, so that groups
// stay groups.
//
// Printing is the inverse of package lang/parser: parsing the output gives
// the same tree (positions aside), and printing is idempotent.
package printer
