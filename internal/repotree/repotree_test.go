package repotree

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// binaryMagics are the first bytes of the executable formats Go builds:
// ELF, Mach-O (32/64-bit, both byte orders, fat) and PE.
var binaryMagics = [][]byte{
	{0x7f, 'E', 'L', 'F'},
	{0xfe, 0xed, 0xfa, 0xce}, {0xfe, 0xed, 0xfa, 0xcf},
	{0xce, 0xfa, 0xed, 0xfe}, {0xcf, 0xfa, 0xed, 0xfe},
	{0xca, 0xfe, 0xba, 0xbe},
	{'M', 'Z'},
}

// isBinary reports whether head starts like an executable.
func isBinary(head []byte) bool {
	for _, m := range binaryMagics {
		if bytes.HasPrefix(head, m) {
			return true
		}
	}
	return false
}

func TestIsBinary(t *testing.T) {
	for _, tc := range []struct {
		head []byte
		want bool
	}{
		{[]byte("\x7fELF\x02\x01\x01"), true},
		{[]byte("MZ\x90\x00"), true},
		{[]byte{0xcf, 0xfa, 0xed, 0xfe, 7}, true},
		{[]byte("#!/usr/bin/env bash\n"), false},
		{[]byte("package main\n"), false},
		{nil, false},
	} {
		if got := isBinary(tc.head); got != tc.want {
			t.Errorf("isBinary(%q) = %v, want %v", tc.head, got, tc.want)
		}
	}
}

// TestNoTrackedBinaries fails when git tracks an executable binary.
func TestNoTrackedBinaries(t *testing.T) {
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("git rev-parse: %v (CI runs on a git clone)", err)
		}
		t.Skipf("not a git checkout: %v", err)
	}
	dir := strings.TrimSpace(string(root))
	out, err := exec.Command("git", "-C", dir, "ls-files", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	checked := 0
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			continue // deleted in the work tree, or a submodule
		}
		head := make([]byte, 4)
		n, _ := f.Read(head)
		f.Close()
		checked++
		if isBinary(head[:n]) {
			t.Errorf("%s is an executable binary tracked by git: remove it (git rm --cached %s) and build into bin/", name, name)
		}
	}
	if checked == 0 {
		t.Fatal("git ls-files listed no files")
	}
}
