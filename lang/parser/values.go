package parser

import (
	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// The Parseable nodes of the grammar: the expression and value productions
// described in grammar.go. Each returns participle.NextMatch when the next token cannot
// start it, and a *participle.UnexpectedTokenError at the token where it
// went wrong after that, as participle's own nodes do.

// Parse implements participle.Parseable.
func (c *pCond) Parse(lex *lexer.PeekingLexer) error {
	if err := c.First.Parse(lex); err != nil {
		return err
	}
	for lex.Peek().Type == tokLogic {
		c.Ops = append(c.Ops, lex.Next().Value)
		a := new(pAtom)
		if err := required(lex, a.Parse(lex)); err != nil {
			return err
		}
		c.Rest = append(c.Rest, a)
	}
	return nil
}

// Parse implements participle.Parseable.
func (a *pAtom) Parse(lex *lexer.PeekingLexer) error {
	switch tok := lex.Peek(); {
	case tok.Value == "global" && tok.Type == tokIdent:
		a.Global = lex.Next()
		if lex.Peek().Type != tokString {
			return unexpected(lex)
		}
		a.Role = lex.Next()
	case isWord(tok, "not"):
		a.Not = lex.Next()
		a.Negated = new(pAtom)
		if err := required(lex, a.Negated.Parse(lex)); err != nil {
			return err
		}
	case isPunct(tok, "("):
		lex.Next()
		a.Paren = new(pCond)
		if err := required(lex, a.Paren.Parse(lex)); err != nil {
			return err
		}
		if err := expect(lex, ")"); err != nil {
			return err
		}
	default:
		if err := a.Term.Parse(lex); err != nil {
			return err // NextMatch: no atom starts here
		}
		switch next := lex.Peek(); {
		case next.Type == tokCmp:
			a.Op = lex.Next()
			a.Right = new(pTerm)
			if err := required(lex, a.Right.Parse(lex)); err != nil {
				return err
			}
		case isWord(next, "matches"):
			lex.Next()
			if lex.Peek().Type != tokIdent {
				return unexpected(lex)
			}
			a.Type = lex.Next()
		}
	}
	if next := lex.Peek(); next.Value == "on" && next.Type == tokIdent {
		a.On = lex.Next()
		if lex.Peek().Type != tokString {
			return unexpected(lex)
		}
		a.Rel = lex.Next()
	}
	return nil
}

// Parse implements participle.Parseable.
func (t *pTerm) Parse(lex *lexer.PeekingLexer) error {
	tok := lex.Peek()
	switch {
	case tok.Type == tokIdent:
		t.Name = lex.Next()
		switch next := lex.Peek(); {
		case isPunct(next, "("):
			t.Open = lex.Next()
			return parseArgs(lex, &t.Args, ")")
		case isPunct(next, "{"):
			lex.Next()
			t.Entity = new(pTerm)
			if err := required(lex, t.Entity.Parse(lex)); err != nil {
				return err
			}
			return expect(lex, "}")
		}
	case tok.Type == tokString:
		t.Str = lex.Next()
	case tok.Type == tokInt:
		t.Int = lex.Next()
	case isWord(tok, "true") || isWord(tok, "false"):
		t.Bool = lex.Next()
	case tok.Type == tokConst:
		t.Const = lex.Next()
	default:
		t.List = new(pList)
		return t.List.Parse(lex)
	}
	return nil
}

// Parse implements participle.Parseable.
func (a *pArgs) Parse(lex *lexer.PeekingLexer) error {
	if !isPunct(lex.Peek(), "(") {
		return participle.NextMatch
	}
	a.Open = *lex.Next()
	return parseArgs(lex, &a.Args, ")")
}

// Parse implements participle.Parseable.
func (l *pList) Parse(lex *lexer.PeekingLexer) error {
	if !isPunct(lex.Peek(), "[") {
		return participle.NextMatch
	}
	l.Open = *lex.Next()
	return parseArgs(lex, &l.Elems, "]")
}

// parseArgs parses `{ arg } close` after the opening bracket.
func parseArgs(lex *lexer.PeekingLexer, out *[]pArg, close string) error {
	if !isPunct(lex.Peek(), close) {
		*out = make([]pArg, 0, 4) // most argument lists are short: one allocation
	}
	for !isPunct(lex.Peek(), close) {
		*out = append(*out, pArg{})
		a := &(*out)[len(*out)-1]
		if err := a.Term.Parse(lex); err != nil {
			return required(lex, err)
		}
		if isPunct(lex.Peek(), ":") {
			a.Colon = lex.Next()
			if lex.Peek().Type != tokIdent {
				return unexpected(lex)
			}
			a.Type = lex.Next()
		}
		if isPunct(lex.Peek(), ",") {
			a.Comma = lex.Next()
		}
	}
	lex.Next()
	return nil
}

// expect consumes the punctuation v or reports the token in its place.
func expect(lex *lexer.PeekingLexer, v string) error {
	if !isPunct(lex.Peek(), v) {
		return unexpected(lex)
	}
	lex.Next()
	return nil
}

// required turns "no match" into an error where a production must match.
func required(lex *lexer.PeekingLexer, err error) error {
	if err == participle.NextMatch {
		return unexpected(lex)
	}
	return err
}

func unexpected(lex *lexer.PeekingLexer) error {
	return &participle.UnexpectedTokenError{Unexpected: *lex.Peek()}
}
