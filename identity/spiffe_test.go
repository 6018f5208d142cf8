package identity

import (
	"crypto/x509"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestVerifyPeer(t *testing.T) {
	v, err := New(t.Context(), Config{ClientCA: "bundle.pem", TrustDomains: []TrustDomain{
		{TrustDomain: "prod.example", Scope: "read"},
		{TrustDomain: "agents.example", ActorType: "Agent", Scope: "write"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !v.PeerConfigured() {
		t.Fatal("PeerConfigured: false")
	}
	leaf := func(uris ...string) *x509.Certificate {
		c := &x509.Certificate{NotAfter: time.Now().Add(time.Hour)}
		for _, u := range uris {
			pu, err := url.Parse(u)
			if err != nil {
				t.Fatal(err)
			}
			c.URIs = append(c.URIs, pu)
		}
		return c
	}
	tests := []struct {
		name string
		cert *x509.Certificate
		want string // Type{ID} scope, or the error
	}{
		{"a service", leaf("spiffe://prod.example/ns/hr/sa/employee-service"), `Service{spiffe://prod.example/ns/hr/sa/employee-service} read`},
		{"an agent", leaf("spiffe://agents.example/ai-reporting-agent"), `Agent{spiffe://agents.example/ai-reporting-agent} write`},
		{"the trust domain itself", leaf("spiffe://prod.example"), `Service{spiffe://prod.example} read`},
		{"no URI", leaf(), "has 0 URI SANs"},
		{"two URIs", leaf("spiffe://prod.example/a", "spiffe://prod.example/b"), "has 2 URI SANs"},
		{"not spiffe", leaf("https://prod.example/a"), `scheme "https" is not spiffe`},
		{"a port", leaf("spiffe://prod.example:443/a"), "no user, port, query or fragment"},
		{"a query", leaf("spiffe://prod.example/a?x=1"), "no user, port, query or fragment"},
		{"uppercase trust domain", leaf("spiffe://Prod.example/a"), `trust domain "Prod.example" is not valid`},
		{"an empty segment", leaf("spiffe://prod.example/a//b"), "empty, '.' or '..' segment"},
		{"a dot-dot segment", leaf("spiffe://prod.example/a/../b"), "empty, '.' or '..' segment"},
		{"a trailing slash", leaf("spiffe://prod.example/a/"), "empty, '.' or '..' segment"},
		{"a bad character", leaf("spiffe://prod.example/a%20b"), "the character"},
		{"an unconfigured trust domain", leaf("spiffe://staging.example/a"), `trust domain "staging.example" of the client certificate's SPIFFE ID is not configured`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := v.VerifyPeer(tc.cert)
			var got string
			if err != nil {
				var ie *Error
				if !errors.As(err, &ie) || ie.Check != CheckCertificate {
					t.Fatalf("error %v is not an *Error of check %q", err, CheckCertificate)
				}
				got = err.Error()
			} else {
				got = id.Type + "{" + id.ID + "} " + id.Scope
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	ca := leaf("spiffe://prod.example/ca")
	ca.IsCA = true
	if _, err := v.VerifyPeer(ca); err == nil || !strings.Contains(err.Error(), "CA certificate") {
		t.Errorf("a CA certificate: %v", err)
	}
}

func TestValidateTrustDomains(t *testing.T) {
	err := Config{ClientCA: "b.pem", TrustDomains: []TrustDomain{
		{TrustDomain: "prod.example", Scope: "read"},
		{TrustDomain: "prod.example", Scope: "read"},
		{TrustDomain: "spiffe://x", ActorType: "1x", Scope: "all"},
	}}.Validate()
	for _, want := range []string{
		`identity.trust_domains[1]: trust_domain "prod.example" is already identity.trust_domains[0]`,
		`identity.trust_domains[2]: trust_domain "spiffe://x" is not a SPIFFE trust domain name`,
		`actor_type "1x" is not a type name`,
		`scope "all" is not read, write or admin`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v, want %q", err, want)
		}
	}
}
