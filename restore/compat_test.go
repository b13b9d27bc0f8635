package restore_test

import (
	"strings"
	"testing"

	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

func TestMaxRDBVersions(t *testing.T) {
	tests := []struct {
		flavor, v     string
		redis, valkey int
		ok            bool
	}{
		{storage.FlavorRedis, "7.4.1", 12, 0, true},
		{"", "6.2.16", 9, 0, true},
		{storage.FlavorValkey, "7.2.5", 11, 0, true},
		{storage.FlavorValkey, "8.0.1", 11, 0, true},
		{storage.FlavorValkey, "8.1.4", 11, 0, true},
		{storage.FlavorValkey, "9.0.0", 11, 80, true},
		{storage.FlavorValkey, "9.1.0", 11, 80, true},
		{storage.FlavorValkey, "9.2.1", 11, 81, true},
		{storage.FlavorValkey, "9.3.0", 0, 0, false},
		{storage.FlavorValkey, "x", 0, 0, false},
	}
	for _, tt := range tests {
		r, v, ok := restore.MaxRDBVersions(tt.flavor, tt.v)
		if r != tt.redis || v != tt.valkey || ok != tt.ok {
			t.Errorf("MaxRDBVersions(%q, %s) = %d, %d, %v; want %d, %d, %v", tt.flavor, tt.v, r, v, ok, tt.redis, tt.valkey, tt.ok)
		}
	}
}

// TestPreflightCrossLoading checks the loading rules between Redis and
// Valkey; every refusal names both the backup's server and the target.
func TestPreflightCrossLoading(t *testing.T) {
	redis := func(v string) storage.Redis { return storage.Redis{Flavor: storage.FlavorRedis, Version: v} }
	valkey := func(v string) storage.Redis {
		return storage.Redis{Flavor: storage.FlavorValkey, Version: v, RedisCompat: "7.2.4"}
	}
	target := func(s storage.Redis, relaxed bool) restore.TargetInfo {
		r, v, ok := restore.MaxRDBVersions(s.Flavor, s.Version)
		if !ok {
			t.Fatalf("no table entry for %s", s)
		}
		return restore.TargetInfo{Flavor: s.Flavor, RedisVersion: s.Version, MaxRDB: r, MaxValkeyRDB: v,
			RDBVersionCheckRelaxed: relaxed, FreeBytes: 1 << 30}
	}
	tests := []struct {
		name    string
		from    storage.Redis
		magic   string
		version int
		to      restore.TargetInfo
		says    []string // in the rdb-version finding
		refuse  bool
	}{
		{"redis 6.2 into redis 7.4", redis("6.2.16"), "REDIS", 9, target(redis("7.4.1"), false), []string{"loads in redis 7.4.1"}, false},
		{"redis 7.4 into redis 7.0", redis("7.4.1"), "REDIS", 12, target(redis("7.0.15"), false),
			[]string{"RDB version 12 (from redis 7.4.1)", "target runs redis 7.0.15", "up to 10"}, true},
		{"valkey 8 into redis 7.4", valkey("8.0.1"), "REDIS", 11, target(redis("7.4.1"), false), []string{"(from valkey 8.0.1) loads in redis 7.4.1"}, false},
		{"valkey 8 into redis 7.0", valkey("8.0.1"), "REDIS", 11, target(redis("7.0.15"), false),
			[]string{"from valkey 8.0.1", "redis 7.0.15", "up to 10"}, true},
		{"redis 7.2 into valkey 8", redis("7.2.4"), "REDIS", 11, target(valkey("8.0.1"), false), []string{"loads in valkey 8.0.1"}, false},
		{"redis 7.4 into valkey 8.1", redis("7.4.1"), "REDIS", 12, target(valkey("8.1.0"), false),
			[]string{"RDB version 12 (from redis 7.4.1)", "valkey 8.1.0", "Redis RDB versions up to 11"}, true},
		{"redis 7.4 into valkey 8.1, relaxed does not exist there", redis("7.4.1"), "REDIS", 12, target(valkey("8.1.0"), true),
			[]string{"valkey 8.1.0"}, true},
		{"redis 8.2 into valkey 9", redis("8.2.1"), "REDIS", 12, target(valkey("9.0.0"), false),
			[]string{"from redis 8.2.1", "valkey 9.0.0", "foreign", "rdb-version-check relaxed"}, true},
		{"redis 8.2 into valkey 9 relaxed", redis("8.2.1"), "REDIS", 12, target(valkey("9.0.0"), true),
			[]string{"foreign to valkey 9.0.0", "relaxed"}, false},
		{"valkey 9 into redis 8.10", valkey("9.0.0"), "VALKEY", 80, target(redis("8.10.0"), false),
			[]string{"VALKEY080 (from valkey 9.0.0)", "redis 8.10.0", "Redis does not load Valkey's VALKEY files"}, true},
		{"valkey 9 into valkey 8", valkey("9.0.0"), "VALKEY", 80, target(valkey("8.0.1"), false),
			[]string{"VALKEY080 (from valkey 9.0.0)", "valkey 8.0.1", "loads no VALKEY files"}, true},
		{"valkey 9.2 into valkey 9.0", valkey("9.2.0"), "VALKEY", 81, target(valkey("9.0.0"), false),
			[]string{"VALKEY081 (from valkey 9.2.0)", "valkey 9.0.0", "up to 080"}, true},
		{"valkey 9 into valkey 9.2", valkey("9.0.0"), "VALKEY", 80, target(valkey("9.2.0"), false), []string{"loads in valkey 9.2.0"}, false},
		{"old manifest without magic", storage.Redis{Version: "7.0.15"}, "", 10, target(redis("7.0.15"), false), []string{"(from redis 7.0.15) loads in redis 7.0.15"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &storage.Manifest{Redis: tt.from, RDB: storage.RDB{Magic: tt.magic, Version: tt.version}}
			f := finding(t, restore.Preflight(m, tt.to, restore.Overrides{}), "rdb-version")
			if f.Refuse != tt.refuse {
				t.Errorf("refuse = %v, want %v: %s", f.Refuse, tt.refuse, f.Detail)
			}
			for _, s := range tt.says {
				if !strings.Contains(f.Detail, s) {
					t.Errorf("detail %q does not say %q", f.Detail, s)
				}
			}
		})
	}
}

func TestPreflightUnparsedBackup(t *testing.T) {
	to := restore.TargetInfo{Flavor: storage.FlavorRedis, RedisVersion: "8.10.0", MaxRDB: 15, FreeBytes: 1 << 30}
	m := &storage.Manifest{Redis: storage.Redis{Flavor: storage.FlavorRedis, Version: "8.12.0"},
		RDB: storage.RDB{Magic: "REDIS", Version: 16, Structure: "not-parsed: RDB version 16 is newer than this rdbak (REDIS 1..15 known)"}}
	fs := restore.Preflight(m, to, restore.Overrides{})
	if f := finding(t, fs, "rdb-version"); !f.Refuse || !strings.Contains(f.Detail, "from redis 8.12.0") {
		t.Errorf("rdb-version: %+v, want a refusal naming redis 8.12.0", f)
	}
	if f := finding(t, fs, "rdb-structure"); f.Refuse || !strings.Contains(f.Detail, "CRC-64 only") {
		t.Errorf("rdb-structure: %+v, want a warning about the CRC-only check", f)
	}
	m.RDB = storage.RDB{Version: 0, Structure: "not-parsed: header \"KEYDB0011\" starts with neither REDIS nor VALKEY"}
	if f := finding(t, restore.Preflight(m, to, restore.Overrides{}), "rdb-version"); !f.Refuse || !strings.Contains(f.Detail, "format this rdbak does not know") {
		t.Errorf("unknown magic: %+v, want a refusal", f)
	}
	if err := restore.CheckLoaded(m, 100, 0, nil); err != nil {
		t.Errorf("CheckLoaded of an unparsed backup: %v, want nil (no counts to compare)", err)
	}
}

func finding(t *testing.T, fs []restore.Finding, check string) restore.Finding {
	t.Helper()
	for _, f := range fs {
		if f.Check == check {
			return f
		}
	}
	t.Fatalf("no %s finding in %+v", check, fs)
	return restore.Finding{}
}
