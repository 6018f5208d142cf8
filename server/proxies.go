package server

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// trustedProxies are the peers whose forwarding headers (X-Forwarded-For,
// X-Forwarded-Proto) are believed: Config.TrustedProxies, parsed. The zero
// value trusts no one.
type trustedProxies []netip.Prefix

// parseTrustedProxies parses CIDRs ("10.0.0.0/8") and single addresses
// ("10.0.0.1", taken as /32 or /128).
func parseTrustedProxies(list []string) (trustedProxies, error) {
	var out trustedProxies
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is neither a CIDR nor an IP address", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// trusts reports whether a is one of the trusted proxies.
func (t trustedProxies) trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peer returns the address of the connection's other end (invalid when
// RemoteAddr is not an IP, as in some tests).
func peer(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// peerTrusted reports whether r came through a trusted proxy.
func (t trustedProxies) peerTrusted(r *http.Request) bool {
	a := peer(r)
	return a.IsValid() && t.trusts(a)
}

// client returns the address of the client that made r: the peer, or,
// when the peer is a trusted proxy, the right-most X-Forwarded-For address
// that is not a trusted proxy itself (entries further left were written by
// the client and cannot be believed).
func (t trustedProxies) client(r *http.Request) string {
	a := peer(r)
	if !a.IsValid() {
		return r.RemoteAddr
	}
	if !t.trusts(a) {
		return a.String()
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			h, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return a.String() // a garbled chain: the proxy is the client we know
			}
			if h = h.Unmap(); !t.trusts(h) {
				return h.String()
			}
			a = h
		}
	}
	return a.String()
}
