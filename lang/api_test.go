package lang

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/castellan-authz/castellan/lang/ast"
	"github.com/castellan-authz/castellan/lang/term"
)

// mustCompile compiles one source or fails the test.
func mustCompile(tb testing.TB, src string) *Program {
	tb.Helper()
	prog, err := Compile(File{Filename: "test.polar", Src: []byte(src)})
	if err != nil {
		var l ast.ErrorList
		if errors.As(err, &l) {
			tb.Fatalf("compile:\n%s", l.Full())
		}
		tb.Fatal(err)
	}
	return prog
}

const typesPolicy = `
actor User {}
actor Bot extends User {}
resource Document { roles = ["viewer"]; permissions = ["read"]; "read" if "viewer"; }
resource Sheet extends Document {}
resource Pivot extends Sheet {}
resource Robot extends Bot {}
`

func TestTypeMatches(t *testing.T) {
	p := mustCompile(t, typesPolicy)
	tests := []struct {
		value, constraint string
		want              bool
	}{
		{"User", "", true},
		{"User", "User", true},
		{"User", "Actor", true},
		{"Bot", "Actor", true},
		{"Bot", "User", true},
		{"User", "Bot", false},
		{"User", "Resource", true}, // Actor extends Resource
		{"Document", "Resource", true},
		{"Document", "Actor", false},
		{"Sheet", "Document", true},
		{"Pivot", "Document", true},
		{"Document", "Sheet", false},
		{"Team", "Team", true},
		{"Team", "Actor", false},
		{"Team", "Resource", false},
		{"String", "String", true},
		{"String", "Resource", false},
		{"Integer", "String", false},
		{"Actor", "Resource", true},
		{"Robot", "Actor", true}, // extends an actor type
		{"Robot", "User", true},
		{"Robot", "Resource", true},
		{"Resource", "Actor", false},
	}
	for _, tc := range tests {
		if got := p.TypeMatches(tc.value, tc.constraint); got != tc.want {
			t.Errorf("TypeMatches(%q, %q) = %v, want %v", tc.value, tc.constraint, got, tc.want)
		}
	}
	for typ, want := range map[string][2]bool{"User": {true, false}, "Bot": {true, false}, "Sheet": {false, true}, "Team": {false, false}} {
		if got := [2]bool{p.IsActorType(typ), p.IsResourceType(typ)}; got != want {
			t.Errorf("%s: (IsActorType, IsResourceType) = %v, want %v", typ, got, want)
		}
	}
	// Inherited declarations are visible on the subtype.
	if diff := cmp.Diff([]string{"viewer"}, p.Types["Pivot"].Roles); diff != "" {
		t.Errorf("Pivot roles (-want +got):\n%s", diff)
	}
}

const factPolicy = `
actor User {}
actor Group {}
resource Organization { roles = ["member"]; permissions = ["read"]; "read" if "member"; }
resource Repository {
  roles = ["reader"];
  permissions = ["read"];
  relations = { organization: Organization };
  "read" if "reader";
  "reader" if "member" on "organization";
}
global { roles = ["admin"]; }
has_permission(_: User, "read", repo: Repository) if is_public(repo, true) and has_role(_, "admin");
has_role(user: User, role: String, org: Organization) if has_group(user, g) and g matches Group and has_role(g, role, org);
declare is_weird(Integer, String, Boolean);
only_rules(x: User) if x matches User;
`

func TestCheckFact(t *testing.T) {
	p := mustCompile(t, factPolicy)
	u, org, repo := term.Entity("User", "a"), term.Entity("Organization", "o"), term.Entity("Repository", "r")
	tests := []struct {
		name string
		fact term.Fact
		want string // substring of the error, "" for accepted
	}{
		{"role on org", term.Fact{Predicate: "has_role", Args: []term.Value{u, term.String("member"), org}}, ""},
		{"role on repo", term.Fact{Predicate: "has_role", Args: []term.Value{u, term.String("reader"), repo}}, ""},
		{"group role", term.Fact{Predicate: "has_role", Args: []term.Value{term.Entity("Group", "g"), term.String("member"), org}}, ""},
		{"global role", term.Fact{Predicate: "has_role", Args: []term.Value{u, term.String("admin")}}, ""},
		{"relation", term.Fact{Predicate: "has_relation", Args: []term.Value{repo, term.String("organization"), org}}, ""},
		{"boolean attribute", term.Fact{Predicate: "is_public", Args: []term.Value{repo, term.Bool(true)}}, ""},
		{"declared", term.Fact{Predicate: "is_weird", Args: []term.Value{term.Integer(1), term.String("x"), term.Bool(false)}}, ""},
		{"membership", term.Fact{Predicate: "has_group", Args: []term.Value{u, term.Entity("Group", "g")}}, ""},
		{"wrong resource type", term.Fact{Predicate: "has_role", Args: []term.Value{u, term.String("member"), term.Entity("Team", "x")}},
			`has_role/3 expects (Actor, String, Organization | Repository); argument 3 is Team{"x"}`},
		{"wrong relation target", term.Fact{Predicate: "has_relation", Args: []term.Value{repo, term.String("organization"), repo}},
			`has_relation/3 expects (Repository, String, Organization); argument 3 is Repository{"r"}`},
		{"wrong primitive", term.Fact{Predicate: "is_public", Args: []term.Value{repo, term.String("yes")}},
			`argument 2 is "yes"`},
		{"unknown predicate", term.Fact{Predicate: "does_not_exist", Args: []term.Value{u, u}},
			"unknown predicate does_not_exist/2: the policy neither uses nor declares it"},
		{"predicate typo", term.Fact{Predicate: "has_relaton", Args: []term.Value{repo, term.String("organization"), org}},
			"unknown predicate has_relaton/3: the policy neither uses nor declares it; did you mean has_relation?"},
		{"a String where a Boolean is expected", term.Fact{Predicate: "is_public", Args: []term.Value{repo, term.String("true")}},
			`argument 2 is "true" (a String); the policy expects Boolean there: did you mean Boolean{true}?`},
		{"an Integer where a String is expected", term.Fact{Predicate: "is_weird", Args: []term.Value{term.Integer(1), term.Integer(2), term.Bool(false)}},
			`argument 2 is 2 (an Integer); the policy expects String there: did you mean String{"2"}?`},
		{"a type one typo away", term.Fact{Predicate: "has_relation", Args: []term.Value{repo, term.String("organization"), term.Entity("Organisation", "o")}},
			`argument 3 is Organisation{"o"} (an Organisation); the policy expects Organization there: did you mean Organization{"o"}?`},
		{"a bare string for an entity", term.Fact{Predicate: "has_group", Args: []term.Value{u, term.String("g")}},
			`argument 2 is "g" (a String); the policy expects Group there: did you mean Group{"g"}?`},
		{"wrong arity", term.Fact{Predicate: "is_public", Args: []term.Value{repo}},
			"wrong number of arguments: is_public facts take 2 arguments, not 1"},
		// A fact "explicit to the rule itself" is storable, typed by the
		// rule's head (as Oso Cloud's writing-facts guide describes).
		{"rule head", term.Fact{Predicate: "only_rules", Args: []term.Value{u}}, ""},
		{"rule head, wrong type", term.Fact{Predicate: "only_rules", Args: []term.Value{term.Entity("Team", "x")}},
			`only_rules/1 expects (User); argument 1 is Team{"x"}`},
		{"allow is derived", term.Fact{Predicate: "allow", Args: []term.Value{u, term.String("read"), repo}},
			"allow/3 is the built-in entry point"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := p.CheckFact(tc.fact)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("CheckFact(%s) = %v, want nil", tc.fact, err)
			case tc.want != "" && err == nil:
				t.Fatalf("CheckFact(%s) = nil, want %q", tc.fact, tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("CheckFact(%s) = %q, want it to contain %q", tc.fact, err, tc.want)
			}
			var fe *FactError
			if err != nil && !errors.As(err, &fe) {
				t.Errorf("error %T is not a *FactError", err)
			}
		})
	}
}

func TestMetadata(t *testing.T) {
	p := mustCompile(t, `
actor User {}
resource Repo {
  permissions = ["write", "read"];
  roles = ["writer", "reader"];
  relations = { parent: Org };
  "read" if "reader"; "write" if "writer"; "reader" if "writer";
}
resource Org {}
global { roles = ["admin"]; "admin" if "admin"; }
`)
	empty := ResourceMetadata{Roles: []string{}, Permissions: []string{}, Relations: map[string]string{}}
	want := Metadata{Resources: map[string]ResourceMetadata{
		"Org":    empty,
		"Repo":   {Roles: []string{"reader", "writer"}, Permissions: []string{"read", "write"}, Relations: map[string]string{"parent": "Org"}},
		"User":   empty,
		"global": {Roles: []string{"admin"}, Permissions: []string{}, Relations: map[string]string{}},
	}}
	// Empty, not nil: the server sends them as [] and {}.
	if diff := cmp.Diff(want, p.Metadata); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
}

// rulesOf renders the rules of a predicate.
func rulesOf(p *Program, name string, arity int) []string {
	var out []string
	for _, r := range p.Rules[Pred{name, arity}] {
		out = append(out, r.String())
	}
	return out
}

func TestDesugar(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		pred   Pred
		want   []string
		source string // Source of the first rule
	}{
		{
			name:   "permission if role",
			src:    `actor User {} resource R { roles = ["v"]; permissions = ["read"]; "read" if "v"; }`,
			pred:   Pred{"has_permission", 3},
			want:   []string{`has_permission(actor: Actor, "read", resource: R) if has_role(actor, "v", resource);`},
			source: `"read" if "v";`,
		},
		{
			name: "permission if permission",
			src:  `actor User {} resource R { roles = ["v"]; permissions = ["read", "list"]; "read" if "v"; "list" if "read"; }`,
			pred: Pred{"has_permission", 3},
			want: []string{
				`has_permission(actor: Actor, "read", resource: R) if has_role(actor, "v", resource);`,
				`has_permission(actor: Actor, "list", resource: R) if has_permission(actor, "read", resource);`,
			},
		},
		{
			name: "role on related resource",
			src: `actor User {} resource O { roles = ["m"]; }
				resource R { roles = ["v"]; relations = { parent: O }; "v" if "m" on "parent"; }`,
			pred:   Pred{"has_role", 3},
			want:   []string{`has_role(actor: Actor, "v", resource: R) if has_relation(resource, "parent", related) and related matches O and has_role(actor, "m", related);`},
			source: `"v" if "m" on "parent";`,
		},
		{
			name: "relation to an actor as implier",
			src:  `actor User {} resource R { roles = ["owner"]; relations = { creator: User }; "owner" if "creator"; }`,
			pred: Pred{"has_role", 3},
			want: []string{`has_role(actor: Actor, "owner", resource: R) if has_relation(resource, "creator", actor);`},
		},
		{
			name: "relation of the related resource",
			src: `actor User {} resource O { relations = { owner: User }; }
				resource R { permissions = ["read"]; relations = { parent: O }; "read" if "owner" on "parent"; }`,
			pred: Pred{"has_permission", 3},
			want: []string{`has_permission(actor: Actor, "read", resource: R) if has_relation(resource, "parent", related) and related matches O and has_relation(related, "owner", actor);`},
		},
		{
			name: "global role",
			src:  `actor User {} global { roles = ["admin"]; } resource R { permissions = ["read"]; "read" if global "admin"; }`,
			pred: Pred{"has_permission", 3},
			want: []string{`has_permission(actor: Actor, "read", resource: R) if has_role(actor, "admin");`},
		},
		{
			name: "global block rules are 2-ary",
			src:  `actor User {} global { roles = ["admin", "user"]; permissions = ["create"]; "create" if "user"; "user" if "admin"; }`,
			pred: Pred{"has_permission", 2},
			want: []string{`has_permission(actor: Actor, "create") if has_role(actor, "user");`},
		},
		{
			name:   "every role propagates",
			src:    `actor User {} resource O { roles = ["m"]; } resource R { roles = ["m"]; relations = { parent: O }; role if role on "parent"; }`,
			pred:   Pred{"has_role", 3},
			want:   []string{`has_role(actor: Actor, role, resource: R) if has_relation(resource, "parent", related) and related matches O and has_role(actor, role, related);`},
			source: `role if role on "parent";`,
		},
		{
			name:   "any role on the related resource",
			src:    `actor User {} resource O { roles = ["m"]; } resource P { roles = ["s"]; relations = { org: O }; "s" if role on "org"; }`,
			pred:   Pred{"has_role", 3},
			want:   []string{`has_role(actor: Actor, "s", resource: P) if has_relation(resource, "org", related) and related matches O and has_role(actor, _, related);`},
			source: `"s" if role on "org";`,
		},
		{
			name: "every permission propagates",
			src:  `actor User {} resource O { permissions = ["p"]; } resource R { permissions = ["p"]; relations = { parent: O }; permission if permission on "parent"; }`,
			pred: Pred{"has_permission", 3},
			want: []string{`has_permission(actor: Actor, permission, resource: R) if has_relation(resource, "parent", related) and related matches O and has_permission(actor, permission, related);`},
		},
		{
			name: "derived allow is always added",
			src:  `actor User {} allow(u: User, "x", r) if f(u, r);`,
			pred: Pred{"allow", 3},
			want: []string{
				`allow(u: User, "x", r) if f(u, r);`,
				`allow(actor, action, resource) if has_permission(actor, action, resource);`,
			},
		},
		{
			name: "primitive literals fold",
			src:  `limits(Integer{3}, Boolean{true}, String{"x"}, User{"a"});`,
			pred: Pred{"limits", 4},
			want: []string{`limits(3, true, "x", User{"a"});`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustCompile(t, tc.src)
			if diff := cmp.Diff(tc.want, rulesOf(p, tc.pred.Name, tc.pred.Arity)); diff != "" {
				t.Errorf("rules of %s (-want +got):\n%s", tc.pred, diff)
			}
			if tc.source != "" {
				if got := p.Rules[tc.pred][0].Text; got != tc.source {
					t.Errorf("Source = %q, want %q", got, tc.source)
				}
				if !p.Rules[tc.pred][0].Pos.IsValid() {
					t.Error("desugared rule has no position")
				}
			}
		})
	}
}

func TestAnonymousVariablesAreDistinct(t *testing.T) {
	p := mustCompile(t, `f(_, _x) if g(_, _, _x);`)
	r := p.Rules[Pred{"f", 2}][0]
	call := r.Body.(Call)
	names := []string{r.Params[0].Term.(Var).Name, call.Args[0].(Var).Name, call.Args[1].(Var).Name}
	if names[0] == names[1] || names[1] == names[2] || names[0] == names[2] {
		t.Errorf("every _ must be a distinct variable, got %v", names)
	}
	if r.Params[1].Term.(Var).Name != "_x" || call.Args[2].(Var).Name != "_x" {
		t.Errorf("_x must stay one variable: %s", r)
	}
	if got, want := r.String(), "f(_, _x) if g(_, _, _x);"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestTests(t *testing.T) {
	p := mustCompile(t, `
actor User {}
resource R { roles = ["v"]; permissions = ["read"]; "read" if "v"; }
test fixture one { has_role(User{"a"}, "v", R{"1"}); }
test fixture two { has_role(User{"b"}, "v", R{"2"}); }
test "t" {
  setup {
    has_role(User{"c"}, "v", R{"3"});
    fixture two;
    fixture one;
  }
  assert allow(User{"a"}, "read", R{"1"});
  assert_not has_role(_: User, "v", R{"9"});
  assert allow(User{"a"}, action: String, R{"1"}) iff action not in ["write"];
}
`)
	if len(p.Tests) != 1 {
		t.Fatalf("got %d tests, want 1", len(p.Tests))
	}
	tc := p.Tests[0]
	var facts []string
	for _, f := range tc.Facts {
		facts = append(facts, f.String())
	}
	wantFacts := []string{`has_role(User{"c"}, "v", R{"3"})`, `has_role(User{"b"}, "v", R{"2"})`, `has_role(User{"a"}, "v", R{"1"})`}
	if diff := cmp.Diff(wantFacts, facts); diff != "" {
		t.Errorf("facts (-want +got):\n%s", diff)
	}
	var sources []string
	for _, a := range tc.Assertions {
		sources = append(sources, a.Text)
	}
	wantSources := []string{
		`assert allow(User{"a"}, "read", R{"1"});`,
		`assert_not has_role(_: User, "v", R{"9"});`,
		`assert allow(User{"a"}, action: String, R{"1"}) iff action not in ["write"];`,
	}
	if diff := cmp.Diff(wantSources, sources); diff != "" {
		t.Errorf("assertions (-want +got):\n%s", diff)
	}
	last := tc.Assertions[2]
	if diff := cmp.Diff(&Iff{Var: "action", Not: true, Values: []term.Value{term.String("write")}}, last.Iff); diff != "" {
		t.Errorf("iff (-want +got):\n%s", diff)
	}
	if last.VarTypes["action"] != "String" {
		t.Errorf("VarTypes = %v", last.VarTypes)
	}
	if !tc.Assertions[1].Negated {
		t.Error("assert_not is not negated")
	}
}

func TestCompileSeveralFiles(t *testing.T) {
	_, err := Compile(
		File{Filename: "b.polar", Src: []byte("resource R { roles = [\"v\"]; permissions = [\"read\"]; \"read\" if \"x\"; }\n")},
		File{Filename: "a.polar", Src: []byte("actor User {}\nresource S { relations = { r: R, t: T }; }\n")},
	)
	var l ast.ErrorList
	if !errors.As(err, &l) {
		t.Fatalf("error %v is not an ast.ErrorList", err)
	}
	var got []string
	for _, e := range l {
		got = append(got, e.Pos.String()+": "+e.Msg)
	}
	want := []string{
		"a.polar:2:37: relation t of S targets T, which no actor or resource block declares",
		`b.polar:1:63: "x" is not a role, permission or relation of R`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestCompileSyntaxError(t *testing.T) {
	_, err := Compile(File{Filename: "bad.polar", Src: []byte("actor User {\n")}, File{Filename: "ok.polar", Src: []byte("actor Bot {}\n")})
	var l ast.ErrorList
	if !errors.As(err, &l) || len(l) == 0 || l[0].Pos.File != "bad.polar" {
		t.Fatalf("want a syntax error in bad.polar, got %v", err)
	}
}

// TestCheckHandBuiltAST checks a tree built without the parser.
func TestCheckHandBuiltAST(t *testing.T) {
	pos := func(line, col int) ast.Position { return ast.Position{File: "h.polar", Line: line, Col: col} }
	id := func(name string, line, col int) *ast.Ident { return &ast.Ident{Pos: pos(line, col), Name: name} }
	str := func(s string, line, col int) *ast.StringLit { return &ast.StringLit{Pos: pos(line, col), Value: s} }
	f := &ast.File{Name: "h.polar", Items: []ast.Item{
		&ast.Block{Pos: pos(1, 1), Kind: ast.ActorBlock, Name: id("User", 1, 7)},
		&ast.Block{Pos: pos(2, 1), Kind: ast.ResourceBlock, Name: id("Doc", 2, 10), Body: []ast.BlockItem{
			&ast.Declaration{Pos: pos(3, 3), Keyword: "roles", Names: []*ast.StringLit{str("viewer", 3, 12)}},
			&ast.Declaration{Pos: pos(4, 3), Keyword: "permissions", Names: []*ast.StringLit{str("read", 4, 18)}},
			&ast.Shorthand{Pos: pos(5, 3),
				Head:    &ast.ShorthandName{Pos: pos(5, 3), Name: "read", Quoted: true},
				Implier: &ast.ShorthandName{Pos: pos(5, 13), Name: "veiwer", Quoted: true}},
		}},
		&ast.Rule{Pos: pos(7, 1), Name: id("allow", 7, 1),
			Params: []*ast.Param{
				{Pos: pos(7, 7), Term: &ast.Var{Pos: pos(7, 7), Name: "u"}, Type: id("User", 7, 10)},
				{Pos: pos(7, 16), Term: &ast.StringLit{Pos: pos(7, 16), Value: "read"}},
				{Pos: pos(7, 24), Term: &ast.Var{Pos: pos(7, 24), Name: "d"}},
			},
			Body: &ast.Not{Pos: pos(7, 30), Expr: &ast.Call{Pos: pos(7, 34), Name: id("banned", 7, 34), Args: []ast.Term{&ast.Var{Pos: pos(7, 41), Name: "x"}}}},
		},
	}}
	_, err := Check(f)
	var l ast.ErrorList
	if !errors.As(err, &l) {
		t.Fatalf("want errors, got %v", err)
	}
	var got []string
	for _, e := range l {
		got = append(got, e.Error())
	}
	want := []string{
		"h.polar:5:13: \"veiwer\" is not a role, permission or relation of Doc\n\thint: did you mean `viewer`?; roles, permissions and relations declared on Doc: read, viewer",
		"h.polar:7:41: variable x under `not` is never bound: nothing else in the rule gives it a value\n\thint: bind x outside the `not` (for example with a call), or write `_` if any value will do",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestDepthLimit(t *testing.T) {
	var e ast.Expr = &ast.Call{Pos: ast.Position{Line: 1, Col: 1}, Name: &ast.Ident{Name: "f"}}
	for range 20 {
		e = &ast.Not{Pos: ast.Position{Line: 1, Col: 1}, Expr: e}
	}
	f := &ast.File{Items: []ast.Item{&ast.Rule{Pos: ast.Position{Line: 1, Col: 1}, Name: &ast.Ident{Name: "g"}, Body: e}}}
	c := newChecker()
	c.maxDepth = 10
	c.check([]*ast.File{f})
	if len(c.errs) != 1 || !strings.Contains(c.errs[0].Msg, "nested too deeply") {
		t.Fatalf("want one depth error, got %v", c.errs)
	}
}

// TestShorthandCondition checks `"read" if is_public(resource);`, built by
// hand while the parser does not read it yet.
func TestShorthandCondition(t *testing.T) {
	pos := func(line, col int) ast.Position { return ast.Position{File: "c.polar", Line: line, Col: col} }
	block := func(cond ast.Expr) *ast.File {
		return &ast.File{Name: "c.polar", Items: []ast.Item{
			&ast.Block{Pos: pos(1, 1), Kind: ast.ActorBlock, Name: &ast.Ident{Pos: pos(1, 7), Name: "User"}},
			&ast.Block{Pos: pos(2, 1), Kind: ast.ResourceBlock, Name: &ast.Ident{Pos: pos(2, 10), Name: "Repo"}, Body: []ast.BlockItem{
				&ast.Declaration{Pos: pos(3, 3), Keyword: "permissions", Names: []*ast.StringLit{{Pos: pos(3, 18), Value: "read"}}},
				&ast.Shorthand{Pos: pos(4, 3), Head: &ast.ShorthandName{Pos: pos(4, 3), Name: "read", Quoted: true}, Cond: cond},
			}},
		}}
	}
	call := func(name string, args ...ast.Term) *ast.Call {
		return &ast.Call{Pos: pos(4, 13), Name: &ast.Ident{Pos: pos(4, 13), Name: name}, Args: args}
	}
	v := func(name string) *ast.Var { return &ast.Var{Pos: pos(4, 20), Name: name} }

	p, err := Check(block(&ast.And{Pos: pos(4, 13), Exprs: []ast.Expr{call("is_public", v("resource")), &ast.Not{Pos: pos(4, 40), Expr: call("is_banned", v("actor"))}}}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`has_permission(actor: Actor, "read", resource: Repo) if is_public(resource) and not is_banned(actor);`}
	if diff := cmp.Diff(want, rulesOf(p, "has_permission", 3)); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	if got := p.Rules[Pred{"has_permission", 3}][0].Text; got != `"read" if is_public(resource) and not is_banned(actor);` {
		t.Errorf("Source = %q", got)
	}
	if diff := cmp.Diff([]FactType{{"Repo"}}, p.FactTypes[Pred{"is_public", 1}]); diff != "" {
		t.Errorf("fact types of is_public (-want +got):\n%s", diff)
	}

	_, err = Check(block(&ast.Not{Pos: pos(4, 13), Expr: call("is_banned", v("someone"))}))
	if err == nil || !strings.Contains(err.Error(), "variable someone under `not` is never bound") {
		t.Errorf("unsafe condition: got %v", err)
	}
}

func TestMinimalPolicies(t *testing.T) {
	// A policy may be empty, or only declare fact types (the Go SDK's tests).
	if _, err := Compile(File{Filename: "empty.polar"}); err != nil {
		t.Fatalf("empty policy: %v", err)
	}
	p := mustCompile(t, "declare is_weird(Integer, String, Boolean);")
	if err := p.CheckFact(term.Fact{Predicate: "is_weird", Args: []term.Value{term.Integer(10), term.String("yes"), term.Bool(true)}}); err != nil {
		t.Errorf("declared fact refused: %v", err)
	}
	wantMD := map[string]ResourceMetadata{"global": {Roles: []string{}, Permissions: []string{}, Relations: map[string]string{}}}
	if diff := cmp.Diff(wantMD, p.Metadata.Resources); diff != "" {
		t.Errorf("metadata of a policy without blocks: only an empty global entry expected (-want +got):\n%s", diff)
	}
}

func TestHintFor(t *testing.T) {
	many := []string{"a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9", "b1", "b2", "b3", "b4", "b5"}
	tests := []struct {
		name, word string
		cands      []string
		want       string
	}{
		{"typo", "maintaner", []string{"reader", "maintainer"}, "did you mean `maintainer`?; roles declared on Repo: maintainer, reader"},
		{"case", "Viewer", []string{"viewer"}, "did you mean `viewer`?; roles declared on Repo: viewer"},
		{"nothing close", "owner", []string{"reader"}, "roles declared on Repo: reader"},
		{"none declared", "owner", nil, "roles declared on Repo: none"},
		{"long list", "zz", many, "roles declared on Repo: a1, a2, a3, a4, a5, a6, a7, a8, a9, b1, b2, b3, and 2 more"},
	}
	for _, tc := range tests {
		if got := hintFor(tc.word, tc.cands, "roles", "Repo"); got != tc.want {
			t.Errorf("%s: hintFor(%q) = %q, want %q", tc.name, tc.word, got, tc.want)
		}
	}
}

// TestFactIndexAgrees checks that the index CheckFact uses for predicates
// with many argument-type tuples accepts and refuses exactly what a scan
// of every tuple does, subtypes included.
func TestFactIndexAgrees(t *testing.T) {
	src := string(generatedPolicy(10)) + `
resource Sub extends R3 {}
resource SubSub extends Sub {}
actor Admin extends User {}
`
	p := mustCompile(t, src)
	if len(p.factIndex) == 0 {
		t.Fatal("nothing indexed")
	}
	unindexed := *p
	unindexed.factIndex = nil
	types := []string{"User", "Admin", "Group", "R0", "R3", "R9", "Sub", "SubSub", "Team", "String", "Boolean", "Integer"}
	value := func(typ string) term.Value {
		switch typ {
		case "String":
			return term.String("viewer")
		case "Boolean":
			return term.Bool(true)
		case "Integer":
			return term.Integer(1)
		}
		return term.Entity(typ, "x")
	}
	checked, accepted := 0, 0
	for _, pred := range []string{"has_role", "has_relation"} {
		for _, a := range types {
			for _, b := range []string{"String", "Integer"} {
				for _, c := range types {
					f := term.Fact{Predicate: pred, Args: []term.Value{value(a), value(b), value(c)}}
					got, want := p.CheckFact(f), unindexed.CheckFact(f)
					if (got == nil) != (want == nil) {
						t.Errorf("CheckFact(%s): indexed %v, scan %v", f, got, want)
					}
					checked++
					if got == nil {
						accepted++
					}
				}
			}
		}
	}
	if accepted == 0 || accepted == checked {
		t.Errorf("accepted %d of %d facts: the test does not discriminate", accepted, checked)
	}
}

// TestCheckIncompleteTrees feeds the checker trees with missing parts (as a
// parser recovering from errors might build) and expects no internal error.
func TestCheckIncompleteTrees(t *testing.T) {
	f := &ast.File{Name: "x.polar", Items: []ast.Item{
		&ast.Block{Kind: ast.ResourceBlock},
		&ast.Block{Kind: ast.ResourceBlock, Name: &ast.Ident{Name: "R"}, Extends: []*ast.Ident{{Name: "R"}}, Body: []ast.BlockItem{
			&ast.Shorthand{Head: &ast.ShorthandName{Name: "x", Quoted: true}},
			&ast.Relations{Relations: []*ast.Relation{{Name: &ast.Ident{Name: "r"}}}},
			&ast.Declaration{Keyword: "roles", Names: []*ast.StringLit{{Value: ""}}},
		}},
		&ast.Rule{Name: &ast.Ident{Name: "f"}, Params: []*ast.Param{nil, {Term: &ast.Var{Name: "x"}}},
			Body: &ast.And{Exprs: []ast.Expr{&ast.Or{}, &ast.Not{}, &ast.Binary{Op: "=="}, &ast.Matches{}, &ast.Call{}}}},
		&ast.Rule{},
		&ast.Declare{},
		&ast.Test{Setup: &ast.Setup{Order: []ast.Node{&ast.Ident{Name: "nope"}, &ast.Call{}}}, Assertions: []*ast.Assertion{{}, {Call: &ast.Call{Name: &ast.Ident{Name: "a"}}, Iff: &ast.Iff{}}}},
		&ast.Fixture{},
	}}
	_, err := Check(f, nil)
	if err != nil && strings.Contains(err.Error(), "internal") {
		t.Fatalf("internal error: %v", err)
	}
}

func TestCompileSourcesWithoutNames(t *testing.T) {
	// SDKs upload with an empty file name; two such sources must not borrow
	// each other's text for the and/or warning.
	p, err := Compile(
		File{Src: []byte("actor User {}\nf(x) if a(x) and (b(x) or c(x));\n")},
		File{Src: []byte("g(x) if a(x) and b(x) or c(x);\n")},
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range p.Warnings {
		if strings.Contains(w.Msg, "binds tighter") {
			t.Errorf("warning from an ambiguous source: %s", w)
		}
	}
	p = mustCompile(t, "actor User {}\ng(x) if a(x) and b(x) or c(x);\n")
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0].Msg, "binds tighter") {
		t.Errorf("warnings = %v, want the and/or warning", p.Warnings)
	}
}

// TestProgramIsSafeForConcurrentUse reads one Program from several
// goroutines (run with -race).
func TestProgramIsSafeForConcurrentUse(t *testing.T) {
	p := mustCompile(t, string(generatedPolicy(10)))
	f := term.Fact{Predicate: "has_role", Args: []term.Value{term.Entity("User", "a"), term.String("viewer"), term.Entity("R3", "x")}}
	done := make(chan error)
	for range 4 {
		go func() {
			var err error
			for range 200 {
				if e := p.CheckFact(f); e != nil {
					err = e
				}
				if !p.TypeMatches("R3", AbstractResource) {
					err = errors.New("R3 is not a Resource")
				}
			}
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func TestQuestionNotes(t *testing.T) {
	p := mustCompile(t, factPolicy)
	u, repo := term.Entity("User", "a"), term.Entity("Repository", "r")
	tests := []struct {
		name     string
		actor    term.Value
		action   string
		resource term.Value
		want     []string
	}{
		{"known", u, "read", repo, nil},
		{"type typo", term.Entity("Usr", "a"), "read", repo, []string{"the policy knows no type Usr: did you mean User?"}},
		{"unknown type, nothing near", u, "read", term.Entity("Spaceship", "x"), []string{"the policy knows no type Spaceship"}},
		{"action typo", u, "raed", repo, []string{`the policy grants no action "raed": did you mean "read"?`}},
		{"both", u, "rad", term.Entity("Repositry", "r"), []string{"the policy knows no type Repositry: did you mean Repository?", `the policy grants no action "rad": did you mean "read"?`}},
	}
	for _, tc := range tests {
		if got := p.QuestionNotes(tc.actor, tc.action, tc.resource); strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: QuestionNotes = %q, want %q", tc.name, got, tc.want)
		}
	}
	// A rule that takes its action from a variable may grant any action.
	dyn := mustCompile(t, `actor User {}
resource Doc {}
has_permission(u: User, action: String, d: Doc) if grants(u, action, d);
`)
	if got := dyn.QuestionNotes(u, "anything", term.Entity("Doc", "d")); got != nil {
		t.Errorf("dynamic actions: QuestionNotes = %q, want none", got)
	}
}
