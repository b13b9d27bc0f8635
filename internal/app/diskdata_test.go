package app

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/redis"
	"github.com/rdbak/rdbak/internal/testenv"
)

// TestDiskHoldsDataMatchesServers checks against each server what
// diskHoldsData relies on to skip the .pre-restore BGSAVE: after Redis
// loads its RDB at startup it counts no change and a save time after the
// file's ctime; a write, or a file copied over behind its back (even with
// an old mtime, as kubectl cp sets), makes the file not hold the data.
func TestDiskHoldsDataMatchesServers(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, s testenv.Server) {
		t.Parallel()
		r := testenv.StartRedis(t, testenv.RedisOptions{Server: s})
		testenv.FillAllTypes(t, r, 1)
		c := r.Client(t)
		if err := c.Save(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(r.Dir, "dump.rdb")
		holds := func() bool {
			t.Helper()
			cl := redis.New(redis.Options{Addr: r.Addr})
			defer cl.Close()
			in, err := cl.Info(t.Context(), "persistence")
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(file)
			if err != nil {
				t.Fatal(err)
			}
			return diskHoldsData(in.Persistence, fi.Sys().(*syscall.Stat_t).Ctim.Sec)
		}
		// The save time is whole seconds: a restart in the same second as
		// the save would count as a change.
		time.Sleep(1100 * time.Millisecond)
		r.Stop()
		r.Restart(t)
		if !holds() {
			t.Fatal("after loading its RDB at startup, the file does not count as holding the data")
		}
		if err := r.Client(t).Set(t.Context(), "new", "write", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if holds() {
			t.Error("after a write, the file still counts as holding the data")
		}

		// A file copied over the RDB while Redis runs, no write since.
		if err := r.Client(t).Save(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond)
		r.Stop()
		r.Restart(t)
		if !holds() {
			t.Fatal("after a save and a restart, the file does not count as holding the data")
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		other := filepath.Join(r.Dir, "copied.rdb")
		if err := os.WriteFile(other, b[:len(b)-1], 0o644); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-time.Hour)
		if err := os.Chtimes(other, old, old); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(other, file); err != nil {
			t.Fatal(err)
		}
		if holds() {
			t.Error("a file copied in behind Redis's back, with an old mtime, counts as holding the data")
		}
	})
}
