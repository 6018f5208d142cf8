//go:build !linux

package index_test

import "time"

// threadCPU is not available on this platform.
func threadCPU() (time.Duration, bool) { return 0, false }
