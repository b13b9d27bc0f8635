package backup_test

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/redis"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// TestVersionSuite runs the round trip on every server users run that this
// machine has: Debian's redis-server and the Redis 6.2.16, 7.4.1 and Valkey
// 8.0.1 that hack/deps.sh builds. For each it backs up every type that
// version has, over replication (disk and diskless) and from the file,
// restores to a file and loads it into the same version, checks that the
// RDB version it wrote is what restore's pre-flight table says it loads,
// and installs the backup with restore.Receive with AOF off and on.
func TestVersionSuite(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, s testenv.Server) {
		t.Parallel()
		sources := []struct {
			name   string
			config []string
			source func(r *testenv.Redis) (backup.Source, string)
		}{
			{"replication disk", []string{"repl-diskless-sync no"}, func(r *testenv.Redis) (backup.Source, string) {
				return &redis.PullSource{Addr: r.Addr}, "replication"
			}},
			{"replication diskless", []string{"repl-diskless-sync yes", "repl-diskless-sync-delay 0"}, func(r *testenv.Redis) (backup.Source, string) {
				return &redis.PullSource{Addr: r.Addr}, "replication"
			}},
			{"replication, rdbchecksum no", []string{"rdbchecksum no", "repl-diskless-sync no"}, func(r *testenv.Redis) (backup.Source, string) {
				return &redis.PullSource{Addr: r.Addr}, "replication"
			}},
			{"file", nil, func(r *testenv.Redis) (backup.Source, string) {
				return &backup.FileSource{Server: redis.New(redis.Options{Addr: r.Addr}), Files: backup.LocalFiles{}}, "file"
			}},
		}
		for _, src := range sources {
			t.Run(src.name, func(t *testing.T) {
				r := testenv.StartRedis(t, testenv.RedisOptions{Server: s, Config: src.config})
				testenv.FillAllTypes(t, r, 1)
				testenv.FillVersionTypes(t, r)
				// Random bytes, which Redis's LZF cannot shrink, make the RDB
				// span several of the 512 KiB zstd frames, so each server loads
				// what the frame decoder put together.
				big := make([]byte, 5<<19)
				rand.NewChaCha8([32]byte{1}).Read(big)
				if err := r.Client(t).Set(t.Context(), "frames", big, 0).Err(); err != nil {
					t.Fatal(err)
				}
				want := testenv.State(t, r)
				repo := fileRepo(t)
				source, kind := src.source(r)
				client := redis.New(redis.Options{Addr: r.Addr})
				defer client.Close()
				res, err := backup.Run(t.Context(), source, repo, backup.Options{
					Target: "versions", Compression: settings(t, "zstd"), Version: "test", SourceKind: kind, Server: client,
				})
				if err != nil {
					t.Fatalf("backup of %s: %v", s.Name, err)
				}
				m := res.Manifest
				checkManifest(t, s, m, !slices.Contains(src.config, "rdbchecksum no"))
				if first := firstFrameSize(t, repo, m); first >= m.Data.RawSize {
					t.Fatalf("the data object's first zstd frame holds %d of the RDB's %d bytes: the restore below must read several", first, m.Data.RawSize)
				}
				dir := t.TempDir()
				if _, err := restore.ToFile(t.Context(), repo, m, filepath.Join(dir, "dump.rdb"), restore.FileOptions{}); err != nil {
					t.Fatalf("restore to file: %v", err)
				}
				back := testenv.StartRedis(t, testenv.RedisOptions{Server: s, Dir: dir})
				if got := testenv.State(t, back); got != want {
					t.Fatalf("%s restored into %s:\n got %s\nwant %s", s.Name, s.Name, got, want)
				}
				t.Logf("%s, %s: RDB %s%d, %d keys, structure %s, restored state equal", s.Name, src.name, m.RDB.Magic, m.RDB.Version, m.Keys(), m.RDB.Structure)
				if src.name == "file" {
					receiveAll(t, s, m, repo, want)
				}
			})
		}
	})
}

// firstFrameSize is how many RDB bytes the data object's first zstd frame
// holds, as its header records.
func firstFrameSize(t *testing.T, repo *storage.Repo, m *storage.Manifest) int64 {
	t.Helper()
	rc, err := repo.OpenData(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	hdr := make([]byte, zstd.HeaderMaxSize)
	n, _ := io.ReadFull(rc, hdr)
	var h zstd.Header
	if err := h.Decode(hdr[:n]); err != nil || !h.HasFCS {
		t.Fatalf("data object's first zstd frame: %v, content size recorded: %v", err, h.HasFCS)
	}
	return int64(h.FrameContentSize)
}

// checkManifest checks what the backup recorded about the server and its
// RDB, and that restore's pre-flight table matches the real server.
func checkManifest(t *testing.T, s testenv.Server, m *storage.Manifest, checksum bool) {
	t.Helper()
	if got, want := m.Redis, (storage.Redis{Flavor: s.Flavor, Version: s.VersionString()}); got.Flavor != want.Flavor || got.Version != want.Version {
		t.Errorf("manifest redis %s, want %s", got, want)
	}
	if s.Flavor == storage.FlavorValkey && m.Redis.RedisCompat == "" {
		t.Errorf("manifest of %s lacks the redis_version it reports", s.Name)
	}
	// Without a checksum the parse is the only check: it must still pass.
	if m.RDB.Magic != "REDIS" || m.RDB.Version != s.RDBVersion() || m.RDB.Structure != storage.StructureVerified || m.RDB.ChecksumVerified != checksum {
		t.Errorf("manifest rdb: %s%d structure %q checksum verified %v; want REDIS%d, structure verified, checksum verified %v",
			m.RDB.Magic, m.RDB.Version, m.RDB.Structure, m.RDB.ChecksumVerified, s.RDBVersion(), checksum)
	}
	if len(m.RDB.DBs) != 3 {
		t.Errorf("manifest dbs %+v, want 0, 1 and 3", m.RDB.DBs)
	}
	if wantFn := map[bool]int{true: 1}[s.HasFunctions()]; m.RDB.Functions != wantFn {
		t.Errorf("manifest functions %d, want %d", m.RDB.Functions, wantFn)
	}
	maxRedis, _, ok := restore.MaxRDBVersions(s.Flavor, s.VersionString())
	if !ok || maxRedis != m.RDB.Version {
		t.Errorf("restore.MaxRDBVersions(%s, %s) = %d, %v; the server writes RDB %d, the newest it loads", s.Flavor, s.VersionString(), maxRedis, ok, m.RDB.Version)
	}
	to := restore.TargetInfo{Flavor: s.Flavor, RedisVersion: s.VersionString(), MaxRDB: maxRedis, FreeBytes: 1 << 40}
	if err := restore.Refusals(restore.Preflight(m, to, restore.Overrides{})); err != nil {
		t.Errorf("pre-flight refuses %s's own backup: %v", s.Name, err)
	}
}

// receiveAll installs backup m with restore.Receive over a data dir with
// live data, AOF off and on (multi-part from 7.0, the single appendonly.aof
// before), and checks the same server version loads exactly the backup.
func receiveAll(t *testing.T, s testenv.Server, m *storage.Manifest, repo *storage.Repo, want string) {
	var raw, compressed bytes.Buffer
	if _, err := restore.Fetch(t.Context(), repo, m, &raw, restore.FetchOptions{}); err != nil {
		t.Fatalf("fetch: %v", err)
	}
	if err := restore.FetchCompressed(t.Context(), repo, m, &compressed, restore.FetchOptions{}); err != nil {
		t.Fatalf("fetch compressed: %v", err)
	}
	aofOn := restore.AOF{Mode: "single", FileName: "appendonly.aof"}
	if s.AtLeast(7, 0) {
		aofOn = restore.AOF{Mode: "multipart", DirName: "appendonlydir", FileName: "appendonly.aof"}
	}
	for _, tt := range []struct {
		name   string
		config []string
		aof    restore.AOF
		codec  string // of the stream Receive reads, as a staging pod does
	}{
		{"appendonly no", nil, restore.AOF{}, ""},
		{"appendonly yes, " + aofOn.Mode, []string{"appendonly yes"}, aofOn, ""},
		{"appendonly no, compressed stream", nil, restore.AOF{}, m.Data.Compression.Codec},
	} {
		t.Run("Receive "+tt.name, func(t *testing.T) {
			dir := t.TempDir()
			live := testenv.StartRedis(t, testenv.RedisOptions{Server: s, Dir: dir, Config: tt.config})
			if err := live.Client(t).Set(t.Context(), "live", "data", 0).Err(); err != nil {
				t.Fatal(err)
			}
			c := redis.New(redis.Options{Addr: live.Addr})
			if _, err := backup.Snapshot(t.Context(), c, backup.SnapshotOptions{}); err != nil {
				t.Fatal(err)
			}
			c.Close()
			live.Stop()
			in := restore.Install{Dir: dir, DBFilename: "dump.rdb", Size: m.Data.RawSize, SHA256: m.Data.RawSHA256, AOF: tt.aof, Codec: tt.codec}
			body := raw.Bytes()
			if tt.codec != "" {
				body = compressed.Bytes()
			}
			out, err := restore.Receive(bytes.NewReader(body), in)
			if err != nil {
				t.Fatalf("Receive: %v", err)
			}
			if tt.aof.Mode != "" {
				// With appendonly yes Redis reads only the AOF: without
				// dump.rdb, equal data proves the AOF files are what loaded.
				if err := os.Remove(out.Path); err != nil {
					t.Fatal(err)
				}
			}
			got := testenv.StartRedis(t, testenv.RedisOptions{Server: s, Dir: dir, Config: tt.config})
			if state := testenv.State(t, got); state != want {
				t.Fatalf("%s loaded after Receive (%+v):\n got %s\nwant %s\nlog:\n%s", s.Name, out, state, want, got.Log())
			}
			if tt.aof.Mode != "" {
				c := redis.New(redis.Options{Addr: got.Addr})
				in, err := c.Info(t.Context(), "persistence")
				c.Close()
				if err != nil || !in.Persistence.AOFEnabled {
					t.Errorf("INFO persistence: aof_enabled not 1 (%v)", err)
				}
				if _, err := os.Stat(out.AOFFiles[0]); err != nil {
					t.Errorf("installed AOF file: %v", err)
				}
			}
		})
	}
}

// TestCrossLoadingMatchesServers checks restore's pre-flight against the
// real loaders: the RDB each server writes is given to every other server,
// and the pre-flight must refuse exactly the loads the target refuses. A
// load it allows must give the same data.
func TestCrossLoadingMatchesServers(t *testing.T) {
	type written struct {
		server testenv.Server
		m      *storage.Manifest
		digest string
	}
	var all []written
	repo := fileRepo(t)
	testenv.EachServer(t, func(t *testing.T, s testenv.Server) {
		r := testenv.StartRedis(t, testenv.RedisOptions{Server: s, Config: []string{"repl-diskless-sync no"}})
		c := r.Client(t)
		for i := range 20 {
			c.Set(t.Context(), "k"+strconv.Itoa(i), i, 0)
			c.RPush(t.Context(), "list", i)
			c.HSet(t.Context(), "hash", "f"+strconv.Itoa(i), i)
		}
		client := redis.New(redis.Options{Addr: r.Addr})
		defer client.Close()
		res, err := backup.Run(t.Context(), &redis.PullSource{Addr: r.Addr}, repo, backup.Options{
			Target: "cross-" + s.Name, Compression: settings(t, "none"), SourceKind: "replication", Server: client,
		})
		if err != nil {
			t.Fatalf("backup: %v", err)
		}
		all = append(all, written{s, res.Manifest, r.Digest(t)})
	})
	for _, from := range all {
		for _, to := range all {
			t.Run(from.server.Name+" into "+to.server.Name, func(t *testing.T) {
				maxRedis, maxValkey, ok := restore.MaxRDBVersions(to.server.Flavor, to.server.VersionString())
				if !ok {
					t.Fatalf("no pre-flight entry for %s", to.server.Name)
				}
				ti := restore.TargetInfo{Flavor: to.server.Flavor, RedisVersion: to.server.VersionString(),
					MaxRDB: maxRedis, MaxValkeyRDB: maxValkey, FreeBytes: 1 << 40}
				refusal := restore.Refusals(restore.Preflight(from.m, ti, restore.Overrides{}))
				dir := t.TempDir()
				if _, err := restore.ToFile(t.Context(), repo, from.m, filepath.Join(dir, "dump.rdb"), restore.FileOptions{}); err != nil {
					t.Fatal(err)
				}
				r, err := testenv.TryStartRedis(t, testenv.RedisOptions{Server: to.server, Dir: dir})
				switch {
				case refusal == nil && err != nil:
					t.Fatalf("pre-flight allows it but %s refuses: %v", to.server.Name, err)
				case refusal != nil && err == nil:
					t.Fatalf("pre-flight refuses (%v) but %s loads it", refusal, to.server.Name)
				case err == nil && r.Digest(t) != from.digest:
					t.Fatalf("%s loaded other data than %s had", to.server.Name, from.server.Name)
				}
				t.Logf("RDB %s%d from %s into %s: refused=%v", from.m.RDB.Magic, from.m.RDB.Version, from.server.Name, to.server.Name, refusal != nil)
			})
		}
	}
}
