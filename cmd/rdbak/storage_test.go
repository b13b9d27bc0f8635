package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

// fileRepo opens a file repository in a new directory for writing backups
// the way other rdbak versions or clocks named them.
func fileRepo(t *testing.T) (string, *storage.Repo) {
	t.Helper()
	dir := t.TempDir()
	repo, err := storage.Open(t.Context(), "file://"+dir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = repo.Close() })
	return dir, repo
}

// TestLatestSameSecond: backups made within one second, named with
// second-precision ids (as rdbak named them before) whose random suffixes
// do not sort in creation order. latest and list follow the creation time.
func TestLatestSameSecond(t *testing.T) {
	dir, repo := fileRepo(t)
	sec := time.Date(2026, 11, 22, 5, 30, 12, 0, time.UTC)
	var ids []string
	for i, s := range []string{"e00000", "a00000", "f00000", "100000", "b00000"} {
		ids = append(ids, "20261122T053012Z-"+s)
		testenv.PutBackup(t, repo, "cache", ids[i], sec.Add(time.Duration(i)*100*time.Millisecond))
	}
	store := "file://" + dir
	r := run(t, nil, "describe", "latest", "--storage", store, "-o", "json")
	r.want(t, 0)
	var m storage.Manifest
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil || m.ID != ids[4] {
		t.Fatalf("describe latest = %s (%v), want %s, the last created", m.ID, err, ids[4])
	}
	r = run(t, nil, "list", "--storage", store, "-o", "json")
	r.want(t, 0)
	var ms []storage.Manifest
	if err := json.Unmarshal([]byte(r.stdout), &ms); err != nil || len(ms) != 5 {
		t.Fatalf("list -o json: %v", err)
	}
	for i := range ms {
		if ms[i].ID != ids[i] {
			t.Fatalf("list order %d = %s, want %s (creation order %v)", i, ms[i].ID, ids[i], ids)
		}
	}
	// A unique prefix of the random suffix, as restic takes short ids.
	r = run(t, nil, "describe", "f000", "--storage", store, "-o", "json")
	r.want(t, 0)
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil || m.ID != ids[2] {
		t.Fatalf("describe f000 = %s (%v), want %s", m.ID, err, ids[2])
	}
	run(t, nil, "describe", "20261122T05", "--storage", store).want(t, exitUsage, "matches 5 backups", ids[0], "give more of the id")
	run(t, nil, "describe", "yesterday", "--storage", store).want(t, exitUsage, "latest")
}

// TestLatestDamaged: a newest backup that cannot be used makes latest fail
// with exit 4 naming it, never silently mean an older backup.
func TestLatestDamaged(t *testing.T) {
	src := testenv.StartRedis(t, testenv.RedisOptions{})
	testenv.FillAllTypes(t, src, 1)
	dir := t.TempDir()
	store := "file://" + dir
	now := func() string {
		r := run(t, nil, "now", "--redis", "redis://"+src.Addr, "--storage", store, "--target", "cache")
		r.want(t, 0)
		return strings.TrimSpace(r.stdout)
	}
	older, newest := now(), now()
	manifest := filepath.Join(dir, "cache", newest, "manifest.json")
	good, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, manifest, "{not json")

	run(t, nil, "verify", "latest", "--storage", store).want(t, exitVerify, newest, "manifest.json", older, "name it by id")
	run(t, nil, "describe", "latest", "--storage", store).want(t, exitVerify, newest)
	out := filepath.Join(t.TempDir(), "dump.rdb")
	run(t, nil, "restore", "latest", "--storage", store, "--to-file", out).want(t, exitVerify, newest)
	if _, err := os.Stat(out); err == nil {
		t.Fatal("restore latest wrote a file from an older backup")
	}
	r := run(t, nil, "verify", "latest", "--skip-damaged", "--storage", store)
	r.want(t, 0, "damaged backup skipped", newest, "falling back to an older backup", older)
	if !strings.Contains(r.stdout, older) {
		t.Errorf("verify --skip-damaged verified something else than %s:\n%s", older, r.stdout)
	}
	// restore needs the same explicit word to fall back, and says so.
	r = run(t, nil, "restore", "latest", "--skip-damaged", "--storage", store, "--to-file", out)
	r.want(t, 0, "damaged backup skipped", newest, "falling back to an older backup", older)
	if _, err := os.Stat(out); err != nil {
		t.Fatalf("restore --skip-damaged wrote no file: %v", err)
	}

	// A backup whose manifest exists but whose data object is gone is
	// damaged too: exit 4, by id and as latest.
	writeFile(t, manifest, string(good))
	if err := os.Remove(filepath.Join(dir, "cache", newest, "dump.rdb.zst")); err != nil {
		t.Fatal(err)
	}
	run(t, nil, "verify", newest, "--storage", store).want(t, exitVerify, "dump.rdb.zst", "missing")
	run(t, nil, "verify", "latest", "--storage", store).want(t, exitVerify, "dump.rdb.zst", "missing")
}

// TestStorageURLs: one URL check for the flag and the config file; a URL
// that would lose or misplace data is a usage error that shows the fix.
func TestStorageURLs(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg := filepath.Join(t.TempDir(), "rdbak.yaml")
	writeFile(t, cfg, "storage: mem://\ntargets:\n  - name: cache\n    redis: redis://127.0.0.1:1\n")
	for _, tc := range []struct {
		args []string
		has  []string
	}{
		{[]string{"list", "--storage", "file://backups"}, []string{"file://./backups", "file:///backups"}},
		{[]string{"now", "--redis", "redis://127.0.0.1:1", "--storage", "file://relhost/path"}, []string{"file:///relhost/path", "file://./relhost/path"}},
		{[]string{"now", "--redis", "redis://127.0.0.1:1", "--storage", "mem://"}, []string{"mem:// is for tests"}},
		{[]string{"list", "--storage", "s4://bucket"}, []string{`unsupported storage scheme "s4"`}},
		{[]string{"list", "--storage", "s3://"}, []string{"missing the bucket"}},
		{[]string{"restore", "latest", "--storage", "s3:///prefix", "--to-file", "x"}, []string{"missing the bucket"}},
		{[]string{"config", "validate", cfg}, []string{"mem:// is for tests"}},
	} {
		run(t, nil, tc.args...).want(t, exitUsage, tc.has...)
	}
	if _, err := os.Stat("backups"); err == nil {
		t.Error("file://backups created a directory")
	}
}

// TestStorageSecretsNeverShown runs commands with credentials in storage
// URLs, where rdbak or the driver fails, and greps all output.
func TestStorageSecretsNeverShown(t *testing.T) {
	secrets := []string{"AKIAQUERYKEY1", "querysecretkey1", "ya29accesstoken1", "SASsignature1", "hunter2password", "endpointuser1", "endpointpass1"}
	env := []string{"AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=y", "AWS_EC2_METADATA_DISABLED=true", "AWS_MAX_ATTEMPTS=1", "AZURE_STORAGE_ACCOUNT=devstoreaccount1"}
	urls := []string{
		"s3://b/p?region=us-east-1&access_key=AKIAQUERYKEY1&secret_key=querysecretkey1",
		"gs://b/p?access_token=ya29accesstoken1",
		"azblob://c/p?sv=2022-11-02&sig=SASsignature1",
		"file://" + t.TempDir() + "?password=hunter2password",
		"s3://b/p?region=us-east-1&use_path_style=true&endpoint=http://endpointuser1:endpointpass1@127.0.0.1:1",
	}
	for _, u := range urls {
		for _, args := range [][]string{
			{"list"}, {"describe", "latest"}, {"verify", "latest"}, {"gc"},
			{"restore", "latest", "--to-file", filepath.Join(t.TempDir(), "x")},
			{"now", "--redis", "redis://127.0.0.1:1", "--target", "cache"},
			{"now", "--redis", "redis://127.0.0.1:1", "--target", "cache", "--log-format", "json"},
		} {
			r := run(t, env, append(args, "--storage", u)...)
			if r.code == 0 {
				t.Errorf("%v with %s succeeded", args, storage.Redact(u))
			}
			for _, s := range secrets {
				if strings.Contains(r.stdout+r.stderr, s) {
					t.Errorf("%v --storage %s shows %q:\n%s%s", args, storage.Redact(u), s, r.stdout, r.stderr)
				}
			}
		}
	}
}

// TestGCShowsYoungLeftovers: gc shows what a killed backup left even
// within the grace period, with the time it becomes collectable, and
// --grace 0s collects it when asked.
func TestGCShowsYoungLeftovers(t *testing.T) {
	dir, _ := fileRepo(t)
	store := "file://" + dir
	id := storage.NewID(time.Now())
	if err := os.MkdirAll(filepath.Join(dir, "cache", id), 0o750); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "cache", id, "dump.rdb.zst"), "partial")
	id2, _ := oldOrphan(t, dir, "cache")

	r := run(t, nil, "gc", "--storage", store)
	r.want(t, 0)
	if !strings.Contains(r.stdout, "not yet cache/"+id) || !strings.Contains(r.stdout, "collectable after") {
		t.Errorf("gc hides the young leftover %s:\n%s", id, r.stdout)
	}
	if !strings.Contains(r.stdout, "would delete cache/"+id2) {
		t.Errorf("gc does not offer the old leftover %s:\n%s", id2, r.stdout)
	}
	run(t, nil, "gc", "--storage", store, "--grace", "-1s").want(t, exitUsage, "negative")
	r = run(t, nil, "gc", "--storage", store, "--grace", "0s", "--yes")
	r.want(t, 0)
	if !strings.Contains(r.stdout, "deleted cache/"+id) || !strings.Contains(r.stdout, "deleted cache/"+id2) {
		t.Errorf("gc --grace 0s --yes:\n%s", r.stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "cache", id, "dump.rdb.zst")); err == nil {
		t.Error("the leftover is still there")
	}
}

// TestGCAbortsKilledS3Upload: what a backup killed during its S3 upload
// leaves (a multipart upload no listing shows) is reported by gc with its
// size, and aborted with --yes.
func TestGCAbortsKilledS3Upload(t *testing.T) {
	store := testenv.StartMinIO(t)
	for _, kv := range store.Env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	repo, err := storage.Open(t.Context(), store.URL, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	id := testenv.KilledUpload(t, repo, "cache")

	r := run(t, store.Env, "gc", "--storage", store.URL)
	r.want(t, 0)
	if !strings.Contains(r.stdout, "not yet unfinished upload cache/"+id+"/dump.rdb.zst") || !strings.Contains(r.stdout, "MiB in ") {
		t.Fatalf("gc does not show the killed upload with its size:\n%s", r.stdout)
	}
	r = run(t, store.Env, "gc", "--storage", store.URL, "--grace", "0s", "--yes")
	r.want(t, 0)
	if !strings.Contains(r.stdout, "aborted unfinished upload cache/"+id) {
		t.Fatalf("gc --grace 0s --yes:\n%s", r.stdout)
	}
	if p, err := repo.PendingUploads(t.Context(), 0); err != nil || len(p) != 0 {
		t.Fatalf("after gc --yes: %+v, %v; want no unfinished upload", p, err)
	}
}

// TestBuildWithoutCloudDrivers builds rdbak with the build tags that leave
// the Google and Azure SDKs out (storage/driver_*.go; the build a fleet on
// file:// or S3 may use to save their memory): it still backs up to
// file://, and a gs:// or azblob:// URL is refused before anything runs,
// naming the missing driver and the tag.
func TestBuildWithoutCloudDrivers(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "rdbak")
	out, err := exec.CommandContext(t.Context(), "go", "build", "-tags", "rdbak_nogcs,rdbak_noazure", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build -tags rdbak_nogcs,rdbak_noazure: %v\n%s", err, out)
	}
	src := testenv.StartRedis(t, testenv.RedisOptions{})
	testenv.FillAllTypes(t, src, 1)
	store := "file://" + t.TempDir()
	if out, err := exec.CommandContext(t.Context(), bin, "now", "--redis", "redis://"+src.Addr, "--target", "cache", "--storage", store).CombinedOutput(); err != nil {
		t.Fatalf("rdbak now to file:// without the cloud drivers: %v\n%s", err, out)
	}
	for scheme, tag := range map[string]string{"gs": "rdbak_nogcs", "azblob": "rdbak_noazure"} {
		cmd := exec.CommandContext(t.Context(), bin, "now", "--redis", "redis://"+src.Addr, "--target", "cache", "--storage", scheme+"://bucket/backups")
		out, err := cmd.CombinedOutput()
		if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "without the "+scheme+":// driver (build tag "+tag+")") {
			t.Errorf("rdbak now --storage %s:// without its driver: exit %d (%v), want 2 naming the driver and the tag:\n%s", scheme, cmd.ProcessState.ExitCode(), err, out)
		}
	}
}
