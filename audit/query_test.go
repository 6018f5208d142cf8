package audit

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
)

// TestSearchFile pages through a rotated log, newest first, with filters.
func TestSearchFile(t *testing.T) {
	opts := Options{SigningKey: testKey(t), CheckpointEvery: 7}
	path := writeLog(t, 150, opts, FileOptions{MaxSize: 2000})
	if rotated, _ := RotatedFiles(path); len(rotated) < 5 {
		t.Fatalf("%d rotated files, want several", len(rotated))
	}
	// Every record, in pages of 40: 149, 148, ... 0.
	var got []string
	q := Query{Limit: 40}
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("too many pages")
		}
		page, err := SearchFile(path, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Decisions {
			var r Record
			if err := json.Unmarshal(e.Line, &r); err != nil {
				t.Fatal(err)
			}
			got = append(got, r.RequestID)
		}
		if page.NextPageToken == "" {
			break
		}
		q.PageToken = page.NextPageToken
	}
	if len(got) != 150 {
		t.Fatalf("%d records, want 150", len(got))
	}
	for i, id := range got {
		if want := fmt.Sprint("req-", 149-i); id != want {
			t.Fatalf("record %d is %s, want %s", i, id, want)
		}
	}

	// Filters: denied (odd i) on Repo:7 or any Repo.
	for _, tc := range []struct {
		q    Query
		want int
	}{
		{Query{Result: OutcomeDenied, Limit: MaxLimit}, 75},
		{Query{Resource: "Repo:7"}, 1},
		{Query{Resource: "Repo:8", Result: OutcomeDenied}, 0},
		{Query{Actor: "User", Action: "read", Caller: "key1", PolicyVersion: 3, Limit: MaxLimit}, 150},
		{Query{Actor: "User:bob"}, 0},
		{Query{PolicyVersion: 4}, 0},
	} {
		page, err := SearchFile(path, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Decisions) != tc.want || page.NextPageToken != "" {
			t.Errorf("%+v: %d records (next %q), want %d", tc.q, len(page.Decisions), page.NextPageToken, tc.want)
		}
	}
	if _, err := SearchFile(path, Query{Result: "maybe"}); err == nil {
		t.Error("a bad result was accepted")
	}
	if _, err := SearchFile(path, Query{PageToken: "x"}); err == nil {
		t.Error("a bad page token was accepted")
	}
}

// TestSearchFileBatchResources: a resource filter finds a batch
// (authorize_resources) that asked about the resource.
func TestSearchFileBatchResources(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.log")
	sink, err := OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRecorder(sink, Options{})
	if err != nil {
		t.Fatal(err)
	}
	two := 2
	r.Record(&Record{RequestID: "batch", Endpoint: "authorize_resources", Actor: Value{"User", "alice"}, Action: "read",
		Resources: []Value{{"Repo", "a"}, {"Repo", "b"}, {"Issue", "c"}}, Count: &two})
	r.Record(&Record{RequestID: "one", Endpoint: "authorize", Actor: Value{"User", "alice"}, Action: "read",
		Resource: Value{"Repo", "b"}, Allowed: Allowed(true)})
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		resource string
		want     []string
	}{
		{"Repo:b", []string{"one", "batch"}},
		{"Repo:a", []string{"batch"}},
		{"Issue", []string{"batch"}},
		{"Repo:z", nil},
		{"Org", nil},
	} {
		page, err := SearchFile(path, Query{Resource: tc.resource})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range page.Decisions {
			var rec Record
			if err := json.Unmarshal(e.Line, &rec); err != nil {
				t.Fatal(err)
			}
			got = append(got, rec.RequestID)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("resource %s: %v, want %v", tc.resource, got, tc.want)
		}
	}
}
