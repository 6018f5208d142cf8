package lang

import (
	"sort"
	"strconv"
	"strings"

	"github.com/castellan-authz/castellan/lang/internal/edit"
)

// maxHintNames bounds how many declared names a hint lists.
const maxHintNames = 12

// Nearest returns the candidate closest to s by edit distance, ignoring
// case, or "" when none is close enough to be a plausible typo of s: at
// most 2 edits, and at most half the length of s (but always 1). A
// candidate equal to s is skipped; one that differs only in case counts as
// 1 edit. Of equally close candidates the first wins. It serves the
// compiler's "did you mean" hints and the CLI's unknown-command messages.
func Nearest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if c == s {
			continue
		}
		d := edit.Distance(strings.ToLower(s), strings.ToLower(c))
		if d == 0 {
			d = 1 // differs only in case: still a typo
		}
		if d < bestD && d <= max(1, len(s)/2) {
			best, bestD = c, d
		}
	}
	return best
}

// hintFor builds a hint for an unknown name: "did you mean `x`?" when a
// candidate is close, then "<what> declared on <where>: a, b" (or "none").
func hintFor(name string, candidates []string, what, where string) string {
	var parts []string
	if n := Nearest(name, candidates); n != "" {
		parts = append(parts, "did you mean `"+n+"`?")
	}
	if what != "" {
		list := "none"
		if len(candidates) > 0 {
			c := append([]string(nil), candidates...)
			sort.Strings(c)
			if len(c) > maxHintNames {
				c = append(c[:maxHintNames], "and "+strconv.Itoa(len(candidates)-maxHintNames)+" more")
			}
			list = strings.Join(c, ", ")
		}
		parts = append(parts, what+" declared on "+where+": "+list)
	}
	return strings.Join(parts, "; ")
}
