package testenv

import (
	"bufio"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/memblob"
)

// ObjectStore is one bucket (or Azure container) that a test may use, in the
// two forms rdbak needs: URL plus Env for a child rdbak process that calls
// blob.OpenBucket(ctx, URL) with Env added to its environment, and Open for
// the test process itself.
//
// Open never reads or changes the process environment, so tests that each
// own a store may run in parallel. The gocloud.dev URL openers do read the
// environment (credentials, the GCS emulator host), which is why a child
// process gets Env rather than the test's own environment being changed.
type ObjectStore struct {
	// Name is the kind of store: "minio", "azurite", "fake-gcs-server",
	// "mem" or "file".
	Name string
	// URL is the gocloud.dev/blob URL of the bucket, without a key prefix.
	URL string
	// Env holds the KEY=VALUE pairs a child process needs besides URL.
	Env []string
	// Bucket is the bucket or container name; for file, its directory.
	Bucket string
	// Endpoint is the server's base URL (http://127.0.0.1:port); empty for
	// mem and file.
	Endpoint string
	// Shared reports whether every Open, and every child process, sees the
	// same objects. It is false only for mem, where each Open (like each
	// blob.OpenBucket of "mem://") is a new, empty bucket.
	Shared bool

	open func(ctx context.Context) (*blob.Bucket, error)
}

// Open opens the store's bucket in-process. The caller closes it.
func (s *ObjectStore) Open(ctx context.Context) (*blob.Bucket, error) {
	b, err := s.open(ctx)
	if err != nil {
		return nil, fmt.Errorf("open %s bucket %s: %w", s.Name, s.Bucket, err)
	}
	return b, nil
}

// OpenT opens the store's bucket for t and closes it when t ends.
func (s *ObjectStore) OpenT(t testing.TB) *blob.Bucket {
	t.Helper()
	b, err := s.Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// MemBucket returns an in-memory store. It has no server and is not Shared:
// a child process cannot see it, and each Open is a fresh bucket.
func MemBucket(t testing.TB) *ObjectStore {
	t.Helper()
	return &ObjectStore{
		Name:   "mem",
		URL:    "mem://",
		Bucket: "mem",
		open: func(context.Context) (*blob.Bucket, error) {
			return memblob.OpenBucket(nil), nil
		},
	}
}

// FileBucket returns a store in a new temporary directory. Its URL is
// file://<absolute dir>; fileblob keeps each object's attributes in a
// "<key>.attrs" sidecar file, which List hides.
func FileBucket(t testing.TB) *ObjectStore {
	t.Helper()
	dir := t.TempDir()
	return &ObjectStore{
		Name:   "file",
		URL:    (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}).String(),
		Bucket: dir,
		Shared: true,
		open: func(context.Context) (*blob.Bucket, error) {
			return fileblob.OpenBucket(dir, nil)
		},
	}
}

// Env variables naming the server binaries; hack/deps.sh writes them into
// $RDBAK_CACHE/deps.env.
const (
	MinIOBinEnv   = "RDBAK_MINIO_BIN"
	AzuriteBinEnv = "RDBAK_AZURITE_BIN"
	FakeGCSBinEnv = "RDBAK_FAKEGCS_BIN"
)

// findServer returns the path of a server binary: from the environment
// variable env, else from deps.env, else name on PATH. When none exists it
// calls Missing for component, which skips or fails t.
func findServer(t testing.TB, component, env, name string) string {
	t.Helper()
	var tried []string
	candidates := []string{os.Getenv(env)}
	if f, ok := depsEnvFile(); ok {
		candidates = append(candidates, readDepsEnv(f)[env])
		tried = append(tried, f)
	}
	for _, p := range candidates {
		if p == "" {
			continue
		}
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
		tried = append(tried, p)
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	looked := "nothing set"
	if len(tried) > 0 {
		looked = "looked at " + strings.Join(tried, ", ")
	}
	Missing(t, component, fmt.Sprintf("no executable from $%s, deps.env or %s on PATH (%s); run hack/deps.sh",
		env, name, looked))
	return ""
}

// depsEnvFile returns the deps.env that hack/deps.sh writes, following the
// same default for RDBAK_CACHE.
func depsEnvFile() (string, bool) {
	cache := os.Getenv("RDBAK_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", false
			}
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "rdbak")
	}
	f := filepath.Join(cache, "deps.env")
	_, err := os.Stat(f)
	return f, err == nil
}

// readDepsEnv parses the `export KEY=VALUE` lines of a deps.env file; an
// unreadable file yields no values, so the caller falls back to PATH.
func readDepsEnv(path string) map[string]string {
	vals := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		return vals
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export "))
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		vals[k] = strings.Trim(v, `"'`)
	}
	return vals
}
