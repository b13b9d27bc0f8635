package backup_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/codec"
	"github.com/rdbak/rdbak/internal/redis"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

func fileRepo(t *testing.T) *storage.Repo {
	t.Helper()
	repo, err := storage.Open(t.Context(), "file://"+t.TempDir(), storage.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { repo.Close() })
	return repo
}

func settings(t *testing.T, c string) codec.Settings {
	t.Helper()
	s, err := codec.Settings{Codec: c}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// restoreDigest restores m into a fresh redis-server and returns its digest.
func restoreDigest(t *testing.T, repo *storage.Repo, m *storage.Manifest) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := restore.ToFile(t.Context(), repo, m, filepath.Join(dir, "dump.rdb"), restore.FileOptions{}); err != nil {
		t.Fatalf("restore %s: %v", m.ID, err)
	}
	return testenv.StartRedis(t, testenv.RedisOptions{Dir: dir}).Digest(t)
}

// assertEmpty fails unless repo holds no backups and no garbage.
func assertEmpty(t *testing.T, repo *storage.Repo) {
	t.Helper()
	ms, _, err := repo.List(context.Background(), "")
	if err != nil || len(ms) != 0 {
		t.Errorf("repository lists %d backups (%v), want none", len(ms), err)
	}
	orphans, err := repo.Orphans(context.Background(), "", time.Now().Add(time.Hour), 0)
	if err != nil || len(orphans) != 0 {
		t.Errorf("repository holds leftovers %v (%v), want none", orphans, err)
	}
}

// TestRoundTrip is the test that matters: backup, restore to a file, load
// it into a fresh redis-server, and compare DEBUG DIGEST with the source.
func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		config []string
		source func(r *testenv.Redis) (backup.Source, string)
		codec  string
	}{
		{
			name:   "replication, disk target",
			config: []string{"repl-diskless-sync no"},
			source: func(r *testenv.Redis) (backup.Source, string) { return &redis.PullSource{Addr: r.Addr}, "replication" },
			codec:  "zstd",
		},
		{
			name:   "replication, diskless",
			config: []string{"repl-diskless-sync yes", "repl-diskless-sync-delay 0"},
			source: func(r *testenv.Redis) (backup.Source, string) { return &redis.PullSource{Addr: r.Addr}, "replication" },
			codec:  "gzip",
		},
		{
			name: "file after BGSAVE",
			source: func(r *testenv.Redis) (backup.Source, string) {
				return &backup.FileSource{Server: redis.New(redis.Options{Addr: r.Addr}), Files: backup.LocalFiles{}}, "file"
			},
			codec: "none",
		},
		{
			name:   "replication with AOF on and checksums off",
			config: []string{"appendonly yes", "rdbchecksum no", "repl-diskless-sync no"},
			source: func(r *testenv.Redis) (backup.Source, string) { return &redis.PullSource{Addr: r.Addr}, "replication" },
			codec:  "zstd",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := testenv.StartRedis(t, testenv.RedisOptions{Config: tt.config})
			testenv.FillAllTypes(t, src, 2)
			want := src.Digest(t)
			repo := fileRepo(t)
			source, kind := tt.source(src)
			client := redis.New(redis.Options{Addr: src.Addr})
			defer client.Close()
			res, err := backup.Run(t.Context(), source, repo, backup.Options{
				Target: "cache", Compression: settings(t, tt.codec), Version: "test", SourceKind: kind, Server: client,
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			m := res.Manifest
			// The manifest's key counts are the server's.
			for _, db := range m.RDB.DBs {
				n, err := dbSize(t, src, db.Index)
				if err != nil || uint64(n) != db.Keys {
					t.Errorf("manifest db%d keys = %d, server DBSIZE = %d (%v)", db.Index, db.Keys, n, err)
				}
			}
			if len(m.RDB.DBs) != 3 || m.Redis.Version == "" || m.Redis.Role != "master" || m.Data.Compression.Codec != tt.codec {
				t.Errorf("manifest = dbs %v, redis %+v, compression %+v", m.RDB.DBs, m.Redis, m.Data.Compression)
			}
			if got, err := repo.Get(t.Context(), "cache", "latest"); err != nil || got.ID != m.ID {
				t.Fatalf("latest = %v, %v; want %s", got, err, m.ID)
			}
			if got := restoreDigest(t, repo, m); got != want {
				t.Fatalf("restored digest %s, source %s", got, want)
			}
		})
	}
}

func dbSize(t *testing.T, r *testenv.Redis, db int) (int64, error) {
	c := redis.New(redis.Options{Addr: r.Addr})
	defer c.Close()
	in, err := c.Info(t.Context(), "keyspace")
	if err != nil {
		return 0, err
	}
	return in.DBKeys()[db], nil
}

func TestConnectionKilledMidStream(t *testing.T) {
	for _, diskless := range []string{"no", "yes"} {
		t.Run("diskless="+diskless, func(t *testing.T) {
			t.Parallel()
			src := testenv.StartRedis(t, testenv.RedisOptions{Config: []string{"repl-diskless-sync " + diskless, "repl-diskless-sync-delay 0"}})
			testenv.FillAllTypes(t, src, 2)
			proxy := testenv.CutProxy(t, src.Addr, 200<<10)
			repo := fileRepo(t)
			_, err := backup.Run(t.Context(), &redis.PullSource{Addr: proxy}, repo, backup.Options{
				Target: "cache", Compression: settings(t, "zstd"), SourceKind: "replication",
			})
			if err == nil {
				t.Fatal("Run succeeded over a connection cut after 200 KiB")
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("err = %v, want it to say the stream ended early (io.ErrUnexpectedEOF)", err)
			}
			assertEmpty(t, repo)
		})
	}
}

// bytesSource serves fixed bytes as a snapshot.
type bytesSource struct{ b []byte }

func (s bytesSource) Open(context.Context) (*backup.Stream, error) {
	return &backup.Stream{Body: io.NopCloser(bytes.NewReader(s.b)), Size: -1, Origin: "test bytes"}, nil
}

func realRDB(t *testing.T) []byte {
	t.Helper()
	src := testenv.StartRedis(t, testenv.RedisOptions{})
	testenv.FillAllTypes(t, src, 1)
	return realRDBOf(t, src)
}

// realRDBOf saves src's dataset and returns its dump.rdb.
func realRDBOf(t *testing.T, src *testenv.Redis) []byte {
	t.Helper()
	if _, err := backup.Snapshot(t.Context(), redis.New(redis.Options{Addr: src.Addr}), backup.SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(src.Dir, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBadRDBLeavesNothing(t *testing.T) {
	good := realRDB(t)
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x40
	tests := map[string][]byte{
		"truncated":        good[:len(good)-100],
		"flipped byte":     flipped,
		"trailing garbage": append(bytes.Clone(good), "garbage"...),
		"not an RDB":       []byte("HTTP/1.1 200 OK\r\n\r\nhello"),
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			repo := fileRepo(t)
			_, err := backup.Run(t.Context(), bytesSource{b}, repo, backup.Options{Target: "cache", Compression: settings(t, "zstd")})
			if err == nil {
				t.Fatal("Run accepted a bad RDB")
			}
			assertEmpty(t, repo)
		})
	}
}

func TestWrongPassword(t *testing.T) {
	src := testenv.StartRedis(t, testenv.RedisOptions{Password: "right"})
	repo := fileRepo(t)
	_, err := backup.Run(t.Context(), &redis.PullSource{Addr: src.Addr, Password: "wrong"}, repo, backup.Options{Target: "cache", Compression: settings(t, "zstd")})
	if err == nil || !strings.Contains(err.Error(), "WRONGPASS") || strings.Contains(err.Error(), "wrong") && strings.Contains(err.Error(), `"wrong"`) {
		t.Fatalf("err = %v, want Redis's WRONGPASS message without the password", err)
	}
	assertEmpty(t, repo)
}

// TestBGSaveFails makes the BGSAVE child fail (its dir vanished), which even
// root cannot write around, and expects Redis's failure to surface.
func TestBGSaveFails(t *testing.T) {
	src := testenv.StartRedis(t, testenv.RedisOptions{})
	testenv.FillAllTypes(t, src, 1)
	client := redis.New(redis.Options{Addr: src.Addr})
	defer client.Close()
	gone := filepath.Join(t.TempDir(), "gone")
	if err := os.Mkdir(gone, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := src.Client(t).ConfigSet(t.Context(), "dir", gone).Err(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	repo := fileRepo(t)
	// With its cwd gone, CONFIG GET dir answers ""; name the dir instead.
	fs := &backup.FileSource{Server: client, Files: backup.LocalFiles{}, Dir: gone}
	_, err := backup.Run(t.Context(), fs, repo, backup.Options{Target: "cache", Compression: settings(t, "zstd")})
	if !errors.Is(err, backup.ErrSaveFailed) {
		t.Fatalf("err = %v, want ErrSaveFailed", err)
	}
	assertEmpty(t, repo)
}

// storedBackup stores a backup of a real RDB, zstd-compressed, in a file://
// repository in dir.
func storedBackup(t *testing.T) (dir string, repo *storage.Repo, m *storage.Manifest) {
	t.Helper()
	dir = t.TempDir()
	repo, err := storage.Open(t.Context(), "file://"+dir, storage.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = repo.Close() })
	res, err := backup.Run(t.Context(), bytesSource{realRDB(t)}, repo, backup.Options{Target: "cache", Compression: settings(t, "zstd")})
	if err != nil {
		t.Fatal(err)
	}
	return dir, repo, res.Manifest
}

// TestCorruptStoredObject flips one byte of a stored backup: verify must
// fail with ErrVerify and a restore must not leave a file behind.
func TestCorruptStoredObject(t *testing.T) {
	dir, repo, m := storedBackup(t)
	if _, err := restore.Fetch(t.Context(), repo, m, io.Discard, restore.FetchOptions{}); err != nil {
		t.Fatalf("verify of the intact backup: %v", err)
	}
	obj := filepath.Join(dir, m.Target, m.ID, m.Data.Name)
	b, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	var sent bytes.Buffer
	if err := restore.FetchCompressed(t.Context(), repo, m, &sent, restore.FetchOptions{}); err != nil || !bytes.Equal(sent.Bytes(), b) {
		t.Fatalf("FetchCompressed of the intact backup sent %d bytes of the %d stored: %v", sent.Len(), len(b), err)
	}
	if err := restore.FetchCompressed(t.Context(), repo, m, &failingWriter{n: 64}, restore.FetchOptions{}); !errors.Is(err, errReceiver) || errors.Is(err, restore.ErrVerify) {
		t.Fatalf("FetchCompressed of the intact backup to a failing receiver: %v, want the receiver's error alone", err)
	}
	for _, at := range []int{len(b) / 2, len(b) - 1, 10} {
		c := bytes.Clone(b)
		c[at] ^= 0x01
		if err := os.WriteFile(obj, c, 0o600); err != nil {
			t.Fatal(err)
		}
		// Whether or not the stream still decodes, the error says the
		// stored object differs from its manifest, naming it: the bytes
		// changed in storage, the snapshot was good.
		if _, err := restore.Fetch(t.Context(), repo, m, io.Discard, restore.FetchOptions{}); !errors.Is(err, restore.ErrVerify) || !strings.Contains(err.Error(), "stored SHA-256 is") {
			t.Errorf("byte %d flipped: verify err = %v, want ErrVerify naming the stored SHA-256", at, err)
		}
		if err := restore.FetchCompressed(t.Context(), repo, m, io.Discard, restore.FetchOptions{}); !errors.Is(err, restore.ErrVerify) {
			t.Errorf("byte %d flipped: FetchCompressed err = %v, want ErrVerify", at, err)
		}
		// A receiver that stops early (a staging pod whose decoder failed)
		// still learns that the object is damaged.
		if err := restore.FetchCompressed(t.Context(), repo, m, &failingWriter{n: 64}, restore.FetchOptions{}); !errors.Is(err, restore.ErrVerify) {
			t.Errorf("byte %d flipped, receiver stopped: FetchCompressed err = %v, want ErrVerify", at, err)
		}
		out := filepath.Join(t.TempDir(), "dump.rdb")
		if _, err := restore.ToFile(t.Context(), repo, m, out, restore.FileOptions{}); !errors.Is(err, restore.ErrVerify) {
			t.Errorf("byte %d flipped: restore err = %v, want ErrVerify", at, err)
		}
		if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 0 {
			t.Errorf("byte %d flipped: restore left %v behind", at, ents)
		}
	}
}

// TestRestoreLeavesOutRawSHA256OnlyWithCRC checks what a restore
// (SkipRawSHA256) relies on instead of the RDB's SHA-256, on every server:
// it leaves that digest out only when the manifest says the RDB carries a
// CRC-64, and then the CRC-64 must verify; Verify always checks the digest.
func TestRestoreLeavesOutRawSHA256OnlyWithCRC(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, s testenv.Server) {
		repo, err := storage.Open(t.Context(), "file://"+t.TempDir(), storage.Options{Create: true})
		if err != nil {
			t.Fatal(err)
		}
		defer repo.Close()
		fetch := func(m *storage.Manifest, skip bool) error {
			_, err := restore.Fetch(t.Context(), repo, m, io.Discard, restore.FetchOptions{SkipRawSHA256: skip})
			return err
		}
		wrongDigest := func(m *storage.Manifest) *storage.Manifest {
			c := *m
			c.Data.RawSHA256 = strings.Repeat("0", 64)
			return &c
		}
		backupOf := func(target string, config ...string) *storage.Manifest {
			src := testenv.StartRedis(t, testenv.RedisOptions{Server: s, Config: config})
			testenv.FillAllTypes(t, src, 1)
			res, err := backup.Run(t.Context(), bytesSource{realRDBOf(t, src)}, repo, backup.Options{Target: target, Compression: settings(t, "zstd")})
			if err != nil {
				t.Fatal(err)
			}
			return res.Manifest
		}

		m := backupOf("crc")
		if !m.RDB.ChecksumVerified {
			t.Fatalf("manifest of a default %s's RDB says its CRC-64 was not verified", s.VersionString())
		}
		if err := fetch(wrongDigest(m), true); err != nil {
			t.Errorf("restore of an RDB with a CRC-64 checked its SHA-256: %v", err)
		}
		if err := fetch(wrongDigest(m), false); !errors.Is(err, restore.ErrVerify) || !strings.Contains(err.Error(), "RDB SHA-256") {
			t.Errorf("fetch with a wrong RDB SHA-256 in the manifest: %v, want ErrVerify naming it", err)
		}
		if _, err := restore.Verify(t.Context(), repo, wrongDigest(m), restore.FetchOptions{SkipRawSHA256: true}); !errors.Is(err, restore.ErrVerify) || !strings.Contains(err.Error(), "RDB SHA-256") {
			t.Errorf("Verify asked to skip the RDB SHA-256, wrong one in the manifest: %v, want ErrVerify naming it", err)
		}

		// rdbchecksum no: a zero trailer, only the SHA-256 checks the RDB.
		n := backupOf("nocrc", "rdbchecksum no")
		if n.RDB.ChecksumVerified {
			t.Fatalf("manifest of an RDB saved with rdbchecksum no says its CRC-64 was verified")
		}
		if err := fetch(n, true); err != nil {
			t.Errorf("restore of an intact RDB without CRC-64: %v", err)
		}
		if err := fetch(wrongDigest(n), true); !errors.Is(err, restore.ErrVerify) || !strings.Contains(err.Error(), "RDB SHA-256") {
			t.Errorf("restore of an RDB without CRC-64, wrong SHA-256 in the manifest: %v, want ErrVerify naming it", err)
		}
		// A manifest that claims a CRC-64 the RDB does not carry is not
		// trusted to leave the digest out.
		claims := wrongDigest(n)
		claims.RDB.ChecksumVerified = true
		if err := fetch(claims, true); !errors.Is(err, restore.ErrVerify) || !strings.Contains(err.Error(), "CRC-64 verified") {
			t.Errorf("restore of an RDB without CRC-64 whose manifest claims one: %v, want ErrVerify naming the CRC-64", err)
		}
	})
}

var errReceiver = errors.New("receiver stopped")

// failingWriter takes n bytes, then fails.
type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		n := w.n
		w.n = 0
		return n, errReceiver
	}
	w.n -= len(p)
	return len(p), nil
}

// TestFetchStopsAtRawSize: an object that decodes to more than its
// manifest's RDB size (a crafted one can expand a thousandfold) is refused
// once that size is passed, not after the whole stream was written out;
// and the keys and expiries per db are checked, not only their total.
func TestFetchStopsAtRawSize(t *testing.T) {
	_, repo, stored := storedBackup(t)
	// A manifest whose keys sit in another db, or have other expiries,
	// than the RDB's: describe would show them, and drills compare them.
	for _, edit := range []func(*storage.DB){
		func(d *storage.DB) { d.Index += 5 },
		func(d *storage.DB) { d.Expires++ },
	} {
		m := *stored
		m.RDB.DBs = slices.Clone(m.RDB.DBs)
		edit(&m.RDB.DBs[0])
		if _, err := restore.Fetch(t.Context(), repo, &m, io.Discard, restore.FetchOptions{}); !errors.Is(err, restore.ErrVerify) || !strings.Contains(err.Error(), "per db") {
			t.Errorf("manifest dbs %v: %v, want ErrVerify naming the keys per db", m.RDB.DBs, err)
		}
	}

	small := *stored
	small.Data.RawSize /= 2
	var n int64
	_, err := restore.Fetch(t.Context(), repo, &small, writerFunc(func(p []byte) (int, error) { n += int64(len(p)); return len(p), nil }), restore.FetchOptions{})
	if !errors.Is(err, restore.ErrVerify) || !strings.Contains(err.Error(), "decodes to more than") || n > small.Data.RawSize {
		t.Errorf("a manifest with half the RDB size: %v after %d bytes written, want ErrVerify at %d bytes at most", err, n, small.Data.RawSize)
	}
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
