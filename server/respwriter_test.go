package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestRespWriter checks what observe learns from respWriter: the first
// status counts (a second WriteHeader is dropped), a Write or Flush before any status means 200, bytes are
// counted, and http.ResponseController reaches the writer underneath.
func TestRespWriter(t *testing.T) {
	t.Run("first status", func(t *testing.T) {
		rec := httptest.NewRecorder()
		w := &respWriter{ResponseWriter: rec}
		w.WriteHeader(http.StatusTeapot)
		w.WriteHeader(http.StatusOK)
		n, _ := w.Write([]byte("hello"))
		if w.status != http.StatusTeapot || rec.Code != http.StatusTeapot {
			t.Errorf("status = %d, recorded %d; want 418 both", w.status, rec.Code)
		}
		if n != 5 || w.bytes != 5 {
			t.Errorf("wrote %d, counted %d; want 5", n, w.bytes)
		}
	})
	t.Run("write means 200", func(t *testing.T) {
		rec := httptest.NewRecorder()
		w := &respWriter{ResponseWriter: rec}
		_, _ = w.Write([]byte("a"))
		_, _ = w.Write([]byte("bc"))
		if w.status != http.StatusOK || w.bytes != 3 || rec.Body.String() != "abc" {
			t.Errorf("status %d, bytes %d, body %q", w.status, w.bytes, rec.Body)
		}
	})
	t.Run("flush", func(t *testing.T) {
		rec := httptest.NewRecorder()
		w := &respWriter{ResponseWriter: rec}
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Fatal(err)
		}
		if w.status != http.StatusOK || !rec.Flushed {
			t.Errorf("status %d, flushed %t; want 200, true", w.status, rec.Flushed)
		}
		if w.Unwrap() != rec {
			t.Error("Unwrap does not return the writer underneath")
		}
	})
}
