package testenv

import (
	"strings"
	"testing"
)

// TestEachServerStarts starts every server the version suite uses and checks
// that it is the flavor and version its name says, from INFO server.
func TestEachServerStarts(t *testing.T) {
	EachServer(t, func(t *testing.T, s Server) {
		r := StartRedis(t, RedisOptions{Server: s})
		info, err := r.Client(t).Info(t.Context(), "server").Result()
		if err != nil {
			t.Fatalf("INFO server: %v", err)
		}
		field := "redis_version:"
		if s.Flavor == "valkey" {
			field = "valkey_version:"
		}
		if want := field + s.VersionString(); !strings.Contains(info, want) {
			t.Errorf("INFO server of %s lacks %q:\n%s", s.Name, want, info)
		}
	})
}

func TestProbeServerNames(t *testing.T) {
	all, err := Servers()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		if got, want := s.Name, s.Flavor+"-"+s.VersionString(); got != want {
			t.Errorf("server %s: name %q, want %q", s.Path, got, want)
		}
	}
}
