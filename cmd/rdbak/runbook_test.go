package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rdbak/rdbak/internal/testenv"
)

// shBlocks returns the sh blocks of deploy/runbooks/<name>, in order.
func shBlocks(t *testing.T, name string) string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "deploy", "runbooks", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var script strings.Builder
	in, blocks := false, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "```sh":
			in = true
			blocks++
		case in && line == "```":
			in = false
		case in:
			script.WriteString(line + "\n")
		}
	}
	if blocks == 0 {
		t.Fatalf("runbook %s has no sh blocks", name)
	}
	return script.String()
}

// TestRunbookSentinelSet runs deploy/runbooks/restore-sentinel-set.md as
// written against a local Sentinel set (the master stopped and started by
// the commands an operator would give): every node ends with the backup's
// data and the replicas' priorities are back.
func TestRunbookSentinelSet(t *testing.T) {
	s := testenv.StartReplicaSet(t, testenv.ReplicaSetOptions{Password: "data-pw", SentinelPassword: "sentinel-pw"})
	testenv.FillAllTypes(t, s.Master, 1)
	want := s.Master.Digest(t)
	store := "file://" + t.TempDir()
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("data-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, []string{"SENTINEL_PASSWORD=sentinel-pw"}, "now", "--sentinel", strings.Join(s.SentinelAddrs(), ","),
		"--master-name", s.Name, "--target", "orders", "--password-file", pw, "--storage", store).want(t, 0)
	mc := s.Master.Client(t)
	if err := mc.FlushAll(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Replicas[0].Client(t).ConfigSet(t.Context(), "replica-priority", "42").Err(); err != nil {
		t.Fatal(err)
	}
	// The runbook restarts the master itself, daemonized: stop that one at the end.
	t.Cleanup(func() {
		c := goredis.NewClient(&goredis.Options{Addr: s.Master.Addr, Password: "data-pw"})
		_ = c.Do(context.Background(), "SHUTDOWN", "NOSAVE").Err()
		_ = c.Close()
	})
	start := strings.Join(append(s.Master.Command(), "--daemonize", "yes", "--pidfile", filepath.Join(t.TempDir(), "pid")), " ")
	cmd := exec.CommandContext(t.Context(), "bash", "-euo", "pipefail", "-c", shBlocks(t, "restore-sentinel-set.md"))
	tmp := t.TempDir()
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(rdbakBin)+":"+os.Getenv("PATH"), "TMPDIR="+tmp,
		"STORAGE="+store, "TARGET=orders", "SENTINELS="+strings.Join(s.SentinelAddrs(), " "), "MASTER_NAME="+s.Name,
		"SENTINEL_PASSWORD=sentinel-pw", "REDISCLI_AUTH=data-pw",
		`STOP_MASTER=redis_at "$MASTER" SHUTDOWN NOSAVE || true`,
		`INSTALL_RDB=cp "$WORK/restore.rdb" `+filepath.Join(s.Master.Dir, "dump.rdb"),
		"START_MASTER="+start)
	out, err := cmd.CombinedOutput()
	t.Logf("runbook:\n%s", out)
	if err != nil {
		t.Fatalf("runbook failed: %v", err)
	}
	for _, n := range s.Nodes() {
		if got := n.Digest(t); got != want {
			t.Errorf("node %s has digest %s after the runbook, want the backup's %s", n.Addr, got, want)
		}
	}
	for i, wantPrio := range []string{"42", "100"} {
		got, err := s.Replicas[i].Client(t).ConfigGet(t.Context(), "replica-priority").Result()
		if err != nil || got["replica-priority"] != wantPrio {
			t.Errorf("replica %d replica-priority = %v (%v), want %s", i, got, err, wantPrio)
		}
	}
	if m := s.CurrentMaster(t); m != s.Master {
		t.Errorf("the Sentinels name %s, want %s", m.Addr, s.Master.Addr)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("the runbook left %s in $TMPDIR: its work directory holds a copy of the backup", left[0].Name())
	}
}
