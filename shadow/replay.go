package shadow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/castellan-authz/castellan/audit"
	"github.com/castellan-authz/castellan/evaluator"
	"github.com/castellan-authz/castellan/lang"
	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/policy"
)

// Kinds of replayable questions.
const (
	KindAuthorize = "authorize"
	KindActions   = "actions"
	KindList      = "list"
)

// Limits of a replay.
const (
	// DefaultDecisions is how many of the last decisions a replay reads
	// when not told.
	DefaultDecisions = 1000
	// MaxDecisions bounds the decisions of one replay.
	MaxDecisions = 100_000
	// maxListIDs bounds the ids of one replayed list compared per policy.
	maxListIDs = 10_000
)

// ErrBadRecord is wrapped by the error of a record that is not a decision
// record of the log (ParseRecords).
var ErrBadRecord = errors.New("bad decision record")

// Change is one question whose answer differs under the candidate.
type Change struct {
	// Endpoint is the question as the log named it (authorize,
	// authzen.evaluation, actions, list, ...); for actions and lists each
	// action or resource that changes is a Change of its own.
	Endpoint string
	Actor    term.Value
	Action   string
	Resource term.Value
	// Before is the answer under the live policy, After under the candidate.
	Before, After bool
	// Rule is the rule responsible (see Responsible), from the derivation
	// under the live policy when the candidate denies, under the candidate
	// when it allows. Nil when the evaluator named no rule (a fact allowed).
	Rule *evaluator.RuleUse
	// Fact is the stored or context fact that allowed, when no rule did.
	Fact string
	// Count is how many replayed decisions asked this question.
	Count int
	// Time is when the last of them was decided.
	Time time.Time
	// ContextHashed: the log kept only a hash of the question's context
	// facts, so the replay ran without them and may differ from the
	// decision as it was made.
	ContextHashed bool
}

// Skip counts the records of one endpoint that could not be replayed.
type Skip struct {
	Endpoint string
	Count    int
	Reason   string
}

// Report is what a replay found.
type Report struct {
	// LiveVersion is the live policy's version the replay compared with.
	LiveVersion int64
	// Decisions is how many decision records were read.
	Decisions int
	// Replayed counts the questions asked under both policies (an
	// authorize_resources record is one per resource).
	Replayed int
	// Changes lists every question whose answer differs, most asked
	// first, then most recently asked first.
	Changes []Change
	// Skipped counts the records not replayed, by endpoint.
	Skipped []Skip
	// ContextHashed counts the replayed records whose context facts the
	// log kept only as a hash (the replay ran without them).
	ContextHashed int
	// Errors counts the questions that failed under either policy (a
	// depth or work limit); FirstError says why the first did.
	Errors     int
	FirstError string
	// Notes says what else may make the replay differ from the decisions
	// as they were made.
	Notes []string
}

// Changed reports whether any answer differs.
func (r *Report) Changed() bool { return len(r.Changes) > 0 }

// ParseRecords decodes decision log lines into records. A line that is
// not JSON, or a record that is not a decision, is an error wrapping
// ErrBadRecord naming its index; checkpoint records are dropped.
func ParseRecords(lines [][]byte) ([]audit.Record, error) {
	out := make([]audit.Record, 0, len(lines))
	for i, l := range lines {
		var r audit.Record
		if err := json.Unmarshal(l, &r); err != nil {
			return nil, fmt.Errorf("%w: decisions[%d]: %v", ErrBadRecord, i, err)
		}
		switch r.Kind {
		case audit.KindCheckpoint:
			continue
		case audit.KindDecision, "":
		default:
			return nil, fmt.Errorf("%w: decisions[%d]: kind %q is not a decision", ErrBadRecord, i, r.Kind)
		}
		out = append(out, r)
	}
	return out, nil
}

// LastDecisions reads the last n decision records of log (newest first),
// matching filter (its Limit and PageToken are ignored).
func LastDecisions(ctx context.Context, log audit.Searcher, n int, filter audit.Query) ([]audit.Record, error) {
	if n <= 0 {
		n = DefaultDecisions
	}
	n = min(n, MaxDecisions)
	var out []audit.Record
	q := filter
	q.PageToken = ""
	for len(out) < n {
		q.Limit = min(audit.MaxLimit, n-len(out))
		page, err := log.Decisions(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("reading the decision log: %w", err)
		}
		lines := make([][]byte, len(page.Decisions))
		for i, e := range page.Decisions {
			lines[i] = e.Line
		}
		recs, err := ParseRecords(lines)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
		if page.NextPageToken == "" {
			break
		}
		q.PageToken = page.NextPageToken
	}
	return out, nil
}

// Input is what Replay compares.
type Input struct {
	// Live and Candidate are the policies compared.
	Live, Candidate *policy.Compiled
	// Facts are the stored facts the questions are asked over (a
	// store.Snapshot); nil is no facts.
	Facts evaluator.Source
	// Records are the decisions to replay, in any order.
	Records []audit.Record
	// ContextNotKept says the log the records come from keeps no context
	// facts (audit context facts: none): the replay says it ran without
	// any.
	ContextNotKept bool
}

// question is one replayable question, and how many records asked it.
type question struct {
	endpoint     string
	kind         string
	actor        term.Value
	action       string
	resources    []term.Value // authorize: one or more
	resourceType string       // list
	context      []term.Fact
	hashed       bool
	count        int
	time         time.Time
}

// Replay asks every replayable question of in.Records under both policies
// and reports the answers that differ. Identical questions (same kind,
// actor, action, resources and context facts) are asked once and counted.
// It fails only when ctx is done; a question the evaluator cannot answer
// is counted in Report.Errors.
func Replay(ctx context.Context, in Input) (*Report, error) {
	rep := &Report{LiveVersion: in.Live.Version(), Decisions: len(in.Records)}
	qs, skipped := questions(in.Records, rep)
	rep.Skipped = skipped
	changes := map[string]*Change{}
	var order []string
	for _, q := range qs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if q.hashed {
			rep.ContextHashed += q.count
		}
		found, err := replayOne(ctx, in, q, rep)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			rep.Errors += q.count
			if rep.FirstError == "" {
				rep.FirstError = fmt.Sprintf("%s %s %s %s: %v", q.endpoint, q.actor, q.action, firstOr(q.resources, q.resourceType), err)
			}
			continue
		}
		for _, c := range found {
			key := c.Endpoint + "\x00" + c.Actor.String() + "\x00" + c.Action + "\x00" + c.Resource.String()
			if old, ok := changes[key]; ok {
				old.Count += c.Count
				if c.Time.After(old.Time) {
					old.Time = c.Time
				}
				old.ContextHashed = old.ContextHashed || c.ContextHashed
				continue
			}
			cc := c
			changes[key] = &cc
			order = append(order, key)
		}
	}
	for _, k := range order {
		rep.Changes = append(rep.Changes, *changes[k])
	}
	sort.SliceStable(rep.Changes, func(i, j int) bool {
		a, b := rep.Changes[i], rep.Changes[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Time.After(b.Time)
	})
	rep.Notes = notes(in, rep)
	return rep, nil
}

func firstOr(vs []term.Value, typ string) string {
	if len(vs) > 0 {
		return vs[0].String()
	}
	return typ
}

// notes says what may make the replay differ from the decisions as made.
func notes(in Input, rep *Report) []string {
	var out []string
	if rep.ContextHashed > 0 {
		out = append(out, fmt.Sprintf("%d replayed decisions had context facts the log kept only as a hash (audit context facts: hashed): they were replayed without them, so their answers may differ from the decisions as made", rep.ContextHashed))
	}
	if in.ContextNotKept && rep.Replayed > 0 {
		out = append(out, "the decision log keeps no context facts (audit context facts: none): decisions were replayed without the context facts they were asked with, so answers that depended on them may differ")
	}
	uses := func(p *lang.Program, name string, arity int) bool {
		_, ok := p.FactTypes[lang.Pred{Name: name, Arity: arity}]
		return ok
	}
	for _, p := range []*policy.Compiled{in.Live, in.Candidate} {
		if uses(p.Program(), "request_caller", 1) || uses(p.Program(), "has_claim", 3) {
			out = append(out, "the policies use verified facts (request_caller, has_claim): a record keeps them only among its context facts (audit context facts: all); records that did not keep them were replayed without them")
			break
		}
	}
	if rep.Decisions > 0 && rep.Replayed == 0 {
		out = append(out, "no decision could be replayed")
	}
	return out
}

// questions turns records into questions, deduplicated, and counts the
// records skipped by endpoint.
func questions(recs []audit.Record, rep *Report) ([]*question, []Skip) {
	byKey := map[string]*question{}
	var qs []*question
	skips := map[string]*Skip{}
	skip := func(endpoint, reason string) {
		s := skips[endpoint+"\x00"+reason]
		if s == nil {
			s = &Skip{Endpoint: endpoint, Reason: reason}
			skips[endpoint+"\x00"+reason] = s
		}
		s.Count++
	}
	for i := range recs {
		r := &recs[i]
		q, reason := toQuestion(r)
		if q == nil {
			skip(r.Endpoint, reason)
			continue
		}
		key := q.key()
		if old, ok := byKey[key]; ok {
			old.count++
			if r.Time.After(old.time) {
				old.time = r.Time
			}
			continue
		}
		q.count, q.time = 1, r.Time
		byKey[key] = q
		qs = append(qs, q)
	}
	out := make([]Skip, 0, len(skips))
	for _, s := range skips {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Endpoint < out[j].Endpoint
	})
	return qs, out
}

func (q *question) key() string {
	var b strings.Builder
	b.WriteString(q.endpoint + "\x00" + q.kind + "\x00" + q.actor.String() + "\x00" + q.action + "\x00" + q.resourceType)
	for _, r := range q.resources {
		b.WriteString("\x00" + r.String())
	}
	b.WriteString("\x01")
	for _, f := range q.context {
		b.WriteString(f.String() + "\x00")
	}
	if q.hashed {
		b.WriteString("#hashed")
	}
	return b.String()
}

// toQuestion returns the question r records, or nil and why it cannot be
// replayed.
func toQuestion(r *audit.Record) (*question, string) {
	switch {
	case r.Error != "":
		return nil, "the decision failed when it was made"
	case r.Query != "":
		return nil, "queries are not replayed: the log keeps the query only in its printed form"
	case strings.HasPrefix(r.Endpoint, "local."):
		return nil, "local authorization is decided by the application's database"
	case strings.HasPrefix(r.Endpoint, "authzen.search"):
		return nil, "searches are not replayed"
	}
	actor, ok := value(r.Actor)
	if !ok {
		return nil, "the record names no actor"
	}
	q := &question{endpoint: r.Endpoint, actor: actor, action: r.Action}
	switch {
	case r.Allowed != nil && r.Action != "" && r.Resource.Type != "":
		res, ok := value(r.Resource)
		if !ok {
			return nil, "the record names no resource"
		}
		q.kind, q.resources = KindAuthorize, []term.Value{res}
	case len(r.Resources) > 0 && r.Action != "":
		q.kind = KindAuthorize
		for _, rv := range r.Resources {
			res, ok := value(rv)
			if !ok {
				return nil, "the record names a resource without type or id"
			}
			q.resources = append(q.resources, res)
		}
	case r.ResourceType != "" && r.Action != "" && r.Resource.Type == "":
		q.kind, q.resourceType = KindList, r.ResourceType
	case r.Action == "" && r.Resource.Type != "":
		res, ok := value(r.Resource)
		if !ok {
			return nil, "the record names no resource"
		}
		q.kind, q.resources = KindActions, []term.Value{res}
	default:
		return nil, "the record does not hold enough to ask its question again"
	}
	for _, s := range r.ContextFacts {
		f, err := term.ParseFact(s)
		if err != nil {
			return nil, "a context fact of the record cannot be read: " + err.Error()
		}
		q.context = append(q.context, f)
	}
	q.hashed = r.ContextFactsSHA256 != ""
	if typ, id, ok := strings.Cut(r.OnBehalfOf, ":"); ok && typ != "" && id != "" {
		f := term.Fact{Predicate: "request_on_behalf_of", Args: []term.Value{term.Entity(typ, id)}}
		if !hasFact(q.context, f) {
			q.context = append(q.context, f)
		}
	}
	return q, ""
}

func hasFact(fs []term.Fact, f term.Fact) bool {
	for _, g := range fs {
		if g.Equal(f) {
			return true
		}
	}
	return false
}

func value(v audit.Value) (term.Value, bool) {
	if v.Type == "" || v.ID == "" {
		return term.Value{}, false
	}
	n, err := term.Normalize(term.Value{Type: v.Type, ID: v.ID})
	return n, err == nil
}

// replayOne asks q under both policies and returns the changes.
func replayOne(ctx context.Context, in Input, q *question, rep *Report) ([]Change, error) {
	req := evaluator.Request{Source: in.Facts, Context: q.context}
	live, cand := in.Live.Evaluator(), in.Candidate.Evaluator()
	var diffs []triple
	switch q.kind {
	case KindAuthorize:
		for _, res := range q.resources {
			rep.Replayed += q.count
			a, err := live.Authorize(ctx, req, q.actor, q.action, res)
			if err != nil {
				return nil, err
			}
			b, err := cand.Authorize(ctx, req, q.actor, q.action, res)
			if err != nil {
				return nil, err
			}
			if a.Allowed != b.Allowed {
				diffs = append(diffs, triple{q.action, res, a.Allowed})
			}
		}
	case KindActions:
		rep.Replayed += q.count
		res := q.resources[0]
		a, err := live.Actions(ctx, req, q.actor, res)
		if err != nil {
			return nil, err
		}
		b, err := cand.Actions(ctx, req, q.actor, res)
		if err != nil {
			return nil, err
		}
		for _, x := range symDiff(a, b) {
			diffs = append(diffs, triple{x.s, res, x.before})
		}
	case KindList:
		rep.Replayed += q.count
		a, err := live.List(ctx, req, q.actor, q.action, q.resourceType, evaluator.Page{Size: maxListIDs})
		if err != nil {
			return nil, err
		}
		b, err := cand.List(ctx, req, q.actor, q.action, q.resourceType, evaluator.Page{Size: maxListIDs})
		if err != nil {
			return nil, err
		}
		if a.Wildcard != b.Wildcard {
			diffs = append(diffs, triple{q.action, term.Entity(q.resourceType, "*"), a.Wildcard})
		}
		for _, x := range symDiff(a.IDs, b.IDs) {
			diffs = append(diffs, triple{q.action, term.Entity(q.resourceType, x.s), x.before})
		}
	}
	out := make([]Change, 0, len(diffs))
	for _, d := range diffs {
		c := Change{Endpoint: q.endpoint, Actor: q.actor, Action: d.action, Resource: d.resource,
			Before: d.before, After: !d.before, Count: q.count, Time: q.time, ContextHashed: q.hashed}
		// The side that allows names the rule.
		ev := cand
		if d.before {
			ev = live
		}
		if d.resource.ID != "*" {
			if dec, err := ev.Authorize(ctx, evaluator.Request{Source: in.Facts, Context: q.context, Explain: true}, q.actor, d.action, d.resource); err == nil {
				other := in.Live
				if d.before {
					other = in.Candidate
				}
				c.Rule, c.Fact = Responsible(dec.Explanation, other.Program())
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// triple is one (action, resource) whose answer changes; before is the
// live answer.
type triple struct {
	action   string
	resource term.Value
	before   bool
}

type diffItem struct {
	s      string
	before bool // in a (the live answer)
}

// symDiff returns the strings of exactly one of the sorted lists a and b.
func symDiff(a, b []string) []diffItem {
	var out []diffItem
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i] < b[j]:
			out = append(out, diffItem{a[i], true})
			i++
		case i == len(a) || b[j] < a[i]:
			out = append(out, diffItem{b[j], false})
			j++
		default:
			i++
			j++
		}
	}
	return out
}

// builtinAllow is the text of the allow rule every program derives from
// has_permission.
const builtinAllow = "allow if has_permission"

// Responsible returns the rule an explanation of an allowed decision names
// as the reason it differs under other (the policy that decides the other
// way): the outermost rule of the derivation that other does not have (by
// its text: a rule added or removed, or changed), else the outermost rule
// below the built-in allow-if-has_permission rule; or, when no rule
// allowed, the fact that did. Both are zero for a denial or no
// explanation. other may be nil (no rule is compared).
func Responsible(ex *evaluator.Explanation, other *lang.Program) (*evaluator.RuleUse, string) {
	if ex == nil || !ex.Holds {
		return nil, ""
	}
	if other != nil {
		texts := map[string]bool{}
		for _, rs := range other.Rules {
			for _, r := range rs {
				texts[r.Text] = true
			}
		}
		if r := firstMissing(ex, texts); r != nil {
			return r, ""
		}
	}
	for ex.Rule != nil && ex.Rule.Text == builtinAllow && len(ex.Premises) > 0 && ex.Premises[0].Holds {
		ex = ex.Premises[0]
	}
	if ex.Rule != nil {
		return ex.Rule, ""
	}
	if ex.Fact != nil {
		return nil, ex.Fact.Fact
	}
	return nil, ""
}

// maxBlameDepth bounds how deep Responsible looks for a rule other lacks.
const maxBlameDepth = 64

// firstMissing returns the outermost rule of the derivation ex (breadth
// by premise order, outermost first) whose text is not in texts.
func firstMissing(ex *evaluator.Explanation, texts map[string]bool) *evaluator.RuleUse {
	level := []*evaluator.Explanation{ex}
	for d := 0; len(level) > 0 && d < maxBlameDepth; d++ {
		var next []*evaluator.Explanation
		for _, e := range level {
			if e == nil || !e.Holds {
				continue
			}
			if e.Rule != nil && !texts[e.Rule.Text] {
				return e.Rule
			}
			next = append(next, e.Premises...)
		}
		level = next
	}
	return nil
}
