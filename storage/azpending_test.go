package storage_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

// TestGCFindsKilledAzureUpload: a backup killed during its Azure upload
// leaves staged, uncommitted blocks that no listing of objects shows.
// PendingUploads finds them with their size, AbortPending discards them.
func TestGCFindsKilledAzureUpload(t *testing.T) {
	store := testenv.StartAzurite(t)
	for _, kv := range store.Env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	ctx := t.Context()
	url := strings.Replace(store.URL, "azblob://"+store.Bucket, "azblob://"+store.Bucket+"/prod", 1)
	repo, err := storage.Open(ctx, url, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	done := put(t, repo, "cache", time.Now(), "a complete backup")

	id := testenv.KilledUpload(t, repo, "cache")

	if left, err := repo.Leftovers(ctx, "", 0); err != nil || len(left) != 0 {
		t.Fatalf("Leftovers = %+v, %v; uncommitted blocks are no object, so none", left, err)
	}
	pending, err := repo.PendingUploads(ctx, time.Hour)
	if err != nil || len(pending) != 1 {
		t.Fatalf("PendingUploads = %+v, %v; want the killed upload alone", pending, err)
	}
	p := pending[0]
	if p.Key != "cache/"+id+"/dump.rdb.zst" || p.ID != id || p.Size == 0 || !p.Collectable.Equal(p.Initiated.Add(time.Hour)) || p.Initiated.IsZero() {
		t.Errorf("PendingUploads()[0] = %+v, want cache/%s/dump.rdb.zst with its blocks' bytes, collectable an hour after it started", p, id)
	}
	if err := repo.AbortPending(ctx, p); err != nil {
		t.Fatal(err)
	}
	if pending, err := repo.PendingUploads(ctx, 0); err != nil || len(pending) != 0 {
		t.Fatalf("after AbortPending: %+v, %v; want none", pending, err)
	}
	if left, err := repo.Leftovers(ctx, "", 0); err != nil || len(left) != 0 {
		t.Fatalf("AbortPending left %+v, %v", left, err)
	}
	// A committed object is never touched by AbortPending.
	if err := repo.AbortPending(ctx, storage.PendingUpload{Key: "cache/" + done.ID + "/dump.rdb.zst"}); err != nil {
		t.Fatalf("AbortPending of a committed blob: %v, want nil (left alone)", err)
	}
	if _, err := repo.Resolve(ctx, "cache", done.ID, storage.ResolveOptions{}); err != nil {
		t.Fatalf("the complete backup after AbortPending: %v", err)
	}
}
