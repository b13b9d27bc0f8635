//go:build !rdbak_nogcs

package storage_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/testenv"
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

// TestGCSDeniedIsNotMissing: GCS answers 403 to a read or delete the
// credentials may not make, and gocloud.dev reports that as not found.
// Taken at its word, list and status showed no backups (each manifest
// "deleted while listing"), and prune reported deletions that never
// happened. Both must fail with the denial.
func TestGCSDeniedIsNotMissing(t *testing.T) {
	store := testenv.StartFakeGCS(t)
	b, err := store.Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	direct := storage.NewRepo(b, store.URL)
	defer direct.Close()
	id := storage.NewID(time.Now())
	testenv.PutBackup(t, direct, "cache", id, time.Now())

	// Lists pass; reads of the manifest and every delete are denied.
	target, err := url.Parse(store.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	upstream := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete || strings.Contains(r.URL.Path, storage.ManifestName) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error":{"code":403,"message":"rdbak@p.iam.gserviceaccount.com does not have storage.objects.get access","errors":[{"reason":"forbidden"}]}}`))
			return
		}
		upstream.ServeHTTP(w, r)
	}))
	defer srv.Close()
	t.Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(srv.URL, "http://"))
	repo, err := storage.Open(t.Context(), store.URL, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()

	ms, problems, err := repo.List(t.Context(), "")
	if err == nil && (len(problems) != 1 || !strings.Contains(problems[0].Err.Error(), "403")) {
		t.Errorf("List with manifest reads denied = %d backups, problems %v, err %v; want the 403 named", len(ms), problems, err)
	}
	m := &storage.Manifest{ID: id, Target: "cache", Data: storage.Data{Name: "dump.rdb.zst"}}
	if err := repo.Delete(t.Context(), m); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("Delete with deletes denied: err = %v, want the 403", err)
	}
	if _, err := direct.Get(t.Context(), "cache", id); err != nil {
		t.Errorf("the backup after a denied delete: %v", err)
	}
}
