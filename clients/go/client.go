package castellan

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// DefaultUserAgent is the User-Agent sent unless WithUserAgent sets another.
const DefaultUserAgent = "castellan-go/1"

// maxResponseBytes bounds how much of a response body the client reads.
const maxResponseBytes = 64 << 20

// Client talks to one Castellan server. It is safe for concurrent use.
type Client struct {
	baseURL   string
	apiKey    string
	http      *http.Client
	userAgent string

	mu     sync.Mutex
	offset string // newest OsoOffset returned by a write
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send its requests through hc (for
// timeouts, transports, TLS). The default is http.DefaultClient.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.http = hc }
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// New returns a client of the server at baseURL (such as
// "http://localhost:8080") that authenticates with apiKey. An empty apiKey
// sends no Authorization header (a server in dev mode accepts that).
func New(baseURL, apiKey string, opts ...Option) *Client {
	c := &Client{
		baseURL:   strings.TrimRight(baseURL, "/"),
		apiKey:    apiKey,
		http:      http.DefaultClient,
		userAgent: DefaultUserAgent,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// BaseURL returns the server URL the client was created with.
func (c *Client) BaseURL() string { return c.baseURL }

// Offset returns the newest revision token (OsoOffset) a write of this
// client returned, or "" before the first write.
func (c *Client) Offset() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

// SetOffset makes later requests read at least the revision named by the
// token (an OsoOffset value from another client, for example).
func (c *Client) SetOffset(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = token
}

// noteOffset keeps the newer of the remembered token and tok. Tokens that
// are both integers are compared as numbers; otherwise the last one wins.
func (c *Client) noteOffset(tok string) {
	if tok == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, err := strconv.ParseInt(c.offset, 10, 64); err == nil {
		if nw, err := strconv.ParseInt(tok, 10, 64); err == nil && nw < old {
			return
		}
	}
	c.offset = tok
}

// call describes one request.
type call struct {
	method string
	path   string     // absolute path, such as "/api/authorize"
	query  url.Values // nil for none
	body   any        // JSON-encoded when not nil
	write  bool       // a mutation: remember the OsoOffset it returns
}

// response is what do returns on a 2xx.
type response struct {
	status int
	header http.Header
}

// do sends cl and decodes a 2xx JSON body into out (when out is not nil).
// A non-2xx becomes an *Error.
func (c *Client) do(ctx context.Context, cl call, out any) (response, error) {
	u := c.baseURL + cl.path
	if len(cl.query) > 0 {
		u += "?" + cl.query.Encode()
	}
	var body io.Reader
	if cl.body != nil {
		b, err := json.Marshal(cl.body)
		if err != nil {
			return response{}, fmt.Errorf("castellan: encoding %s %s: %w", cl.method, cl.path, err)
		}
		body = bytes.NewReader(b)
	}
	ctype := ""
	if cl.body != nil {
		ctype = "application/json"
	}
	req, reqID, err := c.newRequest(ctx, cl.method, u, body, ctype)
	if err != nil {
		return response{}, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("castellan: %s %s: %w", cl.method, cl.path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return response{}, fmt.Errorf("castellan: reading response of %s %s: %w", cl.method, cl.path, err)
	}
	if id := resp.Header.Get("X-Request-ID"); id != "" {
		reqID = id
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return response{}, decodeError(resp.StatusCode, reqID, resp.Header.Get("Retry-After"), raw)
	}
	if cl.write {
		c.noteOffset(resp.Header.Get("OsoOffset"))
	}
	if out != nil && len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return response{}, fmt.Errorf("castellan: decoding response of %s %s: %w", cl.method, cl.path, err)
		}
	}
	return response{status: resp.StatusCode, header: resp.Header}, nil
}

// newRequest returns a request to url u with the client's headers (key,
// user agent, request id, OsoOffset) and the request id it carries;
// ctype, when not empty, is the body's Content-Type.
func (c *Client) newRequest(ctx context.Context, method, u string, body io.Reader, ctype string) (*http.Request, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, "", fmt.Errorf("castellan: %w", err)
	}
	reqID := newRequestID()
	req.Header.Set("Accept", "application/json")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("X-Request-ID", reqID)
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	if off := c.Offset(); off != "" {
		req.Header.Set("OsoOffset", off)
	}
	return req, reqID, nil
}

// decodeError turns a non-2xx response into an *Error. A body that is not
// the JSON envelope becomes the message as text.
func decodeError(status int, reqID, retryAfter string, raw []byte) *Error {
	e := &Error{StatusCode: status, RequestID: reqID, retryAfter: parseRetryAfter(retryAfter)}
	var env struct {
		Message string        `json:"message"`
		Code    string        `json:"code"`
		Details []ErrorDetail `json:"details"`
	}
	if err := json.Unmarshal(raw, &env); err == nil && env.Message != "" {
		e.Message, e.Code, e.Details = env.Message, env.Code, env.Details
		return e
	}
	e.Message = strings.TrimSpace(string(raw))
	if len(e.Message) > 512 {
		e.Message = e.Message[:512] + "..."
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// newRequestID returns a random UUID (version 4).
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// messageResponse is the {"message": ...} answer of writes.
type messageResponse struct {
	Message string `json:"message"`
}

// Health checks that the server answers (GET /api/healthcheck).
func (c *Client) Health(ctx context.Context) error {
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/api/healthcheck"}, nil)
	return err
}

// Ready checks that the server is ready to answer questions (GET /readyz,
// which fails while the server's store is unreachable or still loading).
func (c *Client) Ready(ctx context.Context) error {
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/readyz"}, nil)
	return err
}
