package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/restore"
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

// TestRestoreThaw runs rdbak restore --thaw against a local Sentinel set
// left as a restore killed while frozen leaves it (every replica at
// replica-priority 0, the freeze record with its lease run out; the
// internal/app test TestKilledRestoreThawed kills a real one): the
// priorities come back and the record goes. A freeze whose lease still
// runs is left alone, and wrong or missing arguments say what to give. On
// every version.
func TestRestoreThaw(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, srv testenv.Server) {
		t.Parallel()
		testRestoreThaw(t, srv)
	})
}

func testRestoreThaw(t *testing.T, srv testenv.Server) {
	s := testenv.StartReplicaSet(t, testenv.ReplicaSetOptions{Server: srv, Password: "data-pw", SentinelPassword: "sentinel-pw"})
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pw, spw := write("pw", "data-pw\n"), write("spw", "sentinel-pw\n")
	store := "file://" + filepath.Join(dir, "store")
	cfg := write("rdbak.yaml", fmt.Sprintf(`storage: %s
targets:
  - name: ha
    passwordFile: %s
    sentinel:
      addresses: [%s]
      masterName: %s
      passwordFile: %s
  - name: wrongname
    passwordFile: %s
    sentinel:
      addresses: [%s]
      masterName: nosuchmaster
      passwordFile: %s
  - name: plain
    redis: redis://%s
`, store, pw, strings.Join(s.SentinelAddrs(), ", "), s.Name, spw, pw, strings.Join(s.SentinelAddrs(), ", "), spw, s.Master.Addr))
	repo, err := storage.Open(t.Context(), store, storage.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	setPriorities := func(p ...string) {
		t.Helper()
		for i, r := range s.Replicas {
			if err := r.Client(t).ConfigSet(t.Context(), "replica-priority", p[i]).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	priorities := func() string {
		t.Helper()
		var out []string
		for _, r := range s.Replicas {
			got, err := r.Client(t).ConfigGet(t.Context(), "replica-priority").Result()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, got["replica-priority"])
		}
		return strings.Join(out, ",")
	}
	// leave records a freeze of the replicas at 50 and 100, with its lease
	// until expires, and sets them to 0, as a restore does before it dies.
	leave := func(expires time.Time) {
		t.Helper()
		rec := restore.FreezeRecord{MasterName: s.Name, Master: s.Master.Addr, Holder: "killed-host pid 4242",
			Replicas: []restore.Frozen{{Addr: s.Replicas[0].Addr, Priority: "50"}, {Addr: s.Replicas[1].Addr, Priority: "100"}},
			Started:  expires.Add(-2 * time.Minute), Expires: expires}
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		if err := repo.PutFreeze(t.Context(), "ha", b, false); err != nil {
			t.Fatal(err)
		}
		setPriorities("0", "0")
	}
	recorded := func() bool {
		t.Helper()
		_, err := repo.ReadFreeze(t.Context(), "ha")
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}

	// A freeze whose lease still runs belongs to a live restore.
	leave(time.Now().Add(time.Hour))
	run(t, []string{"SENTINEL_PASSWORD="}, "restore", "--thaw", "--config", cfg, "--target", "ha").want(t, 1, "another restore holds the failover freeze", "killed-host pid 4242", "lease until")
	if p := priorities(); p != "0,0" || !recorded() {
		t.Fatalf("a live freeze was touched: replica-priority %s, record kept %v", p, recorded())
	}

	// A dead one's is undone.
	leave(time.Now().Add(-time.Minute))
	r := run(t, nil, "restore", "--thaw", "--config", cfg, "--target", "ha")
	r.want(t, 0)
	if !strings.Contains(r.stdout, "put back the replica-priority a killed restore left at 0") {
		t.Errorf("stdout %q does not say the priorities were put back", r.stdout)
	}
	if p := priorities(); p != "50,100" {
		t.Errorf("after --thaw replica-priority = %s, want 50,100", p)
	}
	if recorded() {
		t.Error("after --thaw the freeze record is still there")
	}
	r = run(t, nil, "restore", "--thaw", "--config", cfg, "--target", "ha")
	r.want(t, 0)
	if !strings.Contains(r.stdout, "nothing to thaw") {
		t.Errorf("a second --thaw said %q, want nothing to thaw", r.stdout)
	}
	if p := priorities(); p != "50,100" {
		t.Errorf("a second --thaw changed replica-priority to %s", p)
	}

	run(t, nil, "restore", "--thaw", "latest", "--config", cfg, "--target", "ha").want(t, 2, "--thaw only undoes a failover freeze", "drop the backup")
	run(t, nil, "restore", "--thaw", "--to-file", filepath.Join(dir, "x.rdb"), "--config", cfg, "--target", "ha").want(t, 2, "--thaw only undoes", "--to-file")
	run(t, nil, "restore", "--thaw", "--storage", store).want(t, 2, "--thaw: name the Sentinel set's target with --config and --target")
	run(t, nil, "restore", "--thaw", "--config", cfg, "--target", "plain").want(t, 2, `--thaw: target "plain" is not a Sentinel set`)
	run(t, nil, "restore", "--thaw", "--config", cfg, "--target", "nosuch").want(t, 2, "nosuch")
	run(t, nil, "restore", "--thaw", "--config", cfg, "--target", "wrongname").want(t, 2, "check sentinel.masterName")
	run(t, nil, "restore", "--thaw", "--config", cfg, "--target", "ha", "--password-file", pw).want(t, 2, "--thaw: with --config, name the target with --target")
}
