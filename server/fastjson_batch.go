package server

import (
	"net/http"
	"unsafe"
)

// The batch bodies (AuthZEN evaluations, authorize_resources,
// bulk_actions) are, in the common case, objects and arrays of plain
// strings, as the authorize body is. Their scans read that case without
// reflection and give up on anything else (escapes, context facts,
// properties, attributes, unknown or repeated keys, null where a value
// is expected, bad syntax): the body is then decoded by encoding/json
// with the same strictness and errors as before. The decoded strings
// point into the request's own buffer (readBody), which nothing writes
// after it is read.

// slab hands out pointers to zero values of T, allocated a chunk at a
// time: a batch of 100 items costs a few allocations, not hundreds.
type slab[T any] struct{ buf []T }

func (sl *slab[T]) new() *T {
	if len(sl.buf) == cap(sl.buf) {
		sl.buf = make([]T, 0, 32)
	}
	var zero T
	sl.buf = append(sl.buf, zero)
	return &sl.buf[len(sl.buf)-1]
}

// batchScan is a scanner over a body with the slabs its values come from.
type batchScan struct {
	scanner
	src  string // the body as a string (no copy)
	strs slab[string]
	ents slab[azEntity]
	acts slab[azAction]
}

func newBatchScan(b []byte) *batchScan {
	return &batchScan{scanner: scanner{b: b}, src: unsafe.String(unsafe.SliceData(b), len(b))}
}

// object takes an object, calling member with each key; member must
// take the value and report whether it could.
func (s *batchScan) object(member func(key string) bool) bool {
	if !s.byte('{') {
		return false
	}
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		start, end, ok := s.str()
		if !ok || !s.byte(':') || !member(s.src[start:end]) {
			return false
		}
		switch s.next() {
		case ',':
			continue
		case '}':
			return true
		default:
			return false
		}
	}
}

// array takes an array, calling elem to take each element.
func (s *batchScan) array(elem func() bool) bool {
	if !s.byte('[') {
		return false
	}
	if s.peek() == ']' {
		s.i++
		return true
	}
	for {
		if !elem() {
			return false
		}
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

// once reports whether the key numbered bit is new to seen, and marks it.
func once(seen *uint32, bit int) bool {
	if *seen&(1<<bit) != 0 {
		return false
	}
	*seen |= 1 << bit
	return true
}

// strTo takes a plain string into *dst.
func (s *batchScan) strTo(dst **string) bool {
	start, end, ok := s.str()
	if !ok {
		return false
	}
	p := s.strs.new()
	*p = s.src[start:end]
	*dst = p
	return true
}

// value takes {"type": ..., "id": ...} (either may be missing).
func (s *batchScan) value(v *wireValue) bool {
	var seen uint32
	return s.object(func(k string) bool {
		switch k {
		case "type":
			return once(&seen, 0) && s.strTo(&v.Type)
		case "id":
			return once(&seen, 1) && s.strTo(&v.ID)
		}
		return false
	})
}

// entity takes an AuthZEN subject or resource without properties.
func (s *batchScan) entity(dst **azEntity) bool {
	e := s.ents.new()
	*dst = e
	var v wireValue
	if !s.value(&v) {
		return false
	}
	e.Type, e.ID = v.Type, v.ID
	return true
}

// action takes an AuthZEN action without properties.
func (s *batchScan) action(dst **azAction) bool {
	a := s.acts.new()
	*dst = a
	var seen uint32
	return s.object(func(k string) bool {
		return k == "name" && once(&seen, 0) && s.strTo(&a.Name)
	})
}

// tupleMember takes the value of key k of an evaluation, if it is one.
func (s *batchScan) tupleMember(t *azTuple, k string, seen *uint32) bool {
	switch k {
	case "subject":
		return once(seen, 0) && s.entity(&t.Subject)
	case "action":
		return once(seen, 1) && s.action(&t.Action)
	case "resource":
		return once(seen, 2) && s.entity(&t.Resource)
	}
	return false
}

// scanEvaluations fills req from an AuthZEN evaluations body without
// context or properties, and reports whether it could.
func scanEvaluations(b []byte, req *azEvaluationsRequest) bool {
	s := newBatchScan(b)
	var seen uint32
	ok := s.object(func(k string) bool {
		switch k {
		case "evaluations":
			if !once(&seen, 3) || s.peek() != '[' {
				return false
			}
			req.Evaluations = make([]azTuple, 0, 16)
			return s.array(func() bool {
				var t azTuple
				var tseen uint32
				if !s.object(func(k string) bool { return s.tupleMember(&t, k, &tseen) }) {
					return false
				}
				req.Evaluations = append(req.Evaluations, t)
				return true
			})
		case "options":
			var oseen uint32
			return once(&seen, 4) && s.object(func(k string) bool {
				if k != "evaluations_semantic" || !once(&oseen, 0) {
					return false
				}
				start, end, ok := s.str()
				req.Options.Semantic = s.src[start:end]
				return ok
			})
		}
		return s.tupleMember(&req.azTuple, k, &seen)
	})
	return ok && s.end()
}

// decodeEvaluations decodes an AuthZEN evaluations body: the scan when it
// applies, encoding/json (leniently, as every AuthZEN body) otherwise.
func decodeEvaluations(r *http.Request, req *azEvaluationsRequest) error {
	_, span := childSpan(r.Context(), "decode")
	defer span.End()
	body, err := readBody(r)
	if err != nil {
		return jsonError(err)
	}
	if scanEvaluations(body, req) {
		return nil
	}
	*req = azEvaluationsRequest{}
	return decodeBytes(body, req, false)
}

// scanAuthorizeResources fills req from an authorize_resources body with
// empty or null context_facts and no attributes, and reports whether it
// could.
func scanAuthorizeResources(b []byte, req *authorizeResourcesRequest) bool {
	s := newBatchScan(b)
	var seen uint32
	ok := s.object(func(k string) bool {
		switch k {
		case "actor_type":
			return once(&seen, 0) && s.strTo(&req.ActorType)
		case "actor_id":
			return once(&seen, 1) && s.strTo(&req.ActorID)
		case "action":
			return once(&seen, 2) && s.strTo(&req.Action)
		case "resources":
			if !once(&seen, 3) || s.peek() != '[' {
				return false
			}
			req.Resources = make([]wireValue, 0, 16)
			return s.array(func() bool {
				var v wireValue
				if !s.value(&v) {
					return false
				}
				req.Resources = append(req.Resources, v)
				return true
			})
		case "context_facts":
			return once(&seen, 4) && s.emptyArrayOrNull()
		}
		return false
	})
	return ok && s.end()
}

// decodeAuthorizeResources decodes an authorize_resources body: the scan
// when it applies, encoding/json (strictly) otherwise.
func decodeAuthorizeResources(r *http.Request, req *authorizeResourcesRequest) error {
	_, span := childSpan(r.Context(), "decode")
	defer span.End()
	body, err := readBody(r)
	if err != nil {
		return jsonError(err)
	}
	if scanAuthorizeResources(body, req) {
		return nil
	}
	*req = authorizeResourcesRequest{}
	return decodeBytes(body, req, true)
}

// scanBulkActions fills reqs from a bulk_actions body (an array of
// actions questions with empty or null context_facts and no attributes)
// and reports whether it could.
func scanBulkActions(b []byte, reqs *[]actionsRequest) bool {
	s := newBatchScan(b)
	if s.peek() != '[' {
		return false
	}
	out := make([]actionsRequest, 0, 16)
	ok := s.array(func() bool {
		var req actionsRequest
		var seen uint32
		if !s.object(func(k string) bool {
			switch k {
			case "actor_type":
				return once(&seen, 0) && s.strTo(&req.ActorType)
			case "actor_id":
				return once(&seen, 1) && s.strTo(&req.ActorID)
			case "resource_type":
				return once(&seen, 2) && s.strTo(&req.ResourceType)
			case "resource_id":
				return once(&seen, 3) && s.strTo(&req.ResourceID)
			case "context_facts":
				return once(&seen, 4) && s.emptyArrayOrNull()
			}
			return false
		}) {
			return false
		}
		out = append(out, req)
		return true
	})
	if !ok || !s.end() {
		return false
	}
	*reqs = out
	return true
}

// decodeBulkActions decodes a bulk_actions body: the scan when it
// applies, encoding/json (strictly) otherwise.
func decodeBulkActions(r *http.Request, reqs *[]actionsRequest) error {
	_, span := childSpan(r.Context(), "decode")
	defer span.End()
	body, err := readBody(r)
	if err != nil {
		return jsonError(err)
	}
	if scanBulkActions(body, reqs) {
		return nil
	}
	*reqs = nil
	return decodeBytes(body, reqs, true)
}
