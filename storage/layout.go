package storage

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"
)

// Every object key rdbak reads or writes is derived here. Relative to the
// repository's prefix (the path of the storage URL, or its ?prefix=):
//
//	<target>/<id>/dump.rdb.<ext>   the RDB, compressed (ext zst or gz; no ext when uncompressed)
//	<target>/<id>/manifest.json    written last; a backup without it does not exist
//
// An id is a UTC timestamp with second precision followed by a short random
// suffix, so ids sort by creation time as strings and two backups started in
// the same second do not collide: 20261122T053012Z-3f9a1c.
const (
	ManifestName = "manifest.json"
	dataBase     = "dump.rdb"
	idTimeLayout = "20060102T150405Z"
)

var (
	idRE     = regexp.MustCompile(`^\d{8}T\d{6}Z-[0-9a-f]{6}$`)
	targetRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$`)
)

// NewID returns a fresh backup id for a backup that started at t.
func NewID(t time.Time) string {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand never fails on supported platforms (Go 1.24+ panics
		// internally instead); keep the id well-formed regardless.
		b = [3]byte{}
	}
	return t.UTC().Format(idTimeLayout) + "-" + hex.EncodeToString(b[:])
}

// ValidID reports whether id has the form NewID produces.
func ValidID(id string) bool { return idRE.MatchString(id) }

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
