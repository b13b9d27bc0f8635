package storage

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestManifestBackwardCompatible: a manifest written before flavor, magic
// and structure were recorded still reads, as a parsed Redis backup.
func TestManifestBackwardCompatible(t *testing.T) {
	old := `{"format":1,"id":"20250101T000000Z-abcd","target":"t","created":"2025-01-01T00:00:00Z",
		"finished":"2025-01-01T00:00:01Z","source":{"kind":"replication","origin":"10.0.0.1:6379"},
		"redis":{"version":"7.0.15","role":"master"},
		"rdb":{"version":10,"dbs":[{"db":0,"keys":3,"expires":1}],"crc64":"0123456789abcdef","checksumVerified":true},
		"data":{"name":"dump.rdb.zst","rawSize":10,"rawSha256":"x","storedSize":9,"storedSha256":"y","compression":{"codec":"zstd"}},
		"rdbak":{"version":"v0.1.0"}}`
	m, err := decodeManifest([]byte(old), "t/old/manifest.json")
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if got, want := m.Redis.FlavorOf(), FlavorRedis; got != want {
		t.Errorf("FlavorOf() = %q, want %q", got, want)
	}
	if got, want := m.Redis.String(), "redis 7.0.15"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := m.RDB.StructureOf(), StructureVerified; got != want {
		t.Errorf("StructureOf() = %q, want %q", got, want)
	}
	if m.Keys() != 3 {
		t.Errorf("Keys() = %d, want 3", m.Keys())
	}
}

func TestManifestNewFieldsRoundTrip(t *testing.T) {
	m := Manifest{Format: ManifestFormat, ID: "id", Data: Data{Name: DataName("zst")},
		Redis: Redis{Flavor: FlavorValkey, Version: "8.0.1", RedisCompat: "7.2.4"},
		RDB:   RDB{Magic: "REDIS", Version: 16, Structure: "not-parsed: RDB version 16 is newer than this rdbak (REDIS 1..15 known)"}}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeManifest(b, "k")
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if got.Redis != m.Redis || got.RDB.Structure != m.RDB.Structure || got.RDB.Magic != m.RDB.Magic {
		t.Errorf("round trip: got %+v %+v, want %+v %+v", got.Redis, got.RDB, m.Redis, m.RDB)
	}
	if got, want := got.Redis.String(), "valkey 8.0.1"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// TestManifestDataNames: a data object name is a name beside the manifest;
// an edited one must not reach another target's object through dataKey.
func TestManifestDataNames(t *testing.T) {
	one := func(name string) Manifest {
		return Manifest{Format: ManifestFormat, ID: "id", Target: "ta", Data: Data{Name: name}}
	}
	set := func(names ...string) Manifest {
		m := Manifest{Format: ManifestFormatSet, ID: "id", Target: "ta", Cluster: &Cluster{}}
		for _, n := range names {
			m.Cluster.Shards = append(m.Cluster.Shards, Shard{Data: Data{Name: n}})
		}
		return m
	}
	partial := one("dump.rdb.zst")
	partial.Cluster = &Cluster{Partial: true, Shards: []Shard{{}}}
	for _, tc := range []struct {
		name string
		m    Manifest
		want string // in the error; "" means accepted
	}{
		{"plain", one("dump.rdb.zst"), ""},
		{"encrypted", one("dump.rdb.zst.age"), ""},
		{"partial node", partial, ""},
		{"set", set("shard-0.dump.rdb.zst", "shard-1.dump.rdb.zst"), ""},
		{"other target", one("../../tb/20261122T053012Z-3f9a1c/dump.rdb.zst"), `data.name "../../tb/`},
		{"subdirectory", one("x/dump.rdb"), `data.name "x/dump.rdb"`},
		{"backslash", one(`..\dump.rdb`), "data.name"},
		{"dot", one("."), `data.name "."`},
		{"dot dot", one(".."), `data.name ".."`},
		{"empty", one(""), `data.name ""`},
		{"set shard", set("shard-0.dump.rdb.zst", "../shard-1.dump.rdb.zst"), `cluster.shards[1].data.name "../shard-1`},
		{"set shard empty", set(""), "cluster.shards[0].data.name"},
	} {
		b, err := json.Marshal(tc.m)
		if err != nil {
			t.Fatal(err)
		}
		_, err = decodeManifest(b, "ta/id/manifest.json")
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: decode: %v, want it accepted", tc.name, err)
		case tc.want == "":
		case !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), tc.want):
			t.Errorf("%s: decode: %v, want ErrDamaged naming %s", tc.name, err, tc.want)
		}
	}
}
