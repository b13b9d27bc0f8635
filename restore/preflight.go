package restore

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/rdbak/rdbak/storage"
)

// ErrRefused means a pre-flight check found that restoring would not work or
// would lose data; nothing was changed.
var ErrRefused = errors.New("restore refused")

// rdbVersions maps Redis major.minor to the RDB version it writes, which is
// the newest it loads (its loader accepts 1..RDB_VERSION). From Redis's
// src/rdb.h at each release (8.8 and 8.10 from ../shared/redis-src/README.md);
// the version suite checks every real server it runs against this table.
var rdbVersions = []struct {
	major, minor, rdb int
}{
	{2, 6, 6}, {2, 8, 6}, {3, 0, 6}, {3, 2, 7}, {4, 0, 8}, {5, 0, 9}, {6, 0, 9}, {6, 2, 9},
	{7, 0, 10}, {7, 2, 11}, {7, 4, 12}, {8, 0, 12}, {8, 2, 12}, {8, 4, 12}, {8, 6, 13},
	{8, 8, 14}, {8, 10, 15},
}

// MaxRDBVersion returns the newest RDB version Redis version v (e.g.
// "7.0.15") loads. ok is false for versions newer than the table, which the
// caller must then learn from the server itself.
func MaxRDBVersion(v string) (rdb int, ok bool) {
	major, minor, ok := majorMinor(v)
	if !ok {
		return 0, false
	}
	last := rdbVersions[len(rdbVersions)-1]
	if major > last.major || major == last.major && minor > last.minor {
		return 0, false
	}
	// The newest release not newer than v: a version between two releases
	// gets the older one's value, which can only refuse, never break.
	best := 0
	for _, e := range rdbVersions {
		if e.major < major || e.major == major && e.minor <= minor {
			best = e.rdb
		}
	}
	return best, best > 0
}

// TargetInfo is what pre-flight learned about the Redis to restore into.
type TargetInfo struct {
	Flavor       string // storage.FlavorRedis or FlavorValkey; "" = Redis
	RedisVersion string // the server's own version (valkey_version on Valkey)
	MaxRDB       int    // newest Redis-magic RDB version the target loads
	// MaxValkeyRDB is the newest VALKEY-magic version it loads, 0 = none
	// (see MaxRDBVersions).
	MaxValkeyRDB int
	// RDBVersionCheckRelaxed is Valkey 9's rdb-version-check relaxed, under
	// which it loads Redis's "foreign" RDB 12..79.
	RDBVersionCheckRelaxed bool
	Modules                []string // module names loaded (MODULE LIST)
	MaxMemory              int64    // maxmemory, 0 = none
	MemoryLimit            int64    // container memory limit, 0 = none
	FreeBytes              int64    // free space in the data volume, -1 unknown
	Replicas               int      // connected_slaves
	Sentinel               string   // why a Sentinel or operator is suspected, "" if not
	// StaleAOF is the path of an AOF in the dir of a Redis that runs with
	// appendonly no, "" if none: the restore installs dbfilename only,
	// but a Redis that restarts with appendonly yes (as its config may
	// say: an interrupted restore leaves AOF off until then) loads the
	// AOF instead.
	StaleAOF string
}

// Finding is one pre-flight result.
type Finding struct {
	Refuse bool   `json:"refuse"`
	Check  string `json:"check"`
	Detail string `json:"detail"`
}

// Overrides are the flags that accept a known risk.
type Overrides struct {
	AllowReplicas bool // restore a master whose replicas would full-resync
	AllowMemory   bool // restore a dataset larger than maxmemory / the limit
}

// Preflight checks backup m against target t before anything changes.
func Preflight(m *storage.Manifest, t TargetInfo, o Overrides) []Finding {
	var fs []Finding
	add := func(refuse bool, check, format string, a ...any) {
		fs = append(fs, Finding{Refuse: refuse, Check: check, Detail: fmt.Sprintf(format, a...)})
	}
	refuse, detail := loadCheck(m, t)
	add(refuse, "rdb-version", "%s", detail)
	if s := m.RDB.StructureOf(); s != storage.StructureVerified {
		add(false, "rdb-structure", "the backup's RDB was verified by its CRC-64 only, its structure was not parsed (%s); the server's own loader is the first to check it", s)
	}
	if len(m.RDB.Modules) > 0 {
		if len(t.Modules) == 0 {
			add(true, "modules", "the backup holds values of module types %s but the target loads no modules: Redis would refuse to start", strings.Join(m.RDB.Modules, ", "))
		} else {
			add(false, "modules", "the backup holds module types %s; the target loads modules %s (rdbak cannot map type names to modules: check they match)", strings.Join(m.RDB.Modules, ", "), strings.Join(t.Modules, ", "))
		}
	}
	used, _ := strconv.ParseInt(m.RDB.Aux["used-mem"], 10, 64)
	if used > 0 {
		for _, lim := range []struct {
			name string
			v    int64
		}{{"maxmemory", t.MaxMemory}, {"the container memory limit", t.MemoryLimit}} {
			switch {
			case lim.v == 0:
			case used > lim.v:
				add(!o.AllowMemory, "memory", "the dataset used %d bytes when backed up, more than %s (%d)%s", used, lim.name, lim.v, overrideHint(o.AllowMemory, "--allow-memory"))
			case used > lim.v*9/10:
				add(false, "memory", "the dataset used %d bytes when backed up, over 90%% of %s (%d)", used, lim.name, lim.v)
			}
		}
	}
	switch need := 2 * m.Data.RawSize; {
	case t.FreeBytes < 0:
		add(false, "disk", "free space in the data volume is unknown; the restore needs about %d bytes", need)
	case t.FreeBytes < need:
		add(true, "disk", "the data volume has %d bytes free; the restore needs %d (the new file beside the old one)", t.FreeBytes, need)
	default:
		add(false, "disk", "the data volume has %d bytes free, the restore needs %d", t.FreeBytes, need)
	}
	if t.StaleAOF != "" {
		add(true, "aof", "Redis runs with appendonly no, but %s holds an AOF, which Redis loads instead of the restored file if it restarts with appendonly yes, as its config may say "+
			"(a restore that was interrupted leaves AOF off until Redis restarts, and the writes since are in no file): if Redis is meant to run with AOF, "+
			"run CONFIG SET appendonly yes on it, which writes a new AOF from its data, and restore again; if not, move %s aside", t.StaleAOF, t.StaleAOF)
	}
	if t.Replicas > 0 {
		add(!o.AllowReplicas, "replicas", "the target has %d connected replicas: when the restored master comes back they resync from it and drop their data%s",
			t.Replicas, overrideHint(o.AllowReplicas, "--allow-replicas (after making sure the replicas should follow the restored data)"))
	}
	if t.Sentinel != "" {
		add(!o.AllowReplicas, "sentinel", "%s: it may fail over to another node while the master is down and the restored data would be lost%s", t.Sentinel,
			overrideHint(o.AllowReplicas, "--allow-replicas (after pausing the Sentinel or operator)"))
	}
	return fs
}

// Refusals returns an error listing every refusing finding, or nil.
func Refusals(fs []Finding) error {
	var msgs []string
	for _, f := range fs {
		if f.Refuse {
			msgs = append(msgs, "  - "+f.Check+": "+f.Detail)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%w; nothing was changed:\n%s", ErrRefused, strings.Join(msgs, "\n"))
}

func overrideHint(overridden bool, flag string) string {
	if overridden {
		return " (accepted by override)"
	}
	return "; to accept the risk pass " + flag
}

// CheckLoaded compares what Redis reports after loading the restored data
// with the manifest. loaded and expired are rdb_last_load_keys_loaded and
// rdb_last_load_keys_expired (Redis 7.0+; -1 when absent); keys is INFO
// keyspace, keys per db, used when the load counters are absent. Keys
// whose expiry passed since the snapshot may be missing, no others.
func CheckLoaded(m *storage.Manifest, loaded, expired int64, keys map[int]int64) error {
	if m.RDB.StructureOf() != storage.StructureVerified {
		return nil // no key counts: the structure was not parsed
	}
	total := int64(m.Keys())
	if loaded >= 0 {
		if loaded+max(expired, 0) != total {
			return fmt.Errorf("redis loaded %d keys (%d more expired while loading) but the backup holds %d: the data is not what was restored", loaded, max(expired, 0), total)
		}
		return nil
	}
	var errs []string
	for _, db := range m.RDB.DBs {
		got := keys[db.Index]
		if got > int64(db.Keys) || got < int64(db.Keys-db.Expires) {
			errs = append(errs, fmt.Sprintf("db%d has %d keys, the backup %d (%d with an expiry)", db.Index, got, db.Keys, db.Expires))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("the data is not what was restored: %s", strings.Join(errs, "; "))
	}
	return nil
}
