package evaluator

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/castellan-authz/castellan/lang/term"
)

// localPolicy is the application schema of the local-authorization
// tests: organizations, folders nested in folders, repositories in
// organizations or folders, issues with creators and public flags.
const localPolicy = `
actor User {}
resource Organization {
  roles = ["member", "admin"];
  permissions = ["read", "manage"];
  "member" if "admin";
  "read" if "member";
  "manage" if "admin";
}
resource Folder {
  roles = ["viewer"];
  permissions = ["read"];
  relations = { parent: Folder, organization: Organization };
  "viewer" if "viewer" on "parent";
  "viewer" if "admin" on "organization";
  "read" if "viewer";
}
resource Repository {
  roles = ["reader", "maintainer"];
  permissions = ["read", "write"];
  relations = { organization: Organization, folder: Folder };
  "reader" if "member" on "organization";
  "reader" if "viewer" on "folder";
  "reader" if "maintainer";
  "read" if "reader";
  "write" if "maintainer";
}
resource Issue {
  permissions = ["read", "comment", "close"];
  relations = { repository: Repository, creator: User };
  "read" if "read" on "repository";
  "read" if is_public(resource);
  "comment" if "read";
  "close" if "creator";
  "close" if "write" on "repository";
}
has_permission(user: User, "read", _issue: Issue) if is_god(user);
`

// localShapes are the data bindings of the tests, as the evaluator sees
// them.
func localShapes() []LocalShape {
	rel := func(from, name, to string) LocalShape {
		return LocalShape{Name: "has_relation", Types: []string{from, "String", to}, Consts: []term.Value{{}, term.String(name), {}}}
	}
	return []LocalShape{
		rel("Issue", "repository", "Repository"),
		rel("Issue", "creator", "User"),
		rel("Repository", "organization", "Organization"),
		rel("Repository", "folder", "Folder"),
		rel("Folder", "parent", "Folder"),
		rel("Folder", "organization", "Organization"),
		{Name: "is_public", Types: []string{"Issue"}, Consts: []term.Value{{}}},
	}
}

type localWorld struct {
	stored, local []term.Fact
	users         []term.Value
	resources     map[string][]term.Value
}

// randomWorld builds a small random world. Relations are local, except
// that some repositories' organizations are also stored (the SQL then
// joins both); roles are stored. Folder parents may form cycles.
func randomWorld(r *rand.Rand) localWorld {
	w := localWorld{resources: map[string][]term.Value{}}
	mk := func(typ string, n int) []term.Value {
		var out []term.Value
		for i := range n {
			out = append(out, term.Entity(typ, fmt.Sprintf("%s%d", strings.ToLower(typ[:1]), i)))
		}
		w.resources[typ] = out
		return out
	}
	w.users = mk("User", 3)
	orgs, folders, repos, issues := mk("Organization", 2), mk("Folder", 5), mk("Repository", 4), mk("Issue", 8)
	rel := func(a term.Value, name string, b term.Value) term.Fact {
		return term.Fact{Predicate: "has_relation", Args: []term.Value{a, term.String(name), b}}
	}
	pick := func(vs []term.Value) term.Value { return vs[r.IntN(len(vs))] }
	for _, f := range folders {
		if r.IntN(3) > 0 {
			w.local = append(w.local, rel(f, "parent", pick(folders)))
		}
		if r.IntN(3) == 0 {
			w.local = append(w.local, rel(f, "organization", pick(orgs)))
		}
	}
	for _, rp := range repos {
		o := rel(rp, "organization", pick(orgs))
		if r.IntN(2) == 0 {
			w.stored = append(w.stored, o)
		} else {
			w.local = append(w.local, o)
		}
		if r.IntN(2) == 0 {
			w.local = append(w.local, rel(rp, "folder", pick(folders)))
		}
	}
	for _, is := range issues {
		w.local = append(w.local, rel(is, "repository", pick(repos)), rel(is, "creator", pick(w.users)))
		if r.IntN(4) == 0 {
			w.local = append(w.local, term.Fact{Predicate: "is_public", Args: []term.Value{is}})
		}
	}
	role := func(u term.Value, name string, on term.Value) term.Fact {
		return term.Fact{Predicate: "has_role", Args: []term.Value{u, term.String(name), on}}
	}
	for _, u := range w.users {
		for range 3 {
			switch r.IntN(4) {
			case 0:
				w.stored = append(w.stored, role(u, []string{"member", "admin"}[r.IntN(2)], pick(orgs)))
			case 1:
				w.stored = append(w.stored, role(u, "viewer", pick(folders)))
			case 2:
				w.stored = append(w.stored, role(u, []string{"reader", "maintainer"}[r.IntN(2)], pick(repos)))
			}
		}
	}
	if r.IntN(3) == 0 {
		w.stored = append(w.stored, term.Fact{Predicate: "is_god", Args: []term.Value{w.users[0]}})
	}
	return w
}

// interpret answers a residual over local facts, as the database would.
func interpret(t testing.TB, res *Residual, shapes []LocalShape, local []term.Fact) [][]term.Value {
	t.Helper()
	recRows := make([]map[string][]term.Value, len(res.Recs))
	for i := range recRows {
		recRows[i] = map[string][]term.Value{}
	}
	rowKey := func(vs []term.Value) string {
		var b strings.Builder
		for _, v := range vs {
			b.WriteString(v.Type + "\x00" + v.ID + "\x01")
		}
		return b.String()
	}
	var eval func(c Conj, emit func([]term.Value))
	eval = func(c Conj, emit func([]term.Value)) {
		vals := make([]term.Value, len(c.VarTypes))
		var step func(i int)
		match := func(args []RTerm, row []term.Value, k func()) {
			var set []int
			ok := true
			for j, a := range args {
				switch {
				case a.Var < 0:
					ok = ok && a.Val == row[j]
				case vals[a.Var].IsZero():
					if row[j].Type != c.VarTypes[a.Var] {
						ok = false
					} else {
						vals[a.Var] = row[j]
						set = append(set, a.Var)
					}
				default:
					ok = ok && vals[a.Var] == row[j]
				}
			}
			if ok {
				k()
			}
			for _, v := range set {
				vals[v] = term.Value{}
			}
		}
		step = func(i int) {
			if i == len(c.Atoms) {
				out := make([]term.Value, len(c.Out))
				for j, o := range c.Out {
					switch {
					case o.IsAny():
					case o.Var < 0:
						out[j] = o.Val
					default:
						out[j] = vals[o.Var]
					}
				}
				emit(out)
				return
			}
			a := c.Atoms[i]
			switch a.Kind {
			case AtomLocal:
				sh := shapes[a.Shape]
				for _, f := range local {
					if f.Predicate != sh.Name || len(f.Args) != len(sh.Types) {
						continue
					}
					ok := true
					for j, v := range f.Args {
						ok = ok && v.Type == sh.Types[j] && (sh.Consts[j].IsZero() || sh.Consts[j] == v)
					}
					if ok {
						match(a.Args, f.Args, func() { step(i + 1) })
					}
				}
			case AtomTable:
				for _, row := range a.Rows {
					match(a.Args, row, func() { step(i + 1) })
				}
			case AtomRec:
				for _, row := range recRows[a.Rec] {
					match(a.Args, row, func() { step(i + 1) })
				}
			case AtomNotEqual:
				get := func(x RTerm) term.Value {
					if x.Var < 0 {
						return x.Val
					}
					return vals[x.Var]
				}
				x, y := get(a.Args[0]), get(a.Args[1])
				if x.IsZero() || y.IsZero() {
					t.Fatalf("!= over an unbound variable")
				}
				if x != y {
					step(i + 1)
				}
			}
		}
		step(0)
	}
	for changed := true; changed; {
		changed = false
		for i, rp := range res.Recs {
			for _, c := range append(slices.Clone(rp.Base), rp.Step...) {
				eval(c, func(row []term.Value) {
					if k := rowKey(row); recRows[i][k] == nil {
						recRows[i][k] = row
						changed = true
					}
				})
			}
		}
	}
	seen := map[string]bool{}
	var out [][]term.Value
	for _, c := range res.Conjs {
		eval(c, func(row []term.Value) {
			if k := rowKey(row); !seen[k] {
				seen[k] = true
				out = append(out, row)
			}
		})
	}
	return out
}

func TestResidualAgreesWithTheEvaluator(t *testing.T) {
	e := New(mustCompile(t, localPolicy))
	shapes := localShapes()
	ctx := t.Context()
	actions := []string{"read", "comment", "close", "write", "manage", "nope"}
	for seed := range uint64(25) {
		w := randomWorld(rand.New(rand.NewPCG(seed, 7)))
		full := Request{Source: &sliceSource{facts: w.stored}, Context: w.local}
		part := Request{Source: &sliceSource{facts: w.stored}}
		for _, u := range w.users {
			for _, typ := range []string{"Issue", "Repository", "Folder", "Organization"} {
				for _, act := range actions {
					// list
					want, err := e.List(ctx, full, u, act, typ, Page{})
					if err != nil {
						t.Fatal(err)
					}
					q := Query{
						Predicate:   Call{Name: "allow", Args: []string{"actor", "action", "resource"}},
						Constraints: map[string]Constraint{"actor": {Type: u.Type, IDs: []string{u.ID}}, "action": {Type: "String", IDs: []string{act}}, "resource": {Type: typ}},
					}
					res, err := e.Residual(ctx, part, shapes, q, []string{"resource"})
					if err != nil {
						t.Fatalf("seed %d: list %s %s %s: %v", seed, u, act, typ, err)
					}
					var got []string
					wildcard := false
					for _, row := range interpret(t, res, shapes, w.local) {
						if row[0].IsZero() {
							wildcard = true
							continue
						}
						got = append(got, row[0].ID)
					}
					sort.Strings(got)
					got = slices.Compact(got)
					if wildcard != want.Wildcard || (!wildcard && !slices.Equal(got, want.IDs)) {
						t.Fatalf("seed %d: list %s %s %s: residual gives %v (wildcard %v), evaluator %v (wildcard %v)\nstored %v\nlocal %v",
							seed, u, act, typ, got, wildcard, want.IDs, want.Wildcard, w.stored, w.local)
					}
					// authorize, one resource at a time
					for _, rsc := range w.resources[typ] {
						d, err := e.Authorize(ctx, full, u, act, rsc)
						if err != nil {
							t.Fatal(err)
						}
						q.Constraints["resource"] = Constraint{Type: typ, IDs: []string{rsc.ID}}
						res, err := e.Residual(ctx, part, shapes, q, nil)
						if err != nil {
							t.Fatal(err)
						}
						if got := len(interpret(t, res, shapes, w.local)) > 0; got != d.Allowed {
							t.Fatalf("seed %d: authorize %s %s %s: residual %v, evaluator %v", seed, u, act, rsc, got, d.Allowed)
						}
					}
				}
				// actions
				for _, rsc := range w.resources[typ] {
					want, err := e.Actions(ctx, full, u, rsc)
					if err != nil {
						t.Fatal(err)
					}
					q := Query{
						Predicate:   Call{Name: "allow", Args: []string{"actor", "action", "resource"}},
						Constraints: map[string]Constraint{"actor": {Type: u.Type, IDs: []string{u.ID}}, "action": {Type: "String"}, "resource": {Type: typ, IDs: []string{rsc.ID}}},
					}
					res, err := e.Residual(ctx, part, shapes, q, []string{"action"})
					if err != nil {
						t.Fatal(err)
					}
					got := []string{}
					for _, row := range interpret(t, res, shapes, w.local) {
						if !row[0].IsZero() {
							got = append(got, row[0].ID)
						}
					}
					sort.Strings(got)
					got = slices.Compact(got)
					if !slices.Equal(got, want) {
						t.Fatalf("seed %d: actions %s %s: residual %v, evaluator %v", seed, u, rsc, got, want)
					}
				}
			}
		}
	}
}

func TestResidualShapes(t *testing.T) {
	e := New(mustCompile(t, localPolicy))
	shapes := localShapes()
	alice := term.Entity("User", "alice")
	stored := &sliceSource{facts: []term.Fact{
		{Predicate: "has_role", Args: []term.Value{alice, term.String("member"), term.Entity("Organization", "acme")}},
	}}
	authorize := func(typ, id, act string) (*Residual, error) {
		q := Query{
			Predicate:   Call{Name: "allow", Args: []string{"a", "x", "r"}},
			Constraints: map[string]Constraint{"a": {Type: "User", IDs: []string{"alice"}}, "x": {Type: "String", IDs: []string{act}}, "r": {Type: typ, IDs: []string{id}}},
		}
		return e.Residual(t.Context(), Request{Source: stored}, shapes, q, nil)
	}
	// Organizations have no local data: the answer is decided here.
	res, err := authorize("Organization", "acme", "read")
	if err != nil || len(res.Conjs) != 1 || len(res.Conjs[0].Atoms) != 0 {
		t.Errorf("read on acme: %+v, %v; want one conjunction without atoms (true)", res, err)
	}
	res, err = authorize("Organization", "acme", "manage")
	if err != nil || len(res.Conjs) != 0 {
		t.Errorf("manage on acme: %+v, %v; want no conjunction (false)", res, err)
	}
	// Folders recur over their local parents.
	res, err = authorize("Folder", "f1", "read")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Recs) == 0 || len(res.Recs[0].Step) == 0 {
		t.Errorf("read on a folder: no recursive predicate: %+v", res)
	}
}

func TestResidualUnsupported(t *testing.T) {
	for _, tc := range []struct{ name, policy, want string }{
		{"negation over local data", `actor User {} resource Doc { permissions = ["read"]; }
has_permission(_u: User, "read", d: Doc) if not is_public(d);`, `policy.polar:2: rule has_permission.*not is_public\(d\): a negation`},
		{"ordering over local data", `actor User {} resource Doc { permissions = ["read"]; }
has_permission(_u: User, "read", d: Doc) if has_level(d, n) and n > 3;`, `comparison >`},
		{"non-linear recursion", `actor User {} resource Doc { permissions = ["read"]; }
reach(a: Doc, b: Doc) if link(a, b);
reach(a: Doc, c: Doc) if reach(a, b) and reach(b, c);
has_permission(_u: User, "read", d: Doc) if reach(Doc{"root"}, d);`, `non-linear`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := New(mustCompile(t, tc.policy))
			shapes := []LocalShape{
				{Name: "is_public", Types: []string{"Doc"}, Consts: []term.Value{{}}},
				{Name: "has_level", Types: []string{"Doc", "Integer"}, Consts: []term.Value{{}, {}}},
				{Name: "link", Types: []string{"Doc", "Doc"}, Consts: []term.Value{{}, {}}},
			}
			q := Query{
				Predicate:   Call{Name: "allow", Args: []string{"a", "x", "r"}},
				Constraints: map[string]Constraint{"a": {Type: "User", IDs: []string{"u"}}, "x": {Type: "String", IDs: []string{"read"}}, "r": {Type: "Doc"}},
			}
			_, err := e.Residual(t.Context(), Request{}, shapes, q, []string{"r"})
			if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("err = %v, want ErrUnsupported", err)
			}
			if !regexp.MustCompile(tc.want).MatchString(err.Error()) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
