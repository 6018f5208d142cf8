package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/castellan-authz/castellan/migrations"
)

// runMigrate applies, reverts or reports the PostgreSQL schema migrations:
// castellan migrate up|down [N]|version --database-url URL.
func runMigrate(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	dbURL := fs.String("database-url", e.getenv("CASTELLAN_DATABASE_URL"), "PostgreSQL URL (env CASTELLAN_DATABASE_URL)")
	all := fs.Bool("all", false, "with down: revert every migration (drops all of Castellan's tables)")
	fs.Usage = func() { printMigrateUsage(e.stderr, fs) }
	// Flags may come before, between and after the positional arguments.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return usageError("%v", err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) == 0 {
		fs.Usage()
		return usageError("migrate needs a subcommand: up, down or version")
	}
	sub, rest := pos[0], pos[1:]
	if *dbURL == "" {
		return usageError("migrate needs --database-url or CASTELLAN_DATABASE_URL")
	}
	switch sub {
	case "up":
		if len(rest) > 0 {
			return usageError("migrate up takes no arguments")
		}
		if err := migrations.Up(ctx, *dbURL); err != nil {
			return err
		}
		return printVersion(ctx, e.stdout, *dbURL)
	case "down":
		steps := 1
		switch {
		case *all && len(rest) > 0:
			return usageError("migrate down takes either N or --all")
		case len(rest) == 1:
			n, err := strconv.Atoi(rest[0])
			if err != nil || n < 1 {
				return usageError("migrate down: %q is not a positive number of migrations", rest[0])
			}
			steps = n
		case len(rest) > 1:
			return usageError("migrate down takes at most one argument")
		}
		var err error
		if *all {
			err = migrations.Down(ctx, *dbURL)
		} else {
			err = migrations.Steps(ctx, *dbURL, -steps)
		}
		if err != nil {
			return err
		}
		return printVersion(ctx, e.stdout, *dbURL)
	case "version":
		if len(rest) > 0 {
			return usageError("migrate version takes no arguments")
		}
		return printVersion(ctx, e.stdout, *dbURL)
	}
	fs.Usage()
	return usageError("unknown migrate subcommand %q", sub)
}

// printVersion prints the database's schema version and the one this
// build needs.
func printVersion(ctx context.Context, w io.Writer, dbURL string) error {
	v, dirty, err := migrations.Version(ctx, dbURL)
	if err != nil {
		return err
	}
	state := ""
	if dirty {
		state = " (dirty: a migration failed halfway; repair the database by hand)"
	}
	fmt.Fprintf(w, "schema version %d%s; this castellan needs %d\n", v, state, migrations.Latest())
	return nil
}

func printMigrateUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "usage: castellan migrate up       [--database-url URL]  apply every pending migration")
	fmt.Fprintln(w, "       castellan migrate down [N] [--database-url URL]  revert N migrations (default 1)")
	fmt.Fprintln(w, "       castellan migrate down --all                     revert every migration")
	fmt.Fprintln(w, "       castellan migrate version  [--database-url URL]  print the schema version")
	fs.PrintDefaults()
}
