package server

import (
	"github.com/castellan-authz/castellan/lang/term"
)

// An import streams one wire fact per line, and decoding them was most of
// its cost. factDecoder reads the common, well-formed line
// {"predicate": "...", "args": [{"type": "...", "id": "..."}, ...]} with
// no reflection and about two allocations; anything else (escapes, control
// characters, invalid UTF-8, unknown, repeated or differently cased keys,
// nulls, an empty predicate, type or id, a value that does not normalize,
// bad syntax) makes it give up, and the line is decoded by the strict
// reference path (decodeFactLine), with the same errors.
// FuzzDecodeFactLine ties the two.

// maxInterned bounds the predicates and types a factDecoder keeps (a
// stream naming more of them still decodes, allocating the extras).
const maxInterned = 1024

// factDecoder decodes import lines, reusing its buffers from line to line.
// It is not safe for concurrent use.
type factDecoder struct {
	names map[string]string // predicates and types seen, shared by the facts
	last  [4]string         // the names last returned by name, newest first
	ids   []byte            // the ids of the current line, back to back
	spans []span            // per argument: its type, then its id (in ids)
	slab  []term.Value      // argument slices are cut from it
}

func newFactDecoder() *factDecoder {
	return &factDecoder{names: make(map[string]string)}
}

// decode returns the fact of one line: the fast scan when it applies, the
// strict reference path (decodeFactLine) otherwise.
func (d *factDecoder) decode(b []byte) (term.Fact, error) {
	if f, ok := d.scan(b); ok {
		return f, nil
	}
	return decodeFactLine(b)
}

// decodeFactLine is the reference decoder of an import line: checkJSON,
// then encoding/json, strictly, then toFact.
func decodeFactLine(b []byte) (term.Fact, error) {
	var wf wireFact
	if err := decodeBytes(b, &wf, true); err != nil {
		return term.Fact{}, err
	}
	return toFact(wf, "fact")
}

// name returns b as a string, shared with earlier lines naming the same.
// The names last returned are compared first: a line names a predicate
// and a few types, mostly those of the line before.
func (d *factDecoder) name(b []byte) string {
	for _, s := range d.last {
		if s == string(b) {
			return s
		}
	}
	s, ok := d.names[string(b)]
	if !ok {
		s = d.newName(b)
	}
	copy(d.last[1:], d.last[:])
	d.last[0] = s
	return s
}

// newName returns b as a new string, kept for later lines while there is
// room.
func (d *factDecoder) newName(b []byte) string {
	s := string(b)
	if len(d.names) < maxInterned {
		d.names[s] = s
	}
	return s
}

// scan decodes b when it is a plain wire fact that toFact accepts, and
// reports whether it could.
func (d *factDecoder) scan(b []byte) (term.Fact, bool) {
	s := scanner{b: b}
	if !s.byte('{') {
		return term.Fact{}, false
	}
	d.ids, d.spans = d.ids[:0], d.spans[:0]
	var pred span
	var seen uint8
	for {
		ks, ke, ok := s.str()
		if !ok || !s.byte(':') {
			return term.Fact{}, false
		}
		switch string(b[ks:ke]) {
		case "predicate":
			if seen&1 != 0 {
				return term.Fact{}, false
			}
			seen |= 1
			if pred.start, pred.end, ok = s.str(); !ok || pred.start == pred.end {
				return term.Fact{}, false
			}
		case "args":
			if seen&2 != 0 || !d.scanArgs(&s) {
				return term.Fact{}, false
			}
			seen |= 2
		default:
			return term.Fact{}, false
		}
		switch s.next() {
		case ',':
			continue
		case '}':
			if seen != 3 || !s.end() {
				return term.Fact{}, false
			}
			return d.fact(b, pred)
		default:
			return term.Fact{}, false
		}
	}
}

// scanArgs takes a non-empty array of {"type": "...", "id": "..."} with
// non-empty strings, recording each value's type as a span of the line
// and copying its id to d.ids.
func (d *factDecoder) scanArgs(s *scanner) bool {
	if !s.byte('[') {
		return false
	}
	for {
		if !s.byte('{') {
			return false
		}
		var v [2]span // type, id
		var seen uint8
		for seen != 3 {
			if seen != 0 && !s.byte(',') {
				return false
			}
			ks, ke, ok := s.str()
			if !ok || !s.byte(':') {
				return false
			}
			i := valueKey(s.b[ks:ke])
			if i < 0 || seen&(1<<i) != 0 {
				return false
			}
			seen |= 1 << i
			if v[i].start, v[i].end, ok = s.str(); !ok || v[i].start == v[i].end {
				return false
			}
		}
		if !s.byte('}') {
			return false
		}
		n := len(d.ids)
		d.ids = append(d.ids, s.b[v[1].start:v[1].end]...)
		d.spans = append(d.spans, v[0], span{start: n, end: len(d.ids)})
		switch s.next() {
		case ',':
			continue
		case ']':
			return true
		default:
			return false
		}
	}
}

// fact builds the fact of line b just scanned: one string holds every id,
// the predicate and types are shared, and the arguments are cut from the
// slab. It gives up when a value does not normalize.
func (d *factDecoder) fact(b []byte, pred span) (term.Fact, bool) {
	n := len(d.spans) / 2
	if len(d.slab) < n {
		d.slab = make([]term.Value, max(n, 1024))
	}
	args := d.slab[:n:n]
	ids := string(d.ids)
	for i := range n {
		t, id := d.spans[2*i], d.spans[2*i+1]
		v, err := term.Normalize(term.Value{Type: d.name(b[t.start:t.end]), ID: ids[id.start:id.end]})
		if err != nil {
			return term.Fact{}, false
		}
		args[i] = v
	}
	d.slab = d.slab[n:]
	return term.Fact{Predicate: d.name(b[pred.start:pred.end]), Args: args}, true
}

// valueKey returns 0 for the key "type" of a wire value, 1 for "id", and
// -1 for any other.
func valueKey(k []byte) int {
	switch string(k) {
	case "type":
		return 0
	case "id":
		return 1
	}
	return -1
}
