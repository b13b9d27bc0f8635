package restore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/codec"
	"github.com/rdbak/rdbak/internal/redis"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/restore"
)

// snapshot returns the RDB of a freshly filled server and its digest.
func snapshot(t *testing.T) ([]byte, string) {
	t.Helper()
	src := testenv.StartRedis(t, testenv.RedisOptions{})
	testenv.FillAllTypes(t, src, 1)
	c := redis.New(redis.Options{Addr: src.Addr})
	defer c.Close()
	if _, err := backup.Snapshot(t.Context(), c, backup.SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(src.Dir, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	return b, src.Digest(t)
}

func install(rdb []byte, dir string, aof restore.AOF) restore.Install {
	sum := sha256.Sum256(rdb)
	return restore.Install{Dir: dir, DBFilename: "dump.rdb", Size: int64(len(rdb)), SHA256: hex.EncodeToString(sum[:]), AOF: aof}
}

// liveData fills dir like a server that has been running: its own
// dump.rdb and, with AOF, its AOF files.
func liveData(t *testing.T, dir string, config ...string) string {
	t.Helper()
	r := testenv.StartRedis(t, testenv.RedisOptions{Dir: dir, Config: config})
	if err := r.Client(t).Set(context.Background(), "live", "data", 0).Err(); err != nil {
		t.Fatal(err)
	}
	c := redis.New(redis.Options{Addr: r.Addr})
	defer c.Close()
	if _, err := backup.Snapshot(t.Context(), c, backup.SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	d := r.Digest(t)
	r.Stop()
	return d
}

// TestReceiveLoads checks against redis-server itself that what Receive
// installs is what Redis loads at startup, with AOF off and on.
func TestReceiveLoads(t *testing.T) {
	rdb, want := snapshot(t)
	v := testenv.RedisServerVersion(t)
	tests := []struct {
		name   string
		config []string
		aof    restore.AOF
	}{
		{"appendonly no", nil, restore.AOF{}},
		{"multi-part AOF (7.0+)", []string{"appendonly yes"}, restore.AOF{Mode: "multipart", DirName: "appendonlydir", FileName: "appendonly.aof"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.aof.Mode == "multipart" && v[0] < 7 {
				t.Skipf("redis-server %d.%d has no multi-part AOF", v[0], v[1])
			}
			dir := t.TempDir()
			before := liveData(t, dir, tt.config...)
			out, err := restore.Receive(bytes.NewReader(rdb), install(rdb, dir, tt.aof))
			if err != nil {
				t.Fatalf("Receive: %v", err)
			}
			if len(out.PreRestore) == 0 {
				t.Errorf("the previous data was not kept: %+v", out)
			}
			got := testenv.StartRedis(t, testenv.RedisOptions{Dir: dir, Config: tt.config})
			if d := got.Digest(t); d != want {
				t.Fatalf("Redis loaded digest %s, want the restored %s (live data had %s)", d, want, before)
			}
			// AOF stays on and Redis keeps using the installed manifest.
			if tt.aof.Mode == "multipart" {
				c := redis.New(redis.Options{Addr: got.Addr})
				in, err := c.Info(t.Context(), "persistence")
				c.Close()
				if err != nil || !in.Persistence.AOFEnabled {
					t.Errorf("aof_enabled = %v (%v), want 1", in != nil && in.Persistence.AOFEnabled, err)
				}
			}
			// Rolling back is renaming the .pre-restore files back.
			got.Stop()
			for _, p := range out.PreRestore {
				live := strings.TrimSuffix(p, restore.PreRestoreSuffix)
				if err := os.RemoveAll(live); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(p, live); err != nil {
					t.Fatal(err)
				}
			}
			if d := testenv.StartRedis(t, testenv.RedisOptions{Dir: dir, Config: tt.config}).Digest(t); d != before {
				t.Fatalf("after rollback digest %s, want the live data's %s", d, before)
			}
		})
	}
}

// compress is b compressed as a backup stores it.
func compress(t *testing.T, b []byte, codecName string) []byte {
	t.Helper()
	s, err := codec.Settings{Codec: codecName}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w, err := codec.NewWriter(&out, s)
	if err == nil {
		_, err = w.Write(b)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// flip is b with one bit of byte at changed.
func flip(b []byte, at int) []byte {
	c := bytes.Clone(b)
	c[at] ^= 1
	return c
}

// TestReceiveCompressed: with Codec set, Receive decodes the stream and
// installs exactly the RDB, which Redis then loads.
func TestReceiveCompressed(t *testing.T) {
	rdb, want := snapshot(t)
	for _, c := range []string{"zstd", "gzip", "none"} {
		t.Run(c, func(t *testing.T) {
			dir := t.TempDir()
			liveData(t, dir)
			in := install(rdb, dir, restore.AOF{})
			in.Codec = c
			if _, err := restore.Receive(bytes.NewReader(compress(t, rdb, c)), in); err != nil {
				t.Fatalf("Receive: %v", err)
			}
			if d := testenv.StartRedis(t, testenv.RedisOptions{Dir: dir}).Digest(t); d != want {
				t.Fatalf("Redis loaded digest %s, want the restored %s", d, want)
			}
		})
	}
}

// TestReceiveRefusesBadStream: a cut or altered stream, compressed or not,
// leaves every live file as it was and no temporary file behind.
func TestReceiveRefusesBadStream(t *testing.T) {
	rdb, _ := snapshot(t)
	z := compress(t, rdb, "zstd")
	for _, tt := range []struct {
		name  string
		body  []byte
		codec string
	}{
		{"short", rdb[:len(rdb)/2], ""},
		{"altered", flip(rdb, 100), ""},
		{"zstd, short", z[:len(z)/2], "zstd"},
		{"zstd, altered", flip(z, len(z)/2), "zstd"},
		{"zstd, altered checksum", flip(z, len(z)-1), "zstd"},
		{"zstd, bytes after its end", append(bytes.Clone(z), "more"...), "zstd"},
		{"zstd, of another RDB", compress(t, flip(rdb, 100), "zstd"), "zstd"},
		{"RDB sent as zstd", rdb, "zstd"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			before := liveData(t, dir, "appendonly yes")
			snap := listing(t, dir)
			in := install(rdb, dir, restore.AOF{Mode: "multipart", DirName: "appendonlydir", FileName: "appendonly.aof"})
			in.Codec = tt.codec
			_, err := restore.Receive(bytes.NewReader(tt.body), in)
			if err == nil || !strings.Contains(err.Error(), "nothing was replaced") {
				t.Fatalf("err = %v, want a refusal", err)
			}
			if got := listing(t, dir); got != snap {
				t.Fatalf("files changed:\nbefore %s\nafter  %s", snap, got)
			}
			if d := testenv.StartRedis(t, testenv.RedisOptions{Dir: dir, Config: []string{"appendonly yes"}}).Digest(t); d != before {
				t.Fatalf("live data changed: digest %s, want %s", d, before)
			}
		})
	}
}

// listing describes every file under dir with its size and digest.
func listing(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".log") {
			return err
		}
		data, _ := os.ReadFile(p)
		sum := sha256.Sum256(data)
		rel, _ := filepath.Rel(dir, p)
		b.WriteString(rel + ":" + hex.EncodeToString(sum[:4]) + " ")
		return nil
	})
	return b.String()
}

// TestStagedIsNeverLoaded: a Redis that starts while a backup is staged (a
// restore killed between Stage and Commit) loads the live data, not the
// staged files; Discard then leaves the dir as it was.
func TestStagedIsNeverLoaded(t *testing.T) {
	rdb, want := snapshot(t)
	v := testenv.RedisServerVersion(t)
	for _, tt := range []struct {
		name   string
		config []string
		aof    restore.AOF
	}{
		{"appendonly no", nil, restore.AOF{}},
		{"multi-part AOF (7.0+)", []string{"appendonly yes"}, restore.AOF{Mode: "multipart", DirName: "appendonlydir", FileName: "appendonly.aof"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.aof.Mode == "multipart" && v[0] < 7 {
				t.Skipf("redis-server %d.%d has no multi-part AOF", v[0], v[1])
			}
			dir := t.TempDir()
			before := liveData(t, dir, tt.config...)
			snap := listing(t, dir)
			in := install(rdb, dir, tt.aof)
			if err := restore.Stage(bytes.NewReader(rdb), in); err != nil {
				t.Fatalf("Stage: %v", err)
			}
			for _, p := range restore.Staged(in) {
				if _, err := os.Stat(p); err != nil {
					t.Errorf("staged %s: %v", p, err)
				}
			}
			r := testenv.StartRedis(t, testenv.RedisOptions{Dir: dir, Config: tt.config})
			if d := r.Digest(t); d != before {
				t.Fatalf("with a backup staged Redis loaded %s, want the live %s", d, before)
			}
			r.Stop()
			if err := restore.Discard(in); err != nil {
				t.Fatal(err)
			}
			if got := listing(t, dir); got != snap {
				t.Fatalf("after Discard:\nbefore %s\nafter  %s", snap, got)
			}
			// Staged again and committed, it is what Redis loads.
			if err := restore.Stage(bytes.NewReader(rdb), in); err != nil {
				t.Fatalf("Stage: %v", err)
			}
			if _, err := restore.Commit(in); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			for _, p := range restore.Staged(in) {
				if _, err := os.Lstat(p); !os.IsNotExist(err) {
					t.Errorf("%s left after Commit (%v)", p, err)
				}
			}
			if d := testenv.StartRedis(t, testenv.RedisOptions{Dir: dir, Config: tt.config}).Digest(t); d != want {
				t.Fatalf("after Commit Redis loaded %s, want the restored %s", d, want)
			}
		})
	}
}
