package restore

import (
	"fmt"
	"strings"

	"github.com/rdbak/rdbak/internal/rdb"
	"github.com/rdbak/rdbak/storage"
)

// ReplayTarget is what a key replay needs to know of the server (or
// cluster) the keys go to.
type ReplayTarget struct {
	Flavor  string // storage.FlavorRedis or FlavorValkey
	Version string // the server's own version
	// Cluster is set when the target is a Redis Cluster: only db 0.
	Cluster bool
	// MasterOf is the master (host:port) a standalone target replicates,
	// "" for a master. A cluster's keys go to its masters whichever node
	// is named, so it is not set for one.
	MasterOf string
}

func (t ReplayTarget) String() string {
	s := storage.Redis{Flavor: t.Flavor, Version: t.Version}.String()
	if t.Cluster {
		s += " cluster"
	}
	return s
}

// CheckReplay decides whether the keys of backup m can be replayed into t
// with RESTORE: every part's RDB version must be one t's RESTORE accepts
// (a DUMP payload carries the version of the file it was cut from, and
// RESTORE refuses a newer one), a cluster holds only db 0, and a replica
// takes no keys: it refuses writes (READONLY), and what it took would be
// undone by its next sync. The error wraps ErrRefused and names both sides.
func CheckReplay(m *storage.Manifest, t ReplayTarget) error {
	var problems []string
	if t.MasterOf != "" && !t.Cluster {
		problems = append(problems, fmt.Sprintf("it is a replica of %s, which would undo the replay (or it refuses every key, READONLY): replay into the master %s", t.MasterOf, t.MasterOf))
	}
	for i, p := range m.Parts() {
		if s := p.RDB.StructureOf(); s != storage.StructureVerified {
			problems = append(problems, unparsed(m, i, s))
			break
		}
	}
	for i, p := range m.Parts() {
		if err := payloadAccepted(p, t); err != "" {
			if m.IsSet() {
				err = fmt.Sprintf("shard %d: %s", i, err)
			}
			problems = append(problems, err)
			break // one is enough: every shard came from the same cluster
		}
	}
	if t.Cluster {
		var dbs []string
		for _, db := range m.RDB.DBs {
			if db.Index != 0 && db.Keys > 0 {
				dbs = append(dbs, fmt.Sprintf("db %d (%d keys)", db.Index, db.Keys))
			}
		}
		if len(dbs) > 0 {
			problems = append(problems, fmt.Sprintf("the backup has keys in %s, and a cluster has db 0 only: replay it into a standalone Redis", strings.Join(dbs, ", ")))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: replay backup %s into %s: %s", ErrRefused, m.ID, t, strings.Join(problems, "; "))
	}
	return nil
}

// CheckReplayable refuses to replay a backup whose RDB, verified (rep),
// was accepted on its CRC-64 alone, whatever its manifest says: keys that
// cannot be cut out cannot be replayed, and finding that out mid-replay
// would leave the target with part of the keys.
func CheckReplayable(m *storage.Manifest, rep *Report) error {
	if s := rep.RDB.Structure(); s != rdb.StructureVerified {
		return fmt.Errorf("%w: replay backup %s: %s", ErrRefused, m.ID, unparsed(m, -1, s))
	}
	return nil
}

// unparsed says why a part (i, of a set; -1: unknown or one) whose
// structure s was not parsed cannot be replayed, and what to do instead.
func unparsed(m *storage.Manifest, i int, s string) string {
	what := "its RDB"
	if m.IsSet() && i >= 0 {
		what = fmt.Sprintf("shard %d's RDB", i)
	}
	return fmt.Sprintf("%s was accepted on its CRC-64 alone (structure %s), and key replay must cut out every key: restore it into a pod or a file instead", what, s)
}

// payloadAccepted says why t's RESTORE would refuse the payloads cut from
// part p's RDB, or "".
func payloadAccepted(p *storage.Manifest, t ReplayTarget) string {
	maxRedis, maxValkey, ok := MaxRDBVersions(t.Flavor, t.Version)
	if !ok {
		return "" // newer than the tables: it accepts every older format
	}
	from := p.Redis.String()
	switch p.RDB.Magic {
	case "VALKEY":
		if maxValkey == 0 || p.RDB.Version > maxValkey {
			return fmt.Sprintf("the backup is RDB VALKEY%03d (from %s), whose keys %s does not RESTORE: replay into %s or newer", p.RDB.Version, from, t, from)
		}
	case "REDIS", "":
		if p.RDB.Version > maxRedis {
			return fmt.Sprintf("the backup is RDB version %d (from %s) and %s RESTOREs payloads up to version %d: replay into %s or newer", p.RDB.Version, from, t, maxRedis, from)
		}
	default:
		return fmt.Sprintf("the backup's RDB magic %q is unknown to this rdbak", p.RDB.Magic)
	}
	return ""
}
