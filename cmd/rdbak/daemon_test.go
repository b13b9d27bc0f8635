package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gocloud.dev/blob"

	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

// daemonProc is a running rdbak daemon.
type daemonProc struct {
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:port
	stderr *testenv.Buffer
	exited chan struct{}
	err    error
}

func startDaemonProc(t *testing.T, env []string, args ...string) *daemonProc {
	t.Helper()
	addr := testenv.Addr(testenv.FreePort(t))
	d := &daemonProc{base: "http://" + addr, stderr: &testenv.Buffer{}, exited: make(chan struct{})}
	d.cmd = exec.Command(rdbakBin, append([]string{"daemon", "--listen", addr, "--log-format", "json"}, args...)...)
	d.cmd.Env = append(os.Environ(), env...)
	d.cmd.Stderr = d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.err = d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			_ = d.cmd.Process.Kill()
			<-d.exited
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.stderr)
		}
	})
	for range 3000 { // a hang guard, not a timing assertion
		select {
		case <-d.exited:
			t.Fatalf("the daemon exited: %v\n%s", d.err, d.stderr)
		default:
		}
		if resp, err := http.Get(d.base + "/healthz"); err == nil {
			resp.Body.Close()
			return d
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the daemon never served /healthz")
	return nil
}

// stop sends SIGTERM and returns the exit code.
func (d *daemonProc) stop(t *testing.T) int {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.exited:
	case <-time.After(2 * time.Minute): // a hang guard, not a timing assertion
		t.Fatal("the daemon did not exit after SIGTERM")
	}
	var ee *exec.ExitError
	if errors.As(d.err, &ee) {
		return ee.ExitCode()
	}
	if d.err != nil {
		t.Fatal(d.err)
	}
	return 0
}

func (d *daemonProc) scrape(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := http.Get(d.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// waitMetrics scrapes until ok accepts the samples.
func (d *daemonProc) waitMetrics(t *testing.T, what string, ok func(map[string]float64) bool) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute) // a hang guard, not a timing assertion
	for time.Now().Before(deadline) {
		select {
		case <-d.exited:
			t.Fatalf("the daemon exited while waiting for %s: %v", what, d.err)
		default:
		}
		if m := d.scrape(t); ok(m) {
			return m
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("never saw %s; metrics:\n%v", what, d.scrape(t))
	return nil
}

// logLines returns the JSON log lines with message msg.
func logLines(t *testing.T, logs, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(logs, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// succeeded returns the ids of target's successful backups from the log,
// in order.
func succeeded(t *testing.T, logs, target string) []string {
	var ids []string
	for _, l := range logLines(t, logs, "backup succeeded") {
		if l["target"] == target {
			ids = append(ids, l["backup_id"].(string))
		}
	}
	return ids
}

func repoIDs(t *testing.T, repo *storage.Repo, target string) []string {
	t.Helper()
	ms, problems, err := repo.List(t.Context(), target)
	if err != nil || len(problems) > 0 {
		t.Fatalf("list %s: %v %v", target, err, problems)
	}
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	return ids
}

// TestDaemon runs the daemon against three real redis-servers and MinIO on
// one-second schedules, scrapes its metrics, and checks that the backups
// in storage are exactly what the retention policies keep of the backups
// the daemon logged.
func TestDaemon(t *testing.T) {
	store := testenv.StartMinIO(t)
	var reds []*testenv.Redis
	for i := range 3 {
		r := testenv.StartRedis(t, testenv.RedisOptions{})
		testenv.FillAllTypes(t, r, i+1)
		reds = append(reds, r)
	}
	var beats atomic.Int32
	hb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { beats.Add(1) }))
	defer hb.Close()
	cfg := filepath.Join(t.TempDir(), "rdbak.yaml")
	writeFile(t, cfg, fmt.Sprintf(`storage: %s
defaults: {schedule: "@every 1s"}
daemon: {concurrency: 2, shutdownGrace: 30s}
targets:
  - name: r1
    redis: redis://%s
    retention: {keepLast: 2}
  - name: r2
    redis: redis://%s
    retention: {keepLast: 3}
    heartbeat: {url: "%s/ping/token"}
  - name: r3
    redis: redis://%s
`, strings.Replace(store.URL, "s3://"+store.Bucket, "s3://"+store.Bucket+"/prod", 1), reds[0].Addr, reds[1].Addr, hb.URL, reds[2].Addr))

	d := startDaemonProc(t, store.Env, "--config", cfg)
	if code, body := httpGet(t, d.base+"/readyz"); code != 200 {
		t.Errorf("/readyz = %d %s", code, body)
	}
	m := d.waitMetrics(t, "4 backups of every target and prunes", func(m map[string]float64) bool {
		for _, tg := range []string{"r1", "r2", "r3"} {
			if m[`rdbak_backup_total{result="success",target="`+tg+`"}`] < 4 {
				return false
			}
		}
		return m[`rdbak_prune_deleted_total{kind="backup",target="r1"}`] >= 2
	})
	for _, tg := range []string{"r1", "r2", "r3"} {
		if _, ok := m[`rdbak_bgsave_cow_bytes{target="`+tg+`"}`]; !ok {
			t.Errorf("rdbak_bgsave_cow_bytes{target=%q} not exposed", tg)
		}
		for _, key := range []string{
			`rdbak_backup_last_success_timestamp_seconds{target="` + tg + `"}`,
			`rdbak_backup_bytes{kind="raw",target="` + tg + `"}`,
			`rdbak_backup_bytes{kind="stored",target="` + tg + `"}`,
			`rdbak_backup_duration_seconds_count{phase="stream",target="` + tg + `"}`,
		} {
			if m[key] <= 0 {
				t.Errorf("%s = %v, want > 0", key, m[key])
			}
		}
		if v, ok := m[`rdbak_backup_skipped_total{target="`+tg+`"}`]; !ok || v < 0 {
			t.Errorf("rdbak_backup_skipped_total{target=%q} not exposed", tg)
		}
		if v := m[`rdbak_backup_total{result="failure",target="`+tg+`"}`]; v != 0 {
			t.Errorf("%s: %v failed backups", tg, v)
		}
	}
	if ts := m[`rdbak_backup_last_success_timestamp_seconds{target="r1"}`]; time.Since(time.Unix(int64(ts), 0)) > time.Minute {
		t.Errorf("last success of r1 at %v, want within the last minute", time.Unix(int64(ts), 0))
	}
	if m[`rdbak_prune_deleted_total{kind="backup",target="r3"}`] != 0 {
		t.Error("r3 has no retention policy but backups of it were pruned")
	}
	if code := d.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0\n%s", code, d.stderr)
	}
	logs := d.stderr.String()
	if n := len(logLines(t, logs, "backup failed")); n != 0 {
		t.Errorf("%d backups failed", n)
	}

	repo := storage.NewRepo(blob.PrefixedBucket(store.OpenT(t), "prod/"), "minio")
	for _, c := range []struct {
		target string
		keep   int // 0: all
	}{{"r1", 2}, {"r2", 3}, {"r3", 0}} {
		all := succeeded(t, logs, c.target)
		want := all
		if c.keep > 0 {
			want = all[len(all)-c.keep:]
		}
		got := repoIDs(t, repo, c.target)
		if !slices.Equal(got, want) {
			t.Errorf("%s in storage: %v\nwant the newest %d of %v", c.target, got, c.keep, all)
		}
		t.Logf("%s: %d backups taken, %d kept", c.target, len(all), len(got))
	}
	if n := int(beats.Load()); n != len(succeeded(t, logs, "r2")) {
		t.Errorf("heartbeat called %d times, want once per backup of r2 (%d)", n, len(succeeded(t, logs, "r2")))
	}
	if o, err := repo.Orphans(t.Context(), "", time.Now().Add(time.Hour), 0); err != nil || len(o) != 0 {
		t.Errorf("orphans after a clean shutdown: %v %v", o, err)
	}
	// The fork cost logged with the last backup is what each server
	// reports for its last RDB child.
	for i, tg := range []string{"r1", "r2", "r3"} {
		var last map[string]any
		for _, l := range logLines(t, logs, "backup succeeded") {
			if l["target"] == tg {
				last = l
			}
		}
		info, err := reds[i].Client(t).Info(t.Context(), "persistence").Result()
		if err != nil {
			t.Fatal(err)
		}
		want := ""
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "rdb_last_cow_size:"); ok {
				want = v
			}
		}
		if got := fmt.Sprintf("%.0f", last["cow_bytes"]); got != want || want == "" {
			t.Errorf("%s: cow_bytes %s logged, the server reports rdb_last_cow_size %q", tg, got, want)
		}
	}
	// One outcome line per backup, with what an operator needs.
	for _, l := range logLines(t, logs, "backup succeeded")[:1] {
		for _, k := range []string{"target", "backup_id", "raw_bytes", "stored_bytes", "snapshot_seconds", "stream_seconds", "commit_seconds", "cow_bytes"} {
			if _, ok := l[k]; !ok {
				t.Errorf("the outcome line lacks %s: %v", k, l)
			}
		}
	}
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}
