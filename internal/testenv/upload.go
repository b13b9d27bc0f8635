package testenv

import (
	"context"
	"crypto/rand"
	"slices"
	"testing"
	"time"

	"github.com/rdbak/rdbak/storage"
)

// KilledUpload leaves what a backup killed during its upload leaves: it
// starts the data object of a new backup of target, writes 24 MiB, waits
// until repo.PendingUploads shows parts of it on the server, and then
// cancels the upload's context without Abort or Commit, as a process
// killed with SIGKILL would. It returns the backup's id.
func KilledUpload(t testing.TB, repo *storage.Repo, target string) string {
	t.Helper()
	ctx := t.Context()
	killed, kill := context.WithCancel(ctx)
	defer kill()
	id := storage.NewID(time.Now())
	up, err := repo.Create(killed, target, id, "dump.rdb.zst")
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for range 24 {
		rand.Read(chunk)
		if _, err := up.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		p, err := repo.PendingUploads(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) == 1 && p[0].ID == id && p[0].Parts > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no part on the server after 24 MiB written (%+v): the test would prove nothing", p)
		}
	}
	kill()
	_ = up.Commit() // fails: the upload's context is gone
	// A part the client sent before the kill can still land on the
	// server afterwards (the server finishes a request whose client went
	// away): wait until the server's view of the upload holds still for a
	// second, so what the caller sees next is all the killed upload left.
	var last []storage.PendingUpload
	for still, deadline := time.Now(), time.Now().Add(30*time.Second); time.Since(still) < time.Second; time.Sleep(100 * time.Millisecond) {
		p, err := repo.PendingUploads(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(p, last, func(a, b storage.PendingUpload) bool { return a.Parts == b.Parts && a.Size == b.Size }) {
			last, still = p, time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("the killed upload still changes on the server after 30 s: %+v", p)
		}
	}
	return id
}

// PutBackup commits a one-byte backup of target with id, created then:
// data first, manifest last, as a real backup does. For tests of what
// reads storage (listing, resolution, retention).
func PutBackup(t testing.TB, repo *storage.Repo, target, id string, created time.Time) {
	t.Helper()
	m := &storage.Manifest{Format: storage.ManifestFormat, ID: id, Target: target, Created: created, Finished: created.Add(time.Second),
		Data: storage.Data{Name: "dump.rdb.zst", RawSize: 1}}
	up, err := repo.Create(t.Context(), target, id, m.Data.Name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := up.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := repo.Commit(t.Context(), m); err != nil {
		t.Fatal(err)
	}
}
