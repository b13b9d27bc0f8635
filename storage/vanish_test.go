package storage_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"syscall"
	"testing"
	"time"

	"github.com/rdbak/rdbak/drill"
	"github.com/rdbak/rdbak/storage"
)

// fileRepo opens a file:// repository in a new directory, as the daemon
// and the CLI do.
func fileRepo(t *testing.T) *storage.Repo {
	t.Helper()
	repo, err := storage.Open(t.Context(), "file://"+t.TempDir(), storage.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = repo.Close() })
	return repo
}

// vanishedErr is how gocloud's fileblob fails a listing when a file it
// read in a directory is gone before it stats it.
func vanishedErr(path string) error {
	return fmt.Errorf("blob (code=NotFound): %w", &fs.PathError{Op: "lstat", Path: path, Err: syscall.ENOENT})
}

// TestListingRetriesVanishedFiles: a listing of file:// storage that
// fails because a file vanished under it (a temporary file renamed by a
// commit, a file deleted by prune) is listed again; other listing errors
// are not.
func TestListingRetriesVanishedFiles(t *testing.T) {
	base := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name      string
		fails     int
		err       error
		wantErr   error // nil: the listing succeeds
		wantPages int32 // 0: more than one
	}{
		{name: "vanished a few times", fails: 3, err: vanishedErr("a/x/manifest.json.18ebf47d933d7706.tmp"), wantPages: 4},
		{name: "vanished every time", fails: math.MaxInt, err: vanishedErr("a/x/dump.rdb.zst"), wantErr: fs.ErrNotExist},
		{name: "permission denied", fails: math.MaxInt, err: fmt.Errorf("blob: %w", &fs.PathError{Op: "lstat", Path: "a/x", Err: syscall.EACCES}), wantErr: fs.ErrPermission, wantPages: 1},
		{name: "unreachable", fails: math.MaxInt, err: errors.New("dial tcp: connection refused"), wantPages: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			repo := fileRepo(t)
			put(t, repo, "a", base, "first")
			want := put(t, repo, "a", base.Add(time.Hour), "second")
			for what, call := range map[string]func() error{
				"Resolve(latest)": func() error {
					sel, err := repo.Resolve(t.Context(), "a", storage.Latest, storage.ResolveOptions{})
					if err == nil && sel.Manifest.ID != want.ID {
						return fmt.Errorf("resolved %s, want %s", sel.Manifest.ID, want.ID)
					}
					return err
				},
				"Check": func() error { return repo.Check(t.Context()) },
			} {
				pages := storage.FailListing(repo, c.fails, c.err)
				err := call()
				switch {
				case c.fails < math.MaxInt && err != nil:
					t.Errorf("%s = %v, want it to list again and succeed", what, err)
				case c.fails == math.MaxInt && err == nil:
					t.Errorf("%s succeeded, want the listing's error", what)
				case c.wantErr != nil && !errors.Is(err, c.wantErr):
					t.Errorf("%s = %v, want %v", what, err, c.wantErr)
				}
				if n := pages.Load(); (c.wantPages > 0 && n != c.wantPages) || (c.wantPages == 0 && n < 2) {
					t.Errorf("%s listed %d pages, want %d (0: more than one, but not forever)", what, n, c.wantPages)
				}
			}
		})
	}
}

// TestFileListingDuringWrites resolves the latest backup of a target of
// file:// storage while other backups of it are committed, drilled and
// deleted, as the daemon's backups, drills and prunes of one target do at
// once: no listing may fail. fileblob writes each object as <key>.<n>.tmp and renames it, and
// fails a listing that meets a file it cannot stat any more.
func TestFileListingDuringWrites(t *testing.T) {
	ctx := t.Context()
	repo := fileRepo(t)
	base := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	kept := put(t, repo, "a", base, "kept")
	// Older backups than the newest come and go, as a backup and a prune
	// of old ones do.
	churn := func(ctx context.Context, i int) error {
		at := base.Add(-time.Duration(i+1) * time.Minute)
		m := &storage.Manifest{Format: storage.ManifestFormat, ID: storage.NewID(at), Target: "a", Created: at, Finished: at,
			Data: storage.Data{Name: storage.DataName("zst"), RawSize: 4}}
		up, err := repo.Create(ctx, "a", m.ID, m.Data.Name)
		if err != nil {
			return err
		}
		if _, err := up.Write([]byte("data")); err != nil {
			return errors.Join(err, up.Abort(ctx))
		}
		if err := up.Commit(); err != nil {
			return err
		}
		if err := repo.Commit(ctx, m); err != nil {
			return err
		}
		rec := &drill.Record{Target: "a", BackupID: m.ID, Started: at, Checks: []drill.Check{{Name: "verify", OK: true}}}
		rec.Finish(at)
		if _, err := drill.Save(ctx, repo, m, rec); err != nil {
			return err
		}
		return repo.Delete(ctx, m)
	}
	done := make(chan error, 1)
	go func() {
		var err error
		for i := 0; i < 300 && err == nil; i++ {
			err = churn(ctx, i)
		}
		done <- err
	}()
	var (
		lists  int
		failed []error
	)
	for writing := true; writing; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("write and delete backups: %v", err)
			}
			writing = false
		default:
		}
		_, err := repo.Resolve(ctx, "a", storage.Latest, storage.ResolveOptions{})
		if _, derr := repo.DrillRecords(ctx, "a", ""); err == nil {
			err = derr
		}
		lists++
		if err != nil {
			failed = append(failed, err)
		}
	}
	if len(failed) > 0 {
		t.Errorf("%d of %d listings during writes failed; the first: %v", len(failed), lists, failed[0])
	}
	if sel, err := repo.Resolve(ctx, "a", storage.Latest, storage.ResolveOptions{}); err != nil || sel.Manifest.ID != kept.ID {
		t.Errorf("Resolve(latest) after the writes: %v, %v; want %s", sel.Manifest, err, kept.ID)
	}
}
