// Package info is the one reader of Redis's INFO reply: it turns the text
// into typed sections, so no other code reads INFO fields by string key.
// It does no I/O and imports no client library, so the domain packages can
// use its types: the adapter in internal/redis fills them.
//
// Missing fields stay at their zero value, and the Has* flags say whether a
// field that only some versions report was there (rdb_saves since 7.0,
// server_time_usec since 5.0, rdb_last_load_keys_loaded since 7.0).
package info

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Info is the parsed reply of INFO for the sections that were asked for.
type Info struct {
	Server      Server
	Persistence Persistence
	Replication Replication
	Memory      Memory
	Stats       Stats
	Cluster     Cluster
	Keyspace    []DB     // by db index, ascending; only dbs with keys
	Modules     []string // names of the loaded modules
}

// Server is INFO server.
type Server struct {
	// Version is redis_version. Valkey reports its Redis compatibility
	// level here (7.2.4) and its own version in ValkeyVersion.
	Version       string
	ValkeyVersion string
	// Mode is redis_mode, or server_mode on Valkey (unless its
	// extended-redis-compatibility is yes): standalone, cluster or
	// sentinel.
	Mode     string
	RunID    string
	Uptime   int64 // uptime_in_seconds
	TimeUsec int64 // server_time_usec
	HasTime  bool
}

// Major returns the major version of Version, 0 when it does not parse.
func (s Server) Major() int {
	n, _ := strconv.Atoi(strings.SplitN(s.Version, ".", 2)[0])
	return n
}

// Persistence is INFO persistence.
type Persistence struct {
	Loading          bool  // loading:1
	BGSaveInProgress bool  // rdb_bgsave_in_progress:1
	AOFRewrite       bool  // aof_rewrite_in_progress:1 or aof_rewrite_scheduled:1
	AOFEnabled       bool  // aof_enabled:1
	LastSaveTime     int64 // rdb_last_save_time, unix seconds
	HasLastSaveTime  bool
	// ChangesSinceLastSave is rdb_changes_since_last_save: writes since
	// the last successful save, or since the load at startup.
	ChangesSinceLastSave    int64
	HasChangesSinceLastSave bool
	LastBGSaveStatus        string // rdb_last_bgsave_status: ok or err
	// LastBGSaveTime is rdb_last_bgsave_time_sec, how long the last
	// BGSAVE took in whole seconds; -1 when there was none.
	LastBGSaveTime      int64
	Saves               int64 // rdb_saves
	HasSaves            bool
	LastCowSize         int64 // rdb_last_cow_size, bytes
	LastLoadKeysLoaded  int64 // rdb_last_load_keys_loaded
	LastLoadKeysExpired int64 // rdb_last_load_keys_expired
	HasLastLoad         bool
}

// Replication is INFO replication.
type Replication struct {
	Role             string // master or slave
	ConnectedSlaves  int
	MasterHost       string
	MasterPort       string
	MasterLinkUp     bool // master_link_status:up
	SyncInProgress   bool // master_sync_in_progress:1: a replica loading its master's snapshot
	MasterLastIO     int  // master_last_io_seconds_ago, -1 when absent
	MasterReplID     string
	MasterReplOffset int64
	// SlavePriority is a replica's replica-priority (slave_priority), -1
	// on a master or when absent.
	SlavePriority int
}

// Cluster is INFO cluster.
type Cluster struct {
	Enabled bool // cluster_enabled:1: the server is a Redis Cluster node
}

// IsMaster reports whether the server is a master.
func (r Replication) IsMaster() bool { return r.Role == "master" }

// Memory is INFO memory.
type Memory struct {
	UsedMemory int64  // used_memory
	MaxMemory  int64  // maxmemory, 0 = no limit
	Policy     string // maxmemory_policy
}

// Stats is INFO stats.
type Stats struct {
	EvictedKeys int64 // evicted_keys: keys removed to stay under maxmemory
}

// DB is one line of INFO keyspace.
type DB struct {
	Index   int
	Keys    int64
	Expires int64
}

// Parse parses the text of an INFO reply.
func Parse(text string) *Info {
	fields := make(map[string]string)
	var mods []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if k == "module" {
			// INFO modules has one "module:" line per module.
			mods = append(mods, v)
			continue
		}
		fields[k] = v
	}
	in := FromFields(fields)
	for _, v := range mods {
		if name, ok := moduleName(v); ok {
			in.Modules = append(in.Modules, name)
		}
	}
	return in
}

// FromFields builds an Info from INFO's key/value pairs.
func FromFields(f map[string]string) *Info {
	r := reader(f)
	in := &Info{}
	in.Server = Server{
		Version:       f["redis_version"],
		ValkeyVersion: f["valkey_version"],
		Mode:          cmp.Or(f["redis_mode"], f["server_mode"]),
		RunID:         f["run_id"],
		Uptime:        r.int("uptime_in_seconds"),
	}
	in.Server.TimeUsec, in.Server.HasTime = r.has("server_time_usec")
	p := &in.Persistence
	p.Loading = f["loading"] == "1"
	p.BGSaveInProgress = f["rdb_bgsave_in_progress"] == "1"
	p.AOFRewrite = f["aof_rewrite_in_progress"] == "1" || f["aof_rewrite_scheduled"] == "1"
	p.AOFEnabled = f["aof_enabled"] == "1"
	p.LastSaveTime, p.HasLastSaveTime = r.has("rdb_last_save_time")
	p.ChangesSinceLastSave, p.HasChangesSinceLastSave = r.has("rdb_changes_since_last_save")
	p.LastBGSaveStatus = f["rdb_last_bgsave_status"]
	p.LastBGSaveTime = -1
	if n, ok := r.has("rdb_last_bgsave_time_sec"); ok {
		p.LastBGSaveTime = n
	}
	p.Saves, p.HasSaves = r.has("rdb_saves")
	p.LastCowSize = r.int("rdb_last_cow_size")
	p.LastLoadKeysLoaded, p.HasLastLoad = r.has("rdb_last_load_keys_loaded")
	p.LastLoadKeysExpired = r.int("rdb_last_load_keys_expired")
	in.Replication = Replication{
		Role:             f["role"],
		ConnectedSlaves:  int(r.int("connected_slaves")),
		MasterHost:       f["master_host"],
		MasterPort:       f["master_port"],
		MasterLinkUp:     f["master_link_status"] == "up",
		SyncInProgress:   f["master_sync_in_progress"] == "1",
		MasterLastIO:     -1,
		MasterReplID:     f["master_replid"],
		MasterReplOffset: r.int("master_repl_offset"),
		SlavePriority:    -1,
	}
	if n, ok := r.has("slave_priority"); ok {
		in.Replication.SlavePriority = int(n)
	}
	if n, ok := r.has("master_last_io_seconds_ago"); ok {
		in.Replication.MasterLastIO = int(n)
	}
	in.Cluster = Cluster{Enabled: f["cluster_enabled"] == "1"}
	in.Memory = Memory{UsedMemory: r.int("used_memory"), MaxMemory: r.int("maxmemory"), Policy: f["maxmemory_policy"]}
	in.Stats = Stats{EvictedKeys: r.int("evicted_keys")}
	in.Keyspace = keyspace(f)
	in.Modules = modules(f)
	return in
}

// KeysTotal returns the number of keys in every db.
func (in *Info) KeysTotal() int64 {
	var n int64
	for _, db := range in.Keyspace {
		n += db.Keys
	}
	return n
}

// DBKeys returns the key count of each db by index.
func (in *Info) DBKeys() map[int]int64 {
	m := make(map[int]int64, len(in.Keyspace))
	for _, db := range in.Keyspace {
		m[db.Index] = db.Keys
	}
	return m
}

type reader map[string]string

// has returns the integer field k and whether it was present and numeric.
func (r reader) has(k string) (int64, bool) {
	v, ok := r[k]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

func (r reader) int(k string) int64 {
	n, _ := r.has(k)
	return n
}

// keyspace parses "db0:keys=1,expires=0,avg_ttl=0" lines.
func keyspace(f map[string]string) []DB {
	var dbs []DB
	for k, v := range f {
		idx, ok := strings.CutPrefix(k, "db")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(idx)
		if err != nil {
			continue
		}
		db := DB{Index: n}
		for _, kv := range strings.Split(v, ",") {
			name, val, _ := strings.Cut(kv, "=")
			x, _ := strconv.ParseInt(val, 10, 64)
			switch name {
			case "keys":
				db.Keys = x
			case "expires":
				db.Expires = x
			}
		}
		dbs = append(dbs, db)
	}
	slices.SortFunc(dbs, func(a, b DB) int { return a.Index - b.Index })
	return dbs
}

// modules reads the "module" field of a key/value map (Parse reads every
// module line of a reply).
func modules(f map[string]string) []string {
	if name, ok := moduleName(f["module"]); ok {
		return []string{name}
	}
	return nil
}

// moduleName parses "name=search,ver=20603,api=1,...".
func moduleName(v string) (string, bool) {
	return strings.CutPrefix(strings.SplitN(v, ",", 2)[0], "name=")
}
