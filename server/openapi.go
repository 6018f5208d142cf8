package server

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/go-chi/chi/v5"
	"gopkg.in/yaml.v3"

	"github.com/castellan-authz/castellan/server/ui"
)

// openapiYAML is the OpenAPI 3.1 document of the API, written as YAML
// (comments, anchors for the eye) and served as JSON on /openapi.json.
// openapi_test.go keeps it true: every route is in it and the reverse, and
// the responses of the handler tests validate against it.
//
//go:embed openapi.yaml
var openapiYAML []byte

// openapiJSON converts the embedded document to JSON, once per server.
func openapiJSON() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(openapiYAML, &doc); err != nil {
		return nil, fmt.Errorf("decoding openapi.yaml: %w", err)
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encoding openapi.yaml as JSON: %w", err)
	}
	return append(body, '\n'), nil
}

// browserCSP is the Content-Security-Policy of the pages a browser loads:
// scripts and styles from this server only (no inline script), no framing.
const browserCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// routeBrowser adds what a browser gets: the document, the API docs, the
// console and, for a browser at /, a redirect to the console (an API
// client still gets the 404 envelope there). None needs a key to load:
// the docs and the console call the API with the key the user gives them.
func (s *Server) routeBrowser(r chi.Router) error {
	doc, err := openapiJSON()
	if err != nil {
		return err
	}
	docs, err := ui.Docs()
	if err != nil {
		return err
	}
	r.Get("/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(doc)
	})
	r.Get("/docs", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/docs/", http.StatusMovedPermanently)
	})
	r.Get("/docs/*", staticFiles("/docs/", docs))
	console, err := ui.Console()
	if err != nil {
		return err
	}
	r.Get("/ui", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusMovedPermanently)
	})
	r.Get("/ui/*", staticFiles("/ui/", console))
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		if wantsHTML(r) {
			http.Redirect(w, r, "/ui/", http.StatusSeeOther)
			return
		}
		writeError(w, r, errorf(http.StatusNotFound, codeNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return nil
}

// staticFiles serves the files of fsys under prefix with the safety
// headers; a file that does not exist, or a directory without an
// index.html, is the 404 envelope.
func staticFiles(prefix string, fsys fs.FS) http.HandlerFunc {
	files := http.StripPrefix(prefix, http.FileServerFS(fsys))
	return func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, prefix), "/")
		if name == "" {
			name = "."
		}
		info, err := fs.Stat(fsys, name)
		if err == nil && info.IsDir() {
			_, err = fs.Stat(fsys, path.Join(name, "index.html")) // no listings
		}
		if err != nil {
			writeError(w, r, errorf(http.StatusNotFound, codeNotFound, "no such file: %s", r.URL.Path))
			return
		}
		browserHeaders(w)
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}
}

// browserHeaders sets the safety headers of every page and asset.
func browserHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", browserCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// wantsHTML reports whether the request's Accept header names text/html, as
// a browser's navigation does (API clients send application/json, */* or
// nothing).
func wantsHTML(r *http.Request) bool {
	for part := range strings.SplitSeq(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/html" {
			return true
		}
	}
	return false
}
