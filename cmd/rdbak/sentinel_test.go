package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

// TestNowSentinel backs up a Sentinel set named by --sentinel and
// --master-name: a replica is chosen, and the manifest says which.
func TestNowSentinel(t *testing.T) {
	s := testenv.StartReplicaSet(t, testenv.ReplicaSetOptions{Password: "data-pw", SentinelPassword: "sentinel-pw"})
	testenv.FillAllTypes(t, s.Master, 1)
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("data-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	store := "file://" + t.TempDir()
	run(t, []string{"SENTINEL_PASSWORD=sentinel-pw"}, "now", "--sentinel", strings.Join(s.SentinelAddrs(), ","),
		"--master-name", s.Name, "--password-file", pw, "--storage", store).want(t, 0, "backup source chosen", "role=replica")
	repo, err := storage.Open(t.Context(), store, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	ms, _, err := repo.List(t.Context(), strings.ToLower(s.Name))
	if err != nil || len(ms) != 1 {
		t.Fatalf("list: %d manifests, %v; want 1", len(ms), err)
	}
	if tp := ms[0].Topology; tp == nil || tp.ChosenRole != "replica" || tp.Master != s.Master.Addr {
		t.Fatalf("topology = %+v, want a replica of %s", tp, s.Master.Addr)
	}

	run(t, nil, "now", "--sentinel", s.SentinelAddrs()[0], "--storage", store).want(t, 2, "--master-name")
	run(t, nil, "now", "--sentinel", "s:x", "--master-name", "m", "--storage", store).want(t, 2, "--sentinel: entry [0]: not host:port")
	run(t, nil, "now", "--sentinel", s.SentinelAddrs()[0], "--master-name", s.Name, "--storage", store).want(t, 2, "check sentinel.masterName and the Sentinels' username and password")
}
