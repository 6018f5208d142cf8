// Package edit measures how far apart two names are, for the "did you
// mean" hints of the parser, the checker and the CLI.
package edit

// MaxLen bounds the work of Distance: names longer than this are never
// plausible typos of each other, and a hostile policy must not make hint
// building quadratic in its size.
const MaxLen = 64

// Distance is the Levenshtein distance between a and b, in bytes. When
// either is longer than MaxLen it returns MaxLen.
func Distance(a, b string) int {
	if len(a) > MaxLen || len(b) > MaxLen {
		return MaxLen
	}
	var prevBuf, curBuf [MaxLen + 1]int
	prev, cur := prevBuf[:len(b)+1], curBuf[:len(b)+1]
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
