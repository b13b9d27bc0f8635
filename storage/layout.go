package storage

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Every object key rdbak reads or writes is derived here. Relative to the
// repository's prefix (the path of the storage URL, or its ?prefix=):
//
//	<target>/<id>/dump.rdb.<ext>       the RDB, compressed (ext zst or gz; no ext when uncompressed)
//	<target>/<id>/dump.rdb.<ext>.age   the same, encrypted with age (data.encryption in the manifest)
//	<target>/<id>/manifest.json        written last; a backup without it does not exist
//	<target>/<id>/drill-<time>-<rand>.json  a restore drill's record (rdbak drill), written
//	                                   beside the backup it drilled, never rewritten
//
// A cluster backup set keeps one object per shard in the same directory,
// named by the shard's position in the set manifest (cluster.shards, in
// slot order), so list, retention, gc and --as-of see one backup:
//
//	<target>/<id>/shard-0.dump.rdb.<ext>[.age]
//	<target>/<id>/shard-1.dump.rdb.<ext>[.age]
//	<target>/<id>/manifest.json        the set manifest, written after every shard
//
// An id is the UTC time the backup started, to the microsecond, followed by a
// short random suffix: 20261122T053012.123456Z-3f9a1c. Ids sort by creation
// time as strings (the fraction has a fixed width), and two backups started
// in the same microsecond on different machines do not collide. Within one
// process NewID does not repeat a time, so ids of one process sort in the
// order they were made even when the clock is coarse.
//
// Ids written before the fraction was added have second precision,
// 20261122T053012Z-3f9a1c; they stay valid and readable. Ordering never
// relies on comparing id strings across the two forms: CompareID parses the
// time, and the manifest's full-precision creation time comes first anyway
// (Compare).
const (
	ManifestName = "manifest.json"
	dataBase     = "dump.rdb"
	idTimeLayout = "20060102T150405.000000Z"
	// oldIDTimeLayout is the second-precision form of ids written before.
	oldIDTimeLayout = "20060102T150405Z"
)

var (
	idRE     = regexp.MustCompile(`^(\d{8}T\d{6}(?:\.\d{6})?Z)-([0-9a-f]{6})$`)
	targetRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$`)
)

// lastID is the time of the newest id this process made.
var lastID struct {
	sync.Mutex
	t time.Time
}

// NewID returns a fresh backup id for a backup that started at t. When t is
// not after the previous id's time but less than a second before it (the
// same clock tick, or ids made faster than the clock advances), the id takes
// the previous time plus a microsecond, so ids sort in the order they were
// made. A t further back (an injected clock) is used as it is.
func NewID(t time.Time) string {
	t = t.UTC().Truncate(time.Microsecond)
	lastID.Lock()
	if !t.After(lastID.t) && lastID.t.Sub(t) < time.Second {
		t = lastID.t.Add(time.Microsecond)
	}
	lastID.t = t
	lastID.Unlock()
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand never fails on supported platforms (Go 1.24+ panics
		// internally instead); keep the id well-formed regardless.
		b = [3]byte{}
	}
	return t.Format(idTimeLayout) + "-" + hex.EncodeToString(b[:])
}

// ValidID reports whether id has the form NewID produces, or the older
// second-precision form.
func ValidID(id string) bool { return idRE.MatchString(id) }

// IDTime returns the time encoded in a valid id: when the backup started,
// to the microsecond (to the second for old ids).
func IDTime(id string) (time.Time, bool) {
	m := idRE.FindStringSubmatch(id)
	if m == nil {
		return time.Time{}, false
	}
	layout := idTimeLayout
	if !strings.Contains(m[1], ".") {
		layout = oldIDTimeLayout
	}
	t, err := time.Parse(layout, m[1])
	return t, err == nil
}

// idSuffix returns the random part of a valid id.
func idSuffix(id string) string {
	i := strings.LastIndexByte(id, '-')
	return id[i+1:]
}

// CompareID orders ids by their time, then as strings. Old and new forms
// interleave correctly, which plain string order does not guarantee.
func CompareID(a, b string) int {
	ta, oka := IDTime(a)
	tb, okb := IDTime(b)
	if oka && okb {
		if c := ta.Compare(tb); c != 0 {
			return c
		}
	}
	return strings.Compare(a, b)
}

// Compare orders backups by the manifest's full-precision creation time,
// then by id, then by target: the one order behind "latest", --as-of, list,
// retention and gc.
func Compare(a, b *Manifest) int {
	if c := a.Created.Compare(b.Created); c != 0 {
		return c
	}
	if c := CompareID(a.ID, b.ID); c != 0 {
		return c
	}
	return strings.Compare(a.Target, b.Target)
}

// ValidateTarget checks that name can be used as a target path segment.
func ValidateTarget(name string) error {
	if !targetRE.MatchString(name) {
		return fmt.Errorf("target name %q must be 1-63 characters of a-z, 0-9, '.', '_' or '-', starting and ending with a letter or digit", name)
	}
	return nil
}

// DataName returns the file name of the RDB object for a codec's extension.
func DataName(ext string) string {
	if ext == "" {
		return dataBase
	}
	return dataBase + "." + ext
}

// ShardName returns the name of shard i's data object in a backup set,
// given the one-object name (DataName, EncryptedName).
func ShardName(i int, name string) string { return "shard-" + strconv.Itoa(i) + "." + name }

// EncryptedName returns the name of the data object name once encrypted
// (dump.rdb.zst.age), as the age tool names its output.
func EncryptedName(name string) string { return name + ".age" }

func backupDir(target, id string) string { return target + "/" + id + "/" }

func manifestKey(target, id string) string { return path.Join(target, id, ManifestName) }

func dataKey(target, id, name string) string { return path.Join(target, id, name) }

// splitBackupKey splits "<target>/<id>/<name>" into its parts.
func splitBackupKey(key string) (target, id, name string, ok bool) {
	parts := strings.Split(key, "/")
	if len(parts) != 3 || ValidateTarget(parts[0]) != nil || !ValidID(parts[1]) {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// drillPrefix and drillExt frame a drill record's name; the time between
// them has the id's layout, so records sort by time as strings.
const (
	drillPrefix = "drill-"
	drillExt    = ".json"
)

var drillRE = regexp.MustCompile(`^drill-(\d{8}T\d{6}\.\d{6}Z)-[0-9a-f]{6}\.json$`)

// DrillRecordName returns a fresh name for the record of a drill that
// started at t: drill-20261127T093000.123456Z-3f9a1c.json. The random part
// keeps two drills of one backup in the same microsecond apart.
func DrillRecordName(t time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return drillPrefix + t.UTC().Truncate(time.Microsecond).Format(idTimeLayout) + "-" + hex.EncodeToString(b[:]) + drillExt
}

// DrillRecordTime returns the start time in a drill record's name; ok is
// false for any other name.
func DrillRecordTime(name string) (time.Time, bool) {
	m := drillRE.FindStringSubmatch(name)
	if m == nil {
		return time.Time{}, false
	}
	t, err := time.Parse(idTimeLayout, m[1])
	return t, err == nil
}
