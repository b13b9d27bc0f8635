package kube

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/redis"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/restore"
)

// localExec runs an exec's command on this machine, as if in the Redis
// container: the in-place install script then works on a local
// redis-server's dir.
type localExec struct{}

func (localExec) Exec(ctx context.Context, _ ExecTarget, cmd []string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
	c.Stdin, c.Stdout, c.Stderr = stdin, stdout, stderr
	return c.Run()
}

// aofLayout reads how r persists, as the restore's plan does.
func aofLayout(t *testing.T, c *redis.Client, dir string, v7 bool) restore.Install {
	t.Helper()
	in := restore.Install{Dir: dir, DBFilename: "dump.rdb", AOF: restore.AOF{Mode: "single"}}
	var err error
	if in.AOF.FileName, err = c.ConfigGet(t.Context(), "appendfilename"); err != nil {
		t.Fatal(err)
	}
	if v7 {
		in.AOF.Mode = "multipart"
		if in.AOF.DirName, err = c.ConfigGet(t.Context(), "appenddirname"); err != nil {
			t.Fatal(err)
		}
	}
	return in
}

func configOf(t *testing.T, c *redis.Client, name string) string {
	t.Helper()
	v, err := c.ConfigGet(t.Context(), name)
	if err != nil {
		t.Fatalf("CONFIG GET %s: %v", name, err)
	}
	return v
}

// waitAOFOn waits until r has AOF on and no rewrite running (after
// CONFIG SET appendonly yes, a rewrite writes the first AOF).
func waitAOFOn(t *testing.T, r *testenv.Redis) {
	t.Helper()
	c := r.Client(t)
	for range 600 {
		in, err := c.Info(t.Context(), "persistence").Result()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(in, "aof_enabled:1") && strings.Contains(in, "aof_rewrite_in_progress:0") && strings.Contains(in, "aof_rewrite_scheduled:0") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never finished turning AOF on", r.Addr)
}

// TestInPlaceAOFOnEveryVersion runs the in-place rollout against a real
// redis-server with appendonly yes on every version: Redis 6.2's single
// AOF file and 7.0+'s multi-part AOF directory. The restarted server
// loads the backup from the AOF staged beside the live one while Redis
// served (then swapped in at Commit) and keeps AOF on; the
// previous AOF is kept as .pre-restore. A stream cut short changes no
// file, and Undo turns AOF back on without losing what Redis held.
func TestInPlaceAOFOnEveryVersion(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, srv testenv.Server) {
		t.Parallel()
		src := testenv.StartRedis(t, testenv.RedisOptions{Server: srv})
		testenv.FillAllTypes(t, src, 1)
		want := src.Digest(t)
		if err := src.Client(t).Save(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
		rdb, err := os.ReadFile(filepath.Join(src.Dir, "dump.rdb"))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(rdb)
		v7 := srv.AtLeast(7, 0)

		dst := testenv.StartRedis(t, testenv.RedisOptions{Server: srv, Config: []string{"appendonly yes"}})
		waitAOFOn(t, dst)
		dc := redis.New(redis.Options{Addr: dst.Addr})
		defer dc.Close()
		if err := dst.Client(t).Set(t.Context(), "old", "data", 0).Err(); err != nil {
			t.Fatal(err)
		}
		old := dst.Digest(t)
		in := aofLayout(t, dc, dst.Dir, v7)
		in.Size, in.SHA256 = int64(len(rdb)), hex.EncodeToString(sum[:])
		live := filepath.Join(dst.Dir, in.AOF.FileName)
		if v7 {
			live = filepath.Join(dst.Dir, in.AOF.DirName)
		}
		rollout := func() *InPlace {
			return &InPlace{Client: &Client{Executor: localExec{}}, Namespace: "local", Pod: "redis", Container: "redis",
				Redis: dc, Version7: v7, AOF: true}
		}

		staged := []string{live + restore.TempSuffix, filepath.Join(dst.Dir, "dump.rdb"+restore.TempSuffix)}
		t.Run("cut stream, stage, stop, then undo", func(t *testing.T) {
			ip := rollout()
			err := ip.Stage(t.Context(), bytes.NewReader(rdb[:len(rdb)/2]), in)
			if err == nil || !strings.Contains(err.Error(), "nothing was replaced") {
				t.Fatalf("Stage of half the file: %v, want it refused", err)
			}
			for _, p := range append([]string{live + restore.PreRestoreSuffix}, staged...) {
				if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("a refused stage left %s: %v", p, err)
				}
			}
			// Staged while Redis serves with AOF on; then stopped, undone.
			if err := ip.Stage(t.Context(), bytes.NewReader(rdb), in); err != nil {
				t.Fatalf("Stage: %v", err)
			}
			if err := dst.Client(t).Set(t.Context(), "while-staged", "x", 0).Err(); err != nil {
				t.Fatalf("a write while the backup is staged: %v", err)
			}
			for _, p := range staged {
				if _, err := os.Stat(p); err != nil {
					t.Errorf("Stage did not leave %s: %v", p, err)
				}
			}
			if err := ip.Stop(t.Context()); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if got := configOf(t, dc, "appendonly"); got != "no" {
				t.Fatalf("appendonly after Stop = %s, want no", got)
			}
			if err := ip.Undo(t.Context()); err != nil {
				t.Fatalf("Undo: %v", err)
			}
			for _, p := range append([]string{live + restore.PreRestoreSuffix}, staged...) {
				if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("Undo left %s: %v", p, err)
				}
			}
			waitAOFOn(t, dst)
			if err := dst.Client(t).Set(t.Context(), "after-undo", "kept", 0).Err(); err != nil {
				t.Fatal(err)
			}
			dst.Stop()
			dst.Restart(t)
			if got := configOf(t, dc, "appendonly"); got != "yes" {
				t.Errorf("appendonly after Undo and restart = %s, want yes", got)
			}
			for _, k := range []string{"while-staged", "after-undo"} {
				if err := dst.Client(t).Get(t.Context(), k).Err(); err != nil {
					t.Errorf("write %s did not survive Undo and a restart through the AOF: %v", k, err)
				}
			}
			if err := dst.Client(t).Del(t.Context(), "while-staged", "after-undo").Err(); err != nil {
				t.Fatal(err)
			}
			if got := dst.Digest(t); got != old {
				t.Errorf("after Undo the data is %s, want the old %s", got, old)
			}
		})

		t.Run("restore", func(t *testing.T) {
			ip := rollout()
			if err := ip.Stage(t.Context(), bytes.NewReader(rdb), in); err != nil {
				t.Fatalf("Stage: %v", err)
			}
			if err := ip.Stop(t.Context()); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			got, err := ip.Commit(t.Context(), in)
			if err != nil {
				t.Fatalf("Commit: %v", err)
			}
			for _, p := range staged {
				if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("Commit left %s: %v", p, err)
				}
			}
			// With AOF on there is no dump.rdb to keep: the AOF holds the data.
			if _, err := os.Stat(live + restore.PreRestoreSuffix); err != nil {
				t.Errorf("the previous AOF is not kept: %v", err)
			}
			if want := []string{live + restore.PreRestoreSuffix}; !slices.Equal(got.PreRestore, want) {
				t.Errorf("Installed.PreRestore = %q, want %q", got.PreRestore, want)
			}
			if err := dc.ShutdownNoSave(t.Context()); err != nil {
				t.Fatalf("SHUTDOWN NOSAVE: %v", err)
			}
			dst.Stop()
			dst.Restart(t)
			if d := dst.Digest(t); d != want {
				t.Fatalf("after the restart the data is %s, want the backup's %s\nlog:\n%s", d, want, dst.Log())
			}
			if got := configOf(t, dc, "appendonly"); got != "yes" {
				t.Errorf("appendonly after the restore = %s, want yes", got)
			}
			// AOF keeps working on the restored data.
			waitAOFOn(t, dst)
			if err := dst.Client(t).Set(t.Context(), "after-restore", "x", 0).Err(); err != nil {
				t.Fatal(err)
			}
			dst.Stop()
			dst.Restart(t)
			if err := dst.Client(t).Get(t.Context(), "after-restore").Err(); err != nil {
				t.Errorf("a write after the restore did not survive a restart through the AOF: %v\nlog:\n%s", err, dst.Log())
			}
		})

		// Again over a dump.rdb Redis wrote (SAVE works with AOF on): it is
		// kept too, and the restart still loads the AOF.
		t.Run("restore over a dump.rdb", func(t *testing.T) {
			waitAOFOn(t, dst)
			if err := dst.Client(t).Save(t.Context()).Err(); err != nil {
				t.Fatal(err)
			}
			dump := filepath.Join(dst.Dir, "dump.rdb")
			ip := rollout()
			if err := ip.Stage(t.Context(), bytes.NewReader(rdb), in); err != nil {
				t.Fatalf("Stage: %v", err)
			}
			if err := ip.Stop(t.Context()); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			got, err := ip.Commit(t.Context(), in)
			if err != nil {
				t.Fatalf("Commit: %v", err)
			}
			if want := []string{live + restore.PreRestoreSuffix, dump + restore.PreRestoreSuffix}; !slices.Equal(got.PreRestore, want) {
				t.Errorf("Installed.PreRestore = %q, want %q", got.PreRestore, want)
			}
			if b, err := os.ReadFile(dump); err != nil || !bytes.Equal(b, rdb) {
				t.Errorf("dump.rdb after Commit is not the backup (%v)", err)
			}
			if err := dc.ShutdownNoSave(t.Context()); err != nil {
				t.Fatalf("SHUTDOWN NOSAVE: %v", err)
			}
			dst.Stop()
			dst.Restart(t)
			if d := dst.Digest(t); d != want {
				t.Fatalf("after the restart the data is %s, want the backup's %s\nlog:\n%s", d, want, dst.Log())
			}
		})
	})
}
