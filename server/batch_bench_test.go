package server

import (
	"fmt"
	"github.com/castellan-authz/castellan/internal/cputime"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkAuthorizeBatch measures a batch of 100 checks per request
// through the whole handler stack from parallel clients (no network), on
// the 2,000 facts of benchServer: authorize_resources (one actor and
// action, 100 repositories), bulk_actions (100 actions questions) and
// AuthZEN evaluations (100 evaluations: one subject and action, and 100
// unrelated ones). Half of the checks are allowed.
// It reports checks/s of wall time and the process's CPU time per check.
func BenchmarkAuthorizeBatch(b *testing.B) {
	const n = 100
	// unrelated: evaluations of 100 different subjects, actions and
	// resources (those of castellan-load batch), a few of them allowed.
	var resources, bulk, evals, unrelated []string
	for i := range n {
		// u7 is a member of o7, the parent of r7, r17, r27, ...; the
		// others are alternately in and out of that organization.
		r := fmt.Sprintf("r%d", 7+10*(i/2)+i%2)
		resources = append(resources, fmt.Sprintf(`{"type":"Repository","id":%q}`, r))
		bulk = append(bulk, fmt.Sprintf(`{"actor_type":"User","actor_id":"u7","resource_type":"Repository","resource_id":%q}`, r))
		evals = append(evals, fmt.Sprintf(`{"resource":{"type":"Repository","id":%q}}`, r))
		unrelated = append(unrelated, fmt.Sprintf(`{"subject":{"type":"User","id":"u%d"},"action":{"name":%q},"resource":{"type":"Repository","id":"r%d"}}`,
			(i*37)%1000, []string{"read", "push", "read", "delete"}[i%4], (i*53+i%2*7)%1000))
	}
	bodies := []struct{ name, path, body string }{
		{"authorize_resources", "/api/authorize_resources",
			`{"actor_type":"User","actor_id":"u7","action":"read","resources":[` + strings.Join(resources, ",") + `]}`},
		{"bulk_actions", "/api/bulk_actions", "[" + strings.Join(bulk, ",") + "]"},
		{"authzen_evaluations", "/access/v1/evaluations",
			`{"subject":{"type":"User","id":"u7"},"action":{"name":"read"},"evaluations":[` + strings.Join(evals, ",") + `]}`},
		{"authzen_evaluations_unrelated", "/access/v1/evaluations", `{"evaluations":[` + strings.Join(unrelated, ",") + `]}`},
	}
	for _, bb := range bodies {
		b.Run(bb.name, func(b *testing.B) {
			srv, key := benchServer(b)
			b.ReportAllocs()
			cpu0, cpuOK := cputime.Process()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest("POST", bb.path, strings.NewReader(bb.body))
					req.Header.Set("Authorization", "Bearer "+key)
					w := httptest.NewRecorder()
					srv.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
			})
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "checks/s")
			if cpu1, ok := cputime.Process(); ok && cpuOK {
				b.ReportMetric(float64(cpu1-cpu0)/float64(b.N*n), "cpu-ns/check")
			}
		})
	}
}
