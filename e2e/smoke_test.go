//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/testcluster"
)

// redisStatefulSet runs Redis with --save "": it never snapshots by itself,
// not even on SIGTERM, so data outlives a pod only through a BGSAVE or a
// dump.rdb written in by the test.
const redisStatefulSet = `
apiVersion: v1
kind: Service
metadata: {name: redis}
spec:
  clusterIP: None
  selector: {app: redis}
  ports: [{name: redis, port: 6379}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: redis}
spec:
  serviceName: redis
  replicas: 1
  selector: {matchLabels: {app: redis}}
  template:
    metadata: {labels: {app: redis}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: redis
        image: %s
        imagePullPolicy: Never
        command: [redis-server, --dir, /data, --save, "", --appendonly, "no", --protected-mode, "no"]
        ports: [{containerPort: 6379, name: redis}]
        readinessProbe:
          exec: {command: [redis-cli, ping]}
          periodSeconds: 1
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      storageClassName: local
      resources: {requests: {storage: 1Gi}}
`

var rdbHeader = regexp.MustCompile(`^REDIS[0-9]{4}`)

// TestSmoke proves the substrate rdbak's end-to-end tests stand on: a Redis
// StatefulSet on a local volume, BGSAVE through exec, dump.rdb streamed out
// and a file streamed in through the WebSocket executor, the data surviving a
// pod replacement only through what was saved or written, and port-forward.
func TestSmoke(t *testing.T) {
	ns := testcluster.New(t)
	const pod = "redis-0"
	ns.LocalPV(t, "data-redis-0", "1Gi")
	ns.Apply(t, fmt.Sprintf(redisStatefulSet, ns.RedisImage(t)))
	ns.WaitStatefulSet(t, "redis")
	cli := func(args ...string) string {
		t.Helper()
		return strings.TrimSpace(ns.Run(t, pod, append([]string{"redis-cli"}, args...)...))
	}

	cli("set", "a", "1")
	bgsave(t, ns, pod)
	cli("set", "b", "2") // after the snapshot: must not survive the restart

	backup := readFile(t, ns, pod, "/data/dump.rdb")
	if !rdbHeader.Match(backup) {
		t.Fatalf("dump.rdb starts with %q, want REDIS and a 4-digit version", backup[:min(len(backup), 9)])
	}
	if len(backup) < 9+9 || backup[len(backup)-9] != 0xFF {
		t.Fatalf("dump.rdb (%d bytes) does not end with the EOF opcode and an 8-byte checksum", len(backup))
	}
	t.Logf("streamed dump.rdb out: %d bytes, %s", len(backup), backup[:9])

	ns.RecreatePod(t, pod)
	if got := cli("get", "a"); got != "1" {
		t.Errorf("after restart a = %q, want 1 (from BGSAVE)", got)
	}
	if got := cli("get", "b"); got != "" {
		t.Errorf("after restart b = %q, want nothing (set after BGSAVE, and --save is off)", got)
	}

	// Restore: change and save the live data, then put the backup back
	// through stdin and replace the pod; the backup must win.
	cli("set", "a", "2")
	bgsave(t, ns, pod)
	writeFile(t, ns, pod, "/data/dump.rdb", backup)
	ns.RecreatePod(t, pod)
	if got := cli("get", "a"); got != "1" {
		t.Errorf("after restore a = %q, want 1 (from the backup written through stdin)", got)
	}

	// A payload spanning many WebSocket frames, in and back out.
	big := make([]byte, 3<<20+17)
	rand.Read(big)
	writeFile(t, ns, pod, "/data/big.bin", big)
	if back := readFile(t, ns, pod, "/data/big.bin"); !bytes.Equal(back, big) {
		t.Errorf("read back %d bytes of /data/big.bin, not the %d written", len(back), len(big))
	}

	addr := ns.PortForward(t, pod, 6379)
	if got := resp(t, addr, "PING"); got != "+PONG" {
		t.Errorf("PING through port-forward = %q, want +PONG", got)
	}
	if got := resp(t, addr, "GET", "a"); got != "$1 1" {
		t.Errorf("GET a through port-forward = %q, want $1 1", got)
	}
}

// bgsave runs BGSAVE and waits until that save has finished successfully.
func bgsave(t *testing.T, ns *testcluster.Namespace, pod string) {
	t.Helper()
	saves := func(ctx context.Context) (int, map[string]string, error) {
		var out bytes.Buffer
		if err := ns.Exec(ctx, pod, []string{"redis-cli", "info", "persistence"}, testcluster.ExecOptions{Stdout: &out}); err != nil {
			return 0, nil, err
		}
		info := parseInfo(out.String())
		n, err := strconv.Atoi(info["rdb_saves"])
		if err != nil {
			return 0, nil, fmt.Errorf("rdb_saves in INFO persistence: %w", err)
		}
		return n, info, nil
	}
	before, _, err := saves(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(ns.Run(t, pod, "redis-cli", "bgsave")); got != "Background saving started" {
		t.Fatalf("BGSAVE replied %q", got)
	}
	ns.WaitFor(t, "BGSAVE to finish", func(ctx context.Context) (bool, error) {
		n, info, err := saves(ctx)
		if err != nil || info["rdb_bgsave_in_progress"] != "0" {
			return false, err
		}
		if info["rdb_last_bgsave_status"] != "ok" {
			return false, fmt.Errorf("BGSAVE failed: rdb_last_bgsave_status %q", info["rdb_last_bgsave_status"])
		}
		return n > before, nil
	})
}

func parseInfo(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			m[k] = v
		}
	}
	return m
}

// readFile streams path out of pod through exec stdout and checks the bytes
// against the size and SHA-256 the pod itself reports.
func readFile(t *testing.T, ns *testcluster.Namespace, pod, path string) []byte {
	t.Helper()
	var out, stderr bytes.Buffer
	if err := ns.Exec(t.Context(), pod, []string{"cat", path}, testcluster.ExecOptions{Stdout: &out, Stderr: &stderr}); err != nil {
		t.Fatalf("%v; stderr: %q", err, stderr.String())
	}
	checkFile(t, ns, pod, path, out.Bytes())
	return out.Bytes()
}

// writeFile streams data into pod through exec stdin, into a temporary file
// renamed over path once synced, and checks what landed.
func writeFile(t *testing.T, ns *testcluster.Namespace, pod, path string, data []byte) {
	t.Helper()
	var stderr bytes.Buffer
	script := `cat >"$1.tmp" && sync && mv "$1.tmp" "$1"`
	err := ns.Exec(t.Context(), pod, []string{"sh", "-c", script, "sh", path},
		testcluster.ExecOptions{Stdin: bytes.NewReader(data), Stderr: &stderr})
	if err != nil {
		t.Fatalf("%v; stderr: %q", err, stderr.String())
	}
	checkFile(t, ns, pod, path, data)
}

// checkFile compares data with the size (stat -c %s) and SHA-256 of path in
// the pod.
func checkFile(t *testing.T, ns *testcluster.Namespace, pod, path string, data []byte) {
	t.Helper()
	size, err := strconv.Atoi(strings.TrimSpace(ns.Run(t, pod, "stat", "-c", "%s", path)))
	if err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	if size != len(data) {
		t.Errorf("%s: %d bytes here, %d in the pod", path, len(data), size)
	}
	sum := sha256.Sum256(data)
	got, _, _ := strings.Cut(ns.Run(t, pod, "sha256sum", path), " ")
	if want := hex.EncodeToString(sum[:]); got != want {
		t.Errorf("%s: SHA-256 %s here, %s in the pod", path, want, got)
	}
}

// resp sends one command to the Redis at addr and returns its reply as a
// line: "+PONG", or "$<len> <data>" for a bulk string.
func resp(t *testing.T, addr string, args ...string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var req strings.Builder
	fmt.Fprintf(&req, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&req, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(conn, req.String()); err != nil {
		t.Fatalf("send %q to %s: %v", args, addr, err)
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read reply to %q from %s: %v", args, addr, err)
	}
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, "$") || line == "$-1" {
		return line
	}
	data, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read bulk reply to %q from %s: %v", args, addr, err)
	}
	return line + " " + strings.TrimRight(data, "\r\n")
}
