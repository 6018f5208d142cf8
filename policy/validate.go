package policy

import (
	"context"
	"errors"

	"github.com/castellan-authz/castellan/evaluator"
	"github.com/castellan-authz/castellan/lang/ast"
)

// Validation is what Validate found in a candidate policy: nothing of it
// was saved or made live.
type Validation struct {
	// Errors lists every compile error, sorted by position; empty when the
	// policy compiles.
	Errors ast.ErrorList
	// Warnings lists the checker's warnings (unused role, permission never
	// granted, ...); they never make a policy invalid.
	Warnings ast.ErrorList
	// Tests holds every test block's result, in source order; nil when the
	// policy does not compile (its tests cannot run).
	Tests []evaluator.TestResult
}

// Valid reports whether the policy compiles and every test passes: whether
// an upload of it would pass the checks of Compile.
func (v Validation) Valid() bool {
	if len(v.Errors) > 0 {
		return false
	}
	for _, t := range v.Tests {
		if !t.OK() || len(t.Failures) > 0 {
			return false
		}
	}
	return true
}

// Validate compiles files as one policy and runs its tests, as an upload
// would, without saving or activating anything (an editor validating as
// the user types). A policy that does not compile is not an error: its
// errors are in the Validation. The error is for files that cannot make a
// policy at all (ErrInvalidFiles) and for a context that ends.
func Validate(ctx context.Context, files []File) (Validation, error) {
	if err := ValidateFiles(files); err != nil {
		return Validation{}, err
	}
	c, err := CompileOnly(files)
	if err != nil {
		var list ast.ErrorList
		if errors.As(err, &list) {
			return Validation{Errors: list}, nil
		}
		return Validation{}, err
	}
	v := Validation{Warnings: c.Program().Warnings, Tests: c.RunTests(ctx)}
	if err := ctx.Err(); err != nil {
		return Validation{}, err
	}
	return v, nil
}
