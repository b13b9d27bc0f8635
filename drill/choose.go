package drill

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// ErrFailed means a drill ran and failed: the backup did not verify, no
// scratch server could load it, it did not load, or a check failed. The
// drill record says why. The command line exits 4 for it, as for a failed
// verification.
var ErrFailed = errors.New("drill failed")

// Server is a Redis or Valkey binary that could serve as a scratch server.
type Server struct {
	Path    string `json:"path,omitempty"`
	Image   string `json:"image,omitempty"`
	Flavor  string `json:"flavor"` // storage.FlavorRedis or FlavorValkey
	Version string `json:"version"`
}

func (s Server) String() string {
	return storage.Redis{Flavor: s.Flavor, Version: s.Version}.String()
}

// Choose picks the scratch server for backup m among candidates: one that
// loads its RDB (restore.LoadCheck), preferring the backup's own flavor,
// then its own major.minor, then the oldest version not older than the
// backup's server, then the newest. A backup with module values fails: a
// scratch server loads no modules. The error wraps ErrFailed and names
// every candidate and why it was refused.
func Choose(m *storage.Manifest, candidates []Server) (Server, string, error) {
	if len(m.RDB.Modules) > 0 {
		return Server{}, "", fmt.Errorf("%w: the backup holds values of module types %s, which a scratch server without those modules cannot load, and rdbak drill does not load modules yet: verify the backup with rdbak verify and restore-test it by hand into a server with the modules",
			ErrFailed, strings.Join(m.RDB.Modules, ", "))
	}
	if len(candidates) == 0 {
		return Server{}, "", fmt.Errorf("%w: no redis-server or valkey-server to load the backup into: install one on PATH or list binaries in drill.servers (or --redis-server)", ErrFailed)
	}
	var ok []Server
	var why []string
	details := map[string]string{}
	for _, c := range candidates {
		t := restore.TargetInfo{Flavor: c.Flavor, RedisVersion: c.Version}
		var known bool
		t.MaxRDB, t.MaxValkeyRDB, known = restore.MaxRDBVersions(c.Flavor, c.Version)
		if !known {
			why = append(why, fmt.Sprintf("%s (%s): a version newer than this rdbak's tables", c, where(c)))
			continue
		}
		refuse, detail := restore.LoadCheck(m, t)
		if refuse {
			why = append(why, fmt.Sprintf("%s (%s): %s", c, where(c), detail))
			continue
		}
		ok = append(ok, c)
		details[c.Path+c.Image] = detail
	}
	if len(ok) == 0 {
		return Server{}, "", fmt.Errorf("%w: no scratch server loads the backup:\n  - %s", ErrFailed, strings.Join(why, "\n  - "))
	}
	from := m.Redis
	slices.SortStableFunc(ok, func(a, b Server) int {
		return cmp.Or(
			cmpBool(a.Flavor == from.FlavorOf(), b.Flavor == from.FlavorOf()),
			cmpBool(sameMinor(a.Version, from.Version), sameMinor(b.Version, from.Version)),
			cmpBool(compareVersions(a.Version, from.Version) >= 0, compareVersions(b.Version, from.Version) >= 0),
			order(a, b, compareVersions(a.Version, from.Version) >= 0),
		)
	})
	best := ok[0]
	return best, details[best.Path+best.Image], nil
}

func where(s Server) string {
	if s.Image != "" {
		return "image " + s.Image
	}
	return s.Path
}

// cmpBool sorts true first.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// order sorts versions not older than the backup's oldest first, and
// older ones newest first.
func order(a, b Server, notOlder bool) int {
	if notOlder {
		return compareVersions(a.Version, b.Version)
	}
	return compareVersions(b.Version, a.Version)
}

func sameMinor(a, b string) bool {
	pa, pb := versionParts(a), versionParts(b)
	return pa[0] == pb[0] && pa[1] == pb[1] && b != ""
}

func compareVersions(a, b string) int {
	pa, pb := versionParts(a), versionParts(b)
	return slices.Compare(pa[:], pb[:])
}

func versionParts(v string) [3]int {
	var out [3]int
	for i, p := range strings.SplitN(v, ".", 3) {
		out[i], _ = strconv.Atoi(p)
	}
	return out
}
