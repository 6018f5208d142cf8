package lang

import (
	"sort"
	"strconv"
	"strings"
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
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if d == 0 {
			d = 1 // differs only in case: still a typo
		}
		if d < bestD && d <= max(1, len(s)/2) {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
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
