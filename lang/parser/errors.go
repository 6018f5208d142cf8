package parser

import (
	"errors"
	"fmt"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"

	"github.com/castellan-authz/castellan/lang/internal/edit"
)

// Keywords that may appear in each kind of item.
var (
	blockWords = []string{"extends", "roles", "permissions", "relations", "if", "on", "global"}
	ruleWords  = []string{"if", "and", "or", "not", "in", "matches"}
	testWords  = []string{"setup", "fixture", "assert", "assert_not", "iff", "not", "in"}
)

// syntaxError turns a participle error for the tokens toks of item it into
// a positioned error with a message that names what was found, what the
// grammar expected there, and where it helps a hint. expected is what
// the grammar accepts in place of the unexpected token (see
// fileParser.expected).
//
// words are the keywords that may appear in this kind of item; an unknown
// name close to one of them gets a "did you mean" hint.
func (p *fileParser) syntaxError(it span, toks []lexer.Token, err error, expected func(i int) []string, words []string) {
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
	idx := len(toks)
	if tok.Type != tokEnd {
		for i, t := range toks {
			if t.Pos.Offset == tok.Pos.Offset {
				idx = i
				break
			}
		}
	}
	var prev *lexer.Token
	if idx > 0 {
		prev = &toks[idx-1]
	}
	if tok.Type == tokString && prev != nil && prev.Type == tokIdent && idx > 1 && isWord(&toks[idx-2], "if") {
		// `"read" if globl "admin";`
		hint := `an implier is one name: "owner", or global "admin"`
		if nearest(prev.Value, []string{"global"}) != "" {
			hint = "did you mean 'global'?"
		}
		p.errorf(tok.Pos, hint, "unexpected %s", describe(tok))
		return
	}
	exp := expected(idx)
	want := ""
	if len(exp) > 0 {
		want = "; expected " + strings.Join(exp, " or ")
	}
	forgot := forgotHint(exp)

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
	case tok.Type != tokString && reserved(tok.Value) && tok.Value != "true" && tok.Value != "false" && prev != nil && beforeName[prev.Value]:
		p.errorf(tok.Pos, fmt.Sprintf("'%s' is a reserved word and cannot be used as a name", tok.Value),
			"unexpected reserved word '%s'", tok.Value)
	case tok.Type == tokInt && (tok.Value[0] == '-' || tok.Value[0] == '+') && prev != nil && endsTerm(*prev):
		p.errorf(tok.Pos, "compute the value in your application and send it as a fact",
			"arithmetic (%c) is not supported in Oso Cloud policies", tok.Value[0])
	case tok.Type == tokIdent && prev != nil && prev.Value == "on":
		p.errorf(tok.Pos, fmt.Sprintf("relation names are quoted: on %q", tok.Value), "unexpected %s%s", describe(tok), want)
	case tok.Type == tokCmp && tok.Value != "in" && prev != nil && endsTerm(*prev):
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

// probes are the tokens tried in place of an unexpected one to learn what
// the grammar expects there, in the order the expectation names them.
var probes = []lexer.Token{
	{Type: tokKeyword, Value: "not"},
	{Type: tokInt, Value: "1"},
	{Type: tokIdent, Value: "x"},
	{Type: tokString, Value: `"x"`},
	{Type: tokKeyword, Value: "if"},
	{Type: tokCmp, Value: "="},
	{Type: tokPunct, Value: ","},
	{Type: tokPunct, Value: "["},
	{Type: tokPunct, Value: "("},
	{Type: tokPunct, Value: "{"},
	{Type: tokPunct, Value: ":"},
	{Type: tokPunct, Value: ";"},
	{Type: tokPunct, Value: ")"},
	{Type: tokPunct, Value: "]"},
	{Type: tokPunct, Value: "}"},
}

// expected names what the grammar accepts in place of toks[i] (or at the
// end of the item when i is len(toks)). It asks the grammar itself: each
// probe token is put after toks[:i] and that parsed again (by parse, which
// returns participle's error); a probe that the parser gets past is
// expected. Probes name single tokens; the classes they fall into are
// named as the productions that start with them ("a condition", "a
// value", "an argument", "a type name", ...). This runs only for an item
// with a syntax error.
func expected(toks []lexer.Token, i int, parse func([]lexer.Token) error) []string {
	// What follows the probe does not matter: the parser either stops at
	// the probe or goes past it.
	buf := append(make([]lexer.Token, 0, i+1), toks[:i]...)
	pos := lexer.Position{}
	if i < len(toks) {
		pos = toks[i].Pos
	}
	ok := map[string]bool{}
	for _, pr := range probes {
		pr.Pos = pos
		err := parse(append(buf[:i], pr))
		var ute *participle.UnexpectedTokenError
		if err == nil || errors.As(err, &ute) && ute.Unexpected != pr {
			ok[pr.Value] = true
		}
	}
	var prev string
	if i > 0 {
		prev = toks[i-1].Value
	}
	var out []string
	separator := ok[","]
	switch {
	case separator:
		// After a whole element: a missing ',' is reported later, so what
		// could start the next element is not what is missing.
	case ok["not"]:
		out = append(out, "a condition")
	case ok["1"] && prev == "(":
		out = append(out, "an argument", "')'")
	case ok["1"] && prev == "," && ok[")"]:
		out = append(out, "an argument")
	case ok["1"]:
		out = append(out, "a value")
	case ok["x"] && ok[`"x"`]:
		// A block item: named by what closes the block.
	case ok["x"] && (prev == ":" || prev == "matches"):
		out = append(out, "a type name")
	case ok["x"]:
		out = append(out, "a name")
	case ok[`"x"`]:
		out = append(out, "a string")
	}
	// '(' and '{' also continue a name into a call or an entity: they are
	// named only when nothing else can close what came before.
	closes := false
	for _, v := range []string{"if", ",", ":", ";", ")", "]", "}"} {
		closes = closes || ok[v]
	}
	valueStart := !separator && ok["1"]
	for _, pr := range probes[4:] {
		v := pr.Value
		switch {
		case !ok[v],
			v == "=" && !ok["if"], // after a call, a comparison may follow; say ';'
			v == ":" && separator, // the type of an argument
			(v == "(" || v == "{") && closes,
			v == "[" && (separator || valueStart),
			valueStart && (v == ")" || v == "]"):
			continue
		}
		out = append(out, "'"+v+"'")
	}
	return out
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
