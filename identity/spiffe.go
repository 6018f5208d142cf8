package identity

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// TrustDomain maps the workloads of one SPIFFE trust domain to callers:
// a client certificate whose SPIFFE ID (its URI SAN) is in the trust
// domain authenticates as ActorType{"spiffe://trust-domain/path"} with
// Scope.
type TrustDomain struct {
	// TrustDomain is the trust domain name, e.g. "prod.example" (not a
	// URI: no spiffe://).
	TrustDomain string
	// ActorType is the type of the workloads' actor (default Service).
	ActorType string
	// Scope is the Castellan scope of the workloads: read, write or admin.
	Scope string
}

// CheckCertificate is the check that failed when a client certificate
// names no usable SPIFFE ID.
const CheckCertificate = "certificate"

// validateSPIFFE reports the problems of the client certificate keys.
func (c Config) validateSPIFFE() []error {
	var errs []error
	if (c.ClientCA == "") != (len(c.TrustDomains) == 0) {
		errs = append(errs, errors.New("identity: client_ca and trust_domains go together (client certificates are verified against client_ca, then mapped by trust_domains)"))
	}
	for n, td := range c.TrustDomains {
		at := fmt.Sprintf("identity.trust_domains[%d]", n)
		if !validTrustDomain(td.TrustDomain) {
			errs = append(errs, fmt.Errorf("%s: trust_domain %q is not a SPIFFE trust domain name (lowercase letters, digits, '.', '-', '_'; e.g. prod.example)", at, td.TrustDomain))
		}
		if td.ActorType != "" && !isTypeName(td.ActorType) {
			errs = append(errs, fmt.Errorf("%s: actor_type %q is not a type name (e.g. Service, Agent)", at, td.ActorType))
		}
		switch td.Scope {
		case "read", "write", "admin":
		default:
			errs = append(errs, fmt.Errorf("%s: scope %q is not read, write or admin", at, td.Scope))
		}
		for m, other := range c.TrustDomains[:n] {
			if other.TrustDomain == td.TrustDomain {
				errs = append(errs, fmt.Errorf("%s: trust_domain %q is already identity.trust_domains[%d]", at, td.TrustDomain, m))
			}
		}
	}
	return errs
}

// ClientCAPool reads ClientCA, the PEM bundle of the certificate
// authorities client certificates must chain to (nil when not
// configured).
func (c Config) ClientCAPool() (*x509.CertPool, error) {
	if c.ClientCA == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(c.ClientCA)
	if err != nil {
		return nil, fmt.Errorf("identity.client_ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("identity.client_ca: %s holds no PEM certificate", c.ClientCA)
	}
	return pool, nil
}

// PeerConfigured reports whether client certificates identify callers.
func (v *Verifier) PeerConfigured() bool { return v != nil && len(v.domains) > 0 }

// VerifyPeer identifies the workload of a client certificate that TLS
// has verified against ClientCA (chain and validity period): by the
// SPIFFE ID of its single URI SAN, whose trust domain must be configured.
// A failure is an *Error (check "certificate").
func (v *Verifier) VerifyPeer(leaf *x509.Certificate) (*Identity, error) {
	if len(leaf.URIs) != 1 {
		return nil, failed(CheckCertificate, "the client certificate has %d URI SANs; an X.509-SVID has exactly one, its SPIFFE ID", len(leaf.URIs))
	}
	id := leaf.URIs[0]
	td, err := spiffeTrustDomain(id)
	if err != nil {
		return nil, failed(CheckCertificate, "the client certificate's URI SAN is not a SPIFFE ID: %s", err)
	}
	if leaf.IsCA {
		return nil, failed(CheckCertificate, "the client certificate is a CA certificate, not a workload's")
	}
	for _, d := range v.domains {
		if d.TrustDomain == td {
			typ := d.ActorType
			if typ == "" {
				typ = DefaultActorType
			}
			return &Identity{Type: typ, ID: id.String(), Scope: d.Scope, Issuer: "spiffe://" + td, Expires: leaf.NotAfter}, nil
		}
	}
	return nil, failed(CheckCertificate, "the trust domain %q of the client certificate's SPIFFE ID is not configured (identity.trust_domains)", td)
}

// spiffeTrustDomain checks that u is a SPIFFE ID (spiffe://trust-domain/path,
// as the SPIFFE ID specification defines it) and returns its trust domain.
func spiffeTrustDomain(u *url.URL) (string, error) {
	switch {
	case u.Scheme != "spiffe":
		return "", fmt.Errorf("scheme %q is not spiffe", u.Scheme)
	case u.User != nil, u.Port() != "", u.RawQuery != "", u.Fragment != "", u.Opaque != "":
		return "", errors.New("a SPIFFE ID has no user, port, query or fragment")
	case !validTrustDomain(u.Host):
		return "", fmt.Errorf("trust domain %q is not valid", u.Host)
	}
	if u.Path != "" {
		for _, seg := range strings.Split(u.Path, "/")[1:] {
			if seg == "" || seg == "." || seg == ".." {
				return "", errors.New("its path has an empty, '.' or '..' segment")
			}
			for _, r := range seg {
				if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
					return "", fmt.Errorf("its path has the character %q", r)
				}
			}
		}
	}
	return u.Host, nil
}

// validTrustDomain reports whether s is a SPIFFE trust domain name:
// lowercase letters, digits, '.', '-' and '_', at most 255 bytes.
func validTrustDomain(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
