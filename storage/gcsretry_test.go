//go:build !rdbak_nogcs

package storage_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/storage"
)

// TestGCSGivesUp: a GCS endpoint that answers every request with a proxy's
// HTML 502 fails the command with that answer. The Google client retries
// such errors until its context ends, and rdbak's commands have no
// deadline: list, status, now and a daemon's backups hung for ever.
func TestGCSGivesUp(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>\n"))
	}))
	defer srv.Close()
	t.Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(srv.URL, "http://"))
	// Far longer than the retries take: only a hang reaches it.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	repo, err := storage.Open(ctx, "gs://rdbak-test", storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	err = repo.Check(ctx)
	if ctx.Err() != nil || err == nil || !strings.Contains(err.Error(), "502") {
		t.Fatalf("Check against a 502 proxy: err = %v (context: %v), want the 502 before the context ends", err, ctx.Err())
	}
}
