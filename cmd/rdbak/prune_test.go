package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

// TestNowRetentionAndPrune: rdbak now applies the target's retention after
// a success (or not, with --no-prune) and calls the heartbeat only after a
// success; rdbak prune shows its plan, deletes only with --yes, and
// collects old orphans.
func TestNowRetentionAndPrune(t *testing.T) {
	src := testenv.StartRedis(t, testenv.RedisOptions{})
	testenv.FillAllTypes(t, src, 1)
	dir := t.TempDir()
	var beats atomic.Int32
	hb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { beats.Add(1) }))
	defer hb.Close()
	cfg := filepath.Join(t.TempDir(), "rdbak.yaml")
	writeFile(t, cfg, fmt.Sprintf(`storage: file://%s
targets:
  - name: cache
    redis: redis://%s
    retention: {keepLast: 2}
    heartbeat: {url: "%s/ping"}
  - name: down
    redis: redis://127.0.0.1:1
    heartbeat: {url: "%s/ping"}
`, dir, src.Addr, hb.URL, hb.URL))
	repo, err := storage.Open(t.Context(), "file://"+dir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()

	var ids []string
	for range 4 {
		r := run(t, nil, "now", "--config", cfg, "--target", "cache", "--no-prune")
		r.want(t, 0)
		ids = append(ids, strings.TrimSpace(r.stdout))
	}
	if got := repoIDs(t, repo, "cache"); len(got) != 4 || beats.Load() != 4 {
		t.Fatalf("after 4 backups with --no-prune: %d in storage, %d heartbeats; want 4 and 4", len(got), beats.Load())
	}
	run(t, nil, "now", "--config", cfg, "--target", "down").want(t, exitFailed, "127.0.0.1:1")
	if n := beats.Load(); n != 4 {
		t.Errorf("a failed backup called the heartbeat (%d calls, want 4)", n)
	}

	orphanID, orphan := oldOrphan(t, dir, "cache")

	r := run(t, nil, "prune", "--config", cfg)
	r.want(t, 0)
	for _, s := range []string{"target cache: keepLast=2", "keep  " + ids[3], "newest backup", "drop  " + ids[0], "not among the 2 newest",
		"orphan: would delete " + orphanID, "target down: keep everything", "dry run: pass --yes to delete 2 backups and 1 orphan"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("prune (dry run) output lacks %q:\n%s", s, r.stdout)
		}
	}
	if got := repoIDs(t, repo, "cache"); len(got) != 4 {
		t.Fatalf("a dry run deleted backups: %v", got)
	}
	run(t, nil, "prune", "--config", cfg, "--target", "nope").want(t, exitUsage, "nope")
	// Without a config, a --target with no backups is not an error (prune
	// has nothing to do) but says which targets have backups.
	r = run(t, nil, "prune", "--storage", "file://"+dir, "--target", "cahce", "--keep-last", "1")
	r.want(t, 0)
	if want := "no backups of target cahce: targets with backups in file://" + dir + ": cache (check --target)"; !strings.Contains(r.stderr, want) {
		t.Errorf("prune of a mistyped target: stderr lacks %q:\n%s", want, r.stderr)
	}

	r = run(t, nil, "prune", "--config", cfg, "--target", "cache", "--yes")
	r.want(t, 0)
	if !strings.Contains(r.stdout, "deleted 2 backups and 1 orphan") {
		t.Errorf("prune --yes output:\n%s", r.stdout)
	}
	if got := repoIDs(t, repo, "cache"); !slices.Equal(got, ids[2:]) {
		t.Errorf("after prune --yes: %v, want %v", got, ids[2:])
	}
	if _, err := os.Stat(orphan); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the orphan is still there: %v", err)
	}

	// Without --no-prune, rdbak now applies the policy itself, and
	// collects old orphans.
	_, orphan = oldOrphan(t, dir, "cache")
	r = run(t, nil, "now", "--config", cfg, "--target", "cache")
	r.want(t, 0)
	if got, want := repoIDs(t, repo, "cache"), []string{ids[3], strings.TrimSpace(r.stdout)}; !slices.Equal(got, want) {
		t.Errorf("after rdbak now with keepLast 2: %v, want %v", got, want)
	}
	if !strings.Contains(r.stderr, "backup pruned") || !strings.Contains(r.stderr, "orphan collected") {
		t.Errorf("rdbak now did not log the pruned backup and the orphan:\n%s", r.stderr)
	}
	if _, err := os.Stat(orphan); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rdbak now left the old orphan: %v", err)
	}
}

// oldOrphan writes what a failed backup leaves (data, no manifest), dated
// two days ago, and returns its id and file.
func oldOrphan(t *testing.T, dir, target string) (string, string) {
	t.Helper()
	old := time.Now().Add(-48 * time.Hour)
	id := storage.NewID(old)
	path := filepath.Join(dir, target, id, "dump.rdb.zst")
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, "partial")
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	return id, path
}
