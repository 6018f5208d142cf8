package server

import (
	"bytes"
	"io"
	"net/http"
	"unicode/utf8"
	"unsafe"
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
	_, span := childSpan(r.Context(), "decode")
	defer span.End()
	body, err := readBody(r)
	if err != nil {
		return jsonError(err)
	}
	if scanAuthorize(body, req) {
		return nil
	}
	*req = authorizeRequest{}
	return decodeBytes(body, req, true)
}

// scanAuthorize fills req from a body of the form
// {"actor_type": "...", ..., "context_facts": []} and reports whether it
// could. It accepts only plain strings (no escapes), an empty or null
// context_facts, each known key at most once. req's strings point into b,
// which must not change afterwards.
func scanAuthorize(b []byte, req *authorizeRequest) bool {
	s := scanner{b: b}
	if !s.byte('{') {
		return false
	}
	if s.peek() == '}' {
		return false // nothing: let encoding/json say what is missing
	}
	// The body as a string without a copy, and one array for the values:
	// the fields point into them. b is the request's own buffer (readBody),
	// which nothing writes after it is read, so it may back strings.
	src := unsafe.String(unsafe.SliceData(b), len(b))
	vals := new([5]string)
	var seen uint8
	for {
		start, end, ok := s.str()
		if !ok || !s.byte(':') {
			return false
		}
		var idx int
		var dst **string
		switch src[start:end] {
		case "actor_type":
			idx, dst = 0, &req.ActorType
		case "actor_id":
			idx, dst = 1, &req.ActorID
		case "action":
			idx, dst = 2, &req.Action
		case "resource_type":
			idx, dst = 3, &req.ResourceType
		case "resource_id":
			idx, dst = 4, &req.ResourceID
		case "context_facts":
			idx = 5
		default:
			return false
		}
		if seen&(1<<idx) != 0 {
			return false
		}
		seen |= 1 << idx
		if dst != nil {
			vs, ve, ok := s.str()
			if !ok {
				return false
			}
			vals[idx] = src[vs:ve]
			*dst = &vals[idx]
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

// str takes a string without escapes or control characters and returns
// where its contents start and end.
func (s *scanner) str() (start, end int, ok bool) {
	if !s.byte('"') {
		return 0, 0, false
	}
	start = s.i
	ascii := true
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			end = s.i
			s.i++
			return start, end, ascii || utf8.Valid(s.b[start:end])
		case c == '\\' || c < 0x20:
			return 0, 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		s.i++
	}
	return 0, 0, false
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
