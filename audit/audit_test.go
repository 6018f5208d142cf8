package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeLog writes n decision records to a new log in dir through a real
// Recorder and file sink, and returns its path.
func writeLog(t testing.TB, n int, opts Options, fopts FileOptions) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "decisions.log")
	appendLog(t, path, 0, n, opts, fopts)
	return path
}

// appendLog opens the log at path (continuing its chain), writes records
// from..from+n-1 and closes it.
func appendLog(t testing.TB, path string, from, n int, opts Options, fopts FileOptions) {
	t.Helper()
	sink, err := OpenFile(path, fopts)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRecorder(sink, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := from; i < from+n; i++ {
		r.Record(&Record{
			RequestID: fmt.Sprint("req-", i), Endpoint: "authorize", Caller: "key1",
			Actor: Value{"User", "alice"}, Action: "read", Resource: Value{"Repo", fmt.Sprint(i)},
			Allowed: Allowed(i%2 == 0), PolicyVersion: 3, Revision: 7, Latency: time.Microsecond,
		})
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}

func readLines(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ls := strings.SplitAfter(string(b), "\n")
	return ls[:len(ls)-1]
}

func writeLines(t testing.TB, path string, lines []string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
}

func testKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
}

func TestChainVerifies(t *testing.T) {
	path := writeLog(t, 50, Options{}, FileOptions{})
	sum, err := Verify([]string{path}, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Records != 50 || sum.Decisions != 50 || sum.FirstSeq != 1 || sum.LastSeq != 50 {
		t.Errorf("summary = %+v, want 50 records 1..50", sum)
	}
	if l := readLines(t, path)[0]; !strings.Contains(l, `"prev":"`+Genesis+`"`) {
		t.Errorf("first record %s does not start from the genesis value", l)
	}
}

// TestTamperingIsCaught edits, deletes, reorders and truncates a log of 10
// decisions (11 lines with a signing key: 10 decisions and the final
// checkpoint) and checks that Verify names the right line.
func TestTamperingIsCaught(t *testing.T) {
	key := testKey(t)
	pub := key.Public().(ed25519.PublicKey)
	tests := []struct {
		name     string
		signed   bool
		tamper   func([]string) []string
		wantLine int
		wantErr  string
	}{
		{name: "edit", tamper: func(ls []string) []string {
			ls[3] = strings.Replace(ls[3], `"id":"alice"`, `"id":"mallory"`, 1)
			return ls
		}, wantLine: 4, wantErr: "edited"},
		{name: "edit result", tamper: func(ls []string) []string {
			ls[4] = strings.Replace(ls[4], `"allowed":true`, `"allowed":false`, 1)
			return ls
		}, wantLine: 5, wantErr: "edited"},
		{name: "edit first prev", tamper: func(ls []string) []string {
			ls[0] = strings.Replace(ls[0], Genesis, strings.Repeat("1", 64), 1)
			return ls
		}, wantLine: 1, wantErr: "genesis"},
		{name: "delete", tamper: func(ls []string) []string {
			return append(ls[:2:2], ls[3:]...)
		}, wantLine: 3, wantErr: "deleted: record 3 is missing"},
		{name: "delete two", tamper: func(ls []string) []string {
			return append(ls[:5:5], ls[7:]...)
		}, wantLine: 6, wantErr: "deleted: records 6 to 7"},
		{name: "delete first", tamper: func(ls []string) []string { return ls[1:] },
			wantLine: 1, wantErr: "starts at record 2"},
		{name: "reorder", tamper: func(ls []string) []string {
			ls[4], ls[5] = ls[5], ls[4]
			return ls
		}, wantLine: 5, wantErr: "reordered: record 6 is here, record 5 comes later"},
		{name: "move back", tamper: func(ls []string) []string {
			moved := ls[1]
			ls = append(ls[:1:1], ls[2:]...)
			return append(ls[:6:6], append([]string{moved}, ls[6:]...)...)
		}, wantLine: 2, wantErr: "reordered"},
		{name: "duplicate", tamper: func(ls []string) []string {
			return append(ls[:4:4], append([]string{ls[3]}, ls[4:]...)...)
		}, wantLine: 5, wantErr: "reordered: record 4 comes after record 4"},
		{name: "bad JSON", tamper: func(ls []string) []string {
			ls[6] = "{not json\n"
			return ls
		}, wantLine: 7, wantErr: "bad JSON"},
		{name: "truncated line", tamper: func(ls []string) []string {
			ls[9] = ls[9][:40]
			return ls
		}, wantLine: 10, wantErr: "truncated: the last line is incomplete"},
		{name: "signed: edit the last decision", signed: true, tamper: func(ls []string) []string {
			ls[9] = strings.Replace(ls[9], `"action":"read"`, `"action":"write"`, 1)
			return ls
		}, wantLine: 10, wantErr: "edited"},
		{name: "signed: truncate the tail", signed: true, tamper: func(ls []string) []string {
			return ls[:8]
		}, wantLine: 9, wantErr: "truncated: the log ends without a final checkpoint; 8 records after no checkpoint are unverified"},
		{name: "signed: edit the checkpoint", signed: true, tamper: func(ls []string) []string {
			ls[10] = strings.Replace(ls[10], `"final":true`, `"final":false`, 1)
			return ls
		}, wantLine: 11, wantErr: "bad signature"},
		{name: "signed: forged checkpoint", signed: true, tamper: func(ls []string) []string {
			other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
			line, _ := Encode(checkpoint(other, 8, Hash([]byte(strings.TrimSuffix(ls[7], "\n"))), true, time.Now()))
			return append(ls[:8:8], string(line)+"\n")
		}, wantLine: 9, wantErr: "checkpoint signed with key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts Options
			var vopts VerifyOptions
			if tc.signed {
				opts.SigningKey, vopts.PublicKey = key, pub
			}
			path := writeLog(t, 10, opts, FileOptions{})
			if _, err := Verify([]string{path}, vopts); err != nil {
				t.Fatalf("before tampering: %v", err)
			}
			writeLines(t, path, tc.tamper(readLines(t, path)))
			_, err := Verify([]string{path}, vopts)
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("Verify = %v, want a *LineError", err)
			}
			if le.Line != tc.wantLine || !strings.Contains(le.Reason, tc.wantErr) {
				t.Errorf("Verify = %v, want line %d: %q", err, tc.wantLine, tc.wantErr)
			}
		})
	}
}

func TestCheckpoints(t *testing.T) {
	key := testKey(t)
	pub := key.Public().(ed25519.PublicKey)
	path := writeLog(t, 25, Options{SigningKey: key, CheckpointEvery: 10}, FileOptions{})
	sum, err := Verify([]string{path}, VerifyOptions{PublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	// 25 decisions, checkpoints after 10 and 20 and the final one.
	if sum.Decisions != 25 || sum.Checkpoints != 3 || !sum.Closed || sum.Unverified != 0 {
		t.Errorf("summary = %+v, want 25 decisions, 3 checkpoints, closed", sum)
	}
	// Cut after the second checkpoint and 3 more decisions: an open log
	// reports the 3 as unverified; a closed one is truncated.
	lines := readLines(t, path)
	writeLines(t, path, lines[:25])
	sum, err = Verify([]string{path}, VerifyOptions{PublicKey: pub, Open: true})
	if err != nil || sum.Unverified != 3 || sum.Closed {
		t.Errorf("open log: %+v, %v; want 3 unverified", sum, err)
	}
	if _, err := Verify([]string{path}, VerifyOptions{PublicKey: pub}); err == nil || !strings.Contains(err.Error(), ":26: truncated") {
		t.Errorf("closed log: %v, want truncated at line 26", err)
	}
	// Without the key, checkpoints still require a final one.
	if _, err := Verify([]string{path}, VerifyOptions{}); err == nil {
		t.Error("log with checkpoints and no final one verified without a key")
	}
}

func TestCheckpointInterval(t *testing.T) {
	key := testKey(t)
	sink, err := OpenFile(filepath.Join(t.TempDir(), "log"), FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRecorder(sink, Options{SigningKey: key, CheckpointInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Record(&Record{Endpoint: "authorize"})
	for deadline := time.Now().Add(5 * time.Second); r.Written() < 2; {
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint after the interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRotation writes through a small size limit: no record is lost, the
// chain continues across the files, and a restart continues it too.
func TestRotation(t *testing.T) {
	key := testKey(t)
	pub := key.Public().(ed25519.PublicKey)
	opts := Options{SigningKey: key, CheckpointEvery: 7}
	path := writeLog(t, 100, opts, FileOptions{MaxSize: 2000})
	appendLog(t, path, 100, 50, opts, FileOptions{MaxSize: 2000}) // a graceful restart
	rotated, err := RotatedFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rotated) < 5 {
		t.Fatalf("%d rotated files, want several", len(rotated))
	}
	files := append([]string{path}, rotated...) // any order
	sum, err := Verify(files, VerifyOptions{PublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Decisions != 150 {
		t.Errorf("%d decisions, want 150", sum.Decisions)
	}
	seen := map[string]bool{}
	for _, f := range files {
		for _, l := range readLines(t, f) {
			if i := strings.Index(l, `"request_id":"`); i >= 0 {
				seen[strings.SplitN(l[i+14:], `"`, 2)[0]] = true
			}
		}
	}
	for i := range 150 {
		if !seen[fmt.Sprint("req-", i)] {
			t.Errorf("record req-%d lost", i)
		}
	}

	// Keep: only the newest files stay; they verify as a partial log.
	path = writeLog(t, 100, opts, FileOptions{MaxSize: 2000, Keep: 2})
	rotated, _ = RotatedFiles(path)
	if len(rotated) != 2 {
		t.Fatalf("%d rotated files, want 2", len(rotated))
	}
	if _, err := Verify(append(rotated, path), VerifyOptions{PublicKey: pub}); err == nil {
		t.Error("a log missing its first files verified without Partial")
	}
	if _, err := Verify(append(rotated, path), VerifyOptions{PublicKey: pub, Partial: true}); err != nil {
		t.Error(err)
	}
}

func TestRecorderRefusesIncompleteLog(t *testing.T) {
	path := writeLog(t, 3, Options{}, FileOptions{})
	lines := readLines(t, path)
	writeLines(t, path, append(lines[:2], lines[2][:30]))
	sink, err := OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	if _, err := NewRecorder(sink, Options{}); err == nil {
		t.Error("NewRecorder continued a log whose last line is incomplete")
	}
}

// TestDropWhenFull fills the buffer of a recorder whose sink blocks (a
// pipe nobody reads): with Drop, Record never waits and counts the drops.
func TestDropWhenFull(t *testing.T) {
	pr, pw := io.Pipe()
	dropped := make(chan uint64, 100)
	r, err := NewRecorder(NewWriter(pw), Options{Buffer: 2, WhenFull: Drop, OnDrop: func(n uint64) { dropped <- n }})
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 70<<10) // more than the writer buffers: the write blocks
	for range 10 {
		r.Record(&Record{Query: big})
	}
	if r.Dropped() < 7 {
		t.Errorf("dropped %d, want at least 7", r.Dropped())
	}
	go io.Copy(io.Discard, pr)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	var n uint64
	for len(dropped) > 0 {
		n += <-dropped
	}
	if n != r.Dropped() || r.Written()+r.Dropped() != 10 {
		t.Errorf("OnDrop reported %d, written %d, dropped %d; want all 10 accounted for", n, r.Written(), r.Dropped())
	}
}

func TestNilRecorder(t *testing.T) {
	var r *Recorder
	r.Record(&Record{}) // no panic, nothing recorded
}

func TestParseKeys(t *testing.T) {
	key := testKey(t)
	pub := key.Public().(ed25519.PublicKey)
	for _, in := range []string{
		"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n", // base64 seed
		"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH\n-----END PRIVATE KEY-----\n",
	} {
		k, err := ParsePrivateKey([]byte(in))
		if err != nil || !k.Equal(key) {
			t.Errorf("ParsePrivateKey(%q) = %v", in, err)
		}
	}
	for _, in := range []string{
		base64.StdEncoding.EncodeToString(pub),
		"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH\n-----END PRIVATE KEY-----\n",
	} {
		p, err := ParsePublicKey([]byte(in))
		if err != nil || !p.Equal(pub) {
			t.Errorf("ParsePublicKey(%q) = %v", in, err)
		}
	}
}

// gatedSink is a Sink whose Flush waits until the test opens the gate.
type gatedSink struct {
	wrote chan struct{}
	gate  chan struct{}
}

func (s *gatedSink) Write([]byte) error {
	s.wrote <- struct{}{}
	return nil
}
func (s *gatedSink) Flush() error          { <-s.gate; return nil }
func (s *gatedSink) Close() error          { return nil }
func (s *gatedSink) Last() ([]byte, error) { return nil, nil }

// TestWrittenCountsFlushed: a record counts as written once the sink has
// flushed it, not when it was handed over.
func TestWrittenCountsFlushed(t *testing.T) {
	sink := &gatedSink{wrote: make(chan struct{}, 1), gate: make(chan struct{})}
	r, err := NewRecorder(sink, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r.Record(&Record{Endpoint: "authorize"})
	<-sink.wrote // handed to the sink; its Flush now waits
	if n := r.Written(); n != 0 {
		t.Errorf("written = %d before the sink flushed, want 0", n)
	}
	close(sink.gate)
	for deadline := time.Now().Add(5 * time.Second); r.Written() != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("written = %d after the flush, want 1", r.Written())
		}
	}
	r.Close()
}
