package parser

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"

	"github.com/castellan-authz/castellan/lang/internal/edit"
)

// parseWith runs one of the participle parsers over the tokens of an item.
// On a syntax error it reports it (see syntaxError) and returns false.
//
// words are the keywords that may appear in this kind of item; an unknown
// name close to one of them gets a "did you mean" hint.
func parseWith[G any](p *fileParser, it span, pp *participle.Parser[G], words []string) (*G, bool) {
	// One participle lexer per item: Upgrade copies the tokens into a slice
	// it grows one token at a time, which costs less for many small slices
	// than for one large one.
	lex, err := lexer.Upgrade(&itemLexer{items: []span{it}, eof: p.eof})
	if err != nil {
		p.syntaxError(it, err, words)
		return nil, false
	}
	g, err := pp.ParseFromLexer(lex, participle.AllowTrailing(true))
	if err == nil {
		if end := lex.Peek(); end.Type == tokEnd {
			return g, true
		}
		err = &expectError{tok: *lex.Peek()}
	}
	p.syntaxError(it, err, words)
	return nil, false
}

var expectRE = regexp.MustCompile(`\(expected (.*)\)$`)

// Keywords that may appear in each kind of item.
var (
	blockWords = []string{"extends", "roles", "permissions", "relations", "if", "on", "global"}
	ruleWords  = []string{"if", "and", "or", "not", "in", "matches"}
	testWords  = []string{"setup", "fixture", "assert", "assert_not", "iff", "not", "in"}
)

// syntaxError turns a participle error into a positioned error with a
// message that names what was found and, where it helps, a hint.
func (p *fileParser) syntaxError(it span, err error, words []string) {
	var (
		tok      lexer.Token
		expected []string
		ute      *participle.UnexpectedTokenError
		ee       *expectError
		perr     participle.Error
	)
	switch {
	case errors.As(err, &ee) && ee.hint != "":
		p.errorf(ee.tok.Pos, ee.hint, "unexpected %s", describe(ee.tok))
		return
	case errors.As(err, &ee):
		tok, expected = ee.tok, ee.expected
	case errors.As(err, &ute):
		tok = ute.Unexpected
		if m := expectRE.FindStringSubmatch(ute.Message()); m != nil {
			expected = splitExpected(m[1])
		}
	case errors.As(err, &perr):
		p.errorf(clampPos(perr.Position(), it), "", "%s", perr.Message())
		return
	default:
		p.errorf(it.toks[0].Pos, "", "%s", err.Error())
		return
	}
	idx := len(it.toks)
	for i, t := range it.toks {
		if t.Pos.Offset == tok.Pos.Offset && tok.Type != tokEnd {
			idx = i
			break
		}
	}
	var prev *lexer.Token
	if idx > 0 {
		prev = &it.toks[idx-1]
	}
	want := ""
	if len(expected) > 0 {
		want = "; expected " + strings.Join(expected, " or ")
	}
	forgot := forgotHint(expected)

	near := ""
	if (tok.Type == tokIdent || tok.Type == tokKeyword) && prev != nil && (endsTerm(*prev) || prev.Value == ")") {
		near = nearest(tok.Value, words)
		if near == tok.Value {
			near = ""
		}
	}
	switch {
	case tok.Type == tokEnd && it.next.EOF():
		p.errorf(tok.Pos, "did you forget a ';' or '}'?", "hit the end of the file unexpectedly%s", want)
	case tok.Type == tokEnd:
		if forgot == "" {
			forgot = "did you forget a ';' or '}'?"
		}
		p.errorf(tok.Pos, forgot, "unexpected %s%s", describe(it.next), want)
	case near == "on":
		p.errorf(tok.Pos, "did you mean 'on'?", "unexpected relation keyword '%s'", tok.Value)
	case near != "":
		p.errorf(tok.Pos, fmt.Sprintf("did you mean '%s'?", near), "unexpected %s%s", describe(tok), want)
	case tok.Type == tokKeyword && tok.Value != "true" && tok.Value != "false" && prev != nil && beforeName[prev.Value]:
		p.errorf(tok.Pos, fmt.Sprintf("'%s' is a reserved word and cannot be used as a name", tok.Value),
			"unexpected reserved word '%s'", tok.Value)
	case tok.Type == tokInt && (tok.Value[0] == '-' || tok.Value[0] == '+') && prev != nil && endsTerm(*prev):
		p.errorf(tok.Pos, "compute the value in your application and send it as a fact",
			"arithmetic (%c) is not supported in Oso Cloud policies", tok.Value[0])
	case tok.Type == tokIdent && prev != nil && prev.Value == "on":
		p.errorf(tok.Pos, fmt.Sprintf("relation names are quoted: on %q", tok.Value), "unexpected %s%s", describe(tok), want)
	case tok.Type == tokPunct && isComparison(tok.Value) && prev != nil && endsTerm(*prev):
		p.errorf(tok.Pos, "comparisons do not chain; join them with 'and': x = y and y = z", "unexpected '%s'%s", tok.Value, want)
	case prev != nil && prev.Value == "matches":
		p.errorf(tok.Pos, "matches takes a type name: x matches User", "unexpected %s%s", describe(tok), want)
	default:
		hint := ""
		if forgot != "" && prev != nil && (tok.Pos.Line > prev.Pos.Line || tok.Value == "}") {
			hint = forgot
		}
		p.errorf(tok.Pos, hint, "unexpected %s%s", describe(tok), want)
	}
}

// beforeName are the tokens after which a name (or a value) is expected,
// so that a reserved word there was meant as one.
var beforeName = map[string]bool{
	"(": true, "[": true, ",": true, ":": true, "{": true,
	"=": true, "==": true, "!=": true, "<": true, "<=": true, ">": true, ">=": true, "in": true,
}

func isComparison(op string) bool {
	switch op {
	case "=", "==", "!=", "<", "<=", ">", ">=":
		return true
	}
	return false
}

// clampPos keeps an error position inside the item's text.
func clampPos(pos lexer.Position, it span) lexer.Position {
	if pos.Line == 0 {
		return it.toks[0].Pos
	}
	return pos
}

func forgotHint(expected []string) string {
	switch {
	case contains(expected, "';'"):
		return "did you forget a ';'?"
	case contains(expected, "'}'"):
		return "did you forget a '}'?"
	case contains(expected, "'{'"):
		return "a block needs braces, even when empty: actor User {}"
	case contains(expected, "')'"):
		return "did you forget a ')'?"
	case contains(expected, "']'"):
		return "did you forget a ']'?"
	}
	return ""
}

// splitExpected turns participle's EBNF expectation (`";"`, `PTerm`,
// `<ident> ","?`, `("{" PSetupItem* "}") | (PCall PIff? ";")`) into the
// readable alternatives that may come first.
func splitExpected(s string) []string {
	var out []string
	for _, alt := range firstSet(ebnfTokens(s)) {
		if !contains(out, alt) {
			out = append(out, alt)
		}
	}
	return out
}

// ebnfTokens splits participle's EBNF text into parentheses, '|',
// literals and names (with their ?, * or + suffix).
func ebnfTokens(s string) []string {
	var toks []string
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ':
			i++
		case c == '(' || c == ')' || c == '|':
			toks = append(toks, s[i:i+1])
			i++
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return toks
			}
			end := i + j + 2
			for end < len(s) && strings.IndexByte("?*+", s[end]) >= 0 {
				end++
			}
			toks = append(toks, s[i:end])
			i = end
		default:
			j := i
			for j < len(s) && strings.IndexByte(" ()|", s[j]) < 0 {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks
}

// firstSet returns what can come first in a sequence of EBNF tokens.
func firstSet(toks []string) []string {
	var out []string
	depth, seqDone := 0, false
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t == "|":
			if depth == 0 {
				seqDone = false
			}
			continue
		case t == ")":
			depth--
			continue
		}
		if depth > 0 || seqDone {
			if t == "(" {
				depth++
			}
			continue
		}
		if t == "(" {
			// A group: what starts it starts the sequence.
			j, d := i+1, 1
			for ; j < len(toks) && d > 0; j++ {
				if toks[j] == "(" {
					d++
				} else if toks[j] == ")" {
					d--
				}
			}
			if d > 0 {
				break // unbalanced: nothing more to learn
			}
			out = append(out, firstSet(toks[i+1:j-1])...)
			i = j - 1
			optional := j < len(toks) && (toks[j] == "?" || toks[j] == "*")
			if !optional {
				seqDone = true
			}
			continue
		}
		base := strings.TrimRight(t, "?*+")
		if name := readable(base); name != "" {
			out = append(out, name)
		}
		if base == t || strings.HasSuffix(t, "+") {
			seqDone = true
		}
	}
	return out
}

// readable names one EBNF element for an error message.
func readable(e string) string {
	switch {
	case e == "<ident>":
		return "a name"
	case e == "<string>":
		return "a string"
	case e == "<int>":
		return "an integer"
	case strings.HasPrefix(e, `"`) && len(e) >= 2:
		return "'" + e[1:len(e)-1] + "'"
	}
	return firstOf[e]
}

// firstOf names what a production of the grammar starts with.
var firstOf = map[string]string{
	"PName":      "a name",
	"PParam":     "an argument",
	"PElem":      "a value",
	"PCall":      "a call",
	"PTerm":      "a value",
	"PList":      "'['",
	"PAnd":       "a condition",
	"POr":        "a condition",
	"PNot":       "a condition",
	"PAtom":      "a condition",
	"PBlockItem": "a block item",
	"PSName":     "a name or a string",
	"PSetupItem": "a fact or 'fixture'",
	"PTestItem":  "'assert' or 'setup'",
	"PIff":       "'iff'",
	"PRelation":  "a relation",
	"PRelations": "'{'",
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// endsTerm reports whether t can end a term (so that a signed integer after
// it reads as arithmetic).
func endsTerm(t lexer.Token) bool {
	switch t.Type {
	case tokIdent, tokInt, tokString, tokConst:
		return true
	case tokPunct:
		return t.Value == ")" || t.Value == "]" || t.Value == "}"
	}
	return false
}

// describe names a token for an error message.
func describe(t lexer.Token) string {
	switch t.Type {
	case lexer.EOF:
		return "end of file"
	case tokString:
		return "string " + t.Value
	case tokInt:
		return "integer " + t.Value
	case tokKeyword:
		return "'" + t.Value + "'"
	case tokIdent:
		return "'" + t.Value + "'"
	}
	return "'" + t.Value + "'"
}

// nearest returns the candidate closest to word by edit distance, if it is
// close enough to be a likely typo.
func nearest(word string, candidates []string) string {
	best, bestD := "", 0
	for _, c := range candidates {
		d := edit.Distance(word, c)
		limit := 1 + len(c)/4
		if d <= limit && d < len(c) && (best == "" || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}
