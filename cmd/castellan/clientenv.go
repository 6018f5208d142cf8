package main

// What the verbs that talk to a server share: the --url/--api-key/--json
// flags and their environment fallbacks, flag parsing that accepts flags
// after arguments, the Type:id value syntax, -c context facts, and the
// mapping of client errors to exit codes.

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	castellan "github.com/castellan-authz/castellan/clients/go"
)

// defaultURL is where the verbs look for a server when neither --url nor
// CASTELLAN_URL nor OSO_URL says otherwise.
const defaultURL = "http://localhost:8080"

// remote holds the flags of a verb that talks to a server.
type remote struct {
	e      *env
	url    string
	apiKey string
	caFile string
	json   bool
}

// newRemoteFlags returns a flag set for verb with --url, --api-key and
// --json registered. usage is the line after "usage: castellan ".
func newRemoteFlags(e *env, verb, usage, help string) (*flag.FlagSet, *remote) {
	fs := newFlagSet(e, verb, usage, help)
	r := &remote{e: e}
	fs.StringVar(&r.url, "url", "", "server URL (default $CASTELLAN_URL, $OSO_URL or "+defaultURL+")")
	fs.StringVar(&r.apiKey, "api-key", "", "API key (default $CASTELLAN_API_KEY or $OSO_AUTH)")
	fs.StringVar(&r.caFile, "ca-file", "", "trust the CA certificates of this PEM `file` for an https:// server (default $CASTELLAN_CA_FILE; else the system's)")
	fs.BoolVar(&r.json, "json", false, "print JSON instead of text")
	return fs, r
}

// newFlagSet returns a flag set whose -h prints usage and help.
func newFlagSet(e *env, verb, usage, help string) *flag.FlagSet {
	fs := flag.NewFlagSet(verb, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: castellan %s\n", usage)
		if help != "" {
			fmt.Fprintf(e.stderr, "\n%s\n", strings.TrimSpace(help))
		}
		fmt.Fprintln(e.stderr, "\nflags:")
		fs.PrintDefaults()
		fmt.Fprintf(e.stderr, "\n%s\n", exitCodesHelp)
	}
	return fs
}

// parseArgs parses flags that may come before, between or after the
// positional arguments (a "--" ends the flags) and returns the positional
// arguments. -h returns errHelpShown, which callers return as nil.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelpShown
			}
			return nil, usageError("%s: %v", fs.Name(), err)
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// errHelpShown is returned by parseArgs after -h printed the usage.
var errHelpShown = errors.New("help shown")

// helpOr maps errHelpShown to nil (exit 0) and returns other errors.
func helpOr(err error) error {
	if errors.Is(err, errHelpShown) {
		return nil
	}
	return err
}

// parseArgsBetween is parseArgs, then wantArgs: it returns the positional
// arguments when there are minN to maxN of them (maxN < 0: no limit).
func parseArgsBetween(fs *flag.FlagSet, args []string, minN, maxN int) ([]string, error) {
	args, err := parseArgs(fs, args)
	if err != nil {
		return nil, err
	}
	if err := wantArgs(fs, args, minN, maxN); err != nil {
		return nil, err
	}
	return args, nil
}

// wantArgs checks the number of positional arguments.
func wantArgs(fs *flag.FlagSet, args []string, minN, maxN int) error {
	if len(args) >= minN && (maxN < 0 || len(args) <= maxN) {
		return nil
	}
	fs.Usage()
	switch {
	case maxN == minN:
		return usageError("%s takes %d arguments, got %d", fs.Name(), minN, len(args))
	case len(args) < minN:
		return usageError("%s takes at least %d arguments, got %d", fs.Name(), minN, len(args))
	}
	return usageError("%s takes at most %d arguments, got %d", fs.Name(), maxN, len(args))
}

// baseURL resolves the server URL: --url, CASTELLAN_URL, OSO_URL, default.
func (r *remote) baseURL() string {
	for _, u := range []string{r.url, r.e.getenv("CASTELLAN_URL"), r.e.getenv("OSO_URL")} {
		if u != "" {
			return u
		}
	}
	return defaultURL
}

// key resolves the API key: --api-key, CASTELLAN_API_KEY, OSO_AUTH.
func (r *remote) key() string {
	for _, k := range []string{r.apiKey, r.e.getenv("CASTELLAN_API_KEY"), r.e.getenv("OSO_AUTH")} {
		if k != "" {
			return k
		}
	}
	return ""
}

// client returns a client of the resolved server.
func (r *remote) client() (*castellan.Client, error) {
	u := r.baseURL()
	if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return nil, usageError("server URL %q is not an http:// or https:// URL (set --url or CASTELLAN_URL)", u)
	}
	hc := &http.Client{Timeout: 60 * time.Second}
	if ca := cmp.Or(r.caFile, r.e.getenv("CASTELLAN_CA_FILE")); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, usageError("--ca-file: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usageError("--ca-file %s: no PEM certificate in it", ca)
		}
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		hc.Transport = t
	}
	return castellan.New(u, r.key(),
		castellan.WithHTTPClient(hc),
		castellan.WithUserAgent("castellan-cli/"+version)), nil
}

// connect parses the arguments of a verb that has nothing to check before
// it talks to the server (see parseArgsBetween) and returns them with a
// client of the server.
func (r *remote) connect(fs *flag.FlagSet, args []string, minN, maxN int) ([]string, *castellan.Client, error) {
	args, err := parseArgsBetween(fs, args, minN, maxN)
	if err != nil {
		return nil, nil, err
	}
	c, err := r.client()
	return args, c, err
}

// fail maps an error of the client to the verb's result: a server's answer
// is printed with its details and exits 1 when it refused a policy (errors,
// failing tests, no allow path without --force), else 3; an unreachable
// server exits 3.
func (r *remote) fail(err error) error {
	var ce *castellan.Error
	if errors.As(err, &ce) {
		fmt.Fprintf(r.e.stderr, "castellan: %s\n", ce.Message)
		for _, d := range ce.Details {
			if s := d.String(); s != ce.Message {
				fmt.Fprintf(r.e.stderr, "  %s\n", strings.ReplaceAll(s, "\n", "\n  "))
			}
		}
		if ce.StatusCode == http.StatusUnauthorized || ce.StatusCode == http.StatusForbidden {
			fmt.Fprintln(r.e.stderr, "  (check --api-key or CASTELLAN_API_KEY)")
		}
		switch ce.Code {
		case "invalid_policy", "tests_failed", "policy_needs_force", "unusable_facts":
			return errFailed
		}
		return errReported
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return fmt.Errorf("cannot reach castellan at %s: %v", r.baseURL(), ue.Err)
	}
	return usageError("%v", err)
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// typeRE is what may precede the colon of Type:id: a capitalised name,
// possibly namespaced (A::B).
var typeRE = regexp.MustCompile(`^[A-Z][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)*$`)

// parseValue reads one argument: Type:id (Integer:3, Boolean:true), a bare
// word (a String), and, when wildcards is true, _ (anything) or Type:_ (any
// value of Type).
func parseValue(s string, wildcards bool) (castellan.Value, error) {
	if s == "_" {
		if !wildcards {
			return castellan.Value{}, fmt.Errorf("_ (a wildcard) is not allowed here: give a value such as User:alice")
		}
		return castellan.Any(), nil
	}
	typ, id, ok := cutType(s)
	if !ok || !typeRE.MatchString(typ) {
		return castellan.String(s), nil
	}
	if id == "_" {
		if !wildcards {
			return castellan.Value{}, fmt.Errorf("%s (a wildcard) is not allowed here: give an id", s)
		}
		return castellan.AnyOf(typ), nil
	}
	if id == "" {
		return castellan.Value{}, fmt.Errorf("%q has an empty id (write %s:ID, or %s:_ for any)", s, typ, typ)
	}
	switch typ {
	case castellan.TypeInteger:
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return castellan.Value{}, fmt.Errorf("%q: %q is not a 64-bit integer", s, id)
		}
		return castellan.Integer(n), nil
	case castellan.TypeBoolean:
		b, err := strconv.ParseBool(id)
		if err != nil || (id != "true" && id != "false") {
			return castellan.Value{}, fmt.Errorf("%q: a Boolean is true or false", s)
		}
		return castellan.Bool(b), nil
	}
	return castellan.Entity(typ, id), nil
}

// cutType splits Type:id at the first single colon (a "::" belongs to a
// namespaced type name).
func cutType(s string) (typ, id string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] != ':' {
			continue
		}
		if i+1 < len(s) && s[i+1] == ':' {
			i++
			continue
		}
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

// predicateRE is a Polar rule name.
var predicateRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// parseFact reads PRED ARG... into a fact. With anyPredicate, PRED may be
// _ (any predicate).
func parseFact(args []string, wildcards, anyPredicate bool) (castellan.Fact, error) {
	if len(args) == 0 {
		return castellan.Fact{}, errors.New("missing predicate")
	}
	pred := args[0]
	switch {
	case pred == "_" && anyPredicate:
		pred = ""
	case pred == "_":
		return castellan.Fact{}, errors.New("the predicate cannot be _ here: name it (such as has_role)")
	case !predicateRE.MatchString(pred):
		return castellan.Fact{}, fmt.Errorf("%q is not a predicate name (such as has_role)", pred)
	}
	f := castellan.Fact{Predicate: pred}
	for i, a := range args[1:] {
		v, err := parseValue(a, wildcards)
		if err != nil {
			return castellan.Fact{}, fmt.Errorf("argument %d: %w", i+1, err)
		}
		f.Args = append(f.Args, v)
	}
	return f, nil
}

// contextFlag collects repeatable -c/--context "PRED ARG..." facts.
type contextFlag struct{ facts []castellan.Fact }

func (c *contextFlag) String() string { return "" }

func (c *contextFlag) Set(s string) error {
	words, err := splitWords(s)
	if err != nil {
		return fmt.Errorf("context fact %q: %w", s, err)
	}
	f, err := parseFact(words, false, false)
	if err != nil {
		return fmt.Errorf("context fact %q: %w", s, err)
	}
	if len(f.Args) == 0 {
		return fmt.Errorf("context fact %q has no arguments", s)
	}
	c.facts = append(c.facts, f)
	return nil
}

// splitWords splits s at white space, except inside double quotes, which
// are removed (a backslash in quotes escapes the next character):
// `has_role User:"bob smith" owner` is three words.
func splitWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord, inQuote, escaped := false, false, false
	for _, r := range s {
		switch {
		case escaped:
			w.WriteRune(r)
			escaped = false
		case inQuote && r == '\\':
			escaped = true
		case r == '"':
			inQuote, inWord = !inQuote, true
		case !inQuote && (r == ' ' || r == '\t' || r == '\n'):
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if inQuote {
		return nil, errors.New("unterminated double quote")
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// register adds -c and --context to fs.
func (c *contextFlag) register(fs *flag.FlagSet) {
	const help = `context fact "PRED ARG...", used for this question only (repeatable; double-quote ids with spaces: User:\"a b\")`
	fs.Var(c, "c", help)
	fs.Var(c, "context", help)
}

// options returns the check options for the collected facts.
func (c *contextFlag) options() []castellan.CheckOption {
	if len(c.facts) == 0 {
		return nil
	}
	return []castellan.CheckOption{castellan.WithContextFacts(c.facts...)}
}

// printTable prints items as {key: [...]} with --json, else as a table of
// aligned columns: the tab-separated header, then row(item) for each.
func printTable[T any](r *remote, key string, items []T, header string, row func(T) string) error {
	if r.json {
		if items == nil {
			items = []T{}
		}
		return printJSON(r.e.stdout, map[string]any{key: items})
	}
	tw := tabwriter.NewWriter(r.e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, it := range items {
		fmt.Fprintln(tw, row(it))
	}
	return tw.Flush()
}

// printDone reports a change that returns nothing: {"message": msg} with
// --json, else the line text.
func (r *remote) printDone(msg, text string) error {
	if r.json {
		return printJSON(r.e.stdout, map[string]string{"message": msg})
	}
	fmt.Fprintln(r.e.stdout, text)
	return nil
}

// printFacts prints facts in Polar syntax, one per line, or as JSON.
func (r *remote) printFacts(facts []castellan.Fact, none string) error {
	if r.json {
		if facts == nil {
			facts = []castellan.Fact{}
		}
		return printJSON(r.e.stdout, facts)
	}
	if len(facts) == 0 && none != "" {
		fmt.Fprintln(r.e.stdout, none)
	}
	for _, f := range facts {
		fmt.Fprintln(r.e.stdout, factLine(f))
	}
	return nil
}
