// Command authzen-check sends every request of AuthZEN scenario files to a
// policy decision point and compares each answer with the one expected. It
// is how the examples authzen-todo and authzen-search test themselves
// (their run.sh), and works against any AuthZEN 1.0 PDP.
//
//	authzen-check BASE_URL FILE...
//
// A file holds the requests of one scenario document, in the format of the
// OpenID AuthZEN interop test harnesses: {"evaluation": [{"request",
// "expected"}], "evaluations": [...]}. The endpoint comes from the file's
// name: search-subject.json, search-resource.json and search-action.json
// are sent to /access/v1/search/{subject,resource,action} (every page,
// following page.next_token; the results are compared as sets), any other
// file's "evaluation" cases to /access/v1/evaluation (expected: the
// decision) and its "evaluations" cases to /access/v1/evaluations
// (expected: the decisions, in order). CASTELLAN_API_KEY, when set, is
// sent as the bearer token. It prints one line per file and every
// mismatch, and exits 1 when any answer differs or fails.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"
)

type testCase struct {
	Request  map[string]any  `json:"request"`
	Expected json.RawMessage `json:"expected"`
}

type scenario struct {
	Evaluation  []testCase `json:"evaluation"`
	Evaluations []testCase `json:"evaluations"`
}

type checker struct {
	base, key string
	client    *http.Client
	failures  int
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: authzen-check BASE_URL FILE...")
		os.Exit(2)
	}
	c := &checker{base: strings.TrimSuffix(os.Args[1], "/"), key: os.Getenv("CASTELLAN_API_KEY"),
		client: &http.Client{Timeout: 10 * time.Second}}
	for _, file := range os.Args[2:] {
		if err := c.file(file); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", file, err)
			os.Exit(2)
		}
	}
	if c.failures > 0 {
		fmt.Printf("authzen-check: %d answers differ from the scenario\n", c.failures)
		os.Exit(1)
	}
}

func (c *checker) file(file string) error {
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var sc scenario
	if err := json.Unmarshal(raw, &sc); err != nil {
		return err
	}
	if len(sc.Evaluation)+len(sc.Evaluations) == 0 {
		return fmt.Errorf("no requests")
	}
	before, n := c.failures, 0
	base := filepath.Base(file)
	if kind, ok := strings.CutPrefix(strings.TrimSuffix(base, ".json"), "search-"); ok {
		for i, tc := range sc.Evaluation {
			c.search(fmt.Sprintf("%s #%d", base, i+1), kind, tc)
			n++
		}
	} else {
		for i, tc := range sc.Evaluation {
			c.evaluation(fmt.Sprintf("%s evaluation #%d", base, i+1), tc)
			n++
		}
		for i, tc := range sc.Evaluations {
			c.evaluations(fmt.Sprintf("%s evaluations #%d", base, i+1), tc)
			n++
		}
	}
	fmt.Printf("%s: %d requests, %d as expected\n", file, n, n-(c.failures-before))
	return nil
}

// fail reports one mismatch.
func (c *checker) fail(name string, req any, format string, args ...any) {
	c.failures++
	body, _ := json.Marshal(req)
	fmt.Printf("FAIL %s: %s\n  request: %s\n", name, fmt.Sprintf(format, args...), body)
}

// post sends body to path and decodes a 200 answer into out.
func (c *checker) post(path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, c.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %d: %s", path, resp.StatusCode, bytes.TrimSpace(got))
	}
	return json.Unmarshal(got, out)
}

func (c *checker) evaluation(name string, tc testCase) {
	var want bool
	if err := json.Unmarshal(tc.Expected, &want); err != nil {
		c.fail(name, tc.Request, "expected is not a decision: %s", tc.Expected)
		return
	}
	var got struct {
		Decision *bool `json:"decision"`
	}
	if err := c.post("/access/v1/evaluation", tc.Request, &got); err != nil {
		c.fail(name, tc.Request, "%v", err)
		return
	}
	if got.Decision == nil || *got.Decision != want {
		c.fail(name, tc.Request, "decision %v, want %v", deref(got.Decision), want)
	}
}

func (c *checker) evaluations(name string, tc testCase) {
	var want []struct {
		Decision bool `json:"decision"`
	}
	if err := json.Unmarshal(tc.Expected, &want); err != nil {
		c.fail(name, tc.Request, "expected is not a list of decisions: %s", tc.Expected)
		return
	}
	var got struct {
		Evaluations []struct {
			Decision bool `json:"decision"`
		} `json:"evaluations"`
	}
	if err := c.post("/access/v1/evaluations", tc.Request, &got); err != nil {
		c.fail(name, tc.Request, "%v", err)
		return
	}
	if !reflect.DeepEqual(got.Evaluations, want) {
		c.fail(name, tc.Request, "decisions %v, want %v", got.Evaluations, want)
	}
}

// search sends a search request and every following page, and compares
// the results with the expected ones as sets.
func (c *checker) search(name, kind string, tc testCase) {
	var want struct {
		Results []map[string]string `json:"results"`
	}
	if err := json.Unmarshal(tc.Expected, &want); err != nil {
		c.fail(name, tc.Request, "expected is not {results}: %s", tc.Expected)
		return
	}
	var results []map[string]string
	req := map[string]any{}
	for k, v := range tc.Request {
		req[k] = v
	}
	for pages := 0; ; pages++ {
		var got struct {
			Page struct {
				NextToken *string `json:"next_token"`
			} `json:"page"`
			Results []map[string]string `json:"results"`
		}
		if err := c.post("/access/v1/search/"+kind, req, &got); err != nil {
			c.fail(name, tc.Request, "%v", err)
			return
		}
		results = append(results, got.Results...)
		if got.Page.NextToken == nil || *got.Page.NextToken == "" {
			break
		}
		if pages > 1000 {
			c.fail(name, tc.Request, "more than 1000 pages")
			return
		}
		page := map[string]any{}
		if p, ok := tc.Request["page"].(map[string]any); ok {
			for k, v := range p {
				page[k] = v
			}
		}
		page["token"] = *got.Page.NextToken
		req["page"] = page
	}
	if g, w := keys(results), keys(want.Results); !reflect.DeepEqual(g, w) {
		c.fail(name, tc.Request, "results %v, want %v", g, w)
	}
}

// keys renders results as sorted "type:id" (or action names).
func keys(rs []map[string]string) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		if n, ok := r["name"]; ok {
			out = append(out, n)
		} else {
			out = append(out, r["type"]+":"+r["id"])
		}
	}
	sort.Strings(out)
	return out
}

func deref(b *bool) any {
	if b == nil {
		return "none"
	}
	return *b
}
