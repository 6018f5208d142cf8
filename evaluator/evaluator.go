package evaluator

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/castellan-authz/castellan/lang"
	"github.com/castellan-authz/castellan/lang/term"
)

// Errors returned by queries. They are wrapped with the limit that was
// hit; check them with errors.Is.
var (
	// ErrDepthExceeded reports a query that nested more rule calls than
	// Limits.MaxDepth allows.
	ErrDepthExceeded = errors.New("recursion depth limit exceeded")
	// ErrWorkExceeded reports a query that took more steps than
	// Limits.MaxWork allows.
	ErrWorkExceeded = errors.New("work limit exceeded")
	// ErrInvalidPageToken reports a List page token that this evaluator did
	// not issue.
	ErrInvalidPageToken = errors.New("invalid page token")
	// ErrInvalidQuery reports a malformed query (an unknown variable, a
	// value that is not well formed).
	ErrInvalidQuery = errors.New("invalid query")
)

// Limits bound the work of one query.
type Limits struct {
	// MaxDepth is the largest number of nested rule calls (tables being
	// evaluated, and calls unfolded by a list walk, at once). Default 1024. Past half of it, a recursive call
	// is answered from a more general table (a chain of parent folders
	// from one table of every folder the actor reaches), and a ground
	// goal that still nests too deep is answered from the goals List,
	// Query and Actions ask; so a chain of any length is answered, and
	// every entry point gives one answer, or one error.
	MaxDepth int
	// MaxWork is the largest number of evaluation steps (literals tried,
	// facts and answers visited) per query; for List and ListEach, between
	// two answers (a list of a million answers is bounded by its context,
	// the query time limit). Default 10,000,000.
	MaxWork int
}

// DefaultLimits returns the limits used when none are given.
func DefaultLimits() Limits { return Limits{MaxDepth: 1024, MaxWork: 10_000_000} }

type config struct {
	limits Limits
	clock  func() time.Time
}

// Option configures an Evaluator.
type Option func(*config)

// maxMaxDepth caps Limits.MaxDepth: deeper recursion would risk the
// goroutine's stack rather than fail with ErrDepthExceeded.
const maxMaxDepth = 100_000

// WithLimits sets the limits of every query. Zero fields keep their
// defaults; MaxDepth is capped at 100,000.
func WithLimits(l Limits) Option {
	return func(c *config) {
		if l.MaxDepth > 0 {
			c.limits.MaxDepth = min(l.MaxDepth, maxMaxDepth)
		}
		if l.MaxWork > 0 {
			c.limits.MaxWork = l.MaxWork
		}
	}
}

// WithClock sets the clock that @current_unix_time reads (default
// time.Now).
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.clock = now
		}
	}
}

// Evaluator answers queries over one checked program. It is immutable once
// built and safe for concurrent use.
type Evaluator struct {
	prog  *lang.Program
	types typeSys
	preds map[lang.Pred]*predInfo
	lim   Limits
	clock func() time.Time
	seed  maphash.Seed
	pool  sync.Pool

	// consts numbers the constants of the rules; constIDs holds their ids
	// in the sources of two generations (see ids.go).
	consts   constTable
	constIDs [2]atomic.Pointer[constIDs]
	// cvals are the distinct constants of the rules (numbered by cnum,
	// of type numbers ctypes), selectors those of them that select rules
	// (see rulesFor), tnums the program's type numbers (see hval).
	cvals     []term.Value
	cnum      map[term.Value]int32
	ctypes    []uint32
	selectors []int32
	tnums     typeNums
	// actions holds the numbers of the String constants of cvals by their
	// text (see action).
	actions map[string]int32
}

// New compiles p: rules are normalized and planned once per binding
// pattern, so queries only execute plans.
func New(p *lang.Program, opts ...Option) *Evaluator {
	c := config{limits: DefaultLimits(), clock: time.Now}
	for _, o := range opts {
		o(&c)
	}
	e := &Evaluator{prog: p, lim: c.limits, clock: c.clock, seed: maphash.MakeSeed()}
	e.types = newTypeSys(p)
	e.preds = compileProgram(p, &e.types)
	e.consts = newConstTable(programConsts(e.preds))
	e.cnum = map[term.Value]int32{}
	for _, v := range e.consts.vals {
		if _, ok := e.cnum[v]; !ok {
			e.cnum[v] = int32(len(e.cvals))
			e.cvals = append(e.cvals, v)
		}
	}
	for _, p := range e.preds {
		p.numberRules(e.cvals)
	}
	e.tnums = newTypeNums(&e.types, e.preds, e.cvals)
	e.numberConsts()
	e.numberTypes()
	e.actions = make(map[string]int32)
	for k, v := range e.cvals {
		if v.Type == term.TypeString {
			e.actions[v.ID] = int32(k)
		}
	}
	return e
}

// action returns the handle of a question's action: the program's own
// constant when one is spelled so, whose handle a solver finds from the
// constant's number rather than by looking its text up in the source.
func (s *solver) action(a string) hval {
	if k, ok := s.e.actions[a]; ok {
		return s.constHandle(k)
	}
	return s.handle(term.String(a))
}

// Program returns the program the evaluator was built from.
func (e *Evaluator) Program() *lang.Program { return e.prog }

// pred returns the predicate name/arity, known or not (a predicate no rule
// derives is answered from facts).
func (e *Evaluator) pred(name string, arity int) *predInfo {
	if p := e.preds[lang.Pred{Name: name, Arity: arity}]; p != nil {
		return p
	}
	return &predInfo{id: -1 - arity, name: name, arity: arity}
}

// Request is what one query reads.
type Request struct {
	// Source holds the stored facts at one revision; nil is empty.
	Source Source
	// Context holds this request's context facts, layered on Source
	// without copying it.
	Context []term.Fact
	// Explain asks for the derivation of the decision.
	Explain bool
	// Now, when not zero, is the instant of the query: what
	// @current_unix_time reads (else the evaluator's clock). The server
	// sets it to the instant its snapshot is read At, so that a question
	// sees one instant throughout.
	Now time.Time
}

func (r Request) source() Source { return Layer(r.Source, r.Context) }

// Decision is the answer of Authorize.
type Decision struct {
	Allowed bool
	// Explanation is set when the request asked for it.
	Explanation *Explanation
}

func checkValue(what string, v term.Value) error {
	if v.Type == "" || v.ID == "" {
		return fmt.Errorf("%w: %s must have a type and an id", ErrInvalidQuery, what)
	}
	if markerLike(v.ID) {
		return fmt.Errorf("%w: %s id must not start with a NUL byte", ErrInvalidQuery, what)
	}
	return nil
}

// markerLike reports whether id starts as the wildcard markers of older
// versions did, with a NUL byte: no stored fact can hold such an id (ids
// are valid UTF-8 without NUL), and a question about one is refused
// rather than answered, as Query always did. (Today's markers are
// wildcards by identity, see wildID: no id is read as one.)
func markerLike(id string) bool { return len(id) > 0 && id[0] == 0 }

// Authorize reports whether allow(actor, action, resource) holds.
func (e *Evaluator) Authorize(ctx context.Context, r Request, actor term.Value, action string, resource term.Value) (Decision, error) {
	d, err := e.authorize(ctx, r, actor, action, resource)
	if err == nil && d.Explanation != nil && !d.Allowed {
		d.Explanation.Notes = e.prog.QuestionNotes(actor, action, resource)
	}
	return d, err
}

func (e *Evaluator) authorize(ctx context.Context, r Request, actor term.Value, action string, resource term.Value) (_ Decision, err error) {
	if err := checkValue("actor", actor); err != nil {
		return Decision{}, err
	}
	if err := checkValue("resource", resource); err != nil {
		return Decision{}, err
	}
	src := r.source()
	s := e.acquire(ctx, src, r.Now)
	defer e.done(s, &err)
	s.holdReads()
	args := [3]hval{s.handle(actor), s.action(action), s.handle(resource)}
	allow := e.pred("allow", 3)
	tid := s.solve(allow, args[:])
	s.releaseReads() // before another solver or the explanation reads the source
	if errors.Is(s.err, ErrDepthExceeded) {
		return e.authorizeWide(ctx, r, [3]term.Value{actor, term.String(action), resource}, s.err)
	}
	if s.err != nil {
		return Decision{}, s.err
	}
	d := Decision{Allowed: s.tables[tid].nAns > 0}
	if r.Explain {
		d.Explanation = s.explain(allow, []term.Value{actor, term.String(action), resource}, d.Allowed)
		if s.err != nil {
			return Decision{}, s.err
		}
	}
	return d, nil
}

// AuthorizeEach reports, for each resource, whether allow(actor, action,
// resource) holds: the answers Authorize would give one by one, computed
// in one pass that shares subgoals between resources (the actor's roles on
// a parent organization are looked up once for all its repositories).
func (e *Evaluator) AuthorizeEach(ctx context.Context, r Request, actor term.Value, action string, resources []term.Value) (_ []bool, err error) {
	if err := checkValue("actor", actor); err != nil {
		return nil, err
	}
	for i, res := range resources {
		if checkValue("resource", res) != nil {
			return nil, checkValue(fmt.Sprintf("resource %d", i), res)
		}
	}
	s := e.acquire(ctx, r.source(), r.Now)
	defer e.done(s, &err)
	allow := e.pred("allow", 3)
	out := make([]bool, len(resources))
	s.holdReads()
	actorH, act := s.handle(actor), s.action(action)
	for i, res := range resources {
		args := [3]hval{actorH, act, s.handle(res)}
		tid := s.solve(allow, args[:])
		if errors.Is(s.err, ErrDepthExceeded) {
			s.releaseReads() // before the solvers of authorizeEachWide read the source
			return e.authorizeEachWide(ctx, r, actor, action, resources)
		}
		if s.err != nil {
			return nil, s.err
		}
		out[i] = s.tables[tid].nAns > 0
	}
	return out, nil
}

// authorizeEachWide is AuthorizeEach one resource at a time, for a batch
// in which a goal nests deeper than MaxDepth.
func (e *Evaluator) authorizeEachWide(ctx context.Context, r Request, actor term.Value, action string, resources []term.Value) ([]bool, error) {
	r.Explain = false
	out := make([]bool, len(resources))
	for i, res := range resources {
		d, err := e.Authorize(ctx, r, actor, action, res)
		if err != nil {
			return nil, err
		}
		out[i] = d.Allowed
	}
	return out, nil
}

// authorizeWide answers a ground allow goal that nested deeper than
// MaxDepth (depthErr) from the goals List, Query and Actions ask, with the
// resource, then the action, unbound: those are evaluated from the actor
// outward, where a chain of links is one table rather than one nested
// table per link. So Authorize answers whenever they would answer the
// same question, and fails with depthErr only when they all fail.
// The explanation, when asked for, comes from the wide goal.
func (e *Evaluator) authorizeWide(ctx context.Context, r Request, args [3]term.Value, depthErr error) (Decision, error) {
	wide := [][3]term.Value{
		{args[0], args[1], wild(args[2].Type)},    // List
		{args[0], args[1], wild("")},              // Query, whose variables are untyped
		{args[0], wild(term.TypeString), args[2]}, // Actions
	}
	for _, w := range wide {
		d, err := e.holdsWithin(ctx, r, w, args)
		switch {
		case err == nil:
			return d, nil
		case !errors.Is(err, ErrDepthExceeded) && !errors.Is(err, ErrWorkExceeded):
			return Decision{}, err // cancelled, or a bug
		}
	}
	return Decision{}, depthErr
}

// holdsWithin reports whether the table of allow(wide...) has an answer
// that matches the ground goal args.
func (e *Evaluator) holdsWithin(ctx context.Context, r Request, wide, args [3]term.Value) (_ Decision, err error) {
	s := e.acquire(ctx, r.source(), r.Now)
	defer e.done(s, &err)
	allow := e.pred("allow", 3)
	tid := s.solve(allow, s.handles(nil, wide[:]))
	if s.err != nil {
		return Decision{}, s.err
	}
	var d Decision
	want := s.handles(nil, args[:])
	for a := s.tables[tid].first; a >= 0 && !d.Allowed; a = s.ans[a].next {
		d.Allowed = s.answerMatches(int(s.ans[a].off), want)
	}
	if r.Explain {
		d.Explanation = s.explain(allow, args[:], d.Allowed)
		if errors.Is(s.err, ErrDepthExceeded) {
			d.Explanation = &Explanation{Goal: renderCall(allow.name, args[:]), Holds: d.Allowed,
				Failed: "the derivation is too deep to explain"}
		} else if s.err != nil {
			return Decision{}, s.err
		}
	}
	return d, nil
}
