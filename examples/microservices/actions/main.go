// Command actions is the Actions service of the microservices example: an
// HTTP service that reruns CI actions. POST /actions/{id}/rerun, with the
// caller's user id in X-User (a real service takes it from a verified
// token), asks Castellan whether the user may rerun the action.
//
// The service owns its actions and knows which repository each belongs to.
// It sends that relation with the question as a context fact,
// has_relation(Action{"1"}, "repository", Repository{"anvil"}), so Castellan
// never has to store (or be kept in sync with) the actions' data.
//
// It prints "listening on http://ADDR" once it accepts requests.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	castellan "github.com/castellan-authz/castellan/clients/go"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "actions:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("actions", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8090", "address to listen on (port 0 picks a free one)")
	url := fs.String("castellan", envOr("CASTELLAN_URL", "http://localhost:8080"), "Castellan URL")
	key := fs.String("api-key", os.Getenv("CASTELLAN_API_KEY"), "Castellan API key (read scope is enough)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	svc := &service{
		authz: castellan.New(*url, *key,
			castellan.WithHTTPClient(&http.Client{Timeout: 5 * time.Second}),
			castellan.WithUserAgent("example-actions")),
		repositoryOf: map[string]string{"1": "anvil", "2": "forge"},
		log:          log.New(os.Stderr, "actions: ", 0),
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: svc.routes(), ReadHeaderTimeout: 5 * time.Second}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// service is the Actions service: its own data and a Castellan client.
type service struct {
	authz        *castellan.Client
	repositoryOf map[string]string // action id -> repository name
	log          *log.Logger
}

func (s *service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /actions/{id}/rerun", s.handleRerun)
	return mux
}

func (s *service) handleRerun(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	user := r.Header.Get("X-User")
	if user == "" {
		reply(w, http.StatusUnauthorized, map[string]string{"error": "X-User is required"})
		return
	}
	repo, ok := s.repositoryOf[id]
	if !ok {
		reply(w, http.StatusNotFound, map[string]string{"error": "no such action"})
		return
	}
	action := castellan.Entity("Action", id)
	d, err := s.authz.Authorize(r.Context(), castellan.Entity("User", user), "rerun", action,
		castellan.WithContextFacts(castellan.NewFact("has_relation",
			action, castellan.String("repository"), castellan.Entity("Repository", repo))))
	if err != nil {
		s.log.Printf("authorize %s rerun Action %s: %v", user, id, err)
		reply(w, http.StatusServiceUnavailable, map[string]string{"error": "authorization unavailable"})
		return
	}
	if !d.Allowed {
		s.log.Printf("denied: %s may not rerun action %s (repository %s)", user, id, repo)
		reply(w, http.StatusForbidden, map[string]string{"error": "forbidden"})
		return
	}
	s.log.Printf("allowed: %s reruns action %s (repository %s)", user, id, repo)
	reply(w, http.StatusAccepted, map[string]string{"action": id, "repository": repo, "status": "rerun queued"})
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
