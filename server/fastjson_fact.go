package server

import (
	"bytes"
	"net/http"
	"strconv"

	"github.com/castellan-authz/castellan/lang/term"
)

// A single fact told (POST /api/facts) or deleted (DELETE /api/facts) is,
// in the common case, {"predicate": "...", "args": [{"type": "...",
// "id": "..."}, ...]} of plain strings. scanFact reads that case without
// reflection, as scanAuthorize does for the authorize body, and gives up
// on anything else (escapes, unknown or repeated keys, numbers, bad
// syntax): the body is then decoded by encoding/json, strictly, with the
// same errors as before. The decoded strings point into the request's own
// buffer (readBody), which nothing writes after it is read; the store
// copies what it keeps (the index interns ids into its own arenas).

// scanFact fills w from a fact or fact pattern body and reports whether
// it could. A type or id may be null (a wildcard of a pattern), as the
// predicate may; valid_from and valid_until, when present, are plain
// strings.
func scanFact(b []byte, w *wireFact) bool {
	s := newBatchScan(b)
	// A fact of three arguments has seven strings: a slab of 8, not the
	// batch scans' 32.
	s.strs.buf = make([]string, 0, 8)
	var seen uint32
	ok := s.object(func(k string) bool {
		switch k {
		case "predicate":
			return once(&seen, 0) && s.strOrNullTo(&w.Predicate)
		case "args":
			if !once(&seen, 1) || s.peek() != '[' {
				return false
			}
			w.Args = make([]wireValue, 0, 4)
			return s.array(func() bool {
				var v wireValue
				var vseen uint32
				if !s.object(func(k string) bool {
					switch k {
					case "type":
						return once(&vseen, 0) && s.strOrNullTo(&v.Type)
					case "id":
						return once(&vseen, 1) && s.strOrNullTo(&v.ID)
					}
					return false
				}) {
					return false
				}
				w.Args = append(w.Args, v)
				return true
			})
		case "valid_from":
			return once(&seen, 2) && s.strTo(&w.ValidFrom)
		case "valid_until":
			return once(&seen, 3) && s.strTo(&w.ValidUntil)
		}
		return false
	})
	return ok && s.end()
}

// strOrNullTo takes a plain string into *dst, or null, leaving *dst nil
// (as encoding/json does for a *string).
func (s *batchScan) strOrNullTo(dst **string) bool {
	if s.peek() == 'n' {
		if !bytes.HasPrefix(s.b[s.i:], []byte("null")) {
			return false
		}
		s.i += 4
		*dst = nil
		return true
	}
	return s.strTo(dst)
}

// decodeFact decodes a fact or fact pattern body: the fast scan when it
// applies, encoding/json (strictly) otherwise.
func decodeFact(r *http.Request, w *wireFact) error {
	_, span := childSpan(r.Context(), "decode")
	defer span.End()
	body, err := readBody(r)
	if err != nil {
		return jsonError(err)
	}
	if scanFact(body, w) {
		return nil
	}
	*w = wireFact{}
	return decodeBytes(body, w, true)
}

// writeFact answers a fact as json.Marshal of toOutFact would, byte for
// byte: written directly when it has no window and its strings need no
// escaping (encoding/json escapes <, > and & too), else by writeJSON.
func writeFact(w http.ResponseWriter, f term.Fact) {
	if !f.Valid.IsZero() || !plainJSON(f.Predicate) {
		writeJSON(w, http.StatusOK, toOutFact(f))
		return
	}
	n := len(`{"predicate":"","args":[]}`) + len(f.Predicate) + 1
	for _, a := range f.Args {
		if !plainJSON(a.Type) || !plainJSON(a.ID) {
			writeJSON(w, http.StatusOK, toOutFact(f))
			return
		}
		n += len(`{"type":"","id":""},`) + len(a.Type) + len(a.ID)
	}
	b := make([]byte, 0, n)
	b = append(b, `{"predicate":"`...)
	b = append(b, f.Predicate...)
	b = append(b, `","args":[`...)
	for i, a := range f.Args {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":"`...)
		b = append(b, a.Type...)
		b = append(b, `","id":"`...)
		b = append(b, a.ID...)
		b = append(b, `"}`...)
	}
	b = append(b, "]}\n"...)
	setJSONHeaders(w.Header(), len(b))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// plainJSON reports whether s is printable ASCII that encoding/json
// writes as it is (no quote, backslash, <, > or &).
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// writeMessage answers a successful write: {"message":"ok (revision N)"}.
func writeMessage(w http.ResponseWriter, rev uint64) {
	b := make([]byte, 0, 48)
	b = append(b, `{"message":"ok (revision `...)
	b = strconv.AppendUint(b, rev, 10)
	b = append(b, ")\"}\n"...)
	setJSONHeaders(w.Header(), len(b))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
