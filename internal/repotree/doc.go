// Package repotree holds checks of the repository itself rather than of
// any package: its test fails when build output (an executable binary) is
// tracked by git, so that `go build` in the wrong directory followed by
// `git add .` cannot land a binary on main.
package repotree
