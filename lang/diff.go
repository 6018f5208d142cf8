package lang

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Diff is the structural difference between two programs: the blocks
// (actor and resource types, and the global block) added, removed or
// changed with their roles, permissions and relations, the rules added,
// removed or changed per predicate, and the test blocks added or removed.
// Formatting, comments and the order of rules do not count: rules are
// compared in their canonical form (Rule.String), shorthand rules
// expanded.
type Diff struct {
	Blocks []BlockDiff
	Rules  []RuleDiff
	// TestsAdded and TestsRemoved name test blocks, sorted.
	TestsAdded, TestsRemoved []string
}

// Change kinds of a block.
const (
	Added   = "added"
	Removed = "removed"
	Changed = "changed"
)

// BlockDiff is one block that differs.
type BlockDiff struct {
	Name string
	// Kind is "actor", "resource" or "global" (the kind in the newer
	// program, unless the block was removed).
	Kind string
	// Change is Added, Removed or Changed.
	Change string
	// KindBefore is set when the block changed kind (actor <-> resource).
	KindBefore string
	// Roles and Permissions added and removed, sorted.
	RolesAdded, RolesRemoved             []string
	PermissionsAdded, PermissionsRemoved []string
	// Relations added and removed ("name: Type"), and changed
	// ("name: Old -> New"), sorted.
	RelationsAdded, RelationsRemoved, RelationsChanged []string
}

// RuleDiff is the change in the rules of one predicate.
type RuleDiff struct {
	Pred Pred
	// Added and Removed rules, in their canonical form, each with the
	// shorthand it came from ("  # from ...") when it was one.
	Added, Removed []string
	// Changed pairs a removed and an added rule with the same head.
	Changed []RuleChange
}

// RuleChange is one rule whose body changed.
type RuleChange struct{ Before, After string }

// Empty reports whether the two programs are the same in structure.
func (d *Diff) Empty() bool {
	return len(d.Blocks) == 0 && len(d.Rules) == 0 && len(d.TestsAdded) == 0 && len(d.TestsRemoved) == 0
}

// DiffPrograms returns what changes from a to b.
func DiffPrograms(a, b *Program) *Diff {
	d := &Diff{Blocks: diffBlocks(a, b), Rules: diffRules(a, b)}
	d.TestsAdded, d.TestsRemoved = diffSets(testNames(a), testNames(b))
	return d
}

func blockKind(p *Program, name string) string {
	if t, ok := p.Types[name]; ok {
		if t.Kind == ActorType {
			return "actor"
		}
		return "resource"
	}
	return "global"
}

func diffBlocks(a, b *Program) []BlockDiff {
	names := map[string]bool{}
	for n := range a.Metadata.Resources {
		names[n] = true
	}
	for n := range b.Metadata.Resources {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	var out []BlockDiff
	for _, n := range sorted {
		ma, inA := a.Metadata.Resources[n]
		mb, inB := b.Metadata.Resources[n]
		bd := BlockDiff{Name: n, Change: Changed}
		switch {
		case !inA:
			bd.Change, bd.Kind = Added, blockKind(b, n)
		case !inB:
			bd.Change, bd.Kind = Removed, blockKind(a, n)
		default:
			bd.Kind = blockKind(b, n)
			if k := blockKind(a, n); k != bd.Kind {
				bd.KindBefore = k
			}
		}
		bd.RolesAdded, bd.RolesRemoved = diffSets(ma.Roles, mb.Roles)
		bd.PermissionsAdded, bd.PermissionsRemoved = diffSets(ma.Permissions, mb.Permissions)
		for name, ta := range ma.Relations {
			tb, ok := mb.Relations[name]
			switch {
			case !ok:
				bd.RelationsRemoved = append(bd.RelationsRemoved, name+": "+ta)
			case ta != tb:
				bd.RelationsChanged = append(bd.RelationsChanged, name+": "+ta+" -> "+tb)
			}
		}
		for name, tb := range mb.Relations {
			if _, ok := ma.Relations[name]; !ok {
				bd.RelationsAdded = append(bd.RelationsAdded, name+": "+tb)
			}
		}
		sort.Strings(bd.RelationsAdded)
		sort.Strings(bd.RelationsRemoved)
		sort.Strings(bd.RelationsChanged)
		if bd.Change == Changed && bd.KindBefore == "" && len(bd.RolesAdded)+len(bd.RolesRemoved)+len(bd.PermissionsAdded)+
			len(bd.PermissionsRemoved)+len(bd.RelationsAdded)+len(bd.RelationsRemoved)+len(bd.RelationsChanged) == 0 {
			continue
		}
		out = append(out, bd)
	}
	return out
}

// diffSets returns the strings of b not in a (added) and of a not in b
// (removed), sorted.
func diffSets(a, b []string) (added, removed []string) {
	for _, s := range b {
		if !slices.Contains(a, s) {
			added = append(added, s)
		}
	}
	for _, s := range a {
		if !slices.Contains(b, s) {
			removed = append(removed, s)
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	return added, removed
}

func testNames(p *Program) []string {
	out := make([]string, len(p.Tests))
	for i, t := range p.Tests {
		out[i] = t.Name
	}
	return out
}

// ruleText is a rule as a diff shows it: its canonical form, with the
// shorthand it came from.
func ruleText(r *Rule) string {
	s := r.String()
	if r.Text != "" && r.Text != s {
		s += "  # from " + r.Text
	}
	return s
}

// ruleHead is the head of r in canonical form (the rule up to " if ").
func ruleHead(r *Rule) string {
	h := *r
	h.Body = nil
	return h.String()
}

func diffRules(a, b *Program) []RuleDiff {
	preds := map[Pred]bool{}
	for p := range a.Rules {
		preds[p] = true
	}
	for p := range b.Rules {
		preds[p] = true
	}
	sorted := make([]Pred, 0, len(preds))
	for p := range preds {
		sorted = append(sorted, p)
	}
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].Name != sorted[j].Name {
			return sorted[i].Name < sorted[j].Name
		}
		return sorted[i].Arity < sorted[j].Arity
	})
	var out []RuleDiff
	for _, p := range sorted {
		ra, rb := a.Rules[p], b.Rules[p]
		inA, inB := map[string]int{}, map[string]int{}
		for _, r := range ra {
			inA[r.String()]++
		}
		for _, r := range rb {
			inB[r.String()]++
		}
		var removed, added []*Rule
		for _, r := range ra {
			if inB[r.String()] == 0 {
				removed = append(removed, r)
			}
		}
		for _, r := range rb {
			if inA[r.String()] == 0 {
				added = append(added, r)
			}
		}
		if len(removed)+len(added) == 0 {
			continue
		}
		rd := RuleDiff{Pred: p}
		used := make([]bool, len(added))
		for _, r := range removed {
			paired := false
			for j, s := range added {
				if !used[j] && ruleHead(r) == ruleHead(s) {
					used[j], paired = true, true
					rd.Changed = append(rd.Changed, RuleChange{Before: ruleText(r), After: ruleText(s)})
					break
				}
			}
			if !paired {
				rd.Removed = append(rd.Removed, ruleText(r))
			}
		}
		for j, s := range added {
			if !used[j] {
				rd.Added = append(rd.Added, ruleText(s))
			}
		}
		out = append(out, rd)
	}
	return out
}

// String prints the diff grouped by blocks, rules and tests; "" when it
// is empty. Lines start with + (added), - (removed) or ~ (changed).
func (d *Diff) String() string {
	var b strings.Builder
	if len(d.Blocks) > 0 {
		b.WriteString("blocks:\n")
	}
	for _, bd := range d.Blocks {
		mark := map[string]string{Added: "+", Removed: "-", Changed: "~"}[bd.Change]
		fmt.Fprintf(&b, "  %s %s %s", mark, bd.Kind, bd.Name)
		if bd.KindBefore != "" {
			fmt.Fprintf(&b, " (was %s %s)", bd.KindBefore, bd.Name)
		}
		b.WriteByte('\n')
		items := func(sign, what string, names []string) {
			for _, n := range names {
				fmt.Fprintf(&b, "      %s %s %q\n", sign, what, n)
			}
		}
		items("+", "role", bd.RolesAdded)
		items("-", "role", bd.RolesRemoved)
		items("+", "permission", bd.PermissionsAdded)
		items("-", "permission", bd.PermissionsRemoved)
		for _, r := range bd.RelationsAdded {
			fmt.Fprintf(&b, "      + relation %s\n", r)
		}
		for _, r := range bd.RelationsRemoved {
			fmt.Fprintf(&b, "      - relation %s\n", r)
		}
		for _, r := range bd.RelationsChanged {
			fmt.Fprintf(&b, "      ~ relation %s\n", r)
		}
	}
	if len(d.Rules) > 0 {
		b.WriteString("rules:\n")
	}
	for _, rd := range d.Rules {
		fmt.Fprintf(&b, "  %s\n", rd.Pred)
		for _, r := range rd.Removed {
			fmt.Fprintf(&b, "    - %s\n", r)
		}
		for _, r := range rd.Added {
			fmt.Fprintf(&b, "    + %s\n", r)
		}
		for _, c := range rd.Changed {
			fmt.Fprintf(&b, "    ~ %s\n      -> %s\n", c.Before, c.After)
		}
	}
	if len(d.TestsAdded)+len(d.TestsRemoved) > 0 {
		b.WriteString("tests:\n")
	}
	for _, t := range d.TestsAdded {
		fmt.Fprintf(&b, "  + %q\n", t)
	}
	for _, t := range d.TestsRemoved {
		fmt.Fprintf(&b, "  - %q\n", t)
	}
	return b.String()
}
