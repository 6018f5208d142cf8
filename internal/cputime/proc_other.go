//go:build !linux

package cputime

import "time"

// Of returns false: there is no /proc to read.
func Of(pid int) (time.Duration, bool) { return 0, false }

// Tree returns false: there is no /proc to read.
func Tree(pid int) (time.Duration, bool) { return 0, false }
