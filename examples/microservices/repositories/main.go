// Command repositories is the Repositories service of the microservices
// example. It owns repositories and their members, and keeps Castellan's
// has_role facts in line with them: `repositories sync` replaces the roles
// of every repository it owns in one atomic batch; `repositories grant USER
// ROLE REPO` adds one.
//
// It finds Castellan through CASTELLAN_URL and CASTELLAN_API_KEY (or
// -castellan and -api-key).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"

	castellan "github.com/castellan-authz/castellan/clients/go"
)

// repositoryMembers is this service's own data: repository -> user ->
// role. In a real service it lives in the service's database.
func repositoryMembers() map[string]map[string]string {
	return map[string]map[string]string{
		"anvil": {"alice": "maintainer", "bob": "reader"},
		"forge": {"carol": "maintainer"},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "repositories:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("repositories", flag.ContinueOnError)
	url := fs.String("castellan", envOr("CASTELLAN_URL", "http://localhost:8080"), "Castellan URL")
	key := fs.String("api-key", os.Getenv("CASTELLAN_API_KEY"), "Castellan API key (write scope)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: repositories [flags] sync | grant USER ROLE REPO")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	c := castellan.New(*url, *key, castellan.WithUserAgent("example-repositories"))
	switch {
	case fs.NArg() == 1 && fs.Arg(0) == "sync":
		return sync(ctx, c, stdout)
	case fs.NArg() == 4 && fs.Arg(0) == "grant":
		f := roleFact(fs.Arg(1), fs.Arg(2), fs.Arg(3))
		if err := c.Insert(ctx, f); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "told", f)
		return nil
	}
	fs.Usage()
	return fmt.Errorf("bad arguments %q", fs.Args())
}

// sync replaces the roles Castellan holds on each repository this service
// owns by the ones in members, atomically: no question ever sees a
// repository without its maintainers.
func sync(ctx context.Context, c *castellan.Client, stdout io.Writer) error {
	members := repositoryMembers()
	var told []castellan.Fact
	err := c.Batch(ctx, func(tx *castellan.Tx) {
		for _, repo := range sortedKeys(members) {
			tx.Delete(castellan.NewFact("has_role", castellan.AnyOf("User"), castellan.Any(), castellan.Entity("Repository", repo)))
			for _, user := range sortedKeys(members[repo]) {
				f := roleFact(user, members[repo][user], repo)
				tx.Insert(f)
				told = append(told, f)
			}
		}
	})
	if err != nil {
		return err
	}
	for _, f := range told {
		fmt.Fprintln(stdout, "told", f)
	}
	return nil
}

func roleFact(user, role, repo string) castellan.Fact {
	return castellan.NewFact("has_role",
		castellan.Entity("User", user), castellan.String(role), castellan.Entity("Repository", repo))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
