package parser_test

import (
	"fmt"

	"github.com/castellan-authz/castellan/lang/ast"
	"github.com/castellan-authz/castellan/lang/parser"
	"github.com/castellan-authz/castellan/lang/printer"
)

func ExampleParse() {
	src := []byte(`resource Repository {
  roles = ["reader"];
  "read" if "reader";
}
allow(actor, "read", repo: Repository) if is_public(repo) and not is_archived(repo);
`)
	f, err := parser.Parse("policy.polar", src)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(printer.String(f))
	// Output:
	// resource Repository {
	//   roles = ["reader"];
	//
	//   "read" if "reader";
	// }
	//
	// allow(actor, "read", repo: Repository) if is_public(repo) and not is_archived(repo);
}

func ExampleParse_errors() {
	src := []byte(`resource Repository {
  roles = ["reader"];
  "read" if "reader" onn "parent";
}
f(x) if g(x)
h(x) if i(x);
`)
	_, err := parser.Parse("policy.polar", src)
	fmt.Print(err.(ast.ErrorList).Full())
	// Output:
	// policy.polar:3:22: unexpected relation keyword 'onn'
	// 	hint: did you mean 'on'?
	// policy.polar:6:1: unexpected 'h'; expected ';'
	// 	hint: did you forget a ';'?
}
