package main

// castellan export: every stored fact, or those matching a pattern, at one
// revision, as JSON Lines or CSV.

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	castellan "github.com/castellan-authz/castellan/clients/go"
)

const exportHelp = `Writes every stored fact, or those matching the pattern, all read at one
revision (consistent while writes continue), streamed.

JSON Lines (the default): a first line {"revision":R}, then one fact per line in
the wire format (castellan import reads it back, skipping the revision line).
CSV: one file per signature (predicate and argument types) in the directory
--output, named like has_role.User.String.Repository.csv, each starting with
the line "# revision R" and the header castellan import reads. Facts with a
validity window go to a file of their own, name.windows.csv, whose header ends
with the columns @valid_from and @valid_until (RFC 3339; empty: unbounded).

Example: castellan export has_role _ _ Repository:_ > roles.jsonl

` + valueSyntaxHelp

func runExport(ctx context.Context, e *env, args []string) error {
	fs, r := newRemoteFlags(e, "export", "export [PREDICATE|_ [ARG...]] [flags]", exportHelp)
	format := fs.String("format", "jsonl", "output format: jsonl or csv")
	output := fs.String("output", "", "file to write (jsonl; default standard output) or directory (csv; required)")
	args, err := parseArgs(fs, args)
	if err != nil {
		return helpOr(err)
	}
	var pattern castellan.Fact
	if len(args) > 0 {
		if pattern, err = parseFact(args, true, true); err != nil {
			return usageError("export: %v", err)
		}
	}
	if *format != "jsonl" && *format != "csv" {
		return usageError("export: --format is jsonl or csv, not %q", *format)
	}
	if *format == "csv" && *output == "" {
		return usageError("export: CSV holds one signature per file: give the directory to write them in with --output")
	}
	c, err := r.streamClient()
	if err != nil {
		return err
	}
	var n int
	var rev uint64
	if *format == "csv" {
		w := &csvFiles{dir: *output, files: map[string]*csvFile{}}
		rev, err = c.ExportAt(ctx, pattern, func(rev uint64) error { w.rev = rev; return nil },
			func(f castellan.Fact) error { n++; return w.write(f) })
		if cerr := w.close(); err == nil {
			err = cerr
		}
	} else {
		rev, n, err = exportJSONL(ctx, c, e, pattern, *output)
	}
	if err != nil {
		return r.fail(err)
	}
	fmt.Fprintf(e.stderr, "exported %d facts at revision %d\n", n, rev)
	return nil
}

// exportJSONL writes the revision line, then the facts.
func exportJSONL(ctx context.Context, c *castellan.Client, e *env, pattern castellan.Fact, output string) (uint64, int, error) {
	var out io.Writer = e.stdout
	if output != "" && output != "-" {
		fh, err := os.Create(output)
		if err != nil {
			return 0, 0, err
		}
		defer fh.Close()
		out = fh
	}
	bw := bufio.NewWriterSize(out, 256<<10)
	enc := json.NewEncoder(bw)
	n, headed := 0, false
	rev, err := c.ExportAt(ctx, pattern, func(rev uint64) error {
		headed = true
		return enc.Encode(map[string]uint64{"revision": rev})
	}, func(f castellan.Fact) error {
		n++
		return enc.Encode(f)
	})
	if err == nil && !headed {
		err = fmt.Errorf("export: no revision line")
	}
	if err == nil {
		err = bw.Flush()
	}
	return rev, n, err
}

// csvFiles writes one CSV file per signature.
type csvFiles struct {
	dir   string
	files map[string]*csvFile
	rows  []string
	rev   uint64
}

type csvFile struct {
	fh *os.File
	bw *bufio.Writer
	w  *csv.Writer
}

func (c *csvFiles) write(f castellan.Fact) error {
	sig := []string{f.Predicate}
	for _, a := range f.Args {
		sig = append(sig, a.Type)
	}
	key := strings.Join(sig, ".")
	windowed := !f.ValidFrom.IsZero() || !f.ValidUntil.IsZero()
	if windowed {
		key += ".windows"
		sig = append(sig, csvValidFrom, csvValidUntil)
	}
	cf, ok := c.files[key]
	if !ok {
		if err := os.MkdirAll(c.dir, 0o755); err != nil {
			return err
		}
		fh, err := os.Create(filepath.Join(c.dir, key+".csv"))
		if err != nil {
			return err
		}
		cf = &csvFile{fh: fh, bw: bufio.NewWriter(fh)}
		cf.w = csv.NewWriter(cf.bw)
		fmt.Fprintf(cf.bw, "# revision %d\n", c.rev)
		if err := cf.w.Write(sig); err != nil {
			return err
		}
		c.files[key] = cf
	}
	c.rows = c.rows[:0]
	for _, a := range f.Args {
		c.rows = append(c.rows, a.ID)
	}
	if windowed {
		c.rows = append(c.rows, csvTime(f.ValidFrom), csvTime(f.ValidUntil))
	}
	return cf.w.Write(c.rows)
}

// csvTime is a window bound in a CSV row: RFC 3339 in UTC, empty when
// unbounded.
func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// close flushes and closes the files.
func (c *csvFiles) close() error {
	var first error
	for _, cf := range c.files {
		cf.w.Flush()
		err := cf.w.Error()
		if err == nil {
			err = cf.bw.Flush()
		}
		if cerr := cf.fh.Close(); err == nil {
			err = cerr
		}
		if first == nil {
			first = err
		}
	}
	return first
}
