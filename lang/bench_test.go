package lang

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/castellan-authz/castellan/lang/parser"
	"github.com/castellan-authz/castellan/lang/term"
)

// generatedPolicy returns a policy of blocks resources, each with roles,
// permissions, a parent relation and 15 shorthand rules, plus 5 full rules
// per block: 20 rules per block before the derived allow.
func generatedPolicy(blocks int) []byte {
	var b strings.Builder
	b.WriteString("actor User {}\nactor Group {}\nglobal {\n  roles = [\"admin\"];\n}\n")
	for i := range blocks {
		fmt.Fprintf(&b, "resource R%d {\n", i)
		b.WriteString("  roles = [\"viewer\", \"editor\", \"owner\"];\n")
		b.WriteString("  permissions = [\"read\", \"write\", \"delete\", \"share\", \"audit\"];\n")
		parent := i - 1
		if parent < 0 {
			parent = 0
		}
		fmt.Fprintf(&b, "  relations = { parent: R%d, creator: User };\n", parent)
		b.WriteString(`  "read" if "viewer";
  "write" if "editor";
  "delete" if "owner";
  "share" if "owner";
  "audit" if global "admin";
  "viewer" if "editor";
  "editor" if "owner";
  "owner" if "creator";
  "viewer" if "viewer" on "parent";
  "editor" if "editor" on "parent";
  "owner" if "owner" on "parent";
  "read" if "read" on "parent";
  "audit" if "audit" on "parent";
  "delete" if "creator";
  role if role on "parent";
}
`)
		fmt.Fprintf(&b, `has_permission(user: User, "read", r: R%[1]d) if is_public(r, true) and not is_banned(user);
has_role(user: User, role: String, r: R%[1]d) if g matches Group and has_group(user, g) and has_role(g, role, r);
has_permission(user: User, action: String, r: R%[1]d) if
  action in ["read", "share"] and (shared_with(r, user) or shared_with_all(r, true));
has_permission(_: User, "read", r: R%[1]d) if expires_at(r, t) and @current_unix_time < t;
allow(user: User, "inspect", r: R%[1]d) if has_permission(user, "audit", r) and not is_frozen(r, true);
`, i)
	}
	return []byte(b.String())
}

func BenchmarkCompile(b *testing.B) {
	src := generatedPolicy(100)
	prog, err := Compile(File{Filename: "gen.polar", Src: src})
	if err != nil {
		b.Fatal(err)
	}
	rules := 0
	for _, rs := range prog.Rules {
		rules += len(rs)
	}
	b.ReportMetric(float64(rules), "rules")
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(File{Filename: "gen.polar", Src: src}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompileSample compiles a policy of the size of Oso's samples:
// the GitCloud-style testdata/policies/gitcloud.polar, 114 lines.
func BenchmarkCompileSample(b *testing.B) {
	src, err := os.ReadFile("testdata/policies/gitcloud.polar")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(File{Filename: "gitcloud.polar", Src: src}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestGeneratedPolicyCompiles(t *testing.T) {
	prog, err := Compile(File{Filename: "gen.polar", Src: generatedPolicy(3)})
	if err != nil {
		t.Fatal(err)
	}
	rules := 0
	for _, rs := range prog.Rules {
		rules += len(rs)
	}
	if want := 3*20 + 1; rules != want {
		t.Errorf("generated %d rules, want %d", rules, want)
	}
}

// BenchmarkCheck measures the checker alone, on files parsed once.
func BenchmarkCheck(b *testing.B) {
	src := generatedPolicy(100)
	f, err := parser.Parse("gen.polar", src)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Check(f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckFact measures validating one fact against the generated
// policy (has_role/3 has one argument-type tuple per block).
func BenchmarkCheckFact(b *testing.B) {
	prog, err := Compile(File{Filename: "gen.polar", Src: generatedPolicy(100)})
	if err != nil {
		b.Fatal(err)
	}
	facts := []term.Fact{
		{Predicate: "has_role", Args: []term.Value{term.Entity("User", "alice"), term.String("viewer"), term.Entity("R99", "x")}},
		{Predicate: "has_relation", Args: []term.Value{term.Entity("R50", "a"), term.String("parent"), term.Entity("R49", "b")}},
		{Predicate: "is_public", Args: []term.Value{term.Entity("R7", "a"), term.Bool(true)}},
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range facts {
			if err := prog.CheckFact(f); err != nil {
				b.Fatal(err)
			}
		}
	}
}
