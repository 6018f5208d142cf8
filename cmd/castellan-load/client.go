package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// The load generator shares the machine's cores with the server it
// measures, so what it spends per request bounds what is measured. Two
// HTTP clients are offered (-client): the standard library's (the default,
// the one every earlier figure was taken with) and fasthttp's, which
// sends and reads on the calling goroutine (net/http hands each request
// and answer between the caller and two goroutines per connection, and
// most of its CPU is those wake-ups and small reads; fasthttp's is about
// 40% less per request in batches of 100 on these machines).

// clientNames are the -client values.
var clientNames = []string{"net/http", "fasthttp"}

// poster sends POST requests to the server.
type poster interface {
	// post sends body to url with header, reads the answer into *buf and
	// returns its status.
	post(ctx context.Context, url string, header map[string]string, body []byte, buf *[]byte) (int, error)
	// close drops the idle connections.
	close()
}

// newPoster returns the -client named name, keeping up to conns idle
// connections per host.
func newPoster(name string, conns int) (poster, error) {
	switch name {
	case "net/http":
		return &stdPoster{client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			// Batches of 100 are about 8 KB and their answers up to
			// 20 KB: read and write them in one call, not 4 KB at a time.
			ReadBufferSize:  64 << 10,
			WriteBufferSize: 64 << 10,
		}}}, nil
	case "fasthttp":
		return &fastPoster{client: &fasthttp.Client{
			MaxConnsPerHost:     conns,
			ReadBufferSize:      64 << 10,
			WriteBufferSize:     64 << 10,
			MaxIdleConnDuration: 90 * time.Second,
		}}, nil
	}
	return nil, fmt.Errorf("-client: unknown client %q (known: %s)", name, strings.Join(clientNames, ", "))
}

// stdPoster posts with net/http.
type stdPoster struct{ client *http.Client }

func (p *stdPoster) post(ctx context.Context, url string, header map[string]string, body []byte, buf *[]byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b := bytes.NewBuffer((*buf)[:0])
	_, err = io.Copy(b, resp.Body)
	*buf = b.Bytes()
	if err != nil {
		return 0, fmt.Errorf("reading the answer: %w", err)
	}
	return resp.StatusCode, nil
}

func (p *stdPoster) close() { p.client.CloseIdleConnections() }

// fastPoster posts with fasthttp. A request ends at ctx's deadline, or
// after 30 s without one; a cancellation without a deadline is seen only
// when the request ends.
type fastPoster struct{ client *fasthttp.Client }

func (p *fastPoster) post(ctx context.Context, url string, header map[string]string, body []byte, buf *[]byte) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.SetMethod(http.MethodPost)
	req.Header.SetContentType("application/json")
	req.Header.Set("Accept", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	req.SetBodyRaw(body)
	deadline, fromCtx := ctx.Deadline()
	if !fromCtx {
		deadline = time.Now().Add(30 * time.Second)
	}
	if err := p.client.DoDeadline(req, resp, deadline); err != nil {
		if fromCtx && errors.Is(err, fasthttp.ErrTimeout) {
			// ctx's deadline passed: its timer fires about now, and the
			// caller tells a cut-off request from an error by ctx.Err().
			<-ctx.Done()
			return 0, ctx.Err()
		}
		return 0, err
	}
	*buf = append((*buf)[:0], resp.Body()...)
	return resp.StatusCode(), nil
}

func (p *fastPoster) close() { p.client.CloseIdleConnections() }
