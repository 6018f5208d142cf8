package castellan_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	castellan "github.com/castellan-authz/castellan/clients/go"
)

// factLine is one NDJSON line of the wire format.
func factLine(pred string, args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"predicate":%q,"args":[`, pred)
	for i := 0; i < len(args); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"type":%q,"id":%q}`, args[i], args[i+1])
	}
	b.WriteString("]}\n")
	return b.String()
}

func TestImportExportAgainstServer(t *testing.T) {
	ctx := t.Context()
	c := newServer(t)
	if _, err := c.UploadPolicy(ctx, mustPolicy(t)); err != nil {
		t.Fatal(err)
	}
	var in strings.Builder
	for i := range 25 {
		in.WriteString(factLine("has_role", "User", fmt.Sprint("u", i), "String", "reader", "Repository", "anvil"))
	}
	in.WriteString("\n")                                                       // line 26: blank, skipped
	in.WriteString(`{"predicate":"has_role","args":[{"type":"User"}]}` + "\n") // 27: no id
	in.WriteString(`{"predicate":"has_role","args":[{"type":"User","id":"x","id":"y"},{"type":"String","id":"reader"},{"type":"Repository","id":"anvil"}]}` + "\n")
	in.WriteString(factLine("no_such_predicate", "User", "bob") + "not json\n")

	var acks []castellan.BatchAck
	var bad []int
	res, err := c.Import(ctx, strings.NewReader(in.String()), castellan.ImportOptions{
		BatchSize: 10, MaxErrors: 10,
		OnBatch: func(a castellan.BatchAck) { acks = append(acks, a) },
		OnError: func(e castellan.LineError) { bad = append(bad, e.Line) },
	})
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if res.Facts != 25 || res.Errors != 4 || res.Lines != 30 || !res.Done {
		t.Errorf("result: %+v", res)
	}
	slices.Sort(bad) // a line the policy refuses is reported when its batch commits
	if diff := cmp.Diff([]int{27, 28, 29, 30}, bad); diff != "" {
		t.Errorf("bad lines (-want +got):\n%s", diff)
	}
	if len(acks) != 3 || acks[0].Lines != [2]int{1, 10} || acks[2].Lines[1] != 30 {
		t.Errorf("acks: %+v", acks)
	}

	// Re-running inserts nothing twice.
	if _, err := c.Import(ctx, strings.NewReader(in.String()), castellan.ImportOptions{MaxErrors: 10}); err != nil {
		t.Fatal(err)
	}
	st, err := c.Stats(ctx)
	if err != nil || st.NumFacts != 25 {
		t.Errorf("stats after the second import: %+v, %v", st, err)
	}

	// Past max errors the server stops, applying nothing of the batch.
	res, err = c.Import(ctx, strings.NewReader(factLine("has_role", "User", "late", "String", "reader", "Repository", "anvil")+"oops\n"), castellan.ImportOptions{})
	if !errors.Is(err, castellan.ErrStopped) || res.Resume != 1 || res.Facts != 0 {
		t.Errorf("stopped import: %+v, %v", res, err)
	}

	var got []castellan.Fact
	rev, err := c.Export(ctx, castellan.Fact{Predicate: "has_role"}, func(f castellan.Fact) error { got = append(got, f); return nil })
	if err != nil || len(got) != 25 || rev == 0 {
		t.Errorf("Export: %d facts at %d, %v", len(got), rev, err)
	}
}

func TestBackupRestoreAgainstServer(t *testing.T) {
	ctx := t.Context()
	src := newServer(t)
	if _, err := src.UploadPolicy(ctx, mustPolicy(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := src.CreateCallerKey(ctx, "ci", "read", "Service:billing"); err != nil {
		t.Fatal(err)
	}
	var in strings.Builder
	for i := range 100 {
		in.WriteString(factLine("has_role", "User", fmt.Sprint("u", i), "String", "reader", "Repository", "anvil"))
	}
	if _, err := src.Import(ctx, strings.NewReader(in.String()), castellan.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	var backup bytes.Buffer
	if _, err := src.Backup(ctx, &backup); err != nil {
		t.Fatal(err)
	}

	dst := newServer(t)
	var sum castellan.RestoreSummary
	res, err := dst.Restore(ctx, bytes.NewReader(backup.Bytes()), castellan.RestoreOptions{OnSummary: func(s castellan.RestoreSummary) { sum = s }})
	if err != nil || res.Facts != 100 || sum.Policies != 1 || sum.Keys != 1 || sum.LiveVersion != 1 {
		t.Fatalf("Restore: %+v %+v, %v", res, sum, err)
	}
	// A key keeps the identity it is bound to.
	if keys, err := dst.ListKeys(ctx); err != nil || len(keys) != 1 || keys[0].Caller != "Service:billing" {
		t.Errorf("restored keys %+v, %v; want one bound to Service:billing", keys, err)
	}
	// Not into a store that is no longer empty, unless forced.
	_, err = dst.Restore(ctx, bytes.NewReader(backup.Bytes()), castellan.RestoreOptions{})
	if ce, ok := errors.AsType[*castellan.Error](err); !ok || ce.StatusCode != 409 {
		t.Errorf("second restore: %v, want a 409", err)
	}
	if _, err := dst.Restore(ctx, bytes.NewReader(backup.Bytes()), castellan.RestoreOptions{Force: true}); err != nil {
		t.Errorf("forced restore: %v", err)
	}
	var again bytes.Buffer
	if _, err := dst.Backup(ctx, &again); err != nil {
		t.Fatal(err)
	}
	if a, b := factLines(t, backup.Bytes()), factLines(t, again.Bytes()); !cmp.Equal(a, b) {
		t.Errorf("facts differ after the round trip:\n%s", cmp.Diff(a, b))
	}
}

// factLines returns the fact lines of a backup.
func factLines(tb testing.TB, b []byte) []string {
	tb.Helper()
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, `{"predicate"`) {
			out = append(out, l)
		}
	}
	return out
}
