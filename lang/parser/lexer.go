package parser

import (
	"fmt"
	"io"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/castellan-authz/castellan/lang/ast"
)

// Token types produced by scan. Participle matches grammar literals such as
// "if" against token values, and @Ident etc. against these types.
const (
	tokIdent lexer.TokenType = iota + 1
	tokKeyword
	tokString
	tokInt
	tokFloat
	tokConst
	tokPunct
	tokInvalid // a lexical error, already reported
	tokEnd     // the end of a top-level item (see split); Value "cut" when the item lacks its ';' or '}'
	tokCmp     // a comparison operator: = == != < <= > >= in (one type, so that the grammar matches any of them at once)
	tokLogic   // 'and' or 'or', for the same reason
)

// tokenNames names the token types for participle's @Type captures.
var tokenNames = map[string]lexer.TokenType{
	"EOF":     lexer.EOF,
	"Ident":   tokIdent,
	"Keyword": tokKeyword,
	"String":  tokString,
	"Int":     tokInt,
	"Float":   tokFloat,
	"Const":   tokConst,
	"Punct":   tokPunct,
	"Invalid": tokInvalid,
	"End":     tokEnd,
	"Cmp":     tokCmp,
	"Logic":   tokLogic,
}

// reserved reports whether word can never be a name. Other keywords of the
// language (actor, resource, roles, on, global, assert, ...) are contextual
// and remain usable as variable names. A switch rather than a map: every
// identifier of a file is looked up.
func reserved(word string) bool {
	switch word {
	case "and", "or", "not", "in", "matches",
		"if", "iff", "true", "false",
		"cut", "forall", "debug", "print",
		"type", "new", "isa":
		return true
	}
	return false
}

// definition is the lexer.Definition handed to participle. Participle only
// uses its symbol table: the tokens themselves come from scan, which also
// collects comments and lexical errors.
type definition struct{}

func (definition) Symbols() map[string]lexer.TokenType { return tokenNames }

func (definition) Lex(filename string, r io.Reader) (lexer.Lexer, error) {
	src, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var errs ast.ErrorList
	s := newScanner(filename, src, &errs, nil)
	var toks []lexer.Token
	for {
		t := s.next()
		toks = append(toks, t)
		if t.EOF() {
			break
		}
	}
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return &sliceLexer{toks: toks[:len(toks)-1], end: toks[len(toks)-1]}, nil
}

// sliceLexer replays the tokens of one item, then its end token, then EOF
// for ever.
type sliceLexer struct {
	toks []lexer.Token
	end  lexer.Token
	i    int
}

func (l *sliceLexer) Next() (lexer.Token, error) {
	switch {
	case l.i < len(l.toks):
		l.i++
		return l.toks[l.i-1], nil
	case l.i == len(l.toks):
		l.i++
		return l.end, nil
	}
	return lexer.EOFToken(l.end.Pos), nil
}

// scanner turns source into tokens one at a time (see next), collecting
// comments and lexical errors on the side. It never fails: a lexical error
// is recorded and produces a tokInvalid token, so the item holding it is
// skipped.
type scanner struct {
	file     string
	src      []byte
	text     string // src as a string: token values are slices of it
	off      int
	line     int
	col      int
	errs     *ast.ErrorList
	comments *[]*ast.Comment // nil: comments are dropped
	tok      lexer.Token     // the token the last step produced
	have     bool            // whether the last step produced one
}

func newScanner(filename string, src []byte, errs *ast.ErrorList, comments *[]*ast.Comment) *scanner {
	s := &scanner{file: filename, src: src, text: string(src), line: 1, col: 1, errs: errs, comments: comments}
	if len(src) >= 3 && src[0] == 0xEF && src[1] == 0xBB && src[2] == 0xBF {
		s.advance(3) // a UTF-8 byte order mark, as some editors write
	}
	return s
}

// next returns the next token; at the end of the source, an EOF token
// every time it is called.
func (s *scanner) next() lexer.Token {
	s.have = false
	for !s.have {
		if s.off >= len(s.src) {
			return lexer.EOFToken(s.pos())
		}
		s.step()
	}
	return s.tok
}

func (s *scanner) pos() lexer.Position {
	return lexer.Position{Filename: s.file, Offset: s.off, Line: s.line, Column: s.col}
}

// advance moves over n bytes, none of which is a newline.
func (s *scanner) advance(n int) {
	s.off += n
	s.col += n
}

func (s *scanner) emit(typ lexer.TokenType, start lexer.Position) {
	s.tok = lexer.Token{Type: typ, Value: s.text[start.Offset:s.off], Pos: start}
	s.have = true
}

func (s *scanner) errorf(p lexer.Position, hint, format string, args ...any) {
	s.errs.Add(astPos(p), fmt.Sprintf(format, args...), hint)
}

func (s *scanner) peek(i int) byte {
	if s.off+i < len(s.src) {
		return s.src[s.off+i]
	}
	return 0
}

func isLetter(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }

// step scans white space, a comment or one token.
func (s *scanner) step() {
	c := s.src[s.off]
	start := s.pos()
	switch {
	case c == '\n':
		s.off++
		s.line++
		s.col = 1
	case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
		s.advance(1)
	case c == '#':
		end := s.off
		for end < len(s.src) && s.src[end] != '\n' {
			end++
		}
		if s.comments != nil {
			text := strings.TrimSuffix(s.text[s.off+1:end], "\r")
			*s.comments = append(*s.comments, &ast.Comment{Pos: astPos(start), Text: text})
		}
		s.advance(end - s.off)
	case isLetter(c):
		s.ident(start)
	case isDigit(c) || (c == '-' || c == '+') && isDigit(s.peek(1)):
		s.number(start)
	case c == '"':
		s.str(start)
	case c == '@' && isLetter(s.peek(1)):
		s.advance(1)
		for s.off < len(s.src) && (isLetter(s.src[s.off]) || isDigit(s.src[s.off])) {
			s.advance(1)
		}
		s.emit(tokConst, start)
	default:
		s.punct(start, c)
	}
}

func (s *scanner) identRun() {
	for s.off < len(s.src) && (isLetter(s.src[s.off]) || isDigit(s.src[s.off])) {
		s.advance(1)
	}
}

func (s *scanner) ident(start lexer.Position) {
	s.identRun()
	plain := true
	for s.peek(0) == ':' && s.peek(1) == ':' && (isLetter(s.peek(2)) || isDigit(s.peek(2))) {
		plain = false
		s.advance(2)
		s.identRun()
	}
	switch word := s.text[start.Offset:s.off]; {
	case plain && word == "in":
		s.emit(tokCmp, start)
		return
	case plain && (word == "and" || word == "or"):
		s.emit(tokLogic, start)
		return
	case plain && reserved(word):
		s.emit(tokKeyword, start)
		return
	}
	s.emit(tokIdent, start)
}

func (s *scanner) number(start lexer.Position) {
	s.advance(1)
	for isDigit(s.peek(0)) {
		s.advance(1)
	}
	typ := tokInt
	if s.peek(0) == '.' && isDigit(s.peek(1)) {
		typ = tokFloat
		s.advance(1)
		for isDigit(s.peek(0)) {
			s.advance(1)
		}
	}
	if c := s.peek(0); c == 'e' || c == 'E' {
		n := 1
		if c := s.peek(1); c == '+' || c == '-' {
			n = 2
		}
		if isDigit(s.peek(n)) {
			typ = tokFloat
			s.advance(n)
			for isDigit(s.peek(0)) {
				s.advance(1)
			}
		}
	}
	s.emit(typ, start)
}

// str scans a double-quoted string. The token value keeps the quotes and
// escapes as written; unquote turns it into the string's value.
func (s *scanner) str(start lexer.Position) {
	s.advance(1)
	for {
		if s.off >= len(s.src) || s.src[s.off] == '\n' {
			s.errorf(start, `a string ends with '"' on the line where it starts; write a newline as \n`, "unterminated string")
			s.emit(tokInvalid, start)
			return
		}
		switch s.src[s.off] {
		case '"':
			s.advance(1)
			s.emit(tokString, start)
			return
		case '\\':
			p := s.pos()
			switch s.peek(1) {
			case '"', '\\', 'n', 't', 'r':
				s.advance(2)
				continue
			case '\n':
				s.advance(1)
				continue // reported as unterminated
			}
			if s.off+1 >= len(s.src) {
				s.advance(1)
				continue // reported as unterminated
			}
			s.errorf(p, `the escapes are \" \\ \n \t and \r`, "unknown escape sequence %q", string(s.src[s.off:s.off+2]))
			s.advance(2)
			for s.off < len(s.src) && s.src[s.off] != '"' && s.src[s.off] != '\n' {
				if s.src[s.off] == '\\' && s.off+1 < len(s.src) && s.src[s.off+1] != '\n' {
					s.advance(1)
				}
				s.advance(1)
			}
			if s.off < len(s.src) && s.src[s.off] == '"' {
				s.advance(1)
			}
			s.emit(tokInvalid, start)
			return
		default:
			s.advance(1)
		}
	}
}

// twoByte are the operators spelt with two characters.
var twoByte = map[string]bool{"==": true, "!=": true, "<=": true, ">=": true, "?=": true}

func (s *scanner) punct(start lexer.Position, c byte) {
	n := 0
	if s.off+1 < len(s.src) && twoByte[string(s.src[s.off:s.off+2])] {
		n = 2
	} else {
		switch c {
		case '(', ')', '[', ']', '{', '}', ',', ';', ':', '=', '<', '>', '.', '+', '-', '*', '/', '!', '%':
			n = 1
		}
	}
	if n > 0 {
		typ := tokPunct
		if isComparison(s.text[s.off : s.off+n]) {
			typ = tokCmp
		}
		s.advance(n)
		s.emit(typ, start)
		return
	}
	end := s.off + 1
	hint := ""
	switch {
	case c >= 0x80 || c < 0x20 || c == 0x7f:
		// A run of bytes Polar has no use for: one error for the run.
		for end < len(s.src) && (s.src[end] >= 0x80 || s.src[end] < 0x20 && s.src[end] != '\n' && s.src[end] != '\t' && s.src[end] != '\r' || s.src[end] == 0x7f) {
			end++
		}
		hint = "names use ASCII letters, digits and '_'; other text belongs in a double-quoted string"
	case c == '\'':
		hint = `strings use double quotes: "read"`
	case c == '&' || c == '|':
		hint = "write 'and' / 'or'"
	}
	s.errorf(start, hint, "unexpected character %q", string(s.src[s.off:end]))
	s.advance(end - s.off)
	s.emit(tokInvalid, start)
}

func astPos(p lexer.Position) ast.Position {
	return ast.Position{File: p.Filename, Line: p.Line, Col: p.Column, Offset: p.Offset}
}

// unquote returns the value of a string token (quotes and escapes as
// written). scan has already rejected unknown escapes.
func unquote(raw string) string {
	raw = raw[1 : len(raw)-1]
	if !strings.Contains(raw, `\`) {
		return raw
	}
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' || i+1 == len(raw) {
			b.WriteByte(c)
			continue
		}
		i++
		switch raw[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		default:
			b.WriteByte(raw[i])
		}
	}
	return b.String()
}

func isPunct(t *lexer.Token, v string) bool { return t.Type == tokPunct && t.Value == v }
func isWord(t *lexer.Token, v string) bool  { return t.Type == tokKeyword && t.Value == v }
