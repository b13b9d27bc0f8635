package backup_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/redis"
	"github.com/rdbak/rdbak/internal/testenv"
)

// TestFileSourceRefusesStaleFile points --dir at a directory holding an
// older dump of another server: BGSAVE writes into Redis's own dir, and
// the file read afterwards is not what it wrote. The backup must fail and
// store nothing, naming both times. On every server: the RDB's ctime and
// INFO's server_time_usec are the two clocks the check compares.
func TestFileSourceRefusesStaleFile(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, srv testenv.Server) {
		foreign := testenv.StartRedis(t, testenv.RedisOptions{Server: srv})
		if err := foreign.Client(t).Set(t.Context(), "foreign", "data", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := foreign.Client(t).Save(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
		foreign.Stop()
		stale := filepath.Join(foreign.Dir, "dump.rdb")
		st, err := os.Stat(stale)
		if err != nil {
			t.Fatal(err)
		}

		live := testenv.StartRedis(t, testenv.RedisOptions{Server: srv})
		testenv.FillAllTypes(t, live, 1)
		c := redis.New(redis.Options{Addr: live.Addr})
		defer c.Close()
		// Wait (on a condition, not a fixed time) until the live server's
		// clock is two seconds past the one in which the stale file was
		// written (fresh lets a ctime one second old pass).
		for {
			in, err := c.Info(t.Context(), "server")
			if err != nil {
				t.Fatal(err)
			}
			if in.Server.TimeUsec/1e6 > st.ModTime().Unix()+1 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		repo := fileRepo(t)
		src := &backup.FileSource{Server: c, Files: backup.LocalFiles{}, Dir: foreign.Dir}
		_, err = backup.Run(t.Context(), src, repo, backup.Options{Target: "cache", Compression: settings(t, "zstd"), SourceKind: "file", Server: c})
		if !errors.Is(err, backup.ErrStaleFile) {
			t.Fatalf("backup of a stale file: %v, want ErrStaleFile", err)
		}
		t.Logf("error: %v", err)
		ms, _, lerr := repo.List(t.Context(), "")
		if lerr != nil || len(ms) != 0 {
			t.Fatalf("a refused backup left %d backups (%v)", len(ms), lerr)
		}
		if orphans, _ := repo.Orphans(t.Context(), "", time.Now().Add(time.Hour), 0); len(orphans) != 0 {
			t.Fatalf("a refused backup left data: %+v", orphans)
		}

		// The live server's own file is accepted.
		src.Dir = ""
		res, err := backup.Run(t.Context(), src, repo, backup.Options{Target: "cache", Compression: settings(t, "zstd"), SourceKind: "file", Server: c})
		if err != nil {
			t.Fatalf("backup of the live file: %v", err)
		}
		if res.Manifest.Keys() == 0 {
			t.Fatalf("live backup holds %d keys", res.Manifest.Keys())
		}
	})
}

// TestReplicaWithLinkDown backs up, with the file source, a replica whose
// master is unreachable: the backup is stored (it is what the replica
// holds) but says so, in the result and the manifest.
func TestReplicaWithLinkDown(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	testenv.FillAllTypes(t, r, 1)
	if err := r.Client(t).Do(t.Context(), "REPLICAOF", "127.0.0.1", testenv.FreePort(t)).Err(); err != nil {
		t.Fatal(err)
	}
	c := redis.New(redis.Options{Addr: r.Addr})
	defer c.Close()
	src := &backup.FileSource{Server: c, Files: backup.LocalFiles{}}
	res, err := backup.Run(t.Context(), src, fileRepo(t), backup.Options{Target: "cache", Compression: settings(t, "zstd"), SourceKind: "file", Server: c})
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.Redis.MasterLink != "down" || len(res.Warnings) != 1 {
		t.Fatalf("masterLink %q, warnings %q; want down and one warning", res.Manifest.Redis.MasterLink, res.Warnings)
	}
}
