package app

import (
	"io/fs"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestSentinelFailoverDuringBackup triggers SENTINEL FAILOVER while a
// replica streams a slow snapshot, on every version: the backup either
// fails with nothing stored, or is stored naming the node it streamed
// from, with the data it had. A backup after the failover uses the new
// topology.
func TestSentinelFailoverDuringBackup(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, srv testenv.Server) {
		t.Parallel()
		s := testenv.StartReplicaSet(t, sentinelSetOptions(srv))
		testenv.FillAllTypes(t, s.Master, 1)
		waitReplicated(t, s, s.Master)
		want := s.Master.Digest(t)
		keys := 0
		for db := range 16 {
			c := s.Master.Client(t)
			if err := c.Do(t.Context(), "SELECT", db).Err(); err != nil {
				break
			}
			n, _ := c.DBSize(t.Context()).Result()
			keys += int(n)
			_ = c.Do(t.Context(), "SELECT", 0).Err()
		}
		// About four seconds of snapshot, whatever the key count.
		delay := strconv.Itoa(4_000_000 / max(keys, 1))
		for _, r := range s.Replicas {
			if err := r.Client(t).ConfigSet(t.Context(), "rdb-key-save-delay", delay).Err(); err != nil {
				t.Fatal(err)
			}
		}
		dir := t.TempDir()
		repo, err := storage.Open(t.Context(), "file://"+dir, storage.Options{Create: true})
		if err != nil {
			t.Fatal(err)
		}
		defer repo.Close()
		before := filesUnder(t, dir)
		a := &App{Log: slog.New(slog.DiscardHandler), Version: "test"}
		comp, _ := Compression(config.Compression{})
		tgt := sentinelTarget(t, s, "data-pw")
		type outcome struct {
			m   *storage.Manifest
			err error
		}
		done := make(chan outcome, 1)
		go func() {
			res, err := a.Backup(t.Context(), tgt, repo, comp, nil)
			o := outcome{err: err}
			if res != nil {
				o.m = res.Manifest
			}
			done <- o
		}()
		// Wait until a replica forks for the snapshot, then fail over.
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
			forked := false
			for _, r := range s.Replicas {
				in, err := r.Client(t).Info(t.Context(), "persistence").Result()
				forked = forked || err == nil && strings.Contains(in, "rdb_bgsave_in_progress:1")
			}
			if forked {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no replica forked for the snapshot")
			}
		}
		if err := s.SentinelClient(t, 0).Do(t.Context(), "SENTINEL", "FAILOVER", s.Name).Err(); err != nil {
			t.Fatalf("SENTINEL FAILOVER: %v", err)
		}
		o := <-done
		if o.err != nil {
			t.Logf("backup during the failover failed, as it may: %v", o.err)
			if ms, _, _ := repo.List(t.Context(), "orders"); len(ms) != 0 {
				t.Errorf("a failed backup left %d manifests", len(ms))
			}
			if after := filesUnder(t, dir); !slices.Equal(after, before) {
				t.Errorf("a failed backup left objects: %v (before: %v)", after, before)
			}
		} else {
			tp := o.m.Topology
			t.Logf("backup during the failover stored: chosen %s, master before %s, after %q", tp.Chosen, tp.Master, tp.MasterAfter)
			if !strings.Contains(o.m.Source.Origin, tp.Chosen) {
				t.Errorf("manifest origin %q does not name the chosen node %s", o.m.Source.Origin, tp.Chosen)
			}
			if got := loadedDigest(t, repo, o.m, srv); got != want {
				t.Errorf("the stored snapshot has digest %s, want %s", got, want)
			}
		}

		next := s.CurrentMaster(t)
		for deadline := time.Now().Add(time.Minute); next == s.Master; next = s.CurrentMaster(t) {
			if time.Now().After(deadline) {
				t.Fatal("no failover after SENTINEL FAILOVER")
			}
			time.Sleep(100 * time.Millisecond)
		}
		s.WaitSettled(t, next)
		for _, r := range s.Nodes() {
			_ = r.Client(t).ConfigSet(t.Context(), "rdb-key-save-delay", "0").Err()
		}
		res, err := a.Backup(t.Context(), tgt, repo, comp, nil)
		if err != nil {
			t.Fatalf("backup after the failover: %v", err)
		}
		if tp := res.Manifest.Topology; tp.Master != next.Addr || tp.ChosenRole != "replica" || tp.Chosen == next.Addr {
			t.Errorf("after the failover: topology %+v, want a replica of the new master %s", tp, next.Addr)
		}
		if got := loadedDigest(t, repo, res.Manifest, srv); got != want {
			t.Errorf("backup after the failover has digest %s, want %s", got, want)
		}
	})
}
