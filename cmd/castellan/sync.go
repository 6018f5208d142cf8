package main

// castellan sync: make Castellan's stored facts of the bound predicates
// equal to what the application's database says, through the data
// bindings of local authorization.

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	castellan "github.com/castellan-authz/castellan/clients/go"
	"github.com/castellan-authz/castellan/localauth"
)

const syncHelp = `Reads the facts of every binding of the data-bindings file (the YAML of local
authorization) from the application's PostgreSQL database, in one read-only
snapshot, and makes Castellan's stored facts matching those bindings equal to
them: facts missing from Castellan are inserted, facts the database no longer
has are deleted, in batches; a stored fact the database backs but that carries
a validity window is inserted again without it (the database says it holds).
With --dry-run it prints the difference (+ insert, - delete) and changes
nothing. Run it nightly to correct drift.

Example: castellan sync --bindings bindings.yaml --database-url postgres://app@db/app --dry-run`

func runSync(ctx context.Context, e *env, args []string) error {
	fs, r := newRemoteFlags(e, "sync", "sync --bindings FILE --database-url URL [flags]", syncHelp)
	bindingsFile := fs.String("bindings", "", "data-bindings YAML file (required)")
	dbURL := fs.String("database-url", "", "the application's PostgreSQL URL (default $APP_DATABASE_URL)")
	dryRun := fs.Bool("dry-run", false, "print the difference and change nothing")
	batchSize := fs.Int("batch-size", 5000, "changes per committed batch")
	if _, err := parseArgsBetween(fs, args, 0, 0); err != nil {
		return helpOr(err)
	}
	if *dbURL == "" {
		*dbURL = e.getenv("APP_DATABASE_URL")
	}
	if *bindingsFile == "" || *dbURL == "" || *batchSize < 1 {
		return usageError("sync: --bindings and --database-url are required (and --batch-size positive)")
	}
	src, err := os.ReadFile(*bindingsFile)
	if err != nil {
		return usageError("sync: %v", err)
	}
	b, err := localauth.ParseBindings(string(src))
	if err != nil {
		return usageError("sync: %s: %v", *bindingsFile, err)
	}
	want, err := readBound(ctx, *dbURL, b)
	if err != nil {
		return fmt.Errorf("sync: reading the application's database: %w", err)
	}
	c, err := r.streamClient()
	if err != nil {
		return err
	}
	have, err := storedBound(ctx, c, b)
	if err != nil {
		return r.fail(err)
	}
	ins, del := diffFacts(want, have)
	if *dryRun {
		for _, f := range del {
			fmt.Fprintln(e.stdout, "-", factLine(f))
		}
		for _, f := range ins {
			if old, ok := have[factKey(f)]; ok {
				// Stored with a validity window the database does not have:
				// the insert replaces the window.
				fmt.Fprintf(e.stdout, "+ %s  (replaces the stored %s)\n", f, strings.TrimPrefix(factLine(old), old.String()+" "))
				continue
			}
			fmt.Fprintln(e.stdout, "+", f)
		}
		fmt.Fprintf(e.stderr, "dry run: %d to insert, %d to delete (%d facts bound in the database)\n", len(ins), len(del), len(want))
		return nil
	}
	if err := applyDiff(ctx, c, ins, del, *batchSize); err != nil {
		return r.fail(err)
	}
	fmt.Fprintf(e.stdout, "synced: %d inserted, %d deleted (%d facts bound)\n", len(ins), len(del), len(want))
	return nil
}

// factKey identifies a fact in a diff.
func factKey(f castellan.Fact) string {
	var sb strings.Builder
	sb.WriteString(f.Predicate)
	for _, a := range f.Args {
		sb.WriteByte(0)
		sb.WriteString(a.Type)
		sb.WriteByte(0)
		sb.WriteString(a.ID)
	}
	return sb.String()
}

// readBound runs every binding's query in one read-only, repeatable-read
// transaction and returns the facts, by key.
func readBound(ctx context.Context, url string, b *localauth.Bindings) (map[string]castellan.Fact, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	out := map[string]castellan.Fact{}
	for _, bd := range b.Facts {
		cols := bd.Columns()
		rows, err := tx.Query(ctx, bd.Query)
		if err != nil {
			return nil, fmt.Errorf("binding %s (line %d): %w", bd.Signature, bd.Line, err)
		}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				rows.Close()
				return nil, err
			}
			if len(vals) != len(cols) {
				rows.Close()
				return nil, fmt.Errorf("binding %s (line %d): the query returns %d columns, the signature has %d _", bd.Signature, bd.Line, len(vals), len(cols))
			}
			f := castellan.Fact{Predicate: bd.Name, Args: make([]castellan.Value, len(bd.Args))}
			null := false
			for i, a := range bd.Args {
				if !a.Column {
					f.Args[i] = castellan.Value{Type: a.Const.Type, ID: a.Const.ID}
				}
			}
			for j, i := range cols {
				id, ok := sqlText(vals[j])
				null = null || !ok
				f.Args[i] = castellan.Value{Type: bd.Args[i].Type, ID: id}
			}
			if !null { // a NULL column binds no fact
				out[factKey(f)] = f
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("binding %s (line %d): %w", bd.Signature, bd.Line, err)
		}
	}
	return out, nil
}

// sqlText renders a column value as an id; false for NULL.
func sqlText(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case int64:
		return strconv.FormatInt(x, 10), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case int16:
		return strconv.FormatInt(int64(x), 10), true
	case bool:
		return strconv.FormatBool(x), true
	case [16]byte: // uuid
		h := hex.EncodeToString(x[:])
		return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], true
	}
	return fmt.Sprint(v), true
}

// storedBound exports Castellan's facts matching any binding's signature.
func storedBound(ctx context.Context, c *castellan.Client, b *localauth.Bindings) (map[string]castellan.Fact, error) {
	out := map[string]castellan.Fact{}
	for _, bd := range b.Facts {
		pattern := castellan.Fact{Predicate: bd.Name, Args: make([]castellan.Value, len(bd.Args))}
		for i, a := range bd.Args {
			pattern.Args[i] = castellan.AnyOf(a.Type)
			if !a.Column {
				pattern.Args[i] = castellan.Value{Type: a.Const.Type, ID: a.Const.ID}
			}
		}
		_, err := c.Export(ctx, pattern, func(f castellan.Fact) error {
			if len(f.Args) == len(bd.Args) { // the pattern leaves longer facts open
				out[factKey(f)] = f
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// diffFacts returns what to insert and delete to turn have into want,
// each in a stable order. The application's database gives facts without a
// validity window, so a stored fact it backs that has one is inserted
// again, without: inserting a stored fact with another window replaces the
// window, and the fact then holds as long as the database says so.
func diffFacts(want, have map[string]castellan.Fact) (ins, del []castellan.Fact) {
	for k, f := range want {
		if h, ok := have[k]; !ok || !h.ValidFrom.Equal(f.ValidFrom) || !h.ValidUntil.Equal(f.ValidUntil) {
			ins = append(ins, f)
		}
	}
	for k, f := range have {
		if _, ok := want[k]; !ok {
			del = append(del, f)
		}
	}
	byKey := func(a, b castellan.Fact) int { return strings.Compare(factKey(a), factKey(b)) }
	slices.SortFunc(ins, byKey)
	slices.SortFunc(del, byKey)
	return ins, del
}

// applyDiff deletes, then inserts, in batches of size changes, each atomic.
func applyDiff(ctx context.Context, c *castellan.Client, ins, del []castellan.Fact, size int) error {
	for len(del) > 0 || len(ins) > 0 {
		err := c.Batch(ctx, func(tx *castellan.Tx) {
			for n := 0; n < size && (len(del) > 0 || len(ins) > 0); n++ {
				if len(del) > 0 {
					tx.Delete(del[0])
					del = del[1:]
				} else {
					tx.Insert(ins[0])
					ins = ins[1:]
				}
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}
