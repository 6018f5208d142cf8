package term

import (
	"fmt"
	"strconv"
)

// ParseFact reads a fact in the form Fact.String prints it:
// pred(User{"alice"}, "text", 42, true). It is the inverse of String for
// every well-formed fact (ParseFact(f.String()) equals f), so that a fact
// kept as text, as the decision log keeps context facts, can be used again.
// The result is normalized (Fact.Normalize).
func ParseFact(s string) (Fact, error) {
	p := factParser{s: s}
	f, err := p.fact()
	if err != nil {
		return Fact{}, fmt.Errorf("parsing fact %q: %w", s, err)
	}
	return f.Normalize()
}

type factParser struct {
	s   string
	pos int
}

func (p *factParser) fact() (Fact, error) {
	p.space()
	name := p.ident()
	if name == "" {
		return Fact{}, fmt.Errorf("offset %d: a predicate name is expected", p.pos)
	}
	if !p.eat('(') {
		return Fact{}, fmt.Errorf("offset %d: ( is expected after the predicate", p.pos)
	}
	f := Fact{Predicate: name}
	p.space()
	if !p.eat(')') {
		for {
			v, err := p.value()
			if err != nil {
				return Fact{}, err
			}
			f.Args = append(f.Args, v)
			p.space()
			if p.eat(')') {
				break
			}
			if !p.eat(',') {
				return Fact{}, fmt.Errorf("offset %d: , or ) is expected", p.pos)
			}
		}
	}
	p.space()
	if p.pos != len(p.s) {
		return Fact{}, fmt.Errorf("offset %d: unexpected text after the fact", p.pos)
	}
	return f, nil
}

func (p *factParser) space() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
}

func (p *factParser) eat(c byte) bool {
	p.space()
	if p.pos < len(p.s) && p.s[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

// ident reads a name: letters, digits, _ , : and . (type names may be
// qualified).
func (p *factParser) ident() string {
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c == '_' || c == ':' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' && p.pos > start {
			p.pos++
			continue
		}
		break
	}
	return p.s[start:p.pos]
}

func (p *factParser) quoted() (string, error) {
	if p.pos >= len(p.s) || p.s[p.pos] != '"' {
		return "", fmt.Errorf("offset %d: a quoted string is expected", p.pos)
	}
	q, err := strconv.QuotedPrefix(p.s[p.pos:])
	if err != nil {
		return "", fmt.Errorf("offset %d: %w", p.pos, err)
	}
	p.pos += len(q)
	return strconv.Unquote(q)
}

func (p *factParser) value() (Value, error) {
	p.space()
	if p.pos >= len(p.s) {
		return Value{}, fmt.Errorf("offset %d: a value is expected", p.pos)
	}
	switch c := p.s[p.pos]; {
	case c == '"':
		s, err := p.quoted()
		return String(s), err
	case c == '-' || c >= '0' && c <= '9':
		start := p.pos
		p.pos++
		for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
			p.pos++
		}
		return Value{Type: TypeInteger, ID: p.s[start:p.pos]}, nil
	}
	name := p.ident()
	switch name {
	case "":
		return Value{}, fmt.Errorf("offset %d: a value is expected", p.pos)
	case "true", "false":
		return Value{Type: TypeBoolean, ID: name}, nil
	}
	if !p.eat('{') {
		return Value{}, fmt.Errorf("offset %d: { is expected after type %s", p.pos, name)
	}
	p.space()
	id, err := p.quoted()
	if err != nil {
		return Value{}, err
	}
	if !p.eat('}') {
		return Value{}, fmt.Errorf("offset %d: } is expected", p.pos)
	}
	return Value{Type: name, ID: id}, nil
}
