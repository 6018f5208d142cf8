package policy_test

import (
	"fmt"
	"testing"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/policy"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/memory"
)

// sinkReport keeps the benchmarks' results alive.
var sinkReport *policy.DataReport

// BenchmarkCheckData checks 100k stored facts against a policy: one that
// uses them all (every fact checked) and one that uses none (counts per
// predicate and a sample only). scan=all-facts is the guard's former way,
// reading every fact through Snapshot.Facts, for comparison.
func BenchmarkCheckData(b *testing.B) {
	st := memory.New()
	b.Cleanup(func() { st.Close() })
	const n = 100_000
	var fs []term.Fact
	for i := range n {
		fs = append(fs, term.Fact{Predicate: "has_role", Args: []term.Value{term.Entity("User", fmt.Sprint("u", i)), term.String("viewer"), term.Entity("Doc", fmt.Sprint("d", i%1000))}})
	}
	if _, err := st.Write(b.Context(), []store.Op{{Insert: fs}}); err != nil {
		b.Fatal(err)
	}
	snap, err := st.Snapshot(b.Context(), store.Consistency{})
	if err != nil {
		b.Fatal(err)
	}
	uses, err := policy.CompileOnly(files(docs))
	if err != nil {
		b.Fatal(err)
	}
	none, err := policy.CompileOnly(files(other))
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		c    *policy.Compiled
	}{{"policy=uses-all", uses}, {"policy=uses-none", none}} {
		b.Run(bc.name+"/facts=100k", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rep, err := policy.CheckData(b.Context(), bc.c, snap)
				if err != nil {
					b.Fatal(err)
				}
				sinkReport = rep
			}
		})
	}
	b.Run("scan=all-facts/facts=100k", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			k := 0
			for f := range snap.Facts(term.Pattern{AnyArity: true}) {
				if none.Program().CheckFact(f) == nil {
					break
				}
				k++
			}
			sinkReport = &policy.DataReport{Checked: k}
		}
	})
}
