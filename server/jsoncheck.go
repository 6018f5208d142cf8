package server

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// encoding/json decodes invalid UTF-8 (and a lone surrogate escape such as
// "\ud800") to U+FFFD, and keeps the last of two equal keys, matching a
// struct field without regard to case. Either way two different requests
// would decode to one, and a gateway reading the same body could see
// another request than the one Castellan decides. checkJSON reads the body
// once, before encoding/json does, and refuses both, naming where.

// maxCheckDepth is encoding/json's nesting limit: past it, the body is
// left for encoding/json to refuse.
const maxCheckDepth = 10000

// smallObject is how many keys of one object are compared pairwise before
// a set of folded keys takes over (so a huge object costs linear time).
const smallObject = 16

// checkJSON returns a 400 when a JSON string of b (a value or a key) is
// not valid UTF-8 or an object repeats a key (compared as encoding/json
// matches struct fields: after unescaping, without regard to case). It
// returns nil for any other body, malformed ones included: encoding/json
// says what is wrong with those.
func checkJSON(b []byte) error {
	var c jsonChecker
	c.b = b
	c.frames = c.frameBuf[:0]
	c.keys = c.keyBuf[:0]
	return c.run()
}

// jsonChecker is the state of checkJSON: the containers open around the
// current position and the keys seen in each open object.
type jsonChecker struct {
	scanner  // the body and the position in it (fastjson.go)
	frames   []checkFrame
	keys     []span // keys of the open objects, innermost last
	frameBuf [8]checkFrame
	keyBuf   [32]span
}

// span is a string's contents in the body, between its quotes.
type span struct {
	start, end int
	escaped    bool
}

// checkFrame is an open object or array.
type checkFrame struct {
	object bool
	index  int                 // array: the current element
	key    span                // object: the current key
	keys   int                 // object: where its keys start in jsonChecker.keys
	folded map[string]struct{} // object: its folded keys, once it has many
}

// errStop ends a check without a verdict (the body is malformed).
type errStop struct{}

func (errStop) Error() string { return "malformed JSON" }

func (c *jsonChecker) run() error {
	err := c.walk()
	if _, ok := err.(errStop); ok {
		return nil
	}
	return err
}

// walk reads one JSON value, iteratively.
func (c *jsonChecker) walk() error {
	for {
		// A value.
		switch c.peek() {
		case '{':
			c.i++
			if len(c.frames) >= maxCheckDepth {
				return errStop{}
			}
			c.frames = append(c.frames, checkFrame{object: true, keys: len(c.keys)})
			if c.peek() == '}' {
				c.i++
				c.frames = c.frames[:len(c.frames)-1]
				break
			}
			if err := c.key(); err != nil {
				return err
			}
			continue
		case '[':
			c.i++
			if len(c.frames) >= maxCheckDepth {
				return errStop{}
			}
			c.frames = append(c.frames, checkFrame{})
			if c.peek() == ']' {
				c.i++
				c.frames = c.frames[:len(c.frames)-1]
				break
			}
			continue
		case '"':
			c.i++
			if _, err := c.str(); err != nil {
				return err
			}
		case 0:
			return errStop{}
		default:
			// A number or a literal: encoding/json checks its spelling.
			for c.i < len(c.b) && !isDelim(c.b[c.i]) {
				c.i++
			}
		}
		// After a value: the next element, the next key or the end of a
		// container, as often as containers end here.
		for {
			if len(c.frames) == 0 {
				return nil
			}
			f := &c.frames[len(c.frames)-1]
			switch c.next() {
			case ',':
				if f.object {
					if err := c.key(); err != nil {
						return err
					}
				} else {
					f.index++
				}
			case '}':
				if !f.object {
					return errStop{}
				}
				c.keys = c.keys[:f.keys]
				c.frames = c.frames[:len(c.frames)-1]
				continue
			case ']':
				if f.object {
					return errStop{}
				}
				c.frames = c.frames[:len(c.frames)-1]
				continue
			default:
				return errStop{}
			}
			break
		}
	}
}

// isDelim reports whether c ends a number or a literal.
func isDelim(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\n', '\r', '"', '{', '[', ':':
		return true
	}
	return false
}

// key reads `"key":` in the innermost object and refuses a repeated key.
func (c *jsonChecker) key() error {
	f := &c.frames[len(c.frames)-1]
	f.key = span{} // until it is read, the path names the object
	if c.next() != '"' {
		return errStop{}
	}
	k, err := c.str()
	if err != nil {
		if ue, ok := err.(*apiError); ok {
			// The key itself is not valid UTF-8: name the object.
			ue.Message = "malformed JSON: a key in " + c.where() + " is not valid UTF-8"
		}
		return err
	}
	if c.next() != ':' {
		return errStop{}
	}
	if f.folded != nil {
		fk := string(c.fold(k))
		if _, dup := f.folded[fk]; dup {
			return c.duplicate(k, f)
		}
		f.folded[fk] = struct{}{}
	} else {
		for _, prev := range c.keys[f.keys:] {
			if c.sameKey(prev, k) {
				return c.duplicate(k, f)
			}
		}
		c.keys = append(c.keys, k)
		if len(c.keys)-f.keys > smallObject {
			f.folded = make(map[string]struct{}, 2*smallObject)
			for _, prev := range c.keys[f.keys:] {
				f.folded[string(c.fold(prev))] = struct{}{}
			}
			c.keys = c.keys[:f.keys]
		}
	}
	f.key = k
	return nil
}

// duplicate is the error of key k repeated in the object f.
func (c *jsonChecker) duplicate(k span, f *checkFrame) error {
	c.frames = c.frames[:len(c.frames)-1]
	where := "in the request body"
	if len(c.frames) > 0 {
		where = "at " + c.path()
	}
	return errorf(http.StatusBadRequest, codeInvalidJSON,
		"malformed JSON: duplicate key %q %s (keys are compared without regard to case; send each once)",
		c.text(k), where)
}

// sameKey reports whether two keys name the same field for encoding/json.
func (c *jsonChecker) sameKey(a, b span) bool {
	if !a.escaped && !b.escaped {
		return bytes.EqualFold(c.b[a.start:a.end], c.b[b.start:b.end])
	}
	return bytes.EqualFold(unescape(c.b[a.start:a.end]), unescape(c.b[b.start:b.end]))
}

// fold returns k unescaped and case-folded, as a map key.
func (c *jsonChecker) fold(k span) []byte {
	s := c.b[k.start:k.end]
	if k.escaped {
		s = unescape(s)
	}
	out := make([]byte, 0, len(s))
	for _, r := range string(s) {
		for {
			// The smallest rune of r's fold orbit, as encoding/json folds.
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		out = utf8.AppendRune(out, r)
	}
	return out
}

// text is a key as the error names it.
func (c *jsonChecker) text(k span) string {
	if k.escaped {
		return string(unescape(c.b[k.start:k.end]))
	}
	return string(c.b[k.start:k.end])
}

// str reads a string's contents (after its opening quote) up to and past
// its closing quote, refusing invalid UTF-8 and lone surrogate escapes.
func (c *jsonChecker) str() (span, error) {
	sp := span{start: c.i}
	for c.i < len(c.b) {
		ch := c.b[c.i]
		switch {
		case ch == '"':
			sp.end = c.i
			c.i++
			return sp, nil
		case ch == '\\':
			sp.escaped = true
			if c.i+1 >= len(c.b) {
				return sp, errStop{}
			}
			if c.b[c.i+1] != 'u' {
				c.i += 2
				continue
			}
			r, ok := hex4(c.b[c.i+2:])
			if !ok {
				return sp, errStop{}
			}
			c.i += 6
			if !utf16.IsSurrogate(r) {
				continue
			}
			if r < 0xdc00 && c.i+1 < len(c.b) && c.b[c.i] == '\\' && c.b[c.i+1] == 'u' {
				if r2, ok := hex4(c.b[c.i+2:]); ok && r2 >= 0xdc00 && r2 <= 0xdfff {
					c.i += 6
					continue
				}
			}
			return sp, c.notUTF8()
		case ch < 0x20:
			return sp, errStop{}
		case ch < utf8.RuneSelf:
			c.i++
		default:
			r, n := utf8.DecodeRune(c.b[c.i:])
			if r == utf8.RuneError && n == 1 {
				return sp, c.notUTF8()
			}
			c.i += n
		}
	}
	return sp, errStop{}
}

// notUTF8 is the error of a string at the current path that is not valid
// UTF-8.
func (c *jsonChecker) notUTF8() error {
	return errorf(http.StatusBadRequest, codeInvalidJSON,
		"malformed JSON: %s is not valid UTF-8 (at offset %d; ids, types, predicates and policy text must be UTF-8)",
		c.where(), c.i)
}

// where names the current position: its path, or the request body.
func (c *jsonChecker) where() string {
	if p := c.path(); p != "" {
		return p
	}
	return "the request body"
}

// path names the current position: facts[2].args[0].id.
func (c *jsonChecker) path() string {
	var sb strings.Builder
	for _, f := range c.frames {
		if !f.object {
			sb.WriteByte('[')
			sb.WriteString(strconv.Itoa(f.index))
			sb.WriteByte(']')
			continue
		}
		if f.key == (span{}) {
			continue
		}
		if sb.Len() > 0 {
			sb.WriteByte('.')
		}
		sb.WriteString(c.text(f.key))
	}
	return sb.String()
}

// unescape returns the contents of a JSON string with its escapes
// replaced. It is used only on keys that carry escapes, after str has
// checked them.
func unescape(s []byte) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		if s[i] != '\\' || i+1 >= len(s) {
			out = append(out, s[i])
			i++
			continue
		}
		switch e := s[i+1]; e {
		case 'u':
			r, _ := hex4(s[i+2:])
			i += 6
			if utf16.IsSurrogate(r) && i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
				r2, _ := hex4(s[i+2:])
				r = utf16.DecodeRune(r, r2)
				i += 6
			}
			out = utf8.AppendRune(out, r)
			continue
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		default: // " \ /
			out = append(out, e)
		}
		i += 2
	}
	return out
}

// hex4 reads the four hex digits of a \u escape.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, ch := range b[:4] {
		switch {
		case '0' <= ch && ch <= '9':
			ch -= '0'
		case 'a' <= ch && ch <= 'f':
			ch = ch - 'a' + 10
		case 'A' <= ch && ch <= 'F':
			ch = ch - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(ch)
	}
	return r, true
}
