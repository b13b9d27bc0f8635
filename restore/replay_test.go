package restore

import (
	"errors"
	"strings"
	"testing"

	"github.com/rdbak/rdbak/storage"
)

func TestCheckReplay(t *testing.T) {
	backup := func(flavor, version string, rdbVersion int, dbs ...storage.DB) *storage.Manifest {
		return &storage.Manifest{ID: "b", Redis: storage.Redis{Flavor: flavor, Version: version},
			RDB: storage.RDB{Magic: "REDIS", Version: rdbVersion, DBs: dbs}}
	}
	set := backup("redis", "7.4.1", 12, storage.DB{Index: 0, Keys: 9})
	set.Cluster = &storage.Cluster{Shards: []storage.Shard{{RDB: storage.RDB{Magic: "REDIS", Version: 12}, Redis: storage.Redis{Version: "7.4.1"}}}}
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
