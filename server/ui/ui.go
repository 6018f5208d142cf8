// Package ui holds the static files a browser gets from a running server:
// the API documentation (docs/: Swagger UI, vendored from npm by
// scripts/vendor-docs with its license, and the page that points it at
// /openapi.json) and the console (console/: HTML, CSS and JavaScript
// modules of our own, no third-party code, calling only the public API
// with the key the user gives it). They are embedded, so nothing is
// fetched at run time and go build needs no build step. The server
// package serves them.
package ui

import (
	"embed"
	"io/fs"
)

//go:embed docs console
var files embed.FS

// Docs returns the API documentation's files, index.html at the root.
func Docs() (fs.FS, error) { return fs.Sub(files, "docs") }

// Console returns the console's files, index.html at the root.
func Console() (fs.FS, error) { return fs.Sub(files, "console") }
