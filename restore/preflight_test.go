package restore_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/rdb"
	"github.com/rdbak/rdbak/internal/redis"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

func TestMaxRDBVersion(t *testing.T) {
	for v, want := range map[string]int{"6.2.14": 9, "7.0.15": 10, "7.2.4": 11, "7.4.1": 12, "8.0.2": 12, "8.6.0": 13, "8.8.1": 14, "8.10.0": 15, "5.0.7": 9, "3.2.12": 7} {
		if got, ok := restore.MaxRDBVersion(v); !ok || got != want {
			t.Errorf("MaxRDBVersion(%s) = %d, %v; want %d", v, got, ok, want)
		}
	}
	for _, v := range []string{"8.12.0", "9.0.0", "garbage", ""} {
		if got, ok := restore.MaxRDBVersion(v); ok {
			t.Errorf("MaxRDBVersion(%s) = %d, true; want unknown", v, got)
		}
	}
}

// TestMaxRDBVersionMatchesRedis checks the table against the installed
// redis-server: the RDB version it writes is the newest it loads.
func TestMaxRDBVersionMatchesRedis(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	c := redis.New(redis.Options{Addr: r.Addr})
	defer c.Close()
	if _, err := backup.Snapshot(t.Context(), c, backup.SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(r.Dir, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := rdb.Copy(nopWriter{}, f)
	if err != nil {
		t.Fatal(err)
	}
	v := fmt.Sprintf("%d.%d.%d", r.Version[0], r.Version[1], r.Version[2])
	if got, ok := restore.MaxRDBVersion(v); !ok || got != info.Version {
		t.Fatalf("MaxRDBVersion(%s) = %d, %v; redis-server %s writes RDB %d", v, got, ok, v, info.Version)
	}
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

func TestPreflight(t *testing.T) {
	m := &storage.Manifest{
		Redis: storage.Redis{Version: "7.2.4"},
		RDB:   storage.RDB{Version: 11, Aux: map[string]string{"used-mem": "1000000"}},
		Data:  storage.Data{RawSize: 500000},
	}
	ok := restore.TargetInfo{RedisVersion: "7.2.4", MaxRDB: 11, FreeBytes: 10 << 20}
	if err := restore.Refusals(restore.Preflight(m, ok, restore.Overrides{})); err != nil {
		t.Fatalf("a compatible target was refused: %v", err)
	}
	tests := []struct {
		name string
		edit func(*restore.TargetInfo, *storage.Manifest)
		o    restore.Overrides
		says string // "" = accepted
	}{
		{"newer RDB", func(t *restore.TargetInfo, _ *storage.Manifest) { t.RedisVersion, t.MaxRDB = "6.2.14", 9 }, restore.Overrides{}, "RDB version 11 (from redis 7.2.4) but the target runs redis 6.2.14, which loads RDB versions up to 9"},
		{"modules missing", func(_ *restore.TargetInfo, m *storage.Manifest) { m.RDB.Modules = []string{"ReJSON-RL"} }, restore.Overrides{}, "module types ReJSON-RL"},
		{"over maxmemory", func(t *restore.TargetInfo, _ *storage.Manifest) { t.MaxMemory = 500000 }, restore.Overrides{}, "more than maxmemory"},
		{"over maxmemory accepted", func(t *restore.TargetInfo, _ *storage.Manifest) { t.MaxMemory = 500000 }, restore.Overrides{AllowMemory: true}, ""},
		{"over the container limit", func(t *restore.TargetInfo, _ *storage.Manifest) { t.MemoryLimit = 900000 }, restore.Overrides{}, "container memory limit"},
		{"no disk", func(t *restore.TargetInfo, _ *storage.Manifest) { t.FreeBytes = 600000 }, restore.Overrides{}, "needs 1000000"},
		{"replicas", func(t *restore.TargetInfo, _ *storage.Manifest) { t.Replicas = 2 }, restore.Overrides{}, "2 connected replicas"},
		{"AOF left on disk", func(t *restore.TargetInfo, _ *storage.Manifest) { t.StaleAOF = "/data/appendonlydir" }, restore.Overrides{}, "/data/appendonlydir holds an AOF"},
		{"replicas accepted", func(t *restore.TargetInfo, _ *storage.Manifest) { t.Replicas = 2 }, restore.Overrides{AllowReplicas: true}, ""},
		{"sentinel", func(t *restore.TargetInfo, _ *storage.Manifest) { t.Sentinel = "pod has a sentinel container" }, restore.Overrides{}, "fail over"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ti, mm := ok, *m
			mm.RDB.Aux = m.RDB.Aux
			tt.edit(&ti, &mm)
			err := restore.Refusals(restore.Preflight(&mm, ti, tt.o))
			switch {
			case tt.says == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.says != "" && (!errors.Is(err, restore.ErrRefused) || !strings.Contains(err.Error(), tt.says)):
				t.Fatalf("err = %v, want a refusal saying %q", err, tt.says)
			}
		})
	}
}

func TestCheckLoaded(t *testing.T) {
	m := &storage.Manifest{RDB: storage.RDB{DBs: []storage.DB{{Index: 0, Keys: 100, Expires: 10}, {Index: 2, Keys: 5}}}}
	for _, tt := range []struct {
		name            string
		loaded, expired int64
		keys            map[int]int64
		ok              bool
	}{
		{"exact", 105, 0, nil, true},
		{"some expired on load", 101, 4, nil, true},
		{"missing keys", 90, 0, nil, false},
		{"no counters, within expiries", -1, -1, map[int]int64{0: 95, 2: 5}, true},
		{"no counters, db missing", -1, -1, map[int]int64{0: 100}, false},
		{"no counters, extra keys", -1, -1, map[int]int64{0: 101, 2: 5}, false},
	} {
		if err := restore.CheckLoaded(m, tt.loaded, tt.expired, tt.keys); (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}
