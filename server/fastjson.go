package server

import (
	"bytes"
	"io"
	"net/http"
	"unicode/utf8"
)

// The authorize check is the hot path: its body is a flat object of
// strings. scanAuthorize reads the common, well-formed case without
// reflection; anything else (escapes, context facts, unknown or repeated
// keys, bad syntax) makes it give up, and the request is decoded by
// encoding/json, strictly, as every other body, with the same errors.

// readBody reads the whole request body (bounded by limitBody).
func readBody(r *http.Request) ([]byte, error) {
	if n := r.ContentLength; n > 0 && n <= 1<<20 {
		// net/http never gives a handler more than Content-Length bytes.
		buf := make([]byte, n)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return io.ReadAll(r.Body)
}

// decodeAuthorize decodes an authorize body: the fast scan when it
// applies, encoding/json otherwise.
func decodeAuthorize(r *http.Request, req *authorizeRequest) error {
	body, err := readBody(r)
	if err != nil {
		return jsonError(err)
	}
	if scanAuthorize(body, req) {
		return nil
	}
	*req = authorizeRequest{}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return decodeJSON(r, req)
}

// scanAuthorize fills req from a body of the form
// {"actor_type": "...", ..., "context_facts": []} and reports whether it
// could. It accepts only plain strings (no escapes), an empty or null
// context_facts, each known key at most once.
func scanAuthorize(b []byte, req *authorizeRequest) bool {
	s := scanner{b: b}
	if !s.byte('{') {
		return false
	}
	var seen uint8
	if s.peek() == '}' {
		return false // nothing: let encoding/json say what is missing
	}
	for {
		key, ok := s.str()
		if !ok || !s.byte(':') {
			return false
		}
		var bit uint8
		var dst **string
		switch key {
		case "actor_type":
			bit, dst = 1, &req.ActorType
		case "actor_id":
			bit, dst = 2, &req.ActorID
		case "action":
			bit, dst = 4, &req.Action
		case "resource_type":
			bit, dst = 8, &req.ResourceType
		case "resource_id":
			bit, dst = 16, &req.ResourceID
		case "context_facts":
			bit = 32
		default:
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		if dst != nil {
			v, ok := s.str()
			if !ok {
				return false
			}
			*dst = &v
		} else if !s.emptyArrayOrNull() {
			return false
		}
		switch s.next() {
		case ',':
			continue
		case '}':
			return s.end()
		default:
			return false
		}
	}
}

// scanner walks a JSON text byte by byte.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) skipSpace() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte without taking it (0 at the end).
func (s *scanner) peek() byte {
	s.skipSpace()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// next takes the next non-space byte (0 at the end).
func (s *scanner) next() byte {
	c := s.peek()
	if c != 0 {
		s.i++
	}
	return c
}

// byte takes c, reporting whether it was next.
func (s *scanner) byte(c byte) bool { return s.next() == c }

// str takes a string without escapes or control characters.
func (s *scanner) str() (string, bool) {
	if !s.byte('"') {
		return "", false
	}
	start := s.i
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			if !utf8.Valid(s.b[start:s.i]) {
				return "", false
			}
			v := string(s.b[start:s.i])
			s.i++
			return v, true
		case c == '\\' || c < 0x20:
			return "", false
		}
		s.i++
	}
	return "", false
}

// emptyArrayOrNull takes [] or null.
func (s *scanner) emptyArrayOrNull() bool {
	switch s.peek() {
	case '[':
		s.i++
		return s.byte(']')
	case 'n':
		if bytes.HasPrefix(s.b[s.i:], []byte("null")) {
			s.i += 4
			return true
		}
	}
	return false
}

// end reports whether only white space is left.
func (s *scanner) end() bool { return s.peek() == 0 && s.i == len(s.b) }
