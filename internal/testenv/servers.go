package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// RedisServersEnv names the variable that lists the Redis and Valkey servers
// hack/deps.sh built, as name=path pairs separated by commas
// ("redis-6.2.16=/cache/redis/redis-6.2.16-46b6cf5ed916/redis-server,...").
// Each name is flavor-version, as Server.Name.
const RedisServersEnv = "RDBAK_REDIS_SERVERS"

// WantedServers are the servers hack/deps.sh builds from ../shared/redis-src
// and that the version suite runs against besides the redis-server on PATH.
// With RDBAK_REQUIRE=all a missing one fails the test that asks for it.
var WantedServers = []string{"redis-6.2.16", "redis-7.4.1", "valkey-8.0.1"}

// Server is one Redis or Valkey server binary.
type Server struct {
	Name    string // flavor-version, e.g. "redis-7.4.1", "valkey-8.0.1"
	Flavor  string // "redis" or "valkey"
	Version [3]int // the server's own version (valkey_version for Valkey)
	Path    string
}

// VersionString is Version as "major.minor.patch".
func (s Server) VersionString() string {
	return fmt.Sprintf("%d.%d.%d", s.Version[0], s.Version[1], s.Version[2])
}

// AtLeast reports whether the server's version is major.minor or newer.
// Valkey versions count from Valkey's own numbering.
func (s Server) AtLeast(major, minor int) bool {
	return s.Version[0] > major || s.Version[0] == major && s.Version[1] >= minor
}

// RDBVersion is the RDB version this server writes (its rdb.h RDB_VERSION),
// for the servers the suite knows; 0 for any other.
func (s Server) RDBVersion() int {
	switch {
	case s.Flavor == "valkey" && s.Version[0] < 9:
		return 11
	case s.Flavor == "valkey":
		return 80
	case s.AtLeast(7, 4):
		return 12
	case s.AtLeast(7, 2):
		return 11
	case s.AtLeast(7, 0):
		return 10
	case s.AtLeast(5, 0):
		return 9
	}
	return 0
}

var (
	serversOnce sync.Once
	servers     []Server
	serversErr  error
)

// Servers lists the Redis and Valkey servers available to tests: the ones in
// $RDBAK_REDIS_SERVERS (or deps.env's), plus redis-server on PATH when no
// entry has its name. They are sorted by name.
func Servers() ([]Server, error) {
	serversOnce.Do(func() { servers, serversErr = loadServers() })
	return servers, serversErr
}

func loadServers() ([]Server, error) {
	list := os.Getenv(RedisServersEnv)
	if list == "" {
		if f, ok := depsEnvFile(); ok {
			list = readDepsEnv(f)[RedisServersEnv]
		}
	}
	var out []Server
	for _, pair := range strings.Split(list, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		name, path, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, fmt.Errorf("%s: entry %q is not name=path", RedisServersEnv, pair)
		}
		s, err := probeServer(path)
		if err != nil {
			return nil, fmt.Errorf("%s: entry %s: %w", RedisServersEnv, name, err)
		}
		if s.Name != name {
			return nil, fmt.Errorf("%s: entry %s is a %s server", RedisServersEnv, name, s.Name)
		}
		out = append(out, s)
	}
	if p, err := exec.LookPath("redis-server"); err == nil {
		if s, err := probeServer(p); err == nil && !slices.ContainsFunc(out, func(o Server) bool { return o.Name == s.Name }) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b Server) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// probeServer runs path --version: "Redis server v=7.4.1 ..." or
// "Valkey server v=8.0.1 ...".
func probeServer(path string) (Server, error) {
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return Server{}, fmt.Errorf("run %s --version: %w", path, err)
	}
	m := redisVersionRE.FindStringSubmatch(string(out))
	if m == nil {
		return Server{}, fmt.Errorf("%s --version: unexpected output %q", path, out)
	}
	s := Server{Flavor: "redis", Path: path}
	if strings.HasPrefix(string(out), "Valkey") {
		s.Flavor = "valkey"
	}
	for i := range s.Version {
		s.Version[i], _ = strconv.Atoi(m[i+1])
	}
	s.Name = s.Flavor + "-" + s.VersionString()
	return s, nil
}

// NeedServer returns the server called name (as Server.Name), or skips t —
// fails it under RDBAK_REQUIRE — when it is not available.
func NeedServer(t testing.TB, name string) Server {
	t.Helper()
	all, err := Servers()
	if err != nil {
		t.Fatalf("list redis servers: %v", err)
	}
	for _, s := range all {
		if s.Name == name {
			return s
		}
	}
	Missing(t, name, fmt.Sprintf("not in $%s nor on PATH; run hack/deps.sh and source its deps.env", RedisServersEnv))
	return Server{}
}

// DefaultServer is the redis-server on PATH (Debian's), which StartRedis
// runs when RedisOptions.Server is empty.
func DefaultServer(t testing.TB) Server {
	t.Helper()
	p := LookPath(t, "redis-server")
	s, err := probeServer(p)
	if err != nil {
		t.Fatalf("probe redis-server: %v", err)
	}
	return s
}

// EachServer runs f as a subtest, named by Server.Name, for the redis-server
// on PATH and every server in WantedServers. A wanted server that is not
// available skips (or, under RDBAK_REQUIRE, fails) its own subtest only.
func EachServer(t *testing.T, f func(t *testing.T, s Server)) {
	t.Helper()
	def := DefaultServer(t)
	names := []string{def.Name}
	for _, n := range WantedServers {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			f(t, NeedServer(t, n))
		})
	}
}
