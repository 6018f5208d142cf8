package parser

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// parseWith runs one of the participle parsers over the tokens of an item.
// On a syntax error it reports it (see syntaxError) and returns false.
func parseWith[G any](p *fileParser, it span, pp *participle.Parser[G]) (*G, bool) {
	lex, err := lexer.Upgrade(&sliceLexer{toks: append(it.toks[:len(it.toks):len(it.toks)], it.eof())})
	if err == nil {
		var g *G
		if g, err = pp.ParseFromLexer(lex); err == nil {
			return g, true
		}
	}
	p.syntaxError(it, err)
	return nil, false
}

var expectRE = regexp.MustCompile(`\(expected (.*)\)$`)

// keywords are the words that participle may expect; an unknown name close
// to one of them gets a "did you mean" hint.
var keywords = []string{
	"actor", "resource", "global", "extends", "roles", "permissions", "relations",
	"if", "on", "and", "or", "not", "in", "matches", "declare", "test", "fixture",
	"setup", "assert", "assert_not", "iff",
}

// syntaxError turns a participle error into a positioned error with a
// message that names what was found and, where it helps, a hint.
func (p *fileParser) syntaxError(it span, err error) {
	var ute *participle.UnexpectedTokenError
	if !errors.As(err, &ute) {
		var perr participle.Error
		if errors.As(err, &perr) {
			p.errorf(clampPos(perr.Position(), it), "", "%s", perr.Message())
		} else {
			p.errorf(it.toks[0].Pos, "", "%s", err.Error())
		}
		return
	}
	tok := ute.Unexpected
	var expected []string
	if m := expectRE.FindStringSubmatch(ute.Message()); m != nil {
		expected = splitExpected(m[1])
	}
	idx := len(it.toks)
	for i, t := range it.toks {
		if t.Pos.Offset == tok.Pos.Offset && !tok.EOF() {
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

	switch {
	case tok.EOF() && !it.cut:
		p.errorf(tok.Pos, "did you forget a ';' or '}'?", "hit the end of the file unexpectedly%s", want)
	case tok.EOF():
		if forgot == "" {
			forgot = "did you forget a ';' or '}'?"
		}
		p.errorf(tok.Pos, forgot, "unexpected %s%s", describe(it.next), want)
	case tok.Type == tokKeyword && contains(expected, "a name"):
		p.errorf(tok.Pos, fmt.Sprintf("'%s' is a reserved word and cannot be used as a name", tok.Value),
			"unexpected reserved word '%s'%s", tok.Value, want)
	case tok.Type == tokPunct && tok.Value == "=" && prev != nil && prev.Type == tokIdent && idx >= 2 &&
		(it.toks[idx-2].Value == "{" || it.toks[idx-2].Value == ";"):
		hint := "a block declares roles, permissions or relations"
		if kw := nearest(prev.Value, []string{"roles", "permissions", "relations"}); kw != "" {
			hint = fmt.Sprintf("did you mean '%s'?", kw)
		}
		p.errorf(prev.Pos, hint, "unknown declaration '%s'", prev.Value)
	case tok.Type == tokIdent && nearestExpected(tok.Value, expected) != "":
		kw := nearestExpected(tok.Value, expected)
		if kw == "on" {
			p.errorf(tok.Pos, "did you mean 'on'?", "unexpected relation keyword '%s'", tok.Value)
		} else {
			p.errorf(tok.Pos, fmt.Sprintf("did you mean '%s'?", kw), "unexpected '%s'%s", tok.Value, want)
		}
	case tok.Type == tokInt && (tok.Value[0] == '-' || tok.Value[0] == '+') && prev != nil && endsTerm(*prev):
		p.errorf(tok.Pos, "compute the value in your application and send it as a fact",
			"arithmetic (%c) is not supported in Oso Cloud policies", tok.Value[0])
	case tok.Type == tokIdent && prev != nil && prev.Value == "on":
		p.errorf(tok.Pos, fmt.Sprintf("relation names are quoted: on %q", tok.Value), "unexpected %s%s", describe(tok), want)
	default:
		hint := ""
		if forgot != "" && prev != nil && tok.Pos.Line > prev.Pos.Line {
			hint = forgot
		}
		p.errorf(tok.Pos, hint, "unexpected %s%s", describe(tok), want)
	}
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
	case contains(expected, "')'"):
		return "did you forget a ')'?"
	case contains(expected, "']'"):
		return "did you forget a ']'?"
	}
	return ""
}

// splitExpected turns participle's EBNF expectation (`";" | "if"`,
// `<ident>`) into readable alternatives.
func splitExpected(s string) []string {
	var out []string
	for _, alt := range strings.Split(s, " | ") {
		alt = strings.TrimSpace(alt)
		switch {
		case alt == "<ident>" || alt == "Ident":
			alt = "a name"
		case alt == "<string>" || alt == "String":
			alt = "a string"
		case alt == "<int>" || alt == "Int":
			alt = "an integer"
		case strings.HasPrefix(alt, `"`) && strings.HasSuffix(alt, `"`) && len(alt) >= 2:
			alt = "'" + alt[1:len(alt)-1] + "'"
		default:
			continue // a whole sub-production: not useful to show
		}
		if !contains(out, alt) {
			out = append(out, alt)
		}
	}
	return out
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

// nearestExpected returns the expected keyword closest to word, if close.
func nearestExpected(word string, expected []string) string {
	var kws []string
	for _, e := range expected {
		if strings.HasPrefix(e, "'") {
			kw := strings.Trim(e, "'")
			if contains(keywords, kw) {
				kws = append(kws, kw)
			}
		}
	}
	return nearest(word, kws)
}

// nearest returns the candidate closest to word by edit distance, if it is
// close enough to be a likely typo.
func nearest(word string, candidates []string) string {
	best, bestD := "", 0
	for _, c := range candidates {
		d := editDistance(word, c)
		limit := 1 + len(c)/4
		if d <= limit && d < len(c) && (best == "" || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
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
