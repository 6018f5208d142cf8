package main

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/castellan-authz/castellan/identity"
)

// certReloader serves the certificate in certFile/keyFile and loads it
// again when either file changes (checked at most every checkEvery), so a
// renewed certificate is picked up without a restart. A broken pair on
// disk keeps the last good certificate in use.
type certReloader struct {
	certFile, keyFile string
	checkEvery        time.Duration

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   [2]time.Time
	checked time.Time
	onError func(error)
}

// newCertReloader loads the pair once; an unreadable pair is an error.
func newCertReloader(certFile, keyFile string, onError func(error)) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile, checkEvery: time.Second, onError: onError}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *certReloader) stamps() ([2]time.Time, error) {
	var st [2]time.Time
	for i, f := range []string{c.certFile, c.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return st, err
		}
		st[i] = fi.ModTime()
	}
	return st, nil
}

// load reads the pair; the caller holds mu or owns c.
func (c *certReloader) load() error {
	st, err := c.stamps()
	if err != nil {
		return fmt.Errorf("reading the TLS certificate: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("loading the TLS certificate: %w", err)
	}
	c.cert, c.stamp = &cert, st
	return nil
}

// getCertificate is tls.Config.GetCertificate.
func (c *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); now.Sub(c.checked) >= c.checkEvery {
		c.checked = now
		if st, err := c.stamps(); err == nil && st != c.stamp {
			if err := c.load(); err != nil && c.onError != nil {
				c.onError(err)
			}
		}
	}
	return c.cert, nil
}

// serverTLS is the TLS configuration of serve: certs as the server's
// certificate and, when id has a client_ca, client certificates
// requested and, when a client sends one, verified against it (chain and
// validity period) before the request reaches the server, which maps its
// SPIFFE ID to a caller. A client without a certificate still connects,
// to authenticate with an API key or a caller token.
func serverTLS(certs *certReloader, id identity.Config) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.getCertificate}
	pool, err := id.ClientCAPool()
	if err != nil {
		return nil, err
	}
	if pool != nil {
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}
