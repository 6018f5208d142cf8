package main

// castellan backup create|restore: the server's facts, policy versions
// (and which is live) and API key records at one revision, in a gzip file
// that ends with a SHA-256 checksum of what precedes it.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"

	castellan "github.com/castellan-authz/castellan/clients/go"
)

const backupHelp = `create FILE writes a backup of the server: every fact at one revision, every
policy version and which one is live, and the API key records (their hashes,
never a secret), as gzip-compressed JSON Lines ending with a SHA-256 checksum.

restore FILE checks the checksum, then loads the backup into the server's
store, which must be empty (no facts, no policy) unless --force: then its
facts are cleared first, the backup's policy versions are added as new
versions (the one that was live made live) and keys whose id exists are kept.`

// backupTrailer is the last line of a backup file.
type backupTrailer struct {
	SHA256 string `json:"sha256"`
	Lines  int    `json:"lines"`
}

func runBackup(ctx context.Context, e *env, args []string) error {
	fs, r := newRemoteFlags(e, "backup", "backup create|restore FILE [flags]", backupHelp)
	force := fs.Bool("force", false, "restore: into a store that is not empty")
	args, err := parseArgsBetween(fs, args, 2, 2)
	if err != nil {
		return helpOr(err)
	}
	c, err := r.streamClient()
	if err != nil {
		return err
	}
	switch args[0] {
	case "create":
		err = createBackup(ctx, c, args[1])
		if err == nil {
			fmt.Fprintln(e.stdout, "wrote", args[1])
		}
	case "restore":
		var res castellan.StreamResult
		res, err = restoreBackup(ctx, c, args[1], *force, func(s castellan.RestoreSummary) {
			fmt.Fprintf(e.stderr, "restored %d policy versions (live: %d), %d keys (%d kept as they were)\n", s.Policies, s.LiveVersion, s.Keys, s.KeysSkipped)
		})
		if err == nil {
			fmt.Fprintf(e.stdout, "restored %d facts (revision %d)\n", res.Facts, res.Revision)
		}
	default:
		return usageError("backup: the subcommands are create and restore, not %q", args[0])
	}
	if err != nil {
		return r.fail(err)
	}
	return nil
}

// createBackup writes the server's backup stream to name, compressed,
// with the checksum line; the file appears only once it is complete.
func createBackup(ctx context.Context, c *castellan.Client, name string) error {
	tmp, err := os.CreateTemp(dirOf(name), ".castellan-backup-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	zw, _ := gzip.NewWriterLevel(tmp, gzip.BestSpeed)
	sum := sha256.New()
	lines := &lineCounter{}
	if _, err := c.Backup(ctx, io.MultiWriter(zw, sum, lines)); err != nil {
		return err
	}
	if lines.last != '\n' {
		return errors.New("backup: the server's stream ended in the middle of a line")
	}
	t, _ := json.Marshal(backupTrailer{SHA256: hex.EncodeToString(sum.Sum(nil)), Lines: lines.n})
	if _, err := zw.Write(append(t, '\n')); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// dirOf is the directory of a file name ("." for a bare name).
func dirOf(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		if os.IsPathSeparator(name[i]) {
			return name[:i+1]
		}
	}
	return "."
}

// lineCounter counts the lines written through it.
type lineCounter struct {
	n    int
	last byte
}

func (l *lineCounter) Write(p []byte) (int, error) {
	l.n += bytes.Count(p, []byte{'\n'})
	if len(p) > 0 {
		l.last = p[len(p)-1]
	}
	return len(p), nil
}

// restoreBackup checks the file's checksum, then streams it (without the
// checksum line) to the server.
func restoreBackup(ctx context.Context, c *castellan.Client, name string, force bool, onSummary func(castellan.RestoreSummary)) (castellan.StreamResult, error) {
	if err := verifyBackup(name, nil); err != nil {
		return castellan.StreamResult{}, err
	}
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	wg.Go(func() { pw.CloseWithError(verifyBackup(name, pw)) })
	res, err := c.Restore(ctx, pr, castellan.RestoreOptions{Force: force, OnSummary: onSummary})
	pr.CloseWithError(errors.New("restore ended"))
	wg.Wait()
	return res, err
}

// verifyBackup reads a backup file, copying every line but the checksum
// line to w (when not nil), and checks the checksum.
func verifyBackup(name string, w io.Writer) error {
	fh, err := os.Open(name)
	if err != nil {
		return usageError("backup: %v", err)
	}
	defer fh.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(fh, 256<<10))
	if err != nil {
		return fmt.Errorf("backup: %s is not a backup file (gzip: %v)", name, err)
	}
	br := bufio.NewReaderSize(zr, 256<<10)
	var sum hash.Hash = sha256.New()
	var prev []byte // held back: the last line is the checksum
	n := 0
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if prev != nil {
				sum.Write(prev)
				n++
				if w != nil {
					if _, err := w.Write(prev); err != nil {
						return err
					}
				}
			}
			prev = line
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("backup: reading %s: %w", name, err)
		}
	}
	var t backupTrailer
	if prev == nil || json.Unmarshal(prev, &t) != nil || t.SHA256 == "" {
		return fmt.Errorf("backup: %s has no checksum line: it is truncated or not a backup", name)
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != t.SHA256 || n != t.Lines {
		return fmt.Errorf("backup: %s is corrupt: its checksum does not match (%d lines, %d expected)", name, n, t.Lines)
	}
	return nil
}
