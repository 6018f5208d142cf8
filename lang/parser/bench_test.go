package parser_test

import (
	"testing"

	"github.com/castellan-authz/castellan/lang/ast"
	"github.com/castellan-authz/castellan/lang/parser"
	"github.com/castellan-authz/castellan/lang/parser/parsertest"
)

var sinkFile *ast.File

func BenchmarkParse(b *testing.B) {
	src := parsertest.Policy(2000)
	f := mustParse(b, string(src))
	b.Logf("%d bytes, %d items", len(src), len(f.Items))
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := parser.Parse("bench.polar", src)
		if err != nil {
			b.Fatal(err)
		}
		sinkFile = f
	}
}

func TestGeneratedPolicy(t *testing.T) {
	f := mustParse(t, string(parsertest.Policy(200)))
	rules := 0
	for _, it := range f.Items {
		switch n := it.(type) {
		case *ast.Rule:
			rules++
		case *ast.Block:
			for _, bi := range n.Body {
				if _, ok := bi.(*ast.Shorthand); ok {
					rules++
				}
			}
		}
	}
	if rules != 200 {
		t.Errorf("Policy(200) has %d rules", rules)
	}
	checkRoundTrip(t, f)
}
