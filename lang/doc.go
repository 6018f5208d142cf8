// Package lang turns Polar policy sources (the Oso Cloud dialect) into a
// checked Program that the evaluator runs.
//
// The pipeline has three stages, each with its own type:
//
//  1. Parse: lang/parser turns each file into an *ast.File (syntax only).
//  2. Check: Check takes every file of a policy at once (a rule in one file
//     may use the blocks of another) and
//     - collects actor, resource and global blocks, resolves `extends` and
//     relation targets, and gives every block its inherited declarations;
//     - resolves each shorthand rule against the declarations and expands it
//     into plain rules over has_role, has_permission and has_relation, in Oso
//     Cloud's argument order (see docs/polar.md);
//     - converts hand-written rules, folding Integer{3}-style literals and
//     renaming every `_` to a fresh anonymous variable, and rejects unsafe
//     variables (under `not`, in a comparison, unification or `in`, with
//     nothing binding them);
//     - adds allow(actor, action, resource) if has_permission(actor, action, resource);
//     - infers, from every call in a rule body and every `declare`, the
//     argument types facts of each predicate may take (Program.FactTypes,
//     used by CheckFact);
//     - builds the policy metadata and converts test blocks, expanding
//     fixtures.
//     Every error is collected into a sorted ast.ErrorList; warnings (unused
//     roles, permissions never granted, `and`/`or` mixed without
//     parentheses) land in Program.Warnings and never fail a check.
//  3. Evaluate: the evaluator only accepts a checked, immutable *Program.
//
// Compile runs parse and check over several sources in one call.
package lang
