package castellan_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	castellan "github.com/castellan-authz/castellan/clients/go"
)

// Example asks whether a maintainer may rerun a CI action, sending the
// action's repository as a context fact. A stand-in server answers here;
// in a real service the URL is that of `castellan serve`.
func Example() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("OsoOffset", "1")
		switch r.URL.Path {
		case "/api/batch":
			fmt.Fprint(w, `{"message":"ok"}`)
		case "/api/authorize":
			var req struct {
				ActorID      string `json:"actor_id"`
				ContextFacts []any  `json:"context_facts"`
			}
			json.NewDecoder(r.Body).Decode(&req)
			fmt.Fprintf(w, `{"allowed":%t}`, req.ActorID == "bob" && len(req.ContextFacts) == 1)
		}
	}))
	defer srv.Close()

	ctx := context.Background()
	c := castellan.New(srv.URL, "my-api-key")

	bob := castellan.Entity("User", "bob")
	anvil := castellan.Entity("Repository", "anvil")
	if err := c.Insert(ctx, castellan.NewFact("has_role", bob, castellan.String("maintainer"), anvil)); err != nil {
		fmt.Println(err)
		return
	}

	run := castellan.Entity("Action", "1")
	d, err := c.Authorize(ctx, bob, "rerun", run, castellan.WithContextFacts(
		castellan.NewFact("has_relation", run, castellan.String("repository"), anvil)))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("bob may rerun:", d.Allowed)
	// Output: bob may rerun: true
}
