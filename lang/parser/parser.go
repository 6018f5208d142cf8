package parser

import (
	"errors"
	"fmt"

	"github.com/alecthomas/participle/v2"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/castellan-authz/castellan/lang/ast"
)

// DefaultMaxDepth is the nesting limit Parse uses: parentheses, lists,
// entity literals and `not`s nested deeper than this are an error.
const DefaultMaxDepth = 64

// maxErrors is how many errors Parse reports before it gives up on a file.
const maxErrors = 100

// Config controls parsing. The zero Config is ready to use.
type Config struct {
	// MaxDepth limits how deeply parentheses, lists, braces and `not`
	// may nest. Zero means DefaultMaxDepth.
	MaxDepth int
}

// Parse parses one Polar file with the default Config.
//
// The error, when not nil, is an ast.ErrorList sorted by position. The
// returned file is never nil; when there are errors it holds the items that
// parsed.
func Parse(filename string, src []byte) (*ast.File, error) {
	var c Config
	return c.Parse(filename, src)
}

// Parse parses one Polar file. See the package-level Parse.
func (c *Config) Parse(filename string, src []byte) (f *ast.File, err error) {
	f = &ast.File{Name: filename}
	defer func() {
		// Last resort: a bug in the parser must not crash the server that
		// is loading a policy.
		if r := recover(); r != nil {
			err = internalError(filename, r)
		}
	}()
	g, gerr := loadGrammar()
	if gerr != nil {
		return f, internalError(filename, gerr)
	}
	maxDepth := c.MaxDepth
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	p := &fileParser{g: g, file: f, maxDepth: maxDepth, nodes: &nodes{}}
	sp := splitter{sc: newScanner(filename, src, &p.errs, &f.Comments)}
	for len(p.errs) <= maxErrors { // past that, the rest would not be shown
		it, ok := sp.nextItem()
		if !ok {
			break
		}
		p.item(it)
	}
	p.errs.Sort()
	if len(p.errs) > maxErrors {
		last := p.errs[maxErrors-1].Pos
		p.errs = p.errs[:maxErrors]
		p.errs.Add(last, "too many errors; the rest of the file was not checked", "fix these first")
	}
	return f, p.errs.Err()
}

// internalError reports a bug of the parser itself as an error at the
// start of the file, so that callers still get an ast.ErrorList.
func internalError(filename string, cause any) error {
	var errs ast.ErrorList
	errs.Add(ast.Position{File: filename, Line: 1, Col: 1}, fmt.Sprintf("internal parser error: %v", cause),
		"this is a bug in Castellan's parser; please report it with the policy")
	return errs
}

// fileParser holds the state of one Parse call.
type fileParser struct {
	g        *grammar
	file     *ast.File
	errs     ast.ErrorList
	maxDepth int
	mark     int  // len(errs) when the current item started
	cur      span // the current item
	nodes    *nodes
}

func (p *fileParser) errorf(pos lexer.Position, hint, format string, args ...any) {
	p.errs.Add(astPos(pos), fmt.Sprintf(format, args...), hint)
}

// span is the tokens of one top-level item.
type span struct {
	// toks are the item's tokens. The slice is reused for the next item:
	// nothing may keep it (or pointers into it) once the item is parsed.
	toks []lexer.Token
	// next is the token after the item: the EOF token, or the first token
	// of the next item.
	next lexer.Token
	// cut is set when the item ended because the next item started, not at
	// its own ';' or '}'.
	cut bool
}

// splitter divides a file's tokens into top-level items, scanning as it
// goes so that only one item's tokens are held at a time. An item ends at
// the ';' or the '}' that closes it at nesting depth 0, or where a line
// starts with something that can only begin a new item (`resource Name`,
// `test "name"`, ...), so that an error in one item does not swallow the
// next.
type splitter struct {
	sc   *scanner
	la   [4]lexer.Token // lookahead ring: scanned, not yet in an item
	head int
	nla  int
	buf  []lexer.Token // the current item's tokens
}

// peek returns the k-th token (0, 1 or 2) after the current item's. The
// pointer is valid until the next take.
func (s *splitter) peek(k int) *lexer.Token {
	for s.nla <= k {
		s.la[(s.head+s.nla)%len(s.la)] = s.sc.next()
		s.nla++
	}
	return &s.la[(s.head+k)%len(s.la)]
}

// take moves the first lookahead token into the current item.
func (s *splitter) take() {
	s.buf = append(s.buf, *s.peek(0))
	s.head = (s.head + 1) % len(s.la)
	s.nla--
}

// nextItem returns the next item, or false at the end of the file.
func (s *splitter) nextItem() (span, bool) {
	first := s.peek(0)
	if first.EOF() {
		return span{}, false
	}
	braced := isBracedStart(first, s.peek(1), s.peek(2))
	garbage := first.Type != tokIdent && !(first.Type == tokKeyword && first.Value == "type")
	depth, opened, ended := 0, false, false
	s.buf = s.buf[:0]
loop:
	for {
		t := s.peek(0)
		if t.EOF() {
			break
		}
		if n := len(s.buf); n > 0 && t.Pos.Line != s.buf[n-1].Pos.Line {
			// Only the first token of a line can start a new item.
			prev := &s.buf[n-1]
			if startsItem(t, s.peek(1), s.peek(2)) || !braced && depth == 0 && startsRule(prev, t, s.peek(1), garbage) {
				break
			}
		}
		typ, value := t.Type, t.Value
		s.take()
		if typ != tokPunct {
			continue
		}
		switch value {
		case "(", "[", "{":
			depth++
			if value == "{" {
				opened = true
			}
		case ")", "]", "}":
			if depth > 0 {
				depth--
			}
			if braced && value == "}" && opened && depth == 0 {
				ended = true
				break loop
			}
		case ";":
			if depth == 0 && !(braced && opened) {
				ended = true
				break loop
			}
		}
	}
	next := *s.peek(0)
	return span{toks: s.buf, next: next, cut: !ended && !next.EOF()}, true
}

// isBracedStart reports whether an item that starts with t, next, next2 is
// one that ends with '}' rather than ';'.
func isBracedStart(t, next, next2 *lexer.Token) bool {
	switch t.Value {
	case "actor", "resource":
		return t.Type == tokIdent && (next.Type == tokIdent || isPunct(next, "{"))
	case "global":
		return t.Type == tokIdent && isPunct(next, "{")
	case "test":
		// `test t {` is a test whose name lacks its quotes.
		return t.Type == tokIdent && (next.Type == tokString || next.Value == "fixture" ||
			next.Type == tokIdent && isPunct(next2, "{"))
	}
	return false
}

// startsItem reports whether t, the first token on its line, can only be
// the start of a top-level item.
func startsItem(t, next, next2 *lexer.Token) bool {
	if isBracedStart(t, next, next2) {
		return true
	}
	switch {
	case t.Type == tokIdent && t.Value == "declare":
		return next.Type == tokIdent && isPunct(next2, "(")
	case t.Type == tokKeyword && t.Value == "type":
		return next.Type == tokIdent
	}
	return false
}

// startsRule reports whether t, following prev at depth 0 of a rule,
// starts a new rule on its own line: `name(` right after something that
// ends a term cannot continue the current rule, which therefore lacks its
// ';'. After garbage any name at the start of a line starts a new item.
func startsRule(prev, t, next *lexer.Token, garbage bool) bool {
	if t.Type != tokIdent || t.Pos.Line == prev.Pos.Line {
		return false
	}
	return garbage || isPunct(next, "(") && endsTerm(*prev)
}

// topWords are the keywords that start a top-level item.
var topWords = []string{"actor", "resource", "global", "test", "declare"}

// misspeltKeyword returns the keyword an item seems to start with when it
// starts with a name close to one, followed by what would follow the
// keyword (a name, a string or '{').
func misspeltKeyword(toks []lexer.Token) string {
	if len(toks) < 2 || toks[0].Type != tokIdent || contains(topWords, toks[0].Value) {
		return ""
	}
	if second := toks[1]; second.Type != tokIdent && second.Type != tokString && !isPunct(&second, "{") {
		return ""
	}
	return nearest(toks[0].Value, topWords)
}

// at returns toks[i], or the zero token past the end.
func at(toks []lexer.Token, i int) lexer.Token {
	if i < len(toks) {
		return toks[i]
	}
	return lexer.Token{}
}

// item parses one top-level item and appends it to the file.
func (p *fileParser) item(it span) {
	toks := it.toks
	for _, t := range toks {
		if t.Type == tokInvalid {
			return // reported by the scanner
		}
	}
	if near := misspeltKeyword(toks); near != "" {
		// `resouce Repo {`: a misspelt keyword, not a rule.
		p.errorf(toks[0].Pos, "did you mean '"+near+"'?", "unknown keyword '%s'", toks[0].Value)
		return
	}
	inBlock := toks[0].Type == tokIdent && (toks[0].Value == "actor" || toks[0].Value == "resource" || toks[0].Value == "global")
	if p.unsupported(toks, inBlock) || p.tooDeep(toks) {
		return
	}
	p.mark = len(p.errs)
	p.cur = it
	first, third := toks[0], at(toks, 2)
	var second lexer.Token
	if len(toks) > 1 {
		second = toks[1]
	} else {
		second = it.next
	}
	switch {
	case first.Type == tokKeyword && first.Value == "type":
		name := "type"
		if second.Type == tokIdent {
			name = second.Value
		}
		p.errorf(first.Pos, "Oso Cloud infers the types of rules from their use; use `declare` for facts only a test or a client uses",
			"Extensible rule types %s are not supported in Oso Cloud policies.", name)
	case first.Type == tokString:
		p.errorf(first.Pos, "shorthand rules belong inside an actor, resource or global block",
			"unexpected %s at the top level", describe(first))
	case first.Type == tokConst:
		p.errorf(first.Pos, "remove the flag; Oso Cloud policies have no rule flags",
			"rule flags such as %s are not supported", first.Value)
	case first.Type != tokIdent:
		p.errorf(first.Pos, "a policy holds actor/resource/global blocks, rules, declare and test items",
			"unexpected %s at the top level", describe(first))
	case isBracedStart(&first, &second, &third):
		switch first.Value {
		case "actor", "resource":
			if b, ok := parseBlock(p, it, p.g.block); ok {
				p.add(p.convBlock(b))
			}
		case "global":
			if b, ok := parseBlock(p, it, p.g.global); ok {
				p.add(p.convGlobal(b))
			}
		default:
			switch {
			case second.Value == "fixture":
				if f, ok := parseWith(p, it, p.g.fixture, testWords); ok {
					p.add(p.convFixture(f))
				}
			case second.Type == tokString:
				if t, ok := parseWith(p, it, p.g.test, testWords); ok {
					p.add(p.convTest(t))
				}
			default:
				p.errorf(second.Pos, fmt.Sprintf("quote the name: test %q { ... }", second.Value),
					"the name of a test is a string")
			}
		}
	case first.Value == "declare" && second.Type == tokIdent:
		if d, ok := parseWith(p, it, p.g.declare, nil); ok {
			p.add(p.convDeclare(d))
		}
	default:
		if r, ok := parseWith(p, it, p.g.rule, ruleWords); ok {
			p.add(p.convRule(r))
		}
	}
}

// add appends a converted item to the file, unless converting it reported
// an error: the file then holds only items that are whole.
func (p *fileParser) add(item ast.Item) {
	if len(p.errs) > p.mark {
		return
	}
	p.file.Items = append(p.file.Items, item)
}

// unsupportedWords are reserved words for constructs of open-source Polar
// that Oso Cloud policies do not have.
var unsupportedWords = map[string]string{
	"cut":    "'cut' is not supported in Oso Cloud policies",
	"forall": "'forall' is not supported in Oso Cloud policies",
	"debug":  "'debug' is not supported in Oso Cloud policies",
	"print":  "'print' is not supported in Oso Cloud policies",
	"new":    "'new' (constructing objects) is not supported in Oso Cloud policies",
	"isa":    "'isa' is not supported in Oso Cloud policies",
}

// unsupported reports constructs of open-source Polar that Oso Cloud does
// not accept, with a message that says so. It returns true when it reported
// anything; the item is then not parsed.
func (p *fileParser) unsupported(toks []lexer.Token, inBlock bool) bool {
	found, seenBrace := false, false
	for i, t := range toks {
		switch t.Type {
		case tokKeyword:
			if msg, ok := unsupportedWords[t.Value]; ok {
				hint := ""
				if t.Value == "isa" {
					hint = "use 'matches' to check a type: x matches User"
				}
				p.errorf(t.Pos, hint, "%s", msg)
				found = true
			}
		case tokFloat:
			p.errorf(t.Pos, "use an Integer", "floating-point numbers are not supported in Oso Cloud policies")
			found = true
		case tokPunct:
			switch t.Value {
			case "?=":
				p.errorf(t.Pos, `write a test block instead: test "name" { assert ...; }`, "inline queries (?=) are not supported in Oso Cloud policies")
				found = true
			case ".":
				p.errorf(t.Pos, `values are a type and an id; keep attributes as facts, e.g. has_status(issue, "open")`,
					"field access with '.' is not supported in Oso Cloud policies")
				found = true
			case "+", "-", "*", "/", "%":
				p.errorf(t.Pos, "compute the value in your application and send it as a fact",
					"arithmetic (%s) is not supported in Oso Cloud policies", t.Value)
				found = true
			case "{":
				// In a block, the first '{' opens the block, whatever
				// comes before it (a broken header is the grammar's to
				// report).
				opener := inBlock && !seenBrace
				seenBrace = true
				if i > 0 && !opener && !braceAllowed(toks, i, inBlock) {
					p.errorf(t.Pos, `keep attributes as facts, e.g. has_status(issue, "open"); an entity is written Type{"id"}`,
						"dictionaries are not supported in Oso Cloud policies")
					found = true
				}
			}
		}
	}
	return found
}

// braceAllowed reports whether the '{' at toks[i] opens something Polar
// has: a block, a test, `setup {`, an entity literal, or in a block
// `relations = {` (any `name = {` there, which convert.go checks).
func braceAllowed(toks []lexer.Token, i int, inBlock bool) bool {
	prev := toks[i-1]
	switch prev.Type {
	case tokIdent:
		return true
	case tokString:
		return i >= 2 && toks[i-2].Value == "test"
	}
	return inBlock && prev.Value == "=" && i >= 2 && toks[i-2].Type == tokIdent
}

// tooDeep reports (and returns true) when the item nests deeper than the
// limit. Depth counts the open brackets plus the `not`s that enclose the
// current token.
func (p *fileParser) tooDeep(toks []lexer.Token) bool {
	var buf [16]int
	runs := append(buf[:0], 0) // per open bracket: the run of `not`s just before it
	depth, nots := 0, 0
	for _, t := range toks {
		top := len(runs) - 1
		switch {
		case t.Type == tokKeyword && t.Value == "not":
			runs[top]++
			nots++
		case t.Type == tokPunct && (t.Value == "(" || t.Value == "[" || t.Value == "{"):
			runs = append(runs, 0)
			depth++
		case t.Type == tokPunct && (t.Value == ")" || t.Value == "]" || t.Value == "}"):
			if top > 0 {
				nots -= runs[top]
				runs = runs[:top]
				depth--
				top--
			}
			nots -= runs[top]
			runs[top] = 0
		default:
			nots -= runs[top]
			runs[top] = 0
		}
		if depth+nots > p.maxDepth {
			p.errorf(t.Pos, "split the expression into smaller rules", "expression nested too deeply (more than %d levels)", p.maxDepth)
			return true
		}
	}
	return false
}

// parseWith parses the tokens of an item with one of the grammar's
// parsers. On a syntax error it reports it (see syntaxError) and returns
// false.
//
// words are the keywords that may appear in this kind of item; an unknown
// name close to one of them gets a "did you mean" hint.
func parseWith[G any](p *fileParser, it span, pp *participle.Parser[G], words []string) (*G, bool) {
	g, err := parseTokens(pp, it, it.toks)
	if err != nil {
		p.syntaxError(it, it.toks, err, expectedBy(pp, it, it.toks), words)
		return nil, false
	}
	return g, true
}

// parseBlock parses an actor, resource or global block. After a syntax
// error in one of its items it reports the error, drops that item's tokens
// (up to its ';', or up to the next line when that starts the next item)
// and parses the rest of the block again, so that two broken items give two
// errors. Once the rest parses, the block without its broken items is
// parsed once more and returned, for the errors of the items that parsed
// to be reported; the file does not get it (see add).
func parseBlock[G any](p *fileParser, it span, pp *participle.Parser[G]) (*G, bool) {
	toks, header := it.toks, blockOpen(it.toks)+1
	var kept []lexer.Token // the items before toks[header:] that parsed
	broken := false
	for len(p.errs) <= maxErrors {
		g, err := parseTokens(pp, it, toks)
		if err == nil && broken {
			toks = append(append(append(make([]lexer.Token, 0, header+len(kept)+len(toks)), toks[:header]...), kept...), toks[header:]...)
			g, err = parseTokens(pp, it, toks)
		}
		if err == nil {
			return g, true
		}
		p.syntaxError(it, toks, err, expectedBy(pp, it, toks), blockWords)
		var ute *participle.UnexpectedTokenError
		if !errors.As(err, &ute) {
			break
		}
		start, end := brokenBlockItem(toks, ute.Unexpected)
		if end <= start || header <= 0 {
			break
		}
		// Go on with the header and what follows the broken item.
		broken = true
		kept = append(kept, toks[header:start]...)
		toks = append(append(make([]lexer.Token, 0, header+len(toks)-end), toks[:header]...), toks[end:]...)
	}
	return nil, false
}

// blockOpen returns the index of the '{' that opens a block, or -1.
func blockOpen(toks []lexer.Token) int {
	for i := range toks {
		if isPunct(&toks[i], "{") {
			return i
		}
	}
	return -1
}

// brokenBlockItem returns the tokens toks[start:end] of the block item that
// holds the unexpected token tok, or end <= start when the error is not
// inside an item (it is in the block's header, at its '}' or at the end of
// the item). It only counts brackets and ';': the grammar has already said
// what is wrong.
func brokenBlockItem(toks []lexer.Token, tok lexer.Token) (start, end int) {
	open, idx := blockOpen(toks), -1
	for i := range toks {
		if toks[i].Pos.Offset == tok.Pos.Offset && tok.Type != tokEnd {
			idx = i
			break
		}
	}
	if open < 0 || idx <= open {
		return 0, 0
	}
	start, depth := open+1, 0
	for i := open + 1; i < idx; i++ {
		switch t := &toks[i]; {
		case isPunct(t, "(") || isPunct(t, "[") || isPunct(t, "{"):
			depth++
		case isPunct(t, ")") || isPunct(t, "]") || isPunct(t, "}"):
			depth = max(depth-1, 0)
		case isPunct(t, ";") && depth == 0:
			start = i + 1
		}
	}
	if t := &toks[idx]; idx > start && (t.Type == tokString || t.Type == tokIdent) && t.Pos.Line > toks[idx-1].Pos.Line {
		// The ';' at the end of a line is missing and the next line starts
		// the next item: go on from there.
		return start, idx
	}
	for i := idx; i < len(toks); i++ {
		switch t := &toks[i]; {
		case isPunct(t, "(") || isPunct(t, "[") || isPunct(t, "{"):
			depth++
		case isPunct(t, ")") || isPunct(t, "]"):
			depth = max(depth-1, 0)
		case isPunct(t, "}"):
			if depth == 0 {
				return start, i // the block's '}'
			}
			depth--
		case isPunct(t, ";") && depth == 0:
			return start, i + 1
		}
	}
	return 0, 0
}

// parseTokens runs pp over toks followed by it's end token: no production
// can run past the item.
func parseTokens[G any](pp *participle.Parser[G], it span, toks []lexer.Token) (*G, error) {
	end := lexer.Token{Type: tokEnd, Pos: it.next.Pos}
	if it.cut {
		end.Value = "cut"
	}
	lex, err := lexer.Upgrade(&sliceLexer{toks: toks, end: end})
	if err != nil {
		return nil, err
	}
	g, err := pp.ParseFromLexer(lex, participle.AllowTrailing(true))
	if err == nil && lex.Peek().Type != tokEnd {
		err = &participle.UnexpectedTokenError{Unexpected: *lex.Peek()}
	}
	return g, err
}

// expectedBy returns what pp expects in place of toks[i] (see expected).
func expectedBy[G any](pp *participle.Parser[G], it span, toks []lexer.Token) func(int) []string {
	return func(i int) []string {
		return expected(toks, i, func(probe []lexer.Token) error {
			_, err := parseTokens(pp, it, probe)
			return err
		})
	}
}
