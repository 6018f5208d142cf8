package term

import (
	"testing"
)

func TestParseFactRoundTrip(t *testing.T) {
	facts := []Fact{
		{Predicate: "has_role", Args: []Value{Entity("User", "alice"), String("maintainer"), Entity("Repository", "anvil")}},
		{Predicate: "is_public", Args: []Value{Entity("Doc", `a "quoted", {odd} id\n`)}},
		{Predicate: "limits", Args: []Value{Integer(-42), Bool(true), Bool(false), String(" ")}},
		{Predicate: "has_relation", Args: []Value{Entity("Action", "1"), String("repository"), Entity("Repository", "é ünïcode")}},
	}
	for _, f := range facts {
		got, err := ParseFact(f.String())
		if err != nil {
			t.Errorf("ParseFact(%s): %v", f, err)
			continue
		}
		if !got.Equal(f) {
			t.Errorf("ParseFact(%s) = %s", f, got)
		}
	}
}

func TestParseFactErrors(t *testing.T) {
	for _, s := range []string{"", "p", "p(", "p(User)", `p(User{alice})`, `p("a" "b")`, `p("a") x`, `p(User{""})`, `(1)`, `p(1,)`, `p()`, `p("")`} {
		if f, err := ParseFact(s); err == nil {
			t.Errorf("ParseFact(%q) = %s, want an error", s, f)
		}
	}
}

func FuzzParseFact(f *testing.F) {
	f.Add(`has_role(User{"alice"}, "maintainer", Repository{"anvil"})`)
	f.Add(`p(1, true, "x")`)
	f.Fuzz(func(t *testing.T, s string) {
		fact, err := ParseFact(s)
		if err != nil {
			return
		}
		again, err := ParseFact(fact.String())
		if err != nil || !again.Equal(fact) {
			t.Fatalf("%q -> %s -> %v, %v", s, fact, again, err)
		}
	})
}
