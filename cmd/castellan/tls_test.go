package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for 127.0.0.1 with the given
// serial number and returns it.
func writeCert(t *testing.T, certFile, keyFile string, serial int64) *x509.Certificate {
	t.Helper()
	cert, key := issueCert(t, &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "castellan test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, nil)
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return cert
}

// issueCert makes a key and a certificate of it from tpl, signed by ca
// (self-signed when ca is nil).
func issueCert(t *testing.T, tpl *x509.Certificate, ca *testCA) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	parent, signer := tpl, key
	if ca != nil {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func TestServeTLSReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, certFile, keyFile, 1)
	rs := startServe(t, nil, "--tls-cert", certFile, "--tls-key", keyFile)
	addr := rs.url[len("http://"):]

	// serial returns the serial number of the certificate the server shows.
	serial := func() int64 {
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if got := serial(); got != 1 {
		t.Fatalf("serial %d, want 1", got)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/healthz over TLS: %d", resp.StatusCode)
	}

	// A renewed certificate is served without a restart.
	later := time.Now().Add(2 * time.Second)
	writeCert(t, certFile, keyFile, 2)
	for _, f := range []string{certFile, keyFile} {
		if err := os.Chtimes(f, later, later); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return serial() == 2 })
}

func TestServeTLSFlags(t *testing.T) {
	e := &env{getenv: func(string) string { return "" }}
	if _, err := parseServe(e, []string{"--tls-cert", "c.pem"}); err == nil {
		t.Error("--tls-cert without --tls-key accepted")
	}
}

// testCA is a certificate authority made in the test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	cert, key := issueCert(t, &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}, nil)
	return &testCA{cert: cert, key: key}
}

func (ca *testCA) pem() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
}

// client issues a client certificate with the URI SANs uris, valid
// until notAfter.
func (ca *testCA) client(t *testing.T, notAfter time.Time, uris ...string) tls.Certificate {
	t.Helper()
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "workload"},
		NotBefore:    time.Now().Add(-2 * time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	for _, u := range uris {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		tpl.URIs = append(tpl.URIs, pu)
	}
	cert, key := issueCert(t, tpl, ca)
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key}
}

// TestServeMutualTLS: workloads presenting client certificates of the
// configured CA are callers by their SPIFFE ID; TLS refuses a certificate
// of another CA and an expired one; the server refuses one without a
// SPIFFE ID or of an unconfigured trust domain; clients without a
// certificate still authenticate with keys.
func TestServeMutualTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	serverCert := writeCert(t, certFile, keyFile, 1)
	ca, other := newTestCA(t, "spiffe bundle"), newTestCA(t, "someone else")
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile := write("bundle.pem", string(ca.pem()))
	policyFile := write("p.polar", `actor User {}
actor Service {}
resource Doc { permissions = ["read"]; }
declare is_public(Doc, Boolean);
allow(_user: User, "read", _doc: Doc) if
  request_caller(Service{"spiffe://prod.example/ns/hr/sa/employee-service"});
`)
	config := write("castellan.yaml", `tls_cert: `+certFile+`
tls_key: `+keyFile+`
admin_key: mtls-test-admin-key
policy: [`+policyFile+`]
identity:
  client_ca: `+caFile+`
  trust_domains:
    - trust_domain: prod.example
      actor_type: Service
      scope: read
`)
	rs := startServe(t, nil, "--config", config)
	addr := strings.TrimPrefix(rs.url, "http://")

	roots := x509.NewCertPool()
	roots.AddCert(serverCert)
	// ask posts body to path over TLS presenting cert (none when nil) and
	// with key as the bearer ("" for none); it returns the status and
	// body, or the connection's error.
	ask := func(cert *tls.Certificate, key, path, body string) (int, string, error) {
		cfg := &tls.Config{RootCAs: roots}
		if cert != nil {
			// Presented whatever CAs the server names (the Go client
			// would not send a certificate of another CA otherwise).
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
		}
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
		defer client.CloseIdleConnections()
		req, err := http.NewRequest("POST", "https://"+addr+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	authorize := `{"actor_type":"User","actor_id":"alice","action":"read","resource_type":"Doc","resource_id":"d"}`
	fact := `{"predicate":"is_public","args":[{"type":"Doc","id":"d"},{"type":"Boolean","id":"true"}]}`
	hour := time.Now().Add(time.Hour)
	employee := ca.client(t, hour, "spiffe://prod.example/ns/hr/sa/employee-service")
	billing := ca.client(t, hour, "spiffe://prod.example/ns/finance/sa/billing")
	noSPIFFE := ca.client(t, hour)
	httpsURI := ca.client(t, hour, "https://prod.example/employee-service")
	twoIDs := ca.client(t, hour, "spiffe://prod.example/a", "spiffe://prod.example/b")
	otherDomain := ca.client(t, hour, "spiffe://staging.example/ns/hr/sa/employee-service")
	expired := ca.client(t, time.Now().Add(-time.Hour), "spiffe://prod.example/ns/hr/sa/employee-service")
	untrusted := other.client(t, hour, "spiffe://prod.example/ns/hr/sa/employee-service")

	tests := []struct {
		name       string
		cert       *tls.Certificate
		key, path  string
		body       string
		status     int
		want       string // in the body
		refusedTLS bool   // the handshake fails
	}{
		{"the SPIFFE ID is the caller", &employee, "", "/api/authorize", authorize, 200, `{"allowed":true}`, false},
		{"another workload of the trust domain", &billing, "", "/api/authorize", authorize, 200, `{"allowed":false}`, false},
		{"the trust domain's scope", &employee, "", "/api/facts", fact, 403, `this client certificate has scope \"read\"`, false},
		{"a key wins over the certificate", &billing, "mtls-test-admin-key", "/api/facts", fact, 200, `"predicate":"is_public"`, false},
		{"no SPIFFE ID", &noSPIFFE, "", "/api/authorize", authorize, 401, "invalid client certificate: the client certificate has 0 URI SANs", false},
		{"a URI SAN that is no SPIFFE ID", &httpsURI, "", "/api/authorize", authorize, 401, `scheme \"https\" is not spiffe`, false},
		{"two URI SANs", &twoIDs, "", "/api/authorize", authorize, 401, "has 2 URI SANs", false},
		{"an unconfigured trust domain", &otherDomain, "", "/api/authorize", authorize, 401, `trust domain \"staging.example\"`, false},
		{"no certificate, no key", nil, "", "/api/authorize", authorize, 401, "missing API key", false},
		{"no certificate, the admin key", nil, "mtls-test-admin-key", "/api/authorize", authorize, 200, `{"allowed":false}`, false},
		{"a certificate of another CA", &untrusted, "", "/api/authorize", authorize, 0, "", true},
		{"an expired certificate", &expired, "", "/api/authorize", authorize, 0, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, err := ask(tc.cert, tc.key, tc.path, tc.body)
			if tc.refusedTLS {
				if err == nil {
					t.Fatalf("accepted (status %d: %s), want the TLS handshake refused", status, body)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if status != tc.status || !strings.Contains(body, tc.want) {
				t.Fatalf("status %d %s, want %d with %q", status, body, tc.status, tc.want)
			}
		})
	}
	// The server is still up.
	if status, _, err := ask(&employee, "", "/api/authorize", authorize); err != nil || status != 200 {
		t.Fatalf("after the refusals: status %d, %v", status, err)
	}
}

func TestParseServeMutualTLS(t *testing.T) {
	dir := t.TempDir()
	file := func(content string) string {
		f, err := os.CreateTemp(dir, "*.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(content); err != nil {
			t.Fatal(err)
		}
		f.Close()
		return f.Name()
	}
	good := "tls_cert: c.pem\ntls_key: k.pem\nidentity:\n  client_ca: ca.pem\n  trust_domains:\n    - trust_domain: prod.example\n      actor_type: Agent\n      scope: write\n"
	runParseServe(t, []parseServeCase{
		{name: "client_ca and trust_domains", args: []string{"--config", file(good)},
			check: func(c serveConfig) any {
				return []any{c.Server.Identity.ClientCA, c.Server.Identity.TrustDomains[0].ActorType, c.Server.Identity.TrustDomains[0].Scope}
			},
			want: []any{"ca.pem", "Agent", "write"}},
		{name: "client_ca without TLS", args: []string{"--config", file(strings.Replace(good, "tls_cert: c.pem\ntls_key: k.pem\n", "", 1))},
			wantErr: "identity.client_ca needs --tls-cert"},
		{name: "trust_domains without client_ca", args: []string{"--config", file(strings.Replace(good, "  client_ca: ca.pem\n", "", 1))},
			wantErr: "client_ca and trust_domains go together"},
		{name: "a trust domain as a URI", args: []string{"--config", file(strings.Replace(good, "trust_domain: prod.example", "trust_domain: spiffe://prod.example", 1))},
			wantErr: "is not a SPIFFE trust domain name"},
		{name: "a bad scope", args: []string{"--config", file(strings.Replace(good, "scope: write", "scope: castellan:write", 1))},
			wantErr: `scope "castellan:write" is not read, write or admin`},
		{name: "an unknown key", args: []string{"--config", file(strings.Replace(good, "scope: write", "scopes: write", 1))},
			wantErr: `:8: unknown key "scopes" in identity.trust_domains[0] (known: trust_domain, actor_type, scope)`},
	})
}

// TestCAFile reaches an HTTPS server whose certificate no system CA
// signed: with --ca-file or CASTELLAN_CA_FILE it is trusted, without it
// the verb fails with an error (exit 3), and a file without a certificate
// is a usage error.
func TestCAFile(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, certFile, keyFile, 1)
	rs := startServe(t, nil, "--tls-cert", certFile, "--tls-key", keyFile)
	url := "https://" + rs.url[len("http://"):]
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	runSteps(t, map[string]string{"CASTELLAN_URL": url}, []step{
		{args: []string{"healthcheck", "--ca-file", certFile}, ignoreOut: true},
		{args: []string{"healthcheck"}, environ: map[string]string{"CASTELLAN_CA_FILE": certFile}, ignoreOut: true},
		{args: []string{"healthcheck"}, code: exitError, ignoreOut: true, stderrHas: "certificate"},
		{args: []string{"healthcheck", "--ca-file", notPEM}, code: exitUsage, ignoreOut: true, stderrHas: "no PEM certificate"},
		{args: []string{"healthcheck", "--ca-file", filepath.Join(dir, "missing.pem")}, code: exitUsage, ignoreOut: true, stderrHas: "--ca-file"},
	})
}
