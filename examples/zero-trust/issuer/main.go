// Command issuer is the identity provider of the zero-trust example: two
// real token issuers (workloads and users), each an HTTP server publishing
// its JWKS. It writes the castellan.yaml that trusts them and the tokens
// run.sh presents, prints "ready", and serves until it is interrupted
// (SIGINT or SIGTERM).
//
//	issuer -dir DIR
//
// DIR/castellan.yaml is the server's configuration file; DIR/tokens/NAME
// holds each token: the workloads employee-service and ai-reporting-agent
// (actor_type Agent, by claim), the users alice (hr), bob (manager of
// engineering), carol (engineer in engineering) and dave (manager of
// sales), and an expired employee-service token.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/castellan-authz/castellan/identity/idptest"
)

// config is castellan.yaml; %[1]s is the workloads issuer, %[2]s the
// users issuer.
const config = `# The zero-trust example's server: in-memory store, no dev mode; callers
# authenticate with the admin key (CASTELLAN_ADMIN_KEY) or a workload token.
addr: "127.0.0.1:0"
database_url: ""
dev: false
log_format: json
identity:
  issuers:
    - issuer: %[1]s                 # workloads: services and AI agents
      jwks_url: %[1]s/jwks
      audience: castellan
      algorithms: [ES256]
      use: caller
      actor_type: Service
      actor_type_claim: actor_type  # an agent's token says actor_type: Agent
      scope_claim: scope
    - issuer: %[2]s                 # end users, for on-behalf-of
      jwks_url: %[2]s/jwks
      audience: castellan
      algorithms: [ES256]
      use: user
      actor_type: User
      claims: [role, department]
`

func main() {
	dir := flag.String("dir", "", "directory for castellan.yaml and tokens/ (required)")
	flag.Parse()
	if *dir == "" {
		log.Fatal("issuer: -dir is required")
	}
	workloads, users := idptest.New(), idptest.New()
	defer workloads.Close()
	defer users.Close()

	workload := func(sub string, extra idptest.Claims) string {
		c := idptest.Claims{"sub": sub, "aud": "castellan", "scope": "castellan:read"}
		for k, v := range extra {
			c[k] = v
		}
		return workloads.Mint(c)
	}
	user := func(sub, role, department string) string {
		return users.Mint(idptest.Claims{"sub": sub, "aud": "castellan", "role": role, "department": department})
	}
	tokens := map[string]string{
		"employee-service":         workload("employee-service", nil),
		"employee-service-expired": workload("employee-service", idptest.Claims{"exp": time.Now().Add(-time.Hour)}),
		"ai-reporting-agent":       workload("ai-reporting-agent", idptest.Claims{"actor_type": "Agent"}),
		"alice":                    user("alice", "hr", "hr"),
		"bob":                      user("bob", "manager", "engineering"),
		"carol":                    user("carol", "engineer", "engineering"),
		"dave":                     user("dave", "manager", "sales"),
	}
	if err := os.MkdirAll(filepath.Join(*dir, "tokens"), 0o700); err != nil {
		log.Fatal(err)
	}
	for name, tok := range tokens {
		if err := os.WriteFile(filepath.Join(*dir, "tokens", name), []byte(tok), 0o600); err != nil {
			log.Fatal(err)
		}
	}
	cfg := fmt.Sprintf(config, workloads.URL, users.URL)
	if err := os.WriteFile(filepath.Join(*dir, "castellan.yaml"), []byte(cfg), 0o600); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("ready: workloads %s, users %s\n", workloads.URL, users.URL)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
}
