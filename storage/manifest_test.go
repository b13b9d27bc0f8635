package storage

import (
	"encoding/json"
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
	m := Manifest{Format: ManifestFormat, ID: "id",
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
