package index

import (
	"strconv"
	"testing"
	"unsafe"

	"github.com/castellan-authz/castellan/lang/term"
)

func TestInterner(t *testing.T) {
	in := newInterner()
	types := []string{"User", "Repository", term.TypeString}
	const n = 5000
	val := func(i int) term.Value {
		// A fresh copy of the type name, as a decoded request holds.
		typ := string([]byte(types[i%len(types)]))
		return term.Value{Type: typ, ID: strconv.Itoa(i / len(types))}
	}
	for i := range n {
		if got, want := in.intern(val(i)), uint32(i+1); got != want {
			t.Fatalf("intern(%v) = %d, want %d", val(i), got, want)
		}
	}
	for i := range n {
		if got := in.intern(val(i)); got != uint32(i+1) {
			t.Fatalf("intern(%v) again = %d, want %d", val(i), got, i+1)
		}
		id, ok := in.lookup(val(i))
		if !ok || id != uint32(i+1) {
			t.Fatalf("lookup(%v) = %d, %t, want %d, true", val(i), id, ok, i+1)
		}
	}
	for _, v := range []term.Value{{}, {Type: "User", ID: strconv.Itoa(n)}, {Type: "Organization", ID: "0"}} {
		if id, ok := in.lookup(v); ok {
			t.Errorf("lookup(%v) = %d, true; it was never interned", v, id)
		}
	}
	if got := len(in.types); got != len(types) {
		t.Errorf("%d type names kept, want %d", got, len(types))
	}
	for i := len(types); i < n; i++ {
		a, b := in.vals[i+1].Type, in.vals[i+1-len(types)].Type
		if unsafe.StringData(a) != unsafe.StringData(b) {
			t.Fatalf("values %d and %d hold separate copies of type %q", i+1, i+1-len(types), a)
		}
	}
}
