package restore

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rdbak/rdbak/storage"
)

// valkeyRDB maps Valkey major.minor to what it loads: Redis-magic RDB files
// up to redis (Valkey 8.0 went back to RDB 11, valkey-io/valkey #665), and
// its own VALKEY-magic files up to valkey (VALKEY080 from 9.0, 081 from 9.2;
// 0 = none). Redis RDB 12..79 are "foreign" to Valkey 9, loaded only with
// rdb-version-check relaxed.
var valkeyRDB = []struct {
	major, minor, redis, valkey int
}{
	{7, 2, 11, 0}, {8, 0, 11, 0}, {8, 1, 11, 0}, {9, 0, 11, 80}, {9, 2, 11, 81},
}

// firstForeign is the first Redis RDB version Valkey 9 calls foreign; from
// 80 on the numbers are Valkey's own.
const firstForeign, lastForeign = 12, 79

// ValkeyRedisRDB is the newest Redis-magic RDB version any Valkey loads
// without rdb-version-check relaxed (Valkey 8.0 went back to 11).
const ValkeyRedisRDB = firstForeign - 1

// MaxRDBVersions returns the newest Redis-magic and Valkey-magic RDB
// versions that a server of flavor (storage.FlavorRedis or FlavorValkey,
// "" for Redis) and version v loads; valkey is 0 when it loads no VALKEY
// files. ok is false for versions newer than the tables.
func MaxRDBVersions(flavor, v string) (redis, valkey int, ok bool) {
	if flavor != storage.FlavorValkey {
		redis, ok = MaxRDBVersion(v)
		return redis, 0, ok
	}
	major, minor, ok := majorMinor(v)
	if !ok {
		return 0, 0, false
	}
	last := valkeyRDB[len(valkeyRDB)-1]
	if major > last.major || major == last.major && minor > last.minor {
		return 0, 0, false
	}
	for _, e := range valkeyRDB {
		if e.major < major || e.major == major && e.minor <= minor {
			redis, valkey = e.redis, e.valkey
		}
	}
	return redis, valkey, redis > 0
}

func majorMinor(v string) (major, minor int, ok bool) {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	return major, minor, err1 == nil && err2 == nil
}

// loadCheck decides whether target t loads the RDB of backup m, naming both
// sides either way: Redis loads its own RDB versions up to its RDB_VERSION
// and no VALKEY file; Valkey up to 8.1 loads Redis RDB up to 11; Valkey 9
// also loads its own VALKEY files and refuses Redis RDB 12..79 unless
// rdb-version-check is relaxed.
func loadCheck(m *storage.Manifest, t TargetInfo) (refuse bool, detail string) {
	target := targetName(t)
	from := m.Redis.String()
	magic := m.RDB.Magic
	if magic == "" && m.RDB.StructureOf() == storage.StructureVerified {
		magic = "REDIS" // manifests from before the magic was recorded
	}
	switch magic {
	case "REDIS":
		file := fmt.Sprintf("RDB version %d (from %s)", m.RDB.Version, from)
		switch {
		case m.RDB.Version <= t.MaxRDB:
			return false, fmt.Sprintf("%s loads in %s (up to %d)", file, target, t.MaxRDB)
		case t.Flavor != storage.FlavorValkey:
			return true, fmt.Sprintf("the backup is %s but the target runs %s, which loads RDB versions up to %d: restore into %s or newer",
				file, target, t.MaxRDB, from)
		case t.MaxValkeyRDB > 0 && m.RDB.Version >= firstForeign && m.RDB.Version <= lastForeign && t.RDBVersionCheckRelaxed:
			return false, fmt.Sprintf("%s is foreign to %s, which loads it only because rdb-version-check is relaxed; it stops at any value type it does not know", file, target)
		case t.MaxValkeyRDB > 0 && m.RDB.Version >= firstForeign && m.RDB.Version <= lastForeign:
			return true, fmt.Sprintf("the backup is %s but the target runs %s, which loads Redis RDB versions up to %d and refuses %d..%d as foreign unless rdb-version-check is relaxed: restore into %s, or set rdb-version-check relaxed on the target",
				file, target, t.MaxRDB, firstForeign, lastForeign, from)
		default:
			return true, fmt.Sprintf("the backup is %s but the target runs %s, which loads Redis RDB versions up to %d: restore into %s or newer",
				file, target, t.MaxRDB, from)
		}
	case "VALKEY":
		file := fmt.Sprintf("RDB VALKEY%03d (from %s)", m.RDB.Version, from)
		switch {
		case t.Flavor != storage.FlavorValkey:
			return true, fmt.Sprintf("the backup is %s but the target runs %s: Redis does not load Valkey's VALKEY files; restore into %s or newer", file, target, from)
		case t.MaxValkeyRDB == 0:
			return true, fmt.Sprintf("the backup is %s but the target runs %s, which loads no VALKEY files (Valkey 9.0 is the first): restore into %s or newer", file, target, from)
		case m.RDB.Version > t.MaxValkeyRDB:
			return true, fmt.Sprintf("the backup is %s but the target runs %s, which loads VALKEY files up to %03d: restore into %s or newer", file, target, t.MaxValkeyRDB, from)
		}
		return false, fmt.Sprintf("%s loads in %s (up to VALKEY%03d)", file, target, t.MaxValkeyRDB)
	}
	return true, fmt.Sprintf("the backup (from %s) is in a format this rdbak does not know (%s), so it cannot tell whether %s loads it: restore it into the server it came from, or upgrade rdbak",
		from, m.RDB.StructureOf(), target)
}

func targetName(t TargetInfo) string {
	return storage.Redis{Flavor: t.Flavor, Version: t.RedisVersion}.String()
}

// LoadCheck is Preflight's rdb-version check alone: whether a server
// described by t loads backup m's RDB, and why, naming both sides. A
// restore drill uses it to choose its scratch server.
func LoadCheck(m *storage.Manifest, t TargetInfo) (refuse bool, detail string) {
	return loadCheck(m, t)
}
