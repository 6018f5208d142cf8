package parser

import (
	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// The Parseable nodes of the grammar: the expression and value productions
// described in grammar.go. Each returns participle.NextMatch when the next
// token cannot start it, and a *participle.UnexpectedTokenError at the
// token where it went wrong after that, as participle's own nodes do.

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
	var err error
	switch tok := lex.Peek(); {
	case tok.Value == "global" && tok.Type == tokIdent:
		a.Global = lex.Next()
		a.Role, err = want(lex, tokString)
	case isWord(tok, "not"):
		a.Not, a.Negated = lex.Next(), new(pAtom)
		// An 'on' after the negated atom is that atom's.
		return required(lex, a.Negated.Parse(lex))
	case isPunct(tok, "("):
		lex.Next()
		a.Paren = new(pCond)
		if err = required(lex, a.Paren.Parse(lex)); err == nil {
			err = expect(lex, ")")
		}
	default:
		if err := a.Term.Parse(lex); err != nil {
			return err // NextMatch: no atom starts here
		}
		switch next := lex.Peek(); {
		case next.Type == tokCmp:
			a.Op, a.Right = lex.Next(), new(pTerm)
			err = required(lex, a.Right.Parse(lex))
		case isWord(next, "matches"):
			lex.Next()
			a.Type, err = want(lex, tokIdent)
		}
	}
	if next := lex.Peek(); err == nil && next.Value == "on" && next.Type == tokIdent {
		a.On = lex.Next()
		a.Rel, err = want(lex, tokString)
	}
	return err
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
			var err error
			if a.Type, err = want(lex, tokIdent); err != nil {
				return err
			}
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

// want consumes a token of type typ or reports the token in its place.
func want(lex *lexer.PeekingLexer, typ lexer.TokenType) (*lexer.Token, error) {
	if lex.Peek().Type != typ {
		return nil, unexpected(lex)
	}
	return lex.Next(), nil
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
