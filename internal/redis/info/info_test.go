package info

import (
	"reflect"
	"testing"
)

// reply70 is the relevant part of a Redis 7.0 INFO reply, with its
// section headers and CRLF line ends.
const reply70 = "# Server\r\nredis_version:7.0.15\r\nrun_id:abc\r\nuptime_in_seconds:42\r\nserver_time_usec:1700000000123456\r\n\r\n" +
	"# Persistence\r\nloading:0\r\nrdb_bgsave_in_progress:1\r\nrdb_last_save_time:1700000000\r\nrdb_last_bgsave_status:ok\r\n" +
	"rdb_last_bgsave_time_sec:14\r\nrdb_saves:3\r\nrdb_last_cow_size:4096\r\naof_enabled:1\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:1\r\n" +
	"rdb_last_load_keys_expired:2\r\nrdb_last_load_keys_loaded:10\r\n\r\n" +
	"# Replication\r\nrole:slave\r\nmaster_host:10.0.0.1\r\nmaster_port:6379\r\nmaster_link_status:up\r\nmaster_last_io_seconds_ago:3\r\n" +
	"connected_slaves:0\r\nmaster_replid:r1\r\nmaster_repl_offset:99\r\n\r\n" +
	"# Memory\r\nused_memory:1000\r\nmaxmemory:2000\r\n\r\n" +
	"# Modules\r\nmodule:name=search,ver=20603,api=1\r\nmodule:name=ReJSON,ver=20600,api=1\r\n\r\n" +
	"# Keyspace\r\ndb3:keys=5,expires=1,avg_ttl=0\r\ndb0:keys=10,expires=2,avg_ttl=7\r\n"

func TestParse(t *testing.T) {
	got := Parse(reply70)
	want := &Info{
		Server: Server{Version: "7.0.15", RunID: "abc", Uptime: 42, TimeUsec: 1700000000123456, HasTime: true},
		Persistence: Persistence{BGSaveInProgress: true, AOFRewrite: true, AOFEnabled: true, LastSaveTime: 1700000000,
			HasLastSaveTime: true, LastBGSaveStatus: "ok", LastBGSaveTime: 14, Saves: 3, HasSaves: true, LastCowSize: 4096,
			LastLoadKeysLoaded: 10, LastLoadKeysExpired: 2, HasLastLoad: true},
		Replication: Replication{Role: "slave", MasterHost: "10.0.0.1", MasterPort: "6379", MasterLinkUp: true,
			MasterLastIO: 3, MasterReplID: "r1", MasterReplOffset: 99, SlavePriority: -1},
		Memory:   Memory{UsedMemory: 1000, MaxMemory: 2000},
		Keyspace: []DB{{Index: 0, Keys: 10, Expires: 2}, {Index: 3, Keys: 5, Expires: 1}},
		Modules:  []string{"search", "ReJSON"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse:\n got %+v\nwant %+v", got, want)
	}
	if got.KeysTotal() != 15 {
		t.Errorf("KeysTotal = %d, want 15", got.KeysTotal())
	}
	if got.Server.Major() != 7 {
		t.Errorf("Major = %d, want 7", got.Server.Major())
	}
}

// TestParseOlder checks the fields older servers lack: they read as
// absent, not as zero values that look real.
func TestParseOlder(t *testing.T) {
	got := Parse("redis_version:4.0.14\nrdb_last_save_time:12\nrole:master\nconnected_slaves:2\n")
	switch {
	case got.Persistence.HasSaves, got.Server.HasTime, got.Persistence.HasLastLoad:
		t.Errorf("fields absent from 4.0 reported present: %+v", got)
	case !got.Persistence.HasLastSaveTime || got.Persistence.LastSaveTime != 12:
		t.Errorf("rdb_last_save_time = %d (present %v), want 12", got.Persistence.LastSaveTime, got.Persistence.HasLastSaveTime)
	case !got.Replication.IsMaster() || got.Replication.ConnectedSlaves != 2 || got.Replication.MasterLastIO != -1:
		t.Errorf("replication = %+v", got.Replication)
	case got.Persistence.LastBGSaveTime != -1:
		t.Errorf("rdb_last_bgsave_time_sec absent read as %d, want -1", got.Persistence.LastBGSaveTime)
	case len(got.Keyspace) != 0 || got.KeysTotal() != 0:
		t.Errorf("keyspace of an empty server = %+v", got.Keyspace)
	}
}

func TestValkey(t *testing.T) {
	// Valkey says server_mode where Redis says redis_mode.
	got := Parse("# Server\nredis_version:7.2.4\nvalkey_version:8.0.1\nserver_name:valkey\nserver_mode:sentinel\n")
	if got.Server.Version != "7.2.4" || got.Server.ValkeyVersion != "8.0.1" || got.Server.Mode != "sentinel" {
		t.Errorf("server = %+v", got.Server)
	}
}
