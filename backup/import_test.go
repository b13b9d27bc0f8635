package backup_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/rdb"
	"github.com/rdbak/rdbak/internal/testenv"
)

// TestImport brings a dump.rdb into the repository: its manifest says
// import, its created time is the RDB's ctime, and it restores to the data
// the server had.
func TestImport(t *testing.T) {
	src := testenv.StartRedis(t, testenv.RedisOptions{})
	testenv.FillAllTypes(t, src, 1)
	want := src.Digest(t)
	data := realRDBOf(t, src)
	path := filepath.Join(t.TempDir(), "dump.rdb")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	info, err := rdb.Copy(io.Discard, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	ctime, ok := info.CTime()
	if !ok {
		t.Fatal("the RDB has no ctime")
	}
	repo := fileRepo(t)
	res, err := backup.Import(t.Context(), backup.LocalFiles{}, path, repo, backup.Options{Target: "imported", Compression: settings(t, "zstd"), Version: "test"})
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	m := res.Manifest
	if m.Source.Kind != backup.SourceImport || m.Source.Origin != "import "+path || !m.Created.Equal(ctime.UTC()) {
		t.Errorf("manifest source %+v created %v; want import of %s created %v", m.Source, m.Created, path, ctime.UTC())
	}
	if m.Redis.Version == "" || m.Data.RawSize != int64(len(data)) {
		t.Errorf("manifest redis %s, raw size %d; want the redis-ver AUX field and %d bytes", m.Redis, m.Data.RawSize, len(data))
	}
	if got := restoreDigest(t, repo, m); got != want {
		t.Fatalf("restored digest %s, want %s", got, want)
	}

	given := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	res, err = backup.Import(t.Context(), backup.LocalFiles{}, path, repo, backup.Options{Target: "imported", Compression: settings(t, "zstd"), Created: given})
	if err != nil || !res.Manifest.Created.Equal(given) {
		t.Fatalf("Import with a given time: %v, created %v; want %v", err, res.Manifest.Created, given)
	}
}

func TestImportDamagedLeavesNothing(t *testing.T) {
	data := realRDB(t)
	data[len(data)/2] ^= 0x10
	path := filepath.Join(t.TempDir(), "dump.rdb")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	repo := fileRepo(t)
	_, err := backup.Import(t.Context(), backup.LocalFiles{}, path, repo, backup.Options{Target: "imported", Compression: settings(t, "zstd")})
	if !errors.Is(err, rdb.ErrCorrupt) {
		t.Fatalf("Import of a damaged file: %v, want ErrCorrupt", err)
	}
	assertEmpty(t, repo)
}
