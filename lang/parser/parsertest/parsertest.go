// Package parsertest generates Polar policies of a chosen size, for
// benchmarks of the parser and of the checker that must measure the same
// input.
package parsertest

import (
	"fmt"
	"strings"
)

// Policy returns a policy with about rules rules: resource blocks, each
// with roles, permissions, a relation to the previous block, eight
// shorthand rules, twelve full rules of typical length with bodies mixing
// and, or, not, comparisons, in and matches, and a test per block. Every rule counts as
// one, shorthand or not. The output is valid Polar and deterministic.
func Policy(rules int) []byte {
	const perBlock = 20
	blocks := max(1, rules/perBlock)
	var b strings.Builder
	b.Grow(blocks * 2400)
	b.WriteString("# Generated policy.\nactor User {}\n\nglobal {\n  roles = [\"admin\"];\n}\n\n")
	for i := range blocks {
		parent := fmt.Sprintf("Res%d", max(i-1, 0))
		fmt.Fprintf(&b, "resource Res%d {\n", i)
		b.WriteString("  roles = [\"reader\", \"writer\", \"owner\"];\n")
		b.WriteString("  permissions = [\"read\", \"write\", \"delete\", \"share\"];\n")
		fmt.Fprintf(&b, "  relations = { parent: %s, creator: User };\n\n", parent)
		b.WriteString("  \"read\" if \"reader\";\n  \"write\" if \"writer\";\n  \"delete\" if \"owner\";\n")
		b.WriteString("  \"reader\" if \"writer\";\n  \"writer\" if \"owner\";\n  \"owner\" if \"creator\";\n")
		b.WriteString("  \"share\" if global \"admin\";\n  role if role on \"parent\";\n}\n\n")
		for j := range perBlock - 8 {
			fmt.Fprintf(&b, "has_permission(user: User, \"custom%d\", r: Res%d) if ", j, i)
			switch j % 4 {
			case 0:
				b.WriteString("has_role(user, \"reader\", r) and not is_banned(user);\n")
			case 1:
				fmt.Fprintf(&b, "has_tag(r, \"public\") or level(r, n) and n >= %d;\n", j)
			case 2:
				fmt.Fprintf(&b, "has_relation(r, \"parent\", p) and p matches %s and has_role(user, \"owner\", p);\n", parent)
			case 3:
				b.WriteString("kind(r, k) and k in [\"a\", \"b\"] and user = User{\"root\"};\n")
			}
		}
		fmt.Fprintf(&b, "\ntest \"res%d\" {\n  setup {\n    has_role(User{\"u%d\"}, \"owner\", Res%d{\"r\"});\n  }\n", i, i, i)
		fmt.Fprintf(&b, "  assert allow(User{\"u%d\"}, \"read\", Res%d{\"r\"});\n", i, i)
		fmt.Fprintf(&b, "  assert_not allow(User{\"other\"}, \"read\", Res%d{\"r\"});\n}\n\n", i)
	}
	return []byte(b.String())
}
