package restore

import (
	"errors"
	"strings"
	"testing"

	"github.com/rdbak/rdbak/internal/rdb"
	"github.com/rdbak/rdbak/storage"
)

func TestCheckReplay(t *testing.T) {
	backup := func(flavor, version string, rdbVersion int, dbs ...storage.DB) *storage.Manifest {
		return &storage.Manifest{ID: "b", Redis: storage.Redis{Flavor: flavor, Version: version},
			RDB: storage.RDB{Magic: "REDIS", Version: rdbVersion, DBs: dbs}}
	}
	set := backup("redis", "7.4.1", 12, storage.DB{Index: 0, Keys: 9})
	set.Cluster = &storage.Cluster{Shards: []storage.Shard{{RDB: storage.RDB{Magic: "REDIS", Version: 12}, Redis: storage.Redis{Version: "7.4.1"}}}}
	unparsed := backup("redis", "7.4.1", 12)
	unparsed.RDB.Structure = "not-parsed: unknown type 99"
	tests := []struct {
		name string
		m    *storage.Manifest
		t    ReplayTarget
		want string // "" for accepted
	}{
		{"same version", backup("redis", "7.0.15", 10), ReplayTarget{Version: "7.0.15"}, ""},
		{"older into newer", backup("redis", "6.2.16", 9), ReplayTarget{Version: "7.4.1", Cluster: true}, ""},
		{"newer into older", backup("redis", "7.4.1", 12), ReplayTarget{Version: "7.0.15"}, "RDB version 12 (from redis 7.4.1) and redis 7.0.15 RESTOREs payloads up to version 10"},
		{"redis 7.2 into valkey 8", backup("redis", "7.2.4", 11), ReplayTarget{Flavor: "valkey", Version: "8.0.1"}, ""},
		{"redis 7.4 into valkey 8", backup("redis", "7.4.1", 12), ReplayTarget{Flavor: "valkey", Version: "8.0.1"}, "up to version 11"},
		{"valkey 8 into redis 7.4", backup("valkey", "8.0.1", 11), ReplayTarget{Version: "7.4.1"}, ""},
		{"set shard too new", set, ReplayTarget{Version: "6.2.16"}, "shard 0: the backup is RDB version 12"},
		{"db 3 into a cluster", backup("redis", "7.0.15", 10, storage.DB{Index: 0, Keys: 1}, storage.DB{Index: 3, Keys: 5}), ReplayTarget{Version: "7.0.15", Cluster: true}, "keys in db 3 (5 keys)"},
		{"db 3 into standalone", backup("redis", "7.0.15", 10, storage.DB{Index: 3, Keys: 5}), ReplayTarget{Version: "7.0.15"}, ""},
		{"unknown newer target", backup("redis", "7.4.1", 12), ReplayTarget{Version: "99.0.0"}, ""},
		{"into a replica", backup("redis", "7.0.15", 10), ReplayTarget{Version: "7.0.15", MasterOf: "10.0.0.7:6379"}, "a replica of 10.0.0.7:6379"},
		{"into a cluster replica", backup("redis", "7.0.15", 10), ReplayTarget{Version: "7.0.15", Cluster: true, MasterOf: "10.0.0.7:6379"}, ""},
		{"structure not parsed", unparsed, ReplayTarget{Version: "7.4.1"}, "accepted on its CRC-64 alone (structure not-parsed: unknown type 99)"},
	}
	for _, tt := range tests {
		err := CheckReplay(tt.m, tt.t)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: CheckReplay = %v, want nil", tt.name, err)
		case tt.want != "" && (!errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: CheckReplay = %v, want ErrRefused with %q", tt.name, err, tt.want)
		}
	}
}

// TestCheckReplayable: what the verification found decides, whatever the
// manifest says: a key that cannot be cut out would stop the replay half
// way.
func TestCheckReplayable(t *testing.T) {
	m := &storage.Manifest{ID: "b"}
	if err := CheckReplayable(m, &Report{}); err != nil {
		t.Errorf("a parsed RDB: %v", err)
	}
	if err := CheckReplayable(m, &Report{RDB: rdb.Info{Unparsed: "LZF string of 2 bytes claims to expand to 264"}}); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "restore it into a pod or a file") {
		t.Errorf("an RDB accepted on its CRC-64: %v, want ErrRefused saying what to do", err)
	}
}
