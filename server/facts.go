package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
)

// write applies batch atomically under the live policy's fact check and
// sets OsoOffset to the revision it committed.
func (s *Server) write(w http.ResponseWriter, r *http.Request, batch []store.Op) (uint64, error) {
	n := 0
	for _, op := range batch {
		n += len(op.Insert) + len(op.Delete)
	}
	if n > s.cfg.MaxBatchFacts {
		return 0, errorf(http.StatusBadRequest, codeLimitExceeded,
			"batch: %d facts exceed the limit of %d (--max-batch-facts)", n, s.cfg.MaxBatchFacts)
	}
	rev, err := s.store.Write(r.Context(), batch, s.policies.Live().FactWriteOption())
	if err != nil {
		return 0, err
	}
	s.setOffset(w, rev)
	return rev, nil
}

// changeset is one element of POST /api/batch.
type changeset struct {
	Inserts []wireFact `json:"inserts"`
	Deletes []wireFact `json:"deletes"`
}

func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request) {
	var req []changeset
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	batch := make([]store.Op, 0, len(req))
	for i, cs := range req {
		var op store.Op
		var err error
		if op.Insert, err = toFacts(cs.Inserts, fmt.Sprintf("[%d].inserts", i)); err != nil {
			writeError(w, r, err)
			return
		}
		if op.Delete, err = toPatterns(cs.Deletes, fmt.Sprintf("[%d].deletes", i)); err != nil {
			writeError(w, r, err)
			return
		}
		batch = append(batch, op)
	}
	rev, err := s.write(w, r, batch)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeMessage(w, rev)
}

func (s *Server) handleInsertFact(w http.ResponseWriter, r *http.Request) {
	var req wireFact
	if err := decodeFact(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	f, err := toFact(req, "fact")
	if err != nil {
		writeError(w, r, err)
		return
	}
	if _, err := s.write(w, r, []store.Op{{Insert: []term.Fact{f}}}); err != nil {
		writeError(w, r, err)
		return
	}
	writeFact(w, f)
}

func (s *Server) handleDeleteFact(w http.ResponseWriter, r *http.Request) {
	var req wireFact
	if err := decodeFact(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	p, err := toPattern(req, "fact")
	if err != nil {
		writeError(w, r, err)
		return
	}
	rev, err := s.write(w, r, []store.Op{{Delete: []term.Pattern{p}}})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeMessage(w, rev)
}

func (s *Server) handleBulkLoad(w http.ResponseWriter, r *http.Request) {
	var req []wireFact
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	facts, err := toFacts(req, "facts")
	if err != nil {
		writeError(w, r, err)
		return
	}
	rev, err := s.write(w, r, []store.Op{{Insert: facts}})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeMessage(w, rev)
}

func (s *Server) handleBulkDelete(w http.ResponseWriter, r *http.Request) {
	var req []wireFact
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	pats, err := toPatterns(req, "facts")
	if err != nil {
		writeError(w, r, err)
		return
	}
	rev, err := s.write(w, r, []store.Op{{Delete: pats}})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeMessage(w, rev)
}

func (s *Server) handleBulk(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Delete []wireFact `json:"delete"`
		Tell   []wireFact `json:"tell"`
	}
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	pats, err := toPatterns(req.Delete, "delete")
	if err != nil {
		writeError(w, r, err)
		return
	}
	facts, err := toFacts(req.Tell, "tell")
	if err != nil {
		writeError(w, r, err)
		return
	}
	// Deletes before tells, in one atomic batch (store.Op's order).
	rev, err := s.write(w, r, []store.Op{{Delete: pats, Insert: facts}})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeMessage(w, rev)
}

func (s *Server) handleClearData(w http.ResponseWriter, r *http.Request) {
	rev, err := s.clearFacts(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.setOffset(w, rev)
	writeMessage(w, rev)
}

// maxFactArgs bounds the argument index of GET /api/facts.
const maxFactArgs = 64

// factsQuery parses GET /api/facts?predicate=p&args.0.type=T&args.0.id=x:
// the arguments given are matched by position; omitted ones, trailing ones
// included, match anything (AnyArity: the query does not say the arity).
// Keys in extra (the paging of GET /api/facts) are left to the caller.
func factsQuery(r *http.Request, extra ...string) (term.Pattern, error) {
	q := r.URL.Query()
	p := term.Pattern{Predicate: q.Get("predicate"), AnyArity: true}
	for key, vals := range q {
		if !utf8.ValidString(vals[0]) {
			// A pattern no fact can match; refused as a body would be.
			return p, badRequest("query parameter %q is not valid UTF-8 (ids, types and predicates must be UTF-8)", key)
		}
		if key == "predicate" || slices.Contains(extra, key) {
			continue
		}
		rest, ok := strings.CutPrefix(key, "args.")
		if !ok {
			return p, badRequest("unknown query parameter %q (use predicate, args.N.type, args.N.id%s)", key, strings.Join(append([]string{""}, extra...), ", "))
		}
		idx, field, ok := strings.Cut(rest, ".")
		i, err := strconv.Atoi(idx)
		if !ok || err != nil || i < 0 || i >= maxFactArgs || (field != "type" && field != "id") {
			return p, badRequest("unknown query parameter %q (use args.N.type or args.N.id, N from 0 to %d)", key, maxFactArgs-1)
		}
		for len(p.Args) <= i {
			p.Args = append(p.Args, term.Value{})
		}
		if field == "type" {
			p.Args[i].Type = vals[0]
		} else {
			p.Args[i].ID = vals[0]
		}
	}
	for i, a := range p.Args {
		if a.Type != "" && a.ID != "" {
			v, err := normalizeValue(a.Type, a.ID, fmt.Sprintf("args.%d", i))
			if err != nil {
				return p, err
			}
			p.Args[i] = v
		}
	}
	return p, nil
}

func (s *Server) handleGetFacts(w http.ResponseWriter, r *http.Request) {
	size, skip, err := s.factsPage(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	p, snap, err := s.factsAt(r, "page_size", "page_token")
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := []outFact{}
	n := 0
	for f := range snap.Facts(p) {
		n++
		if n <= skip {
			continue
		}
		if size > 0 && len(out) == size {
			// One more fact than the page: there is a next page.
			w.Header().Set(headerNextPageToken, strconv.Itoa(skip+size))
			break
		}
		out = append(out, toOutFact(f))
	}
	writeJSON(w, http.StatusOK, out)
}

// headerNextPageToken carries the page_token of the next page of
// GET /api/facts, when there is one (the body stays the Oso array).
const headerNextPageToken = "Castellan-Next-Page-Token"

// factsPage reads GET /api/facts?page_size=N&page_token=T, Castellan's
// paging: size 0 means every fact (as Oso answers); the token is the
// number of facts of earlier pages. Facts come in the store's order
// (predicate, arity, then insertion), so a write between two pages may
// shift the facts after it by as many as it added or removed.
func (s *Server) factsPage(r *http.Request) (size, skip int, err error) {
	q := r.URL.Query()
	if v := q.Get("page_size"); v != "" {
		size, err = strconv.Atoi(v)
		if err != nil || size < 1 || size > s.cfg.MaxPageSize {
			return 0, 0, badRequest("page_size: %q is not a number from 1 to %d (--max-page-size)", v, s.cfg.MaxPageSize)
		}
	}
	if v := q.Get("page_token"); v != "" {
		if size == 0 {
			return 0, 0, badRequest("page_token needs page_size")
		}
		skip, err = strconv.Atoi(v)
		if err != nil || skip < 0 {
			return 0, 0, badRequest("invalid page token: send the %s header of the previous page unchanged", headerNextPageToken)
		}
	}
	return size, skip, nil
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	snap, err := s.snapshot(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	st := snap.Stats()
	writeJSON(w, http.StatusOK, struct {
		NumRoles     int `json:"num_roles"`
		NumRelations int `json:"num_relations"`
		NumFacts     int `json:"num_facts"`
	}{st.Roles, st.Relations, st.Facts})
}

// clearFacts removes every stored fact in one revision: with the store's
// Clear when it has one, else with a batch that deletes everything.
func (s *Server) clearFacts(ctx context.Context) (uint64, error) {
	if c, ok := s.store.(store.Clearer); ok {
		return c.Clear(ctx)
	}
	return s.store.Write(ctx, store.ClearBatch())
}

// ExpireFacts removes the stored facts whose validity window ended at or
// before the server's clock reads now, in one revision, and returns how
// many it removed (0, writing nothing, when none had; also for a store
// that cannot expire facts). Such facts already hold for no question:
// expiring them only frees their space. `castellan serve` calls it every
// --expire-interval.
func (s *Server) ExpireFacts(ctx context.Context) (int, error) {
	e, ok := s.store.(store.Expirer)
	if !ok {
		return 0, nil
	}
	rev, n, err := e.Expire(ctx, s.now())
	if err != nil {
		return 0, err
	}
	if n > 0 {
		s.seeRevision(rev)
	}
	return n, nil
}
