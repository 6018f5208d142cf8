package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/castellan-authz/castellan/audit"
	"github.com/castellan-authz/castellan/store/memory"
)

// The console in a real browser: headless Chromium (Debian's chromium;
// scripts/with-chromium installs it as root and names it in
// CASTELLAN_CHROMIUM), driven with chromedp against the real handler in
// httptest. Without a browser the test skips, and fails under CI=true.
// CASTELLAN_SCREENSHOTS names a directory for the screenshots of each page
// (make screenshots: docs/img); by default they go to the test's temp dir.

// chromiumPath returns the browser to drive, or skips (fails under CI).
// Under CI=true as root, a missing browser is installed first, as
// scripts/with-chromium does, so that go test alone also runs it in CI.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CASTELLAN_CHROMIUM"); p != "" {
		return p
	}
	if p := findChromium(); p != "" {
		return p
	}
	if os.Getenv("CI") == "true" {
		if err := installChromium(); err != nil {
			t.Fatalf("no Chromium for the browser tests, and installing it failed: %v (run them under scripts/with-chromium, as make test does, or set CASTELLAN_CHROMIUM)", err)
		}
		if p := findChromium(); p != "" {
			return p
		}
		t.Fatal("no Chromium for the browser tests: run them under scripts/with-chromium (as make test does), which installs Debian's chromium as root, or set CASTELLAN_CHROMIUM")
	}
	t.Skip("no Chromium (chromium, chromium-browser, google-chrome; or CASTELLAN_CHROMIUM): skipping the browser test; scripts/with-chromium installs it as root")
	return ""
}

func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// installChromium installs Debian's chromium with apt-get, once per test
// binary; only root can.
var installChromium = sync.OnceValue(func() error {
	if os.Geteuid() != 0 {
		return errors.New("not root: cannot apt-get install chromium")
	}
	for _, args := range [][]string{{"update", "-qq"}, {"install", "-y", "-qq", "--no-install-recommends", "chromium"}} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	return nil
})

// browser is one headless Chromium tab for a test.
type browser struct {
	t      *testing.T
	ctx    context.Context
	shots  string
	mu     sync.Mutex
	alerts []string // messages of the JavaScript dialogs that opened
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.DisableGPU,
		chromedp.WindowSize(1400, 900),
		chromedp.UserDataDir(t.TempDir()), // a profile of its own
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root in its sandbox
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(cancelTab)
	b := &browser{t: t, ctx: bctx, shots: os.Getenv("CASTELLAN_SCREENSHOTS")}
	if b.shots == "" {
		b.shots = t.TempDir()
	} else if err := os.MkdirAll(b.shots, 0o755); err != nil {
		t.Fatal(err)
	}
	// Any dialog (an alert from injected markup) is recorded and dismissed.
	dialogs := chromedp.Events(bctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.alerts = append(b.alerts, ev.Message)
			b.mu.Unlock()
			_, _ = chromedp.Call(bctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	return b
}

// do runs actions; step names them in a failure.
func (b *browser) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", step, err)
	}
}

// eval evaluates a JavaScript expression and decodes its value.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitFor waits until the JavaScript expression is truthy; on a timeout
// the failure shows what the page's status lines said.
func (b *browser) waitFor(what, expr string) {
	b.t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		statuses, _ := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(".status")].map(s => s.id + ": " + s.textContent).filter(s => !s.endsWith(": "))`))
		b.shot("failed")
		b.t.Fatalf("waiting for %s (%s): %v; status lines: %q", what, expr, err, statuses)
	}
}

// shot saves a screenshot of the viewport as NAME.png.
func (b *browser) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(b.shots, "console-"+name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}

// setEditor replaces the policy editor's text as typing would (an input event).
func (b *browser) setEditor(src string) {
	b.t.Helper()
	js, _ := json.Marshal(src)
	eval[bool](b, `(() => { const t = document.getElementById("policy-src"); t.value = `+string(js)+`; t.dispatchEvent(new Event("input")); return true })()`)
}

// fill sets form fields by selector, as typed.
func (b *browser) fill(fields ...string) {
	b.t.Helper()
	for i := 0; i < len(fields); i += 2 {
		eval[bool](b, `(() => { document.querySelector(`+jsString(fields[i])+`).value = ""; return true })()`)
		b.do("fill "+fields[i], chromedp.SendKeys(chromedp.CSS(fields[i]), fields[i+1]))
	}
}

func jsString(s string) string {
	js, _ := json.Marshal(s)
	return string(js)
}

// TestConsoleBrowser walks the console as an admin would: a policy with a
// typo shows its error at its line, the fix passes its tests and is
// uploaded; a fact is told (one whose id is markup, shown as text, no
// dialog); a question is answered allowed with its tree; decisions are
// listed; a second version is diffed and rolled back.
func TestConsoleBrowser(t *testing.T) {
	b := newBrowser(t)

	rec, logPath := newFileRecorder(t)
	t.Cleanup(func() { rec.Close() })
	cfg := DefaultConfig()
	cfg.AdminKey = testAdminKey
	srv, err := New(t.Context(), cfg, memory.New(), WithDecisionLog(rec, DecisionLog{Search: audit.FileLog(logPath)}))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(validateResponses(t, srv))
	t.Cleanup(ts.Close)

	// A browser at / lands on the console, which asks for a key.
	b.do("open /", chromedp.Navigate(ts.URL+"/"))
	b.waitFor("the console's key form", `location.pathname === "/ui/" && !document.getElementById("login").hidden`)
	b.fill("#login-key", "not-a-key")
	b.do("submit a wrong key", chromedp.Click(chromedp.CSS(`#login-form button`)))
	b.waitFor("the wrong key refused", `document.getElementById("login-status").textContent.includes("refused")`)
	b.shot("login")
	b.fill("#login-key", testAdminKey)
	b.do("submit the key", chromedp.Click(chromedp.CSS(`#login-form button`)))
	b.waitFor("the policy page", `!document.getElementById("page-policy").hidden`)
	if where := eval[string](b, `sessionStorage.getItem("castellan.key") + " " + (localStorage.length)`); where != testAdminKey+" 0" {
		t.Errorf("the key is kept as %q (sessionStorage key, localStorage length), want it in sessionStorage only", where)
	}

	// A typo: the error is marked at its line, with the hint, next to it.
	typo := strings.Replace(testPolicy, `"read" if "reader";`, `"read" if "reeder";`, 1)
	b.waitFor("the editor ready", `document.querySelectorAll("#policy-editor .gutter div").length > 0`)
	b.setEditor(typo)
	b.waitFor("the error at line 15", `document.querySelector('#policy-editor .marks .line.bad[data-line="15"]') !== null`)
	note := eval[string](b, `document.querySelector('#policy-editor .marks .line.bad[data-line="15"] .note').textContent`)
	if !strings.Contains(note, "15:13") || !strings.Contains(note, `"reeder" is not a role`) || !strings.Contains(note, "did you mean `reader`?") {
		t.Errorf("the note at line 15 = %q, want the error at 15:13 with its hint", note)
	}
	if bad := eval[[]string](b, `[...document.querySelectorAll("#policy-editor .gutter .bad")].map(d => d.textContent)`); strings.Join(bad, ",") != "15" {
		t.Errorf("gutter marks lines %v, want only 15", bad)
	}
	if p := eval[string](b, `document.getElementById("policy-problems").textContent`); !strings.Contains(p, "policy.polar:15:13") {
		t.Errorf("problems list = %q, want policy.polar:15:13", p)
	}
	b.shot("policy-error")

	// The fix: valid, and the test block passes.
	b.setEditor(testPolicy)
	b.waitFor("the policy valid", `document.getElementById("policy-status").textContent.startsWith("Valid")`)
	b.do("run tests", chromedp.Click(chromedp.ID("policy-test")))
	b.waitFor("the test passing", `document.querySelector("#policy-tests li.pass") !== null`)
	if tests := eval[string](b, `document.getElementById("policy-tests").textContent`); !strings.Contains(tests, "owners read their organization") || !strings.Contains(tests, "2/2") {
		t.Errorf("tests = %q, want the test with 2/2 assertions", tests)
	}
	if n := eval[int](b, `document.querySelectorAll("#policy-editor .marks .line.bad").length`); n != 0 {
		t.Errorf("%d lines still marked after the fix", n)
	}

	// Upload: version 1, live.
	b.do("upload", chromedp.Click(chromedp.ID("policy-upload")))
	b.waitFor("version 1 loaded", `document.getElementById("policy-status").textContent.includes("Policy loaded (version 1)")`)
	b.waitFor("version 1 live in the history", `document.querySelector('#policy-history tr.live[data-version="1"]') !== null`)
	if v := srv.Policies().Live().Version(); v != 1 {
		t.Fatalf("live version %d after the upload, want 1", v)
	}
	b.shot("policy")

	// Facts: tell one, and one whose id is markup.
	b.do("facts page", chromedp.Click(chromedp.CSS(`#nav a[data-page="facts"]`)))
	b.waitFor("the facts page", `!document.getElementById("page-facts").hidden && document.querySelectorAll("#tell-args .arg").length === 3`)
	tell := func(user string) {
		b.t.Helper()
		b.fill("#tell-predicate", "has_role",
			"#tell-args .arg:nth-child(1) .arg-type", "User", "#tell-args .arg:nth-child(1) .arg-id", user,
			"#tell-args .arg:nth-child(2) .arg-type", "String", "#tell-args .arg:nth-child(2) .arg-id", "owner",
			"#tell-args .arg:nth-child(3) .arg-type", "Organization", "#tell-args .arg:nth-child(3) .arg-id", "acme")
		b.do("tell", chromedp.Click(chromedp.CSS(`#facts-tell button[type=submit]`)))
		b.waitFor("the fact told", `document.getElementById("tell-status").textContent.startsWith("Told") && document.getElementById("tell-status").textContent.includes(`+jsString(user)+`)`)
	}
	tell("alice")
	const hostile = `<img src=x onerror=alert(1)>`
	tell(hostile)
	b.fill("#facts-predicate", "has_role")
	b.do("search", chromedp.Click(chromedp.CSS(`#facts-search button[type=submit]`)))
	b.waitFor("both facts listed", `document.querySelectorAll("#facts-table tbody code.fact").length === 2`)
	facts := eval[[]string](b, `[...document.querySelectorAll("#facts-table tbody code.fact")].map(c => c.textContent)`)
	want := `has_role(User{"<img src=x onerror=alert(1)>"}, "owner", Organization{"acme"})`
	if len(facts) != 2 || facts[0] != want && facts[1] != want {
		t.Errorf("facts shown %q, want %q among them, as text", facts, want)
	}
	if n := eval[int](b, `document.querySelectorAll("img").length`); n != 0 {
		t.Errorf("the page has %d img elements: the fact id was rendered as markup", n)
	}
	// Paging: one fact a page, Next and Previous.
	b.fill("#facts-page-size", "1")
	b.do("search by one", chromedp.Click(chromedp.CSS(`#facts-search button[type=submit]`)))
	b.waitFor("page 1 of one fact", `document.querySelectorAll("#facts-table tbody code.fact").length === 1 && !document.getElementById("facts-next").disabled`)
	first := eval[string](b, `document.querySelector("#facts-table tbody code.fact").textContent`)
	b.do("next page", chromedp.Click(chromedp.ID("facts-next")))
	b.waitFor("page 2", `document.getElementById("facts-page").textContent === "page 2" && document.getElementById("facts-next").disabled`)
	if second := eval[string](b, `document.querySelector("#facts-table tbody code.fact").textContent`); second == first || len(facts) != 2 || (second != facts[0] && second != facts[1]) {
		t.Errorf("page 2 shows %q after %q, want the other of %q", second, first, facts)
	}
	b.do("previous page", chromedp.Click(chromedp.ID("facts-prev")))
	b.waitFor("page 1 again", `document.getElementById("facts-page").textContent === "page 1"`)
	// Delete: a third fact told and deleted from its row.
	b.fill("#facts-page-size", "25")
	tell("carol")
	b.waitFor("carol listed", `[...document.querySelectorAll("#facts-table tbody code.fact")].some(c => c.textContent.includes('"carol"'))`)
	eval[bool](b, `([...document.querySelectorAll("#facts-table tbody tr")].find(r => r.textContent.includes('"carol"')).querySelector("button.delete").click(), true)`)
	b.waitFor("carol deleted", `document.getElementById("facts-status").textContent.startsWith("Deleted") && document.querySelectorAll("#facts-table tbody code.fact").length === 2`)
	if n := len(eval[[]string](b, `[...document.querySelectorAll("#facts-table tbody code.fact")].map(c => c.textContent).filter(t => t.includes('"carol"'))`)); n != 0 {
		t.Errorf("carol's fact still listed after the delete")
	}
	if uses := eval[string](b, `document.getElementById("facts-uses").textContent`); !strings.Contains(uses, "policy.polar:") {
		t.Errorf("rules using has_role = %q, want rules with their positions", uses)
	}
	b.shot("facts")

	// Check: allowed, with the tree of the rule and stored fact used.
	b.do("check page", chromedp.Click(chromedp.CSS(`#nav a[data-page="check"]`)))
	b.waitFor("the check page", `!document.getElementById("page-check").hidden`)
	b.fill("#check-actor-id", "alice", "#check-action", "read", "#check-resource-type", "Repository", "#check-resource-id", "anvil",
		"#check-context", `has_relation(Repository{"anvil"}, "parent", Organization{"acme"})`)
	b.do("ask", chromedp.Click(chromedp.CSS(`#check-form button[type=submit]`)))
	b.waitFor("the answer", `document.getElementById("check-verdict") !== null`)
	if v := eval[string](b, `document.getElementById("check-verdict").className`); !strings.Contains(v, "allowed") {
		t.Fatalf("verdict %q, want allowed", v)
	}
	tree := eval[string](b, `document.querySelector("#check-answer ul.tree").textContent`)
	for _, w := range []string{`"reader" if "member" on "parent";`, "at policy.polar:18:3", "stored fact", "context fact", `has_role(User{"alice"}, "owner", Organization{"acme"})`} {
		if !strings.Contains(tree, w) {
			t.Errorf("the explanation tree lacks %q:\n%s", w, tree)
		}
	}
	b.shot("check")
	// The markup id, asked about, is text in the tree too.
	b.fill("#check-actor-id", hostile)
	b.do("ask again", chromedp.Click(chromedp.CSS(`#check-form button[type=submit]`)))
	b.waitFor("the tree with the markup id", `(document.querySelector("#check-answer ul.tree") || {textContent: ""}).textContent.includes("<img src=x")`)
	if n := eval[int](b, `document.querySelectorAll("img").length`); n != 0 {
		t.Errorf("the check page has %d img elements", n)
	}
	// A denial says where it failed.
	b.fill("#check-actor-id", "bob", "#check-context", " ")
	b.do("ask about bob", chromedp.Click(chromedp.CSS(`#check-form button[type=submit]`)))
	b.waitFor("bob denied", `(document.querySelector("#check-verdict.denied") !== null)`)
	denied := eval[string](b, `document.querySelector("#check-answer ul.tree").textContent`)
	for _, w := range []string{"tried:", `failed: has_role(User{"bob"}, "reader", Repository{"anvil"})`, "no matching fact", "at policy.polar:17:3"} {
		if !strings.Contains(denied, w) {
			t.Errorf("the denial's tree lacks %q:\n%s", w, denied)
		}
	}
	// Each rule tried is shown by its rule alone, not under its parent's
	// goal again.
	if n := eval[int](b, `document.querySelectorAll("#check-answer ul.tried > li > div.step > code:not(.rule)").length`); n != 0 {
		t.Errorf("%d tried entries repeat their parent's goal:\n%s", n, denied)
	}
	if n := eval[int](b, `document.querySelectorAll("#check-answer ul.tried > li > div.step > code.rule").length`); n == 0 {
		t.Errorf("no tried entry names its rule:\n%s", denied)
	}
	b.shot("check-denied")
	// Actions, list and a query, each result opening its derivation.
	b.do("actions", chromedp.SetValue(chromedp.ID("check-kind"), "actions"))
	b.fill("#check-actor-id", "alice", "#check-resource-type", "Organization", "#check-resource-id", "acme")
	b.do("ask actions", chromedp.Click(chromedp.CSS(`#check-form button[type=submit]`)))
	b.waitFor("the actions", `document.querySelectorAll("#check-answer .results li details ul.tree").length === 2`)
	if got := eval[string](b, `[...document.querySelectorAll("#check-answer .results summary")].map(s => s.textContent).join(",")`); got != "admin,read" {
		t.Errorf("actions = %q, want admin,read", got)
	}
	b.do("list", chromedp.SetValue(chromedp.ID("check-kind"), "list"))
	b.do("ask list", chromedp.Click(chromedp.CSS(`#check-form button[type=submit]`)))
	b.waitFor("the list", `(document.querySelector("#check-answer .verdict-count") || {textContent: ""}).textContent.includes("Organization resources")`)
	if got := eval[string](b, `[...document.querySelectorAll("#check-answer .results summary")].map(s => s.textContent).join(",")`); got != "acme" {
		t.Errorf("list = %q, want acme", got)
	}
	b.do("query", chromedp.SetValue(chromedp.ID("check-kind"), "query"))
	b.fill("#check-query", `allow(User{"alice"}, _, Organization{_})`)
	b.do("ask the query", chromedp.Click(chromedp.CSS(`#check-form button[type=submit]`)))
	b.waitFor("the query's rows", `document.querySelectorAll("#check-answer .results li").length === 2`)
	b.do("why", chromedp.Click(chromedp.CSS(`#check-answer .results li button`)))
	b.waitFor("the row's derivation", `document.querySelector("#check-answer .results li ul.tree") !== null`)
	if got := eval[string](b, `document.querySelector("#check-answer .results li").textContent`); !strings.Contains(got, `allow(User{"alice"}, "admin", Organization{"acme"})`) || !strings.Contains(got, "stored fact") {
		t.Errorf("the query's first row and its derivation = %q", got)
	}

	// Decisions: the questions asked, each opening its record and explanation.
	b.do("decisions page", chromedp.Click(chromedp.CSS(`#nav a[data-page="decisions"]`)))
	b.waitFor("decisions listed", `document.querySelectorAll("#dec-table tbody tr[data-seq]").length >= 7 || (document.querySelector("#decisions-form button").click(), false)`)
	b.fill("#dec-actor", "User:alice", "#dec-action", "read")
	b.do("filter", chromedp.SetValue(chromedp.ID("dec-result"), "allowed"), chromedp.Click(chromedp.CSS(`#decisions-form button[type=submit]`)))
	b.waitFor("alice's allowed read only", `document.querySelectorAll("#dec-table tbody tr[data-seq]").length === 1`)
	b.do("open the newest", chromedp.Click(chromedp.CSS(`#dec-table tbody tr[data-seq]`)))
	b.waitFor("its explanation", `document.querySelector("#dec-detail ul.tree") !== null`)
	if d := eval[string](b, `document.getElementById("dec-detail").textContent`); !strings.Contains(d, "Explanation (recorded)") || !strings.Contains(d, `"allowed": true`) {
		t.Errorf("decision detail = %.400q, want the recorded explanation and the record", d)
	}
	eval[bool](b, `(window.scrollTo(0, 0), true)`)
	b.shot("decisions")

	// A second version, the diff, and the rollback to version 1.
	b.do("policy page", chromedp.Click(chromedp.CSS(`#nav a[data-page="policy"]`)))
	b.waitFor("the policy page", `!document.getElementById("page-policy").hidden`)
	b.setEditor(strings.Replace(testPolicy, `"member" if "owner";`, `"member" if "owner";
  "admin" if "member";`, 1))
	b.waitFor("v2 valid", `document.getElementById("policy-status").textContent.startsWith("Valid")`)
	b.do("upload v2", chromedp.Click(chromedp.ID("policy-upload")))
	b.waitFor("version 2 live", `document.querySelector('#policy-history tr.live[data-version="2"]') !== null`)
	b.do("diff v1 v2", chromedp.SetValue(chromedp.ID("diff-a"), "1"), chromedp.SetValue(chromedp.ID("diff-b"), "2"), chromedp.Click(chromedp.ID("diff-show")))
	b.waitFor("the diff", `document.querySelector("#policy-diff .add") !== null`)
	if d := eval[[]string](b, `[...document.querySelectorAll("#policy-diff .add, #policy-diff .del")].map(d => d.textContent)`); strings.Join(d, "|") != `+   "admin" if "member";` {
		t.Errorf("diff v1..v2 = %q, want the one added line", d)
	}
	// A policy the server refuses without force (no allow rule): the
	// console says why and uploads it anyway when asked.
	b.setEditor("actor User {}\n")
	b.waitFor("the empty policy valid", `document.getElementById("policy-status").textContent.startsWith("Valid")`)
	b.do("upload v3", chromedp.Click(chromedp.ID("policy-upload")))
	b.waitFor("the refusal", `document.getElementById("policy-force") !== null`)
	if msg := eval[string](b, `document.getElementById("policy-status").textContent`); !strings.Contains(msg, "no allow rule") {
		t.Errorf("the refusal says %q, want why (no allow rule)", msg)
	}
	b.do("upload anyway", chromedp.Click(chromedp.ID("policy-force")))
	b.waitFor("version 3 live", `document.querySelector('#policy-history tr.live[data-version="3"]') !== null`)
	b.do("roll back", chromedp.Click(chromedp.CSS(`#policy-history tr[data-version="1"] button.activate`)))
	b.waitFor("version 1 live again", `document.querySelector('#policy-history tr.live[data-version="1"]') !== null`)
	if v := srv.Policies().Live().Version(); v != 1 {
		t.Errorf("live version %d after the rollback, want 1", v)
	}
	eval[bool](b, `(document.getElementById("policy-diff").scrollIntoView({block: "end"}), true)`)
	b.shot("policy-history")

	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.alerts) > 0 {
		t.Errorf("dialogs opened: %q (markup from data ran)", b.alerts)
	}
}
