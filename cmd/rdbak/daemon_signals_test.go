package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

// TestDaemonSIGTERMMidUpload: a backup whose multipart upload to MinIO is
// under way when SIGTERM arrives, and which does not finish within the
// grace period, is cancelled; the daemon exits 0 and the store holds no
// manifest and no object.
func TestDaemonSIGTERMMidUpload(t *testing.T) {
	store := testenv.StartMinIO(t)
	src := testenv.StartRedis(t, testenv.RedisOptions{Config: []string{"repl-diskless-sync-delay 0"}})
	// 24 MiB of incompressible values: several 5 MiB upload parts.
	c := src.Client(t)
	val := make([]byte, 16<<10)
	pipe := c.Pipeline()
	for i := range 1536 {
		_, _ = rand.Read(val)
		pipe.Set(t.Context(), fmt.Sprintf("k:%d", i), string(val), 0)
	}
	if _, err := pipe.Exec(t.Context()); err != nil {
		t.Fatal(err)
	}
	proxy := testenv.SlowProxy(t, src.Addr, 2<<20) // about 12 s for the whole RDB
	cfg := filepath.Join(t.TempDir(), "rdbak.yaml")
	writeFile(t, cfg, fmt.Sprintf(`storage: %s
compression: {codec: none}
daemon: {shutdownGrace: 1s}
targets:
  - name: slow
    redis: redis://%s
    schedule: "@every 1s"
`, store.URL, proxy))
	b := store.OpenT(t)
	var s3c *s3.Client
	if !b.As(&s3c) {
		t.Fatal("the MinIO bucket is not an s3 bucket")
	}
	uploads := func() []s3types.MultipartUpload {
		out, err := s3c.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String(store.Bucket)})
		if err != nil {
			t.Fatal(err)
		}
		return out.Uploads
	}

	d := startDaemonProc(t, store.Env, "--config", cfg)
	deadline := time.Now().Add(2 * time.Minute) // a hang guard, not a timing assertion
	for len(uploads()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no multipart upload started\n%s", d.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if up := uploads(); !strings.HasPrefix(aws.ToString(up[0].Key), "slow/") {
		t.Fatalf("upload of %s, want one under slow/", aws.ToString(up[0].Key))
	}
	if m := d.scrape(t); m[`rdbak_backup_in_progress{target="slow"}`] != 1 {
		t.Fatalf("rdbak_backup_in_progress = %v, want 1", m[`rdbak_backup_in_progress{target="slow"}`])
	}
	if code := d.stop(t); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	logs := d.stderr.String()
	failed := logLines(t, logs, "backup failed")
	if len(failed) != 1 || !strings.Contains(fmt.Sprint(failed[0]["error"]), "grace period ended") {
		t.Errorf("want one failed backup cancelled at the end of the grace period, got %v", failed)
	}
	if n := len(logLines(t, logs, "backup succeeded")); n != 0 {
		t.Fatalf("%d backups finished: the upload was not cut short", n)
	}
	repo := storage.NewRepo(b, "minio")
	if ids := repoIDs(t, repo, "slow"); len(ids) != 0 {
		t.Errorf("manifests after the cancelled backup: %v", ids)
	}
	it := b.List(nil)
	for {
		obj, err := it.Next(t.Context())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Errorf("object left behind: %s", obj.Key)
	}
}

// TestDaemonReloadsConfig: a changed file is picked up without a signal; a
// file that does not validate is refused with the reason logged while the
// old config keeps running; SIGHUP reloads on demand.
func TestDaemonReloadsConfig(t *testing.T) {
	r1 := testenv.StartRedis(t, testenv.RedisOptions{})
	r2 := testenv.StartRedis(t, testenv.RedisOptions{})
	dir := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "rdbak.yaml")
	good := fmt.Sprintf("storage: file://%s\ndefaults: {schedule: \"@every 1s\"}\ntargets:\n  - {name: r1, redis: \"redis://%s\"}\n", dir, r1.Addr)
	writeFile(t, cfg, good)
	d := startDaemonProc(t, nil, "--config", cfg, "--reload-interval", "100ms")
	success := func(target string, n float64) func(map[string]float64) bool {
		return func(m map[string]float64) bool {
			return m[`rdbak_backup_total{result="success",target="`+target+`"}`] >= n
		}
	}
	d.waitMetrics(t, "a backup of r1", success("r1", 1))

	writeFile(t, cfg, good+"  - {name: r2, redis: \"redis://"+r2.Addr+"\", schedule: \"every second\"}\n")
	m := d.waitMetrics(t, "a refused reload", func(m map[string]float64) bool { return m[`rdbak_config_reload_total{result="failure"}`] == 1 })
	refused := logLines(t, d.stderr.String(), "config reload failed; the running config stays in force")
	if len(refused) != 1 || !strings.Contains(fmt.Sprint(refused[0]["error"]), "targets[1].schedule") {
		t.Errorf("the refusal does not name the field: %v", refused)
	}
	d.waitMetrics(t, "r1 backed up after the refusal", success("r1", m[`rdbak_backup_total{result="success",target="r1"}`]+1))

	writeFile(t, cfg, good+"  - {name: r2, redis: \"redis://"+r2.Addr+"\", schedule: \"@every 1s\"}\n")
	d.waitMetrics(t, "a backup of the added r2", success("r2", 1))
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	d.waitMetrics(t, "a reload on SIGHUP", func(m map[string]float64) bool { return m[`rdbak_config_reload_total{result="success"}`] == 2 })
	if code := d.stop(t); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
}
