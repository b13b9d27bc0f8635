package storage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

// stores starts every object store the suite runs against. The servers are
// real (MinIO, Azurite, fake-gcs-server); a missing one skips its subtest,
// or fails it under RDBAK_REQUIRE.
var stores = []struct {
	name  string
	start func(testing.TB) *testenv.ObjectStore
}{
	{"mem", testenv.MemBucket},
	{"file", testenv.FileBucket},
	{"minio", testenv.StartMinIO},
	{"azurite", testenv.StartAzurite},
	{"fake-gcs", testenv.StartFakeGCS},
}

// TestConformance runs the repository contract against every store.
func TestConformance(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			store := s.start(t)
			b, err := store.Open(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			repo := storage.NewRepo(b, store.URL)
			t.Cleanup(func() { _ = repo.Close() })
			Conformance(t, repo)
		})
	}
}

// put writes a complete backup with the given data and returns its manifest.
func put(t *testing.T, repo *storage.Repo, target string, created time.Time, data string) *storage.Manifest {
	t.Helper()
	return putID(t, repo, target, storage.NewID(created), created, data)
}

// Conformance checks the behaviour rdbak relies on from a repository.
func Conformance(t *testing.T, repo *storage.Repo) {
	ctx := t.Context()
	base := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

	if err := repo.Check(ctx); err != nil {
		t.Fatalf("Check on an empty store: %v", err)
	}
	if ms, _, err := repo.List(ctx, ""); err != nil || len(ms) != 0 {
		t.Fatalf("List(empty) = %d, %v; want none", len(ms), err)
	}
	if _, err := repo.Get(ctx, "", "latest"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get(latest) on empty store: err = %v, want ErrNotFound", err)
	}

	// Complete backups are listed in creation order and read back intact.
	a1 := put(t, repo, "alpha", base, "first")
	a2 := put(t, repo, "alpha", base.Add(time.Hour), strings.Repeat("second", 1000))
	b1 := put(t, repo, "beta", base.Add(30*time.Minute), "third")
	ms, problems, err := repo.List(ctx, "alpha")
	if err != nil || len(problems) != 0 {
		t.Fatalf("List(alpha): %v %v", err, problems)
	}
	if len(ms) != 2 || ms[0].ID != a1.ID || ms[1].ID != a2.ID {
		t.Fatalf("List(alpha) = %v, want [%s %s]", ids(ms), a1.ID, a2.ID)
	}
	if all, _, _ := repo.List(ctx, ""); len(all) != 3 {
		t.Fatalf("List(all) = %v, want 3 backups", ids(all))
	}
	if got, err := repo.Get(ctx, "alpha", "latest"); err != nil || got.ID != a2.ID {
		t.Fatalf("Get(alpha, latest) = %v, %v; want %s", got, err, a2.ID)
	}
	if _, err := repo.Get(ctx, "", "latest"); err == nil || !strings.Contains(err.Error(), "--target") {
		t.Fatalf("Get(latest) over two targets: err = %v, want an ambiguity error naming --target", err)
	}
	if got, err := repo.Get(ctx, "", b1.ID); err != nil || got.Target != "beta" {
		t.Fatalf("Get(\"\", %s) = %v, %v; want the beta backup", b1.ID, got, err)
	}
	if got, err := repo.AsOf(ctx, "alpha", base.Add(59*time.Minute), storage.ResolveOptions{}); err != nil || got.Manifest.ID != a1.ID {
		t.Fatalf("AsOf(+59m) = %v, %v; want %s", got, err, a1.ID)
	}
	if _, err := repo.AsOf(ctx, "alpha", base.Add(-time.Minute), storage.ResolveOptions{}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("AsOf(before all): err = %v, want ErrNotFound", err)
	}
	rd, err := repo.OpenData(ctx, a2)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rd)
	rd.Close()
	if err != nil || string(got) != strings.Repeat("second", 1000) {
		t.Fatalf("OpenData read %d bytes, %v; want the bytes written", len(got), err)
	}

	// An aborted upload leaves nothing behind.
	id := storage.NewID(base.Add(2 * time.Hour))
	up, err := repo.Create(ctx, "alpha", id, "dump.rdb.zst")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.Write(bytes.Repeat([]byte{1}, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := up.Abort(context.WithoutCancel(ctx)); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if orphans, err := repo.Orphans(ctx, "", time.Now().Add(time.Hour), 0); err != nil || len(orphans) != 0 {
		t.Fatalf("after Abort: orphans %v, %v; want none", orphans, err)
	}

	// Data without a manifest is not a backup; GC finds it after the grace.
	up, err = repo.Create(ctx, "alpha", id, "dump.rdb.zst")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(up, "orphaned")
	if err := up.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Get(ctx, "alpha", id); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get(manifest-less %s): err = %v, want ErrNotFound", id, err)
	}
	if ms, _, _ := repo.List(ctx, "alpha"); len(ms) != 2 {
		t.Fatalf("List lists a manifest-less backup: %v", ids(ms))
	}
	if orphans, _ := repo.Orphans(ctx, "", time.Now(), time.Hour); len(orphans) != 0 {
		t.Fatalf("Orphans within the grace period = %v, want none", orphans)
	}
	// gc shows it before it is collectable, with the time it will be.
	left, err := repo.Leftovers(ctx, "", time.Hour)
	if err != nil || len(left) != 1 || left[0].ID != id || !left[0].Collectable.Equal(left[0].Newest.Add(time.Hour)) || left[0].Newest.IsZero() {
		t.Fatalf("Leftovers within the grace period = %+v, %v; want %s, collectable an hour after it was written", left, err, id)
	}
	orphans, err := repo.Orphans(ctx, "", time.Now().Add(2*time.Hour), time.Hour)
	if err != nil || len(orphans) != 1 || orphans[0].ID != id {
		t.Fatalf("Orphans after the grace period = %v, %v; want %s", orphans, err, id)
	}
	if err := repo.DeleteOrphan(ctx, orphans[0]); err != nil {
		t.Fatal(err)
	}
	if orphans, _ := repo.Orphans(ctx, "", time.Now().Add(2*time.Hour), 0); len(orphans) != 0 {
		t.Fatalf("orphan still there after DeleteOrphan: %v", orphans)
	}

	// A drill record is never replaced.
	name := storage.DrillRecordName(base)
	if err := repo.PutDrillRecord(ctx, a2, name, []byte(`{}`)); err != nil {
		t.Fatalf("PutDrillRecord: %v", err)
	}
	if err := repo.PutDrillRecord(ctx, a2, name, []byte(`{"x":1}`)); !errors.Is(err, storage.ErrRecordExists) {
		t.Fatalf("PutDrillRecord over a record: err = %v, want ErrRecordExists", err)
	}

	// A freeze record is taken once, replaced by its holder, read back,
	// and seen by no listing of backups or leftovers.
	if _, err := repo.ReadFreeze(ctx, "alpha"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("ReadFreeze with none: err = %v, want ErrNotFound", err)
	}
	if err := repo.PutFreeze(ctx, "alpha", []byte(`{"a":1}`), true); err != nil {
		t.Fatalf("PutFreeze: %v", err)
	}
	if err := repo.PutFreeze(ctx, "alpha", []byte(`{"b":2}`), true); !errors.Is(err, storage.ErrRecordExists) {
		t.Fatalf("PutFreeze over a record: err = %v, want ErrRecordExists", err)
	}
	if err := repo.PutFreeze(ctx, "alpha", []byte(`{"a":2}`), false); err != nil {
		t.Fatalf("PutFreeze renewing: %v", err)
	}
	if b, err := repo.ReadFreeze(ctx, "alpha"); err != nil || string(b) != `{"a":2}` {
		t.Fatalf("ReadFreeze = %s, %v; want the renewed record", b, err)
	}
	if ms, probs, _ := repo.List(ctx, "alpha"); len(ms) != 2 || len(probs) != 0 {
		t.Fatalf("List with a freeze record = %v, problems %v", ids(ms), probs)
	}
	if left, _ := repo.Leftovers(ctx, "", 0); len(left) != 0 {
		t.Fatalf("Leftovers with a freeze record = %+v, want none", left)
	}
	if err := repo.DeleteFreeze(ctx, "alpha"); err != nil {
		t.Fatal(err)
	}
	if err := repo.DeleteFreeze(ctx, "alpha"); err != nil {
		t.Fatalf("DeleteFreeze with none: %v", err)
	}
	if _, err := repo.ReadFreeze(ctx, "alpha"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("ReadFreeze after DeleteFreeze: err = %v, want ErrNotFound", err)
	}

	// Delete removes a backup completely.
	if err := repo.Delete(ctx, a1); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Get(ctx, "alpha", a1.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get after Delete: err = %v, want ErrNotFound", err)
	}
	if orphans, _ := repo.Orphans(ctx, "", time.Now().Add(2*time.Hour), 0); len(orphans) != 0 {
		t.Fatalf("Delete left data behind: %v", orphans)
	}
	if _, err := repo.OpenData(ctx, a1); err == nil {
		t.Fatal("OpenData after Delete succeeded")
	}
}

func ids(ms []*storage.Manifest) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Target+"/"+m.ID)
	}
	return out
}

func TestOpenURLPrefix(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	repo, err := storage.Open(ctx, "file://"+dir+"/backups", storage.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	m := put(t, repo, "cache", time.Now(), "x")
	repo.Close()
	// The same directory through ?prefix= on its parent.
	repo, err = storage.Open(ctx, "file://"+dir+"?prefix=backups/", storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	if got, err := repo.Get(ctx, "cache", m.ID); err != nil || got.ID != m.ID {
		t.Fatalf("Get through ?prefix= = %v, %v", got, err)
	}
	if _, err := storage.Open(ctx, "s3://bucket/a?prefix=b/", storage.Options{}); err == nil || !strings.Contains(err.Error(), "both a path and ?prefix=") {
		t.Fatalf("path plus prefix: err = %v", err)
	}
	if _, err := storage.Open(ctx, "no-scheme", storage.Options{}); err == nil || !strings.Contains(err.Error(), "file:///") {
		t.Fatalf("bad URL: err = %v, want a hint", err)
	}
}
