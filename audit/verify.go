package audit

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// VerifyOptions says what Verify may assume of a log.
type VerifyOptions struct {
	// PublicKey checks the checkpoints' signatures. With it, a log must
	// end with a final checkpoint (unless Open).
	PublicKey ed25519.PublicKey
	// Open is for a log still being written: a tail after the last
	// checkpoint is counted in Summary.Unverified instead of being an error.
	Open bool
	// Partial accepts a log whose first record is not the chain's first
	// (its older files were rotated away): the first record's prev is
	// taken on trust.
	Partial bool
}

// Summary describes a log Verify accepted.
type Summary struct {
	// Files are the files read, in chain order.
	Files []string
	// Records counts every record, checkpoints included.
	Records     int
	Decisions   int
	Checkpoints int
	// FirstSeq and LastSeq are the sequence numbers of the first and last
	// records (0 for an empty log).
	FirstSeq, LastSeq uint64
	// Unverified counts the records after the last checkpoint, which no
	// signature covers: a removed tail of them would not be noticed.
	Unverified int
	// Closed reports whether the log ends with a final checkpoint.
	Closed bool
	// Signed reports whether the checkpoints' signatures were checked.
	Signed bool
}

// LineError is why Verify rejected a log: the first bad line and what is
// wrong with it.
type LineError struct {
	File   string
	Line   int
	Reason string
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason) }

// line is one line of a log.
type line struct {
	file string
	n    int
	text []byte
	// partial marks a last line without its newline.
	partial bool
}

// lines reads the lines of files in order.
type lines struct {
	files []string
	i     int
	f     *os.File
	r     *bufio.Reader
	n     int
}

// next returns the next line; io.EOF after the last.
func (ls *lines) next() (line, error) {
	for {
		if ls.r == nil {
			if ls.i == len(ls.files) {
				return line{}, io.EOF
			}
			f, err := os.Open(ls.files[ls.i])
			if err != nil {
				return line{}, err
			}
			ls.f, ls.r, ls.n = f, bufio.NewReaderSize(f, 64<<10), 0
		}
		b, err := ls.r.ReadBytes('\n')
		if len(b) > 0 {
			ls.n++
			l := line{file: ls.files[ls.i], n: ls.n, text: bytes.TrimSuffix(b, []byte("\n"))}
			l.partial = err != nil
			return l, nil
		}
		if err != nil && err != io.EOF {
			return line{}, err
		}
		ls.f.Close()
		ls.f, ls.r = nil, nil
		ls.i++
	}
}

func (ls *lines) close() {
	if ls.f != nil {
		ls.f.Close()
	}
}

// header is what Verify reads of a record.
type header struct {
	Seq        uint64      `json:"seq"`
	Prev       string      `json:"prev"`
	Kind       string      `json:"kind"`
	Time       time.Time   `json:"time"`
	Checkpoint *Checkpoint `json:"checkpoint"`
}

// Verify reads the log in files (a file and its rotated predecessors, in
// any order: they are put in chain order by their first record's sequence
// number) and checks its hash chain and checkpoints. It returns a
// *LineError naming the first bad line: bad JSON, a truncated line, an
// edited record (reported at the edited line: its hash is not the next
// record's prev), deleted records, reordered records, a checkpoint that
// does not match or whose signature is bad, or a truncated tail (reported
// at the line after the last: the log has checkpoints or a public key was
// given, and it does not end with a final checkpoint).
func Verify(files []string, opts VerifyOptions) (Summary, error) {
	ordered, err := chainOrder(files)
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{Files: ordered, Signed: opts.PublicKey != nil}
	ls := &lines{files: ordered}
	defer ls.close()
	var (
		prev     line
		prevHash = Genesis
		want     uint64
		lastCP   line
	)
	for {
		l, err := ls.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return sum, err
		}
		bad := func(format string, args ...any) (Summary, error) {
			return sum, &LineError{File: l.file, Line: l.n, Reason: fmt.Sprintf(format, args...)}
		}
		var h header
		if err := json.Unmarshal(l.text, &h); err != nil {
			if l.partial {
				return bad("truncated: the last line is incomplete")
			}
			return bad("bad JSON: %v", err)
		}
		if l.partial {
			return bad("truncated: the last line has no newline")
		}
		switch {
		case want == 0 && h.Seq != 1 && opts.Partial:
			sum.FirstSeq, prevHash = h.Seq, h.Prev
		case want == 0 && h.Seq == 1 && h.Prev != Genesis:
			return bad("edited: the first record's prev is not the genesis value")
		case want == 0 && h.Seq != 1:
			return bad("deleted: the log starts at record %d, not 1 (if older files were rotated away, verify with --partial)", h.Seq)
		case want == 0:
			sum.FirstSeq = 1
		case h.Seq > want:
			if at, ok := find(ls, want); ok {
				return bad("reordered: record %d is here, record %d comes later (%s:%d)", h.Seq, want, at.file, at.n)
			}
			if h.Seq == want+1 {
				return bad("deleted: record %d is missing before this one", want)
			}
			return bad("deleted: records %d to %d are missing before this one", want, h.Seq-1)
		case h.Seq < want:
			return bad("reordered: record %d comes after record %d", h.Seq, want-1)
		}
		if h.Prev != prevHash {
			return sum, &LineError{File: prev.file, Line: prev.n,
				Reason: fmt.Sprintf("edited: the record's SHA-256 is not the prev of the next record (%s:%d)", l.file, l.n)}
		}
		switch h.Kind {
		case KindDecision:
			sum.Decisions++
			sum.Unverified++
			sum.Closed = false
		case KindCheckpoint:
			if reason := checkCheckpoint(&h, opts.PublicKey); reason != "" {
				return bad("%s", reason)
			}
			sum.Checkpoints++
			sum.Unverified = 0
			sum.Closed = h.Checkpoint.Final
			lastCP = l
		default:
			return bad("unknown kind %q", h.Kind)
		}
		sum.Records++
		sum.LastSeq = h.Seq
		want = h.Seq + 1
		prevHash = Hash(l.text)
		prev = line{file: l.file, n: l.n}
	}
	if (opts.PublicKey != nil || sum.Checkpoints > 0) && !sum.Closed && !opts.Open {
		file := ""
		if len(ordered) > 0 {
			file = ordered[len(ordered)-1]
		}
		after := "no checkpoint"
		if lastCP.file != "" {
			after = fmt.Sprintf("the last checkpoint (%s:%d)", lastCP.file, lastCP.n)
		}
		return sum, &LineError{File: file, Line: prev.n + 1,
			Reason: fmt.Sprintf("truncated: the log ends without a final checkpoint; %d records after %s are unverified (if the log is still being written, verify with --open)", sum.Unverified, after)}
	}
	return sum, nil
}

// checkCheckpoint returns what is wrong with the checkpoint record h ("" if
// nothing): it must sign the record before it, with pub when given.
func checkCheckpoint(h *header, pub ed25519.PublicKey) string {
	c := h.Checkpoint
	switch {
	case c == nil:
		return "checkpoint record without a checkpoint"
	case c.Seq != h.Seq-1 || c.Hash != h.Prev:
		return fmt.Sprintf("edited: the checkpoint signs record %d, not the one before it", c.Seq)
	case pub == nil:
		return ""
	case c.Key != KeyID(pub):
		return fmt.Sprintf("checkpoint signed with key %s, not the given key %s", c.Key, KeyID(pub))
	}
	sig, err := base64.StdEncoding.DecodeString(c.Sig)
	if err != nil || !ed25519.Verify(pub, SignedMessage(c, h.Time), sig) {
		return "bad signature: the checkpoint was edited or not signed by the given key"
	}
	return ""
}

// find scans the rest of ls for the record with sequence number seq.
func find(ls *lines, seq uint64) (line, bool) {
	for {
		l, err := ls.next()
		if err != nil {
			return line{}, false
		}
		var h header
		if json.Unmarshal(l.text, &h) == nil && h.Seq == seq {
			return l, true
		}
	}
}

// chainOrder sorts files by the sequence number of their first record
// (a file whose first line does not parse comes first, so that Verify
// reports it; empty files are left out).
func chainOrder(files []string) ([]string, error) {
	type file struct {
		name  string
		first uint64
	}
	var fs []file
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		b, err := bufio.NewReader(f).ReadBytes('\n')
		f.Close()
		if len(b) == 0 {
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("reading %s: %w", name, err)
			}
			continue
		}
		var h header
		_ = json.Unmarshal(b, &h)
		fs = append(fs, file{name, h.Seq})
	}
	slices.SortStableFunc(fs, func(a, b file) int {
		switch {
		case a.first < b.first:
			return -1
		case a.first > b.first:
			return 1
		}
		return 0
	})
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.name
	}
	return out, nil
}
