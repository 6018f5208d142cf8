package ast

import (
	"fmt"
	"sort"
	"strings"
)

// Position is a place in a policy file. Line and Col are 1-based; Col counts
// bytes. Offset is the 0-based byte offset.
type Position struct {
	File   string
	Line   int
	Col    int
	Offset int
}

// IsValid reports whether p points into a file.
func (p Position) IsValid() bool { return p.Line > 0 }

// String returns "file:line:col" (omitting what is unknown).
func (p Position) String() string {
	s := p.File
	if p.IsValid() {
		if s != "" {
			s += ":"
		}
		s += fmt.Sprintf("%d:%d", p.Line, p.Col)
	}
	if s == "" {
		s = "-"
	}
	return s
}

// Error is a positioned error (or warning) in a policy.
type Error struct {
	Pos  Position
	End  Position // may be the zero Position
	Msg  string
	Hint string // optional: what to do about it
}

// Error returns "file:line:col: msg" and, when there is a hint, a second
// line "\thint: ...".
func (e *Error) Error() string {
	s := e.Pos.String() + ": " + e.Msg
	if e.Hint != "" {
		s += "\n\thint: " + e.Hint
	}
	return s
}

// ErrorList is a list of positioned errors. The zero value is an empty list.
type ErrorList []*Error

// Add appends an error at pos.
func (l *ErrorList) Add(pos Position, msg, hint string) {
	*l = append(*l, &Error{Pos: pos, Msg: msg, Hint: hint})
}

// Addf appends an error at pos with a formatted message and no hint.
func (l *ErrorList) Addf(pos Position, format string, args ...any) {
	l.Add(pos, fmt.Sprintf(format, args...), "")
}

// Len returns the number of errors.
func (l ErrorList) Len() int { return len(l) }

// Sort sorts the list by file, line, column and message, and drops exact
// duplicates.
func (l *ErrorList) Sort() {
	s := *l
	sort.SliceStable(s, func(i, j int) bool {
		a, b := s[i], s[j]
		if a.Pos.File != b.Pos.File {
			return a.Pos.File < b.Pos.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Pos.Col != b.Pos.Col {
			return a.Pos.Col < b.Pos.Col
		}
		return a.Msg < b.Msg
	})
	out := s[:0]
	for i, e := range s {
		if i > 0 && e.Pos == s[i-1].Pos && e.Msg == s[i-1].Msg {
			continue
		}
		out = append(out, e)
	}
	*l = out
}

// Error prints the first error and how many more there are.
func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	return fmt.Sprintf("%s (and %d more errors)", l[0].Error(), len(l)-1)
}

// Err returns l as an error, or nil when l is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Full prints every error, one per line (hints on their own lines).
func (l ErrorList) Full() string {
	var b strings.Builder
	for _, e := range l {
		b.WriteString(e.Error())
		b.WriteByte('\n')
	}
	return b.String()
}
