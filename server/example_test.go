package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/castellan-authz/castellan/policy"
	"github.com/castellan-authz/castellan/server"
	"github.com/castellan-authz/castellan/store/memory"
)

// ExampleNew embeds Castellan's API in a program: a server on the memory
// store, a policy loaded from source, one fact, one check.
func ExampleNew() {
	ctx := context.Background()
	cfg := server.DefaultConfig()
	cfg.Dev = true // no API keys: for examples and tests only
	srv, err := server.New(ctx, cfg, memory.New())
	if err != nil {
		panic(err)
	}
	res, err := srv.Policies().Load(ctx, []policy.File{{Filename: "policy.polar", Src: `
actor User {}
resource Doc {
  roles = ["reader"];
  permissions = ["read"];
  "read" if "reader";
}`}}, "example")
	if err != nil {
		panic(err)
	}
	fmt.Println("policy version", res.Version)

	ts := httptest.NewServer(srv)
	defer ts.Close()
	post := func(path, body string) string {
		resp, err := http.Post(ts.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if off := resp.Header.Get("OsoOffset"); off != "" {
			return "OsoOffset " + off + ": " + strings.TrimSpace(string(b))
		}
		return strings.TrimSpace(string(b))
	}
	fmt.Println(post("/api/batch", `[{"inserts": [{"predicate": "has_role", "args": [
		{"type": "User", "id": "alice"}, {"type": "String", "id": "reader"}, {"type": "Doc", "id": "readme"}]}]}]`))
	fmt.Println(post("/api/authorize", `{"actor_type": "User", "actor_id": "alice", "action": "read",
		"resource_type": "Doc", "resource_id": "readme"}`))
	// Output:
	// policy version 1
	// OsoOffset 1: {"message":"ok (revision 1)"}
	// {"allowed":true}
}
