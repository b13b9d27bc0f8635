package storage_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

// TestPrefixIsADirectory: ?prefix=np keeps target q's backups under np/q/,
// not npq/, and ?prefix=/np/ is the same prefix, so that what one URL
// writes the other lists.
func TestPrefixIsADirectory(t *testing.T) {
	dir := t.TempDir()
	repo, err := storage.Open(t.Context(), "file://"+dir+"?prefix=np", storage.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	id := storage.NewID(time.Now())
	testenv.PutBackup(t, repo, "q", id, time.Now())
	if _, err := os.Stat(filepath.Join(dir, "np", "q", id, storage.ManifestName)); err != nil {
		t.Errorf("the manifest is not under np/q/: %v", err)
	}
	other, err := storage.Open(t.Context(), "file://"+dir+"?prefix=/np/", storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ms, problems, err := other.List(t.Context(), "")
	if err != nil || len(problems) != 0 || len(ms) != 1 || ms[0].ID != id {
		t.Errorf("List with ?prefix=/np/ = %d backups, %v, %v; want the one written with ?prefix=np", len(ms), problems, err)
	}
}

// TestFileRepoDirectoriesArePrivate: a backup holds the whole dataset, so
// the directories rdbak makes are not open to other users, whatever the
// umask.
func TestFileRepoDirectoriesArePrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "repo")
	repo, err := storage.Open(t.Context(), "file://"+dir, storage.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	id := storage.NewID(time.Now())
	testenv.PutBackup(t, repo, "cache", id, time.Now())
	for _, d := range []string{dir, filepath.Join(dir, "cache"), filepath.Join(dir, "cache", id)} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o750 {
			t.Errorf("%s has mode %v, want %v", d, got, fs.FileMode(0o750))
		}
	}
}

// TestOpenS3WithoutRegion: without a region (URL, environment or AWS
// config file) and without an endpoint the SDK refuses every request, so
// Open says where the region goes. With an endpoint it leaves the region
// to the store.
func TestOpenS3WithoutRegion(t *testing.T) {
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"} {
		t.Setenv(k, "")
	}
	none := filepath.Join(t.TempDir(), "none")
	t.Setenv("AWS_CONFIG_FILE", none)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none)
	_, err := storage.Open(t.Context(), "s3://bkt/pre", storage.Options{})
	var ue *storage.URLError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "no AWS region") || !strings.Contains(ue.Hint, "?region=") || !strings.Contains(ue.Hint, "AWS_REGION") {
		t.Errorf("Open without a region: err = %v, want a *URLError with a hint to add ?region= or set AWS_REGION", err)
	}
	repo, err := storage.Open(t.Context(), "s3://bkt/pre?endpoint=http://127.0.0.1:1&use_path_style=true", storage.Options{})
	if err != nil {
		t.Fatalf("Open with an endpoint and no region: %v", err)
	}
	repo.Close()
	t.Setenv("AWS_REGION", "eu-west-1")
	if repo, err = storage.Open(t.Context(), "s3://bkt/pre", storage.Options{}); err != nil {
		t.Fatalf("Open with AWS_REGION: %v", err)
	}
	repo.Close()
}
